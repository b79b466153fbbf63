/*
 * correlate.h - the Sigma correlation engine: event_count, value_count, temporal and
 * temporal_ordered correlation rules evaluated over detection matches in event time.
 *
 * The detection engine (engine.h) decides which rules an event matches; for every match of a
 * rule that some correlation references, the caller hands the rule and the event to
 * va_correlate_add(), which copies the few values correlations need.  Matches wait for a flush
 * in memory up to va_correlate_opts.memory bytes and beyond it in sorted runs on disk
 * (correlate_spill.h); none is dropped.  va_correlate_flush(upto) then replays the waiting
 * matches up to upto in event-time order (ties in input order), moves each correlation's
 * per-group windows forward, and hands every correlation alert to a callback as a va_alert
 * (output/alert.h).  A caller that knows its input is complete up to a time (a watermark) flushes
 * up to it as it goes, and window expiry frees the state; `vaern hunt` flushes once, at the end.
 * Correlation alerts feed correlations that reference them (chaining).  Semantics and their
 * reasons are in docs/correlation.md.
 *
 * One thread at a time; nothing global.  All memory is owned by the va_correlate: waiting
 * matches are bounded by opts.memory, window state by expiry and opts.max_state.
 */
#ifndef VA_SIGMA_CORRELATE_H
#define VA_SIGMA_CORRELATE_H

#include <stdint.h>

#include "core/err.h"
#include "core/event.h"
#include "output/alert.h"
#include "sigma/rule.h"

typedef struct va_correlate va_correlate;

/* Defaults of va_correlate_opts. */
#define VA_CORRELATE_DEFAULT_MAX_STATE 1000000u
#define VA_CORRELATE_DEFAULT_MEMORY    (8u << 20)

typedef struct va_correlate_opts {
    /* Hard bound on window-state entries (groups, held timestamps, values), all correlations
     * together; 0 = VA_CORRELATE_DEFAULT_MAX_STATE.  Reaching it drops matches for that
     * correlation, reported once per correlation and counted in stats.state_dropped. */
    uint64_t max_state;
    /* Bytes of waiting matches kept in memory; beyond, a sorted run is spilled to a file in
     * tmpdir.  0 = VA_CORRELATE_DEFAULT_MEMORY; UINT64_MAX = never spill. */
    uint64_t memory;
    /* Directory of spill files (created and unlinked at once; borrowed for va_correlate_new);
     * NULL = $TMPDIR, else /tmp. */
    const char *tmpdir;
} va_correlate_opts;

typedef struct va_correlate_stats {
    uint32_t rules;         /* correlations compiled */
    uint32_t failed;        /* left out, reported */
    uint64_t state_dropped; /* matches a correlation could not take: max_state (reported) */
    uint64_t untimed;       /* matches of events without a time: cannot be correlated, ignored */
    uint64_t late;          /* matches at or before an earlier flush's upto_ns: ignored */
    uint64_t alerts;        /* correlation alerts decided, including suppressed and chained ones */
    uint64_t nonnumeric;    /* value_sum/avg/percentile matches whose field is not a number:
                               not counted (reported once) */
    /* Waiting matches (see correlate_spill.h). */
    uint64_t buffered;      /* waiting now, in memory and on disk */
    uint64_t memory_peak;   /* most bytes they held in memory */
    uint64_t spilled_runs;  /* sorted runs written to disk */
    uint64_t spilled_bytes; /* bytes written to disk (runs and merges of runs) */
    uint64_t spill_merges;  /* runs merged into bigger ones */
    uint64_t spill_failed;  /* spills that failed (disk full...): matches kept in memory above
                               opts.memory, reported once */
    uint64_t spill_lost;    /* matches of a run that could not be read back (reported) */
} va_correlate_stats;

/* Compile every VA_RULE_KIND_CORRELATION rule of set; set and its arena must outlive *out.
 * References resolve by id, then by name, to detection or correlation rules.  A correlation
 * that cannot be evaluated (unknown reference, cycle, missing timespan/group-by/condition/field,
 * unsupported type) is reported through diag (may be NULL) and left out.  st (may be NULL)
 * gets the compile counts.  The caller frees *out with va_correlate_free. */
va_err va_correlate_new(const va_rule_set *set, const va_correlate_opts *o, va_diag_fn diag,
                        void *ud, va_correlate **out, va_correlate_stats *st);
/* Free x and everything it holds (buffered matches included); NULL is fine. */
void va_correlate_free(va_correlate *x);

/* 1 if some compiled correlation references rule r (detection or correlation), else 0. */
int va_correlate_referenced(const va_correlate *x, const va_rule *r);
/* 0 if r's own alerts should be suppressed: r is referenced by compiled correlations and none
 * of them says generate: true (the spec's default is "only the correlation").  1 otherwise,
 * including unreferenced rules.  va_correlate_flush applies this to chained correlation rules too.
 */
int va_correlate_standalone(const va_correlate *x, const va_rule *r);

/* Detection rule r matched ev: copy what the correlations need into x's own memory (ev is
 * only read during the call).  Matches of unreferenced rules are ignored, as are matches
 * without a time (counted as untimed) or at or before an earlier flush's upto_ns (counted as
 * late), each reported once.  Beyond opts.memory bytes of waiting matches, they are spilled
 * to disk; if that fails they stay in memory (reported once, counted).  Returns VA_OK,
 * VA_ENOMEM, or VA_EUSAGE if called from inside va_correlate_flush's callback. */
va_err va_correlate_add(va_correlate *x, const va_rule *r, const va_event *ev);

/* One correlation alert; a and all it points to are borrowed for the call.  Nonzero stops. */
typedef int (*va_correlate_alert_fn)(void *ud, const va_alert *a);

/* Evaluate the buffered matches with time <= upto_ns in event-time order (ties: input order),
 * release them, and close every window whose end is <= upto_ns.  INT64_MAX ends the hunt:
 * everything is evaluated, all state is released, and x accepts any time again.  fn (may be
 * NULL) gets each alert of each correlation that is standalone.  If fn returns nonzero, no
 * more alerts are delivered in this call, which returns once the match being evaluated is
 * done; later matches stay buffered.  Deterministic: the same adds and flushes give the same
 * alerts in the same order, and splitting a flush into several with rising upto_ns changes
 * nothing.  Returns VA_OK, VA_ENOMEM (x may then only be freed), or VA_EUSAGE if reentered. */
va_err va_correlate_flush(va_correlate *x, int64_t upto_ns, va_correlate_alert_fn fn, void *ud);

/* Current counters (compile counts plus what add and flush have seen). */
void va_correlate_stats_get(const va_correlate *x, va_correlate_stats *st);

#endif
