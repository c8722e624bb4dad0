//! Where hupsafe keeps things: the one rule for its four directories (the
//! shim, job state, the marks file, PATH wrappers), so every override and
//! every XDG variable means the same thing everywhere.
//!
//! The rule: hupsafe's own variable (`HUPSAFE_LIB_DIR`, ...) wins and must
//! be an absolute path (a relative one is an error naming the variable: it
//! would mean another directory after every `cd`); then the XDG variable,
//! used only when absolute (the XDG spec says to ignore a relative one);
//! then a directory under an absolute `$HOME`.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// One of hupsafe's directories.
pub struct Place {
    /// hupsafe's own override variable.
    pub var: &'static str,
    /// The XDG base directory variable, and its default under `$HOME`.
    xdg: &'static str,
    home_default: &'static str,
    /// What goes below the base directory.
    sub: &'static str,
    /// What the directory is for, in an error message.
    what: &'static str,
}

/// The private copy of the shim.
pub const LIB: Place = Place {
    var: "HUPSAFE_LIB_DIR",
    xdg: "XDG_DATA_HOME",
    home_default: ".local/share",
    sub: "hupsafe/lib",
    what: "the shim",
};

/// Job records, logs and sockets.
pub const STATE: Place = Place {
    var: "HUPSAFE_STATE_DIR",
    xdg: "XDG_STATE_HOME",
    home_default: ".local/state",
    sub: "hupsafe",
    what: "job state",
};

/// The marks file (and, later, other configuration).
pub const CONFIG: Place = Place {
    var: "HUPSAFE_CONFIG_DIR",
    xdg: "XDG_CONFIG_HOME",
    home_default: ".config",
    sub: "hupsafe",
    what: "the marks file",
};

/// PATH wrappers made by `hupsafe wrap`.
pub const WRAP: Place = Place {
    var: "HUPSAFE_WRAP_DIR",
    xdg: "XDG_DATA_HOME",
    home_default: ".local/share",
    sub: "hupsafe/bin",
    what: "wrappers",
};

type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

impl Place {
    /// The default below `$XDG_...` or `$HOME`, ignoring the override.
    pub fn default_dir(&self) -> Option<PathBuf> {
        self.default_in(&process_env)
    }

    /// The directory: the override, else the default.
    pub fn resolve(&self) -> Result<PathBuf> {
        self.resolve_in(&process_env)
    }

    /// The override, if set: `Ok(None)` when unset or empty, an error when
    /// relative.
    fn overridden_in(&self, env: Env) -> Result<Option<PathBuf>> {
        match env(self.var).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(d) => {
                let d = PathBuf::from(d);
                if d.is_absolute() {
                    Ok(Some(d))
                } else {
                    Err(Error::failure(format!(
                        "{} must be an absolute path, got '{}'",
                        self.var,
                        d.display()
                    )))
                }
            }
        }
    }

    fn default_in(&self, env: Env) -> Option<PathBuf> {
        let abs = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        if let Some(base) = env(self.xdg).and_then(abs) {
            return Some(base.join(self.sub));
        }
        env("HOME")
            .and_then(abs)
            .map(|h| h.join(self.home_default).join(self.sub))
    }

    fn resolve_in(&self, env: Env) -> Result<PathBuf> {
        if let Some(d) = self.overridden_in(env)? {
            return Ok(d);
        }
        self.default_in(env).ok_or_else(|| {
            Error::failure(format!(
                "no place for {}: HOME is not set (or not absolute); set HOME, {} or {}",
                self.what, self.xdg, self.var
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, OsString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect()
    }

    #[test]
    fn one_rule_for_every_place() {
        for p in [&LIB, &STATE, &CONFIG, &WRAP] {
            let resolve = |pairs: &[(&str, &str)]| {
                let m = env_of(pairs);
                p.resolve_in(&move |k: &str| m.get(k).cloned())
            };
            assert_eq!(
                resolve(&[(p.var, "/x/y"), ("HOME", "/h")]).unwrap(),
                PathBuf::from("/x/y")
            );
            let e = resolve(&[(p.var, "rel/dir"), ("HOME", "/h")]).unwrap_err();
            assert!(
                e.message.contains(p.var) && e.message.contains("absolute"),
                "{}",
                e.message
            );
            assert_eq!(
                resolve(&[(p.var, ""), (p.xdg, "relative"), ("HOME", "/home/u")]).unwrap(),
                PathBuf::from("/home/u").join(p.home_default).join(p.sub)
            );
            assert_eq!(
                resolve(&[(p.xdg, "/xdg"), ("HOME", "/home/u")]).unwrap(),
                PathBuf::from("/xdg").join(p.sub)
            );
            let e = resolve(&[("HOME", "home")]).unwrap_err();
            assert!(
                e.message.contains("HOME") && e.message.contains(p.var),
                "{}",
                e.message
            );
        }
    }
}
