/*
 * prefilter.h - a multi-literal matcher for the Sigma engine's prefilter.
 *
 * The engine (engine.c) reduces each rule to literals of which at least one must occur in an
 * event for the rule to possibly match, and asks this module which of all rules' literals
 * occur in the text of an event.  Matching is ASCII-case-insensitive.  Two backends give the
 * same answers: Hyperscan (Debian's libhyperscan, x86-64) and vaern's own Aho-Corasick
 * automaton, used where Hyperscan is not built in or when asked for (tests run both).
 */
#ifndef VA_SIGMA_PREFILTER_H
#define VA_SIGMA_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum va_prefilter_backend {
    VA_PREFILTER_AUTO = 0, /* Hyperscan when built in, else the automaton */
    VA_PREFILTER_HYPERSCAN,
    VA_PREFILTER_AUTOMATON,
} va_prefilter_backend;

typedef struct va_prefilter va_prefilter;
typedef struct va_prefilter_scratch va_prefilter_scratch;

/* Compile literals lits[i][0..lens[i]) (i < n; arbitrary bytes, none empty) with ids 0..n-1.
 * The literals are only read during the call.  cache_dir (may be NULL): a folder where compiled
 * Hyperscan databases are kept, keyed by a hash of the literals and the Hyperscan version and
 * platform, so that a rule set compiles once; a missing, stale or damaged entry is simply
 * rebuilt.  VA_EUNSUPPORTED if the backend asked for is not built in; *why names a backend
 * failure.  Free with va_prefilter_free. */
va_err va_prefilter_new(const char *const *lits, const size_t *lens, uint32_t n,
                        va_prefilter_backend b, const char *cache_dir, va_prefilter **out,
                        const char **why);
/* 1 if p's database came from the cache. */
int va_prefilter_from_cache(const va_prefilter *p);
void va_prefilter_free(va_prefilter *p);
/* The backend in use ("hyperscan" or "automaton"). */
const char *va_prefilter_backend_name(const va_prefilter *p);

/* Per-thread scanning state for p; free with va_prefilter_scratch_free.  NULL if out of memory. */
va_prefilter_scratch *va_prefilter_scratch_new(const va_prefilter *p);
void va_prefilter_scratch_free(va_prefilter_scratch *s);

/* Called for every occurrence of a literal in the text, with the offset just past it. */
typedef void (*va_prefilter_hit_fn)(void *ud, uint32_t id, size_t end);
/* Scan text[0..n); returns 0, or -1 if the backend failed (the caller must then treat every
 * literal as present). */
int va_prefilter_scan(const va_prefilter *p, va_prefilter_scratch *s, const char *text, size_t n,
                      va_prefilter_hit_fn fn, void *ud);

#endif
