/*
 * err.h - vaern's error codes and diagnostics.
 *
 * Every fallible library call returns a va_err.  Codes are stable: users look them up in
 * docs/errors.md by name (VA_E...) or number.  Problems found in input data (a bad chunk, a
 * record that does not parse) are not fatal: they are reported through a va_diag_fn callback
 * with the file, unit (chunk/line) and byte offset, counted, and the reader carries on.
 * Printed diagnostics never carry a control character from the input: file names, rule titles
 * and reasons come from files an attacker may have written.
 */
#ifndef VA_CORE_ERR_H
#define VA_CORE_ERR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"

typedef enum va_err {
    VA_OK = 0,
    VA_ENOMEM = 1,       /* allocation failed */
    VA_EIO = 2,          /* open/read/map failed (errno in message) */
    VA_EFORMAT = 3,      /* input is not of the expected format (bad magic, bad structure) */
    VA_ECRC = 4,         /* checksum mismatch */
    VA_ETRUNC = 5,       /* input ends before a structure does */
    VA_EUNSUPPORTED = 6, /* valid but unsupported construct */
    VA_EUSAGE = 7,       /* bad arguments from the caller or the command line */
    VA_ELIMIT = 8,       /* a configured bound (size, depth, count) was exceeded */
    VA_ERANGE = 9,       /* an offset or count points outside its container */
    VA_ECOUNT_
} va_err;

/* Symbolic name of a code, e.g. "VA_ECRC".  Static string. */
const char *va_err_name(va_err e);
/* One-line human description of a code.  Static string. */
const char *va_err_str(va_err e);

typedef enum va_severity { VA_SEV_WARN = 1, VA_SEV_ERROR = 2 } va_severity;

/* One problem found in input.  All pointers are borrowed for the duration of the callback. */
typedef struct va_diag {
    va_severity sev;
    va_err code;
    const char *file; /* input path */
    const char *unit; /* "chunk", "record", "line", ... or NULL */
    int64_t unit_no;  /* chunk index, line number, ...; -1 if none */
    int64_t offset;   /* byte offset in the file; -1 if unknown */
    const char *msg;  /* reason */
} va_diag;

typedef void (*va_diag_fn)(void *ud, const va_diag *d);

/* Print a diagnostic as "vaern: FILE: chunk N: offset 0x..: VA_E..: reason" to stderr, made
 * safe for a terminal with va_diag_escape.  ud is ignored.  Suitable as a default va_diag_fn. */
void va_diag_print(void *ud, const va_diag *d);

/* Append s[0..n) (any bytes) to b as text that cannot drive a terminal.  Printable ASCII and
 * valid UTF-8 are copied; control characters (C0, DEL, C1), bytes that are not UTF-8 and the
 * bidi and line-separator controls (U+061C, U+200E/F, U+2028/9, U+202A-E, U+2066-9) become
 * visible escapes: \t \n \r, \xNN for other bytes, \uNNNN for code points.  The one escaping
 * vaern uses for terminals: diagnostics, and the output layer's table and summary. */
void va_diag_escape(va_buf *b, const char *s, size_t n);
/* Write one line to f: what fmt formats, escaped with va_diag_escape, then a newline, in one
 * write.  For every message that shows text from input (paths, rule titles, reasons). */
void va_diag_printf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
