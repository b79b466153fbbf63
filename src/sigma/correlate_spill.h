/*
 * correlate_spill.h - where correlation inputs wait for va_correlate_flush: records in memory up
 * to a byte budget and, beyond it, sorted runs in temporary files, read back in (time,
 * sequence) order by a k-way merge of every run and the in-memory rest.  Internal to the
 * correlation engine (correlate.c), which owns what a record's payload means.
 *
 * Why this shape: a hunt over many files can only flush once every event is in, so its inputs
 * must wait somewhere; memory would grow with the log, dropping would lose detections.  A run
 * is the in-memory records sorted and written sequentially to a file unlinked at once (nothing
 * is left behind, whatever happens to the process).  Runs of one level are merged into one of
 * the next level when there are VA_CORRELATE_SPILL_FANIN of them, so open files and read
 * buffers stay bounded however long the hunt.  A spill that fails (full disk, unwritable
 * directory) loses nothing: the records stay in memory above the budget, the failure is
 * reported once and counted, and the next attempt waits until memory has doubled.
 *
 * One thread; records must not be put between va_correlate_spill_sort and the last pop.
 */
#ifndef VA_SIGMA_CORRELATE_SPILL_H
#define VA_SIGMA_CORRELATE_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Runs of one level merged into one of the next level. */
#define VA_CORRELATE_SPILL_FANIN 16u

typedef struct va_correlate_spill va_correlate_spill;

typedef struct va_correlate_spill_stats {
    uint64_t pending;     /* records waiting (memory and runs) */
    uint64_t memory;      /* bytes they take in memory now */
    uint64_t memory_peak; /* most bytes they took in memory */
    uint64_t runs;        /* runs spilled from memory */
    uint64_t bytes;       /* bytes written to runs (spills and merges) */
    uint64_t merges;      /* runs merged into a bigger one */
    uint64_t failed;      /* spills or merges that failed (records kept, reported once) */
    uint64_t lost;        /* records of runs that could not be read back (reported) */
    uint32_t open_runs;   /* run files open now */
} va_correlate_spill_stats;

/* One record as read back; p is valid until the next pop, sort or free. */
typedef struct va_correlate_spill_rec {
    int64_t t;
    uint64_t seq;
    const unsigned char *p;
    size_t n;
} va_correlate_spill_rec;

/* A store spilling beyond budget bytes (0: never spill) into dir (NULL: $TMPDIR, else /tmp;
 * copied).  Problems go to diag (may be NULL).  Free with va_correlate_spill_free. */
va_err va_correlate_spill_new(uint64_t budget, const char *dir, va_diag_fn diag, void *ud,
                              va_correlate_spill **out);
/* Close and free everything (run files included); NULL is fine. */
void va_correlate_spill_free(va_correlate_spill *s);

/* Add payload p[0..n) at (t, seq); seq must be unique (it breaks ties between equal times).
 * May write a run first.  VA_OK or VA_ENOMEM (the record is then not added). */
va_err va_correlate_spill_put(va_correlate_spill *s, int64_t t, uint64_t seq, const void *p,
                              size_t n);
/* Get ready to read in (t, seq) order: sorts what is in memory. */
void va_correlate_spill_sort(va_correlate_spill *s);
/* The smallest record left in *r (*have = 1), or *have = 0.  VA_OK or VA_ENOMEM.  A run that
 * cannot be read back is reported as an error, its remaining records counted as lost, and the
 * others go on. */
va_err va_correlate_spill_peek(va_correlate_spill *s, va_correlate_spill_rec *r, int *have);
/* Consume the record the last peek returned. */
void va_correlate_spill_pop(va_correlate_spill *s);
/* Done reading for now: give back the memory of consumed records; with release, also the
 * buffers kept for reuse (end of a hunt). */
void va_correlate_spill_compact(va_correlate_spill *s, int release);

void va_correlate_spill_stats_get(const va_correlate_spill *s, va_correlate_spill_stats *st);

/* Payload helpers: LEB128 varints.  encode writes at most 10 bytes and returns how many; put
 * appends to b; get reads from *p below end (0, or -1 if the varint is cut). */
static inline size_t va_correlate_spill_uv_encode(unsigned char *out, uint64_t v) {
    size_t n = 0;
    do {
        out[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

static inline void va_correlate_spill_put_uv(va_buf *b, uint64_t v) {
    unsigned char t[10];
    va_buf_put(b, t, va_correlate_spill_uv_encode(t, v));
}

static inline int va_correlate_spill_get_uv(const unsigned char **p, const unsigned char *end,
                                            uint64_t *v) {
    uint64_t r = 0;
    for (unsigned sh = 0; *p < end && sh < 64; sh += 7) {
        unsigned char c = *(*p)++;
        r |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

#endif
