/*
 * correlate.h - the Sigma correlation engine: event_count, value_count, temporal and
 * temporal_ordered correlation rules evaluated over detection matches in event time.
 *
 * The detection engine (engine.h) decides which rules an event matches; for every match of a
 * rule that some correlation references, the caller hands the rule and the event to
 * va_correlate_add(), which copies the few values correlations need into a bounded buffer.
 * va_correlate_flush() then replays the buffered matches in event-time order (ties in input order),
 * moves each correlation's per-group windows forward, and hands every correlation alert to a
 * callback as a va_alert (output/alert.h).  Correlation alerts feed correlations that reference
 * them (chaining).  Semantics and their reasons are in docs/correlation.md.
 *
 * One thread at a time; nothing global.  All memory is owned by the va_correlate and bounded by
 * va_correlate_opts.max_buffered (see docs/correlation.md).
 */
#ifndef VA_SIGMA_CORRELATE_H
#define VA_SIGMA_CORRELATE_H

#include <stdint.h>

#include "core/err.h"
#include "core/event.h"
#include "output/alert.h"
#include "sigma/rule.h"

typedef struct va_correlate va_correlate;

typedef struct va_correlate_opts {
    /* Bound on matches waiting in the buffer, and separately on window-state entries (groups,
     * timestamps, distinct values); 0 = default 1,000,000. */
    uint64_t max_buffered;
} va_correlate_opts;

typedef struct va_correlate_stats {
    uint32_t rules;   /* correlations compiled */
    uint32_t failed;  /* left out, reported */
    uint64_t dropped; /* matches dropped at the buffer or state bound (reported once) */
    uint64_t untimed; /* matches of events without a time: cannot be correlated, ignored */
    uint64_t late;    /* matches at or before an earlier flush's upto_ns: ignored */
    uint64_t alerts;  /* correlation alerts decided, including suppressed and chained ones */
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
 * late).  Beyond max_buffered waiting matches, matches are dropped, counted and reported once.
 * Returns VA_OK, VA_ENOMEM, or VA_EUSAGE if called from inside va_correlate_flush's callback. */
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
