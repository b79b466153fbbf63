/*
 * stdin.c - standard input as "-" (see stdin.h): recognising EVTX, keeping it in a temporary
 * file, or streaming JSON into the JSON event reader.
 */
#include "cli/stdin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK ((size_t)1 << 20)

static void report(va_diag_fn diag, void *ud, va_err code, int64_t off, const char *what, int err) {
    if (!diag) return;
    char msg[1024];
    snprintf(msg, sizeof msg, "%.900s: %s", what, strerror(err));
    va_diag d = {VA_SEV_ERROR, code, "-", NULL, -1, off, msg};
    diag(ud, &d);
}

/* read() from fd 0, waiting in poll() so that a signal (which sets *stop) ends the wait even
 * with SA_RESTART.  Bytes read, 0 at the end, -1 on error (errno), -2 if stopped. */
static ssize_t read_in(void *buf, size_t n, const volatile sig_atomic_t *stop) {
    for (;;) {
        if (stop && *stop) return -2;
        struct pollfd p = {STDIN_FILENO, POLLIN, 0};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        ssize_t got = read(STDIN_FILENO, buf, n);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        return got;
    }
}

/* fd 0 is a regular file positioned at its start: the readers can take it as it is. */
static int regular_from_start(void) {
    struct stat sb;
    return !fstat(STDIN_FILENO, &sb) && S_ISREG(sb.st_mode) &&
           lseek(STDIN_FILENO, 0, SEEK_CUR) == 0;
}

int va_stdin_twice(int argc, char **argv, int from) {
    int n = 0;
    for (int i = from; i < argc; i++) n += !strcmp(argv[i], "-");
    if (n > 1) fprintf(stderr, "vaern: standard input (-) can be read only once\n");
    return n > 1;
}

int va_stdin_is_evtx(va_stdin *s, const volatile sig_atomic_t *stop) {
    if (s->looked) return s->evtx;
    s->looked = 1;
    if ((s->in_place = regular_from_start())) {
        s->evtx = pread(STDIN_FILENO, s->head, 8, 0) == 8 && !memcmp(s->head, "ElfFile", 8);
        return s->evtx;
    }
    while (s->nhead < 8) {
        ssize_t got = read_in(s->head + s->nhead, 8 - s->nhead, stop);
        if (got <= 0) break; /* end, error or signal: whatever follows says so */
        s->nhead += (size_t)got;
    }
    s->evtx = s->nhead == 8 && !memcmp(s->head, "ElfFile", 8);
    return s->evtx;
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        c += w, n -= (size_t)w;
    }
    return 0;
}

/* An unlinked file for reading and writing in dir; -1 (errno) if none can be made. */
static int temp_file(const char *dir) {
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    /* Not every file system has O_TMPFILE: a named file, unlinked at once. */
    char path[4096];
    if (snprintf(path, sizeof path, "%s/vaern-stdin-XXXXXX", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) unlink(path);
    return fd;
}

va_err va_stdin_spool(va_stdin *s, const volatile sig_atomic_t *stop, va_diag_fn diag,
                      void *diag_ud) {
    if (!s->looked) s->in_place = regular_from_start();
    if (s->in_place) return VA_OK;
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char what[900];
    snprintf(what, sizeof what, "cannot keep standard input in a temporary file in %.800s", dir);
    int fd = temp_file(dir);
    if (fd < 0) {
        report(diag, diag_ud, VA_EIO, -1, what, errno);
        return VA_EIO;
    }
    char *block = malloc(BLOCK);
    va_err e = VA_OK;
    uint64_t off = 0;
    if (!block) {
        report(diag, diag_ud, VA_ENOMEM, -1, what, ENOMEM);
        e = VA_ENOMEM;
    } else if (s->nhead && write_all(fd, s->head, s->nhead)) {
        report(diag, diag_ud, VA_EIO, 0, what, errno);
        e = VA_EIO;
    }
    off = s->nhead;
    s->nhead = 0;
    while (!e) {
        ssize_t got = read_in(block, BLOCK, stop);
        if (got == -2) {
            e = VA_EUSAGE;
        } else if (got < 0) {
            report(diag, diag_ud, VA_EIO, (int64_t)off, "cannot read standard input", errno);
            e = VA_EIO;
        } else if (got == 0) {
            break;
        } else if (write_all(fd, block, (size_t)got)) {
            report(diag, diag_ud, VA_EIO, (int64_t)off, what, errno);
            e = VA_EIO;
        }
        off += got > 0 ? (uint64_t)got : 0;
    }
    free(block);
    /* The copy becomes standard input: the EVTX reader opens "-" as fd 0. */
    if (!e && dup2(fd, STDIN_FILENO) < 0) {
        report(diag, diag_ud, VA_EIO, -1, what, errno);
        e = VA_EIO;
    }
    close(fd);
    if (!e) s->in_place = 1;
    return e;
}

va_err va_stdin_json(va_stdin *s, const volatile sig_atomic_t *stop, va_diag_fn diag, void *diag_ud,
                     va_jsonev_stats *st, va_jsonev_fn fn, void *ud) {
    unsigned char *block = malloc(BLOCK);
    va_jsonev_reader *r = va_jsonev_new("-", NULL, diag, diag_ud, fn, ud);
    if (!block || !r) {
        free(block);
        va_jsonev_free(r);
        return VA_ENOMEM;
    }
    va_err e = s->nhead ? va_jsonev_feed(r, s->head, s->nhead) : VA_OK;
    s->nhead = 0;
    while (!e && !va_jsonev_stopped(r)) {
        ssize_t got = read_in(block, BLOCK, stop);
        if (got == -2) break;
        if (got < 0) {
            report(diag, diag_ud, VA_EIO, (int64_t)va_jsonev_get_stats(r)->bytes,
                   "cannot read standard input", errno);
            e = VA_EIO;
        } else if (got == 0) {
            e = va_jsonev_end(r);
            break;
        } else {
            e = va_jsonev_feed(r, block, (size_t)got);
        }
    }
    if (st) {
        const va_jsonev_stats *x = va_jsonev_get_stats(r);
        st->objects += x->objects, st->events += x->events, st->bad += x->bad;
        st->warnings += x->warnings, st->bytes += x->bytes;
        for (int i = 0; i < VA_JSONEV_NFORMATS_; i++) st->by_format[i] += x->by_format[i];
    }
    va_jsonev_free(r);
    free(block);
    return e;
}
