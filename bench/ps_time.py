"""Median wall time of `hupsafe ps` (or `hupsafe ARGS...`), in
milliseconds, over 20 runs.

usage: ps_time.py HUPSAFE LINES [ARGS...]
LINES is the number of lines it must print (for ps: the header plus one per
job): a run that lists anything else is not the figure asked for.
"""
import subprocess
import sys
import time

hupsafe, lines = sys.argv[1], int(sys.argv[2])
args = sys.argv[3:] or ["ps"]
runs = []
for _ in range(20):
    t0 = time.perf_counter()
    out = subprocess.run([hupsafe] + args, capture_output=True, check=True).stdout
    runs.append((time.perf_counter() - t0) * 1000)
assert out.count(b"\n") == lines, out.count(b"\n")
runs.sort()
print("%.1f" % runs[len(runs) // 2])
