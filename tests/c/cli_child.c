/* The command the CLI tests run under `nohup` (GNU's and hupsafe's): it
 * reports what it was handed, so that two runs can be compared line by
 * line. Everything about fds 0-2 is read before this program opens any
 * file of its own (a closed fd would otherwise be reused and look open).
 *
 * Report (to the file named by $REPORT, never to fds 0-2):
 *   argv[N]=HEX                  every argument, bytes in hex
 *   fdN open=0|1 tty=0|1 acc=R|W|RW append=0|1 target=...   (pty -> "pty")
 *   fd0 read=...                 what a non-blocking read of one byte gives
 *   extra-fds=...                descriptors above 2 left open by nohup
 *   SigIgn/SigBlk/Umask          from /proc/self/status
 *   LD_PRELOAD=...               as inherited ("<unset>" if not set)
 *   shim-mapped=yes|no           whether a libnohup-HASH.so is loaded
 * Then "child-stdout" on fd 1 and "child-stderr" on fd 2, and exit 3.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char report[16384];
static size_t used;

static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(report + used, sizeof report - used, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof report - used)
        used += (size_t)n;
}

static void describe_fd(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1) {
        add("fd%d open=0\n", fd);
        return;
    }
    char link[64], target[512] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    if (strncmp(target, "/dev/pts/", 9) == 0)
        strcpy(target, "pty");
    const char *acc = (fl & O_ACCMODE) == O_RDONLY ? "R" : (fl & O_ACCMODE) == O_WRONLY ? "W" : "RW";
    add("fd%d open=1 tty=%d acc=%s append=%d target=%s\n", fd, isatty(fd), acc, !!(fl & O_APPEND),
        target);
}

int main(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        add("argv[%d]=", i);
        for (const unsigned char *p = (const unsigned char *)argv[i]; *p; p++)
            add("%02x", *p);
        add("\n");
    }
    for (int fd = 0; fd < 3; fd++)
        describe_fd(fd);
    if (fcntl(0, F_GETFL) != -1) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int ready = poll(&p, 1, 0);
        if (ready == 1 && (p.revents & (POLLIN | POLLHUP))) {
            char c;
            ssize_t n = read(0, &c, 1);
            if (n < 0)
                add("fd0 read=error %s\n", strerror(errno));
            else
                add("fd0 read=%zd bytes\n", n);
        } else if (ready == 1) {
            add("fd0 read=not readable (revents %#x)\n", p.revents);
        } else {
            add("fd0 read=would block\n");
        }
    }

    /* Descriptors above 2 that nohup left open (its saved stderr must be
     * close-on-exec). */
    DIR *d = opendir("/proc/self/fd");
    add("extra-fds=");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            int fd = atoi(e->d_name);
            if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d))
                add("%d ", fd);
        }
        closedir(d);
    }
    add("\n");

    FILE *s = fopen("/proc/self/status", "r");
    char line[256];
    while (s && fgets(line, sizeof line, s))
        if (!strncmp(line, "SigIgn", 6) || !strncmp(line, "SigBlk", 6) || !strncmp(line, "Umask", 5))
            add("%s", line);
    if (s)
        fclose(s);
    const char *preload = getenv("LD_PRELOAD");
    add("LD_PRELOAD=%s\n", preload ? preload : "<unset>");

    /* Whether a hupsafe shim (libnohup-HASH.so) is really loaded. */
    int mapped = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char mline[1024];
    while (maps && fgets(mline, sizeof mline, maps))
        if (strstr(mline, "/libnohup-"))
            mapped = 1;
    if (maps)
        fclose(maps);
    add("shim-mapped=%s\n", mapped ? "yes" : "no");

    const char *path = getenv("REPORT");
    if (path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            if (write(fd, report, used) < 0)
                return 98;
            close(fd);
        }
    }
    if (write(1, "child-stdout\n", 13) < 0) {
        /* a closed or full stdout is part of what is being tested */
    }
    if (write(2, "child-stderr\n", 13) < 0) {
    }
    return 3;
}
