/*
 * pack.h - vaern's own detection pack, built into the library.
 *
 * The rules in rules/vaern (*.yml) are compiled into the binary by CMake (build/gen/
 * pack_default.c), so `vaern hunt` has them without any file on disk.  Each entry is one
 * file's text, loaded with va_rule_load_mem under its repository path.
 */
#ifndef VA_SIGMA_PACK_H
#define VA_SIGMA_PACK_H

#include <stddef.h>

typedef struct va_pack_file {
    const char *name; /* "rules/vaern/x.yml" */
    const char *text; /* NUL-terminated */
    size_t len;
} va_pack_file;

/* The pack's files (static; *n of them). */
const va_pack_file *va_pack_files(size_t *n);

#endif
