/*
 * engine.h - the Sigma detection engine: compiled rules evaluated against flat events.
 *
 * va_engine_new() compiles a loaded rule set (rule.h) once: each rule's logsource becomes routes
 * (logsource.h), each field of each search identifier a value matcher (value.h), and the
 * condition an AST (cond.h).  va_engine_match() then runs one event past the rules whose routes
 * admit it, evaluating search identifiers lazily as the condition asks for them.  A rule the
 * engine cannot compile is reported with its file, line and reason and left out: a rule is
 * never evaluated wrongly.
 *
 * Correlation rules are evaluated over the hits by correlate.h.
 */
#ifndef VA_SIGMA_ENGINE_H
#define VA_SIGMA_ENGINE_H

#include <stdint.h>

#include "core/err.h"
#include "core/event.h"
#include "sigma/logsource.h"
#include "sigma/rule.h"
#include "sigma/value.h"

typedef struct va_engine va_engine;
typedef struct va_engine_scratch va_engine_scratch;

typedef struct va_engine_opts {
    const va_logsource_map *logsources;       /* required */
    const va_value_placeholder *placeholders; /* for `expand` (may be NULL) */
    size_t nplaceholders;
    int prefilter_off; /* evaluate every routed rule (tests prove the prefilter changes nothing) */
    int prefilter_backend; /* va_prefilter_backend (prefilter.h): 0 = Hyperscan when built in */
    const char *cache_dir; /* where compiled prefilter databases are kept (NULL: nowhere) */
    int threads;           /* threads compiling the rules (0 or 1: the calling one alone) */
} va_engine_opts;

typedef struct va_engine_stats {
    uint32_t rules;       /* detection rules compiled */
    uint32_t filters;     /* filter rules compiled (they drop hits of the rules they name) */
    uint32_t unmapped;    /* left out: logsource not in the mapping (reported) */
    uint32_t unsupported; /* left out: construct not supported yet (reported) */
    uint32_t failed;      /* left out: a value or modifier did not compile (reported) */
    uint32_t prefiltered; /* rules evaluated only when one of their literals occurs */
    uint32_t literals;    /* distinct literals in the prefilter */
    const char *backend;  /* prefilter backend in use ("hyperscan", "automaton"), or NULL */
    int cached;           /* its database came from the cache */
} va_engine_stats;

/* Compile the rules of set (which, with its arena, must outlive the engine).  Each rule left
 * out is reported through diag (unit "rule", offset -1).  Free with va_engine_free. */
va_err va_engine_new(const va_rule_set *set, const va_engine_opts *o, va_diag_fn diag, void *ud,
                     va_engine **out, va_engine_stats *st);
void va_engine_free(va_engine *e);

/* Per-thread matching state; free with va_engine_scratch_free. */
va_engine_scratch *va_engine_scratch_new(void);
void va_engine_scratch_free(va_engine_scratch *s);

/* Called for every rule that matches; return nonzero to stop matching this event. */
typedef int (*va_engine_hit_fn)(void *ud, const va_rule *rule, const va_event *ev);

/* Inside a va_engine_hit_fn call: the event fields that made the rule match (those of the search
 * identifiers that matched and are not negated in the condition), as ascending indices into
 * ev->f.  Writes at most cap and returns how many there are. */
uint32_t va_engine_hit_fields(va_engine_scratch *s, uint32_t *idx, uint32_t cap);

/* Inside a va_engine_hit_fn call: NULL if the rule's condition was decided, else the name of
 * a field whose regular expression PCRE2 gave up on at its match or depth limit ("(keywords)"
 * for keywords).  Such a rule is reported as a hit (a limit must not hide a match: an
 * attacker can pad a value to reach it) and the alert is to be marked undecided.  Filters
 * that are undecided do not drop the hit.  The name is borrowed from the engine. */
const char *va_engine_hit_undecided(const va_engine_scratch *s);

/* Rules evaluated and rules skipped by the prefilter with s so far. */
void va_engine_scratch_counts(const va_engine_scratch *s, uint64_t *evaluated, uint64_t *skipped);

/* How many times matching with s could not be completed for lack of memory (an event, a rule
 * or a filter left out); a caller reports any as lost alerts.  0 normally. */
uint64_t va_engine_scratch_failures(const va_engine_scratch *s);

/* Run ev past the rules; returns the number of rules that matched. */
uint32_t va_engine_match(const va_engine *e, va_engine_scratch *s, const va_event *ev,
                         va_engine_hit_fn fn, void *ud);

#endif
