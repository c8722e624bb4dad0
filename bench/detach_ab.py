#!/usr/bin/env python3
"""bench/detach_ab.py OLD NEW [N]: two hupsafe binaries' detached starts, A/B.

For each binary, N (default 100) interleaved `hupsafe -d true` starts with
every stream on /dev/null (nothing holds the caller back), each followed at
once by `hupsafe wait ID`: the median start time, and how often that `wait`
said something other than the job's status (127: "lost"). Each binary gets
a state directory of its own. A report, never an assertion.

Used for the starter's wait for the supervisor's first record
(relay::Handover): before it, the starter could return first and a `wait`
right after found the job lost.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: bench/detach_ab.py OLD NEW [N]")
    old, new = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) == 4 else 100
    runs = {}
    for name, binary in (("old", old), ("new", new)):
        d = tempfile.mkdtemp(prefix="hupsafe-detach-ab-")
        os.chmod(d, 0o700)
        env = dict(os.environ, HUPSAFE_STATE_DIR=os.path.join(d, "state"))
        runs[name] = {"bin": binary, "env": env, "ms": [], "lost": 0, "id": 0}
    quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(n):
        for r in runs.values():
            t0 = time.perf_counter()
            subprocess.run([r["bin"], "-d", "true"], env=r["env"], check=True, **quiet)
            r["ms"].append((time.perf_counter() - t0) * 1e3)
            r["id"] += 1
            w = subprocess.run([r["bin"], "wait", str(r["id"])], env=r["env"], **quiet)
            if w.returncode != 0:
                r["lost"] += 1
    for name, r in runs.items():
        print(f"{name}: start median {statistics.median(r['ms']):.2f} ms; "
              f"`wait` right after said lost {r['lost']} of {n}")


if __name__ == "__main__":
    main()
