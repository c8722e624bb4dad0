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
#   redirections and history are the user's own. No key binding is taken;
#   a DEBUG trap set before (bash-preexec) is kept, ours runs after it.
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
# - a whole line is protected when it has a marked command (or the prefix)
#   in a command position: a DEBUG trap, armed at the end of PROMPT_COMMAND,
#   reads the line from the history at its first command and asks
#   `hupsafe line start` for a job and a pty; for the duration of the line
#   the shell's fds 1 and 2 (when they are the terminal) go to that pty,
#   SIGHUP is ignored and the shim is in LD_PRELOAD, so everything the line
#   starts inherits them; bash runs the line itself as always. The next
#   prompt waits for the line's output to be shown (`hupsafe line end`),
#   then puts fds, trap and environment back. See shell/README.md.
# - if the hupsafe binary disappears, marked commands print one line and
#   run unprotected: the shell never breaks.

__hupsafe_bin=@HUPSAFE_BIN@
__hupsafe_marks_file=@HUPSAFE_MARKS@
__hupsafe_prefix=@HUPSAFE_PREFIX@
__hupsafe_has_rescue=@HUPSAFE_HAS_RESCUE@
# `hupsafe wrap` wrappers win over the programs they wrap: their directory
# goes first on PATH when it exists (wrappers skip it when they search).
__hupsafe_wrap_dir=@HUPSAFE_WRAP_DIR@
# Where ended jobs started with --notify leave a line each (see
# __hupsafe_notify).
__hupsafe_notify_file=@HUPSAFE_NOTIFY@
# Where the DEBUG trap writes `history 1` to read it back without a fork.
__hupsafe_line_dir=@HUPSAFE_LINE_DIR@
[[ -n $__hupsafe_line_dir && -d $__hupsafe_line_dir && -w $__hupsafe_line_dir ]] ||
    __hupsafe_line_dir=
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
# The protected line running now: its job id ("-" when it runs
# unprotected), empty between lines.
__hupsafe_line=${__hupsafe_line-}
__hupsafe_line_open=(${__hupsafe_line_open[@]+"${__hupsafe_line_open[@]}"})
__hupsafe_armed=
__hupsafe_line_names=${__hupsafe_line_names-}
declare -gA __hupsafe_line_set
# PROMPT_COMMAND as __hupsafe_arm_last last saw it, and the stamp file
# (empty: read the files at the next prompt).
__hupsafe_pc=
__hupsafe_stamp=
# What this shell's standby is known by (kept when re-sourced), whether
# one should be on its way (then a line that finds none waits a little
# for it), and the pid of the one taken last (its announcement stays until
# the next one's replaces it).
__hupsafe_token=${__hupsafe_token:-$$-$RANDOM$RANDOM}
__hupsafe_standby_coming=
__hupsafe_standby_taken=${__hupsafe_standby_taken-}
# Lines of the notifications file shown already (or there before this
# shell's first prompt); empty before it.
__hupsafe_notify_seen=${__hupsafe_notify_seen-}

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
    if [[ -n $__hupsafe_line ]]; then
        # Inside a protected line: the line already is.
        command "$@"
    elif [[ $- == *i* ]] && ((${#FUNCNAME[@]} == 2)) && __hupsafe_in_job; then
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
    __hupsafe_line_words
}

# Prints the lines of jobs that ended (started with --notify) added to the
# notifications file since the last prompt: read with the mapfile builtin,
# no process started. The file starting again (fewer lines than shown)
# means every line in it is new.
__hupsafe_notify() {
    local lines=() i n
    if [[ -n $__hupsafe_notify_file && -r $__hupsafe_notify_file ]]; then
        mapfile -t lines <"$__hupsafe_notify_file" 2>/dev/null || lines=()
    fi
    n=${#lines[@]}
    if [[ -z $__hupsafe_notify_seen ]]; then
        # This shell's first prompt: only what ends from now on.
        __hupsafe_notify_seen=$n
        return 0
    fi
    ((n < __hupsafe_notify_seen)) && __hupsafe_notify_seen=0
    for ((i = __hupsafe_notify_seen; i < n; i++)); do
        [[ ${lines[i]} == 'hupsafe: job '* ]] && printf '%s\n' "${lines[i]}" >&2
    done
    __hupsafe_notify_seen=$n
}

# The prompt hook: applies the marks file when its text changed, drops
# guarded jobs that are gone, and shows jobs that ended. Keeps $?.
# The marks and notifications files are read only when one of them is
# not older than the stamp (two stats); see __hupsafe_refresh.
__hupsafe_prompt() {
    local s=$?
    if ((${#__hupsafe_line_open[@]})); then
        __hupsafe_line_sync_open
    fi
    if [[ -n $__hupsafe_line ]]; then
        __hupsafe_line_finish "$s"
    fi
    if [[ -z $__hupsafe_stamp || ! $__hupsafe_stamp -nt $__hupsafe_marks_file ||
        ! $__hupsafe_stamp -nt $__hupsafe_notify_file ||
        (-n $__hupsafe_marks_text && ! -e $__hupsafe_marks_file) ]]; then
        __hupsafe_refresh
    fi
    if ((${#__hupsafe_guard[@]})); then
        __hupsafe_guard_prune
    fi
    # Arms the DEBUG trap for the next line: here when this hook is all
    # of PROMPT_COMMAND, else from its last entry (__hupsafe_arm).
    if [[ ${PROMPT_COMMAND[*]-} == __hupsafe_prompt ]]; then
        __hupsafe_armed=$HISTCMD
    elif [[ ${PROMPT_COMMAND[*]-} != "$__hupsafe_pc" ]]; then
        __hupsafe_arm_last
    fi
    return "$s"
}

# Reads the marks file (applied when its text changed) and shows the
# notifications. The stamp, a file in the private scratch directory, is
# written first: a file changed after it has an mtime not older than the
# stamp's (the clock is coarse: equal counts as changed), so the next
# prompt looks again; one changed before it is read now.
__hupsafe_refresh() {
    local text=
    __hupsafe_stamp=
    if [[ -n $__hupsafe_line_dir ]] && printf x 2>/dev/null 3<>"$__hupsafe_line_dir/$$.stamp" 1>&3; then
        __hupsafe_stamp=$__hupsafe_line_dir/$$.stamp
    fi
    if [[ -r $__hupsafe_marks_file ]]; then
        IFS= read -r -d '' text <"$__hupsafe_marks_file" 2>/dev/null || :
    fi
    if [[ $text != "$__hupsafe_marks_text" ]]; then
        __hupsafe_marks_text=$text
        __hupsafe_load "$text"
    fi
    __hupsafe_notify
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

# --- Protected lines -------------------------------------------------------

# The names that make a line protected (marks with their function, the
# prefix), as a set: most lines have none of them as a word and cost a
# split and a few lookups. An alias whose first word is one of them
# protects its line too (looked up when the line has it as a word).
__hupsafe_line_words() {
    local names=" ${__hupsafe_defined[*]-} " n
    if [[ -n $__hupsafe_prefix && $(declare -f "$__hupsafe_prefix" 2>/dev/null) == *__hupsafe_prefixed* ]]; then
        names+="$__hupsafe_prefix "
    fi
    __hupsafe_line_names=$names
    __hupsafe_line_set=()
    local -
    set -f
    for n in $names; do
        __hupsafe_line_set[$n]=1
    done
}

# Whether the word $1 is a protected name, or an alias whose first word is.
__hupsafe_line_name() {
    [[ -n ${__hupsafe_line_set[$1]+x} ]] && return 0
    [[ -n ${BASH_ALIASES[$1]+x} ]] || return 1
    local first=${BASH_ALIASES[$1]}
    first=${first#"${first%%[![:space:]]*}"}
    first=${first%%[[:space:]]*}
    [[ -n $first && -n ${__hupsafe_line_set[$first]+x} ]]
}

# Whether the line $1 has a protected name in a command position: the
# first word, or one after an operator (; & | && || ( ) { }), a keyword
# (if then else do while until time !) or a precommand (exec env nice
# nohup), skipping assignments, options and redirections. `command NAME`
# stays what it was, the way to run NAME unprotected. Quoted text, $(...),
# <(...), `...` and function bodies are left out: they are not commands
# the line runs at the prompt. Sets __hupsafe_line_word.
__hupsafe_line_marked() {
    ((${#__hupsafe_line_set[@]})) || return 1
    local text=$1 w cmd=1 re
    local - IFS=$' \t\n'
    set -f
    # (Each regex is compiled where it is used: only when the line has a
    # character it could match.)
    if [[ $text == *[\'\"\`]* || $text == *[\$\<\>]\(* ]]; then
        re="'[^']*'|\"[^\"]*\"|\`[^\`]*\`|[\$<>]\([^()]*\)"
        while [[ $text =~ $re ]]; do
            text=${text/"${BASH_REMATCH[0]}"/ q }
        done
    fi
    if [[ $text == *\(*\)* ]]; then
        re="[A-Za-z0-9_.:-]+[[:space:]]*\(\)[[:space:]]*\{[^}]*\}"
        while [[ $text =~ $re ]]; do
            text=${text/"${BASH_REMATCH[0]}"/ ; }
        done
    fi
    re='[;&|(){}]'
    text=${text//$re/ ; }
    local assign='^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?='
    for w in $text; do
        if [[ $w == ';' ]]; then
            cmd=1
            continue
        fi
        ((cmd)) || continue
        case $w in
        '!' | time | do | then | else | elif | if | while | until | exec | env | nice | nohup | -* | [0-9]*) continue ;;
        *'>'* | *'<'*) continue ;;
        [A-Za-z_]*=*) [[ $w =~ $assign ]] && continue ;;
        esac
        if __hupsafe_line_name "$w"; then
            __hupsafe_line_word=$w
            return 0
        fi
        cmd=0
    done
    return 1
}

# Armed last in PROMPT_COMMAND with the history number the next line will
# get; kept last there if other hooks are added after ours.
__hupsafe_arm() {
    __hupsafe_armed=$HISTCMD
}

__hupsafe_arm_last() {
    if [[ ${PROMPT_COMMAND[*]-} == __hupsafe_prompt ]]; then
        # Ours alone: __hupsafe_prompt arms.
        __hupsafe_pc=__hupsafe_prompt
        return 0
    fi
    if [[ -n ${PROMPT_COMMAND+x} && ${PROMPT_COMMAND@a} == *a* ]]; then
        [[ ${PROMPT_COMMAND[${#PROMPT_COMMAND[@]}-1]} == __hupsafe_arm ]] ||
            PROMPT_COMMAND+=(__hupsafe_arm)
    else
        # shellcheck disable=SC2128,SC2178 # a string here
        case ${PROMPT_COMMAND-} in
        *__hupsafe_arm) ;;
        *) PROMPT_COMMAND="${PROMPT_COMMAND-}${PROMPT_COMMAND:+;}__hupsafe_arm" ;;
        esac
    fi
    __hupsafe_pc=${PROMPT_COMMAND[*]-}
}

# The DEBUG trap, at the first command of a line typed at the prompt: is
# it a line to protect?
__hupsafe_debug() {
    [[ -z ${COMP_LINE-} && -z ${READLINE_LINE+x} ]] || return 0
    local n=$__hupsafe_armed text=
    __hupsafe_armed=
    # Written over in place, ended by a NUL: truncating would make ext4
    # flush the file on close (auto_da_alloc), a millisecond per line.
    if [[ -n ${HISTTIMEFORMAT-} ]]; then
        local HISTTIMEFORMAT=
    fi
    if [[ -n $__hupsafe_line_dir ]] &&
        { builtin history 1 && printf '\0'; } 2>/dev/null 3<>"$__hupsafe_line_dir/$$" 1>&3; then
        IFS= read -r -d '' text <"$__hupsafe_line_dir/$$"
    else
        text=$(builtin history 1 2>/dev/null)
    fi
    # "%5d%c %s": the number, then "*" (modified) or a space, then a space.
    [[ $text == *[0-9][\ \*]\ * ]] || return 0
    text=${text#*[0-9][ \*] }
    text=${text%$'\n'}
    # Not saved (ignorespace, ignoredups, history off): the entry is this
    # line only if it holds the command about to run.
    if ((HISTCMD != n)) && [[ $text != *"$BASH_COMMAND"* ]]; then
        return 0
    fi
    # Most lines have none of the names as a word (split on blanks and
    # operators; pathname expansion off when the line has a glob
    # character): done here, in this function, for the cost of a call.
    ((${#__hupsafe_line_set[@]})) || return 0
    local w found='' IFS=$' \t\n;&|(){}<>'
    if [[ $text == *[\*\?\[]* ]]; then
        local -
        set -f
    fi
    for w in $text; do
        [[ -n $w ]] || continue
        [[ -n ${__hupsafe_line_set[$w]+x} ]] && found=1 && break
        [[ -n ${BASH_ALIASES[$w]+x} ]] && __hupsafe_line_name "$w" && found=1 && break
    done
    [[ -n $found ]] || return 0
    unset IFS
    __hupsafe_line_marked "$text" || return 0
    __hupsafe_line_begin "$text"
}

# Sets up the line $1: its job and pty, the shell's terminal fds on it,
# SIGHUP ignored, the shim exported. On any failure, the line runs as if
# unprotected (marked commands inside it too), after one line saying so.
__hupsafe_line_begin() {
    local o=0 e=0 reply id pty preload
    [[ -t 1 ]] && o=1
    [[ -t 2 ]] && e=1
    if ! __hupsafe_find_bin "$__hupsafe_line_word"; then
        __hupsafe_line=-
        return 0
    fi
    __hupsafe_line_ttyin=0
    [[ -t 0 ]] && __hupsafe_line_ttyin=1
    __hupsafe_line_bang=${!-}
    exec {__hupsafe_line_o}>&1 {__hupsafe_line_e}>&2
    if ((o)) && __hupsafe_standby_take "$1"; then
        : # The standby is the line's job now.
    elif ((o || e)); then
        if ! reply=$(
            "$__hupsafe_run_bin" line start --text "$1" --shell-pid "$$" \
                --token "$__hupsafe_token" \
                --screen "$((o ? __hupsafe_line_o : __hupsafe_line_e))"
        ) || [[ $reply != *$'\n'*$'\n'*$'\n'* ]]; then
            printf 'hupsafe: running this line unprotected\n' >&2
            exec {__hupsafe_line_o}>&- {__hupsafe_line_e}>&-
            __hupsafe_line=-
            return 0
        fi
        # It started a standby for the next line.
        __hupsafe_standby_coming=1
        id=${reply%%$'\n'*}
        reply=${reply#*$'\n'}
        pty=${reply%%$'\n'*}
        reply=${reply#*$'\n'}
        preload=${reply%%$'\n'*}
        __hupsafe_line_jobdir=${reply#*$'\n'}
        __hupsafe_line_jobdir=${__hupsafe_line_jobdir%$'\n'}
    else
        # No terminal to keep: SIGHUP and the shim only.
        id=+
        preload=$("$__hupsafe_run_bin" shim 2>/dev/null) || preload=
        preload=${LD_PRELOAD:+$LD_PRELOAD:}$preload
    fi
    if [[ -n $__hupsafe_line_dir ]] &&
        { builtin trap -p HUP && printf '\0'; } 2>/dev/null 3<>"$__hupsafe_line_dir/$$" 1>&3; then
        IFS= read -r -d '' __hupsafe_line_hup <"$__hupsafe_line_dir/$$"
    else
        __hupsafe_line_hup=$(builtin trap -p HUP)
    fi
    __hupsafe_line_preload_was=${LD_PRELOAD+x}${LD_PRELOAD@a}
    __hupsafe_line_preload=${LD_PRELOAD-}
    __hupsafe_line=$id
    [[ -n $preload ]] && export LD_PRELOAD="$preload"
    builtin trap '' HUP
    if ((o)); then
        exec 1>|"$pty"
    fi
    if ((e)); then
        if ((o)); then exec 2>&1; else exec 2>|"$pty"; fi
    fi
}

# Hands the line $1 to this shell's standby (a job prepared ahead, see
# shell/README.md) with builtins only: reads its announcement and checks
# what it names (this shell's token and environment, a live standby on
# this stdout's terminal, FIFOs and a pty of the user's own; the
# announcement itself not a symbolic link), writes `PWD NUL LINE
# NUL` to its `take` FIFO and reads the job's id from `taken`. Sets the
# caller's id, pty and preload, and __hupsafe_line_jobdir. Fails when
# anything is not as it should be: the line is then started the slow way.
__hupsafe_standby_take() {
    local f=$__hupsafe_line_dir/$$.standby a sb n reply='' i
    [[ -n $__hupsafe_line_dir ]] || return 1
    if ! __hupsafe_standby_announced "$f"; then
        [[ -n $__hupsafe_standby_coming ]] || return 1
        __hupsafe_standby_coming=
        # The last one's successor is still preparing (a line typed just
        # after the prompt): it writes a byte to `ready` once announced.
        local r=$__hupsafe_line_dir/$$.ready
        for ((i = 0; i < 4; i++)); do
            [[ -p $r && ! -L $r && -O $r ]] || return 1
            IFS= read -r -t 0.025 n 0<>"$r" 2>/dev/null
            __hupsafe_standby_announced "$f" && break
        done
        ((i < 4)) || return 1
    fi
    __hupsafe_standby_coming=
    ((${#a[@]} == 9)) || return 1
    [[ ${a[0]} == hupsafe-standby-1 && ${a[1]} == "$__hupsafe_token" &&
        ${a[3]} == "${HUPSAFE_STATE_DIR-}|${XDG_STATE_HOME-}|${HOME-}|${HUPSAFE_CONFIG_DIR-}|${XDG_CONFIG_HOME-}|${HUPSAFE_LIB_DIR-}|${LD_PRELOAD-}|${HUPSAFE_JOB-}" &&
        -n ${a[2]} && ${a[2]} != *[!0-9]* ]] || return 1
    kill -0 "${a[2]}" 2>/dev/null || return 1
    # Its terminal is still this shell's stdout.
    [[ -n ${a[8]} && /proc/self/fd/1 -ef ${a[8]} ]] || return 1
    sb=${a[4]} n=${a[5]#/dev/pts/}
    [[ ${a[5]} == /dev/pts/* && -n $n && $n != *[!0-9]* && -c ${a[5]} && -O ${a[5]} ]] || return 1
    [[ -p $sb/take && -O $sb/take && -p $sb/taken && -O $sb/taken ]] || return 1
    { printf '%s\0%s\0' "$PWD" "$1" 3<>"$sb/take" 1>&3 && IFS= read -r -t 2 reply; } 0<>"$sb/taken" 2>/dev/null
    [[ -n $reply && $reply != *[!0-9]* ]] || return 1
    id=$reply pty=${a[5]} preload=${a[6]}
    __hupsafe_line_jobdir=${a[7]}/$reply
    __hupsafe_standby_coming=1
    __hupsafe_standby_taken=${a[2]}
}

# Reads announcement $1 into the caller's `a`: fails when there is none
# (not a file of the user's, or a link) or it names the standby this shell
# took last (its successor has not announced itself yet).
__hupsafe_standby_announced() {
    [[ -f $1 && ! -L $1 && -O $1 ]] || return 1
    mapfile -d '' -t a <"$1" 2>/dev/null || return 1
    [[ ${a[2]-} != "$__hupsafe_standby_taken" ]]
}

# Starts this shell's first standby, in the background (the binary forks
# and returns): only for a shell on a terminal with something to protect.
__hupsafe_standby_start() {
    [[ -n $__hupsafe_line_dir && -t 1 && -x $__hupsafe_bin ]] || return 0
    ((${#__hupsafe_line_set[@]})) || return 0
    "$__hupsafe_bin" line standby --shell-pid "$$" --token "$__hupsafe_token" --screen 1 \
        2>/dev/null </dev/null || return 0
    __hupsafe_standby_coming=1
}

# At the next prompt: the output shown, then the shell as it was.
__hupsafe_line_finish() {
    local s=$1 id=$__hupsafe_line pgid ack
    __hupsafe_line=
    [[ $id == - ]] && return 0
    # The status to the supervisor, and its `ok` once the line's output is
    # on the terminal (builtins only; at most 3 s if it is gone).
    if [[ $id != + && -S $__hupsafe_line_jobdir/sock ]] &&
        printf '%s\n' "$s" 2>/dev/null 3<>"$__hupsafe_line_jobdir/sync" 1>&3; then
        # shellcheck disable=SC2034 # only waited for
        IFS= read -r -t 3 ack 2>/dev/null 0<>"$__hupsafe_line_jobdir/ack"
    fi
    exec 1>&"$__hupsafe_line_o" 2>&"$__hupsafe_line_e" {__hupsafe_line_o}>&- {__hupsafe_line_e}>&-
    if [[ -n $__hupsafe_line_hup ]]; then
        eval "$__hupsafe_line_hup"
    else
        builtin trap - HUP
    fi
    case $__hupsafe_line_preload_was in
    x*x*) export LD_PRELOAD="$__hupsafe_line_preload" ;;
    x*) LD_PRELOAD=$__hupsafe_line_preload && export -n LD_PRELOAD ;;
    *) unset LD_PRELOAD ;;
    esac
    # A job the line left (stopped, or in the background) ignores SIGHUP;
    # bash would still send it SIGTERM on hangup if it is stopped then.
    if { ((s >= 147 && s <= 150)) || [[ ${!-} != "$__hupsafe_line_bang" ]]; } &&
        pgid=$(jobs -p %+ 2>/dev/null) && [[ -n $pgid ]]; then
        __hupsafe_guard_add "$pgid"
        # Its later output (after `fg`) is waited for at each prompt too.
        [[ $id != + ]] && __hupsafe_line_open+=("$__hupsafe_line_jobdir")
    fi
    # The terminal hung up while the line ran (SIGHUP was ignored): hang
    # up now, as bash would have then.
    if ((__hupsafe_line_ttyin)) && [[ ! -t 0 ]]; then
        __hupsafe_line_hangup
    fi
}

# Lines still running after their prompt (stopped, background): each
# prompt waits for the output they wrote before it, as for a line that
# just ended; a line whose supervisor removed its socket has shown all.
__hupsafe_line_sync_open() {
    local d ack keep=()
    for d in "${__hupsafe_line_open[@]}"; do
        [[ -S $d/sock ]] || continue
        # No answer: a supervisor that is gone is not asked again.
        # shellcheck disable=SC2034 # only waited for
        printf '\n' 2>/dev/null 3<>"$d/sync" 1>&3 &&
            IFS= read -r -t 3 ack 2>/dev/null 0<>"$d/ack" &&
            keep+=("$d")
    done
    __hupsafe_line_open=(${keep[@]+"${keep[@]}"})
}

# bash hangs up its jobs on SIGHUP only when interactive, and it is not
# while PROMPT_COMMAND runs: do what it would do (protected jobs off the
# table first), then die of SIGHUP. A HUP trap of the user's decides alone.
__hupsafe_line_hangup() {
    local g
    if [[ -z $__hupsafe_line_hup || $__hupsafe_line_hup == *__hupsafe_hangup* ]]; then
        for g in ${__hupsafe_guard[@]+"${__hupsafe_guard[@]}"}; do
            disown "$g" 2>/dev/null
        done
        for g in $(jobs -p 2>/dev/null); do
            kill -HUP -- "-$g" 2>/dev/null
            kill -CONT -- "-$g" 2>/dev/null
        done
        builtin trap - HUP
    fi
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
        printf 'usage: %s COMMAND [ARGS]...: run a command line protected by hupsafe\n' \
            "$__hupsafe_prefix" >&2
        return 2
    fi
    if [[ -n $__hupsafe_line ]]; then
        command "$@"
    else
        __hupsafe_protect "$@"
    fi
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

# The DEBUG trap: ours alone, or after someone else's (bash-preexec and
# the like keep theirs, and their `$_`). Cheap when not armed: one test.
# shellcheck disable=SC2016 # expanded when the trap runs
__hupsafe_debug_cmd='[[ -z $__hupsafe_armed ]] || __hupsafe_debug'
__hupsafe_trap=$(trap -p DEBUG)
if [[ -z $__hupsafe_trap ]]; then
    trap -- "$__hupsafe_debug_cmd" DEBUG
elif [[ $__hupsafe_trap != *__hupsafe_debug* ]]; then
    eval "__hupsafe_trap=(${__hupsafe_trap})"
    trap -- "${__hupsafe_trap[2]}"$'\n'"$__hupsafe_debug_cmd" DEBUG
fi
unset __hupsafe_trap
__hupsafe_arm_last

# Marks apply at once in an interactive shell (re-sourcing reapplies them).
if [[ $- == *i* ]]; then
    __hupsafe_marks_text=$'\001'
    __hupsafe_stamp=
    __hupsafe_prompt
    # Armed by the first prompt, not by the rest of ~/.bashrc.
    __hupsafe_armed=
    __hupsafe_standby_start
fi
