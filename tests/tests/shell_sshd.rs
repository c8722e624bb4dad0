//! The real thing once: a bash reached over ssh (a throwaway sshd on
//! 127.0.0.1, its own host key and client key, started and stopped by this
//! test by pid) with the integration sourced; a marked job and an unmarked
//! one run, the `ssh -tt` client is killed (a dropped connection), sshd
//! hangs up the remote terminal, and only the marked job lives on, its
//! output kept.

use hupsafe_tests::procfs;
use hupsafe_tests::relay::{Terminal, PROMPT};
use hupsafe_tests::shell::{
    last_tick, quote, wait_tick_beyond, Session, Shell, SshTools, Sshd, Tagged,
};
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
    s.start(&format!("python3 -u ticker.py {}", marked.tag));
    s.expect("tick 3");
    let seen = last_tick(&s.transcript()).unwrap();

    // The dropped connection: the client dies, sshd closes the pty.
    // SAFETY: killing the ssh client this test started, by its pid.
    unsafe { libc::kill(ssh_pid, libc::SIGKILL) };
    until("the remote shell to end", || {
        (!procfs::is_alive(shell_pid)).then_some(())
    });
    let pid = marked.wait_program();
    assert!(
        procfs::is_alive(pid),
        "the marked job died with the connection"
    );
    wait_tick_beyond(&world.job_log(&marked.tag), seen);
    assert!(
        unmarked.all_gone(),
        "the unmarked job survived the dropped connection: the story proves nothing\nsshd log:\n{}",
        sshd.log()
    );
    drop(s);
}
