/*
 * progress.h - a one-line progress bar on a terminal while `vaern hunt` reads its input.
 *
 * The reading loop calls va_progress_update() for every event; the bar looks at the clock
 * only every so many calls and redraws at most 8 times a second, so the call costs a
 * decrement and a branch.  The line shows percent of bytes, a bar, MB/s, events/s, alerts and
 * the time left, and is rewritten in place with \r.  Anything else written to the same
 * terminal should be preceded by va_progress_clear() so it does not land in the middle of the
 * bar; the next update draws the bar again below it.  Nothing is drawn unless the FILE is a
 * terminal and the total is known: callers can create one unconditionally.  One thread only.
 */
#ifndef VA_OUTPUT_PROGRESS_H
#define VA_OUTPUT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct va_progress va_progress;

typedef struct va_progress_opts {
    int force;      /* draw even if the FILE is not a terminal (tests, "--progress always") */
    unsigned width; /* columns; 0 = ask the terminal at each redraw, else 80 */
    /* Monotonic time in ns; NULL = CLOCK_MONOTONIC_COARSE.  Lets tests drive the clock. */
    int64_t (*clock_ns)(void *ud);
    void *clock_ud;
    unsigned delay_ms; /* no bar before this much time has passed (short runs show none);
                          0 = 500 ms; use 1 for (almost) none */
} va_progress_opts;

/* A progress bar on tty for total_bytes of input.  A NULL tty, a total of 0 or a tty that is
 * not a terminal give an inert object on which every call does nothing.  The caller frees it
 * with va_progress_end; tty stays the caller's.  NULL only if out of memory. */
va_progress *va_progress_new(FILE *tty, uint64_t total_bytes);
/* Same with options (o may be NULL). */
va_progress *va_progress_new_opts(FILE *tty, uint64_t total_bytes, const va_progress_opts *o);
/* Report the counts so far (bytes read, events, alerts); redraws when it is time.  NULL ok. */
void va_progress_update(va_progress *p, uint64_t done_bytes, uint64_t events, uint64_t alerts);
/* Erase the bar, if shown, so the caller can print a message; the next update redraws it. */
void va_progress_clear(va_progress *p);
/* Erase the bar and free p (NULL is a no-op). */
void va_progress_end(va_progress *p);

#endif
