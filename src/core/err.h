/*
 * err.h - vaern's error codes and diagnostics.
 *
 * Every fallible library call returns a va_err.  Codes are stable: users look them up in
 * docs/errors.md by name (VA_E...) or number.  Problems found in input data (a bad chunk, a
 * record that does not parse) are not fatal: they are reported through a va_diag_fn callback
 * with the file, unit (chunk/line) and byte offset, counted, and the reader carries on.
 */
#ifndef VA_CORE_ERR_H
#define VA_CORE_ERR_H

#include <stdint.h>

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

/* Print a diagnostic as "vaern: FILE: chunk N: offset 0x..: VA_E..: reason" to stderr.  ud is
 * ignored.  Suitable as a default va_diag_fn. */
void va_diag_print(void *ud, const va_diag *d);

#endif
