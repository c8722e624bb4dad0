//! The relay's reason to exist: a program whose terminal goes away keeps
//! running, keeps writing (no EIO), and every byte lands in its log; a
//! prompt it was waiting at is still waiting when the user attaches again.

use hupsafe_tests::relay::{python, shell_line, ticker, Terminal};
use hupsafe_tests::Sandbox;
use hupsafe_tests::{procfs, unique_tag, until};

/// Python's print raises on EIO and the program dies (docs/HANGUPS.md,
/// "EIO after a hangup"): under the relay it must live to its last line.
#[test]
fn a_ticker_outlives_its_terminal_and_logs_every_line() {
    let jobs = Sandbox::for_jobs("relay-hangup");
    let tag = unique_tag("ticker");
    let mut term = Terminal::bash(&jobs);
    let hupsafe = hupsafe_tests::cli::hupsafe_bin()
        .to_string_lossy()
        .into_owned();
    let mut cmd = vec![hupsafe];
    cmd.extend(ticker(60, 50, &tag));
    term.type_line(&shell_line(&cmd));
    term.expect("tick 3\r\n");
    let job = jobs.job_tagged(&tag);
    let id = job.id();
    let program = job.pid().expect("a running job has a pid");
    assert_eq!(job.state(), "running");
    assert_eq!(job.attached(), 1, "the starting hupsafe is attached");
    assert!(
        procfs::cmdline(program).is_some_and(|a| a.iter().any(|w| w == &tag)),
        "the job's pid is the ticker"
    );
    let supervisor = jobs.supervisor_pid(&id);

    term.hang_up();
    // The shell dies of the hangup, and takes the attached hupsafe with it.
    term.wait();
    assert!(
        procfs::is_alive(program),
        "the ticker died with its terminal"
    );
    assert!(
        procfs::is_alive(supervisor),
        "the supervisor died with the terminal"
    );
    until("the job to be detached", || {
        (jobs.job(&id)?.attached() == 0).then_some(())
    });

    let done = jobs.wait_state(&id, "exited 0", |s| s != "running");
    assert_eq!(
        done.state(),
        "exited 0",
        "the ticker did not finish cleanly"
    );
    let log = jobs.log(&id);
    for i in 0..60 {
        assert!(
            log.contains(&format!("tick {i}\r\n")),
            "line {i} is missing from the log:\n{log}"
        );
    }
    until("the supervisor to exit", || {
        (!procfs::is_alive(supervisor)).then_some(())
    });
    assert!(
        !jobs.job_dir(&id).join("sock").exists(),
        "a finished job's socket is removed"
    );
}

/// A prompt waiting when the terminal goes away is still waiting after
/// `hupsafe attach` from another terminal, which replays it, takes the
/// answer, and ends with the program's status.
#[test]
fn a_prompt_is_answered_after_reattaching() {
    let jobs = Sandbox::for_jobs("relay-prompt");
    let tag = unique_tag("prompt");
    let mut term = Terminal::bash(&jobs);
    let hupsafe = hupsafe_tests::cli::hupsafe_bin()
        .to_string_lossy()
        .into_owned();
    let mut cmd = vec![hupsafe.clone()];
    cmd.extend(python(
        "import sys\nname = input('your name? ')\nprint('hello ' + name)\nsys.exit(4)\n",
        &tag,
    ));
    term.type_line(&shell_line(&cmd));
    term.expect("your name? ");
    let job = jobs.job_tagged(&tag);
    let id = job.id();
    let program = job.pid().unwrap();
    term.hang_up();
    term.wait();
    until("the job to be detached", || {
        (jobs.job(&id)?.attached() == 0).then_some(())
    });
    assert!(
        procfs::is_alive(program),
        "the prompt died with its terminal"
    );
    assert_eq!(jobs.job(&id).unwrap().state(), "running");

    // Another terminal, another shell: attach, see the prompt, answer it.
    let mut other = Terminal::bash(&jobs);
    other.type_line(&format!("{hupsafe} attach {id}; echo attach-rc=$?"));
    other.expect("your name? ");
    other.type_line("world");
    other.expect("hello world");
    other.expect("attach-rc=4");
    let done = jobs.wait_state(&id, "exited 4", |s| s != "running");
    assert_eq!(done.state(), "exited 4");
    let log = jobs.log(&id);
    assert!(log.contains("your name? world\r\nhello world\r\n"), "{log}");
}

/// Reads on the job's terminal block while nobody is attached: a program
/// reading its terminal is not handed end-of-file or EIO by a hangup.
#[test]
fn reads_block_while_detached() {
    let jobs = Sandbox::for_jobs("relay-read");
    let tag = unique_tag("reader");
    let mut term = Terminal::bash(&jobs);
    let hupsafe = hupsafe_tests::cli::hupsafe_bin()
        .to_string_lossy()
        .into_owned();
    let mut cmd = vec![hupsafe];
    cmd.extend(python(
        "import sys\nprint('reading')\nline = sys.stdin.readline()\nprint('got %r' % line)\n",
        &tag,
    ));
    term.type_line(&shell_line(&cmd));
    term.expect("reading");
    let job = jobs.job_tagged(&tag);
    let program = job.pid().unwrap();
    term.hang_up();
    term.wait();
    // Still blocked in read(2) on its terminal, not finished with ''.
    until("the reader to block in read", || {
        (hupsafe_tests::procfs::blocked_syscall(program) == Some(libc::SYS_read)).then_some(())
    });
    assert_eq!(jobs.job(&job.id()).unwrap().state(), "running");
    assert!(!jobs.log(&job.id()).contains("got"));
}
