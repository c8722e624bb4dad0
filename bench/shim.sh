#!/usr/bin/env bash
# bench/shim.sh: what libnohup.so costs a program, as ratios against a
# baseline measured in the same run. A report, never a timed assertion:
# exits 0 when a goal is missed, non-zero only when something could not be
# measured. Results: the table on stdout and in target/bench/shim.txt.
#
#   exec     LD_PRELOAD=libnohup.so /bin/true  vs /bin/true   goal <= 1.15x
#            nohup /bin/true                   vs /bin/true   (reference)
#   calls    1M sigaction(SIGHUP)  with vs without the shim   goal <= 1.0x
#            1M sigaction(SIGUSR1) with vs without the shim   goal <= 1.3x
#   memory   size of the stripped libnohup.so, and the RSS it adds to
#            /bin/sleep (median of a few runs; VmRSS moves by a few pages
#            from run to run with ASLR and fault-around, so the resident
#            size of the shim's own mappings is reported too)
#
# Knobs (environment):
#   BENCH_METHOD   auto | hyperfine | loop   how exec is timed (auto: hyperfine
#                  when installed or installable, else bench/spawn_loop.c).
#                  With hyperfine, bench/spawn_loop.c runs too, as a
#                  cross-check: hyperfine cannot give one command its own
#                  environment, so its "with shim" runs have the preload in
#                  hyperfine itself, and its own overhead per run dilutes the
#                  ratio; the loop interleaves the variants from one parent.
#   BENCH_INSTALL  1 (default): as root, apt-get install hyperfine if missing
#   BENCH_ROUNDS   10    exec rounds, variants alternating between rounds
#   BENCH_RUNS     200   exec runs per variant per round
#   BENCH_WARMUP   20    exec warm-up runs per variant per round
#   BENCH_CALLS    1000000  sigaction calls per repetition
#   BENCH_REPS     5     repetitions per process (best is kept)
#   BENCH_PROCS    3     process pairs (without/with shim, alternating)
#   BENCH_RSS_RUNS 11    sleep processes per variant for the RSS median
set -euo pipefail

METHOD=${BENCH_METHOD:-auto}
INSTALL=${BENCH_INSTALL:-1}
ROUNDS=${BENCH_ROUNDS:-10}
RUNS=${BENCH_RUNS:-200}
WARMUP=${BENCH_WARMUP:-20}
CALLS=${BENCH_CALLS:-1000000}
REPS=${BENCH_REPS:-5}
PROCS=${BENCH_PROCS:-3}
RSS_RUNS=${BENCH_RSS_RUNS:-11}

die() { echo "bench/shim.sh: $*" >&2; exit 1; }
step() { echo "== $*" >&2; }

case $METHOD in auto | hyperfine | loop) ;; *) die "BENCH_METHOD must be auto, hyperfine or loop, not '$METHOD'" ;; esac
for n in ROUNDS RUNS WARMUP CALLS REPS PROCS RSS_RUNS; do
    [[ ${!n} =~ ^[0-9]+$ ]] || die "BENCH_$n must be a whole number, not '${!n}'"
done
((ROUNDS > 0 && RUNS > 0 && CALLS > 0 && REPS > 0 && PROCS > 0 && RSS_RUNS > 0)) ||
    die "BENCH_ROUNDS, _RUNS, _CALLS, _REPS, _PROCS and _RSS_RUNS must be at least 1"

# Every baseline runs without a preload, whatever the caller's environment.
unset LD_PRELOAD

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
for tool in cargo python3 strip "${CC:-cc}"; do
    command -v "$tool" >/dev/null || die "$tool is needed and not installed"
done
NOHUP=$(command -v nohup) || die "nohup (coreutils) is needed for the reference figure"

mkdir -p target/bench
WORK=$(mktemp -d "$ROOT/target/bench/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

step "building the release shim"
cargo build --release -p hupsafe-shim >&2
SO=$ROOT/target/release/libnohup.so
[[ -f $SO ]] || die "cargo built no $SO"
# LD_PRELOAD is split on spaces and colons with no escaping: benchmark a
# copy at a safe path when the checkout's path has either.
if [[ $SO == *[[:space:]:]* ]]; then
    SAFE=$(mktemp -d /tmp/hupsafe-bench.XXXXXX)
    trap 'rm -rf "$WORK" "$SAFE"' EXIT
    cp "$SO" "$SAFE/libnohup.so"
    SO=$SAFE/libnohup.so
fi

# A preload that fails to load is skipped with only a warning: make sure
# every "with shim" figure below really had the shim.
if ! maps=$(LD_PRELOAD=$SO /bin/cat /proc/self/maps 2>"$WORK/preload.err") ||
    [[ -s $WORK/preload.err ]] || [[ $maps != *libnohup* ]]; then
    cat "$WORK/preload.err" >&2
    die "LD_PRELOAD=$SO does not load into /bin/cat"
fi

step "compiling bench/*.c"
for prog in sigaction_loop spawn_loop; do
    "${CC:-cc}" -O2 -Wall -Wextra -o "$WORK/$prog" "bench/$prog.c"
done

# ---- exec: /bin/true, with and without the shim, and under nohup ----------
if [[ $METHOD != loop ]] && ! command -v hyperfine >/dev/null; then
    if [[ $INSTALL == 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        step "installing hyperfine (Debian package)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends hyperfine >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 &&
                apt-get install -y --no-install-recommends hyperfine >/dev/null 2>&1; } ||
            echo "bench/shim.sh: could not install hyperfine" >&2
    fi
fi
if [[ $METHOD == auto ]]; then
    if command -v hyperfine >/dev/null; then METHOD=hyperfine; else METHOD=loop; fi
fi
[[ $METHOD == loop ]] || command -v hyperfine >/dev/null || die "BENCH_METHOD=hyperfine but hyperfine is not installed"

if [[ $METHOD == hyperfine ]]; then
    METHOD_DESC="$(hyperfine --version) -N, $ROUNDS rounds x $RUNS runs (+$WARMUP warm-up) per command, median of all runs"
    step "timing exec with hyperfine ($ROUNDS rounds x $RUNS runs)"
    hf() { hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" "$@"; }
    for ((r = 1; r <= ROUNDS; r++)); do
        # hyperfine has no per-command environment: the shim's command runs
        # under a hyperfine that has the preload itself, which its children
        # inherit (the shim's cost in hyperfine's own spawn path is a copy
        # of the spawn attributes).
        hf --export-json "$WORK/exec-base-$r.json" \
            -n base /bin/true -n nohup "$NOHUP /bin/true" >&2
        LD_PRELOAD=$SO hf --export-json "$WORK/exec-shim-$r.json" -n shim /bin/true >&2
    done
else
    METHOD_DESC="not used"
fi
LOOP_DESC="bench/spawn_loop.c (posix_spawn + waitpid, variants interleaved), $((ROUNDS * RUNS)) runs (+$WARMUP warm-up) per command, median"
step "timing exec with bench/spawn_loop.c ($((ROUNDS * RUNS)) runs each)"
"$WORK/spawn_loop" "$SO" "$NOHUP" "$((ROUNDS * RUNS))" "$WARMUP" >"$WORK/exec-loop.txt"

# ---- 1M sigaction calls ------------------------------------------------------
step "timing $CALLS sigaction calls ($PROCS x 2 processes, best of $REPS each)"
for ((p = 1; p <= PROCS; p++)); do
    "$WORK/sigaction_loop" "$CALLS" "$REPS" >"$WORK/sig-base-$p.txt"
    LD_PRELOAD=$SO "$WORK/sigaction_loop" "$CALLS" "$REPS" >"$WORK/sig-shim-$p.txt"
done

# ---- size ----------------------------------------------------------------------
strip -o "$WORK/libnohup.stripped.so" "$SO"

# ---- RSS, the report -----------------------------------------------------------
step "measuring RSS of /bin/sleep ($RSS_RUNS runs each)"
export SO WORK METHOD METHOD_DESC LOOP_DESC NOHUP ROUNDS RUNS WARMUP CALLS REPS PROCS RSS_RUNS
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain -- shim Cargo.toml Cargo.lock 2>/dev/null) ]]; then
    GIT_REV="$GIT_REV+uncommitted shim changes"
fi
export GIT_REV
python3 - <<'PY'
import glob, json, os, platform, statistics, subprocess, sys, time

env = os.environ
work, so = env["WORK"], env["SO"]
problems = []


def fail(msg):
    problems.append(msg)


# ---- exec -------------------------------------------------------------------
# Median exec times (ns) per variant, by method: "loop" always, "hyperfine"
# when it ran.
exec_ns = {"loop": {}}
for line in open(os.path.join(work, "exec-loop.txt")):
    name, median, _mean, _min = line.split()
    exec_ns["loop"][name] = float(median)
if env["METHOD"] == "hyperfine":
    pooled = {}
    for f in sorted(glob.glob(os.path.join(work, "exec-*.json"))):
        for res in json.load(open(f))["results"]:
            name = res.get("command_name") or res["command"]
            pooled.setdefault(name, []).extend(res["times"])
    exec_ns["hyperfine"] = {n: statistics.median(t) * 1e9 for n, t in pooled.items() if t}
for method, times in exec_ns.items():
    for name in ("base", "shim", "nohup"):
        if not times.get(name, 0) > 0:
            fail(f"no exec time for {name} ({method})")


# ---- sigaction --------------------------------------------------------------
def read_sig(kind):
    best, loaded = {}, set()
    for f in glob.glob(os.path.join(work, f"sig-{kind}-*.txt")):
        for line in open(f):
            key, val = line.split()
            if key == "preloaded":
                loaded.add(int(val))
            else:
                best[key] = min(best.get(key, float("inf")), float(val))
    return best, loaded


sig_base, loaded_base = read_sig("base")
sig_shim, loaded_shim = read_sig("shim")
if loaded_base != {0}:
    fail("the baseline sigaction_loop had libnohup.so mapped (LD_PRELOAD leaked in?)")
if loaded_shim != {1}:
    fail("sigaction_loop under LD_PRELOAD did not have libnohup.so mapped")
for sig in ("SIGHUP", "SIGUSR1"):
    if not (sig_base.get(sig, 0) > 0 and sig_shim.get(sig, 0) > 0):
        fail(f"no sigaction time for {sig}")


# ---- RSS --------------------------------------------------------------------
def sleep_rss(preload):
    """VmRSS (kB) of a `sleep 5` once it sleeps, and the Rss (kB) of its
    libnohup.so mappings (None when the shim is not mapped)."""
    e = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if preload:
        e["LD_PRELOAD"] = so
    p = subprocess.Popen(["/bin/sleep", "5"], env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                exe = os.readlink(f"/proc/{p.pid}/exe")
                status = open(f"/proc/{p.pid}/status").read()
            except OSError:
                exe, status = "", ""
            state = next((l.split()[1] for l in status.splitlines() if l.startswith("State:")), "")
            if exe.endswith("/sleep") and state == "S":
                time.sleep(0.05)  # let it settle in nanosleep
                status = open(f"/proc/{p.pid}/status").read()
                rss = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmRSS:"))
                return rss, shim_rss(p.pid)
            time.sleep(0.005)
        raise RuntimeError("sleep did not reach its nanosleep within 4 s")
    finally:
        p.kill()
        p.wait()


def shim_rss(pid):
    own, inside = None, False
    for line in open(f"/proc/{pid}/smaps"):
        first = line.split()[0]
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            inside = line.rstrip().endswith("libnohup.so")
            if inside and own is None:
                own = 0
        elif inside and first == "Rss:":
            own += int(line.split()[1])
    return own


rss = {"base": [], "shim": []}
own_rss = []
try:
    for _ in range(int(env["RSS_RUNS"])):
        for kind in ("base", "shim"):
            kb, own = sleep_rss(kind == "shim")
            if (own is not None) != (kind == "shim"):
                fail(f"sleep ({kind}): libnohup.so mapped = {own is not None}")
            rss[kind].append(kb)
            if own is not None:
                own_rss.append(own)
except Exception as exc:  # noqa: BLE001 - reported as "could not measure"
    fail(f"RSS: {exc}")
rss_med = {k: statistics.median(v) for k, v in rss.items() if v}

size = os.path.getsize(so)
stripped = os.path.getsize(os.path.join(work, "libnohup.stripped.so"))

if problems:
    for p in problems:
        print(f"bench/shim.sh: could not measure: {p}", file=sys.stderr)
    sys.exit(1)

# ---- the table --------------------------------------------------------------
rows = []


def ratio_row(metric, base, shim, unit_fmt, goal):
    r = shim / base
    verdict = "ref" if goal is None else ("PASS" if r <= goal else "over")
    rows.append((metric, unit_fmt(base), unit_fmt(shim), f"{r:.3f}x",
                 "-" if goal is None else f"<= {goal:.2f}x", verdict))


us = lambda ns: f"{ns / 1e3:.1f} us"
ms = lambda ns_per_call: f"{ns_per_call:.1f} ms"  # ns per call == ms per 1M calls
for method, t in sorted(exec_ns.items()):
    ratio_row(f"exec LD_PRELOAD=libnohup.so /bin/true [{method}]", t["base"], t["shim"], us, 1.15)
    ratio_row(f"exec nohup /bin/true (reference) [{method}]", t["base"], t["nohup"], us, None)
ratio_row("1M sigaction(SIGHUP)", sig_base["SIGHUP"], sig_shim["SIGHUP"], ms, 1.0)
ratio_row("1M sigaction(SIGUSR1)", sig_base["SIGUSR1"], sig_shim["SIGUSR1"], ms, 1.3)
rows.append(("libnohup.so size, stripped", f"{size} B unstripped", f"{stripped} B",
             "-", "-", "report"))
rows.append(("VmRSS of /bin/sleep (median)", f"{rss_med['base']:.0f} kB",
             f"{rss_med['shim']:.0f} kB", f"+{rss_med['shim'] - rss_med['base']:.0f} kB",
             "-", "report"))
rows.append(("Rss of libnohup.so's own mappings", "-", f"{statistics.median(own_rss):.0f} kB",
             "-", "-", "report"))

head = ("metric", "baseline", "with shim", "ratio", "goal", "verdict")
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), platform.machine())
lines = [
    "hupsafe shim benchmark (bench/shim.sh)",
    f"  date    {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
    f"  commit  {env['GIT_REV']}",
    f"  host    {platform.release()}, {cpu}, {os.cpu_count()} cpus",
    *([f"  exec    [hyperfine] {env['METHOD_DESC']}"] if env["METHOD"] == "hyperfine" else []),
    f"  exec    [loop] {env['LOOP_DESC']}",
    f"  calls   {int(env['CALLS'])} calls, best of {env['REPS']} reps x {env['PROCS']} processes per variant",
    f"  rss     VmRSS of `/bin/sleep 5`, median of {env['RSS_RUNS']} runs per variant",
    "",
    fmt(head),
    fmt(tuple("-" * w for w in widths)),
    *map(fmt, rows),
    "",
    *(f"exec [{m}]: /bin/true {us(t['base'])}, with shim {us(t['shim'])}, "
      f"nohup /bin/true {us(t['nohup'])}" for m, t in sorted(exec_ns.items())),
    f"RSS runs (kB): without {rss['base']}, with {rss['shim']}",
]
text = "\n".join(lines) + "\n"
sys.stdout.write(text)
with open("target/bench/shim.txt", "w") as out:
    out.write(text)
PY
echo "written to target/bench/shim.txt" >&2
