/*
 * paths.c - expansion of file and directory arguments (see paths.h).
 */
#include "cli/paths.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int push(va_paths *p, const char *s) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v) return -1;
        p->v = v, p->cap = cap;
    }
    if (!(p->v[p->n] = strdup(s))) return -1;
    p->n++;
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

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(va_paths *p, const char *dir, const char *const *exts, int depth) {
    if (depth > 64) return 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "vaern: %s: cannot read directory: %s\n", dir, strerror(errno));
        return -1;
    }
    va_paths sub = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        char *full = malloc(l);
        if (!full) {
            rc = -1;
            break;
        }
        snprintf(full, l, "%s/%s", dir, e->d_name);
        if (push(&sub, full)) rc = -1;
        free(full);
        if (rc) break;
    }
    closedir(d);
    if (sub.n) qsort(sub.v, sub.n, sizeof *sub.v, cmp);
    for (size_t i = 0; i < sub.n && !rc; i++) {
        struct stat sb;
        if (stat(sub.v[i], &sb)) continue;
        if (S_ISDIR(sb.st_mode))
            rc = walk(p, sub.v[i], exts, depth + 1);
        else if (S_ISREG(sb.st_mode) && has_ext(sub.v[i], exts))
            rc = push(p, sub.v[i]);
    }
    va_paths_free(&sub);
    return rc;
}

int va_paths_add(va_paths *p, const char *arg, const char *const *exts) {
    struct stat sb;
    if (stat(arg, &sb)) {
        fprintf(stderr, "vaern: %s: %s\n", arg, strerror(errno));
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) return walk(p, arg, exts, 0);
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

int va_path_is_evtx(const char *path) {
    static const char *const evtx[] = {".evtx", NULL};
    return has_ext(path, evtx);
}

void va_paths_free(va_paths *p) {
    for (size_t i = 0; i < p->n; i++) free(p->v[i]);
    free(p->v);
    p->v = NULL, p->n = p->cap = 0;
}
