//! Whole command lines survive (issue 13): with `python3` marked and the
//! integration loaded, a line typed at a bash or zsh prompt that has the
//! marked command anywhere in it outlives the terminal as a whole: every
//! stage of a pipeline (`tee` keeps writing its file to the end), the rest
//! of a list (`a && b` starts `b` after the hangup), a subshell with `cd`,
//! a loop, a background line. Each story runs twice: marked, where the
//! line must run to its end, and unmarked, the control (the integration
//! loaded, no mark), where the same line must die with the terminal.
//!
//! The hangup is real: the pty master is closed; the kernel signals the
//! shell, and the shell does what it does to its jobs.
//!
//! The program is `count.py TAG N LABEL`: it resets SIGHUP to its default,
//! prints `tick 0` .. `tick N-1` every 50 ms (flushed), then `done LABEL`,
//! and exits 0. `wait.py TAG DIR` waits for the hangup (end of file on its
//! terminal), says so in DIR/eof, waits for DIR/go, then prints `woke`.

use std::fs;
use std::path::Path;

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::procfs;
use hupsafe_tests::relay::PROMPT;
use hupsafe_tests::shell::{quote, side_by_side, Session, Shell, Tagged, PY_COUNT as COUNT};
use hupsafe_tests::wait::{poll, PATIENCE};
use hupsafe_tests::Sandbox;

const WAIT: &str = "\
import os, signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)
d = sys.argv[2]
try:
    while sys.stdin.read(1):
        pass
except OSError:
    pass
open(os.path.join(d, 'eof'), 'w').close()
while not os.path.exists(os.path.join(d, 'go')):
    time.sleep(0.02)
print('woke', flush=True)
";

#[derive(Clone, Copy, Debug)]
enum Story {
    /// `python3 count.py | tee FILE; echo python=STATUS >> FILE`.
    Pipeline,
    /// `python3 count.py | tee FILE &`.
    Background,
    /// `python3 wait.py TAG DIR | cat - TAGFILE > FILE`: `cat`, unmarked,
    /// lives on with the sleeper and copies what it says after the hangup.
    SleepCat,
    /// `python3 count.py && python3 count.py > FILE`: the second starts
    /// after the hangup.
    AndThen,
    /// `(cd sub && python3 ../count.py) 2>&1 | tee FILE`.
    Subshell,
    /// `for i in 1 2 3; do python3 count.py | tee -a FILE; done`.
    Loop,
}

impl Story {
    fn marks(self) -> &'static [&'static str] {
        &["python3"]
    }
}

struct Watch {
    tagged: Tagged,
    /// The file that must be complete (marked) or cut short (control).
    file: std::path::PathBuf,
    /// What the complete file ends with.
    complete: String,
}

fn begin(world: &Sandbox, s: &mut Session, story: Story) -> Watch {
    let tagged = Tagged::new("line");
    let tag = tagged.tag.clone();
    let file = world.root().join(format!("{tag}.out"));
    let f = file.display().to_string();
    let status = match s.shell {
        Shell::Bash => "${PIPESTATUS[0]}",
        Shell::Zsh => "${pipestatus[1]}",
    };
    let (line, complete, shown) = match story {
        Story::Pipeline => (
            format!("python3 count.py {tag} 60 pipe | tee {f}; echo python={status} >> {f}"),
            "done pipe\npython=0\n".to_string(),
            "tick 3",
        ),
        Story::Background => (
            format!("python3 count.py {tag} 80 bg | tee {f} &"),
            "done bg\n".to_string(),
            "tick 3",
        ),
        Story::SleepCat => {
            // `cat` reads stdin, then the (empty) file named by the tag.
            let empty = world.write(&tag, "");
            (
                format!(
                    "python3 wait.py {tag} {} | cat - {} > {f}",
                    world.root().display(),
                    empty.display()
                ),
                "woke\n".to_string(),
                "",
            )
        }
        Story::AndThen => (
            format!("python3 count.py {tag} 60 first && python3 count.py {tag} 3 second > {f}"),
            "done second\n".to_string(),
            "tick 3",
        ),
        Story::Subshell => {
            fs::create_dir_all(world.root().join("sub")).unwrap();
            (
                format!("(cd sub && python3 ../count.py {tag} 60 sub) 2>&1 | tee {f}"),
                "done sub\n".to_string(),
                "tick 3",
            )
        }
        Story::Loop => (
            format!("for i in 1 2 3; do python3 count.py {tag} 20 \"loop$i\" | tee -a {f}; done"),
            "done loop3\n".to_string(),
            "tick 3",
        ),
    };
    s.start(&line);
    if shown.is_empty() {
        // Nothing is shown: wait for the line's processes.
        poll(PATIENCE, || (tagged.programs().len() >= 2).then_some(()))
            .unwrap_or_else(|| panic!("the line never started:\n{}", s.transcript()));
    } else {
        s.expect(shown);
    }
    if matches!(story, Story::Background) {
        s.sync();
    }
    Watch {
        tagged,
        file,
        complete,
    }
}

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned()
}

fn protected(shell: Shell, story: Story) {
    let world = Sandbox::with_programs(&format!("line-{}-{story:?}", shell.name()));
    world.write("count.py", COUNT);
    world.write("wait.py", WAIT);
    world.mark(story.marks());
    let mut s = world.open(shell);
    let w = begin(&world, &mut s, story);
    if let Story::SleepCat = story {
        // The shell waits for the line, which waits for the test: hang up,
        // see the sleeper notice it, let it go on.
        s.term.hang_up();
        let eof = world.root().join("eof");
        poll(PATIENCE, || eof.exists().then_some(()))
            .unwrap_or_else(|| panic!("the sleeper never saw the hangup"));
        let pids = w.tagged.programs();
        assert_eq!(
            pids.len(),
            2,
            "{story:?} under {}: a stage died with the terminal: {:?}\n{}",
            shell.name(),
            pids.iter().map(|p| procfs::cmdline(*p)).collect::<Vec<_>>(),
            s.transcript()
        );
        world.write("go", "");
    } else {
        s.hang_up();
    }
    let done = poll(PATIENCE * 2, || {
        let text = read(&w.file);
        text.ends_with(&w.complete).then_some(text)
    });
    assert!(
        done.is_some(),
        "{story:?} under {}: the line did not run to its end after the hangup; {} has:\n{}\n\
         the terminal showed:\n{}",
        shell.name(),
        w.file.display(),
        read(&w.file),
        s.transcript()
    );
    assert!(
        w.tagged.all_gone(),
        "{story:?} under {}: the line's processes should have ended by themselves",
        shell.name()
    );
}

fn control(shell: Shell, story: Story) {
    let world = Sandbox::with_programs(&format!("line-{}-{story:?}-control", shell.name()));
    world.write("count.py", COUNT);
    world.write("wait.py", WAIT);
    let mut s = world.open(shell);
    let w = begin(&world, &mut s, story);
    s.hang_up();
    assert!(
        w.tagged.all_gone(),
        "control {story:?} under {}: the unmarked line survived the hangup, so the story \
         cannot tell protection from luck:\n{}",
        shell.name(),
        s.transcript()
    );
    if !w.complete.is_empty() {
        let text = read(&w.file);
        assert!(
            !text.ends_with(&w.complete),
            "control {story:?} under {}: the file is complete without protection:\n{text}",
            shell.name()
        );
    }
}

fn story(shell: Shell, story: Story) {
    if shell.require().is_none() {
        return;
    }
    side_by_side(|| protected(shell, story), || control(shell, story));
}

macro_rules! stories {
    ($($name:ident: $shell:expr, $story:expr;)*) => {
        $(
            #[test]
            fn $name() {
                story($shell, $story);
            }
        )*
    };
}

stories! {
    bash_pipeline: Shell::Bash, Story::Pipeline;
    bash_background: Shell::Bash, Story::Background;
    bash_sleep_cat: Shell::Bash, Story::SleepCat;
    bash_and_then: Shell::Bash, Story::AndThen;
    bash_subshell: Shell::Bash, Story::Subshell;
    bash_loop: Shell::Bash, Story::Loop;
    zsh_pipeline: Shell::Zsh, Story::Pipeline;
    zsh_background: Shell::Zsh, Story::Background;
    zsh_sleep_cat: Shell::Zsh, Story::SleepCat;
    zsh_and_then: Shell::Zsh, Story::AndThen;
    zsh_subshell: Shell::Zsh, Story::Subshell;
    zsh_loop: Shell::Zsh, Story::Loop;
}

fn shells() -> Vec<Shell> {
    let mut v = vec![Shell::Bash];
    if Shell::Zsh.require().is_some() {
        v.push(Shell::Zsh);
    }
    v
}

/// Waits for the prompt after output that `expect` already consumed.
fn prompt(s: &mut Session) {
    s.term.expect(PROMPT);
}

/// While the terminal is there, a protected line behaves as without
/// hupsafe: `$?`, PIPESTATUS/pipestatus, Ctrl-C ends the whole line,
/// Ctrl-Z then `jobs` (the line as typed) and `fg`, `kill %1` and
/// `kill -9 %1` end it, the history holds what was typed; `hupsafe ps`
/// shows the line as one job with its text, and `hupsafe stop` ends it.
#[test]
fn while_connected_a_protected_line_is_the_users() {
    for shell in shells() {
        let world = Sandbox::with_programs(&format!("line-connected-{}", shell.name()));
        let mut s = world.open_counting(shell);
        let name = shell.name();

        // $? and the pipeline's statuses.
        assert_eq!(s.status_of("python3 count.py x 1 a | (exit 3)"), 3);
        let statuses = match shell {
            Shell::Bash => "\"${PIPESTATUS[*]}\"",
            Shell::Zsh => "\"${pipestatus[*]}\"",
        };
        s.start(&format!(
            "(exit 4) | python3 count.py x 1 b; echo statuses={statuses}-"
        ));
        s.expect("statuses=4 0-");
        prompt(&mut s);

        // The history and the job: the line as typed.
        let typed = "python3 count.py x 2 typed | tee typed.out";
        s.run(typed);
        let history = match shell {
            Shell::Bash => "history 2 > hist.txt",
            Shell::Zsh => "fc -ln -1 > hist.txt",
        };
        s.run(history);
        let hist = fs::read_to_string(world.root().join("hist.txt")).unwrap();
        assert!(
            hist.lines()
                .any(|l| l.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ') == typed),
            "{name}: the history shows what was typed:\n{hist}"
        );
        let job = world.job_tagged("typed.out");
        assert_eq!(job.command(), vec![typed.to_string()], "{name}: hupsafe ps");
        assert!(
            fs::read_to_string(job.log())
                .unwrap()
                .contains("done typed"),
            "{name}: the job's log keeps the line's output"
        );

        // Ctrl-C ends every stage.
        let c = Tagged::new("line-ctrl-c");
        s.start(&format!(
            "python3 count.py {t} 100000 c | tee {t}.out",
            t = c.tag
        ));
        s.expect("tick 3");
        s.term.send(b"\x03");
        prompt(&mut s);
        assert!(c.all_gone(), "{name}: Ctrl-C left part of the line running");
        assert_eq!(s.status_of("(exit $?)"), 130, "{name}: $? after Ctrl-C");
        assert_eq!(s.status_of("true"), 0);

        // Ctrl-Z, `jobs` shows the line as typed, `fg` finishes it.
        let z = Tagged::new("line-ctrl-z");
        let zline = format!("python3 count.py {t} 40 z | tee {t}.out", t = z.tag);
        s.start(&zline);
        s.expect("tick 3");
        s.suspend();
        s.start("jobs");
        s.expect(&zline);
        prompt(&mut s);
        s.start("fg");
        s.expect("done z");
        prompt(&mut s);
        assert!(z.all_gone(), "{name}: fg did not finish the line");
        assert!(read(&world.root().join(format!("{}.out", z.tag))).ends_with("done z\n"));

        // `kill %1` on a background line, `kill -9 %1` on a stopped one.
        let k = Tagged::new("line-kill");
        s.run(&format!(
            "python3 count.py {t} 100000 k | tee {t}.out &",
            t = k.tag
        ));
        poll(PATIENCE, || (k.programs().len() == 2).then_some(()))
            .unwrap_or_else(|| panic!("{name}: the background line never started"));
        s.run("kill %1");
        assert!(
            k.all_gone(),
            "{name}: kill %1 left part of the line running"
        );
        s.run("true");
        let k9 = Tagged::new("line-kill9");
        s.start(&format!(
            "python3 count.py {t} 100000 k9 | tee {t}.out",
            t = k9.tag
        ));
        s.expect("tick 3");
        s.suspend();
        s.run("kill -9 %1");
        assert!(k9.all_gone(), "{name}: kill -9 %1 left the stopped line");
        s.run("true");

        // `hupsafe stop` ends the whole line.
        let st = Tagged::new("line-stop");
        s.run(&format!(
            "python3 count.py {t} 100000 st | tee {t}.out &",
            t = st.tag
        ));
        poll(PATIENCE, || (st.programs().len() == 2).then_some(()))
            .unwrap_or_else(|| panic!("{name}: the background line never started"));
        let id = world.job_tagged(&st.tag).id();
        let (code, out, err) = world.run(["stop", &id]);
        assert_eq!(code, 0, "{name}: hupsafe stop: {out}{err}");
        assert!(st.all_gone(), "{name}: hupsafe stop left part of the line");
        s.run("true");
        assert!(
            !s.transcript().contains("hupsafe:"),
            "{name}: hupsafe said something:\n{}",
            s.transcript()
        );
    }
}

/// The shell ignores the hangup while a protected line runs in the
/// foreground, and hangs up the rest when the line is done: an unmarked
/// background job started before still dies, the line ran to its end.
#[test]
fn after_a_protected_line_the_shell_still_hangs_up_the_rest() {
    for shell in shells() {
        let world = Sandbox::with_programs(&format!("line-rest-{}", shell.name()));
        let mut s = world.open_counting(shell);
        let unmarked = Tagged::new("line-rest-unmarked");
        let marked = Tagged::new("line-rest-marked");
        let fu = world.root().join("u.out");
        let fm = world.root().join("m.out");
        s.run(&format!(
            "command python3 count.py {} 100000 u > {} 2>&1 &",
            unmarked.tag,
            fu.display()
        ));
        s.start(&format!(
            "python3 count.py {} 40 m | tee {}",
            marked.tag,
            fm.display()
        ));
        s.expect("tick 3");
        s.hang_up();
        assert!(
            read(&fm).ends_with("done m\n"),
            "{}: the line did not finish: {}",
            shell.name(),
            read(&fm)
        );
        assert!(
            unmarked.all_gone(),
            "{}: the unmarked job survived: the shell never hung it up",
            shell.name()
        );
    }
}

/// Lines the integration must not break: a syntax error, a marked command
/// only inside `$(...)`, an alias for a marked command, a job registry
/// that cannot be written, a hupsafe that disappeared. Each gets the
/// shell's usual behaviour or one line, and the line still runs.
#[test]
fn odd_lines_get_the_shells_usual_behaviour() {
    for shell in shells() {
        let name = shell.name();
        let world = Sandbox::with_programs(&format!("line-odd-{name}"));
        world.write("count.py", COUNT);
        let copy_dir = world.root().join("gone");
        fs::create_dir_all(&copy_dir).unwrap();
        let copy = copy_dir.join("hupsafe");
        fs::copy(hupsafe_bin(), &copy).unwrap();
        world.mark(&["python3"]);
        let mut s = world.open_plain(shell);
        s.run(&format!(
            "eval \"$({} init {name})\"",
            quote(&copy.to_string_lossy())
        ));
        let jobs = || world.ps().len();

        // A syntax error: the shell says so, nothing else happens.
        s.run("python3 count.py x 1 a | | tee syntax.out");
        assert_eq!(jobs(), 0, "{name}: a job for a line that never ran");
        assert!(!world.root().join("syntax.out").exists());

        // Only inside $(...): runs plainly, as from a script.
        s.start("x=$(python3 count.py x 1 sub); echo \"got=${x##*done }\"");
        s.expect("got=sub");
        prompt(&mut s);
        assert_eq!(jobs(), 0, "{name}: $(...) alone made a line job");

        // An alias for a marked command protects the line.
        s.run("alias py=python3");
        s.run("py count.py x 2 alias | tee alias.out");
        assert_eq!(
            world.job_tagged("alias.out").command(),
            vec!["py count.py x 2 alias | tee alias.out".to_string()],
            "{name}: the aliased line is one job"
        );

        // The job registry cannot be written: one line, the line runs.
        world.write("not-a-dir", "");
        s.run("export HUPSAFE_STATE_DIR=\"$PWD/not-a-dir\"");
        s.run("python3 count.py x 2 noreg | tee noreg.out");
        assert!(read(&world.root().join("noreg.out")).ends_with("done noreg\n"));
        let said = s.transcript();
        assert_eq!(
            said.matches("hupsafe: running this line unprotected")
                .count(),
            1,
            "{name}:\n{said}"
        );
        s.run("export HUPSAFE_STATE_DIR=\"$PWD/state\"");

        // hupsafe disappears: one line, the line runs unprotected.
        fs::remove_file(&copy).unwrap();
        s.run("python3 count.py x 2 gone | tee gone.out");
        assert!(read(&world.root().join("gone.out")).ends_with("done gone\n"));
        let said = s.transcript();
        let gone: Vec<&str> = said.lines().filter(|l| l.contains("is gone")).collect();
        assert_eq!(gone.len(), 1, "{name}: one line:\n{said}");
        assert!(
            gone[0].contains("running python3 unprotected"),
            "{}",
            gone[0]
        );
        assert_eq!(s.status_of("true"), 0, "{name}: the shell still works");
    }
}

/// `hupsafe CMD | tee log` typed without the integration protects CMD
/// only: hupsafe says so once, naming the fix; not when its output is not
/// a pipe to the same job, nor in `$(...)`, nor inside a protected line
/// (`hs`).
#[test]
fn hupsafe_cmd_piped_to_tee_says_it_cannot_protect_tee() {
    for shell in shells() {
        let name = shell.name();
        let world = Sandbox::with_programs(&format!("line-note-{name}"));
        world.write("count.py", COUNT);
        let bin = quote(&hupsafe_bin().to_string_lossy());
        let mut s = world.open_plain(shell);
        s.start(&format!("{bin} python3 count.py x 2 n | tee n.out"));
        s.expect("done n");
        prompt(&mut s);
        let said = s.transcript();
        let notes = said.matches("this protects python3 only").count();
        assert_eq!(notes, 1, "{name}: one note:\n{said}");
        assert!(
            said.contains("start it with `hs`"),
            "{name}: the fix:\n{said}"
        );

        s.run(&format!(
            "{bin} python3 count.py x 2 f > f.out; cat f.out | tee f2.out"
        ));
        // In $(...) the shell itself reads: nothing to say.
        s.run(&format!("x=$({bin} python3 count.py x 1 c)"));
        s.run(&world.init_line(shell));
        s.run("hs python3 count.py x 2 hs | tee hs.out");
        assert!(read(&world.root().join("hs.out")).ends_with("done hs\n"));
        let said = s.transcript();
        assert_eq!(
            said.matches("this protects python3 only").count(),
            notes,
            "{name}: a note where the rest of the line is not at risk:\n{said}"
        );
    }
}

/// After the hangup, `hupsafe attach` brings back the line's terminal:
/// it replays the log and shows the line's output as it comes; Ctrl-] d
/// detaches and the line goes on; `hupsafe stop` then ends every stage.
#[test]
fn a_line_is_attached_again_after_the_hangup() {
    let world = Sandbox::with_programs("line-attach");
    let mut s = world.open_counting(Shell::Bash);
    let t = Tagged::new("line-attach");
    let file = world.root().join(format!("{}.out", t.tag));
    s.run(&format!(
        "python3 count.py {} 100000 a | tee {} &",
        t.tag,
        file.display()
    ));
    s.sync();
    s.hang_up();
    poll(PATIENCE, || (t.programs().len() == 2).then_some(()))
        .unwrap_or_else(|| panic!("the line died with the terminal"));
    let id = world.job_tagged(&t.tag).id();
    let mut cmd = std::process::Command::new(hupsafe_bin());
    cmd.args(["attach", &id])
        .env_clear()
        .envs(world.env())
        .current_dir(world.root());
    let mut other = hupsafe_tests::relay::Terminal::spawn(cmd);
    let seen = hupsafe_tests::shell::last_tick(&read(&file)).unwrap_or(0);
    other.expect(&format!("tick {}\r\n", seen + 5));
    other.send(b"\x1dd");
    other.expect("detached from job");
    assert_eq!(other.wait(), 0);
    assert_eq!(t.programs().len(), 2, "detaching ended the line");
    let (code, out, err) = world.run(["stop", &id]);
    assert_eq!(code, 0, "hupsafe stop: {out}{err}");
    assert!(t.all_gone(), "hupsafe stop left part of the line");
}

/// The verbs under the hooks, without a shell: `line start` registers the
/// job (the line's text as its command) and prints its id, its terminal,
/// the LD_PRELOAD value and its directory; what is written to that
/// terminal is logged; `line end ID --status N` (the socket's way to end
/// a line, as the hooks do through the FIFOs) returns once it is shown,
/// and the job ends with the shell's status when nothing holds the
/// terminal any more.
#[test]
fn line_start_and_end_without_a_shell() {
    use std::io::Write;
    let world = Sandbox::with_programs("line-verbs");
    let text = "python3 train.py | tee train.log";
    let (code, out, err) = world.run(["line", "start", "--text", text]);
    assert_eq!(code, 0, "line start: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "line start printed: {out}");
    let (id, pty, preload, dir) = (lines[0], lines[1], lines[2], lines[3]);
    assert!(preload.contains("libnohup"), "{preload}");
    assert!(Path::new(dir).join("sync").exists() && Path::new(dir).join("ack").exists());
    let job = world.job(id).expect("the job is listed");
    assert_eq!(job.command(), vec![text.to_string()]);
    {
        let mut t = fs::OpenOptions::new().write(true).open(pty).unwrap();
        t.write_all(b"written by the line\n").unwrap();
    }
    let (code, _, err) = world.run(["line", "end", id, "--status", "3"]);
    assert_eq!(code, 0, "line end: {err}");
    let done = world.wait_state(id, "exited", |s| s.starts_with("exited"));
    assert_eq!(done.json["exit_code"], 3, "{:?}", done.json);
    assert!(
        fs::read_to_string(done.log())
            .unwrap()
            .contains("written by the line"),
        "the log keeps what the line wrote"
    );
}

/// The line's terminal follows the user's size: a program of a protected
/// line that asks its stdout for the size after a resize gets the new one.
#[test]
fn a_protected_line_follows_the_terminals_size() {
    for shell in shells() {
        let world = Sandbox::with_programs(&format!("line-size-{}", shell.name()));
        world.write(
            "size.py",
            "import os, time\n\
             print('started', os.get_terminal_size(1), flush=True)\n\
             while os.get_terminal_size(1) != os.terminal_size((100, 30)):\n    time.sleep(0.02)\n\
             print('resized', flush=True)\n",
        );
        world.mark(&["python3"]);
        let mut s = world.open(shell);
        s.start("python3 size.py");
        s.expect("started os.terminal_size(columns=80, lines=24)");
        s.term.resize(30, 100);
        s.expect("resized");
        prompt(&mut s);
    }
}

/// What the shell says and accepts about a protected line is its own, as
/// without hupsafe: `fg %python3` finds the line by its first word, `time`
/// reports on it, and a line killed by a signal gets the shell's message
/// (bash `Killed`, zsh `killed`). The same steps run in a shell without the
/// integration first, as the control: each expectation is what that shell
/// printed.
#[test]
fn job_specs_time_and_kill_messages_are_the_shells() {
    for shell in shells() {
        let name = shell.name();
        for protected in [false, true] {
            let world = Sandbox::with_programs(&format!("line-shellsays-{name}-{protected}"));
            let mut s = world.open_counting_or_plain(shell, protected);
            let what = if protected { "protected" } else { "control" };

            // `fg %python3`: the job spec names the line by its first word.
            let z = Tagged::new("line-fg-name");
            s.start(&format!(
                "python3 count.py {t} 40 z | tee {t}.out",
                t = z.tag
            ));
            s.expect("tick 3");
            s.suspend();
            s.start("fg %python3");
            s.expect("done z");
            prompt(&mut s);
            assert!(
                z.all_gone(),
                "{name} {what}: fg %python3 did not finish the line"
            );

            // `time` reports on the whole line.
            s.start("time python3 count.py x 2 t | cat");
            s.expect("done t");
            s.expect(match shell {
                Shell::Bash => "real",
                Shell::Zsh => " total",
            });
            prompt(&mut s);

            // A background line killed with -9: the shell's own message.
            let k = Tagged::new("line-killed");
            s.run(&format!(
                "python3 count.py {t} 100000 k | tee {t}.out > /dev/null &",
                t = k.tag
            ));
            poll(PATIENCE, || (k.programs().len() == 2).then_some(()))
                .unwrap_or_else(|| panic!("{name} {what}: the background line never started"));
            s.run("kill -9 %1");
            let message = match shell {
                Shell::Bash => "Killed",
                Shell::Zsh => "killed",
            };
            // The shell reports the job at the first prompt after it reaped
            // it: give it prompts until it does (or the patience runs out).
            let _ = poll(PATIENCE, || {
                s.run("true");
                s.transcript().contains(message).then_some(())
            });
            let said = s.transcript();
            assert!(
                said.contains(message),
                "{name} {what}: no '{message}' message for the killed line:\n{said}"
            );
            assert!(
                k.all_gone(),
                "{name} {what}: kill -9 %1 left part of the line"
            );
        }
    }
}

/// bash prints `1<>FILE` as `<>FILE` (fd 0) in `declare -f`, so hooks that
/// wrote through `1<>` broke when a tool copied the shell's functions by
/// their printed form (`eval "$(declare -f)"`, `export -f`): the hook read
/// the line from the terminal instead of its scratch file, and the marked
/// line ran unprotected. The hooks write through another fd now.
#[test]
fn bash_hooks_survive_being_copied_through_declare_f() {
    let world = Sandbox::with_programs("line-declare-f");
    let mut s = world.open_counting(Shell::Bash);
    s.run("eval \"$(declare -f)\"");
    s.run("python3 count.py x 3 copied | tee copied.out");
    let job = world.job_tagged("copied.out");
    assert_eq!(
        job.command(),
        vec!["python3 count.py x 3 copied | tee copied.out".to_string()],
        "the line is a job after the functions were copied"
    );
    let out = fs::read_to_string(world.root().join("copied.out")).unwrap();
    assert!(out.contains("done copied"), "{out}");
    assert_eq!(s.status_of("true"), 0);
}

/// Terminal modes a protected line sets (`stty` in it) are the user's
/// after the line, as without hupsafe. zsh runs a protected line with the
/// terminal frozen (`ttyctl -f`, shell/README.md) and would put its old
/// modes back at the next prompt unless the hook has it read them again.
/// The control: the same lines in a shell without hupsafe, which must
/// agree (the modes kept, then given back).
#[test]
fn terminal_modes_a_protected_line_sets_are_kept() {
    for shell in shells() {
        let name = shell.name();
        for protected in [false, true] {
            let what = if protected { "protected" } else { "control" };
            let world = Sandbox::with_programs(&format!("line-stty-{name}-{protected}"));
            let mut s = world.open_counting_or_plain(shell, protected);
            let tag = format!("line-stty-{}", std::process::id());
            // `tostop` and `intr`: modes both shells keep after a command
            // (zsh resets `echo` and `icanon` at its prompt whatever ran);
            // bash also keeps `-echo` (readline echoes what is typed).
            let echo = |on: bool| match (shell, on) {
                (Shell::Bash, true) => "-echo",
                (Shell::Bash, false) => "echo",
                (Shell::Zsh, _) => "",
            };
            for (step, tostop, intr) in [("on", "tostop", "^G"), ("off", "-tostop", "^C")] {
                let echo = echo(step == "on");
                s.run(&format!(
                    "python3 count.py {tag} 1 {step} | cat; stty {tostop} intr {intr} {echo}"
                ));
                if protected {
                    world.job_tagged(&format!("{tag} 1 {step}"));
                }
                let file = format!("modes-{step}.txt");
                s.run(&format!("stty -a > {file}"));
                let words: Vec<String> = read(&world.root().join(&file))
                    .split(|c: char| c.is_whitespace() || c == ';')
                    .map(str::to_string)
                    .collect();
                assert!(
                    words.iter().any(|w| w == tostop)
                        && (echo.is_empty() || words.iter().any(|w| w == echo))
                        && words.windows(3).any(|w| w[0] == "intr" && w[2] == intr),
                    "{name} {what}: the line's `stty {tostop} intr {intr} {echo}` was not kept:\n{}",
                    words.join(" ")
                );
            }
        }
    }
}
