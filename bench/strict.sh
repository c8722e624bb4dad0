#!/usr/bin/env bash
# bench/strict.sh: what the --strict seccomp filter costs a syscall-heavy
# program, as ratios against a baseline measured in the same run. A
# report, never a timed assertion: exits non-zero only when something
# could not be measured. Results: the table on stdout and in
# target/bench/strict.txt.
#
#   getppid    1M getppid()           hupsafe run --strict vs hupsafe run
#   sigaction  1M sigaction(SIGUSR1)  hupsafe run --strict vs hupsafe run
# Both variants run under `hupsafe run --no-relay` (the shim is preloaded
# in both), so the ratio is the filter's cost alone.
#
# Knobs (environment):
#   BENCH_CALLS  1000000  calls per repetition
#   BENCH_REPS   5        repetitions per process (best is kept)
#   BENCH_PROCS  3        process pairs (without/with --strict, alternating;
#                         best of each variant is kept)
#   HUPSAFE_BIN           the hupsafe to measure (default: a release build)
set -euo pipefail

CALLS=${BENCH_CALLS:-1000000}
REPS=${BENCH_REPS:-5}
PROCS=${BENCH_PROCS:-3}

die() { echo "bench/strict.sh: $*" >&2; exit 1; }
step() { echo "== $*" >&2; }

for n in CALLS REPS PROCS; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$n must be a positive whole number, not '${!n}'"
done

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/bench"
mkdir -p "$out"
if [[ -z ${HUPSAFE_BIN:-} ]]; then
    step "building hupsafe (release)"
    (cd "$root" && cargo build --quiet --release -p hupsafe) || die "cargo build failed"
    HUPSAFE_BIN="$root/target/release/hupsafe"
fi
[[ -x $HUPSAFE_BIN ]] || die "no hupsafe at $HUPSAFE_BIN"
step "compiling bench/strict_loop.c"
gcc -O2 -Wall -o "$out/strict_loop" "$root/bench/strict_loop.c" || die "gcc failed"

# One measurement: prints "getppid NS sigaction NS", checking the filter
# is (or is not) there.
measure() {
    local want=$1; shift
    local lines
    lines=$(HUPSAFE_RELAY=0 "$HUPSAFE_BIN" run --quiet --no-relay "$@" -- \
        "$out/strict_loop" "$CALLS" "$REPS") || die "strict_loop failed under hupsafe $*"
    local mode
    mode=$(awk '$1 == "seccomp" {print $2}' <<<"$lines")
    [[ $mode == "$want" ]] || die "expected seccomp mode $want, got '$mode' (hupsafe run $*)"
    awk '$1 == "getppid" {g = $2} $1 == "sigaction" {s = $2} END {print g, s}' <<<"$lines"
}

best() { awk -v a="$1" -v b="$2" 'BEGIN {print (a == "" || b < a) ? b : a}'; }

base_g='' base_s='' strict_g='' strict_s=''
for ((p = 1; p <= PROCS; p++)); do
    step "pair $p/$PROCS"
    read -r g s < <(measure 0)
    base_g=$(best "$base_g" "$g"); base_s=$(best "$base_s" "$s")
    read -r g s < <(measure 2 --strict)
    strict_g=$(best "$strict_g" "$g"); strict_s=$(best "$strict_s" "$s")
done

{
    echo "bench/strict.sh: $CALLS calls x $REPS reps x $PROCS process pairs, best ns per call"
    printf '%-22s %12s %12s %8s\n' call "hupsafe run" "--strict" ratio
    awk -v b="$base_g" -v s="$strict_g" 'BEGIN {printf "%-22s %12.1f %12.1f %7.2fx\n", "getppid()", b, s, s / b}'
    awk -v b="$base_s" -v s="$strict_s" 'BEGIN {printf "%-22s %12.1f %12.1f %7.2fx\n", "sigaction(SIGUSR1)", b, s, s / b}'
    echo "kernel $(uname -r), $(uname -m)"
} | tee "$out/strict.txt"
