//! The end-to-end harness: real programs under the real `libnohup.so`,
//! watched from the outside through `/proc`, so that each test reads as a
//! story ("start it, hang up on it, it still answers").
//!
//! - [`shim`]: builds the real shim once per test process;
//! - [`fixtures`]: compiles the C programs in `tests/c/` with gcc, cached by
//!   content;
//! - [`process`]: starts a program (with or without the preload, in its own
//!   process group, with SIGHUP at a known disposition), reads its output
//!   line by line, signals it, and kills whatever is left on drop;
//! - [`procfs`]: what the kernel says about a process (signal masks,
//!   liveness, the system call it is blocked in, processes found by tag);
//! - [`wait`]: polling with a deadline, never a fixed sleep;
//! - [`sandbox`]: the one private directory (HOME, shim, state and config
//!   directories) every test runs hupsafe in, removed when dropped;
//! - [`relay`]: an interactive shell on a real pty to type into and hang
//!   up on, and `hupsafe` jobs in a sandbox's state directory;
//! - [`tmux`]: a private tmux server as the independent terminal emulator
//!   of the screen stories, captures read back into cells;
//! - [`differential`]: comparing SIGHUP under the shim with a real signal;
//! - [`tools`]: outside programs a test needs (zsh, sshd, patchelf...),
//!   found on PATH, or the test is skipped with one line naming the package;
//! - [`users`]: a second local user, for the security stories.
//!
//! Set `HUPSAFE_TEST_NO_PRELOAD=1` to run every test without the shim: a
//! test that still passes then proves nothing about the shim.

pub mod check;
pub mod cli;
pub mod differential;
pub mod fixtures;
pub mod process;
pub mod procfs;
pub mod relay;
pub mod sandbox;
pub mod shell;
pub mod shim;
pub mod tmux;
pub mod tools;
pub mod users;
pub mod wait;
pub mod xterm;

pub use fixtures::{shared_library, CProgram};
pub use process::{hangup, Exit, HangupOutcome, KillTaggedOnDrop, Launch, Running};
pub use procfs::{find_by_tag, sigbit, unique_tag, ProcStatus};
pub use sandbox::Sandbox;
pub use shim::{preload_disabled, shim_path};
pub use tools::{require_tool, skip};
pub use wait::{until, PATIENCE};
