//! Signal names as users type and read them: `TERM`, `SIGTERM`, `term`,
//! `15`; `SIGRTMIN+3` for real-time signals.

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

fn rt_range() -> (i32, i32) {
    (libc::SIGRTMIN(), libc::SIGRTMAX())
}

/// `SIGTERM` for 15; `SIGRTMIN+N`; `signal N` for anything else.
pub fn name(sig: i32) -> String {
    if let Some((n, _)) = NAMES.iter().find(|(_, s)| *s == sig) {
        return format!("SIG{n}");
    }
    let (lo, hi) = rt_range();
    if (lo..=hi).contains(&sig) {
        return format!("SIGRTMIN+{}", sig - lo);
    }
    format!("signal {sig}")
}

/// Parses `TERM`, `SIGTERM`, `term`, `15`, `RTMIN+2`; `None` if it is not a
/// signal.
pub fn parse(s: &str) -> Option<i32> {
    let (lo, hi) = rt_range();
    if let Ok(n) = s.parse::<i32>() {
        return (1..=hi).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, sig)) = NAMES.iter().find(|(n, _)| *n == bare) {
        return Some(*sig);
    }
    if bare == "IOT" {
        return Some(libc::SIGABRT);
    }
    if bare == "POLL" {
        return Some(libc::SIGIO);
    }
    let rt = |base: i32, rest: &str, dir: i32| -> Option<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix(if dir > 0 { '+' } else { '-' })?
                .parse()
                .ok()?
        };
        let sig = base + dir * off;
        (lo..=hi).contains(&sig).then_some(sig)
    };
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        return rt(lo, rest, 1);
    }
    if let Some(rest) = bare.strip_prefix("RTMAX") {
        return rt(hi, rest, -1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (_, sig) in NAMES {
            assert_eq!(parse(&name(*sig)), Some(*sig));
        }
        let (lo, hi) = rt_range();
        for sig in lo..=hi {
            assert_eq!(parse(&name(sig)), Some(sig), "{}", name(sig));
        }
    }

    #[test]
    fn spellings() {
        assert_eq!(parse("term"), Some(libc::SIGTERM));
        assert_eq!(parse("SIGKILL"), Some(libc::SIGKILL));
        assert_eq!(parse("9"), Some(9));
        assert_eq!(parse("0"), None);
        assert_eq!(parse("NOPE"), None);
        assert_eq!(parse("RTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(parse("RTMAX-1"), Some(libc::SIGRTMAX() - 1));
    }
}
