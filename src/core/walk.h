/*
 * walk.h - the one recursive directory walk: input folders and rule folders alike.
 *
 * Entries are taken in byte-sorted name order per directory (hidden ones, starting with '.',
 * are skipped) so that runs are reproducible.  Symbolic links are followed, but every directory
 * is read once: the walk keeps the device and inode of each directory it has read.  A link back
 * to a directory on the current path (a loop) is reported once, as a warning naming the link,
 * and not followed; a second way into a directory already read elsewhere (two links to it) is
 * skipped quietly, since its files were read the first time.  A directory that cannot be read
 * is reported with the system's reason, and the walk goes on with its siblings.
 */
#ifndef VA_CORE_WALK_H
#define VA_CORE_WALK_H

#include <stdint.h>
#include <sys/stat.h>

#include "core/err.h"

/* Directories nested deeper than this below the root are reported (VA_ELIMIT) and not read. */
#define VA_WALK_MAX_DEPTH 64

typedef struct va_walk_opts {
    const char *const *exts; /* wanted file name endings, NULL-terminated ({".evtx", NULL});
                                NULL: every file */
    int nocase;              /* compare the endings ignoring ASCII case */
} va_walk_opts;

/* Receives each wanted file, in walk order: path (borrowed for the call) is the directory
 * argument joined with the names below it, sb what stat says of it (links followed; borrowed
 * for the call).  A wanted name that cannot be looked at (a dangling link, a raced removal)
 * comes with sb NULL, so that the caller's open reports why.  Return nonzero to stop the
 * walk. */
typedef int (*va_walk_fn)(void *ud, const char *path, const struct stat *sb);

/* Walk directory dir (trailing slashes are dropped from reported paths).  Problems go to diag
 * (may be NULL; file is the path concerned, unit and offset are unset): a directory that
 * cannot be read or looked at (VA_EIO, error), a loop (VA_EIO, warning), nesting beyond
 * VA_WALK_MAX_DEPTH (VA_ELIMIT, error).  Returns VA_OK when everything was read, else the code
 * of the first problem reported; VA_EUSAGE if dir is not a directory (nothing reported);
 * VA_ENOMEM if it had to stop (reported).  The walk's memory is freed before it returns. */
va_err va_walk_dir(const char *dir, const va_walk_opts *o, va_walk_fn fn, void *ud, va_diag_fn diag,
                   void *diag_ud);

#endif
