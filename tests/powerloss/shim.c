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
 *
 * Names: an fsync of the folder itself makes its names durable — a name gone from the folder
 * (unlinked, or renamed away) loses its copy, and a renamed file (a name with no copy whose
 * content equals the copy of a name that is gone) takes that copy over: the atomic "write a
 * temporary file, fsync it, rename it, fsync the folder" then survives exactly as on a disk.
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
#include <dirent.h>
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
    /* Read through a descriptor of our own: the program's may be write-only. */
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) abort();
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) abort();
    char buf[65536];
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) abort();
        if (r == 0) break;
        if (write(out, buf, (size_t)r) != r) abort();
    }
    close(in);
    close(out);
    if (rename(tmp, dst) != 0) abort();
}

static int same_content(const char *a, const char *b) {
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    int same = fa >= 0 && fb >= 0;
    char x[4096], y[4096];
    while (same) {
        ssize_t ra = read(fa, x, sizeof x), rb = read(fb, y, sizeof y);
        if (ra != rb || ra < 0 || memcmp(x, y, (size_t)ra) != 0) same = 0;
        else if (ra == 0) break;
    }
    if (fa >= 0) close(fa);
    if (fb >= 0) close(fb);
    return same;
}

/* The folder was fsynced: its names as they stand now are durable. */
static void shadow_names(void) {
    const char *dir = getenv("POWERLOSS_DIR");
    const char *shadow = getenv("POWERLOSS_SHADOW");
    if (!dir || !shadow) return;
    DIR *sd = opendir(shadow);
    if (!sd) return;
    struct dirent *e;
    char real[PATH_MAX], copy[PATH_MAX], other[PATH_MAX], taken[PATH_MAX];
    while ((e = readdir(sd)) != NULL) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".powerloss-tmp")) continue;
        snprintf(real, sizeof real, "%s/%s", dir, e->d_name);
        snprintf(copy, sizeof copy, "%s/%s", shadow, e->d_name);
        if (access(real, F_OK) == 0) continue;
        /* Gone from the folder: renamed to a name with no copy of its own, or unlinked. */
        int moved = 0;
        DIR *dd = opendir(dir);
        struct dirent *f;
        while (dd && (f = readdir(dd)) != NULL) {
            if (f->d_name[0] == '.') continue;
            snprintf(taken, sizeof taken, "%s/%s", shadow, f->d_name);
            if (access(taken, F_OK) == 0) continue;
            snprintf(other, sizeof other, "%s/%s", dir, f->d_name);
            if (same_content(other, copy)) {
                if (rename(copy, taken) != 0) abort();
                moved = 1;
                break;
            }
        }
        if (dd) closedir(dd);
        if (!moved) unlink(copy);
    }
    closedir(sd);
}

static void on_sync(int fd) {
    const char *dir = getenv("POWERLOSS_DIR");
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (dir && n > 0) {
        path[n] = 0;
        if (strcmp(path, dir) == 0) {
            shadow_names();
            return;
        }
    }
    shadow_copy(fd);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd);
    if (r == 0) {
        pthread_mutex_lock(&lock);
        on_sync(fd);
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
        on_sync(fd);
        pthread_mutex_unlock(&lock);
    }
    return r;
}
