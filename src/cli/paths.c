/*
 * paths.c - expansion of file and directory arguments (see paths.h).
 */
#include "cli/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/array.h"
#include "core/err.h"
#include "core/walk.h"

static int push(va_paths *p, const char *s) {
    char *c = NULL;
    if (VA_ARRAY_GROW(p->v, p->cap, p->n + 1) || !(c = strdup(s))) return -1;
    p->v[p->n++] = c;
    return 0;
}

static int has_ext(const char *name, const char *const *exts) {
    size_t l = strlen(name);
    for (; *exts; exts++) {
        size_t e = strlen(*exts);
        if (l > e && strcasecmp(name + l - e, *exts) == 0) return 1;
    }
    return 0;
}

typedef struct adder {
    va_paths *p;
    int oom;
} adder;

static int add_found(void *ud, const char *path, const struct stat *sb) {
    adder *a = ud;
    (void)sb;
    if (push(a->p, path)) a->oom = 1;
    return a->oom;
}

int va_paths_add(va_paths *p, const char *arg, const char *const *exts) {
    if (!strcmp(arg, "-")) { /* standard input (cli/stdin.h): taken as it is */
        if (!push(p, arg)) return 0;
        fprintf(stderr, "vaern: out of memory\n");
        return -1;
    }
    struct stat sb;
    if (stat(arg, &sb)) {
        va_diag_printf(stderr, "vaern: %s: %s", arg, strerror(errno));
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        adder a = {p, 0};
        va_walk_opts o = {exts, 1};
        va_err e = va_walk_dir(arg, &o, add_found, &a, va_diag_print, NULL);
        if (a.oom) fprintf(stderr, "vaern: out of memory\n");
        return e || a.oom ? -1 : 0;
    }
    if (push(p, arg)) {
        fprintf(stderr, "vaern: out of memory\n");
        return -1;
    }
    return 0;
}

int va_paths_add_args(va_paths *p, int argc, char **argv, int from, const char *const *exts) {
    int missing = 0;
    for (int i = from; i < argc; i++)
        if (va_paths_add(p, argv[i], exts)) missing = 1;
    return missing;
}

FILE *va_paths_create(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) /* errno is fopen's: nothing may run in between (isatty would overwrite it) */
        va_diag_printf(stderr, "vaern: cannot create %s: %s", path, strerror(errno));
    return f;
}

int va_parse_threads(const char *s, int *out) {
    /* Digits only: strtol alone would take " 2", "+2" and "2 " too. */
    long n = 0;
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9' && n <= 64) n = n * 10 + (s[i++] - '0');
    if (!i || s[i] || n > 64) {
        fprintf(stderr, "vaern: --threads takes a number from 0 to 64 (0: all cores)\n");
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* Digits of s as a number, in *v; the index past them, or 0 if none or too large. */
static size_t digits(const char *s, uint64_t *v) {
    size_t i = 0;
    *v = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (*v > (UINT64_MAX - 9) / 10) return 0;
        *v = *v * 10 + (uint64_t)(s[i] - '0');
    }
    return i;
}

int va_parse_size(const char *opt, const char *s, uint64_t *out) {
    if (!strcmp(s, "unlimited")) {
        *out = UINT64_MAX;
        return 0;
    }
    uint64_t v;
    size_t i = digits(s, &v);
    int shift = 0;
    if (i && (s[i] == 'K' || s[i] == 'k'))
        shift = 10, i++;
    else if (i && (s[i] == 'M' || s[i] == 'm'))
        shift = 20, i++;
    else if (i && (s[i] == 'G' || s[i] == 'g'))
        shift = 30, i++;
    if (!i || s[i] || !v || (shift && v > (UINT64_MAX >> shift))) {
        va_diag_printf(stderr,
                       "vaern: %s takes a size: bytes, or a number with K, M or G, or "
                       "unlimited (not '%s')",
                       opt, s);
        return -1;
    }
    *out = v << shift;
    return 0;
}

int va_parse_count(const char *opt, const char *s, uint64_t *out) {
    uint64_t v;
    size_t i = digits(s, &v);
    if (!i || s[i] || !v) {
        va_diag_printf(stderr, "vaern: %s takes a whole number of at least 1 (not '%s')", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int va_path_is_evtx(const char *path) {
    static const char *const evtx[] = {".evtx", NULL};
    return has_ext(path, evtx);
}

ptrdiff_t va_paths_find(const va_paths *p, const char *s) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i], s)) return (ptrdiff_t)i;
    return -1;
}

void va_paths_remove(va_paths *p, size_t i) {
    free(p->v[i]);
    memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof *p->v);
    p->n--;
}

const char *va_paths_cache_default(char *buf, size_t cap) {
    const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (x && *x)
        n = snprintf(buf, cap, "%s/vaern", x);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.cache/vaern", home);
    else
        return NULL;
    if (n < 0 || (size_t)n >= cap) return NULL;
    /* The folders above it may not exist yet ($HOME/.cache on a new account, or an
     * $XDG_CACHE_HOME just named): make them, as the XDG base directory spec asks, or the
     * cache would silently not be used.  $HOME itself is never made (system users have
     * HOME=/nonexistent).  Failures show when the cache is written. */
    size_t from = x && *x ? 1 : strlen(home) + 1;
    for (size_t i = from; i < (size_t)n; i++)
        if (buf[i] == '/') {
            buf[i] = '\0';
            mkdir(buf, 0700);
            buf[i] = '/';
        }
    return buf;
}

int va_paths_cache_check(const char *dir) {
    struct stat cb;
    int err = 0;
    if (!stat(dir, &cb))
        err = S_ISDIR(cb.st_mode) ? 0 : ENOTDIR;
    else if (mkdir(dir, 0700))
        err = errno;
    if (!err) return 0;
    va_diag_printf(stderr, "vaern: --cache %s: %s", dir, strerror(err));
    return -1;
}

void va_paths_free(va_paths *p) {
    for (size_t i = 0; i < p->n; i++) free(p->v[i]);
    free(p->v);
    p->v = NULL, p->n = p->cap = 0;
}
