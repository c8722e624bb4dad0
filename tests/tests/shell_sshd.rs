//! The real thing once: a bash reached over ssh (a throwaway sshd on
//! 127.0.0.1, its own host key and client key, started and stopped by this
//! test by pid) with the integration sourced; an unmarked job runs in the
//! background and a marked line, `python3 count.py | tee FILE`, in the
//! foreground; the `ssh -tt` client is killed (a dropped connection), sshd
//! hangs up the remote terminal, and only the marked line lives on: `tee`
//! writes FILE to the end, python exits 0, the shell then hangs up its
//! other jobs and ends.

use hupsafe_tests::procfs;
use hupsafe_tests::relay::{Terminal, PROMPT};
use hupsafe_tests::shell::{quote, wait_tick_beyond, Session, Shell, SshTools, Sshd, Tagged};
use hupsafe_tests::Sandbox;
use hupsafe_tests::{require_tool, until};

#[test]
fn a_dropped_ssh_connection_spares_the_marked_job_only() {
    let tools = SshTools {
        sshd: require_tool!("sshd", "openssh-server"),
        ssh: require_tool!("ssh", "openssh-client"),
        keygen: require_tool!("ssh-keygen", "openssh-client"),
    };
    let world = Sandbox::with_programs("shell-sshd");
    world.mark(&["python3"]);
    let sshd_dir = Sandbox::new("sshd");
    let sshd = Sshd::start(&tools, sshd_dir.root());

    // sshd clears the environment: the remote shell gets the world's by env.
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
    s.run(&world.init_line(Shell::Bash));
    s.run("echo \"remote-shell=$$\"");
    let transcript = s.transcript();
    let shell_pid: i32 = transcript
        .split("remote-shell=")
        .nth(2)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("the remote shell did not say its pid:\n{transcript}"));

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
