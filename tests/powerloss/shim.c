/*
 * Power-loss shim for the shift-log tests (LD_PRELOAD; built by tests/power_loss.rs with gcc).
 *
 * Model: a write reaches the disk only when the program fsyncs it. Every successful fsync(2) or
 * fdatasync(2) of a regular file inside $POWERLOSS_DIR copies that file, as it then stands, to
 * $POWERLOSS_SHADOW (atomically: a temporary file renamed over the previous copy). The shadow
 * folder is therefore exactly what a disk that drops every unsynced write would hold; "cutting
 * the power" is killing the process and replacing the shift log's files with their shadow copies
 * (a file never fsynced is lost altogether). See docs/robustness.md, "Power loss".
 *
 * Only the shim's own bookkeeping runs between the real fsync returning and the program seeing
 * it return: a kill in between leaves the previous copy, which is what a power cut just before
 * the fsync completed would leave.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void shadow_copy(int fd) {
    const char *dir = getenv("POWERLOSS_DIR");
    const char *shadow = getenv("POWERLOSS_SHADOW");
    if (!dir || !shadow) return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    size_t dl = strlen(dir);
    if (strncmp(path, dir, dl) != 0 || path[dl] != '/' || strchr(path + dl + 1, '/')) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char dst[PATH_MAX], tmp[PATH_MAX + 32];
    if (snprintf(dst, sizeof dst, "%s/%s", shadow, path + dl + 1) >= (int)sizeof dst) abort();
    snprintf(tmp, sizeof tmp, "%s.powerloss-tmp", dst);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) abort();
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) abort(); /* a write-only fd: the shift log never opens one */
        if (r == 0) break;
        if (write(out, buf, (size_t)r) != r) abort();
        off += r;
    }
    close(out);
    if (rename(tmp, dst) != 0) abort();
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd);
    if (r == 0) {
        pthread_mutex_lock(&lock);
        shadow_copy(fd);
        pthread_mutex_unlock(&lock);
    }
    return r;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r = real(fd);
    if (r == 0) {
        pthread_mutex_lock(&lock);
        shadow_copy(fd);
        pthread_mutex_unlock(&lock);
    }
    return r;
}
