//! The point of the shell integration: in bash and in zsh, a marked
//! command, or one typed after the prefix, survives the terminal going
//! away however it was running (foreground, background, stopped with
//! Ctrl-Z, a pipeline stage, output redirected), and its output is kept.
//! Each story runs twice: marked, where the program must live on, and
//! unmarked, the control, where the same program must die (else the story
//! proves nothing). The programs are a python ticker that resets SIGHUP
//! to its default (nohup cannot save it) and a node ticker (node resets
//! every inherited disposition).
//!
//! The hangup is real: the pty master is closed, the kernel sends SIGHUP
//! to the shell, and the shell does what it does to its jobs (bash: SIGHUP
//! to every job, then SIGTERM to stopped ones; zsh: SIGHUP to running
//! ones, the kernel's SIGHUP+SIGCONT to stopped ones).

use std::path::PathBuf;

use hupsafe_tests::shell::{
    cont, is_stopped, last_tick, side_by_side, wait_tick_beyond, Session, Shell, Tagged,
};
use hupsafe_tests::Sandbox;
use hupsafe_tests::{procfs, require_tool};

/// How the job is typed and what is done to it before the hangup.
#[derive(Clone, Copy, Debug)]
enum Story {
    /// `python3 ticker.py TAG`, waiting in the foreground.
    Foreground,
    /// `python3 ticker.py TAG &`.
    Background,
    /// In the foreground, then Ctrl-Z.
    Stopped,
    /// `python3 ticker.py TAG | python3 sink.py TAG2`.
    Pipeline,
    /// `hs python3 ticker.py TAG`, nothing marked (the control: no `hs`).
    Prefix,
    /// `node ticker.js TAG`.
    Node,
    /// `python3 ticker.py TAG > out 2>&1`, then Ctrl-Z: no terminal
    /// output, so no relay; the program itself is the stopped job.
    StoppedRedirected,
}

impl Story {
    fn marks(self) -> &'static [&'static str] {
        match self {
            Story::Prefix => &[],
            Story::Node => &["node"],
            _ => &["python3"],
        }
    }
}

/// What the story left behind to check after the hangup.
struct Watch {
    /// The program whose life is at stake (the pipeline's last stage).
    tagged: Tagged,
    /// Other tagged programs of the story (the pipeline's first stage).
    others: Vec<Tagged>,
    /// Where its output goes when it is not relayed.
    file: Option<PathBuf>,
    /// The highest tick shown before the hangup.
    seen: u32,
}

fn begin(world: &Sandbox, s: &mut Session, story: Story, protect: bool) -> Watch {
    let tagged = Tagged::new("shell-story");
    let tag = tagged.tag.clone();
    let hs = if protect { "hs " } else { "" };
    let mut others = Vec::new();
    let mut file = None;
    match story {
        Story::Foreground => s.start(&format!("python3 -u ticker.py {tag}")),
        Story::Prefix => s.start(&format!("{hs}python3 -u ticker.py {tag}")),
        Story::Node => s.start(&format!("node ticker.js {tag}")),
        Story::Background => {
            s.start(&format!("python3 -u ticker.py {tag} &"));
        }
        Story::Stopped => s.start(&format!("python3 -u ticker.py {tag}")),
        Story::Pipeline => {
            let first = Tagged::new("shell-story-first");
            s.start(&format!(
                "python3 -u ticker.py {} | python3 -u sink.py {tag}",
                first.tag
            ));
            others.push(first);
        }
        Story::StoppedRedirected => {
            let out = world.root().join(format!("{tag}.out"));
            s.start(&format!(
                "python3 -u ticker.py {tag} > {} 2>&1",
                out.display()
            ));
            file = Some(out);
        }
    }
    let shown = match story {
        Story::Pipeline => "got tick 3",
        Story::StoppedRedirected => {
            let out = file.clone().unwrap();
            wait_tick_beyond(&out, 3);
            ""
        }
        _ => "tick 3",
    };
    if !shown.is_empty() {
        s.expect(shown);
    }
    if matches!(story, Story::Stopped | Story::StoppedRedirected) {
        s.suspend();
    }
    if matches!(story, Story::Background) {
        s.sync();
    }
    let seen = match &file {
        Some(f) => last_tick(&std::fs::read_to_string(f).unwrap_or_default()).unwrap_or(0),
        None => last_tick(&s.transcript()).unwrap_or(0),
    };
    Watch {
        tagged,
        others,
        file,
        seen,
    }
}

/// Marked (or prefixed): alive after the hangup, output kept.
fn protected(shell: Shell, story: Story) {
    let world = Sandbox::with_programs(&format!("shell-{}-{story:?}", shell.name()));
    if !story.marks().is_empty() {
        world.mark(story.marks());
    }
    let mut s = world.open(shell);
    let w = begin(&world, &mut s, story, true);
    // A protected line keeps its shell too: the shell ignores the hangup
    // until the line ends (then it hangs up), so it is not waited for.
    s.term.hang_up();
    let pid = w.tagged.wait_program();
    assert!(
        procfs::is_alive(pid),
        "{story:?} under {}: the program died with the terminal:\n{}",
        shell.name(),
        s.transcript()
    );
    for o in &w.others {
        assert!(
            !o.programs().is_empty(),
            "{story:?} under {}: the pipeline's first stage died:\n{}",
            shell.name(),
            s.transcript()
        );
    }
    // A stopped job stays stopped (nobody continues it) or was continued
    // by the kernel; either way it must carry on when continued.
    if is_stopped(pid) {
        cont(pid);
    }
    let output = match &w.file {
        Some(f) => f.clone(),
        None => world.job_log(&w.tagged.tag),
    };
    // Well beyond: a second of output after the hangup.
    wait_tick_beyond(&output, w.seen + 10);
}

/// Unmarked: the same program dies of the hangup.
fn control(shell: Shell, story: Story) {
    let world = Sandbox::with_programs(&format!("shell-{}-{story:?}-control", shell.name()));
    // The integration is there, only the mark is missing.
    let mut s = world.open(shell);
    let w = begin(&world, &mut s, story, false);
    s.hang_up();
    assert!(
        w.tagged.all_gone(),
        "control {story:?} under {}: the unmarked program survived the hangup, so the \
         story cannot tell protection from luck:\n{}",
        shell.name(),
        s.transcript()
    );
}

fn story(shell: Shell, story: Story) {
    if shell.require().is_none() {
        return;
    }
    if matches!(story, Story::Node) {
        require_tool!("node", "nodejs");
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
    bash_foreground: Shell::Bash, Story::Foreground;
    bash_background: Shell::Bash, Story::Background;
    bash_stopped: Shell::Bash, Story::Stopped;
    bash_pipeline: Shell::Bash, Story::Pipeline;
    bash_prefix: Shell::Bash, Story::Prefix;
    bash_node: Shell::Bash, Story::Node;
    bash_stopped_redirected: Shell::Bash, Story::StoppedRedirected;
    zsh_foreground: Shell::Zsh, Story::Foreground;
    zsh_background: Shell::Zsh, Story::Background;
    zsh_stopped: Shell::Zsh, Story::Stopped;
    zsh_pipeline: Shell::Zsh, Story::Pipeline;
    zsh_prefix: Shell::Zsh, Story::Prefix;
    zsh_node: Shell::Zsh, Story::Node;
    zsh_stopped_redirected: Shell::Zsh, Story::StoppedRedirected;
}
