//! The real libc functions behind our hooks, resolved once without locks.
//!
//! Each entry is an atomic word: 0 = not looked up yet, 1 = looked up and
//! absent, anything else = the address. Resolution is idempotent, so two
//! threads racing to resolve the same name store the same value.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::resolve;

const UNRESOLVED: usize = 0;
const ABSENT: usize = 1;

/// One real function: its name (and version, for compat-only symbols).
pub struct Real {
    name: &'static [u8],
    version: Option<&'static [u8]>,
    addr: AtomicUsize,
}

impl Real {
    pub const fn new(name: &'static [u8]) -> Real {
        Real {
            name,
            version: None,
            addr: AtomicUsize::new(UNRESOLVED),
        }
    }

    pub const fn versioned(name: &'static [u8], version: &'static [u8]) -> Real {
        Real {
            name,
            version: Some(version),
            addr: AtomicUsize::new(UNRESOLVED),
        }
    }

    /// The address of the real function, or `None` when no object after us
    /// defines it (the hook must then answer on its own).
    pub fn get(&self) -> Option<usize> {
        let mut a = self.addr.load(Ordering::Acquire);
        if a == UNRESOLVED {
            a = resolve::next(self.name, self.version);
            if a == 0 {
                a = ABSENT;
            }
            self.addr.store(a, Ordering::Release);
        }
        if a == ABSENT {
            None
        } else {
            Some(a)
        }
    }
}

/// Looks up a real function and casts it to its C type.
macro_rules! real {
    ($table:ident . $field:ident as $ty:ty) => {
        $crate::real::$table.$field.get().map(|a| {
            #[allow(unused_unsafe)]
            // SAFETY: the symbol of that name in libc has this C type.
            unsafe {
                core::mem::transmute::<usize, $ty>(a)
            }
        })
    };
}
pub(crate) use real;

pub struct Table {
    pub sigaction: Real,
    pub signal: Real,
    pub sysv_signal: Real,
    pub sigset: Real,
    pub sigvec: Real,
    pub siginterrupt: Real,
    pub sigignore: Real,
    pub sigprocmask: Real,
    pub pthread_sigmask: Real,
    pub sigblock: Real,
    pub sigsetmask: Real,
    pub siggetmask: Real,
    pub sighold: Real,
    pub sigrelse: Real,
    pub sigwait: Real,
    pub sigwaitinfo: Real,
    pub sigtimedwait: Real,
    pub signalfd: Real,
    pub posix_spawn: Real,
    pub posix_spawnp: Real,
    pub pthread_create: Real,
    pub execve: Real,
    pub execv: Real,
    pub execvp: Real,
    pub execvpe: Real,
    pub fexecve: Real,
    pub execveat: Real,
}

#[cfg(target_arch = "x86_64")]
const SIGVEC_VERSION: &[u8] = b"GLIBC_2.2.5";
#[cfg(target_arch = "aarch64")]
const SIGVEC_VERSION: &[u8] = b"GLIBC_2.17";

pub static REAL: Table = Table {
    sigaction: Real::new(b"sigaction"),
    signal: Real::new(b"signal"),
    sysv_signal: Real::new(b"sysv_signal"),
    sigset: Real::new(b"sigset"),
    sigvec: Real::versioned(b"sigvec", SIGVEC_VERSION),
    siginterrupt: Real::new(b"siginterrupt"),
    sigignore: Real::new(b"sigignore"),
    sigprocmask: Real::new(b"sigprocmask"),
    pthread_sigmask: Real::new(b"pthread_sigmask"),
    sigblock: Real::new(b"sigblock"),
    sigsetmask: Real::new(b"sigsetmask"),
    siggetmask: Real::new(b"siggetmask"),
    sighold: Real::new(b"sighold"),
    sigrelse: Real::new(b"sigrelse"),
    sigwait: Real::new(b"sigwait"),
    sigwaitinfo: Real::new(b"sigwaitinfo"),
    sigtimedwait: Real::new(b"sigtimedwait"),
    signalfd: Real::new(b"signalfd"),
    posix_spawn: Real::new(b"posix_spawn"),
    posix_spawnp: Real::new(b"posix_spawnp"),
    pthread_create: Real::new(b"pthread_create"),
    execve: Real::new(b"execve"),
    execv: Real::new(b"execv"),
    execvp: Real::new(b"execvp"),
    execvpe: Real::new(b"execvpe"),
    fexecve: Real::new(b"fexecve"),
    execveat: Real::new(b"execveat"),
};

impl Table {
    /// Resolves every entry; called from the constructor so that hooks
    /// later never walk the loader's list.
    pub fn resolve_all(&self) {
        for r in [
            &self.sigaction,
            &self.signal,
            &self.sysv_signal,
            &self.sigset,
            &self.sigvec,
            &self.siginterrupt,
            &self.sigignore,
            &self.sigprocmask,
            &self.pthread_sigmask,
            &self.sigblock,
            &self.sigsetmask,
            &self.siggetmask,
            &self.sighold,
            &self.sigrelse,
            &self.sigwait,
            &self.sigwaitinfo,
            &self.sigtimedwait,
            &self.signalfd,
            &self.posix_spawn,
            &self.posix_spawnp,
            &self.pthread_create,
            &self.execve,
            &self.execv,
            &self.execvp,
            &self.execvpe,
            &self.fexecve,
            &self.execveat,
        ] {
            r.get();
        }
    }
}
