/*
 * stdin.h - "-" as an input: standard input, named "-" in every report.
 *
 * JSON is read as a stream, as it arrives.  EVTX needs random access (chunks are read in
 * parallel, by offset): standard input that is not already a regular file is first copied to
 * an unlinked temporary file (in $TMPDIR, else /tmp), which then takes its place as file
 * descriptor 0, so that the EVTX reader opens "-" like any other file.  Reads wait with poll(),
 * which a signal always interrupts, so SIGINT and SIGTERM stop a command waiting on a quiet
 * pipe too.
 */
#ifndef VA_CLI_STDIN_H
#define VA_CLI_STDIN_H

#include <signal.h>
#include <stddef.h>

#include "core/err.h"
#include "json/winevent.h"

/* What the command has learnt of standard input so far (the caller's, zeroed). */
typedef struct va_stdin {
    unsigned char head[8]; /* bytes read to recognise the format, not yet handed on */
    size_t nhead;
    int looked;   /* va_stdin_is_evtx ran */
    int evtx;     /* it starts like EVTX */
    int in_place; /* fd 0 is a regular file read from its start: nothing to copy */
} va_stdin;

/* 1 if "-" is among argv[from..argc) more than once (said why on stderr), else 0. */
int va_stdin_twice(int argc, char **argv, int from);
/* 1 if standard input starts with the EVTX signature, else 0 (an empty or short input is
 * not EVTX).  Reads at most 8 bytes, kept in s for what comes next.  stop: the command's
 * signal flag; an interrupted look says not EVTX. */
int va_stdin_is_evtx(va_stdin *s, const volatile sig_atomic_t *stop);
/* Make fd 0 a regular file with all of standard input, from its start (copied to a temporary
 * file unless it is one already).  VA_OK; VA_EIO after reporting why through diag (file "-");
 * VA_EUSAGE when *stop was set on the way (nothing reported).  Waits for the end of input. */
va_err va_stdin_spool(va_stdin *s, const volatile sig_atomic_t *stop, va_diag_fn diag,
                      void *diag_ud);
/* Read standard input as JSON Windows events (json/winevent.h) named "-", adding its counters
 * to *st.  Returns as va_jsonev_read_file; stops early, with VA_OK, when fn asks to or when
 * *stop is set. */
va_err va_stdin_json(va_stdin *s, const volatile sig_atomic_t *stop, va_diag_fn diag, void *diag_ud,
                     va_jsonev_stats *st, va_jsonev_fn fn, void *ud);

#endif
