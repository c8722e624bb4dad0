//! While attached, the relayed program behaves as if the user's terminal
//! were its own: it is a terminal, window resizes reach it, Ctrl-C
//! interrupts it, Ctrl-Z stops it and gives the shell back (fg and bg
//! resume it), and its exit status is the shell's `$?`.

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::procfs::terminals_held_by;
use hupsafe_tests::relay::{proc_state, python, shell_line, ticker, Terminal, PROMPT};
use hupsafe_tests::shell::Shell;
use hupsafe_tests::Sandbox;
use hupsafe_tests::{unique_tag, until};

fn hupsafe_line(words: Vec<String>) -> String {
    let mut cmd = vec![hupsafe_bin().to_string_lossy().into_owned()];
    cmd.extend(words);
    shell_line(&cmd)
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
fn exit_statuses_pass_through() {
    let jobs = Sandbox::for_jobs("relay-status");
    let mut term = Terminal::bash(&jobs);
    assert_eq!(term.status_of(&hupsafe_line(sh("exit 7"))), 7);
    assert_eq!(term.status_of(&hupsafe_line(sh("exit 0"))), 0);
    // Killed by a signal: 128+N, as the shell reports it without hupsafe.
    assert_eq!(term.status_of(&hupsafe_line(sh("kill -TERM $$"))), 143);
    assert_eq!(term.status_of(&hupsafe_line(sh("kill -KILL $$"))), 137);
    // Not found is hupsafe's own answer, before any job.
    assert_eq!(
        term.status_of(&hupsafe_line(vec!["/nonexistent/program".into()])),
        127
    );
    let states: Vec<String> = jobs.ps().iter().map(|j| j.state()).collect();
    assert_eq!(
        states,
        [
            "exited 7",
            "exited 0",
            "killed by SIGTERM",
            "killed by SIGKILL"
        ],
        "one job per relayed run, none for the missing program"
    );
}

#[test]
fn the_program_has_a_terminal_and_redirections_are_kept() {
    let jobs = Sandbox::for_jobs("relay-tty");
    let mut term = Terminal::bash(&jobs);
    let out = jobs.root().join("out.txt");
    let script = "test -t 0 && test -t 1 && test -t 2 && echo tty-ok; echo job=$HUPSAFE_JOB";
    assert_eq!(term.status_of(&hupsafe_line(sh(script))), 0);
    let shown = term.transcript();
    assert!(shown.contains("tty-ok"), "{shown}");
    assert!(shown.contains("job=1"), "{shown}");

    // stdout to a file: the file gets it, the terminal gets stderr only.
    let line = format!(
        "{} > {}",
        hupsafe_line(sh("test -t 1 || echo out-is-a-file; echo err-on-tty >&2")),
        out.display()
    );
    assert_eq!(term.status_of(&line), 0);
    assert!(term.transcript().contains("err-on-tty\r\n"));
    let file = std::fs::read_to_string(&out).unwrap();
    assert_eq!(file, "out-is-a-file\n");
    assert_eq!(
        jobs.log("2"),
        "err-on-tty\r\n",
        "the log holds what the pty got"
    );
}

#[test]
fn resize_then_ctrl_c() {
    let jobs = Sandbox::for_jobs("relay-winch");
    let tag = unique_tag("winch");
    let mut term = Terminal::bash(&jobs);
    let program = python(
        "import os, signal, time\n\
         def show(*_):\n    c, r = os.get_terminal_size()\n    print('size %dx%d' % (r, c))\n\
         signal.signal(signal.SIGWINCH, show)\nshow()\n\
         for _ in range(1200):\n    time.sleep(0.05)\n",
        &tag,
    );
    term.type_line(&hupsafe_line(program));
    term.expect("size 24x80");
    term.resize(40, 120);
    term.expect("size 40x120");
    term.resize(30, 90);
    term.expect("size 30x90");

    // Detach, and attach from a terminal of the same size: the screen is
    // drawn from the supervisor's model of it (issue 16, relay_screen.rs),
    // with no SIGWINCH: the size did not change.
    let id = jobs.job_tagged(&tag).id();
    term.send(b"\x1dd");
    term.expect(PROMPT);
    term.type_line(&format!("{} attach {id}", hupsafe_bin().display()));
    term.expect("size 30x90");
    // Ctrl-C reaches the program through its terminal's line discipline:
    // Python dies of SIGINT (it re-raises it on KeyboardInterrupt), and so
    // does hupsafe.
    term.send(b"\x03");
    term.expect(PROMPT);
    term.type_line("echo rc=$?");
    term.expect("rc=130");
    let job = jobs.job_tagged(&tag);
    assert_eq!(job.state(), "killed by SIGINT");

    // As without hupsafe, Ctrl-C ends a loop, not just the iteration: bash
    // sees its child die of SIGINT.
    // Short sleeps: a SIGINT that lands between Python's last check and
    // its sleep system call is only acted on once that sleep returns (a
    // race of Python's own, hit about once in 30 runs on a loaded VM).
    let sleeper = python(
        "import time\nprint('loop' 'ing')\nfor _ in range(1200):\n    time.sleep(0.05)\n",
        &tag,
    );
    term.type_line(&format!(
        "for i in 1 2; do {}; echo after-$i; done; echo loop-done",
        hupsafe_line(sleeper)
    ));
    term.expect("looping");
    term.send(b"\x03");
    term.expect(PROMPT);
    term.type_line("echo prompt-back");
    term.expect("prompt-back\r\n");
    let shown = term.transcript();
    assert!(!shown.contains("after-1\r\n"), "the loop went on:\n{shown}");
}

#[test]
fn ctrl_z_stops_then_fg_resumes() {
    let jobs = Sandbox::for_jobs("relay-tstp");
    let tag = unique_tag("tstp");
    let mut term = Terminal::bash(&jobs);
    term.type_line(&format!(
        "{}; echo rc=$?",
        hupsafe_line(ticker(40, 50, &tag))
    ));
    term.expect("tick 2\r\n");
    let job = jobs.job_tagged(&tag);
    let pid = job.pid().unwrap();
    term.send(b"\x1a");
    term.expect("Stopped");
    term.expect(PROMPT);
    jobs.wait_state(&job.id(), "stopped", |s| s == "stopped");
    assert_eq!(proc_state(pid), Some('T'), "the program itself is stopped");
    // The shell has the terminal: it runs commands.
    term.type_line("echo shell-has-it");
    term.expect("shell-has-it\r\n");
    // The rest of the stopped command line is dropped by bash; fg returns
    // the job's status.
    term.type_line("fg; echo rc=$?");
    term.expect("tick 39\r\n");
    term.expect("rc=0");
    let done = jobs.wait_state(&job.id(), "exited 0", |s| s.starts_with("exited"));
    assert_eq!(done.state(), "exited 0");
    let log = jobs.log(&job.id());
    for i in 0..40 {
        assert!(
            log.contains(&format!("tick {i}\r\n")),
            "tick {i} missing:\n{log}"
        );
    }
}

#[test]
fn ctrl_z_then_bg_keeps_relaying_output_and_leaves_the_keys_to_the_shell() {
    let jobs = Sandbox::for_jobs("relay-bg");
    let tag = unique_tag("bg");
    let mut term = Terminal::bash(&jobs);
    term.type_line(&hupsafe_line(ticker(60, 50, &tag)));
    term.expect("tick 1\r\n");
    let job = jobs.job_tagged(&tag);
    term.send(b"\x1a");
    term.expect("Stopped");
    term.expect(PROMPT);
    term.type_line("bg");
    jobs.wait_state(&job.id(), "running", |s| s == "running");
    // Output still arrives while the shell reads the keys.
    term.type_line("echo keys-went-to-the-shell");
    term.expect("keys-went-to-the-shell\r\n");
    // In the background the user's terminal is in its own (cooked) mode,
    // which adds a \r of its own to the job's \r\n.
    term.expect("tick 59\r");
    term.type_line("wait; echo rc=$?");
    term.expect("rc=0");
    assert_eq!(jobs.job(&job.id()).unwrap().state(), "exited 0");
}

/// `fg` of a job relaying in the background: bash continues only a
/// stopped job, so no SIGCONT tells the client, which finds out by itself
/// that it is in the foreground again and reads the keys (in raw mode):
/// a line typed then reaches the program. Without that the keys stay in
/// the terminal's own buffer and the story fails at "got hello".
/// (zsh's `fg` does the same.)
fn bg_then_fg(shell: Shell) {
    if shell.require().is_none() {
        return;
    }
    let jobs = Sandbox::for_jobs("relay-bg-fg");
    let tag = unique_tag("bg-fg");
    let mut term = Terminal::shell(&jobs, shell);
    term.type_line(&hupsafe_line(sh(&format!(
        "echo ready-{tag}; while read l; do echo \"got $l\"; done"
    ))));
    term.expect(&format!("ready-{tag}\r\n"));
    let job = jobs.job_tagged(&tag);
    term.send(b"\x1a");
    term.expect(match shell {
        Shell::Bash => "Stopped",
        Shell::Zsh => "suspended",
    });
    term.expect(PROMPT);
    term.type_line("bg");
    jobs.wait_state(&job.id(), "running", |s| s == "running");
    term.expect(PROMPT);
    term.type_line("fg");
    // The program echoes what it reads once the client has the keys.
    term.type_line("hello");
    term.expect("got hello");
    term.send(b"\x04");
    term.expect(PROMPT);
    let done = jobs.wait_state(&job.id(), "exited 0", |s| s.starts_with("exited"));
    assert_eq!(done.state(), "exited 0");
}

#[test]
fn ctrl_z_bg_then_fg_gives_the_keys_back_to_the_program() {
    bg_then_fg(Shell::Bash);
}

#[test]
fn ctrl_z_bg_then_fg_gives_the_keys_back_to_the_program_under_zsh() {
    bg_then_fg(Shell::Zsh);
}

/// `hupsafe CMD &` at a prompt: the shell's line editor (readline, ZLE)
/// puts the terminal back in its own modes as soon as the job is started,
/// so the modes hupsafe finds are usually the editor's (no canonical input,
/// no echo, CR not read as NL). The job's terminal starts cooked all the
/// same: its modes say so, and after `fg` a typed line reaches `read`
/// whole and Ctrl-D ends it. Without that, the story fails at the modes
/// (or, where the shell lost the race, it passes by luck).
fn started_in_the_background(shell: Shell) {
    if shell.require().is_none() {
        return;
    }
    let jobs = Sandbox::for_jobs("relay-amp");
    let tag = unique_tag("amp");
    let mut term = Terminal::shell(&jobs, shell);
    term.type_line(&format!(
        "{} &",
        hupsafe_line(sh(&format!(
            "echo {tag} modes-$((40+2)); stty -a; echo modes-shown-$((40+2)); while read l; do echo \"got $l\"; done"
        )))
    ));
    // (Computed marks, which the typed line does not show; and no "\r\n"
    // to look for: in the background the output meets the line editor's
    // modes.)
    term.expect(&format!("{tag} modes-42"));
    let modes = term.expect("modes-shown-42");
    let modes: Vec<&str> = modes.split([' ', ';', '\r', '\n']).collect();
    for flag in ["icanon", "echo", "isig", "icrnl", "onlcr"] {
        assert!(
            modes.contains(&flag),
            "the job's terminal started without {flag}: {modes:?}"
        );
    }
    // Ctrl-Z, Ctrl-\ and Ctrl-V do what they do on a terminal.
    for key in ["susp = ^Z", "quit = ^\\", "lnext = ^V"] {
        let (name, value) = key.split_once(" = ").unwrap();
        assert!(
            modes.windows(3).any(|w| w == [name, "=", value]),
            "the job's terminal started without {key}: {modes:?}"
        );
    }
    term.type_line("fg");
    term.type_line("hello");
    term.expect("got hello");
    term.send(b"\x04");
    term.expect(PROMPT);
    term.type_line("echo rc=$?");
    term.expect("rc=0");
    let job = jobs.job_tagged(&tag);
    assert_eq!(job.state(), "exited 0");
}

#[test]
fn a_job_started_in_the_background_gets_a_cooked_terminal() {
    started_in_the_background(Shell::Bash);
}

#[test]
fn a_job_started_in_the_background_gets_a_cooked_terminal_under_zsh() {
    started_in_the_background(Shell::Zsh);
}

/// `hupsafe CMD | tee FILE`: stdout goes to tee, stderr is relayed, and
/// tee writes the program's lines to the same terminal the client holds in
/// raw mode for the keys. The client leaves output processing as it was,
/// so tee's `\n` still shows as a new line (`\r\n`), not a staircase; the
/// relayed stderr arrives too, and FILE gets every line. Without that, the
/// story fails at the first `\r\n`.
#[test]
fn a_pipe_on_stdout_keeps_the_terminals_output_processing() {
    let jobs = Sandbox::for_jobs("relay-tee");
    let file = jobs.root().join("tee.log");
    let mut term = Terminal::bash(&jobs);
    term.type_line(&format!(
        "{} | tee {}; echo rc=$?",
        hupsafe_line(sh(
            "echo out-$((1)); echo err-$((1)) >&2; sleep 0.2; echo out-$((2))"
        )),
        file.display()
    ));
    // tee's lines and the relayed stderr reach the screen by two paths, so
    // only tee's own lines have an order; the relayed line is on the screen
    // before hupsafe exits, so before `rc=`.
    term.expect("out-1\r\n");
    term.expect("out-2\r\n");
    term.expect("rc=0");
    assert!(
        term.transcript().contains("err-1"),
        "the relayed stderr never showed:\n{}",
        term.transcript()
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "out-1\nout-2\n",
        "tee's file"
    );
}

#[test]
fn detach_key_leaves_the_job_running_and_attach_resumes() {
    let jobs = Sandbox::for_jobs("relay-detach");
    let tag = unique_tag("detach");
    let mut term = Terminal::bash(&jobs);
    term.type_line(&format!(
        "{}; echo rc=$?",
        hupsafe_line(ticker(60, 50, &tag))
    ));
    term.expect("tick 2\r\n");
    let job = jobs.job_tagged(&tag);
    let id = job.id();
    term.send(b"\x1dd");
    term.expect(&format!("detached from job {id}"));
    term.expect("rc=0");
    until("the job to have nobody attached", || {
        (jobs.job(&id)?.attached() == 0).then_some(())
    });
    assert_eq!(jobs.job(&id).unwrap().state(), "running");
    term.type_line(&format!(
        "{} attach {id}; echo attach-rc=$?",
        hupsafe_bin().display()
    ));
    term.expect("tick 59\r\n");
    term.expect("attach-rc=0");
}

/// The relay is the default exactly when stdout or stderr is a terminal;
/// `--no-relay` and `HUPSAFE_RELAY=0` exec in place; a registry that cannot
/// be used costs the relay (with a note), never the run.
#[test]
fn the_relay_is_the_default_for_terminals_only() {
    let jobs = Sandbox::for_jobs("relay-default");
    let mut term = Terminal::bash(&jobs);
    let report = "echo job=[$HUPSAFE_JOB]";
    assert_eq!(term.status_of(&hupsafe_line(sh(report))), 0);
    assert!(term.transcript().contains("job=[1]"));
    assert_eq!(jobs.ps().len(), 1);

    let quiet_runs = [
        format!("{} --no-relay sh -c '{report}'", hupsafe_bin().display()),
        format!("HUPSAFE_RELAY=0 {}", hupsafe_line(sh(report))),
        format!("{} > out.txt 2>&1; cat out.txt", hupsafe_line(sh(report))),
    ];
    for line in &quiet_runs {
        assert_eq!(term.status_of(line), 0, "{line}");
        assert_eq!(jobs.ps().len(), 1, "{line} made a job");
    }
    assert_eq!(term.transcript().matches("job=[]").count(), 3);

    // A state directory that is a file: the program still runs, in place.
    let line = format!(
        "HUPSAFE_STATE_DIR=/etc/hostname {}",
        hupsafe_line(sh("echo ran-in-place; exit 5"))
    );
    assert_eq!(term.status_of(&line), 5);
    let shown = term.transcript();
    assert!(shown.contains("ran-in-place"), "{shown}");
    assert!(
        shown.contains("running in place, without the relay"),
        "{shown}"
    );
}

/// Attaching to, or following, the job one runs inside would feed its
/// output back to itself forever: refused; printing its log so far ends.
#[test]
fn a_job_cannot_feed_on_its_own_output() {
    let jobs = Sandbox::for_jobs("relay-self");
    let mut term = Terminal::bash(&jobs);
    let h = hupsafe_bin().display().to_string();
    let script = format!(
        "echo first-line; {h} attach $HUPSAFE_JOB; echo rc1=$?; \
         {h} logs -f $HUPSAFE_JOB; echo rc2=$?; \
         {h} logs $HUPSAFE_JOB; echo rc3=$?"
    );
    assert_eq!(term.status_of(&hupsafe_line(sh(&script))), 0);
    let shown = term.transcript();
    assert!(
        shown.contains("cannot attach to job 1 from inside it"),
        "{shown}"
    );
    assert!(
        shown.contains("rc1=2") && shown.contains("rc2=2"),
        "{shown}"
    );
    assert!(shown.contains("rc3=0"), "{shown}");
    // Printed once: what the log held when `logs` began.
    assert_eq!(
        jobs.log("1").matches("rc1=2").count(),
        2,
        "{}",
        jobs.log("1")
    );
}

/// The terminal the test's shell runs on.
fn terminal_of(term: &Terminal) -> String {
    std::fs::read_link(format!("/proc/{}/fd/0", term.pid()))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The supervisor writes the job's output to the user's terminal itself
/// (the client passes it over; one hop less for every byte, as tmux's
/// server writes to its clients' terminals), and lets go of it when the
/// user detaches: a terminal held after its user left would keep an ssh
/// session's pty open. The control keeps the terminal in the client
/// (`HUPSAFE_TEST_KEEP_TERMINAL`): the supervisor never holds it, and the
/// story's first check fails.
fn lent_terminal(control: bool) {
    let jobs = Sandbox::for_jobs("relay-lend");
    let tag = unique_tag("lend");
    let mut term = Terminal::bash(&jobs);
    let keep = if control {
        "HUPSAFE_TEST_KEEP_TERMINAL=1 "
    } else {
        ""
    };
    term.type_line(&format!(
        "{keep}{}; echo rc=$?",
        hupsafe_line(ticker(400, 50, &tag))
    ));
    term.expect("tick 2\r\n");
    let job = jobs.job_tagged(&tag);
    let id = job.id();
    let supervisor = jobs.supervisor_pid(&id);
    let pts = terminal_of(&term);
    // Output reaching the terminal after this point was written there by
    // whoever holds it.
    term.expect("tick 4\r\n");
    let held = terminals_held_by(supervisor).contains(&pts);
    assert_eq!(
        held,
        !control,
        "the supervisor holds {pts}: {held} (it holds {:?})",
        terminals_held_by(supervisor)
    );
    if control {
        return;
    }
    term.send(b"\x1dd");
    term.expect(&format!("detached from job {id}"));
    term.expect("rc=0");
    assert!(
        !terminals_held_by(supervisor).contains(&pts),
        "the supervisor still holds the terminal after the detach"
    );
    // Nothing of the job reaches the shell's terminal after the note.
    let tick = |log: &str| log.matches("tick ").count();
    let at_detach = tick(&jobs.log(&id));
    until("ten more ticks in the log", || {
        (tick(&jobs.log(&id)) >= at_detach + 10).then_some(())
    });
    term.type_line("echo shell-alone");
    let after = term.expect("shell-alone\r\n");
    assert!(
        !after.contains("tick"),
        "job output after the detach:\n{after}"
    );
    assert_eq!(jobs.job(&id).unwrap().state(), "running");
    jobs.kill_all();
}

#[test]
fn the_supervisor_writes_to_the_terminal_and_lets_go_of_it_on_detach() {
    lent_terminal(false);
}

#[test]
fn control_a_kept_terminal_is_never_held_by_the_supervisor() {
    lent_terminal(true);
}

/// A shell on a terminal whose child, `hupsafe attach`, views a ticking
/// job, the job's supervisor holding that terminal.
struct Viewer {
    jobs: Sandbox,
    term: Terminal,
    id: String,
    supervisor: i32,
    /// The `attach` process.
    pid: i32,
    /// The shell's terminal.
    pts: String,
    starter: std::process::Child,
}

impl Viewer {
    fn new(name: &str) -> Viewer {
        let jobs = Sandbox::for_jobs(name);
        let tag = unique_tag(name);
        let (starter, job) = jobs.start(&ticker(600, 40, &tag), &tag);
        let id = job.id();
        let mut term = Terminal::bash(&jobs);
        term.type_line(&format!("{} attach {id}", hupsafe_bin().display()));
        term.expect("tick ");
        term.expect("\r\n");
        let pts = terminal_of(&term);
        let supervisor = jobs.supervisor_pid(&id);
        until("the supervisor to hold the viewer's terminal", || {
            terminals_held_by(supervisor).contains(&pts).then_some(())
        });
        // The viewer: the shell's child running `attach`.
        let shell = term.pid();
        let pid = until("the viewer's pid", || {
            std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
                let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // The parent is the second field after the command's `)`.
                let ppid: i32 = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                (ppid == shell && String::from_utf8_lossy(&cmd).contains("attach")).then_some(pid)
            })
        });
        Viewer {
            jobs,
            term,
            id,
            supervisor,
            pid,
            pts,
            starter,
        }
    }

    /// Stops the viewer as `kill -TSTP` does (Ctrl-Z goes to the program).
    fn stop(&mut self) {
        unsafe { libc::kill(self.pid, libc::SIGTSTP) };
        self.term.expect("Stopped");
        self.term.expect(PROMPT);
        assert_eq!(proc_state(self.pid), Some('T'), "the viewer is stopped");
        assert!(
            !terminals_held_by(self.supervisor).contains(&self.pts),
            "the supervisor kept the stopped viewer's terminal"
        );
    }

    fn ticks_logged(&self) -> usize {
        self.jobs.log(&self.id).matches("tick ").count()
    }

    /// Waits for ten more ticks in the log, then for the shell to answer:
    /// what the screen showed meanwhile.
    fn screen_meanwhile(&mut self) -> String {
        let from = self.ticks_logged();
        until("ten more ticks in the log", || {
            (self.ticks_logged() >= from + 10).then_some(())
        });
        self.term.type_line("echo shell-alone");
        self.term.expect("shell-alone\r\n")
    }

    /// `fg`: the viewer shows the ticks again, then detaches.
    fn fg_and_detach(&mut self) {
        self.term.type_line("fg");
        let last = self.ticks_logged();
        // (Not "\r\n": a viewer that relayed in the background wrote its
        // lines in the shell's cooked mode until `fg` made them raw.)
        self.term.expect(&format!("tick {}", last + 5));
        self.term.send(b"\x1dd");
        self.term.expect(&format!("detached from job {}", self.id));
        // (bash drops the rest of a stopped command line: no `echo` after fg.)
        self.term.expect(PROMPT);
    }

    fn end(mut self) {
        self.jobs.kill_all();
        let _ = self.starter.kill();
        let _ = self.starter.wait();
    }
}

/// A viewer stopped by a signal (`kill -TSTP`; Ctrl-Z goes to the program)
/// gives the shell the terminal: the job goes on, and its output waits
/// (in the log) instead of landing on the shell's screen, even though the
/// supervisor writes to that terminal itself. `fg` resumes the viewer, and
/// the output comes again.
#[test]
fn a_stopped_viewer_leaves_the_shells_screen_alone_until_fg() {
    let mut v = Viewer::new("viewer-stop");
    v.stop();
    let meanwhile = v.screen_meanwhile();
    assert!(
        !meanwhile.contains("tick"),
        "job output on the shell's screen while the viewer was stopped:\n{meanwhile}"
    );
    v.fg_and_detach();
    v.end();
}

/// A viewer stopped by SIGSTOP (`kill -STOP`: it cannot see that one
/// coming, so it cannot take its terminal back first). The supervisor sees
/// it stopped and lets go of its terminal itself: once it has, nothing of
/// the job reaches the shell's screen; `fg` continues the viewer, which
/// shows the output again. Without that look, the supervisor holds the
/// terminal and writes on, and the story fails at the let-go.
#[test]
fn a_viewer_stopped_by_sigstop_leaves_the_shells_screen_alone() {
    let mut v = Viewer::new("viewer-sigstop");
    unsafe { libc::kill(v.pid, libc::SIGSTOP) };
    v.term.expect("Stopped");
    v.term.expect(PROMPT);
    until(
        "the supervisor to let go of the stopped viewer's terminal",
        || (!terminals_held_by(v.supervisor).contains(&v.pts)).then_some(()),
    );
    // (Output written between the stop and the let-go is the gap the
    // README names; what matters is that it ends.)
    v.term.type_line("echo let-go-$((6*7))");
    v.term.expect("let-go-42");
    let meanwhile = v.screen_meanwhile();
    assert!(
        !meanwhile.contains("tick"),
        "job output on the shell's screen after the supervisor let go:\n{meanwhile}"
    );
    v.fg_and_detach();
    v.end();
}

/// With `stty tostop` a background job is stopped by its first write to
/// the terminal. A viewer sent to the background (`bg`) is such a job:
/// it keeps its terminal (the supervisor, outside the terminal's session,
/// would not be stopped by writing there) and is stopped by SIGTTOU, the
/// job's output staying off the shell's screen. The control, `-tostop`:
/// the viewer relays in the background, and the ticks reach the screen.
fn background_viewer(tostop: bool) {
    let mut v = Viewer::new(if tostop { "viewer-tostop" } else { "viewer-bg" });
    v.stop();
    v.term.type_line(if tostop {
        "stty tostop"
    } else {
        "stty -tostop"
    });
    v.term.expect(PROMPT);
    v.term.type_line("bg");
    v.term.expect(PROMPT);
    let meanwhile = v.screen_meanwhile();
    assert_eq!(
        !meanwhile.contains("tick"),
        tostop,
        "tostop {tostop}: job output on the shell's screen from the background viewer:\n{meanwhile}"
    );
    if tostop {
        assert_eq!(
            proc_state(v.pid),
            Some('T'),
            "the background viewer is stopped by its own write"
        );
        assert!(
            !terminals_held_by(v.supervisor).contains(&v.pts),
            "the background viewer lent its terminal"
        );
    }
    v.fg_and_detach();
    v.end();
}

#[test]
fn with_tostop_a_background_viewer_is_stopped_by_its_output() {
    background_viewer(true);
}

#[test]
fn control_without_tostop_a_background_viewer_relays() {
    background_viewer(false);
}
