"""Resident size of the supervisors of a state directory's running jobs.

usage: supervisor_rss.py JOBS_DIR WANT
Waits (up to 60 s) until WANT jobs run, then prints one line:
  COUNT MEDIAN_VMRSS_KIB MEDIAN_PSS_KIB LARGEST_VMRSS_KIB MEDIAN_PRIVATE_KIB
  HOLDER_VMRSS_KIB HOLDER_PSS_KIB HOLDER_PRIVATE_KIB
(PSS splits shared pages among the processes that share them; PRIVATE is
Private_Clean + Private_Dirty: what the machine would get back if the
supervisor ended, the pages no other process maps. The HOLDER fields are
the medians for each job's session holder, the supervisor's small child
that leads the program's session: the program's session leader; "-" when
no job has one.)
"""
import json
import os
import sys
import time

jobs, want = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while True:
    pids = []
    programs = []
    for d in os.listdir(jobs):
        try:
            r = json.load(open(os.path.join(jobs, d, "record.json")))
        except (OSError, ValueError):
            continue
        if r.get("state") == "running" and r.get("writer"):
            pids.append(r["writer"]["pid"])
            programs.append((r.get("program") or {}).get("pid"))
    if len(pids) >= want or time.monotonic() > deadline:
        break
    time.sleep(0.05)
time.sleep(0.5)


def sizes(p):
    """(VmRSS, PSS, private) of pid p, in KiB."""
    rss = pss = own = 0
    for line in open("/proc/%d/status" % p):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    for line in open("/proc/%d/smaps_rollup" % p):
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
        elif line.startswith(("Private_Clean:", "Private_Dirty:")):
            own += int(line.split()[1])
    return rss, pss, own


def holder(supervisor, program):
    """The session leader of the program, if it is the supervisor's child."""
    try:
        stat = open("/proc/%d/stat" % program).read()
        session = int(stat[stat.rindex(")") + 2:].split()[3])
        hstat = open("/proc/%d/stat" % session).read()
        ppid = int(hstat[hstat.rindex(")") + 2:].split()[1])
    except (OSError, TypeError, ValueError, IndexError):
        return None
    return session if ppid == supervisor else None


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else "-"


sup = [sizes(p) for p in pids]
held = [holder(s, p) for s, p in zip(pids, programs)]
hol = [sizes(h) for h in held if h]
print(len(pids), median([s[0] for s in sup]), median([s[1] for s in sup]),
      max(s[0] for s in sup), median([s[2] for s in sup]),
      median([h[0] for h in hol]), median([h[1] for h in hol]), median([h[2] for h in hol]))
