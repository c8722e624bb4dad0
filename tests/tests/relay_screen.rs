//! `hupsafe attach` shows the job's screen as it is (issue 16): the
//! supervisor keeps a model of the job's terminal and draws it on attach,
//! then relays live output from exactly where the model stands; detaching,
//! or the job ending, gives the user's terminal back.
//!
//! tmux is the independent emulator: a window follows the job's raw log
//! (what a terminal that saw everything shows), another runs `hupsafe
//! attach`; both are read back as cells and flags and must agree. Every
//! program below writes far more than the old 16 KiB replay after drawing
//! its screen. The control: the same stories with the model turned off
//! (`HUPSAFE_TEST_NO_SCREEN_MODEL`, attach then replays the end of the log
//! as before) must fail.

use std::path::PathBuf;
use std::time::Duration;

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::relay::{kill_by_hand, python3, shell_line, start_time, Terminal};
use hupsafe_tests::shell::{quote, Shell, Tagged};
use hupsafe_tests::tmux::Tmux;
use hupsafe_tests::wait::{poll, PATIENCE};
use hupsafe_tests::xterm::Xterm;
use hupsafe_tests::{until, Sandbox};

/// How long a control is given to (wrongly) agree.
const CONTROL_PATIENCE: Duration = Duration::from_secs(4);

/// The programs of the stories, by mode (argv[1]); argv[2] is the file
/// created once the screen is drawn. Keys: `q` ends the program at once,
/// leaving its terminal as it is (a crash); `l` leaves the alternate
/// screen; others are shown.
const PROGRAM: &str = r#"
import os, sys, tty, signal, time
mode, ready = sys.argv[1], sys.argv[2]
out = sys.stdout.buffer
def w(s):
    out.write(s.encode() if isinstance(s, str) else s); out.flush()
def updates(row, col, n):
    for i in range(n):
        w("\x1b[%d;%dHcount %6d" % (row, col, i))
def done():
    open(ready, "w").close()

if mode in ("curses", "curses-line"):
    import curses
    def main(s):
        curses.start_color(); curses.use_default_colors()
        curses.init_pair(1, curses.COLOR_RED, -1)
        curses.init_pair(2, curses.COLOR_WHITE, curses.COLOR_BLUE)
        s.keypad(True)
        s.box(); s.addstr(1, 2, "DASHBOARD", curses.A_BOLD | curses.color_pair(1))
        s.addstr(3, 2, "status:", curses.A_UNDERLINE)
        s.addstr(5, 2, " reverse ", curses.A_REVERSE | curses.color_pair(2))
        s.refresh()
        # Most digits change each time: curses writes only what changed.
        for i in range(5000):
            s.addstr(3, 10, "count %6d" % (i * 7919 % 1000000)); s.refresh()
        s.addstr(7, 2, "done"); s.refresh()
        done()
        # A protected line's stdin is the user's terminal, which hangs up:
        # it only waits.
        while mode == "curses-line":
            time.sleep(60)
        while True:
            k = s.getch()
            if k == ord("q"):
                os._exit(0)
            s.addstr(9, 2, "key %d" % k); s.refresh()
    curses.wrapper(main)

signal.signal(signal.SIGWINCH, signal.SIG_IGN)
tty.setraw(0)
if mode == "alt":
    for i in range(40):
        w("main screen line %d\r\n" % i)
    w("\x1b]2;alt-title\x07\x1b[?1002h\x1b[?1006h\x1b[?2004h\x1b=\x1b[?1h")
    w("\x1b[?1049h\x1b[H\x1b[2J\x1b[2;3HALT SCREEN\x1b[4;20r\x1b[4;1H")
    for i in range(30):
        w("region line %d\r\n" % i)
    w("\x1b[r")
    updates(22, 3, 3000)
    # The modes again at the end, so that the old replay has them too
    # (leaving them set is what the control must show).
    w("\x1b[23;3Hdone\x1b[?25l\x1b[?1002h\x1b[?1006h\x1b=\x1b[?1h\x1b[10;5H")
elif mode == "attrs":
    for n in range(8):
        w("\x1b[%dmfg%d\x1b[%dmbg%d\x1b[0m " % (30 + n, n, 40 + n, n))
    w("\r\n")
    for n in (9, 100, 196, 231):
        w("\x1b[38;5;%dm256:%d\x1b[48;5;%dm bg \x1b[0m " % (n, n, 255 - n))
    w("\r\n\x1b[38;2;10;200;30mtruecolour\x1b[48;2;200;10;30m both \x1b[0m\r\n")
    w("\x1b[1mbold\x1b[0m \x1b[2mdim\x1b[0m \x1b[3mitalic\x1b[0m \x1b[4munder\x1b[0m "
      "\x1b[7mreverse\x1b[0m \x1b[9mstrike\x1b[0m \x1b[1;4;7;31;43mall\x1b[0m\r\n")
    updates(10, 1, 3000)
    w("\x1b[12;1Hdone \x1b[1;35m")
elif mode == "forms":
    w("\x1b[38;5;9mA256\x1b[0m \x1b[91mB16\x1b[0m \x1b[48;5;3mC256\x1b[0m "
      "\x1b[38;5;200mD256\x1b[0m \x1b[38;2;10;200;30mErgb\x1b[0m\r\n")
    updates(10, 1, 3000)
    w("\x1b[12;1Hdone")
elif mode == "lines":
    for i in range(3000):
        w("numbered line %d\r\n" % i)
elif mode == "wide":
    w("CJK: 漢字かな混じり文 한국어\r\n")
    w("emoji: 🙂🚀 end\r\n")
    w("x" * 79 + "界" + "after\r\n")
    w("marks: e\u0301 a\u0308 n\u0303 done\r\n")
    # Text at an absolute column after the marks, on their line.
    w("\x1b[5;20Hcol 20")
    updates(10, 1, 3000)
    # The cursor left on the line with the marks, after them.
    w("\x1b[12;1Hdone\x1b[5;15H")
done()
while True:
    k = os.read(0, 1)
    if k == b"q":
        os._exit(0)
    elif k == b"l":
        w("\x1b[?1049lback on the main screen\r\n")
    elif k:
        w("\x1b[15;1Hkey %r" % k)
"#;

struct Story {
    // Dropped first: its socket is in the sandbox.
    tmux: Tmux,
    jobs: Sandbox,
    program: PathBuf,
    control: bool,
}

impl Story {
    fn new(label: &str, control: bool) -> Option<Story> {
        Story::on(Sandbox::for_jobs(label), control)
    }

    fn on(jobs: Sandbox, control: bool) -> Option<Story> {
        let tmux = hupsafe_tests::tools::require_tool("tmux", "tmux")?;
        let program = jobs.write("screen.py", PROGRAM);
        let tmux = Tmux::new(tmux, &jobs);
        Some(Story {
            jobs,
            tmux,
            program,
            control,
        })
    }

    fn hupsafe(&self, args: &[&str]) -> String {
        let mut words = vec![hupsafe_bin().to_string_lossy().into_owned()];
        words.extend(args.iter().map(|s| s.to_string()));
        let line = shell_line(&words);
        if self.control {
            format!("HUPSAFE_TEST_NO_SCREEN_MODEL=1 {line}")
        } else {
            line
        }
    }

    /// Starts the program in `mode` from window `window` of `cols` x
    /// `rows` (its first client), waits for its screen, detaches; the
    /// job's id.
    fn start(&self, mode: &str, window: &str, cols: u16, rows: u16) -> String {
        self.start_with(&[], mode, window, cols, rows)
    }

    /// [`Story::start`] with more options for `hupsafe`.
    fn start_with(
        &self,
        options: &[&str],
        mode: &str,
        window: &str,
        cols: u16,
        rows: u16,
    ) -> String {
        let ready = self.jobs.root().join(format!("{mode}.ready"));
        let program = self.program.to_string_lossy().into_owned();
        let mut args = vec!["--relay"];
        args.extend(options);
        let ready_path = ready.to_string_lossy().into_owned();
        args.extend([python3(), "-u", &program, mode, &ready_path]);
        let cmd = self.hupsafe(&args);
        self.tmux.window(window, cols, rows, &cmd);
        until("the program's screen", || ready.exists().then_some(()));
        let job = self.jobs.job_tagged(&format!("{mode}.ready"));
        job.id()
    }

    fn detach(&self, window: &str, id: &str) {
        self.tmux.keys(window, &["C-]", "d"]);
        until("the detach", || {
            (self.jobs.job(id).map(|j| j.attached()) == Some(0)).then_some(())
        });
    }

    fn log(&self, id: &str) -> PathBuf {
        self.jobs.job_dir(id).join("log")
    }

    fn attach(&self, window: &str, cols: u16, rows: u16, id: &str) {
        // The window stays alive after: tmux shows a dead pane's cursor
        // hidden.
        let cmd = format!("{}; exec cat >/dev/null", self.hupsafe(&["attach", id]));
        self.tmux.window(window, cols, rows, &cmd);
    }

    /// Whether windows `a` and `b` show the same screen and state, and `a`
    /// shows `marker`.
    /// Waits until job `id`'s pty has `size` (`stty size`: "ROWS COLS").
    fn until_pty_size(&self, what: &str, id: &str, size: &str) {
        until(what, || {
            let stty = std::process::Command::new("stty")
                .arg("size")
                .stdin(std::fs::File::open(self.jobs.record(id)["tty"].as_str()?).ok()?)
                .output()
                .ok()?;
            (String::from_utf8_lossy(&stty.stdout).trim() == size).then_some(())
        });
    }

    fn same(&self, a: &str, b: &str, marker: &str) -> Result<(), String> {
        let (sa, sb) = (self.tmux.screen(a), self.tmux.screen(b));
        if !sa.text().contains(marker) {
            return Err(format!("{a} does not show {marker:?} yet:\n{}", sa.text()));
        }
        if let Some(d) = sa.diff(&sb) {
            return Err(format!("{a} and {b}: {d}"));
        }
        let (fa, fb) = (self.tmux.flags(a), self.tmux.flags(b));
        if fa != fb {
            return Err(format!("{a} and {b} flags:\n  {fa}\n  {fb}"));
        }
        Ok(())
    }

    /// Waits for `check` to pass, or with the model off (the control)
    /// checks that it does not: the old replay must fail the story.
    fn expect(&self, what: &str, mut check: impl FnMut() -> Result<(), String>) {
        let mut last = String::new();
        let passed = poll(patience(self.control), || match check() {
            Ok(()) => Some(()),
            Err(e) => {
                last = e;
                None
            }
        })
        .is_some();
        judge(self.control, what, if passed { Ok(()) } else { Err(last) });
    }
}

impl Drop for Story {
    fn drop(&mut self) {
        self.jobs.kill_all();
    }
}

fn curses_story(control: bool) {
    let Some(s) = Story::new("screen-curses", control) else {
        return;
    };
    let id = s.start("curses", "job", 80, 24);
    s.detach("job", &id);
    let log = s.log(&id);
    assert!(
        std::fs::metadata(&log).unwrap().len() > 2 * 16384,
        "5,000 updates are far more than the old replay"
    );
    s.tmux.reference("ref", 80, 24, &log);
    s.attach("att", 80, 24, &id);
    s.expect("the curses screen on attach", || {
        s.same("att", "ref", "DASHBOARD")
    });
    if control {
        return;
    }
    // Live output goes on from where the drawing stands.
    s.tmux.keys("att", &["z"]);
    s.expect("a key's answer after attach", || {
        s.same("att", "ref", "key 122")
    });
}

#[test]
fn a_curses_screen_updated_thousands_of_times_is_drawn_on_attach() {
    curses_story(false);
}

#[test]
fn control_a_raw_replay_does_not_draw_the_curses_screen() {
    curses_story(true);
}

fn alt_story(control: bool) {
    let Some(s) = Story::new("screen-alt", control) else {
        return;
    };
    let id = s.start("alt", "job", 80, 24);
    s.detach("job", &id);
    s.tmux.reference("ref", 80, 24, &s.log(&id));
    s.attach("att", 80, 24, &id);
    s.expect(
        "the alternate screen, its modes and title on attach",
        || s.same("att", "ref", "ALT SCREEN"),
    );
    if control {
        return;
    }
    let flags = s.tmux.flags("att");
    for want in [
        "alt 1",
        "cursor-shown 0",
        "decckm 1",
        "keypad 1",
        "title alt-title",
    ] {
        assert!(flags.contains(want), "{want}: {flags}");
    }
    // The main screen behind it was kept: the job leaves the alternate
    // screen and both windows show it.
    s.tmux.keys("att", &["l"]);
    s.expect(
        "the main screen after the job leaves the alternate one",
        || s.same("att", "ref", "back on the main screen"),
    );
}

#[test]
fn the_alternate_screen_modes_and_title_are_drawn_on_attach() {
    alt_story(false);
}

#[test]
fn control_a_raw_replay_does_not_draw_the_alternate_screen() {
    alt_story(true);
}

fn simple_story(mode: &str, control: bool) {
    let Some(s) = Story::new(&format!("screen-{mode}"), control) else {
        return;
    };
    let id = s.start(mode, "job", 80, 24);
    s.detach("job", &id);
    s.tmux.reference("ref", 80, 24, &s.log(&id));
    s.attach("att", 80, 24, &id);
    let marker = if mode == "attrs" {
        "truecolour"
    } else {
        "漢字"
    };
    s.expect(&format!("the {mode} screen on attach"), || {
        s.same("att", "ref", marker)
    });
}

#[test]
fn colours_and_attributes_are_drawn_on_attach() {
    simple_story("attrs", false);
}

#[test]
fn control_a_raw_replay_does_not_draw_colours_and_attributes() {
    simple_story("attrs", true);
}

#[test]
fn wide_and_combining_characters_are_drawn_on_attach() {
    // Text written at a column after the combining marks, and the cursor
    // left on their line: each mark stays in the cell before it, as in the
    // reference terminal.
    simple_story("wide", false);
}

#[test]
fn control_a_raw_replay_does_not_draw_wide_characters() {
    simple_story("wide", true);
}

fn resize_story(control: bool) {
    let Some(s) = Story::new("screen-resize", control) else {
        return;
    };
    let id = s.start("alt", "job", 80, 24);
    s.detach("job", &id);
    s.tmux.reference("ref", 80, 24, &s.log(&id));
    // Attached from a larger terminal: the job's pty takes its size (the
    // program ignores SIGWINCH: only the model can draw it right).
    s.attach("att", 100, 30, &id);
    s.until_pty_size("the pty to follow the new client", &id, "30 100");
    s.tmux.resize("ref", 100, 30);
    s.expect("the screen at the new size", || {
        s.same("att", "ref", "ALT SCREEN")
    });
}

#[test]
fn a_resize_while_detached_is_drawn_at_the_new_size() {
    resize_story(false);
}

#[test]
fn control_a_raw_replay_does_not_draw_a_resized_screen() {
    resize_story(true);
}

fn two_clients_story(control: bool) {
    let Some(s) = Story::new("screen-two", control) else {
        return;
    };
    let id = s.start("alt", "job", 80, 24);
    s.tmux.reference("ref", 80, 24, &s.log(&id));
    // A second client, larger, while the first stays: the latest sets the
    // size, and both are redrawn.
    s.attach("att", 100, 30, &id);
    s.tmux.resize("ref", 100, 30);
    s.expect("the new client at its size", || {
        s.same("att", "ref", "ALT SCREEN")
    });
    if control {
        return;
    }
    // The first client types: it is the latest, the pty takes its size
    // back, and every client is redrawn at it.
    s.tmux.keys("job", &["k"]);
    s.tmux.resize("ref", 80, 24);
    s.expect("the first client after it typed", || {
        s.same("job", "ref", "key b'k'")
    });
    s.expect("the second client, redrawn at the smaller size", || {
        let (att, rf) = (s.tmux.screen("att"), s.tmux.screen("ref"));
        match att.crop(80, 24).diff(&rf) {
            None if att.rows.len() <= 24 => Ok(()),
            None => Err(format!("drawn below the pty's rows:\n{}", att.text())),
            Some(d) => Err(d),
        }
    });
}

#[test]
fn two_clients_of_different_sizes_follow_the_latest() {
    two_clients_story(false);
}

fn restored(flags: &str) -> Result<(), String> {
    for want in [
        "alt 0",
        "cursor-shown 1",
        "decckm 0",
        "keypad 0",
        "mouse 00000",
        "region 0,23",
    ] {
        if !flags.contains(want) {
            return Err(format!("not restored ({want}): {flags}"));
        }
    }
    Ok(())
}

fn leave_story(by_detach: bool, control: bool) {
    let Some(s) = Story::new("screen-leave", control) else {
        return;
    };
    let id = s.start("alt", "job", 80, 24);
    s.detach("job", &id);
    s.attach("att", 80, 24, &id);
    until("the attach to show the job", || {
        s.tmux.text("att").contains("done").then_some(())
    });
    if by_detach {
        s.tmux.keys("att", &["C-]", "d"]);
    } else {
        // The job dies in the alternate screen with its modes set.
        s.tmux.keys("att", &["q"]);
    }
    let gone = if by_detach { "detached from job" } else { "" };
    s.expect("the user's terminal restored", || {
        let text = s.tmux.text("att");
        if !text.contains(gone) {
            return Err(format!("still attached: {text}"));
        }
        if !by_detach && s.jobs.job(&id).is_some_and(|j| j.state() == "running") {
            return Err("still running".into());
        }
        restored(&s.tmux.flags("att"))?;
        below(&text, "main screen line 39", gone)
    });
}

/// The row of the first line of `text` holding `needle`.
fn row_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle))
}

/// Whether `after` (the note, or the prompt) comes on a row below the
/// job's last output `last`, not over the job's first rows: resetting
/// origin mode, or the margins without saving the cursor, moves it home.
fn below(text: &str, last: &str, after: &str) -> Result<(), String> {
    if after.is_empty() {
        return Ok(());
    }
    match (row_of(text, last), row_of(text, after)) {
        (Some(l), Some(a)) if a > l => Ok(()),
        (l, a) => Err(format!(
            "{after:?} (row {a:?}) is not below {last:?} (row {l:?}):\n{text}"
        )),
    }
}

/// Whether `note` comes below the attrs story's last output ("done", on
/// row 11) and the job's first rows are where they were (its second row,
/// "256:9 ...", on row 1).
fn note_below_the_attrs_job(text: &str, note: &str) -> Result<(), String> {
    below(text, "done", note)?;
    match row_of(text, "256:9") {
        Some(1) => Ok(()),
        r => Err(format!("the job's second row is at {r:?}:\n{text}")),
    }
}

/// A job on the main screen, cursor left mid-screen: the note after
/// detaching comes right below its output, and its first rows are intact.
fn note_story(control: bool) {
    let Some(s) = Story::new("screen-note", control) else {
        return;
    };
    let id = s.start("attrs", "job", 80, 24);
    s.detach("job", &id);
    s.attach("att", 80, 24, &id);
    until("the attach to show the job", || {
        s.tmux.text("att").contains("done").then_some(())
    });
    s.tmux.keys("att", &["C-]", "d"]);
    s.expect("the note below the job's output", || {
        note_below_the_attrs_job(&s.tmux.text("att"), "detached from job")
    });
}

#[test]
fn the_note_after_detaching_comes_below_the_jobs_output() {
    note_story(false);
}

/// The supervisor dies while a client is attached (killed by pid): the
/// client, which cannot ask the model, writes the generic restore, which
/// must not move the cursor either: its note comes below the job's output.
/// Read with xterm.js: leaving an alternate screen that is not there
/// restores a saved cursor in xterm and xterm.js (home if none), not in
/// tmux.
#[test]
fn the_note_after_a_lost_connection_comes_below_the_jobs_output() {
    let Some(xterm) = Xterm::require() else {
        return;
    };
    let Some(s) = Story::new("screen-lost", false) else {
        return;
    };
    let (_, id, mut att) = attached_on_pty(&s, "attrs");
    att.expect("done");
    let supervisor = s.jobs.supervisor_pid(&id);
    kill_by_hand("the supervisor", (supervisor, start_time(supervisor)));
    att.expect("lost the connection to job");
    let verdict = att.poll_shown(PATIENCE, |shown| {
        let text = xterm.screen(shown, 80, 24).text.join("\n");
        note_below_the_attrs_job(&text, "lost the connection to job")
    });
    if let Err(e) = verdict {
        panic!("{e}");
    }
}

#[test]
fn detaching_restores_the_users_terminal() {
    leave_story(true, false);
}

#[test]
fn control_without_the_model_detaching_leaves_the_terminal_as_the_job_set_it() {
    leave_story(true, true);
}

#[test]
fn a_job_that_ends_while_attached_leaves_the_users_terminal_restored() {
    leave_story(false, false);
}

#[test]
fn control_without_the_model_a_job_ending_leaves_the_terminal_as_it_set_it() {
    leave_story(false, true);
}

fn capped_log_story(control: bool) {
    let Some(s) = Story::new("screen-capped", control) else {
        return;
    };
    // The log keeps about 8 KiB: the screen's first lines were rotated
    // away long before the attach; the model read them in time.
    let id = s.start_with(&["--log-max", "4K"], "attrs", "job", 80, 24);
    s.detach("job", &id);
    until("the log to be cut", || {
        (s.jobs.record(&id)["log_dropped"].as_u64()? > 0).then_some(())
    });
    // The reference is the program itself, straight on a tmux window (its
    // output does not depend on time).
    let program = s.program.to_string_lossy().into_owned();
    let ready = s.jobs.root().join("direct.ready");
    let direct = shell_line(&[
        python3().to_string(),
        "-u".into(),
        program,
        "attrs".into(),
        ready.to_string_lossy().into_owned(),
    ]);
    s.tmux.window("ref", 80, 24, &direct);
    until("the program's own screen", || ready.exists().then_some(()));
    s.attach("att", 80, 24, &id);
    s.expect("the screen of a job whose log was cut", || {
        s.same("att", "ref", "truecolour")
    });
}

#[test]
fn a_capped_log_does_not_cost_the_screen() {
    capped_log_story(false);
}

#[test]
fn control_a_raw_replay_of_a_capped_log_does_not_draw_the_screen() {
    capped_log_story(true);
}

#[test]
fn control_a_raw_replay_does_not_draw_a_second_client() {
    two_clients_story(true);
}

/// The numbers of the `numbered line N` lines window `name` has in its
/// history and on its screen, in order.
fn numbered(s: &Story, name: &str) -> Vec<u32> {
    s.tmux
        .run(&["capture-pane", "-p", "-S", "-", "-E", "-", "-t", name])
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("numbered line ")?.parse().ok())
        .collect()
}

fn scrollback_story(lines: Option<u32>, control: bool) {
    let Some(s) = Story::new("screen-scrollback", control) else {
        return;
    };
    if let Some(n) = lines {
        let dir = s.jobs.home().join(".config/hupsafe");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config"), format!("scrollback = {n}\n")).unwrap();
    }
    let id = s.start("lines", "job", 80, 24);
    s.detach("job", &id);
    // Room for every line in the attaching window's own history.
    s.tmux.run(&["set-option", "-g", "history-limit", "20000"]);
    s.attach("att", 80, 24, &id);
    // 3,000 lines: 23 on the screen (the cursor is on the blank last
    // row), the rest in the model's scrollback, as far as it goes.
    let first = match lines {
        Some(n) => 3000 - 23 - n,
        None => 0,
    };
    let want: Vec<u32> = (first..3000).collect();
    s.expect("the scrollback above the screen, each line once", || {
        let got = numbered(&s, "att");
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "{} numbered lines, from {:?} to {:?}",
                got.len(),
                got.first(),
                got.last()
            ))
        }
    });
}

#[test]
fn the_scrollback_is_drawn_above_the_screen_on_attach() {
    scrollback_story(None, false);
}

#[test]
fn the_scrollback_is_as_long_as_the_config_file_says() {
    scrollback_story(Some(500), false);
}

#[test]
fn control_a_raw_replay_does_not_give_the_scrollback() {
    scrollback_story(None, true);
}

/// A protected command line (bash with the integration, `python3`
/// marked) drawing a curses screen, whose terminal then hangs up (its tmux
/// window is killed): `attach` draws the line's screen from its own model,
/// as for a job started with `hupsafe`, and detaching gives the terminal
/// back. The control sets `HUPSAFE_TEST_NO_SCREEN_MODEL` in the shell, so
/// the line's supervisor (started by the hooks or a standby) has no model.
fn line_story(control: bool) {
    let world = Sandbox::with_programs(&format!("screen-line-{control}"));
    world.mark(&["python3"]);
    let Some(s) = Story::on(world, control) else {
        return;
    };
    // After the hangup the line's program waits for ever, and its shell
    // for it: killed by pid when the story ends (the shell then exits of
    // the hangup it kept for after the line).
    let _program = Tagged {
        tag: s.program.to_string_lossy().into_owned(),
    };
    let knob = if control {
        "HUPSAFE_TEST_NO_SCREEN_MODEL=1 "
    } else {
        ""
    };
    let shell = format!(
        "{knob}PS1='$ ' HISTFILE=/dev/null exec bash {}",
        Shell::Bash.interactive_args().join(" ")
    );
    s.tmux.window("user", 80, 24, &shell);
    let inited = s.jobs.root().join("inited");
    let init = format!(
        "{}; touch {}",
        s.jobs.init_line(Shell::Bash),
        quote(&inited.to_string_lossy())
    );
    s.tmux.keys("user", &[&init, "Enter"]);
    until("the integration", || inited.exists().then_some(()));
    let ready = s.jobs.root().join("curses-line.ready");
    let line = format!(
        "python3 -u {} curses-line {}",
        quote(&s.program.to_string_lossy()),
        quote(&ready.to_string_lossy())
    );
    s.tmux.keys("user", &[&line, "Enter"]);
    until("the line's screen", || ready.exists().then_some(()));
    let job = s.jobs.job_tagged("curses-line.ready");
    let id = job.id();
    let log = s.log(&id);
    assert!(
        std::fs::metadata(&log).unwrap().len() > 2 * 16384,
        "5,000 updates are far more than the old replay"
    );
    // (Before the user's window goes: the tmux server ends with its last
    // session.)
    s.tmux.reference("ref", 80, 24, &log);
    // The terminal goes: its window closes, as a dropped SSH link's would.
    s.tmux.run(&["kill-session", "-t", "user"]);
    s.attach("att", 80, 24, &id);
    s.expect("the protected line's curses screen on attach", || {
        s.same("att", "ref", "DASHBOARD")
    });
    if control {
        return;
    }
    assert!(
        s.tmux.flags("att").contains("keypad 1"),
        "curses set keypad mode: {}",
        s.tmux.flags("att")
    );
    s.tmux.keys("att", &["C-]", "d"]);
    s.expect("the user's terminal restored after detaching", || {
        let text = s.tmux.text("att");
        if !text.contains("detached from job") {
            return Err(format!("still attached: {text}"));
        }
        restored(&s.tmux.flags("att"))
    });
    assert_eq!(
        s.jobs.job(&id).map(|j| j.state()).as_deref(),
        Some("running"),
        "detaching ended the line"
    );
    // Attached again from a larger terminal: with the user's terminal
    // gone, the line's takes the client's size (curses redraws only on a
    // key it never reads: only the model can draw it right).
    s.attach("big", 100, 30, &id);
    s.until_pty_size("the line's pty to follow the new client", &id, "30 100");
    s.tmux.resize("ref", 100, 30);
    s.expect("the line's screen at the new size", || {
        s.same("big", "ref", "DASHBOARD")
    });
}

#[test]
fn a_protected_lines_curses_screen_is_drawn_on_attach_after_the_hangup() {
    line_story(false);
}

#[test]
fn control_a_protected_line_without_the_model_does_not_draw_its_screen() {
    line_story(true);
}

/// Starts `mode` on a pty of the test's own (TERM=xterm-256color, UTF-8),
/// detaches once it is ready, attaches from a second pty and returns the
/// job's log and what `hupsafe attach` wrote up to `done`, as bytes: for
/// the stories about the form of what is drawn, which a screen comparison
/// cannot see (tmux shows both forms alike).
fn drawn_by_attach(s: &Story, mode: &str) -> (Vec<u8>, String) {
    let (log, id, mut att) = attached_on_pty(s, mode);
    att.expect("done");
    let drawn = att.transcript();
    att.send(b"\x1dd");
    att.expect(&format!("detached from job {id}"));
    (log, drawn)
}

/// Starts `mode` on a pty of the test's own (TERM=xterm-256color, UTF-8),
/// detaches once it is ready, and attaches from a second pty: the job's
/// log, its id, and the attached terminal.
fn attached_on_pty(s: &Story, mode: &str) -> (Vec<u8>, String, Terminal) {
    let ready = s.jobs.root().join(format!("{mode}.ready"));
    let line = s.hupsafe(&[
        "--relay",
        python3(),
        "-u",
        &s.program.to_string_lossy(),
        mode,
        &ready.to_string_lossy(),
    ]);
    let on_pty = |line: &str| {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", line])
            .env_clear()
            .envs(s.jobs.env())
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .current_dir(s.jobs.root());
        Terminal::spawn(cmd)
    };
    let mut first = on_pty(&line);
    first.drain_until("the program's screen", || ready.exists());
    let id = s.jobs.job_tagged(&format!("{mode}.ready")).id();
    first.send(b"\x1dd");
    first.expect(&format!("detached from job {id}"));
    let log = std::fs::read(s.log(&id)).unwrap();
    let att = on_pty(&s.hupsafe(&["attach", &id]));
    (log, id, att)
}

/// xterm.js, a second emulator beside tmux, reads what attach draws as it
/// reads the program's own output: every row's text, every cell's
/// character, colours (and their 16- or 256-colour form) and attributes,
/// the cursor, the buffer (main or alternate) and the modes, for the
/// stories' programs (curses with line drawing, the alternate screen with
/// a scroll region and modes, colours and attributes, wide and combining
/// characters, the colour forms).
fn xterm_story(control: bool) {
    let Some(xterm) = Xterm::require() else {
        return;
    };
    for mode in ["curses", "alt", "attrs", "wide", "forms"] {
        let Some(s) = Story::new(&format!("screen-xterm-{mode}"), control) else {
            return;
        };
        let (log, id, mut att) = attached_on_pty(&s, mode);
        let reference = xterm.screen(&log, 80, 24);
        let verdict = att.poll_shown(patience(control), |shown| {
            match xterm.screen(shown, 80, 24).diff(&reference) {
                None => Ok(()),
                Some(d) => Err(d),
            }
        });
        judge(
            control,
            &format!("{mode}: xterm.js shows the attach as the program"),
            verdict,
        );
        att.send(b"\x1dd");
        att.expect(&format!("detached from job {id}"));
    }
}

#[test]
fn xterm_js_reads_the_attach_as_the_programs_own_output() {
    xterm_story(false);
}

#[test]
fn control_a_raw_replay_reads_differently_in_xterm_js() {
    xterm_story(true);
}

/// How long a check may take to hold: a control is given less to (wrongly)
/// agree.
fn patience(control: bool) -> Duration {
    if control {
        CONTROL_PATIENCE
    } else {
        PATIENCE
    }
}

/// The verdict on `what`: with the model it must hold; in the control
/// (the model off) it must fail.
fn judge(control: bool, what: &str, verdict: Result<(), String>) {
    if control {
        assert!(
            verdict.is_err(),
            "control: {what} passed without the screen model; the story proves nothing"
        );
    } else if let Err(e) = verdict {
        panic!("{what}: {e}");
    }
}

/// Curses draws boxes on xterm with the DEC graphics set (`ESC ( 0`, then
/// `lqqk`, then `ESC ( B`): the drawing on attach sends them the same way,
/// not as the Unicode box characters (`┌──┐`) they look like. Both show
/// the same on xterm or tmux (the stories above), but a terminal that
/// ignores charsets in UTF-8, as pyte does, shows the program itself as
/// `lqqk`, and must show its reattached screen so too.
fn line_drawing_story(control: bool) {
    let Some(s) = Story::new("screen-graphics", control) else {
        return;
    };
    let (log, drawn) = drawn_by_attach(&s, "curses");
    assert!(
        find(&log, b"\x1b(0").is_some() && find(&log, b"lqqq").is_some(),
        "the program drew its box in the DEC graphics set (TERM=xterm-256color)"
    );
    let in_graphics = drawn
        .split("\x1b(0")
        .skip(1)
        .filter_map(|run| run.split("\x1b(B").next())
        .any(|run| run.starts_with("lqqq"));
    let verdict: Result<(), String> =
        match (in_graphics, drawn.contains('┌') || drawn.contains('─')) {
            (true, false) => Ok(()),
            (false, _) => {
                Err("the box's corner and edge, in the graphics set, are not drawn".into())
            }
            (true, true) => Err("Unicode box characters the program never sent are drawn".into()),
        };
    judge(
        control,
        "the line drawing",
        verdict.map_err(|e| format!("{e}: the drawing was {drawn:?}")),
    );
}

#[test]
fn line_drawing_is_drawn_in_the_graphics_set_the_program_used() {
    line_drawing_story(false);
}

#[test]
fn control_a_raw_replay_does_not_draw_the_box() {
    line_drawing_story(true);
}

/// The first 16 colours are drawn in the form the program set them in
/// (`38;5;9` and `91` are the same colour, which xterm.js, pyte and others
/// tell apart), and 256 and RGB colours with semicolons, which every
/// terminal reads (avt's own form has colons, which pyte and the Linux
/// console show as text).
fn colour_forms_story(control: bool) {
    let Some(s) = Story::new("screen-forms", control) else {
        return;
    };
    let (_, drawn) = drawn_by_attach(&s, "forms");
    let drawing = drawn.split("\x1b[2J").nth(1).unwrap_or_default();
    let sgr_before = |text: &str| {
        let at = drawing.find(text)?;
        let before = &drawing[..at];
        Some(before[before.rfind("\x1b[")?..].to_string())
    };
    let mut verdict = Ok(());
    for (text, want) in [
        ("A256", "38;5;9m"),
        ("B16", "91m"),
        ("C256", "48;5;3m"),
        ("D256", "38;5;200m"),
        ("Ergb", "38;2;10;200;30m"),
    ] {
        match sgr_before(text) {
            Some(sgr) if sgr.ends_with(want) && !sgr.contains(':') => {}
            other => {
                verdict = Err(format!(
                    "{text} is drawn after {other:?}, not after {want:?}"
                ));
                break;
            }
        }
    }
    judge(
        control,
        "the colours' forms",
        verdict.map_err(|e| format!("{e}: the drawing was {drawn:?}")),
    );
}

#[test]
fn the_first_16_colours_keep_their_form_and_colours_have_semicolons() {
    colour_forms_story(false);
}

#[test]
fn control_a_raw_replay_does_not_draw_the_colours() {
    colour_forms_story(true);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
