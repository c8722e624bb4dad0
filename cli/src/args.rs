//! The command line: clap definitions for every verb, with the help text,
//! examples and environment knobs. `completions` and `man` render from the
//! same definitions, so the three never disagree.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const AFTER_HELP: &str = "\
Examples:
  hupsafe python train.py --epochs 90     run protected (same as `hupsafe run -- ...`)
  hupsafe run --quiet -- make -j8         the explicit form, for commands named like a verb
  hupsafe install-nohup ~/.local/bin      make `nohup CMD` mean GNU nohup plus hupsafe
  LD_PRELOAD=$(hupsafe shim) node app.js  use the shim directly
  hupsafe ps; hupsafe attach 3            find a relayed job again after a hangup
  hupsafe wait 3 && echo done             wait for a job to end, with its status
  hupsafe rerun 3                         run job 3's command again, as it was started
  hupsafe -d --name train python train.py start a job without a terminal; prints its id
  hupsafe logs -f train; hupsafe attach     follow it by name; attach to the latest job
  hupsafe completions bash > ~/.local/share/bash-completion/completions/hupsafe
  hupsafe man > ~/.local/share/man/man1/hupsafe.1

Environment:
  HUPSAFE_LIB_DIR   where the shim is written (default: $XDG_DATA_HOME/hupsafe/lib,
                    else $HOME/.local/share/hupsafe/lib, else /var/tmp/hupsafe-UID,
                    else /tmp/hupsafe-UID); must be yours, private (0700), absolute,
                    without spaces or colons (LD_PRELOAD cannot carry those)
  XDG_DATA_HOME, HOME
                    pick the default shim directory (see above)
  LD_PRELOAD        kept: the shim is added to it (after a sanitizer runtime, never
                    twice); entries that are relative or missing are kept with a note
  POSIXLY_CORRECT   as `nohup`: its own failures exit 127 instead of 125, like GNU nohup
  HUPSAFE_RELAY     auto (default): when stdout or stderr is a terminal, run the command
                    on a pty of its own held by a per-job supervisor, log its output and
                    relay it, so it outlives the terminal (see ps, logs, attach); 0: exec
                    in place (same as --no-relay); 1: relay even without a terminal
  HUPSAFE_STATE_DIR where jobs are kept (default: $XDG_STATE_HOME/hupsafe, else
                    $HOME/.local/state/hupsafe); must be yours and private (0700)

Config file: $XDG_CONFIG_HOME/hupsafe/config (else ~/.config/hupsafe/config;
HUPSAFE_CONFIG_DIR overrides the directory): `key = value` lines, `#` comments.
  log_max = 100M      the default for --log-max
  keep_finished = 7d  remove jobs that finished longer ago than this (s, m, h, d)
                      whenever a job starts (by hand: hupsafe gc --older-than 7d)
  notify = on         the default for --notify
A line that cannot be used is named on stderr and skipped; a run never fails for it.

Relayed: keys, Ctrl-C, Ctrl-Z (then fg/bg) and resizes reach the program as on
its own terminal; Ctrl-] then d detaches, leaving the job running.

As nohup: when started under the name `nohup` (a symlink; see install-nohup),
hupsafe behaves exactly like GNU nohup (options, nohup.out, messages, exit
statuses) and also preloads the shim. `nohup --help` describes that mode.

Limits: SIGHUP stays ignored whoever sends it, so `kill -HUP PID` cannot make a
protected daemon reload: its handler never runs (`hupsafe check PID` says so).
Use its own reload command (nginx -s reload, systemctl reload) instead.

Detached (-d, --detach): the job runs on a pty of its own (the size of your
terminal, else 80x24), stdin included; stdout and stderr go to the pty and the
job's log unless you redirected them to a file, which they keep. hupsafe prints
`ID` (or `ID NAME`) on stdout and exits 0 once the program is started.

Exit status: the command's own (0 once started, with -d); 2 for a bad or taken
--name; 125 if hupsafe itself fails, 126 if the command cannot be run, 127 if it
is not found.";

/// The value name of every argument that takes a job (an id, a unique
/// prefix or a name): the completion scripts offer job ids and names there.
pub const JOB: &str = "ID";

/// Every word clap takes as a verb (names, aliases and clap's own `help`),
/// so `main` can tell `hupsafe CMD ...` (an external command) without
/// building the parser, which costs about 0.1 ms per start (README,
/// Benchmarks). A unit test keeps the list equal to the definitions below.
pub const VERBS: &[&str] = &[
    "run",
    "shim",
    "install-nohup",
    "completions",
    "man",
    "check",
    "doctor",
    "wrap",
    "unwrap",
    "install",
    "rescue",
    "ps",
    "logs",
    "attach",
    "stop",
    "signal",
    "forget",
    "gc",
    "wait",
    "rerun",
    "init",
    "mark",
    "unmark",
    "marks",
    "line",
    "help",
];

#[derive(Parser, Debug)]
#[command(
    name = "hupsafe",
    version,
    about = "Run a command that survives a closed terminal or a dropped SSH link, \
             even if it tries to undo the protection",
    after_help = AFTER_HELP,
    allow_external_subcommands = true,
    subcommand_value_name = "COMMAND",
    subcommand_help_heading = "Commands (anything else is run as a program)"
)]
pub struct Cli {
    /// Do not print notes (errors are always printed)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Exec the command in place even when its output is a terminal: no
    /// job, no log, no reattaching
    #[arg(long, global = true)]
    pub no_relay: bool,

    /// Relay even when neither stdout nor stderr is a terminal
    #[arg(long, global = true, hide = true, conflicts_with = "no_relay")]
    pub relay: bool,

    #[arg(long, global = true, help = STRICT_HELP)]
    pub strict: bool,

    /// Keep a relayed job's log to about SIZE bytes (500K, 10M, 1G): when
    /// the log holds SIZE it becomes `log.1` (replacing the older one) and
    /// a new log begins, so at most 2 x SIZE is on disk and at least the
    /// last SIZE bytes are kept; the program is never held up. `ps` says
    /// when output was dropped. Default: `log_max` in the config file,
    /// else no cap
    #[arg(long, global = true, value_name = "SIZE", allow_hyphen_values = true)]
    pub log_max: Option<String>,

    /// When the relayed job ends, print one line at the next prompt of
    /// every shell with the integration (`hupsafe: job 3 (python3
    /// train.py) exited 0 after 3h12m`). Default: `notify = on` in the
    /// config file, else off
    #[arg(long, global = true)]
    pub notify: bool,

    /// When the relayed job ends, run CMD with `sh -c`, detached (stdin,
    /// stdout and stderr on /dev/null, where the job started), with
    /// HUPSAFE_JOB_ID, HUPSAFE_JOB_STATUS (the status as a shell reports
    /// it: 128+N for signal N), HUPSAFE_JOB_STATE (`exited 0`, `killed by
    /// SIGTERM`), HUPSAFE_JOB_LOG and HUPSAFE_JOB_COMMAND in its
    /// environment; run after the final record is written, never waited
    /// for. E.g. --on-exit 'notify-send "$HUPSAFE_JOB_COMMAND: $HUPSAFE_JOB_STATE"'
    #[arg(long, global = true, value_name = "CMD", allow_hyphen_values = true)]
    pub on_exit: Option<String>,

    /// Start the command as a job and return at once: print its id (and
    /// name) and exit 0; no terminal needed (ssh without -t, cron, scripts).
    /// See its output with `hupsafe logs`, take it over with `hupsafe attach`
    #[arg(short, long, global = true, conflicts_with = "no_relay")]
    pub detach: bool,

    /// Name the job (1-64 bytes, no '/' or control characters, not all
    /// digits, no leading '-'); every job verb takes it where it takes an
    /// id. Unique among live jobs; a finished job keeps its name, and a new
    /// job may take it (the name then means the live one)
    #[arg(
        long = "name",
        id = "job_name",
        value_name = "NAME",
        global = true,
        conflicts_with = "no_relay"
    )]
    pub job_name: Option<String>,

    #[command(subcommand)]
    pub command: Option<Verb>,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Run CMD protected: `hupsafe run [OPTIONS] -- CMD ARGS...`
    Run(RunArgs),
    /// Install the shim if needed and print its path (for LD_PRELOAD)
    Shim,
    /// Make `nohup` in DIR mean hupsafe's GNU nohup drop-in (a symlink)
    #[command(name = "install-nohup")]
    InstallNohup(InstallNohupArgs),
    /// Print a shell completion script (it completes job ids and names from
    /// your jobs at TAB time, asking the `hupsafe` on PATH)
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout
    Man,
    /// Would these processes survive a hangup, and if not, why
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Check the environment, and predict the protection CMD would get
    #[command(after_help = DOCTOR_HELP)]
    Doctor(DoctorArgs),
    /// Protect a program started by others: a PATH wrapper, or --embed
    #[command(after_help = WRAP_HELP)]
    Wrap(WrapArgs),
    /// Remove a wrapper written by `hupsafe wrap`
    Unwrap(UnwrapArgs),
    /// Install the shim system-wide: `sudo hupsafe install --system`
    Install(InstallArgs),
    /// Protect a process already running unprotected (ptrace): SIGHUP
    /// ignored, terminal output to a job log
    #[command(after_help = RESCUE_HELP)]
    Rescue(RescueArgs),
    #[command(flatten)]
    Job(JobVerb),
    /// Start a new job with the command, directory, environment and
    /// options of an earlier one (which is kept)
    #[command(after_help = RERUN_HELP)]
    Rerun(RerunArgs),
    /// The shell integration's protected lines (called by its hooks)
    #[command(hide = true, subcommand)]
    Line(LineVerb),
    #[command(flatten)]
    Shell(ShellVerb),
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct InstallNohupArgs {
    /// Directory for the `nohup` symlink; put it before /usr/bin on PATH
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub const INIT_HELP: &str = "\
Add to the end of ~/.bashrc (or ~/.zshrc):
  eval \"$(hupsafe init bash)\"      # or: eval \"$(hupsafe init zsh)\"

Then, at an interactive prompt:
  hupsafe mark python torchrun     lines with these commands are now protected
  python train.py | tee log        the whole line survives the terminal: tee too
  make && ./deploy.sh &            lists, loops, subshells, `time`, background
  hs ./job.sh | grep -v DEBUG      protect a line without a mark (the prefix)
  hupsafe rescue %1                take a job started unprotected off the
                                   shell's hangup list

A protected line is a job: the shell runs it as always, with its terminal
output on a pty that hupsafe keeps (logged, shown while you are connected,
`hupsafe ps`), SIGHUP ignored and the shim preloaded; stdin, Ctrl-C, Ctrl-Z,
fg, $? and history are the shell's own. Marked commands are also shell
functions of the same name, which protect the command alone where the line
was not recognised, and run it plainly from functions, sourced files, $(...)
or completion. The shell parses the line as always, so quoting, globs,
redirections and history are yours. Every prompt
re-reads the marks file (no process is started), so a mark reaches every
open shell at its next prompt. Protected commands whose output is a terminal
are relayed (HUPSAFE_RELAY=auto unless you set HUPSAFE_RELAY). Every prompt
also shows, once, a line for each job started with --notify (or with
`notify = on` in the config file) that ended since the last prompt.

The script calls this binary by its absolute path; if it disappears, marked
commands print one line and run unprotected.";

pub const MARK_HELP: &str = "\
The marks file is $HUPSAFE_CONFIG_DIR/marks, else $XDG_CONFIG_HOME/hupsafe/marks,
else ~/.config/hupsafe/marks: one command name per line, # for comments, safe
to edit by hand (`hupsafe marks --path` prints it). Shells set up with
`hupsafe init` pick up changes at their next prompt.

Exit status: 0 on success; 1 if a name to unmark was not marked; 2 for a name
that cannot be a mark; 125 if the file cannot be read or written.";

pub const EXIT_STATUS: &str = "\
Exit status: 0 on success; 1 if no job has that id, or the job is in the wrong
state for this (already finished, still running); 2 for an ambiguous id prefix
or a bad argument (signal name); 125 if hupsafe itself fails.

Jobs are kept in $XDG_STATE_HOME/hupsafe (default ~/.local/state/hupsafe; the
HUPSAFE_STATE_DIR variable overrides it). An id may be shortened to any prefix
that names one job. A job given a name (--name) can be called by it: the live
job of that name, else the newest finished one.";

pub const LOGS_HELP: &str = "\
Exit status: 0 once the log is printed; with -f, once the job has ended, its
status as `hupsafe wait` gives it (the exit code, 128+N for signal N, 127 if the
job is lost, 126 if it failed to start); 1 if no job has that id; 2 for an
ambiguous id prefix, or following the job this runs inside; 125 if hupsafe
itself fails.

Jobs are kept in $XDG_STATE_HOME/hupsafe (default ~/.local/state/hupsafe; the
HUPSAFE_STATE_DIR variable overrides it). An id may be shortened to any prefix
that names one job.";

pub const ATTACH_HELP: &str = "\
Detach: Ctrl-] then d (the job keeps running); Ctrl-] twice sends one Ctrl-].
Ctrl-C, Ctrl-Z and every other key go to the program, as if its terminal were
yours; after Ctrl-Z, fg or bg continue it. Attaching to a stopped job continues
it.

Without ID: your most recently started job that is still running (it says
which, on stderr).

Exit status: the program's (128+N if signal N killed it) if it ends while
attached; 0 after detaching; 1 if no job has that id or name, it has finished
(see its output with `hupsafe logs ID`), or, without ID, no job is running;
2 for an ambiguous id prefix; 125 if hupsafe itself fails.";

#[derive(Subcommand, Debug)]
pub enum ShellVerb {
    /// Print the shell integration script: eval "$(hupsafe init bash)"
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),
    /// Run these commands protected when typed at an interactive prompt
    #[command(after_help = MARK_HELP)]
    Mark(MarkArgs),
    /// Stop protecting these commands at the prompt
    #[command(after_help = MARK_HELP)]
    Unmark(UnmarkArgs),
    /// List the marked commands
    #[command(after_help = MARK_HELP)]
    Marks(MarksArgs),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: InitShell,
    /// Name of the one-off prefix (`hs make -j8`); an empty name defines
    /// none [default: $HUPSAFE_PREFIX, else hs]
    #[arg(long, value_name = "NAME")]
    pub prefix: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitShell {
    Bash,
    Zsh,
}

pub const RESCUE_HELP: &str = "\
For each PID: SIGHUP becomes ignored inside the running process; when its
stdout/stderr are a terminal they are moved to a job log (`hupsafe ps`,
`hupsafe logs -f ID`); a terminal stdin becomes /dev/null (reads see EOF).
The process is stopped only for the few injected system calls; a system
call it was blocked in is restarted (or fails with EINTR) exactly as after
a stop and continue. --tree (the default when PID leads a process group or
a session) rescues every descendant too.

Needs ptrace: your own process (or root), not already traced by a debugger,
and with Yama ptrace_scope >= 1 either root or a child of this hupsafe. Root
rescuing another user's process registers the job as that user, in their
state directory, where `hupsafe ps` run by them shows it.
In a shell with the integration, `hupsafe rescue %1` also disowns the job.
x86_64 only.

Exit status: 0 all rescued, 1 some could not be, 2 bad arguments.";

#[derive(Args, Debug)]
pub struct RescueArgs {
    /// Also rescue every descendant of each PID (the default for a
    /// process group or session leader)
    #[arg(long)]
    pub tree: bool,

    /// The processes
    #[arg(required = true, value_name = "PID")]
    pub pids: Vec<OsString>,
}

pub const WRAP_HELP: &str = "\
Two ways to protect a program started by something you do not control:

  hupsafe wrap make               a wrapper named `make` in the wrap directory;
                                  `hupsafe init` puts that directory first on
                                  PATH, so every `make` found through PATH runs
                                  protected. The wrapper finds the real `make`
                                  on PATH at run time (skipping the wrap
                                  directory), so upgrades need nothing.
  hupsafe wrap --embed ./server -o ./server.hupsafe
                                  a copy of an ELF program that loads the shim
                                  by itself (a DT_NEEDED entry, written with
                                  patchelf): protected even under `env -i`,
                                  sudo or cron. The original is left unchanged
                                  unless --in-place (which keeps PATH.hupsafe-orig).

Who can run an embedded copy: it names the shim's path. With the system copy
(/usr/local/lib/hupsafe, written by `sudo hupsafe install --system` or by any
hupsafe run as root) it runs for every user; otherwise it names your private
shim and runs only for you (another user gets exit 127).

The wrap directory: --dir, else $HUPSAFE_WRAP_DIR, else $XDG_DATA_HOME/hupsafe/bin,
else ~/.local/share/hupsafe/bin. It must be yours and writable by nobody else,
and so must every directory above it; `hupsafe init` leaves it off PATH otherwise.

Refused: static programs (no loader; use `hupsafe --strict`), 32-bit programs,
scripts and non-ELF files with --embed (wrap the interpreter, or use a PATH
wrapper), and a user-writable shim in a setuid, setgid or root-owned program
(run `sudo hupsafe install --system` first).

Exit status: 0 on success; 1 if a name to unwrap is not wrapped; 125 if hupsafe
refuses or fails; 127 if the program is not found.";

#[derive(Args, Debug)]
pub struct WrapArgs {
    /// The program: a name found on PATH, or a path
    #[arg(value_name = "NAME|PATH", required_unless_present = "list")]
    pub program: Option<OsString>,
    /// The wrap directory [default: $HUPSAFE_WRAP_DIR, else
    /// $XDG_DATA_HOME/hupsafe/bin, else ~/.local/share/hupsafe/bin]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// List the wrappers in the wrap directory
    #[arg(long, conflicts_with_all = ["program", "embed", "output", "in_place"])]
    pub list: bool,
    /// Write a copy of the ELF program that loads the shim by itself
    #[arg(long, conflicts_with = "dir")]
    pub embed: bool,
    /// Where --embed writes the copy
    #[arg(short = 'o', long = "output", value_name = "OUT", requires = "embed")]
    pub output: Option<PathBuf>,
    /// With --embed: change the program itself, keeping PATH.hupsafe-orig
    #[arg(long, requires = "embed", conflicts_with = "output")]
    pub in_place: bool,
}

#[derive(Args, Debug)]
pub struct UnwrapArgs {
    /// The wrapper's name
    #[arg(value_name = "NAME")]
    pub name: OsString,
    /// The wrap directory (as for `wrap`)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Put the shim in a root-owned directory (/usr/local/lib/hupsafe), for
    /// programs root or any user may run (`wrap --embed`; root's own runs
    /// use it too)
    #[arg(long, required = true)]
    pub system: bool,
}

#[derive(Subcommand, Debug)]
pub enum JobVerb {
    /// List your relayed jobs: running, stopped, finished and lost
    #[command(after_help = EXIT_STATUS)]
    Ps(PsArgs),
    /// Print a job's output, raw as the program wrote it
    #[command(after_help = LOGS_HELP)]
    Logs(LogsArgs),
    /// Reattach this terminal to a running job
    #[command(after_help = ATTACH_HELP)]
    Attach(AttachArgs),
    /// Stop a job: SIGTERM to its process group, SIGKILL after a grace period
    #[command(after_help = EXIT_STATUS)]
    Stop(StopArgs),
    /// Send a signal to a job's process group
    #[command(after_help = EXIT_STATUS)]
    Signal(SignalArgs),
    /// Remove finished jobs: their records and logs
    #[command(after_help = EXIT_STATUS)]
    Forget(ForgetArgs),
    /// Forget every finished or lost job (with --older-than: finished
    /// jobs that ended that long ago)
    #[command(after_help = GC_HELP)]
    Gc(GcArgs),
    /// Wait until jobs end; exit with the status of the last one (as the
    /// shell's `wait`)
    #[command(after_help = WAIT_HELP)]
    Wait(WaitArgs),
}

pub const WAIT_HELP: &str = "\
Without an ID, waits for every running (or stopped) job of yours, except the
one this runs inside. The record is checked every 100 ms.

Exit status, as the shell's `wait`: the job's exit code, or 128+N if signal N
killed it (with several jobs, the last one given; with --any, the first to
end); 127 if the job is lost (its supervisor is gone, so its status will never
be known) or was forgotten meanwhile; 126 if it failed to start; 1 if no job
has that id; 2 for an ambiguous id prefix, or a job this runs inside; 125 if
hupsafe itself fails.";

pub const RERUN_HELP: &str = "\
The new job gets the old one's command (argv exactly as given), working
directory, environment (saved in the job's directory, file `env`, 0600) and
options (--strict, --quiet, the relay choice, --log-max, --notify, --on-exit,
and --name unless a running job holds the name). It runs attached when stdout or
stderr is a terminal, as `hupsafe CMD` would; TERM and HUPSAFE_JOB are this
terminal's and this shell's, not the old ones. Options given with rerun (-q,
--strict, --no-relay, -d, --name, --log-max, --notify, --on-exit) are added to
the job's own, or replace them. Jobs without a saved
environment (started by an older hupsafe, or rescued) are rerun in the current
environment, with a note saying so.

Exit status: as `hupsafe CMD` (the command's own; 125, 126, 127); 1 if no job
has that id, its directory is gone, or it cannot be rerun (a protected command
line: run it again from your shell's history); 2 for an ambiguous id prefix.";

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// Return as soon as one of the jobs ends, with its status; prints
    /// `job ID: STATUS` on stdout
    #[arg(long)]
    pub any: bool,
    /// The jobs (ids or unique prefixes) [default: every running job]
    #[arg(value_name = JOB)]
    pub ids: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RerunArgs {
    /// The job to run again (an id or a unique prefix; see `hupsafe ps`)
    #[arg(value_name = JOB)]
    pub id: String,
}

pub const GC_HELP: &str = "\
Automatic: `keep_finished = 7d` in the config file ($XDG_CONFIG_HOME/hupsafe/config)
removes finished jobs older than that whenever a job starts.

Exit status: 0 on success (jobs that cannot be removed are named on stderr); 2 for
a bad --older-than; 125 if hupsafe itself fails.";

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Only jobs that finished (exited, killed, failed to start) at least
    /// this long ago, by their end time: a number with s, m, h or d (90m,
    /// 7d); running and lost jobs are kept
    #[arg(long, value_name = "AGE", allow_hyphen_values = true)]
    pub older_than: Option<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// One JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing what the job writes until it ends; then exit with
    /// its status (as `hupsafe wait`)
    #[arg(short, long)]
    pub follow: bool,
    /// Start with the last N lines only
    #[arg(short = 'n', long = "lines", value_name = "N")]
    pub lines: Option<u64>,
    /// The job (an id, a unique prefix or a name; see `hupsafe ps`)
    #[arg(value_name = JOB)]
    pub id: String,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// For a job without a screen model (one an older hupsafe started):
    /// replay up to this many bytes of recent output first. Jobs are
    /// otherwise drawn as their screen stands, with `scrollback` lines
    /// above (config file)
    #[arg(long, value_name = "BYTES", default_value_t = 16384)]
    pub replay: u32,
    /// The job (an id, a unique prefix or a name; see `hupsafe ps`)
    /// [default: your most recent running job]
    #[arg(value_name = JOB)]
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds between SIGTERM and SIGKILL
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub grace: f64,
    /// The job (an id, a unique prefix or a name; see `hupsafe ps`)
    #[arg(value_name = JOB)]
    pub id: String,
}

#[derive(Args, Debug)]
pub struct SignalArgs {
    /// A signal name or number: TERM, SIGTERM, term, 15, RTMIN+1
    #[arg(value_name = "SIG", allow_hyphen_values = true)]
    pub signal: String,
    /// The job (an id, a unique prefix or a name; see `hupsafe ps`)
    #[arg(value_name = JOB)]
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// The jobs (ids, unique prefixes or names)
    #[arg(value_name = JOB, required = true)]
    pub ids: Vec<String>,
}

#[derive(Args, Debug)]
pub struct MarkArgs {
    /// Command names, as typed at the prompt (python, torchrun, make)
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UnmarkArgs {
    /// Marked command names
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct MarksArgs {
    /// Print the marks file's path instead of the marks
    #[arg(long)]
    pub path: bool,
}

pub const DOCTOR_HELP: &str = "\
Examples:
  hupsafe doctor                  the shim, the shell integration, marks, logind
  hupsafe doctor python3          ... and what protection python3 would get
  hupsafe doctor --json ./server  the same for scripts

Exit status: 0 when everything is in order (notes are only advice); 1 when
something leaves programs at risk (the shim cannot be used, logind kills
session scopes, the command cannot get the shim); 2 when CMD is not found
or cannot be run.";

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Print the findings as JSON
    #[arg(long)]
    pub json: bool,
    /// A command to predict the protection of (its arguments are ignored)
    #[arg(
        value_name = "CMD",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<OsString>,
}

pub const CHECK_HELP: &str = "\
Without PIDs, checks the jobs of this terminal's session: every process in
the session of the calling shell except the shell itself and this command.

Each process and its descendants get one line: `survives`, `at risk: ...`
or `dies: ...`, with the reasons (who would send SIGHUP or SIGTERM, what the
process does with it, whether its output goes to the terminal, logind) and
what would fix it.

Exit status: 0 when everything checked survives; 1 when something is at
risk or dies (or has already exited, or cannot be inspected); 2 for bad
input: an argument that is not a process id, a process that does not
exist, or no terminal to take the jobs from.";

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Processes to check, with their descendants [default: the jobs of
    /// this terminal's session]
    #[arg(value_name = "PID", allow_negative_numbers = true)]
    pub pids: Vec<String>,
    /// Print the verdicts, reasons and facts as JSON
    #[arg(long)]
    pub json: bool,
}

/// The help text for the flag.
pub const STRICT_HELP: &str =
    "Make the kernel turn every SIGHUP change into a no-op (seccomp), for static \
programs and raw system calls the shim cannot reach. Costs: sets no_new_privs (setuid programs \
below stop elevating: su and sudo fail), cannot be removed, the kernel does not fill oldact for \
the refused change, 32-bit programs below are killed. x86_64 and aarch64 only";

#[derive(Subcommand, Debug)]
pub enum LineVerb {
    /// Register a line job and its terminal; print its id, the terminal's
    /// path, the LD_PRELOAD value for the line and the job's directory, one
    /// per line
    Start(LineStartArgs),
    /// The shell finished the line: wait until its output is shown
    End(LineEndArgs),
    /// Prepare a standby for the shell's next protected line (a job made
    /// ready ahead, taken over by the hook with builtins at Enter)
    Standby(LineStandbyArgs),
}

#[derive(Args, Debug)]
pub struct LineStandbyArgs {
    /// The shell the standby is for: it ends when that shell does
    #[arg(long)]
    pub shell_pid: i32,
    /// What the shell's hook knows its standby by (1 to 64 letters,
    /// digits, '.', '-', '_')
    #[arg(long)]
    pub token: String,
    /// A descriptor open on the user's terminal
    #[arg(long)]
    pub screen: Option<i32>,
}

#[derive(Args, Debug)]
pub struct LineStartArgs {
    /// The line as typed
    #[arg(long, allow_hyphen_values = true)]
    pub text: OsString,
    /// A descriptor open on the user's terminal
    #[arg(long)]
    pub screen: Option<i32>,
    /// The shell running the line: if it disappears without `line end`,
    /// the line is over for it
    #[arg(long)]
    pub shell_pid: Option<i32>,
    /// The shell hook's standby token: with --shell-pid, also start a
    /// standby for the shell's next line
    #[arg(long)]
    pub token: Option<String>,
}

#[derive(Args, Debug)]
pub struct LineEndArgs {
    pub id: String,
    /// The line's status as the shell reports it (`$?`)
    #[arg(long, allow_hyphen_values = true)]
    pub status: Option<i32>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verbs_lists_every_subcommand() {
        let mut c = super::Cli::command();
        c.build();
        let mut from_clap: Vec<String> = c
            .get_subcommands()
            .flat_map(|s| {
                std::iter::once(s.get_name().to_string())
                    .chain(s.get_all_aliases().map(str::to_string))
            })
            .collect();
        from_clap.sort();
        let mut listed: Vec<String> = super::VERBS.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(
            listed, from_clap,
            "args::VERBS must name every verb clap knows"
        );
    }
}
