//! The only layer that talks to the operating system: exec and PATH search,
//! `/proc`, ELF inspection, directories, shell words, the shim on disk,
//! seccomp, logind, signal names and what the process inherited at start-up.
//! Verbs and services reach the OS through here; nothing here calls back up.

pub mod dirs;
pub mod elf;
pub mod exec;
pub mod logind;
pub mod memory;
pub mod preload;
pub mod private_dir;
pub mod proc;
pub mod signame;
pub mod startup;
pub mod strict;
pub mod trusted;
pub mod words;
