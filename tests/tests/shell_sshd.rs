//! The real thing once: a bash reached over ssh (a throwaway sshd on
//! 127.0.0.1, its own host key and client key, started and stopped by this
//! test by pid) with the integration sourced; an unmarked job runs in the
//! background and a marked line, `python3 count.py | tee FILE`, in the
//! foreground; the `ssh -tt` client is killed (a dropped connection), sshd
//! hangs up the remote terminal, and only the marked line lives on: `tee`
//! writes FILE to the end, python exits 0, the shell then hangs up its
//! other jobs and ends.

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::procfs;
use hupsafe_tests::relay::{Terminal, PROMPT};
use hupsafe_tests::shell::{quote, wait_tick_beyond, Session, Shell, SshTools, Sshd, Tagged};
use hupsafe_tests::until;
use hupsafe_tests::Sandbox;

/// `ssh -tt` to a bash in `world` (its environment; sshd clears it): the
/// session at its prompt, the ssh client's pid and the remote shell's.
fn remote_bash(world: &Sandbox, sshd: &Sshd) -> (Session, i32, i32) {
    let mut remote = vec![
        "cd".to_string(),
        quote(&world.root().to_string_lossy()),
        "&&".into(),
    ];
    remote.push("exec env -i".into());
    for (k, v) in world.env() {
        remote.push(quote(&format!("{k}={v}")));
    }
    remote.push(quote(&format!("PS1={PROMPT}")));
    remote.push("PS2= HISTFILE=/dev/null".into());
    remote.push("bash --norc --noprofile -i".into());
    let client = Terminal::spawn(sshd.ssh(&remote.join(" ")));
    let ssh_pid = client.pid();
    let mut s = Session::on(client, Shell::Bash);
    s.run("echo \"remote-shell=$$\"");
    let transcript = s.transcript();
    let shell_pid: i32 = transcript
        .split("remote-shell=")
        .nth(2)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("the remote shell did not say its pid:\n{transcript}"));
    (s, ssh_pid, shell_pid)
}

#[test]
fn a_dropped_ssh_connection_spares_the_marked_job_only() {
    let Some(tools) = SshTools::require() else {
        return;
    };
    let world = Sandbox::with_programs("shell-sshd");
    world.mark(&["python3"]);
    let sshd_dir = Sandbox::new("sshd");
    let sshd = Sshd::start(&tools, sshd_dir.root());

    let (mut s, ssh_pid, shell_pid) = remote_bash(&world, &sshd);
    s.run(&world.init_line(Shell::Bash));

    let unmarked = Tagged::new("sshd-unmarked");
    let out = world.root().join("unmarked.txt");
    s.run(&format!(
        "command python3 -u ticker.py {} > {} 2>&1 &",
        unmarked.tag,
        out.display()
    ));
    wait_tick_beyond(&out, 2);
    let marked = Tagged::new("sshd-marked");
    world.write(
        "count.py",
        "import signal, sys, time\n\
         signal.signal(signal.SIGHUP, signal.SIG_DFL)\n\
         for i in range(60):\n    print('tick %d' % i, flush=True)\n    time.sleep(0.05)\n\
         print('done', flush=True)\n",
    );
    let file = world.root().join("marked.txt");
    s.start(&format!(
        "python3 count.py {} | tee {f}; echo python=${{PIPESTATUS[0]}} >> {f}",
        marked.tag,
        f = file.display()
    ));
    s.expect("tick 3");

    // The dropped connection: the client dies, sshd closes the pty.
    // SAFETY: killing the ssh client this test started, by its pid.
    unsafe { libc::kill(ssh_pid, libc::SIGKILL) };
    // The shell runs the protected line to its end, then hangs up.
    until("the remote shell to end", || {
        (!procfs::is_alive(shell_pid)).then_some(())
    });
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        text.ends_with("tick 59\ndone\npython=0\n"),
        "the marked line did not run to its end after the dropped connection:\n{text}"
    );
    let log = std::fs::read_to_string(world.job_log(&marked.tag)).unwrap_or_default();
    assert!(log.contains("done"), "the line's log is incomplete:\n{log}");
    assert!(
        unmarked.all_gone(),
        "the unmarked job survived the dropped connection: the story proves nothing\nsshd log:\n{}",
        sshd.log()
    );
    drop(s);
}

/// `hupsafe python3 ticker.py` typed in a shell over ssh: attached, the
/// supervisor writing the output to the remote terminal itself (it holds
/// that pty). The connection drops: the program lives on, by pid, its log
/// keeps growing, the supervisor lets go of the dead pty (a held pty would
/// outlive the session), and `hupsafe attach` from another terminal shows
/// the live output. The control, the same line without hupsafe, dies with
/// the connection.
fn attached_over_ssh(control: bool) {
    let Some(tools) = SshTools::require() else {
        return;
    };
    let world = Sandbox::with_programs("sshd-attached");
    let sshd_dir = Sandbox::new("sshd");
    let sshd = Sshd::start(&tools, sshd_dir.root());
    let (mut s, ssh_pid, shell_pid) = remote_bash(&world, &sshd);
    s.run("echo \"remote-tty=$(tty)\"");
    let transcript = s.transcript();
    let pts = transcript
        .rsplit("remote-tty=")
        .next()
        .and_then(|r| r.split_whitespace().next())
        .filter(|t| t.starts_with("/dev/pts/"))
        .unwrap_or_else(|| panic!("the remote shell did not say its terminal:\n{transcript}"))
        .to_string();
    let ticker = Tagged::new("sshd-attached");
    let hupsafe = if control {
        String::new()
    } else {
        format!("{} ", quote(&hupsafe_bin().to_string_lossy()))
    };
    s.start(&format!("{hupsafe}python3 -u ticker.py {}", ticker.tag));
    s.expect("tick 3");
    let program = ticker.wait_program();
    let supervisor = (!control).then(|| {
        let id = world.job_tagged(&ticker.tag).id();
        let pid = world.supervisor_pid(&id);
        assert!(
            procfs::terminals_held_by(pid).contains(&pts),
            "the supervisor does not write to the remote terminal {pts} (it holds {:?})",
            procfs::terminals_held_by(pid)
        );
        (id, pid)
    });

    // SAFETY: killing the ssh client this test started, by its pid.
    unsafe { libc::kill(ssh_pid, libc::SIGKILL) };
    until("the remote shell to end", || {
        (!procfs::is_alive(shell_pid)).then_some(())
    });
    let Some((id, supervisor)) = supervisor else {
        until("the unprotected program to die with the connection", || {
            (!procfs::is_alive(program)).then_some(())
        });
        return;
    };
    let ticks = |log: &str| log.matches("tick ").count();
    let at_drop = ticks(&world.log(&id));
    until("ten more ticks in the log after the drop", || {
        (ticks(&world.log(&id)) >= at_drop + 10).then_some(())
    });
    assert!(procfs::is_alive(program), "the program died");
    until("the supervisor to let go of the dead pty", || {
        (!procfs::terminals_held_by(supervisor).contains(&pts)).then_some(())
    });
    let mut term = Terminal::bash(&world);
    term.type_line(&format!(
        "{} attach {id}",
        quote(&hupsafe_bin().to_string_lossy())
    ));
    let last = ticks(&world.log(&id));
    term.expect(&format!("tick {}\r\n", last + 3));
    term.send(b"\x1dd");
    term.expect(&format!("detached from job {id}"));
    assert!(procfs::is_alive(program), "the program died at the detach");
    world.kill_all();
    drop(s);
}

#[test]
fn an_attached_job_over_ssh_outlives_the_dropped_connection() {
    attached_over_ssh(false);
}

#[test]
fn control_the_same_line_without_hupsafe_dies_with_the_connection() {
    attached_over_ssh(true);
}
