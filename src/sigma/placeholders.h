/*
 * placeholders.h - values for Sigma's `expand` modifier, from a YAML file.
 *
 * A rule such as `SourceHostname|expand: '%Admins_Workstations%'` leaves the values to the
 * site.  The file maps each placeholder name (without the percent signs) to a string or a
 * list of strings; the strings are Sigma strings (wildcards allowed).  Example:
 *
 *     Admins_Workstations: ['ADM-PC*', 'JUMP01']
 *     dc_ip_addresses: [10.1.0.10, 10.1.0.11]
 *
 * A rule whose placeholder has no entry is reported and left out by the engine (value.h).
 */
#ifndef VA_SIGMA_PLACEHOLDERS_H
#define VA_SIGMA_PLACEHOLDERS_H

#include <stddef.h>

#include "core/arena.h"
#include "core/err.h"
#include "sigma/value.h"

/* Load path into *out (n entries), all in arena a.  On failure returns VA_EIO, VA_EFORMAT or
 * VA_ENOMEM and writes "FILE:LINE:COL: reason" to err[0..cap). */
va_err va_placeholders_load_file(va_arena *a, const char *path, va_value_placeholder **out,
                                 size_t *n, char *err, size_t cap);
/* The same from memory (name stands for the file in errors). */
va_err va_placeholders_load_mem(va_arena *a, const char *name, const char *text, size_t len,
                                va_value_placeholder **out, size_t *n, char *err, size_t cap);

#endif
