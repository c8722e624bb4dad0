#
# hupsafe for zsh: protects marked commands typed at the prompt.
# Rendered by `hupsafe init zsh`; put this at the end of ~/.zshrc:
#
#     eval "$(hupsafe init zsh)"
#
# How it works (`hupsafe init --help` for the user's view):
# - each name in the marks file becomes a function of that name which runs
#   the program through `hupsafe run` when it was typed at the prompt (as a
#   line, a pipeline stage, `cmd &`, `time cmd`, `VAR=x cmd`): zsh says so in
#   $zsh_eval_context ("toplevel", then our two functions). From another
#   function, a sourced file, eval, $(...), <(...), a widget or completion,
#   the program runs plainly. zsh parses the line as always: quoting, globs,
#   redirections and history are the user's own. No zle widget is wrapped,
#   so other accept-line and preexec users are left alone.
# - the precmd hook (first in precmd_functions) reads the small marks file
#   with $(<file), which starts no process, and redefines functions only
#   when the text changed: a mark reaches every open shell at its next
#   prompt. It keeps $?.
# - zsh sends SIGHUP to running jobs on hangup (hupsafe's programs ignore
#   it, or live in the relay's session) and leaves stopped jobs to the
#   kernel (SIGHUP then SIGCONT: the protected program ignores the first and
#   carries on).
# - a whole line is protected when it has a marked command (or the prefix)
#   in a command position (zsh's own lexer, ${(z)...}, on the line with
#   aliases expanded): a preexec hook asks `hupsafe line start` for a job
#   and a pty; for the duration of the line the shell's fds 1 and 2 (when
#   they are the terminal) go to that pty, SIGHUP is ignored and the shim
#   is in LD_PRELOAD, so everything the line starts inherits them; zsh runs
#   the line itself as always. The next precmd waits for the line's output
#   to be shown (`hupsafe line end`), then puts fds, trap and environment
#   back. See shell/README.md.
# - if the hupsafe binary disappears, marked commands print one line and
#   run unprotected: the shell never breaks.

typeset -g __hupsafe_bin=@HUPSAFE_BIN@
typeset -g __hupsafe_marks_file=@HUPSAFE_MARKS@
typeset -g __hupsafe_prefix=@HUPSAFE_PREFIX@
typeset -gi __hupsafe_has_rescue=@HUPSAFE_HAS_RESCUE@
# `hupsafe wrap` wrappers win over the programs they wrap: their directory
# goes first on PATH when it exists (wrappers skip it when they search).
typeset -g __hupsafe_wrap_dir=@HUPSAFE_WRAP_DIR@
# Where the hooks write `trap`'s listing to read it back without a fork.
typeset -g __hupsafe_line_dir=@HUPSAFE_LINE_DIR@
[[ -n $__hupsafe_line_dir && -d $__hupsafe_line_dir && -w $__hupsafe_line_dir ]] ||
    __hupsafe_line_dir=
if [[ -n $__hupsafe_wrap_dir && -d $__hupsafe_wrap_dir && $path[1] != $__hupsafe_wrap_dir ]]; then
    path=("$__hupsafe_wrap_dir" $path)
fi
# Tells `hupsafe doctor` (a child) that this shell loaded the integration:
# it compares the value with its parent shell's pid.
export HUPSAFE_SHELL_PID=$$
typeset -g __hupsafe_run_bin=
# What this shell's standby is known by (kept when re-sourced), whether
# one should be on its way (then a line that finds none waits a little
# for it), and the pid of the one taken last (its announcement stays until
# the next one's replaces it).
typeset -g __hupsafe_token=${__hupsafe_token:-$$-$RANDOM$RANDOM}
typeset -g __hupsafe_standby_coming=
typeset -g __hupsafe_standby_taken=${__hupsafe_standby_taken-}
# Re-sourcing keeps what an earlier copy defined, so it can be undone.
(( ${+__hupsafe_marks_text} )) || typeset -g __hupsafe_marks_text=
(( ${+__hupsafe_defined} )) || typeset -ga __hupsafe_defined
# The protected line running now: its job id ("-" when it runs
# unprotected), empty between lines.
(( ${+__hupsafe_line} )) || typeset -g __hupsafe_line=
(( ${+__hupsafe_line_open} )) || typeset -ga __hupsafe_line_open
typeset -g __hupsafe_line_names= __hupsafe_line_word=
typeset -ga __hupsafe_line_list
# The stamp file (empty: read the files at the next precmd).
typeset -g __hupsafe_stamp=
# Where ended jobs started with --notify leave a line each, and how many
# lines of it were shown already (or there before this shell's first
# prompt; empty before it).
typeset -g __hupsafe_notify_file=@HUPSAFE_NOTIFY@
(( ${+__hupsafe_notify_seen} )) || typeset -g __hupsafe_notify_seen=

# The hupsafe binary to run: the one that rendered this script, else one on
# PATH. Sets __hupsafe_run_bin; fails with one line on stderr if neither.
__hupsafe_find_bin() {
    emulate -L zsh
    __hupsafe_run_bin=$__hupsafe_bin
    [[ -x $__hupsafe_run_bin ]] && return 0
    __hupsafe_run_bin=${commands[hupsafe]-}
    [[ -n $__hupsafe_run_bin && -x $__hupsafe_run_bin ]] && return 0
    print -ru2 -- "hupsafe: $__hupsafe_bin is gone and no hupsafe is on PATH: running ${1-the command} unprotected"
    return 1
}

# Runs "$@" through hupsafe, or plainly (with one line) if hupsafe is gone.
__hupsafe_protect() {
    emulate -L zsh
    if ! __hupsafe_find_bin "${1-}"; then
        command "$@"
        return
    fi
    HUPSAFE_RELAY=${HUPSAFE_RELAY:-auto} "$__hupsafe_run_bin" run -- "$@"
}

# The body of every mark function: `function NAME { __hupsafe_marked NAME "$@" }`.
__hupsafe_marked() {
    emulate -L zsh
    if [[ -n $__hupsafe_line ]]; then
        # Inside a protected line: the line already is.
        command "$@"
    elif [[ -o interactive && ${(j: :)zsh_eval_context} == 'toplevel shfunc shfunc' ]]; then
        __hupsafe_protect "$@"
    else
        command "$@"
    fi
}

# Defines the mark functions for the marks file's text ($1), removing the
# ones no longer marked. A function, builtin or keyword of the same name
# that is not ours is left alone.
__hupsafe_load() {
    emulate -L zsh
    setopt extended_glob
    local line name old
    local -a want keep
    for line in ${(f)1}; do
        line=${${line##[[:blank:]]#}%%[[:blank:]]#}
        [[ -z $line || $line == \#* ]] && continue
        [[ $line == [A-Za-z0-9_][A-Za-z0-9_.+-]# && $line != hupsafe ]] || continue
        want+=($line)
    done
    for old in $__hupsafe_defined; do
        if (( ${want[(Ie)$old]} )); then
            keep+=($old)
        elif [[ ${functions[$old]-} == *"__hupsafe_marked $old "* ]]; then
            unfunction -- $old
        fi
    done
    __hupsafe_defined=($keep)
    for name in $want; do
        (( ${__hupsafe_defined[(Ie)$name]} )) && continue
        (( ${+functions[$name]} || ${+builtins[$name]} || ${+reswords[(r)$name]} )) && continue
        if eval "function $name { __hupsafe_marked $name \"\$@\" }" 2>/dev/null; then
            __hupsafe_defined+=($name)
        fi
    done
    __hupsafe_line_words
}

# Prints the lines of jobs that ended (started with --notify) added to the
# notifications file since the last prompt: $(<file) reads in the shell, no
# process started. The file starting again (fewer lines than shown) means
# every line in it is new.
__hupsafe_notify() {
    emulate -L zsh
    local text= i n
    local -a lines
    if [[ -n $__hupsafe_notify_file && -r $__hupsafe_notify_file ]]; then
        text=$(<$__hupsafe_notify_file)
    fi
    [[ -n $text ]] && lines=("${(@f)text}")
    n=$#lines
    if [[ -z $__hupsafe_notify_seen ]]; then
        # This shell's first prompt: only what ends from now on.
        __hupsafe_notify_seen=$n
        return 0
    fi
    (( n < __hupsafe_notify_seen )) && __hupsafe_notify_seen=0
    for (( i = __hupsafe_notify_seen + 1; i <= n; i++ )); do
        [[ $lines[i] == 'hupsafe: job '* ]] && print -r -- $lines[i] >&2
    done
    __hupsafe_notify_seen=$n
}

# The precmd hook: applies the marks file when its text changed, and shows
# jobs that ended. Keeps $?. The files are read only when one of them is
# not older than the stamp (see __hupsafe_refresh).
__hupsafe_precmd() {
    local s=$?
    if (( $#__hupsafe_line_open )); then
        __hupsafe_line_sync_open
    fi
    if [[ -n $__hupsafe_line ]]; then
        __hupsafe_line_finish $s
    fi
    if [[ -n $__hupsafe_stamp &&
        ( $__hupsafe_stamp -nt $__hupsafe_marks_file ||
            ( ! -e $__hupsafe_marks_file && -z $__hupsafe_marks_text ) ) &&
        ( ! -e $__hupsafe_notify_file || $__hupsafe_stamp -nt $__hupsafe_notify_file ) ]]; then
        return $s
    fi
    __hupsafe_refresh
    return $s
}

# Reads the marks file (applied when its text changed) and shows the
# notifications. The stamp, a file in the private scratch directory, is
# written first: a file changed after it has an mtime not older than the
# stamp's (the clock is coarse: equal counts as changed), so the next
# precmd looks again; one changed before it is read now.
__hupsafe_refresh() {
    local text=
    __hupsafe_stamp=
    if [[ -n $__hupsafe_line_dir ]] && { print -n x } 2>/dev/null 1<>$__hupsafe_line_dir/$$.stamp; then
        __hupsafe_stamp=$__hupsafe_line_dir/$$.stamp
    fi
    # $(<file) reads in the shell, no process started, in one read(2)
    # (zsh's `read -d ''` reads byte by byte: ~600 us for 1 kB).
    if [[ -r $__hupsafe_marks_file ]]; then
        text=$(<$__hupsafe_marks_file)
    fi
    if [[ $text != "$__hupsafe_marks_text" ]]; then
        __hupsafe_marks_text=$text
        __hupsafe_load "$text"
    fi
    __hupsafe_notify
}

# --- Protected lines -------------------------------------------------------

# The names that make a line protected (marks with their function, the
# prefix), as a list: most lines have none of them as a word, which one
# array intersection tells.
__hupsafe_line_words() {
    emulate -L zsh
    local -a names=($__hupsafe_defined)
    if [[ -n $__hupsafe_prefix && ${functions[$__hupsafe_prefix]-} == *__hupsafe_prefixed* ]]; then
        names+=($__hupsafe_prefix)
    fi
    __hupsafe_line_names=" ${(j: :)names} "
    __hupsafe_line_list=($names)
}

# Whether the line $1 (aliases expanded) has a protected name in a command
# position: the first word, or one after an operator, a keyword or a
# precommand, skipping assignments, options and redirections. zsh's lexer
# splits the words; $(...), quoted words and function bodies are single
# words or left out. Sets __hupsafe_line_word.
__hupsafe_line_marked() {
    emulate -L zsh
    setopt extended_glob
    # The words of the line, split on everything a name cannot hold.
    local -a words=(${=1//[^A-Za-z0-9_.+\/-]/ })
    words=(${words:*__hupsafe_line_list})
    (( $#words )) || return 1
    local text=$1 w
    local -i cmd=1
    text=${text//[A-Za-z0-9_.:-]##[[:space:]]#\(\)[[:space:]]#\{[^\}]#\}/ ; }
    for w in ${(z)text}; do
        case $w in
        (';' | '|' | '||' | '&&' | '&' | '|&' | '&!' | '&|' | '(' | ')' | '{' | '}' | ';;' | $'\n')
            cmd=1
            continue ;;
        esac
        (( cmd )) || continue
        case $w in
        ('!' | time | do | then | else | elif | if | while | until | exec | nocorrect | noglob | \
            env | nice | nohup | -* | [0-9]*)
            continue ;;
        ([A-Za-z_][A-Za-z0-9_]#(|\[*\])(|+)=*) continue ;;
        (*[\<\>]*) continue ;;
        esac
        if [[ $__hupsafe_line_names == *" $w "* ]]; then
            __hupsafe_line_word=$w
            return 0
        fi
        cmd=0
    done
    return 1
}

# preexec: $1 is the line as typed, $3 the text run (aliases expanded).
__hupsafe_preexec() {
    (( $#__hupsafe_line_list )) || return 0
    __hupsafe_line_marked "$3" || return 0
    __hupsafe_line_begin "${1:-$3}"
}

# Sets up the line $1: its job and pty, the shell's terminal fds on it,
# SIGHUP ignored, the shim exported. On any failure, the line runs as if
# unprotected (marked commands inside it too), after one line saying so.
# (No emulate -L here: its LOCAL_TRAPS would undo the trap.)
__hupsafe_line_begin() {
    local o=0 e=0 reply id pty preload
    [[ -t 1 ]] && o=1
    [[ -t 2 ]] && e=1
    if ! __hupsafe_find_bin "$__hupsafe_line_word"; then
        __hupsafe_line=-
        return 0
    fi
    typeset -gi __hupsafe_line_njobs=${#jobstates}
    typeset -gi __hupsafe_line_ttyin=0
    [[ -t 0 ]] && __hupsafe_line_ttyin=1
    typeset -gi __hupsafe_line_o __hupsafe_line_e
    exec {__hupsafe_line_o}>&1 {__hupsafe_line_e}>&2
    if (( o )) && __hupsafe_standby_take "$1"; then
        : # The standby is the line's job now.
    elif (( o || e )); then
        if ! reply=$("$__hupsafe_run_bin" line start --text "$1" --shell-pid $$ \
                --token $__hupsafe_token \
                --screen $(( o ? __hupsafe_line_o : __hupsafe_line_e ))) ||
            [[ $reply != *$'\n'*$'\n'*$'\n'* ]]; then
            print -ru2 -- "hupsafe: running this line unprotected"
            exec {__hupsafe_line_o}>&- {__hupsafe_line_e}>&-
            __hupsafe_line=-
            return 0
        fi
        # It started a standby for the next line.
        __hupsafe_standby_coming=1
        local -a parts=("${(@f)reply}")
        id=$parts[1] pty=$parts[2] preload=$parts[3]
        typeset -g __hupsafe_line_jobdir=$parts[4]
    else
        # No terminal to keep: SIGHUP and the shim only.
        id=+
        preload=$("$__hupsafe_run_bin" shim 2>/dev/null) || preload=
        preload=${LD_PRELOAD:+$LD_PRELOAD:}$preload
    fi
    typeset -g __hupsafe_line_hup=
    typeset -gi __hupsafe_line_frozen=0
    # Written over in place, ended by a NUL: truncating would make ext4
    # flush the file on close (auto_da_alloc).
    if [[ -n $__hupsafe_line_dir ]] && { trap; ttyctl; print -n '\0' } 1<>$__hupsafe_line_dir/$$ 2>/dev/null; then
        local listing=$(<$__hupsafe_line_dir/$$)
        local -a listed=("${(@f)${listing%%$'\0'*}}")
        __hupsafe_line_hup=${(M)listed:#trap -- * HUP}
        [[ ${listed[-1]} == 'tty is frozen' ]] && __hupsafe_line_frozen=1
    fi
    typeset -g __hupsafe_line_preload_was=${${LD_PRELOAD+x}:+x${parameters[LD_PRELOAD]}}
    typeset -g __hupsafe_line_preload=${LD_PRELOAD-}
    __hupsafe_line=$id
    [[ -n $preload ]] && export LD_PRELOAD=$preload
    trap '' HUP
    # After a hangup, zsh reading the terminal's modes when a command ends
    # fails, and a failure aborts the rest of the line (`a && b`): frozen,
    # zsh does not read them.
    ttyctl -f
    if (( o )); then
        exec 1>|$pty
    fi
    if (( e )); then
        if (( o )); then exec 2>&1; else exec 2>|$pty; fi
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
    emulate -L zsh
    local f=$__hupsafe_line_dir/$$.standby sb n reply= i
    local -a a
    [[ -n $__hupsafe_line_dir ]] || return 1
    if ! __hupsafe_standby_announced $f; then
        [[ -n $__hupsafe_standby_coming ]] || return 1
        __hupsafe_standby_coming=
        # The last one's successor is still preparing (a line typed just
        # after the prompt): it writes a byte to `ready` once announced.
        local r=$__hupsafe_line_dir/$$.ready
        for (( i = 0; i < 4; i++ )); do
            [[ -p $r && ! -L $r && -O $r ]] || return 1
            # A line from the FIFO (`read -k` would read the terminal).
            read -r -t 0.025 n 0<>$r 2>/dev/null
            __hupsafe_standby_announced $f && break
        done
        (( i < 4 )) || return 1
    fi
    __hupsafe_standby_coming=
    (( $#a == 9 )) || return 1
    [[ $a[1] == hupsafe-standby-1 && $a[2] == $__hupsafe_token &&
        $a[4] == "${HUPSAFE_STATE_DIR-}|${XDG_STATE_HOME-}|${HOME-}|${HUPSAFE_CONFIG_DIR-}|${XDG_CONFIG_HOME-}|${HUPSAFE_LIB_DIR-}|${LD_PRELOAD-}|${HUPSAFE_JOB-}" &&
        $a[3] == <-> ]] || return 1
    kill -0 $a[3] 2>/dev/null || return 1
    # Its terminal is still this shell's stdout.
    [[ -n $a[9] && /proc/self/fd/1 -ef $a[9] ]] || return 1
    sb=$a[5] n=${a[6]#/dev/pts/}
    [[ $a[6] == /dev/pts/<-> && -c $a[6] && -O $a[6] ]] || return 1
    [[ -p $sb/take && -O $sb/take && -p $sb/taken && -O $sb/taken ]] || return 1
    { printf '%s\0%s\0' "$PWD" "$1" 1<>$sb/take && IFS= read -r -t 2 reply } 0<>$sb/taken 2>/dev/null
    [[ $reply == <-> ]] || return 1
    id=$reply pty=$a[6] preload=$a[7]
    typeset -g __hupsafe_line_jobdir=$a[8]/$reply
    __hupsafe_standby_coming=1
    __hupsafe_standby_taken=$a[3]
}

# Reads announcement $1 into the caller's `a`: fails when there is none
# (not a file of the user's, or a link) or it names the standby this shell
# took last (its successor has not announced itself yet).
__hupsafe_standby_announced() {
    local text
    [[ -f $1 && ! -L $1 && -O $1 ]] || return 1
    text=$(<$1) 2>/dev/null || return 1
    a=("${(@0)${text%$'\0'}}")
    [[ $a[3] != "$__hupsafe_standby_taken" ]]
}

# Starts this shell's first standby, in the background (the binary forks
# and returns): only for a shell on a terminal with something to protect.
__hupsafe_standby_start() {
    [[ -n $__hupsafe_line_dir && -t 1 && -x $__hupsafe_bin ]] || return 0
    (( $#__hupsafe_line_list )) || return 0
    "$__hupsafe_bin" line standby --shell-pid $$ --token $__hupsafe_token --screen 1 \
        2>/dev/null </dev/null || return 0
    __hupsafe_standby_coming=1
}

# At the next prompt: the output shown, then the shell as it was.
__hupsafe_line_finish() {
    local s=$1 id=$__hupsafe_line ack
    __hupsafe_line=
    [[ $id == - ]] && return 0
    # The status to the supervisor, and its `ok` once the line's output is
    # on the terminal (builtins only; at most 3 s if it is gone).
    if [[ $id != + && -S $__hupsafe_line_jobdir/sock ]] &&
        print -r -- $s 2>/dev/null 1<>$__hupsafe_line_jobdir/sync; then
        read -r -t 3 ack 2>/dev/null 0<>$__hupsafe_line_jobdir/ack
    fi
    exec 1>&$__hupsafe_line_o 2>&$__hupsafe_line_e {__hupsafe_line_o}>&- {__hupsafe_line_e}>&-
    if [[ -n $__hupsafe_line_hup ]]; then
        eval "$__hupsafe_line_hup"
    else
        trap - HUP
    fi
    (( __hupsafe_line_frozen )) || ttyctl -u
    case $__hupsafe_line_preload_was in
    (x*export*) export LD_PRELOAD=$__hupsafe_line_preload ;;
    (x*) typeset +x LD_PRELOAD; LD_PRELOAD=$__hupsafe_line_preload ;;
    (*) unset LD_PRELOAD ;;
    esac
    # A job the line left (stopped, or in the background): its later
    # output (after `fg`) is waited for at each prompt too.
    if [[ $id != + ]] && (( s >= 147 && s <= 150 || ${#jobstates} > __hupsafe_line_njobs )); then
        __hupsafe_line_open+=($__hupsafe_line_jobdir)
    fi
    # The terminal hung up while the line ran (SIGHUP was ignored): hang
    # up now, as zsh would have then.
    if (( __hupsafe_line_ttyin )) && [[ ! -t 0 ]]; then
        __hupsafe_line_hangup
    fi
    # The line changed the terminal's modes (`stty`; the supervisor
    # compares them with the line's start). Frozen for the line, zsh did
    # not read them after its last command, and would put the old ones
    # back: a job of its own makes it read them, as it would have then.
    if [[ $ack == 'ok modes' ]] && (( ! __hupsafe_line_frozen )) && [[ -t 0 ]]; then
        ( : )
    fi
}

# Lines still running after their prompt (stopped, background): each
# prompt waits for the output they wrote before it, as for a line that
# just ended; a line whose supervisor removed its socket has shown all.
__hupsafe_line_sync_open() {
    local d ack
    local -a keep
    for d in $__hupsafe_line_open; do
        [[ -S $d/sock ]] || continue
        # No answer: a supervisor that is gone is not asked again.
        print 2>/dev/null 1<>$d/sync &&
            read -r -t 3 ack 2>/dev/null 0<>$d/ack &&
            keep+=($d)
    done
    __hupsafe_line_open=($keep)
}

# zsh turned MONITOR off when it could not take the hung-up terminal back,
# and without it sends its jobs nothing on SIGHUP: do what it would do
# (HUP option: SIGHUP to running jobs; stopped ones are the kernel's),
# then take the SIGHUP. A HUP trap of the user's decides alone.
__hupsafe_line_hangup() {
    local j
    if [[ -z $__hupsafe_line_hup && -o hup ]]; then
        for j in ${(k)jobstates}; do
            [[ ${jobstates[$j]} == running:* ]] && kill -HUP %$j 2>/dev/null
        done
    fi
    kill -HUP $$
}

# `hupsafe rescue [%JOB...]`: what the shell can do for a job started
# unprotected (zsh forgets it, so zsh will not hang it up); then the
# binary's own `rescue` for each of its processes, where this hupsafe has one.
__hupsafe_rescue() {
    emulate -L zsh
    setopt extended_glob
    (( $# )) || set -- %+
    local spec num entry pid rc=0
    local -a pids
    for spec; do
        num=
        case $spec in
        %[0-9]##) num=${spec#%} ;;
        %% | %+) num=${(k)jobstates[(R)*:+:*]} ;;
        %-) num=${(k)jobstates[(R)*:-:*]} ;;
        %\?*) num=${(k)jobtexts[(R)*${spec#%\?}*]} ;;
        %*) num=${(k)jobtexts[(R)${spec#%}*]} ;;
        esac
        num=${num%% *}
        if [[ -z $num || -z ${jobstates[$num]-} ]]; then
            print -ru2 -- "hupsafe: rescue: no such job: $spec"
            rc=1
            continue
        fi
        pids=()
        for entry in ${(s.:.)jobstates[$num]}; do
            [[ $entry == [0-9]##=* ]] && pids+=(${entry%%=*})
        done
        disown %$num
        if (( __hupsafe_has_rescue )) && __hupsafe_find_bin rescue; then
            for pid in $pids; do "$__hupsafe_run_bin" rescue $pid || rc=$?; done
        else
            print -ru2 -- "hupsafe: $spec (pid ${(j: :)pids}): zsh will not hang it up; this hupsafe has no rescue verb, so the program itself is unchanged (its SIGHUP and terminal output are as before)"
        fi
    done
    return $rc
}

hupsafe() {
    if [[ ${1-} == rescue ]] && { (( $# == 1 )) || [[ ${2-} == %* ]] }; then
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

__hupsafe_prefixed() {
    emulate -L zsh
    if (( $# == 0 )); then
        print -ru2 -- "usage: $__hupsafe_prefix COMMAND [ARGS]...: run a command line protected by hupsafe"
        return 2
    fi
    if [[ -n $__hupsafe_line ]]; then
        command "$@"
    else
        __hupsafe_protect "$@"
    fi
}

# The one-off prefix (`hs make -j8`), unless that name is taken.
if [[ -n $__hupsafe_prefix ]]; then
    if [[ ${functions[$__hupsafe_prefix]-} == *__hupsafe_prefixed* ]] ||
        ! (( ${+functions[$__hupsafe_prefix]} || ${+builtins[$__hupsafe_prefix]} ||
            ${+aliases[$__hupsafe_prefix]} || ${+commands[$__hupsafe_prefix]} ||
            ${+reswords[(r)$__hupsafe_prefix]} )); then
        eval "function $__hupsafe_prefix { __hupsafe_prefixed \"\$@\" }"
    fi
fi

# The hook goes first, so that $? reaches the others unchanged and the
# marks are current before any other hook runs a command.
(( ${+precmd_functions} )) || typeset -ga precmd_functions
if (( ! ${precmd_functions[(Ie)__hupsafe_precmd]} )); then
    precmd_functions=(__hupsafe_precmd $precmd_functions)
fi

# preexec goes last, after hooks that write to the terminal (titles).
(( ${+preexec_functions} )) || typeset -ga preexec_functions
if (( ! ${preexec_functions[(Ie)__hupsafe_preexec]} )); then
    preexec_functions+=(__hupsafe_preexec)
fi

# Marks apply at once in an interactive shell (re-sourcing reapplies them).
if [[ -o interactive ]]; then
    __hupsafe_marks_text=$'\001'
    __hupsafe_stamp=
    __hupsafe_precmd
    __hupsafe_standby_start
fi
