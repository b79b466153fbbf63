/*
 * paths.h - command-line inputs to a sorted list of files.
 *
 * A directory argument is searched recursively (core/walk.h: each directory once, in sorted
 * order, loops and unreadable directories reported) for files with one of the given extensions
 * (case-insensitive); a file argument is taken as it is, and so is "-" (standard input,
 * cli/stdin.h).
 */
#ifndef VA_CLI_PATHS_H
#define VA_CLI_PATHS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct va_paths {
    char **v;
    size_t n, cap;
} va_paths;

/* Add arg (file or directory) to p; exts is a NULL-terminated list like {".evtx", NULL}.
 * Returns 0, or -1 after printing why on stderr (missing path, a problem in the walk, out of
 * memory); what could be found is added either way.  p's strings are p's: va_paths_free. */
int va_paths_add(va_paths *p, const char *arg, const char *const *exts);
/* Add every argument argv[from..argc); returns nonzero if any could not be added (each
 * reported). */
int va_paths_add_args(va_paths *p, int argc, char **argv, int from, const char *const *exts);
/* Open path for the command's output (created or truncated).  NULL after saying why on
 * standard error ("vaern: cannot create PATH: reason", the reason fopen gave).  The caller
 * fcloses it. */
FILE *va_paths_create(const char *path);
/* Parse a --threads value (0..64, 0 = all cores) into *out; 0 on success, else prints why. */
/* The default cache folder, written into buf: $XDG_CACHE_HOME/vaern, else $HOME/.cache/vaern
 * ($HOME/.cache is made if missing); NULL if neither variable is set or buf is too small. */
const char *va_paths_cache_default(char *buf, size_t cap);
/* An explicit --cache DIR must be usable: a directory, made (0700) if it is missing.  0, or -1
 * after saying why on standard error. */
int va_paths_cache_check(const char *dir);
int va_parse_threads(const char *s, int *out);
/* A size for option opt: digits with an optional K, M or G (powers of 1024), or "unlimited"
 * (UINT64_MAX); 0 is refused.  0, or -1 with the reason printed (the caller exits 2). */
int va_parse_size(const char *opt, const char *s, uint64_t *out);
/* A count for option opt: digits, at least 1.  0, or -1 with the reason printed. */
int va_parse_count(const char *opt, const char *s, uint64_t *out);
/* 1 if path ends in ".evtx" (any case). */
int va_path_is_evtx(const char *path);
/* Position of the first entry equal to s, or -1. */
ptrdiff_t va_paths_find(const va_paths *p, const char *s);
/* Remove (and free) entry i. */
void va_paths_remove(va_paths *p, size_t i);
void va_paths_free(va_paths *p);

#endif
