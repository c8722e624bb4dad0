#!/usr/bin/env bash
# bench/cli.sh: what the hupsafe command costs at start-up, against GNU
# nohup and the bare command, measured in one run. A report, never a timed
# assertion: exits 0 when a goal is missed, non-zero only when something
# could not be measured. Results on stdout and in target/bench/cli.txt.
#
#   time     hupsafe /bin/true           release build, as `cargo install` makes it
#            hupsafe-static /bin/true    the same, linked statically (crt-static)
#            nohup /bin/true             GNU coreutils
#            /bin/true
#            as-nohup /bin/true          a `nohup` symlink to the release build
#            ratios against nohup        goal: hupsafe <= 1.05x nohup
#   memory   peak RSS of each (wait4's ru_maxrss, which the kernel keeps
#            across exec: the larger of the launcher's peak before exec and
#            true's own), so the difference is what hupsafe adds before exec
#
# Both `hupsafe` runs include loading the shim into /bin/true (it is the
# point of hupsafe); `preload-only` (env LD_PRELOAD=shim /bin/true, against
# env /bin/true) shows that part alone.
#
# Method: bench/cli_loop.c, variants interleaved one run at a time (order
# rotating), posix_spawn + wait4 with fds 0-2 on /dev/null, as `hyperfine -N`
# does; hyperfine (Debian: apt-get install hyperfine), when installed, runs
# too, as a cross-check (it runs each command's runs back to back, so drift
# in the machine's speed can favour one).
#
# Knobs (environment):
#   BENCH_RUNS       1000  timed runs per variant
#   BENCH_WARMUP     100   warm-up runs per variant
#   BENCH_STATIC     1     also build and time a static hupsafe (0: skip)
#   BENCH_HYPERFINE  auto  auto | 0 | 1
set -euo pipefail

RUNS=${BENCH_RUNS:-1000}
WARMUP=${BENCH_WARMUP:-100}
STATIC=${BENCH_STATIC:-1}
HYPERFINE=${BENCH_HYPERFINE:-auto}

die() { echo "bench/cli.sh: $*" >&2; exit 1; }
step() { echo "== $*" >&2; }

for n in RUNS WARMUP; do
    [[ ${!n} =~ ^[0-9]+$ ]] || die "BENCH_$n must be a whole number, not '${!n}'"
done
((RUNS > 0)) || die "BENCH_RUNS must be at least 1"
case $HYPERFINE in auto | 0 | 1) ;; *) die "BENCH_HYPERFINE must be auto, 0 or 1" ;; esac
if [[ $HYPERFINE == auto ]]; then
    if command -v hyperfine >/dev/null; then HYPERFINE=1; else HYPERFINE=0; fi
fi
[[ $HYPERFINE == 0 ]] || command -v hyperfine >/dev/null ||
    die "BENCH_HYPERFINE=1 but hyperfine is not installed (apt-get install hyperfine)"

unset LD_PRELOAD POSIXLY_CORRECT
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
for tool in cargo python3 "${CC:-cc}"; do
    command -v "$tool" >/dev/null || die "$tool is needed and not installed"
done
NOHUP=$(command -v nohup) || die "nohup (coreutils) is needed for the reference figure"
TRUE=/bin/true
ENV=$(command -v env)

mkdir -p target/bench
WORK=$(mktemp -d /tmp/hupsafe-bench-cli.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
chmod 700 "$WORK"

step "building bench/cli_loop.c"
"${CC:-cc}" -O2 -Wall -Wextra -o "$WORK/cli_loop" bench/cli_loop.c

step "building hupsafe (release)"
cargo build --release --quiet -p hupsafe >&2
# Cargo builds where CARGO_TARGET_DIR says, if set.
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
HUPSAFE=$TARGET_DIR/release/hupsafe
[[ -x $HUPSAFE ]] || die "cargo built no $HUPSAFE"
mkdir -p "$WORK/bin"
ln -s "$HUPSAFE" "$WORK/bin/nohup"

STATIC_BIN=
if [[ $STATIC == 1 ]]; then
    step "building hupsafe (release, static: -C target-feature=+crt-static)"
    host=$(rustc -vV | sed -n 's/^host: //p')
    # An explicit --target keeps the flag away from build scripts and
    # proc-macros; cli/build.rs builds the shim without it.
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet -p hupsafe \
        --target "$host" --target-dir target/bench/static >&2
    STATIC_BIN=$ROOT/target/bench/static/$host/release/hupsafe
    [[ -x $STATIC_BIN ]] || die "cargo built no $STATIC_BIN"
fi

# The shim is written once per user; time the steady state, not first use.
export HUPSAFE_LIB_DIR=$WORK/lib
SHIM=$("$HUPSAFE" shim) || die "hupsafe cannot install its shim"
"$HUPSAFE" "$TRUE" || die "hupsafe $TRUE failed"

variants=(hupsafe "$HUPSAFE" "$TRUE" --)
[[ -z $STATIC_BIN ]] || variants+=(hupsafe-static "$STATIC_BIN" "$TRUE" --)
variants+=(
    nohup "$NOHUP" "$TRUE" --
    true "$TRUE" --
    as-nohup "$WORK/bin/nohup" "$TRUE" --
    preload-only "$ENV" "LD_PRELOAD=$SHIM" "$TRUE" --
    env "$ENV" "$TRUE" --
)

step "interleaved loop: $RUNS runs per variant after $WARMUP warm-up"
"$WORK/cli_loop" "$RUNS" "$WARMUP" "${variants[@]}" >"$WORK/loop.txt"

REPORT=target/bench/cli.txt
python3 - "$WORK/loop.txt" "$HUPSAFE" "$STATIC_BIN" "$NOHUP" "$SHIM" "$RUNS" >"$REPORT" <<'EOF'
import os, platform, sys
loop, hupsafe, static, nohup, shim, runs = sys.argv[1:7]
rows = {}
for line in open(loop):
    name, med, mean, low, rss = line.split()
    rows[name] = (float(med) / 1000, float(mean) / 1000, float(low) / 1000, int(rss))
print(f"bench/cli.sh on {platform.system()} {platform.release()} {platform.machine()}, "
      f"{os.cpu_count()} cpus; {runs} interleaved runs per variant")
print(f"hupsafe {hupsafe} ({os.path.getsize(hupsafe)} bytes); shim {os.path.getsize(shim)} bytes")
if static:
    print(f"hupsafe-static {static} ({os.path.getsize(static)} bytes)")
print(f"nohup {nohup}")
print()
print(f"  {'variant':16} {'median':>9} {'mean':>9} {'min':>9}   peak RSS")
for name, (med, mean, low, rss) in rows.items():
    print(f"  {name:16} {med:7.0f}us {mean:7.0f}us {low:7.0f}us   {rss:6d} KiB")
print()
def ratio(a, b="nohup"):
    return rows[a][0] / rows[b][0]
for name in ["hupsafe", "hupsafe-static"]:
    if name in rows:
        r = ratio(name)
        label = f"{name} / nohup"
        print(f"  {label:22} {r:.3f}x   goal <= 1.05x: {'met' if r <= 1.05 else 'MISSED'}")
print(f"  as-nohup / nohup       {ratio('as-nohup'):.3f}x")
print(f"  nohup / true           {ratio('nohup', 'true'):.3f}x")
print(f"  preload-only / env     {ratio('preload-only', 'env'):.3f}x   (the shim's own load cost)")
for name in ["hupsafe", "hupsafe-static"]:
    if name in rows:
        print(f"  peak RSS {name} adds over nohup before exec: {rows[name][3] - rows['nohup'][3]} KiB")
EOF

if [[ $HYPERFINE == 1 ]]; then
    step "hyperfine cross-check"
    hf=(hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/hf.json"
        -n hupsafe "$HUPSAFE $TRUE")
    [[ -z $STATIC_BIN ]] || hf+=(-n hupsafe-static "$STATIC_BIN $TRUE")
    hf+=(-n nohup "$NOHUP $TRUE" -n true "$TRUE")
    "${hf[@]}" >&2
    python3 - "$WORK/hf.json" >>"$REPORT" <<'EOF'
import json, sys
r = {x["command"]: x["median"] * 1e6 for x in json.load(open(sys.argv[1]))["results"]}
print()
print("hyperfine -N (each command's runs back to back), medians:")
for k, v in r.items():
    print(f"  {k:16} {v:7.0f}us   {v / r['nohup']:.3f}x nohup")
EOF
fi

cat "$REPORT"
