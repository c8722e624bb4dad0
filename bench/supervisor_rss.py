"""Resident size of the supervisors of a state directory's running jobs.

usage: supervisor_rss.py JOBS_DIR WANT
Waits (up to 60 s) until WANT jobs run, then prints one line:
  COUNT MEDIAN_VMRSS_KIB MEDIAN_PSS_KIB LARGEST_VMRSS_KIB MEDIAN_PRIVATE_KIB
(PSS splits shared pages among the processes that share them; PRIVATE is
Private_Clean + Private_Dirty: what the machine would get back if the
supervisor ended, the pages no other process maps.)
"""
import json
import os
import sys
import time

jobs, want = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while True:
    pids = []
    for d in os.listdir(jobs):
        try:
            r = json.load(open(os.path.join(jobs, d, "record.json")))
        except (OSError, ValueError):
            continue
        if r.get("state") == "running" and r.get("writer"):
            pids.append(r["writer"]["pid"])
    if len(pids) >= want or time.monotonic() > deadline:
        break
    time.sleep(0.05)
time.sleep(0.5)
rss, pss, priv = [], [], []
for p in pids:
    for line in open("/proc/%d/status" % p):
        if line.startswith("VmRSS:"):
            rss.append(int(line.split()[1]))
    for line in open("/proc/%d/smaps_rollup" % p):
        if line.startswith("Pss:"):
            pss.append(int(line.split()[1]))
    own = 0
    for line in open("/proc/%d/smaps_rollup" % p):
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            own += int(line.split()[1])
    priv.append(own)
rss.sort()
pss.sort()
priv.sort()
print(len(pids), rss[len(rss) // 2], pss[len(pss) // 2], rss[-1], priv[len(priv) // 2])
