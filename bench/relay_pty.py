#!/usr/bin/env python3
"""bench/relay_pty.py: the terminal end of bench/relay.sh.

  relay_pty.py drain CMD...   run CMD as the session leader of a new 50x200
                              pty, read everything it shows as fast as
                              possible; print "<seconds> <bytes>"
  relay_pty.py echo N CMD...  run CMD (a `cat`) on a new pty, type N keys one
                              at a time, each after the echo of the previous
                              one; print the echo latencies "<median_us>
                              <p99_us>"
  relay_pty.py echo-raw N CMD...  the same, typing only once CMD (a relay)
                              has put the terminal in raw mode
  relay_pty.py first MARKER CMD...  run CMD (an attach) on a new 24x80 pty;
                              print the milliseconds until MARKER is shown
                              and the bytes shown by then, then end CMD
"""

import errno
import fcntl
import os
import select
import signal
import struct
import sys
import termios
import time


def spawn(argv, rows=50, cols=200):
    pid, fd = os.forkpty()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def read_some(fd, timeout):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return b""
    try:
        return os.read(fd, 1 << 16)
    except OSError as e:
        if e.errno == errno.EIO:
            return None
        raise


def drain(argv):
    start = time.monotonic()
    pid, fd = spawn(argv)
    total = 0
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        total += len(chunk)
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("%s failed: status %d" % (argv, code))
    print("%.3f %d" % (elapsed, total))


def wait_for(fd, want, timeout):
    seen = b""
    deadline = time.monotonic() + timeout
    while want not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.exit("no echo of %r; the terminal showed %r" % (want, seen[-200:]))
        chunk = read_some(fd, left)
        if chunk is None:
            sys.exit("the terminal closed; it showed %r" % seen[-200:])
        seen += chunk
    return seen


def echo(n, argv, wait_raw):
    pid, fd = spawn(argv)
    if wait_raw:
        # A relay is ready once it has put this terminal in raw mode; keys
        # typed before are echoed by the terminal itself.
        deadline = time.monotonic() + 30
        while termios.tcgetattr(fd)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                sys.exit("the relay never put the terminal in raw mode")
            time.sleep(0.001)
    # The first key also waits for the program to be ready.
    os.write(fd, b"!")
    wait_for(fd, b"!", 30)
    lat = []
    for i in range(n):
        key = bytes([ord("a") + i % 26])
        t0 = time.perf_counter()
        os.write(fd, key)
        wait_for(fd, key, 10)
        lat.append(time.perf_counter() - t0)
    os.write(fd, b"\r\x04")
    while read_some(fd, 5) not in (None, b""):
        pass
    os.waitpid(pid, 0)
    lat.sort()
    print("%.0f %.0f" % (lat[len(lat) // 2] * 1e6, lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1e6))


def first(marker, argv):
    start = time.monotonic()
    pid, fd = spawn(argv, 24, 80)
    seen = wait_for(fd, marker.encode(), 30)
    elapsed = time.monotonic() - start
    os.kill(pid, signal.SIGTERM)
    while read_some(fd, 5) not in (None, b""):
        pass
    os.waitpid(pid, 0)
    print("%.1f %d" % (elapsed * 1e3, len(seen)))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "drain":
        drain(sys.argv[2:])
    elif len(sys.argv) >= 4 and sys.argv[1] in ("echo", "echo-raw"):
        echo(int(sys.argv[2]), sys.argv[3:], sys.argv[1] == "echo-raw")
    elif len(sys.argv) >= 4 and sys.argv[1] == "first":
        first(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)


main()
