# shellcheck shell=bash
#
# hupsafe for bash: protects marked commands typed at the prompt.
# Rendered by `hupsafe init bash`; put this at the end of ~/.bashrc:
#
#     eval "$(hupsafe init bash)"
#
# How it works (`hupsafe init --help` for the user's view):
# - each name in the marks file becomes a function of that name which runs
#   the program through `hupsafe run` when it was typed at the prompt (as a
#   line, a pipeline stage, `cmd &`, `time cmd`, `VAR=x cmd`), and plainly
#   when called from a function, a sourced file, $(...) or <(...), or
#   completion. bash parses the line as always: quoting, globs,
#   redirections and history are the user's own. No DEBUG trap, no key
#   binding: bash-preexec and other DEBUG-trap users are left alone.
# - the prompt hook (first in PROMPT_COMMAND) reads the small marks file
#   with the `read` builtin, starts no process, and redefines functions only
#   when the text changed: a mark reaches every open shell at its next
#   prompt. It keeps $? for the rest of PROMPT_COMMAND and PS1.
# - bash sends SIGTERM to jobs left stopped when it is hung up (SIGHUP
#   ignored does not save them). A protected job relayed by hupsafe is a
#   client process whose program lives elsewhere; for a protected job
#   stopped without the relay (output redirected), a HUP trap is set while
#   such a job exists: on hangup it takes those jobs off the job table, then
#   lets bash hang up the rest as usual.
# - if the hupsafe binary disappears, marked commands print one line and
#   run unprotected: the shell never breaks.

__hupsafe_bin=@HUPSAFE_BIN@
__hupsafe_marks_file=@HUPSAFE_MARKS@
__hupsafe_prefix=@HUPSAFE_PREFIX@
__hupsafe_has_rescue=@HUPSAFE_HAS_RESCUE@
# `hupsafe wrap` wrappers win over the programs they wrap: their directory
# goes first on PATH when it exists (wrappers skip it when they search).
__hupsafe_wrap_dir=@HUPSAFE_WRAP_DIR@
if [[ -n $__hupsafe_wrap_dir && -d $__hupsafe_wrap_dir ]]; then
    case $PATH in
        "$__hupsafe_wrap_dir" | "$__hupsafe_wrap_dir":*) ;;
        *) PATH=$__hupsafe_wrap_dir${PATH:+:$PATH} ;;
    esac
fi
# Tells `hupsafe doctor` (a child) that this shell loaded the integration:
# it compares the value with its parent shell's pid.
export HUPSAFE_SHELL_PID=$$
# Re-sourcing keeps what an earlier copy defined, so it can be undone.
__hupsafe_marks_text=${__hupsafe_marks_text-}
__hupsafe_defined=(${__hupsafe_defined[@]+"${__hupsafe_defined[@]}"})
__hupsafe_guard=(${__hupsafe_guard[@]+"${__hupsafe_guard[@]}"})
__hupsafe_trap_set=${__hupsafe_trap_set-0}

# The hupsafe binary to run: the one that rendered this script, else one on
# PATH. Sets __hupsafe_run_bin; fails with one line on stderr if neither.
__hupsafe_find_bin() {
    __hupsafe_run_bin=$__hupsafe_bin
    [[ -x $__hupsafe_run_bin ]] && return 0
    __hupsafe_run_bin=$(type -P hupsafe 2>/dev/null) && [[ -n $__hupsafe_run_bin ]] && return 0
    printf 'hupsafe: %s is gone and no hupsafe is on PATH: running %s unprotected\n' \
        "$__hupsafe_bin" "${1-the command}" >&2
    return 1
}

# Whether hupsafe will relay this command (HUPSAFE_RELAY, else auto: when
# stdout or stderr is a terminal), as `hupsafe run` decides.
__hupsafe_relayed() {
    case ${HUPSAFE_RELAY:-auto} in
    1 | always | yes) return 0 ;;
    0 | never | no) return 1 ;;
    *) [[ -t 1 || -t 2 ]] ;;
    esac
}

# Runs "$@" through hupsafe, or plainly (with one line) if hupsafe is gone.
__hupsafe_protect() {
    if ! __hupsafe_find_bin "${1-}"; then
        command "$@"
        return
    fi
    local s=0 line
    local -x HUPSAFE_RELAY=${HUPSAFE_RELAY:-auto}
    # Through eval, so that `jobs` and bash's "Stopped" line show the
    # command rather than this function's variables.
    printf -v line '%q ' "$__hupsafe_run_bin" run -- "$@"
    eval "$line" || s=$?
    # Stopped (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) in the foreground of
    # this shell, without the relay: the program itself is the job, and
    # bash would send it SIGTERM on hangup. Guard it.
    if ((s >= 147 && s <= 150)) && ((BASH_SUBSHELL == 0)) && ! __hupsafe_relayed; then
        local pgid
        pgid=$(jobs -p %+ 2>/dev/null) || pgid=
        [[ -n $pgid ]] && __hupsafe_guard_add "$pgid"
    fi
    return "$s"
}

# Whether this call runs in a job of the interactive shell: true in the
# shell itself, and in subshells with a process group of their own
# (pipeline stages, `cmd &`, `( )`); false in command and process
# substitutions, which bash runs in the shell's own process group.
__hupsafe_in_job() {
    ((BASH_SUBSHELL == 0)) && return 0
    local mine shells
    { IFS= read -r mine <"/proc/$BASHPID/stat" && IFS= read -r shells <"/proc/$$/stat"; } 2>/dev/null ||
        return 0
    local IFS=' '
    # Fields after "(comm) ": state ppid pgrp ...
    # shellcheck disable=SC2086 # split on purpose: the fields are numbers
    set -- ${mine##*) }
    mine=$3
    # shellcheck disable=SC2086
    set -- ${shells##*) }
    [[ $mine != "$3" ]]
}

# The body of every mark function: `NAME() { __hupsafe_marked NAME "$@"; }`.
__hupsafe_marked() {
    if [[ $- == *i* ]] && ((${#FUNCNAME[@]} == 2)) && __hupsafe_in_job; then
        __hupsafe_protect "$@"
    else
        command "$@"
    fi
}

# Defines the mark functions for the marks file's text ($1), removing the
# ones no longer marked. A function or builtin of the same name that is not
# ours is left alone.
__hupsafe_load() {
    local line name old keep=() want=()
    local - IFS=$'\n'
    set -f
    for line in $1; do
        line=${line#"${line%%[![:blank:]]*}"}
        line=${line%"${line##*[![:blank:]]}"}
        [[ -z $line || $line == \#* ]] && continue
        [[ $line =~ ^[A-Za-z0-9_][A-Za-z0-9_.+-]*$ && $line != hupsafe ]] || continue
        want+=("$line")
    done
    IFS=' '
    for old in ${__hupsafe_defined[@]+"${__hupsafe_defined[@]}"}; do
        case " ${want[*]-} " in
        *" $old "*) keep+=("$old") ;;
        *) [[ $(declare -f "$old" 2>/dev/null) == *"__hupsafe_marked $old "* ]] && unset -f "$old" ;;
        esac
    done
    __hupsafe_defined=(${keep[@]+"${keep[@]}"})
    for name in ${want[@]+"${want[@]}"}; do
        case " ${__hupsafe_defined[*]-} " in *" $name "*) continue ;; esac
        case $(type -t "$name" 2>/dev/null) in function | builtin | keyword) continue ;; esac
        if eval "function $name { __hupsafe_marked $name \"\$@\"; }" 2>/dev/null; then
            __hupsafe_defined+=("$name")
        fi
    done
}

# The prompt hook: applies the marks file when its text changed, and drops
# guarded jobs that are gone. Keeps $?.
__hupsafe_prompt() {
    local s=$? text=
    if [[ -r $__hupsafe_marks_file ]]; then
        IFS= read -r -d '' text <"$__hupsafe_marks_file" 2>/dev/null || :
    fi
    if [[ $text != "$__hupsafe_marks_text" ]]; then
        __hupsafe_marks_text=$text
        __hupsafe_load "$text"
    fi
    if ((${#__hupsafe_guard[@]})); then
        __hupsafe_guard_prune
    fi
    return "$s"
}

# Guards a job (its process group id) against bash's hangup: see above.
__hupsafe_guard_add() {
    __hupsafe_guard+=("$1")
    if ((__hupsafe_trap_set == 0)) && [[ -z $(trap -p HUP) ]]; then
        trap __hupsafe_hangup HUP
        __hupsafe_trap_set=1
    fi
}

__hupsafe_guard_prune() {
    local g keep=()
    for g in "${__hupsafe_guard[@]}"; do
        kill -0 -- "-$g" 2>/dev/null && keep+=("$g")
    done
    __hupsafe_guard=(${keep[@]+"${keep[@]}"})
    if ((${#__hupsafe_guard[@]} == 0 && __hupsafe_trap_set)); then
        trap - HUP
        __hupsafe_trap_set=0
    fi
}

# The HUP trap: guarded jobs leave the job table (so bash neither hangs
# them up nor sends them SIGTERM), then bash hangs up as it would have.
__hupsafe_hangup() {
    local g
    for g in ${__hupsafe_guard[@]+"${__hupsafe_guard[@]}"}; do
        disown "$g" 2>/dev/null
    done
    trap - HUP
    kill -HUP "$$"
}

# `hupsafe rescue [%JOB...]`: what the shell can do for a job started
# unprotected; then the binary's own `rescue` for each of its processes,
# where this hupsafe has one.
__hupsafe_rescue() {
    (($#)) || set -- %+
    local spec pid pids rc=0
    for spec; do
        if ! pids=$(jobs -p "$spec" 2>/dev/null) || [[ -z $pids ]]; then
            printf 'hupsafe: rescue: no such job: %s\n' "$spec" >&2
            rc=1
            continue
        fi
        disown -h "$spec"
        for pid in $pids; do __hupsafe_guard_add "$pid"; done
        if ((__hupsafe_has_rescue)) && __hupsafe_find_bin rescue; then
            for pid in $pids; do "$__hupsafe_run_bin" rescue "$pid" || rc=$?; done
        else
            printf 'hupsafe: %s (pid %s): bash will not hang it up; this hupsafe has no rescue verb, so the program itself is unchanged (its SIGHUP and terminal output are as before)\n' \
                "$spec" "${pids//$'\n'/ }" >&2
        fi
    done
    return "$rc"
}

hupsafe() {
    if [[ ${1-} == rescue ]] && { (($# == 1)) || [[ ${2-} == %* ]]; }; then
        shift
        __hupsafe_rescue "$@"
        return
    fi
    if __hupsafe_find_bin hupsafe 2>/dev/null; then
        "$__hupsafe_run_bin" "$@"
    else
        command hupsafe "$@"
    fi
}

# The one-off prefix (`hs make -j8`), unless that name is taken.
if [[ -n $__hupsafe_prefix ]]; then
    case $(type -t "$__hupsafe_prefix" 2>/dev/null) in
    '' | function)
        if [[ -z $(type -t "$__hupsafe_prefix" 2>/dev/null) ]] ||
            [[ $(declare -f "$__hupsafe_prefix") == *__hupsafe_prefixed* ]]; then
            eval "function $__hupsafe_prefix { __hupsafe_prefixed \"\$@\"; }"
        fi
        ;;
    esac
fi

__hupsafe_prefixed() {
    if (($# == 0)); then
        printf 'usage: %s COMMAND [ARGS]...: run one command protected by hupsafe\n' \
            "$__hupsafe_prefix" >&2
        return 2
    fi
    __hupsafe_protect "$@"
}

# The prompt hook goes first, so that $? reaches the rest unchanged and
# the marks are current before any other hook runs a command.
if [[ $(declare -p PROMPT_COMMAND 2>/dev/null) == "declare -a"* ]]; then
    case " ${PROMPT_COMMAND[*]} " in
    *" __hupsafe_prompt "*) ;;
    *) PROMPT_COMMAND=(__hupsafe_prompt "${PROMPT_COMMAND[@]}") ;;
    esac
else
    # shellcheck disable=SC2128,SC2178 # a string here: the array case is above
    case ${PROMPT_COMMAND-} in
    *__hupsafe_prompt*) ;;
    *) PROMPT_COMMAND="__hupsafe_prompt${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
    esac
fi

# Marks apply at once in an interactive shell (re-sourcing reapplies them).
if [[ $- == *i* ]]; then
    __hupsafe_marks_text=$'\001'
    __hupsafe_prompt
fi
