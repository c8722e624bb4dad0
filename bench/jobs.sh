#!/usr/bin/env bash
# bench/jobs.sh: what detached jobs cost, against tmux and screen measured in
# the same run. A report, never a timed assertion: exits 0 when a goal is
# missed, non-zero only when something could not be measured. Results: the
# table on stdout and in target/bench/jobs.txt.
#
#   start    `hupsafe -d true` until it returns (the job's record is written
#            by then), against `tmux new -d true` and `screen -dm true`;
#            interleaved, median of BENCH_STARTS each (a tool that is not
#            installed is left out of the table)
#   ps       `hupsafe ps` with 1,000 finished jobs in the registry (copies of
#            one real job's directory, each with its own id), median of 20
#            goal: < 50 ms
#   expiry   `hupsafe -d true` with those 1,000 jobs and `keep_finished = 7d`
#            in the config file, against the same start without it
#            (interleaved, median of BENCH_STARTS each): what the automatic
#            removal of old jobs costs a start; goal: < 1 ms more
#   complete `hupsafe __jobs` (what the completion scripts run at TAB where
#            a job goes: every id and name) with those 1,000 jobs, median
#            of 20
#   memory   VmRSS (and PSS) of a detached job's supervisor, median of
#            BENCH_JOBS idle jobs (`hupsafe -d sleep 300`); goal: <= 2 MiB.
#            Baseline in the same run: as many jobs whose supervisors keep
#            what they inherit from the starting hupsafe (its heap, its
#            mapped code: HUPSAFE_BENCH_KEEP_INHERITED=1), in a state
#            directory of their own. Then one job is attached (a client on
#            a pty) and detached: its VmRSS while attached and after
#
# Knobs (environment):
#   BENCH_STARTS   50    starts per variant
#   BENCH_JOBS     20    idle jobs for the memory figure
set -euo pipefail

STARTS=${BENCH_STARTS:-50}
JOBS=${BENCH_JOBS:-20}

die() { echo "bench/jobs.sh: $*" >&2; exit 1; }
step() { echo "== $*" >&2; }

for n in STARTS JOBS; do
    if ! [[ ${!n} =~ ^[0-9]+$ ]] || ((${!n} == 0)); then
        die "BENCH_$n must be a whole number above 0"
    fi
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
step "building hupsafe (release)"
cargo build --release -p hupsafe >&2 || die "cargo build failed"
HUPSAFE=${CARGO_TARGET_DIR:-target}/release/hupsafe
HUPSAFE=$(realpath "$HUPSAFE")
"$HUPSAFE" run --help 2>/dev/null | grep -q -- '--detach' ||
    die "this hupsafe has no --detach"

WORK=$(mktemp -d /tmp/hupsafe-bench-jobs.XXXXXX)
chmod 700 "$WORK"
cleanup() {
    for state in "$WORK"/state "$WORK"/kept; do
        for d in "$state"/jobs/*/; do
            if [[ -d $d ]]; then
                HUPSAFE_STATE_DIR=$state "$HUPSAFE" stop --grace 1 "$(basename "$d")" \
                    >/dev/null 2>&1 || true
            fi
        done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
export HUPSAFE_STATE_DIR=$WORK/state HUPSAFE_LIB_DIR=$WORK/lib

step "start: $STARTS starts per variant, interleaved"
read -r t_hs t_tmux t_screen < <(python3 - "$HUPSAFE" "$STARTS" "$WORK" <<'EOF'
import os, shutil, subprocess, sys, time
hs, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
env = dict(os.environ, SCREENDIR=os.path.join(work, "screens"))
os.makedirs(env["SCREENDIR"], mode=0o700, exist_ok=True)
variants = {"hupsafe": [hs, "-d", "true"]}
if shutil.which("tmux"):
    # A server of its own each time: `true` ends at once, and the server
    # with it, while the next start might connect to it.
    variants["tmux"] = ["tmux", "-L", "hupsafe-bench-%d", "new", "-d", "true"]
if shutil.which("screen"):
    variants["screen"] = ["screen", "-dm", "true"]
times = {k: [] for k in variants}
for i in range(n):
    for k, argv in variants.items():
        argv = [a.replace("%d", str(i)) for a in argv]
        t0 = time.perf_counter()
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env, check=True)
        times[k].append((time.perf_counter() - t0) * 1e6)
def med(k):
    if k not in times:
        return "-"
    v = sorted(times[k])
    return "%.0f" % v[len(v) // 2]
print(med("hupsafe"), med("tmux"), med("screen"))
EOF
)
"$HUPSAFE" gc >/dev/null 2>&1 || true

step "ps: 1,000 finished jobs"
"$HUPSAFE" -d --name bench true >/dev/null
python3 - "$WORK/state/jobs" <<'EOF'
import json, os, shutil, sys, time
jobs = sys.argv[1]
deadline = time.monotonic() + 30
while True:
    ids = [d for d in os.listdir(jobs) if d.isdigit()]
    done = []
    for d in ids:
        try:
            r = json.load(open(os.path.join(jobs, d, "record.json")))
        except (OSError, ValueError):
            continue
        if r.get("state") == "exited":
            done.append(d)
    if done or time.monotonic() > deadline:
        break
    time.sleep(0.05)
src = os.path.join(jobs, done[0])
for i in range(2, 1001):
    dst = os.path.join(jobs, str(10000 + i))
    shutil.copytree(src, dst, symlinks=True)
    p = os.path.join(dst, "record.json")
    r = json.load(open(p))
    r["id"] = str(10000 + i)
    with open(p, "w") as f:
        json.dump(r, f)
EOF
ps_ms=$(python3 bench/ps_time.py "$HUPSAFE" 1001)
# 1,000 ids and one name.
jobs_ms=$(python3 bench/ps_time.py "$HUPSAFE" 1001 __jobs)

step "expiry: $STARTS starts with and without keep_finished, 1,000 jobs"
export HUPSAFE_CONFIG_DIR=$WORK/config
mkdir -m 700 "$HUPSAFE_CONFIG_DIR"
read -r t_plain t_keep < <(python3 - "$HUPSAFE" "$STARTS" "$HUPSAFE_CONFIG_DIR/config" <<'EOF'
import subprocess, sys, time
hs, n, config = sys.argv[1], int(sys.argv[2]), sys.argv[3]
times = {"plain": [], "keep": []}
for _ in range(n):
    for k, text in (("plain", ""), ("keep", "keep_finished = 7d\n")):
        with open(config, "w") as f:
            f.write(text)
        t0 = time.perf_counter()
        subprocess.run([hs, "-d", "true"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, check=True)
        times[k].append((time.perf_counter() - t0) * 1e6)
med = lambda v: sorted(v)[len(v) // 2]
print("%.0f %.0f" % (med(times["plain"]), med(times["keep"])))
EOF
)
unset HUPSAFE_CONFIG_DIR
"$HUPSAFE" gc >/dev/null 2>&1 || true

step "memory: $JOBS idle detached jobs"
for _ in $(seq "$JOBS"); do
    "$HUPSAFE" -d sleep 300 >/dev/null
    HUPSAFE_STATE_DIR=$WORK/kept HUPSAFE_BENCH_KEEP_INHERITED=1 "$HUPSAFE" -d sleep 300 >/dev/null
done
read -r n_sup rss_kib pss_kib rss_max priv_kib h_rss h_pss h_priv < <(python3 bench/supervisor_rss.py "$WORK/state/jobs" "$JOBS")
read -r n_kept kept_kib kept_pss _ kept_priv kh_rss kh_pss kh_priv < <(python3 bench/supervisor_rss.py "$WORK/kept/jobs" "$JOBS")

step "memory: one of them attached (on a pty), then detached"
read -r rss_attached rss_detached < <(python3 - "$HUPSAFE" "$WORK/state/jobs" <<'EOF'
import json, os, pty, select, sys, time
hs, jobs = sys.argv[1], sys.argv[2]
job = sorted(os.listdir(jobs), key=int)[0]
sup = json.load(open(os.path.join(jobs, job, "record.json")))["writer"]["pid"]
def rss():
    for line in open("/proc/%d/status" % sup):
        if line.startswith("VmRSS:"):
            return line.split()[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(hs, [hs, "attach", job])
def drain(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                os.read(fd, 4096)
            except OSError:
                return
drain(1.0)
attached = rss()
os.write(fd, b"\x1dd")  # Ctrl-] d: detach
drain(0.5)
os.waitpid(pid, 0)
time.sleep(0.2)
print(attached, rss())
EOF
)

ratio() { python3 -c "import sys; a, b = sys.argv[1:]; print('-' if '-' in (a, b) else '%.2f' % (float(a) / float(b)))" "$1" "$2"; }

mkdir -p target/bench
{
    echo "bench/jobs.sh on $(nproc) cpus, $(uname -r); hupsafe release build"
    echo
    printf '%-46s %10s %12s\n' "start a detached job (median of $STARTS)" "us" "vs hupsafe"
    printf '%-46s %10s %12s\n' "hupsafe -d true" "$t_hs" "1.00"
    printf '%-46s %10s %12s\n' "tmux new -d true" "$t_tmux" "$(ratio "$t_tmux" "$t_hs")"
    printf '%-46s %10s %12s\n' "screen -dm true" "$t_screen" "$(ratio "$t_screen" "$t_hs")"
    echo
    printf '%-46s %10s\n' "hupsafe ps, 1,000 jobs, median of 20 (ms)" "$ps_ms"
    printf '%-46s %10s\n' "goal < 50 ms" "$(python3 -c "print('met' if float('$ps_ms') < 50 else 'MISSED')")"
    printf '%-46s %10s\n' "hupsafe __jobs, 1,000 jobs, median of 20 (ms)" "$jobs_ms"
    printf '%-46s %10s\n' "hupsafe -d true, 1,000 jobs (us)" "$t_plain"
    printf '%-46s %10s\n' "... with keep_finished = 7d (us)" "$t_keep"
    printf '%-46s %10s\n' "goal: keep_finished costs < 1 ms" "$( ((t_keep - t_plain < 1000)) && echo met || echo MISSED)"
    echo
    printf '%-46s %10s %10s %10s %12s\n' "idle detached job's supervisor (KiB)" "VmRSS" "PSS" "private" "VmRSS vs kept"
    printf '%-46s %10s %10s %10s %12s\n' "inherited memory kept (baseline, median of $n_kept)" "$kept_kib" "$kept_pss" "$kept_priv" "1.00"
    printf '%-46s %10s %10s %10s %12s\n' "hupsafe as shipped (median of $n_sup)" "$rss_kib" "$pss_kib" "$priv_kib" "$(ratio "$rss_kib" "$kept_kib")"
    printf '%-46s %10s %10s %10s\n' "its session holder, baseline (median)" "$kh_rss" "$kh_pss" "$kh_priv"
    printf '%-46s %10s %10s %10s\n' "its session holder, as shipped (median)" "$h_rss" "$h_pss" "$h_priv"
    printf '%-46s %10s %10s %10s\n' "a job's two processes, as shipped" "-" \
        "$((pss_kib + h_pss))" "$((priv_kib + h_priv))"
    printf '%-46s %10s\n' "supervisor VmRSS, largest (KiB)" "$rss_max"
    printf '%-46s %10s\n' "... one of them while attached (KiB)" "$rss_attached"
    printf '%-46s %10s\n' "... after its client detached (KiB)" "$rss_detached"
    printf '%-46s %10s\n' "goal VmRSS <= 2048 KiB" "$( ((rss_kib <= 2048)) && echo met || echo MISSED)"
} | tee target/bench/jobs.txt
