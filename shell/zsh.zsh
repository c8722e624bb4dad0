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
# - if the hupsafe binary disappears, marked commands print one line and
#   run unprotected: the shell never breaks.

typeset -g __hupsafe_bin=@HUPSAFE_BIN@
typeset -g __hupsafe_marks_file=@HUPSAFE_MARKS@
typeset -g __hupsafe_prefix=@HUPSAFE_PREFIX@
typeset -gi __hupsafe_has_rescue=@HUPSAFE_HAS_RESCUE@
# `hupsafe wrap` wrappers win over the programs they wrap: their directory
# goes first on PATH when it exists (wrappers skip it when they search).
typeset -g __hupsafe_wrap_dir=@HUPSAFE_WRAP_DIR@
if [[ -n $__hupsafe_wrap_dir && -d $__hupsafe_wrap_dir && $path[1] != $__hupsafe_wrap_dir ]]; then
    path=("$__hupsafe_wrap_dir" $path)
fi
# Tells `hupsafe doctor` (a child) that this shell loaded the integration:
# it compares the value with its parent shell's pid.
export HUPSAFE_SHELL_PID=$$
typeset -g __hupsafe_run_bin=
# Re-sourcing keeps what an earlier copy defined, so it can be undone.
(( ${+__hupsafe_marks_text} )) || typeset -g __hupsafe_marks_text=
(( ${+__hupsafe_defined} )) || typeset -ga __hupsafe_defined

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
    if [[ -o interactive && ${(j: :)zsh_eval_context} == 'toplevel shfunc shfunc' ]]; then
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
}

# The precmd hook: applies the marks file when its text changed. Keeps $?.
__hupsafe_precmd() {
    local s=$? text=
    # $(<file) reads in the shell, no process started, in one read(2)
    # (zsh's `read -d ''` reads byte by byte: ~600 us for 1 kB).
    if [[ -r $__hupsafe_marks_file ]]; then
        text=$(<$__hupsafe_marks_file)
    fi
    if [[ $text != "$__hupsafe_marks_text" ]]; then
        __hupsafe_marks_text=$text
        __hupsafe_load "$text"
    fi
    return $s
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
        print -ru2 -- "usage: $__hupsafe_prefix COMMAND [ARGS]...: run one command protected by hupsafe"
        return 2
    fi
    __hupsafe_protect "$@"
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

# Marks apply at once in an interactive shell (re-sourcing reapplies them).
if [[ -o interactive ]]; then
    __hupsafe_marks_text=$'\001'
    __hupsafe_precmd
fi
