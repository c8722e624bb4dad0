//! hupsafe's one error type: a message that names the problem and the fix,
//! and the exit status it maps to; and [`say!`], hupsafe's voice on stderr.
//!
//! Messages are written without the `hupsafe: ` prefix: [`Error::line`]
//! and `say!` add it, once ([`PREFIX`]).

use std::fmt;

/// hupsafe itself failed (GNU nohup, env and timeout use 125 too).
pub const EXIT_FAILURE: i32 = 125;
/// The command was found but could not be run.
pub const EXIT_CANNOT_RUN: i32 = 126;
/// The command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// The verbs' own statuses. 1 is a "no" to the question the verb was
/// asked; 2 is input it cannot act on, for every verb.
///
/// `check`/`doctor`: something checked is at risk or dies.
pub const EXIT_NOT_SAFE: i32 = 1;
/// Job verbs: the id names no job, or a job in the wrong state for the
/// request (finished, still running).
pub const EXIT_NO_JOB: i32 = 1;
/// `rescue`: some processes could not be rescued.
pub const EXIT_SOME_FAILED: i32 = 1;
/// Bad input: not a process id, an ambiguous job id prefix, an unknown
/// signal name.
pub const EXIT_BAD_INPUT: i32 = 2;

#[derive(Debug)]
pub struct Error {
    pub status: i32,
    pub message: String,
}

impl Error {
    pub fn new(status: i32, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    /// hupsafe's own failure (exit 125).
    pub fn failure(message: impl Into<String>) -> Error {
        Error::new(EXIT_FAILURE, message)
    }

    /// Several problems at once (one line each, each in hupsafe's voice).
    pub fn many(status: i32, lines: &[String]) -> Error {
        Error::new(status, lines.join(&format!("\n{PREFIX}")))
    }

    /// hupsafe's own failure to do `what` (exit 125): "cannot WHAT: REASON".
    pub fn io(what: impl fmt::Display, e: &std::io::Error) -> Error {
        Error::failure(format!("cannot {what}: {}", os_words(e)))
    }
}

impl Error {
    /// The line the user reads: `hupsafe: MESSAGE`.
    pub fn line(&self) -> String {
        format!("{PREFIX}{}", self.message)
    }
}

/// The message alone, for embedding in another message.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every line hupsafe writes in its own voice starts with this.
pub const PREFIX: &str = "hupsafe: ";

/// Writes one line on stderr in hupsafe's voice (`hupsafe: ...`), like
/// `eprintln!` but never panicking on a closed or full stderr.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "{}{}",
            $crate::error::PREFIX,
            format_args!($($arg)*)
        );
    }};
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// An OS error in words, without Rust's " (os error N)" suffix.
pub fn os_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        // SAFETY: strerror returns a pointer to a static or thread-local
        // NUL-terminated string.
        Some(code) => unsafe {
            std::ffi::CStr::from_ptr(libc::strerror(code))
                .to_string_lossy()
                .into_owned()
        },
        None => e.to_string(),
    }
}

/// Writes to stdout, turning a closed or full stdout into hupsafe's own
/// failure (exit 125) instead of `println!`'s panic.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| Error::failure(format!("write error: {}", os_words(&e))))
}
