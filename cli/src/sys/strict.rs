//! `--strict`: a seccomp filter, built with `seccompiler` from rules (no hand-assembled BPF), that
//! turns `rt_sigaction(SIGHUP, act != NULL, ...)` into a successful no-op (SECCOMP_RET_ERRNO with
//! errno 0: the call returns 0 and changes nothing) and allows every other call. It reaches what
//! LD_PRELOAD cannot: static binaries and inline `syscall` instructions, in the program and every
//! descendant (docs/HANGUPS.md, "libc paths that change SIGHUP"). x86_64 and aarch64 have no other
//! system call that changes a disposition (no `signal`/`sigaction`: those are 32-bit ABI calls).
//!
//! The filter is built before anything else is changed and applied in the
//! process that execs the program: last before exec in place, or in the
//! relay supervisor's child right after fork.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::{Error, EXIT_FAILURE};

/// Said once on stderr before the filter is applied (unless --quiet).
pub const WARNING: &str = "warning: --strict: a seccomp filter makes every change of \
SIGHUP's disposition a successful no-op, for this command and all its descendants. Its costs: \
it sets no_new_privs, so setuid/setgid programs below it no longer elevate (su and sudo fail); \
it cannot be removed; the kernel does not fill oldact for the refused change; 32-bit programs \
below it are killed by the kernel.";

/// A filter built and ready to apply.
#[derive(Clone)]
pub struct Filter(BpfProgram);

fn target_arch() -> Result<TargetArch, Error> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(TargetArch::x86_64),
        "aarch64" => Ok(TargetArch::aarch64),
        other => Err(Error::failure(format!(
            "--strict is not supported on {other} (only x86_64 and aarch64); run \
             without --strict"
        ))),
    }
}

/// Whether this kernel has seccomp: PR_GET_SECCOMP fails with EINVAL
/// without CONFIG_SECCOMP; /proc/self/status names Seccomp_filters when
/// filters are built in (Linux 5.9+; older kernels are checked when
/// applying).
fn kernel_supports() -> Result<(), Error> {
    // SAFETY: PR_GET_SECCOMP takes no pointer.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if mode < 0 {
        return Err(no_seccomp(&std::io::Error::last_os_error().to_string()));
    }
    Ok(())
}

fn no_seccomp(why: &str) -> Error {
    Error::failure(format!(
        "--strict needs seccomp filters, which this kernel does not offer ({why}); \
         run without --strict (the inherited SIG_IGN and the shim still protect the command)"
    ))
}

/// Checks the architecture and the kernel, and builds the filter.
pub fn prepare() -> Result<Filter, Error> {
    let arch = target_arch()?;
    kernel_supports()?;
    let build = || -> Result<BpfProgram, seccompiler::Error> {
        let rule = SeccompRule::new(vec![
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                libc::SIGHUP as u64,
            )?,
            SeccompCondition::new(1, SeccompCmpArgLen::Qword, SeccompCmpOp::Ne, 0)?,
        ])?;
        let mut rules = BTreeMap::new();
        rules.insert(libc::SYS_rt_sigaction, vec![rule]);
        let filter =
            SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(0), arch)?;
        Ok(BpfProgram::try_from(filter)?)
    };
    build()
        .map(Filter)
        .map_err(|e| Error::failure(format!("--strict: cannot build the filter: {e}")))
}

/// Applies the filter to the calling thread (seccompiler sets
/// no_new_privs first). Call it last before exec.
pub fn apply(filter: &Filter) -> Result<(), Error> {
    seccompiler::apply_filter(&filter.0).map_err(|e| {
        let os = std::io::Error::last_os_error();
        if os.raw_os_error() == Some(libc::EINVAL) {
            no_seccomp(&e.to_string())
        } else {
            Error::new(
                EXIT_FAILURE,
                format!("--strict: cannot apply the seccomp filter: {e}"),
            )
        }
    })
}
