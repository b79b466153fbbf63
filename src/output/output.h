/*
 * output.h - the alert sink: JSON lines, CSV or a terminal timeline, plus a run summary.
 *
 * Detectors hand each alert (alert.h) to va_out_alert() on one thread.  The sink writes it at
 * once (jsonl, csv) or keeps a copy to print a time-sorted table at va_out_close() (table),
 * and counts every alert for va_out_summary().  Formats are stable and described field by
 * field in docs/output.md.  Text that came from logs is untrusted: JSON output is always valid
 * JSON and valid UTF-8, CSV cells are guarded against spreadsheet formulas, and terminal output
 * (table, summary) never carries a control character from the input, so a log cannot drive
 * the terminal.  The va_out_tty_* helpers below give the CLI the same protection for its own
 * messages.
 */
#ifndef VA_OUTPUT_OUTPUT_H
#define VA_OUTPUT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/err.h"
#include "output/alert.h"

typedef enum va_out_fmt { VA_OUT_JSONL = 1, VA_OUT_CSV, VA_OUT_TABLE } va_out_fmt;

/* "jsonl", "csv" or "table" (any case) into *out; 0, or -1 if unknown (*out untouched). */
int va_out_fmt_parse(const char *s, va_out_fmt *out);

#define VA_OUT_DEFAULT_MAX_SORTED ((size_t)1000000)
#define VA_OUT_DEFAULT_WIDTH      160u

typedef struct va_out_opts {
    va_out_fmt fmt;
    int color;         /* ANSI colours in the table and the summary; 0 = no escape at all */
    unsigned width;    /* table width in columns; 0 = the terminal's if f is one, else 160 */
    size_t max_sorted; /* table: alerts kept for sorting; 0 = VA_OUT_DEFAULT_MAX_SORTED */
} va_out_opts;

typedef struct va_out va_out;

/* Open a sink writing to f (which stays the caller's: never closed, flushed by va_out_close).
 * CSV writes its header row here.  *out is freed by va_out_close.  VA_EUSAGE for a bad format
 * or NULL argument, VA_ENOMEM, VA_EIO if the header cannot be written (errno kept). */
va_err va_out_open(const va_out_opts *o, FILE *f, va_out **out);
/* Hand over one alert.  Borrowed: everything a points to need only live for the call.  After
 * the first error every call returns that error.  VA_EIO on a write error (errno set),
 * VA_ENOMEM.  The table keeps alerts for sorting; if memory for that runs out it prints what
 * it holds and streams the rest, as when max_sorted is reached. */
va_err va_out_alert(va_out *o, const va_alert *a);
/* Table: print the sorted timeline.  Then flush f and free o (NULL is a no-op).  Returns the
 * first error of the sink's life (errno set for VA_EIO). */
va_err va_out_close(va_out *o);

/* Alert levels as counted by the summary: the five Sigma levels, then anything else. */
typedef enum va_out_level {
    VA_OUT_INFORMATIONAL = 0,
    VA_OUT_LOW,
    VA_OUT_MEDIUM,
    VA_OUT_HIGH,
    VA_OUT_CRITICAL,
    VA_OUT_OTHER, /* absent or unknown level */
    VA_OUT_NLEVELS
} va_out_level;

/* Level name (any case) to VA_OUT_INFORMATIONAL..VA_OUT_CRITICAL, or -1 (also for NULL). */
int va_out_level_rank(const char *level);

typedef struct va_out_stats {
    uint64_t alerts;                   /* every alert passed to va_out_alert */
    uint64_t correlations;             /* of which kind VA_ALERT_CORRELATION */
    uint64_t undecided;                /* of which undecided (va_alert.undecided) */
    uint64_t by_level[VA_OUT_NLEVELS]; /* indexed by va_out_level */
    int64_t first_ns, last_ns;         /* earliest and latest alert time, or VA_TIME_NONE */
} va_out_stats;

/* Counts so far into *st (caller's memory). */
void va_out_get_stats(const va_out *o, va_out_stats *st);
/* Write the summary of every alert so far to f (e.g. stderr): alerts per level, time range,
 * the ten most frequent rules (count, level, title) and hosts.  Call before va_out_close.
 * VA_EIO (errno set) if f could not be written, VA_ENOMEM; the sink is unaffected either way. */
va_err va_out_summary(const va_out *o, FILE *f, int color);

/* ---- terminal-safe text, shared by the table, the summary and the CLI ------------------- */

/* Append s[0..n) (any bytes) for display on a terminal and return its width in columns.
 * Printable UTF-8 is copied; control characters (C0, DEL, C1), invalid UTF-8 and bidi or line
 * separator controls (U+061C, U+200E/F, U+2028/9, U+202A-E, U+2066-9) become visible escapes:
 * \t \n \r, \xNN for other bytes, \uNNNN for code points.  The result is valid UTF-8 that
 * cannot change terminal state.  (The escaping is va_diag_escape's, core/err.h.) */
size_t va_out_tty_esc(va_buf *b, const char *s, size_t n);
/* Columns taken by safe text (output of va_out_tty_esc): 2 for East Asian wide characters, 0
 * for combining marks, else 1; independent of the locale. */
size_t va_out_tty_width(const char *s, size_t n);
/* Append the longest prefix of whole characters of safe text s that fits in cols columns;
 * returns its width. */
size_t va_out_tty_cut(va_buf *b, const char *s, size_t n, size_t cols);
/* Append safe text s fitted to cols columns: whole if it fits, else cut and ended with an
 * ellipsis; then, if pad, spaces up to cols.  Returns the columns written. */
size_t va_out_tty_fit(va_buf *b, const char *s, size_t n, size_t cols, int pad);

#endif
