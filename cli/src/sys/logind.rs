//! systemd-logind's say in a hangup: with `KillUserProcesses=yes` (the upstream default since v230;
//! Debian ships it off) logind kills a login session's whole scope when the session ends, SIGTERM
//! then SIGKILL, and no signal disposition survives that (docs/HANGUPS.md, "Who sends SIGHUP").
//! Only leaving the session scope does (`systemd-run --user --scope CMD`), and a user manager
//! without linger stops at the last logout.
//!
//! Read from the configuration files logind reads, in its order, and from
//! `/var/lib/systemd/linger/USER`. Shared by `check` and `doctor`.

use std::fs;
use std::path::{Path, PathBuf};

/// Where logind.conf may live, highest priority first.
const CONF_DIRS: &[&str] = &[
    "/etc/systemd",
    "/run/systemd",
    "/usr/local/lib/systemd",
    "/usr/lib/systemd",
];

/// Where a `KillUserProcesses` value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Set in this file.
    Set(PathBuf),
    /// Not set; the shipped file shows the compiled-in default as a
    /// comment (`#KillUserProcesses=no`).
    ShippedDefault(PathBuf),
    /// Not set anywhere, and no file shows the default.
    Unknown,
}

/// The settings that decide whether logind kills a user's processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// None when unknown (no file says; upstream's default is yes).
    pub kill_user_processes: Option<bool>,
    pub source: Source,
    pub kill_only_users: Vec<String>,
    pub kill_exclude_users: Vec<String>,
}

impl Settings {
    /// Reads logind.conf and its drop-ins as logind does: the main file
    /// from the first directory that has one, then every
    /// `logind.conf.d/*.conf` (a name in a higher directory hides the same
    /// name below), in name order, later ones winning.
    pub fn read() -> Settings {
        let main = CONF_DIRS
            .iter()
            .map(|d| Path::new(d).join("logind.conf"))
            .find(|p| p.is_file());
        let mut dropins: Vec<(String, PathBuf)> = Vec::new();
        for d in CONF_DIRS {
            let Ok(dir) = fs::read_dir(Path::new(d).join("logind.conf.d")) else {
                continue;
            };
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".conf") && !dropins.iter().any(|(n, _)| *n == name) {
                    dropins.push((name, e.path()));
                }
            }
        }
        dropins.sort();
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        for p in main.into_iter().chain(dropins.into_iter().map(|(_, p)| p)) {
            if let Ok(text) = fs::read_to_string(&p) {
                files.push((p, text));
            }
        }
        Settings::from_files(&files)
    }

    /// The settings given the files' texts, in the order logind applies them.
    pub fn from_files(files: &[(PathBuf, String)]) -> Settings {
        let mut s = Settings {
            kill_user_processes: None,
            source: Source::Unknown,
            kill_only_users: Vec::new(),
            kill_exclude_users: vec!["root".into()],
        };
        let mut shipped: Option<(bool, PathBuf)> = None;
        for (path, text) in files {
            let mut in_login = false;
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    in_login = line == "[Login]";
                    continue;
                }
                if !in_login {
                    continue;
                }
                if let Some(hint) = line.strip_prefix('#') {
                    if let Some(v) = hint.trim().strip_prefix("KillUserProcesses=") {
                        if let Some(b) = parse_bool(v) {
                            shipped.get_or_insert((b, path.clone()));
                        }
                    }
                    continue;
                }
                let Some((key, value)) = line.split_once('=') else {
                    continue;
                };
                let value = value.trim();
                match key.trim() {
                    "KillUserProcesses" => {
                        if let Some(b) = parse_bool(value) {
                            s.kill_user_processes = Some(b);
                            s.source = Source::Set(path.clone());
                        }
                    }
                    "KillOnlyUsers" => s.kill_only_users = words(value),
                    "KillExcludeUsers" => s.kill_exclude_users = words(value),
                    _ => {}
                }
            }
        }
        if s.kill_user_processes.is_none() {
            if let Some((b, path)) = shipped {
                s.kill_user_processes = Some(b);
                s.source = Source::ShippedDefault(path);
            }
        }
        s
    }

    /// Whether logind would kill `user`'s session scope: yes (or unknown,
    /// upstream's default being yes), unless the user is excluded or not
    /// among the only ones named.
    pub fn kills(&self, user: &str) -> Option<bool> {
        if self.kill_exclude_users.iter().any(|u| u == user) {
            return Some(false);
        }
        if !self.kill_only_users.is_empty() && !self.kill_only_users.iter().any(|u| u == user) {
            return Some(false);
        }
        self.kill_user_processes
    }

    /// `KillUserProcesses=yes (set in /etc/...)`, for messages.
    pub fn describe(&self) -> String {
        match (&self.kill_user_processes, &self.source) {
            (Some(b), Source::Set(p)) => {
                format!("KillUserProcesses={} (set in {})", yes_no(*b), p.display())
            }
            (Some(b), Source::ShippedDefault(p)) => format!(
                "KillUserProcesses={} (the compiled-in default, as {} shows)",
                yes_no(*b),
                p.display()
            ),
            _ => {
                "KillUserProcesses is not set in any logind.conf (upstream's default is yes)".into()
            }
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// systemd's boolean words.
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

fn words(v: &str) -> Vec<String> {
    v.split_whitespace().map(String::from).collect()
}

/// Whether `user` lingers: their systemd user manager runs without a
/// login, so what it runs outlives the last logout.
pub fn lingers(user: &str) -> bool {
    Path::new("/var/lib/systemd/linger").join(user).exists()
}

/// Which systemd unit a process's cgroup puts it in, as far as logind is
/// concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A login session's scope (`.../session-3.scope`): logind may kill it.
    Session(String),
    /// Under the user's own manager (`user@1000.service`): stopped at the
    /// last logout unless the user lingers.
    UserManager,
    /// Anything else (a system service, a container, no systemd).
    Other,
}

impl Scope {
    pub fn of_cgroup(path: &str) -> Scope {
        for part in path.split('/') {
            if part.starts_with("user@") && part.ends_with(".service") {
                return Scope::UserManager;
            }
            if let Some(s) = part.strip_prefix("session-") {
                if let Some(id) = s.strip_suffix(".scope") {
                    return Scope::Session(id.to_string());
                }
            }
        }
        Scope::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
        list.iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect()
    }

    #[test]
    fn debian_shipped_file_means_no() {
        let s = Settings::from_files(&files(&[(
            "/etc/systemd/logind.conf",
            "[Login]\n#NAutoVTs=6\n#KillUserProcesses=no\n#KillExcludeUsers=root\n",
        )]));
        assert_eq!(s.kill_user_processes, Some(false));
        assert!(matches!(s.source, Source::ShippedDefault(_)));
        assert_eq!(s.kills("alice"), Some(false));
        assert!(
            s.describe().contains("compiled-in default"),
            "{}",
            s.describe()
        );
    }

    #[test]
    fn dropins_override_and_users_filter() {
        let s = Settings::from_files(&files(&[
            (
                "/etc/systemd/logind.conf",
                "[Login]\nKillUserProcesses=no\n",
            ),
            (
                "/etc/systemd/logind.conf.d/10-kill.conf",
                "[Login]\nKillUserProcesses=yes\nKillExcludeUsers=root bob\n",
            ),
            (
                "/etc/systemd/logind.conf.d/20-other.conf",
                "[Other]\nKillUserProcesses=no\n",
            ),
        ]));
        assert_eq!(s.kill_user_processes, Some(true));
        assert_eq!(
            s.source,
            Source::Set("/etc/systemd/logind.conf.d/10-kill.conf".into())
        );
        assert_eq!(s.kills("alice"), Some(true));
        assert_eq!(s.kills("bob"), Some(false));
        assert_eq!(s.kills("root"), Some(false));
        let only = Settings::from_files(&files(&[(
            "/x",
            "[Login]\nKillUserProcesses=on\nKillOnlyUsers=carol\n",
        )]));
        assert_eq!(only.kills("alice"), Some(false));
        assert_eq!(only.kills("carol"), Some(true));
    }

    #[test]
    fn nothing_known() {
        let s = Settings::from_files(&[]);
        assert_eq!(s.kills("alice"), None);
        assert_eq!(s.kills("root"), Some(false));
    }

    #[test]
    fn scopes() {
        assert_eq!(
            Scope::of_cgroup("/user.slice/user-1000.slice/session-3.scope"),
            Scope::Session("3".into())
        );
        assert_eq!(
            Scope::of_cgroup(
                "/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope"
            ),
            Scope::UserManager
        );
        assert_eq!(Scope::of_cgroup("/system.slice/ssh.service"), Scope::Other);
        assert_eq!(Scope::of_cgroup("/"), Scope::Other);
    }
}
