/*
 * walk.c - recursive directory walk that reads each directory once (see walk.h).
 *
 * Directories are identified by device and inode, kept in one array with a core/hash.h index
 * over it; the directories of the current path are a stack of positions in that array, so a
 * directory seen again is told apart as a loop (on the stack) or a second link (elsewhere).
 * A directory's names are read, and its entries looked at (fstatat on the open directory: one
 * path component to resolve, not the whole path), and the directory closed before recursing,
 * so the walk holds one directory descriptor whatever the depth.
 */
#include "core/walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/array.h"
#include "core/hash.h"

typedef struct dir_id {
    dev_t dev;
    ino_t ino;
} dir_id;

typedef struct walker {
    const va_walk_opts *o;
    va_walk_fn fn;
    void *ud;
    va_diag_fn diag;
    void *diag_ud;
    dir_id *seen; /* every directory read, in walk order */
    size_t nseen, capseen;
    va_hash index;  /* dir_id hash -> position in seen */
    uint32_t *path; /* positions in seen of the directories being walked, root first */
    size_t npath, cappath;
    va_err first;
    int stop;
} walker;

static void report(walker *w, va_severity sev, va_err code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void report(walker *w, va_severity sev, va_err code, const char *path, const char *fmt,
                   ...) {
    if (!w->first) w->first = code;
    if (code == VA_ENOMEM) w->stop = 1;
    if (!w->diag) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    va_diag d = {sev, code, path, NULL, -1, -1, msg};
    w->diag(w->diag_ud, &d);
}

static int wanted(const walker *w, const char *name) {
    if (!w->o || !w->o->exts) return 1;
    size_t l = strlen(name);
    for (const char *const *e = w->o->exts; *e; e++) {
        size_t n = strlen(*e);
        if (l > n && (w->o->nocase ? strcasecmp(name + l - n, *e) : strcmp(name + l - n, *e)) == 0)
            return 1;
    }
    return 0;
}

static uint64_t id_hash(dir_id id) {
    return va_hash_u64(va_hash_u64(0, (uint64_t)id.dev), (uint64_t)id.ino);
}

/* Position of id in w->seen, or VA_HASH_END. */
static uint32_t find_seen(const walker *w, dir_id id) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&w->index, id_hash(id), &it); i != VA_HASH_END;
         i = va_hash_next(&w->index, &it))
        if (w->seen[i].dev == id.dev && w->seen[i].ino == id.ino) return i;
    return VA_HASH_END;
}

/* A directory entry: its name, whether the caller wants it (its ending), and what fstatat said
 * about it (err 0), or why not (err: errno), or neither (skip: a regular file whose name is
 * not wanted, never looked at). */
typedef struct entry {
    char *name;
    int want, err, skip;
    struct stat sb;
} entry;

static int cmp_entries(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* The entries of dir (hidden ones left out), sorted by name and looked at; NULL with *n = 0 if
 * there are none or the directory cannot be read (reported). */
static entry *read_entries(walker *w, const char *dir, size_t *n) {
    entry *v = NULL;
    size_t cap = 0;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        report(w, VA_SEV_ERROR, VA_EIO, dir, "cannot read directory: %s", strerror(errno));
        return NULL;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            /* The names so far are still walked: what was listed is not lost. */
            if (errno)
                report(w, VA_SEV_ERROR, VA_EIO, dir, "cannot read the whole directory: %s",
                       strerror(errno));
            break;
        }
        if (de->d_name[0] == '.') continue;
        char *s = NULL;
        if (VA_ARRAY_GROW(v, cap, *n + 1) || !(s = strdup(de->d_name))) {
            report(w, VA_SEV_ERROR, VA_ENOMEM, dir, "out of memory");
            break;
        }
        entry *e = &v[(*n)++];
        e->name = s;
        e->err = 0;
        e->want = wanted(w, s);
        e->skip = de->d_type == DT_REG && !e->want;
    }
    if (*n) qsort(v, *n, sizeof *v, cmp_entries);
    for (size_t i = 0; i < *n; i++)
        if (!v[i].skip && fstatat(dirfd(d), v[i].name, &v[i].sb, 0)) v[i].err = errno;
    closedir(d);
    return v;
}

/* Walk dir, which is on top of the path stack. */
static void walk(walker *w, const char *dir) {
    size_t n;
    entry *names = read_entries(w, dir, &n);
    size_t dl = strlen(dir);
    for (size_t i = 0; i < n && !w->stop; i++) {
        if (names[i].skip) continue;
        size_t pl = dl + strlen(names[i].name) + 2;
        char *path = malloc(pl);
        if (!path) {
            report(w, VA_SEV_ERROR, VA_ENOMEM, dir, "out of memory");
            break;
        }
        /* "/" as a root would otherwise give "//name" */
        snprintf(path, pl, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names[i].name);
        const struct stat *sb = &names[i].sb;
        if (names[i].err) {
            if (names[i].want) {
                if (w->fn(w->ud, path, NULL)) w->stop = 1;
            } else {
                /* Its type is unknown: it may be a directory whose files are missed. */
                report(w, names[i].err == ENOENT ? VA_SEV_WARN : VA_SEV_ERROR, VA_EIO, path,
                       "cannot look at: %s", strerror(names[i].err));
            }
        } else if (S_ISDIR(sb->st_mode)) {
            dir_id id = {sb->st_dev, sb->st_ino};
            uint32_t at = find_seen(w, id);
            if (at == VA_HASH_END) {
                if (w->npath > VA_WALK_MAX_DEPTH)
                    report(w, VA_SEV_ERROR, VA_ELIMIT, path,
                           "directories nested deeper than %d levels: not read", VA_WALK_MAX_DEPTH);
                else if (VA_ARRAY_GROW(w->seen, w->capseen, w->nseen + 1) ||
                         VA_ARRAY_GROW(w->path, w->cappath, w->npath + 1) ||
                         va_hash_insert(&w->index, id_hash(id), (uint32_t)w->nseen))
                    report(w, VA_SEV_ERROR, VA_ENOMEM, path, "out of memory");
                else {
                    w->seen[w->nseen] = id;
                    w->path[w->npath++] = (uint32_t)w->nseen++;
                    walk(w, path);
                    w->npath--;
                }
            } else {
                size_t k = 0;
                while (k < w->npath && w->path[k] != at) k++;
                if (k < w->npath) {
                    /* Name the directory it leads back to by its path in this walk. */
                    size_t cut = dl;
                    for (size_t up = w->npath - 1; up > k; up--)
                        while (cut > 0 && dir[--cut] != '/') {}
                    if (!cut && dir[0] == '/') cut = 1; /* the root "/" */
                    report(w, VA_SEV_WARN, VA_EIO, path,
                           "directory loop: this leads back to %.*s; not followed",
                           (int)(cut ? cut : dl), dir);
                }
                /* else a second link to a directory read already: its files are in */
            }
        } else if (names[i].want) {
            if (S_ISREG(sb->st_mode)) {
                if (w->fn(w->ud, path, sb)) w->stop = 1;
            } else {
                report(w, VA_SEV_WARN, VA_EIO, path, "not a regular file: not read");
            }
        }
        free(path);
    }
    for (size_t i = 0; i < n; i++) free(names[i].name);
    free(names);
}

va_err va_walk_dir(const char *dir, const va_walk_opts *o, va_walk_fn fn, void *ud, va_diag_fn diag,
                   void *diag_ud) {
    struct stat sb;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) return VA_EUSAGE;
    walker w = {.o = o, .fn = fn, .ud = ud, .diag = diag, .diag_ud = diag_ud};
    va_hash_init(&w.index);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    char *root = strndup(dir, n);
    dir_id id = {sb.st_dev, sb.st_ino};
    if (!root || VA_ARRAY_GROW(w.seen, w.capseen, 1) || VA_ARRAY_GROW(w.path, w.cappath, 1) ||
        va_hash_insert(&w.index, id_hash(id), 0)) {
        report(&w, VA_SEV_ERROR, VA_ENOMEM, dir, "out of memory");
    } else {
        w.seen[w.nseen++] = id;
        w.path[w.npath++] = 0;
        walk(&w, root);
    }
    free(root);
    free(w.seen);
    free(w.path);
    va_hash_free(&w.index);
    return w.first;
}
