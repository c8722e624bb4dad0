//! The verbs: one file (or folder) per `hupsafe` command. A verb reads its
//! arguments from [`crate::args`], uses the services (relay, registry,
//! marks, nohup) and [`crate::sys`], and never another verb.

pub mod check;
pub mod completions;
pub mod doctor;
pub mod init;
pub mod install_nohup;
pub mod jobs;
pub mod line;
pub mod man;
pub mod marks;
pub mod rescue;
pub mod run;
pub mod wrap;
