/*
 * engine_int.h - what the Sigma engine's files share (not part of the public API).
 *
 * The engine is split by stage, as a rule set goes through them once at start-up:
 *   engine_compile.c  rules -> compiled rules (value matchers, routes, filters)
 *   engine_require.c  what each compiled rule requires of an event: literals (the prefilter's
 *                     patterns and which rules they wake) and event IDs (for the index)
 *   engine_index.c    the (channel, event ID) index that gives an event its candidate rules
 *   engine_match.c    per event: candidates, prefilter scan, evaluation, matched fields
 *   engine.c          va_engine_new / va_engine_free over those stages
 * Functions named va_engine_* here are internal to those files.
 */
#ifndef VA_SIGMA_ENGINE_INT_H
#define VA_SIGMA_ENGINE_INT_H

#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/hash.h"
#include "sigma/engine.h"
#include "sigma/prefilter.h"

/* Clauses of a rule's literal requirement (engine_require.c): an `and` of this many selective
 * sides is waited for literal by literal.  Measured on a 20k-event file with every SigmaHQ
 * rule: 1 clause 371k rule evaluations, 2 clauses 230k, 3 clauses 292k (or-joins of three
 * clauses get too wide). */
#define VA_ENGINE_CLAUSES 2

/* How a rule field reads the event on one route of its rule, resolved at compile time. */
typedef struct fres {
    const char *name; /* the event field it reads (renamed or not) */
    uint32_t len;
    uint64_t hash;                  /* va_hash_mem(name, len, 0) */
    const va_logsource_field *spec; /* a conversion computes the value (logsource.h), or NULL */
} fres;

typedef struct cfield {
    const char *name; /* "" for a keyword-style value matched against every field */
    uint32_t nlen;
    va_value *m;
    unsigned flags;
    int computed; /* some route of the rule converts this field's value (logsource.h) */
    fres *res;    /* per route of the rule (crule.routes), NULL for keywords */
} cfield;

typedef struct cmap {
    cfield *f;
    uint32_t n;
} cmap;

typedef struct csearch {
    cmap *maps; /* any of the maps; keywords are one map with one nameless field */
    uint32_t nmaps;
} csearch;

typedef struct crule {
    const va_rule *rule;
    va_logsource_route *routes;
    uint32_t nroutes;
    csearch *s;
    uint32_t ns;
    uint32_t *eids; /* event IDs the detection demands (ascending), or none */
    uint32_t neids;
    uint8_t *positive;  /* per search: used somewhere not under `not` (its fields explain hits) */
    uint32_t *map_off;  /* per search: where its maps' results start (scratch mapres) */
    uint32_t nmaps_all; /* maps of all searches */
    const va_rule_detection *det; /* the rule's detection, or a filter's */
    uint32_t *filters; /* indices into va_engine.flt of the filters applying to this rule */
    uint32_t nfilters;
    /* Per clause of the rule's literal requirement, the routes (bit k: routes[k]; bit 63 also
     * stands for any beyond) that compute a field the clause's literals are pinned to: the raw
     * event does not hold them there, so on those routes the clause is waived (ientry.waive);
     * with every clause waived the rule is evaluated whatever the prefilter finds.  Set by the
     * prefilter's reduction, before the index is built. */
    uint64_t waive_routes[VA_ENGINE_CLAUSES];
} crule;

/* Rules indexed by what their routes require, so an event meets only its candidates:
 * (channel, event ID), channel with any event ID, or anything (routes without a channel). */
/* Index key (in place of an event ID) of a channel's rules keyed by detection event IDs. */
#define KEY_REFINED (-2)

/* One index key: (channel, event ID) with event ID -1 (any) or KEY_REFINED; its rules as a
 * bitset over rule indices (bit i: e->r[i]), so an event's candidates are a few ORs. */
typedef struct ientry {
    const char *channel; /* lower-case */
    size_t clen;
    int64_t event_id;
    uint64_t *bits;                     /* e->nwords words */
    uint64_t *waive[VA_ENGINE_CLAUSES]; /* rules whose clause j is waived on this key */
    uint32_t w0, w1; /* words [w0, w1) of bits hold every rule (waivers are of those rules) */
} ientry;

static inline uint64_t index_hash(uint64_t channel_hash, int64_t id) {
    return va_hash_u64(channel_hash, (uint64_t)id);
}

/* Most scan groups (va_engine.grp). */
#define VA_ENGINE_GROUPS      8
#define VA_ENGINE_MAX_THREADS 16 /* threads that compile a rule set (va_engine_opts.threads) */

/* An event field name with its hash (va_hash_mem); as a pin, its scan group too. */
typedef struct fname {
    const char *s;
    uint32_t len;
    uint64_t hash;
    uint32_t group;
} fname;

/* A rule that needs a literal: in the value of one of names (the rule's field and its renames
 * on the rule's routes), or anywhere (nnames 0: keywords). */
typedef struct litrule {
    uint32_t rule;
    uint32_t clause; /* which clause of the rule's requirement the literal meets */
    uint32_t nnames;
    const fname *names;
} litrule;

struct va_engine {
    va_arena arena;
    crule *r;
    uint32_t n;
    crule *flt; /* compiled filter rules: a hit of a rule they name is dropped if they match */
    uint32_t nflt;
    /* Prefilter: literal id -> rules needing it (CSR), rules that are always evaluated. */
    /* Scan groups: an event value is scanned only with the database of its field's group,
     * which holds the literals pinned to the group's fields and those some rule needs in any
     * field.  Group 0 is for fields no literal is pinned to; fields with many literals
     * (CommandLine, Hashes, ...) have a group each; the other pinned fields share one. */
    struct scan_group {
        va_prefilter *db; /* NULL: no literal at all */
        uint32_t *ids;    /* db's literal i is literal ids[i] */
        uint32_t n;
    } grp[VA_ENGINE_GROUPS];
    uint32_t ngroups;       /* 0: prefilter off */
    uint32_t nused;         /* literals some rule waits for */
    va_hash pin_hash;       /* pins: every field name some literal is pinned to */
    const fname **namesets; /* distinct name lists of litrules (shared, see pin_names) */
    uint32_t *nameset_n;
    size_t nnamesets, namesets_cap, nameset_n_cap;
    va_hash nameset_hash;
    fname *pins;
    size_t npins, pins_cap;
    int pf_cached;
    uint32_t *lit_off;
    litrule *lit_rules;
    uint32_t nlits;
    uint8_t *always; /* per rule */
    /* The index: entries by (channel, event ID), and the rules that any channel admits. */
    ientry *idx;
    size_t nidx, idx_cap;
    va_hash idx_hash;
    uint64_t *any; /* bitset: rules with a route that admits every channel */
    uint64_t *any_waive[VA_ENGINE_CLAUSES]; /* of those, clause j waived (crule.waive_routes) */
    uint64_t *always_bits; /* bitset: rules evaluated whatever the prefilter finds */
    /* lacks[j]: rules whose literal requirement has no clause j (fewer than j + 1), for
     * j < VA_ENGINE_CLAUSES; a rule is woken when every clause it has is met. */
    uint64_t *lacks[VA_ENGINE_CLAUSES];
    uint32_t nwords; /* words of every rule bitset */
    /* Which engine this is, for scratches that serve one engine after another: an address
     * alone could be a freed engine's, whose literal and group tables were another size. */
    uint64_t id;
    /* Arenas of the compiling threads past the first (which uses arena): rules compiled by
     * thread t + 1 live in tarena[t]. */
    va_arena tarena[VA_ENGINE_MAX_THREADS - 1];
    uint32_t ntarena;
};

/* How rule field name[0..len) reads the event on route r (NULL: as it is named). */
static inline const va_logsource_field *route_field(const va_logsource_route *r, const char *name,
                                                    size_t len) {
    return r ? va_logsource_field_of(r, name, len) : NULL;
}

/* What field name[0..len) reads on route r: the mapping's rename, or NULL if r keeps it or
 * computes the value (see cfield.computed). */
static inline const char *route_rename(const va_logsource_route *r, const char *name, size_t len) {
    const va_logsource_field *f = route_field(r, name, len);
    return f && f->conv == VA_LOGSOURCE_RENAME ? f->field : NULL;
}

static inline int ascii_lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* engine_compile.c: compile every detection and filter rule of set into e->r / e->flt (rules
 * left out are reported and counted in st), then point rules at the filters that name them.
 * VA_ENOMEM is the only failure; e is then freed by the caller. */
va_err va_engine_compile_rules(va_engine *e, const va_rule_set *set, const va_engine_opts *o,
                               va_diag_fn diag, void *ud, va_engine_stats *st);

/* engine_require.c: the event IDs without which c's detection cannot match (c->eids). */
va_err va_engine_rule_eids(va_engine *e, crule *c);
/* engine_require.c: reduce every rule to required literals and build the prefilter (e->pf,
 * e->lit_off, e->lit_rules, e->always); *why says what failed. */
va_err va_engine_build_prefilter(va_engine *e, const va_engine_opts *o, const char **why);

/* engine_require.c: 1 if some literal is pinned to the event field name[0..len) (hash is
 * va_hash_mem of it): such fields are scanned with every literal, the others only with the
 * literals needed anywhere. */
int va_engine_is_pinned(const va_engine *e, uint64_t hash, const char *name, uint32_t len);
/* engine_require.c: the scan group of event field name[0..len) (0: no literal pinned to it). */
uint32_t va_engine_scan_group(const va_engine *e, uint64_t hash, const char *name, uint32_t len);

/* engine_index.c: index e's rules by (channel, event ID); needs c->eids and, with the
 * prefilter, c->waive_routes. */
va_err va_engine_build_index(va_engine *e);
/* engine_index.c: the index entry for (channel, id) (KEY_REFINED, -1 or an event ID), or NULL;
 * channel_hash is va_hash_mem_lower(ch, n, 0), computed once per event. */
const ientry *va_engine_index_find(const va_engine *e, uint64_t channel_hash, const char *ch,
                                   size_t n, int64_t id);
/* engine_index.c: free the index. */
void va_engine_index_free(va_engine *e);

#endif
