/*
 * correlate.c - the Sigma correlation engine (see correlate.h; semantics in
 * docs/correlation.md).
 *
 * Compilation turns each correlation's references into "inputs": a rule (detection or
 * correlation) whose matches some correlations consume, the list of values to copy from each
 * of its matches, and per consuming correlation ("use") where that correlation's group-by and
 * value_count fields sit in the list.  A match waits for a flush as a few encoded bytes
 * (enc_match: values copied, computer, channel and file named by atom) in the spill store
 * (correlate_spill.h: memory up to a budget, then sorted runs on disk), which hands them back in
 * (time, input order); a flush decodes each into a malloc'd match block.  Each correlation keeps
 * a hash table of groups, and every group has exactly one entry in a global timer heap ordered by
 * (time, arm order): the end of its window (upper-bounded conditions, decided there) or the
 * moment its sliding state has all expired (freed there).  The sweep runs every timer that
 * falls before the next match, so alerts come out in one event-time order whatever the flushes
 * look like, and whether the matches waited in memory or on disk.
 */
#include "sigma/correlate.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/array.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/vtime.h"
#include "sigma/correlate_metric.h"
#include "sigma/correlate_spill.h"

/* temporal_ordered keeps npos * npos chain starts per group; 32 positions = 8 KiB. */
#define SX_MAX_ORDERED 32u
#define SX_NONE        INT64_MIN
#define SX_NOIN        UINT32_MAX

/* Data problems reported once per va_correlate (bits of va_correlate.reported). */
enum { REP_LATE = 1, REP_UNTIMED = 2, REP_DAMAGED = 4, REP_NONNUM = 8 };

/* Computer, channel and file names are stored once (atoms) while few; past these bounds (logs
 * of many hosts) each waiting match carries its own copy, so the table stays bounded. */
#define SX_MAX_ATOMS 65536u
/* A value_count group indexes its distinct values by hash beyond this many; below, a scan of
 * the array is as fast and saves the table (most groups hold a few values). */
#define SX_VAL_INDEX      8u
#define SX_MAX_ATOM_BYTES (4u << 20)

/* ---- small helpers ----------------------------------------------------------------------- */

static int64_t sat_add(int64_t a, int64_t b) {
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t sat_sub(int64_t a, int64_t b) {
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

/* Times are never SX_NONE (untimed matches are refused), so SX_NONE marks "no match". */
static int live(int64_t t, int64_t lo) {
    return t != SX_NONE && t >= lo;
}

static uint64_t hash_ptr(const void *p) {
    return va_hash_u64(0, (uint64_t)(uintptr_t)p);
}

static uint64_t hash_str(const char *s) {
    return va_hash_mem(s, strlen(s), 0);
}

static int level_rank(const char *l) {
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    if (!l) return 0;
    for (int i = 0; i < 5; i++)
        if (!strcmp(l, names[i])) return i + 1;
    return 0;
}

static const char *label(const va_rule *r) {
    return r->name ? r->name : r->id ? r->id : r->title ? r->title : "?";
}

static void report(va_diag_fn diag, void *ud, const va_rule *r, va_err code, const char *msg) {
    if (!diag) return;
    va_diag d = {VA_SEV_WARN, code, r->file, "line", (int64_t)r->line, -1, msg};
    diag(ud, &d);
}

static int is_metric(va_rule_ctype t) {
    return t == VA_RULE_VALUE_SUM || t == VA_RULE_VALUE_AVG || t == VA_RULE_VALUE_PERCENTILE;
}

/* ---- compiled model ---------------------------------------------------------------------- */

/* A value copied from a match; has = 0 when the field was absent or null. */
typedef struct sx_str {
    const char *s;
    uint32_t len;
    uint8_t has;
} sx_str;

/* One match being delivered or held by a closed window; refcounted because several closed windows
 * of different correlations may keep the same match as their latest event. */
typedef struct sx_match {
    int64_t t;
    uint32_t input, refs;
    int64_t event_id;
    uint64_t record_id;
    const char *computer, *channel, *file; /* file is interned in va_correlate */
    uint32_t nv;
    sx_str v[]; /* then the copied bytes */
} sx_match;

/* A distinct value (or tuple) of a value_count group, listed oldest last-seen first. */
typedef struct sx_val {
    struct sx_val *prev, *next;
    uint64_t hash;
    int64_t last;
    uint32_t slot; /* index in its group's vals */
    uint32_t len;
    char b[];
} sx_val;

typedef struct sx_corr sx_corr;
typedef struct sx_group sx_group;

/* A number in a sliding metric window. */
typedef struct sx_nent {
    int64_t t;
    uint64_t id;
    va_correlate_num v;
} sx_nent;

/* The state of a metric group, apart so that other groups do not carry it. */
typedef struct sx_metric {
    va_correlate_sum sum; /* the values in the window */
    sx_nent *nring;       /* sliding: the values in the window, oldest first */
    size_t nrcap;
    uint32_t nrhead, nrlen;
    va_correlate_ost ost; /* percentile: the window's values, ordered */
    uint64_t nid;         /* percentile: the next value's id */
} sx_metric;

/* Timers carry their key inline so sifting never touches group memory (a heap of many
 * groups is otherwise one cache miss per level). */
typedef struct sx_timer {
    int64_t at;
    uint64_t seq; /* arm order: ties between equal times follow event order */
    sx_group *g;
} sx_timer;

struct sx_group {
    sx_corr *c;
    uint64_t hash;
    uint32_t slot;    /* index in its correlation's groups while in the table */
    int64_t deadline; /* its timer; for a closed window, the window's end */
    int64_t until;    /* sliding: when all state has expired (the timer catches up lazily) */
    int dead;         /* fired: out of the table, state released, waiting for its timer */
    int64_t t0;       /* first event of the window */
    uint64_t count;   /* closed event_count */
    uint64_t cost;    /* state entries charged to the bound */
    sx_match *last;   /* closed windows: latest event, for the alert */
    int64_t *ring;    /* sliding event_count: times in the window, oldest first */
    size_t rcap;
    uint32_t rhead, rlen;
    sx_val **vals; /* value_count: distinct values, indexed by vh */
    size_t vcap;
    uint32_t nv;
    va_hash vh;
    sx_val *oldest, *newest;
    int64_t *tl;          /* temporal: last time per distinct rule; ordered: chain starts */
    struct sx_metric *mx; /* value_sum, value_avg, value_percentile */
    uint32_t keylen;
    char key[]; /* encoded group-by values (see encode) */
};

/* One correlation consuming one input. */
typedef struct sx_use {
    uint32_t corr;
    uint32_t *gslot; /* per group-by field: index in the input's values */
    uint32_t *vslot; /* per value_count field */
    uint32_t rix;    /* distinct-rule index (temporal) */
    uint32_t *pos;   /* positions in the correlation's rules, ascending */
    uint32_t npos;
    size_t cappos;
} sx_use;

typedef struct sx_input {
    const va_rule *rule;
    uint32_t corr;       /* the correlation producing it, or SX_NOIN for a detection rule */
    const char **fields; /* values copied from each match */
    uint32_t nfields;
    size_t capf;
    int32_t *cmap; /* chained: fields[i] -> producer's group-by index, -1 if none */
    sx_use *uses;
    uint32_t nuses;
    size_t capu;
    int standalone;
} sx_input;

struct sx_corr {
    const va_rule *rule;
    const va_rule_correlation *k;
    va_rule_ctype type;
    int closed; /* decided when the window ends: an upper bound in the condition, or value_avg */
    int metric; /* value_sum, value_avg or value_percentile: one number field */
    const char *mname; /* the metric's name in alerts, e.g. "sum(Bytes)" */
    int64_t span;      /* ns */
    uint32_t ngroup, nvf, nrules, npos, tlen;
    uint64_t need_all; /* temporal without condition: every rule (or position) */
    const char *level;
    int emit;
    uint32_t input;     /* as a producer for chaining, or SX_NOIN */
    int state_reported; /* the state bound was reported for this correlation */
    sx_group **groups;  /* open groups, indexed by gh */
    size_t gcap, ng;
    va_hash gh;
};

struct va_correlate {
    va_arena arena; /* compiled model */
    sx_corr *c;
    uint32_t nc;
    sx_input *in;
    uint32_t nin;
    va_hash inh; /* rule -> input index */
    uint64_t max_state;
    va_diag_fn diag;
    void *dud;
    va_correlate_stats st;
    unsigned reported;
    /* matches waiting for a flush, encoded (see enc_match), in memory or spilled */
    va_correlate_spill *sp;
    va_buf enc;
    uint64_t seq;
    uint64_t damaged; /* waiting matches read back damaged: lost (reported) */
    /* no match at or before this time may still be added (windows up to it are closed) */
    int64_t horizon;
    /* group timers: min-heap by (at, seq) */
    sx_timer *th;
    size_t nth, capth;
    uint64_t tseq;
    uint64_t state_used;
    /* chained matches to deliver, in order */
    sx_match **q;
    size_t qhead, nq, capq;
    /* computer, channel and file names of waiting matches */
    char **atoms;
    size_t acap;
    uint32_t natoms;
    uint64_t atom_bytes;
    va_hash ah;
    uint32_t last_atom[3]; /* per kind, the last atom used + 1 (0: none) */
    /* scratch sized at compile time */
    sx_str *tmpv;
    va_kv *kv;
    va_buf key, val;
    va_correlate_num num; /* a metric's value of the match being delivered */
    char mbuf[32];        /* a metric's value in an alert */
    /* during a flush */
    va_correlate_alert_fn fn;
    void *fud;
    int in_flush, stop;
};

static uint32_t input_of(const va_correlate *x, const void *r);

/* ---- compile-time indexes -------------------------------------------------------------- */

/* Rules by id and by name over the rule array: the first rule loaded with a key wins, so
 * references resolve to it. */
typedef struct ruleidx {
    const va_rule **rv;
    va_hash ids, names;
} ruleidx;

static const va_rule *ruleidx_get(const ruleidx *ix, int by_name, const char *k) {
    const va_hash *h = by_name ? &ix->names : &ix->ids;
    va_hash_iter it;
    for (uint32_t i = va_hash_first(h, hash_str(k), &it); i != VA_HASH_END;
         i = va_hash_next(h, &it)) {
        const char *rk = by_name ? ix->rv[i]->name : ix->rv[i]->id;
        if (!strcmp(rk, k)) return ix->rv[i];
    }
    return NULL;
}

static int ruleidx_put(ruleidx *ix, int by_name, const char *k, uint32_t i) {
    if (!k || ruleidx_get(ix, by_name, k)) return 0;
    return va_hash_insert(by_name ? &ix->names : &ix->ids, hash_str(k), i);
}

/* Correlation rule -> its cinfo index, for references between correlations. */
typedef struct cinfo cinfo;
static uint32_t cinfo_of(const va_hash *h, const cinfo *ci, const va_rule *r);

/* ---- compilation ------------------------------------------------------------------------- */

struct cinfo {
    const va_rule *rule;
    const va_rule **refs; /* resolved references, NULL where unknown */
    va_err code;          /* why it is left out; VA_OK if it is not */
    char why[300];
    uint32_t outdeg; /* unresolved references to correlations (Kahn) */
    int state;       /* 0 pending, 1 compiled, 2 left out */
    const char *level;
    uint32_t cix;
};

static uint32_t cinfo_of(const va_hash *h, const cinfo *ci, const va_rule *r) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(h, hash_ptr(r), &it); i != VA_HASH_END;
         i = va_hash_next(h, &it))
        if (ci[i].rule == r) return i;
    return SX_NOIN;
}

static void check_local(cinfo *ci, const ruleidx *ix) {
    const va_rule *r = ci->rule;
    const va_rule_correlation *k = &r->corr;
    for (uint32_t p = 0; p < k->rules.n; p++) {
        const va_rule *t = ruleidx_get(ix, 0, k->rules.v[p]);
        ci->refs[p] = t ? t : ruleidx_get(ix, 1, k->rules.v[p]);
    }
#define FAILV(c, ...) (ci->code = (c), snprintf(ci->why, sizeof ci->why, __VA_ARGS__))
    if (k->type < VA_RULE_EVENT_COUNT || k->type > VA_RULE_VALUE_PERCENTILE) {
        FAILV(VA_EUNSUPPORTED, "correlation type %s is not supported", va_rule_ctype_name(k->type));
        return;
    }
    if (!k->timespan || k->timespan_s <= 0) {
        FAILV(VA_EFORMAT, "correlation needs a timespan");
        return;
    }
    if (!k->group_by.n) {
        FAILV(VA_EFORMAT, "%s correlation needs group-by", va_rule_ctype_name(k->type));
        return;
    }
    int counted = k->type != VA_RULE_TEMPORAL && k->type != VA_RULE_TEMPORAL_ORDERED;
    if (counted && !k->ncmps) {
        FAILV(VA_EFORMAT, "%s correlation needs a condition", va_rule_ctype_name(k->type));
        return;
    }
    if (counted && k->type != VA_RULE_EVENT_COUNT && !k->fields.n) {
        FAILV(VA_EFORMAT, "%s correlation needs 'field' in its condition",
              va_rule_ctype_name(k->type));
        return;
    }
    if (is_metric(k->type) && k->fields.n > 1) {
        FAILV(VA_EFORMAT, "%s correlation takes one number field, not a list of %u",
              va_rule_ctype_name(k->type), k->fields.n);
        return;
    }
    if (!k->rules.n) {
        FAILV(VA_EFORMAT, "correlation references no rules");
        return;
    }
    if (k->type == VA_RULE_TEMPORAL_ORDERED && k->rules.n > SX_MAX_ORDERED) {
        FAILV(VA_ELIMIT, "temporal_ordered correlation over %u rules (at most %u)", k->rules.n,
              SX_MAX_ORDERED);
        return;
    }
    for (uint32_t i = 0; i < k->ncmps; i++) {
        if (k->cmps[i].op < VA_RULE_GT || k->cmps[i].op > VA_RULE_NEQ) {
            FAILV(VA_EFORMAT, "bad condition operator");
            return;
        }
    }
    for (uint32_t p = 0; p < k->rules.n; p++) {
        const va_rule *t = ci->refs[p];
        if (!t) {
            FAILV(VA_EFORMAT, "unknown rule '%.200s' (neither an id nor a name)", k->rules.v[p]);
            return;
        }
        if (t->kind != VA_RULE_KIND_DETECTION && t->kind != VA_RULE_KIND_CORRELATION) {
            FAILV(VA_EUNSUPPORTED, "'%.200s' is a %s rule, not a detection or correlation",
                  k->rules.v[p], va_rule_kind_name(t->kind));
            return;
        }
    }
#undef FAILV
}

/* The field a group-by (or value_count) name means in matches of rule t: its alias for t
 * (keyed by t's name or id), else the name itself. */
static const char *alias_field(const va_rule_correlation *k, const char *name, const va_rule *t) {
    for (uint32_t a = 0; a < k->naliases; a++) {
        const va_rule_alias *al = &k->aliases[a];
        if (strcmp(al->alias, name)) continue;
        for (uint32_t j = 0; j < al->n; j++)
            if ((t->name && !strcmp(al->rule[j], t->name)) ||
                (t->id && !strcmp(al->rule[j], t->id)))
                return al->field[j];
        return name;
    }
    return name;
}

static int input_field(sx_input *in, const char *name, uint32_t *slot) {
    for (uint32_t i = 0; i < in->nfields; i++) {
        if (!strcmp(in->fields[i], name)) {
            *slot = i;
            return 0;
        }
    }
    if (VA_ARRAY_GROW(in->fields, in->capf, (size_t)in->nfields + 1)) return -1;
    *slot = in->nfields;
    in->fields[in->nfields++] = name;
    return 0;
}

/* Compile-time tables, freed by the caller of compile whatever happened. */
typedef struct cctx {
    ruleidx ix;
    va_hash cidx; /* correlation rule -> cinfo index */
} cctx;

/* Resolve and check every correlation, drop the ones that cannot run (with the reason), and
 * build inputs and uses for the rest. */
static va_err compile(va_correlate *x, const va_rule_set *set, va_arena *tmp, cctx *cc) {
    va_arena *A = &x->arena;
    uint32_t nr = 0, ncorr = 0;
    for (const va_rule *r = set ? set->head : NULL; r; r = r->next) {
        nr++;
        ncorr += r->kind == VA_RULE_KIND_CORRELATION;
    }
    if (!ncorr) return VA_OK;
    ruleidx *ix = &cc->ix;
    va_hash *cidx = &cc->cidx;
    if (!(ix->rv = va_arena_alloc(tmp, nr * sizeof *ix->rv)) || va_hash_reserve(&ix->ids, nr) ||
        va_hash_reserve(&ix->names, nr) || va_hash_reserve(cidx, ncorr))
        return VA_ENOMEM;
    uint32_t ri = 0;
    for (const va_rule *r = set->head; r; r = r->next, ri++) {
        ix->rv[ri] = r;
        if (ruleidx_put(ix, 0, r->id, ri) || ruleidx_put(ix, 1, r->name, ri)) return VA_ENOMEM;
    }
    cinfo *ci = va_arena_alloc(tmp, ncorr * sizeof *ci);
    uint32_t *queue = va_arena_alloc(tmp, ncorr * sizeof *queue);
    uint32_t *rstart = va_arena_alloc(tmp, (ncorr + 1) * sizeof *rstart);
    if (!ci || !queue || !rstart) return VA_ENOMEM;
    memset(ci, 0, ncorr * sizeof *ci);
    memset(rstart, 0, (ncorr + 1) * sizeof *rstart);
    uint32_t n = 0;
    uint64_t nedges = 0;
    for (const va_rule *r = set->head; r; r = r->next) {
        if (r->kind != VA_RULE_KIND_CORRELATION) continue;
        ci[n].rule = r;
        ci[n].refs = va_arena_alloc(tmp, (r->corr.rules.n + 1) * sizeof *ci[n].refs);
        if (!ci[n].refs || va_hash_insert(cidx, hash_ptr(r), n)) return VA_ENOMEM;
        n++;
    }
    /* Edges to referenced correlations, reversed (CSR), for Kahn's algorithm: a correlation is
     * decided once every correlation it references is, and what is never decided is on or
     * behind a cycle.  No recursion, so a long chain cannot exhaust the stack. */
    for (uint32_t i = 0; i < ncorr; i++) {
        check_local(&ci[i], ix);
        const va_rule_correlation *k = &ci[i].rule->corr;
        for (uint32_t p = 0; p < k->rules.n; p++) {
            uint32_t j = ci[i].refs[p] ? cinfo_of(cidx, ci, ci[i].refs[p]) : SX_NOIN;
            if (j == SX_NOIN) continue;
            ci[i].outdeg++;
            rstart[j + 1]++;
            nedges++;
        }
    }
    for (uint32_t j = 0; j < ncorr; j++) rstart[j + 1] += rstart[j];
    uint32_t *rev = va_arena_alloc(tmp, (nedges + 1) * sizeof *rev);
    uint32_t *fill = va_arena_alloc(tmp, ncorr * sizeof *fill);
    if (!rev || !fill) return VA_ENOMEM;
    memcpy(fill, rstart, ncorr * sizeof *fill);
    for (uint32_t i = 0; i < ncorr; i++) {
        const va_rule_correlation *k = &ci[i].rule->corr;
        for (uint32_t p = 0; p < k->rules.n; p++) {
            uint32_t j = ci[i].refs[p] ? cinfo_of(cidx, ci, ci[i].refs[p]) : SX_NOIN;
            if (j != SX_NOIN) rev[fill[j]++] = i;
        }
    }
    uint32_t qh = 0, qt = 0;
    for (uint32_t i = 0; i < ncorr; i++)
        if (!ci[i].outdeg) queue[qt++] = i;
    while (qh < qt) {
        uint32_t i = queue[qh++];
        cinfo *c = &ci[i];
        const va_rule_correlation *k = &c->rule->corr;
        c->state = c->code ? 2 : 1;
        int best = -1;
        for (uint32_t p = 0; c->state == 1 && p < k->rules.n; p++) {
            const va_rule *t = c->refs[p];
            uint32_t j = cinfo_of(cidx, ci, t);
            const char *lv = t->level;
            if (j != SX_NOIN) {
                if (ci[j].state == 2) {
                    c->state = 2, c->code = ci[j].code;
                    snprintf(c->why, sizeof c->why,
                             "references correlation '%.200s', which was left out", label(t));
                }
                lv = ci[j].level;
            }
            if (level_rank(lv) > best) best = level_rank(lv), c->level = lv;
        }
        /* The spec lets the outermost correlation set the level; without one, an alert is as
         * severe as the most severe rule it stands on. */
        if (c->rule->level) c->level = c->rule->level;
        for (uint32_t e = rstart[i]; e < rstart[i + 1]; e++)
            if (--ci[rev[e]].outdeg == 0) queue[qt++] = rev[e];
    }
    for (uint32_t i = 0; i < ncorr; i++) {
        if (ci[i].state) continue;
        ci[i].state = 2;
        if (ci[i].code) continue;
        const va_rule_correlation *k = &ci[i].rule->corr;
        const char *via = "?";
        for (uint32_t p = 0; p < k->rules.n; p++) {
            uint32_t j = ci[i].refs[p] ? cinfo_of(cidx, ci, ci[i].refs[p]) : SX_NOIN;
            if (j != SX_NOIN && ci[j].outdeg) { /* still pending: on or behind the cycle */
                via = label(ci[j].rule);
                break;
            }
        }
        ci[i].code = VA_EFORMAT;
        snprintf(ci[i].why, sizeof ci[i].why,
                 "correlation references form a cycle (through '%.200s')", via);
    }
    uint32_t nok = 0;
    uint64_t nrefs = 0;
    for (uint32_t i = 0; i < ncorr; i++) {
        if (ci[i].state == 2) {
            report(x->diag, x->dud, ci[i].rule, ci[i].code, ci[i].why);
            x->st.failed++;
            continue;
        }
        ci[i].cix = nok++;
        nrefs += ci[i].rule->corr.rules.n;
    }
    x->st.rules = nok;
    if (!nok) return VA_OK;

    x->c = va_arena_alloc(A, nok * sizeof *x->c);
    x->in = va_arena_alloc(A, nrefs * sizeof *x->in);
    if (!x->c || !x->in || nrefs > UINT32_MAX || va_hash_reserve(&x->inh, (uint32_t)nrefs))
        return VA_ENOMEM;
    memset(x->c, 0, nok * sizeof *x->c);
    for (uint32_t i = 0; i < ncorr; i++) {
        if (ci[i].state != 1) continue;
        sx_corr *c = &x->c[x->nc++];
        const va_rule_correlation *k = &ci[i].rule->corr;
        c->rule = ci[i].rule;
        c->k = k;
        c->type = k->type;
        c->span = k->timespan_s > INT64_MAX / 1000000000 ? INT64_MAX : k->timespan_s * 1000000000;
        for (uint32_t j = 0; j < k->ncmps; j++)
            if (k->cmps[j].op != VA_RULE_GT && k->cmps[j].op != VA_RULE_GTE) c->closed = 1;
        /* An average can fall as well as rise with each value: known only when its window
         * ends.  A percentile rank belongs to the match: known when it arrives. */
        if (k->type == VA_RULE_VALUE_AVG) c->closed = 1;
        if (k->type == VA_RULE_VALUE_PERCENTILE) c->closed = 0;
        c->metric = is_metric(k->type);
        if (c->metric) {
            static const char *const fn[] = {"sum", "avg", "percentile"};
            const char *f = k->fields.v[0], *nm = fn[k->type - VA_RULE_VALUE_SUM];
            size_t len = strlen(nm) + strlen(f) + 3;
            char *name = va_arena_alloc(A, len);
            if (!name) return VA_ENOMEM;
            snprintf(name, len, "%s(%s)", nm, f);
            c->mname = name;
        }
        c->ngroup = k->group_by.n;
        c->nvf = k->type == VA_RULE_VALUE_COUNT || c->metric ? k->fields.n : 0;
        c->npos = k->rules.n;
        c->level = ci[i].level;
        c->input = SX_NOIN;
        for (uint32_t p = 0; p < k->rules.n; p++) {
            const va_rule *t = ci[i].refs[p];
            uint32_t ii = input_of(x, t);
            if (ii == SX_NOIN) {
                ii = x->nin;
                sx_input *in = &x->in[ii];
                memset(in, 0, sizeof *in);
                in->rule = t;
                uint32_t j = cinfo_of(cidx, ci, t);
                in->corr = j == SX_NOIN ? SX_NOIN : ci[j].cix;
                if (va_hash_insert(&x->inh, hash_ptr(t), ii)) return VA_ENOMEM;
                x->nin++;
            }
            sx_input *in = &x->in[ii];
            uint32_t u = 0;
            while (u < in->nuses && in->uses[u].corr != x->nc - 1) u++;
            if (u == in->nuses) {
                if (VA_ARRAY_GROW(in->uses, in->capu, (size_t)in->nuses + 1)) return VA_ENOMEM;
                sx_use *us = &in->uses[in->nuses++];
                memset(us, 0, sizeof *us);
                us->corr = x->nc - 1;
                us->rix = c->nrules++;
                us->gslot = va_arena_alloc(A, (c->ngroup + 1) * sizeof *us->gslot);
                us->vslot = va_arena_alloc(A, (c->nvf + 1) * sizeof *us->vslot);
                if (!us->gslot || !us->vslot) return VA_ENOMEM;
                for (uint32_t g = 0; g < c->ngroup; g++)
                    if (input_field(in, alias_field(k, k->group_by.v[g], t), &us->gslot[g]))
                        return VA_ENOMEM;
                for (uint32_t v = 0; v < c->nvf; v++)
                    if (input_field(in, alias_field(k, k->fields.v[v], t), &us->vslot[v]))
                        return VA_ENOMEM;
            }
            sx_use *us = &in->uses[u];
            if (VA_ARRAY_GROW(us->pos, us->cappos, (size_t)us->npos + 1)) return VA_ENOMEM;
            us->pos[us->npos++] = p;
        }
        if (c->type == VA_RULE_TEMPORAL) c->tlen = c->nrules;
        if (c->type == VA_RULE_TEMPORAL_ORDERED) c->tlen = c->npos * c->npos;
        if (!k->ncmps) c->need_all = c->type == VA_RULE_TEMPORAL ? c->nrules : c->npos;
    }
    uint32_t maxf = 1, maxg = 1;
    for (uint32_t ii = 0; ii < x->nin; ii++) {
        sx_input *in = &x->in[ii];
        if (in->nfields > maxf) maxf = in->nfields;
        for (uint32_t u = 0; u < in->nuses; u++)
            if (x->c[in->uses[u].corr].k->generate == 1) in->standalone = 1;
        if (in->corr == SX_NOIN) continue;
        sx_corr *pc = &x->c[in->corr];
        pc->input = ii;
        if (!(in->cmap = va_arena_alloc(A, (in->nfields + 1) * sizeof *in->cmap))) return VA_ENOMEM;
        for (uint32_t f = 0; f < in->nfields; f++) {
            in->cmap[f] = -1;
            for (uint32_t g = 0; g < pc->ngroup; g++) {
                if (!strcmp(pc->k->group_by.v[g], in->fields[f])) {
                    in->cmap[f] = (int32_t)g;
                    break;
                }
            }
        }
    }
    for (uint32_t i = 0; i < x->nc; i++) {
        sx_corr *c = &x->c[i];
        c->emit = c->input == SX_NOIN || x->in[c->input].standalone;
        if (c->ngroup > maxg) maxg = c->ngroup;
    }
    x->tmpv = va_arena_alloc(A, maxf * sizeof *x->tmpv);
    x->kv = va_arena_alloc(A, (maxg + 1) * sizeof *x->kv); /* + a metric's value */
    if (!x->tmpv || !x->kv) return VA_ENOMEM;
    return VA_OK;
}

va_err va_correlate_new(const va_rule_set *set, const va_correlate_opts *o, va_diag_fn diag,
                        void *ud, va_correlate **out, va_correlate_stats *st) {
    *out = NULL;
    if (st) memset(st, 0, sizeof *st);
    va_correlate *x = calloc(1, sizeof *x);
    if (!x) return VA_ENOMEM;
    va_arena_init(&x->arena, 0);
    va_buf_init(&x->key);
    va_buf_init(&x->val);
    va_buf_init(&x->enc);
    x->max_state = o && o->max_state ? o->max_state : VA_CORRELATE_DEFAULT_MAX_STATE;
    x->diag = diag, x->dud = ud;
    x->horizon = INT64_MIN;
    uint64_t mem = o && o->memory ? o->memory : VA_CORRELATE_DEFAULT_MEMORY;
    if (va_correlate_spill_new(mem == UINT64_MAX ? 0 : mem, o ? o->tmpdir : NULL, diag, ud,
                               &x->sp)) {
        va_correlate_free(x);
        return VA_ENOMEM;
    }
    va_arena tmp;
    va_arena_init(&tmp, 0);
    cctx cc;
    memset(&cc, 0, sizeof cc);
    va_hash_init(&cc.ix.ids);
    va_hash_init(&cc.ix.names);
    va_hash_init(&cc.cidx);
    va_err err = compile(x, set, &tmp, &cc);
    va_hash_free(&cc.ix.ids);
    va_hash_free(&cc.ix.names);
    va_hash_free(&cc.cidx);
    va_arena_free(&tmp);
    if (err) {
        va_correlate_free(x);
        return err;
    }
    if (st) *st = x->st;
    *out = x;
    return VA_OK;
}

static uint32_t input_of(const va_correlate *x, const void *r) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&x->inh, hash_ptr(r), &it); i != VA_HASH_END;
         i = va_hash_next(&x->inh, &it))
        if (x->in[i].rule == r) return i;
    return SX_NOIN;
}

int va_correlate_referenced(const va_correlate *x, const va_rule *r) {
    return input_of(x, r) != SX_NOIN;
}

int va_correlate_standalone(const va_correlate *x, const va_rule *r) {
    uint32_t ii = input_of(x, r);
    return ii == SX_NOIN || x->in[ii].standalone;
}

void va_correlate_stats_get(const va_correlate *x, va_correlate_stats *st) {
    *st = x->st;
    va_correlate_spill_stats ss;
    va_correlate_spill_stats_get(x->sp, &ss);
    st->buffered = ss.pending;
    st->memory_peak = ss.memory_peak;
    st->spilled_runs = ss.runs;
    st->spilled_bytes = ss.bytes;
    st->spill_merges = ss.merges;
    st->spill_failed = ss.failed;
    st->spill_lost = ss.lost + x->damaged;
}

/* ---- matches ----------------------------------------------------------------------------- */

static sx_str txt(const char *s) {
    return s ? (sx_str){s, (uint32_t)strlen(s), 1} : (sx_str){NULL, 0, 0};
}

/* A match block: values, then computer, channel and file (absent: has = 0), all copied. */
static sx_match *match_new(uint32_t input, int64_t t, const sx_str *v, uint32_t nv, sx_str computer,
                           sx_str channel, sx_str file, int64_t event_id, uint64_t record_id) {
    size_t bytes = 0;
    for (uint32_t i = 0; i < nv; i++)
        if (v[i].has) bytes += (size_t)v[i].len + 1;
    const sx_str *tx[3] = {&computer, &channel, &file};
    for (int k = 0; k < 3; k++)
        if (tx[k]->has) bytes += (size_t)tx[k]->len + 1;
    sx_match *m = malloc(sizeof *m + nv * sizeof(sx_str) + bytes);
    if (!m) return NULL;
    char *p = (char *)(m->v + nv);
    for (uint32_t i = 0; i < nv; i++) {
        if (!v[i].has) {
            m->v[i] = (sx_str){"", 0, 0};
            continue;
        }
        memcpy(p, v[i].s, v[i].len);
        p[v[i].len] = 0;
        m->v[i] = (sx_str){p, v[i].len, 1};
        p += v[i].len + 1;
    }
    const char *out[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) {
        if (!tx[k]->has) continue;
        memcpy(p, tx[k]->s, tx[k]->len);
        p[tx[k]->len] = 0;
        out[k] = p;
        p += tx[k]->len + 1;
    }
    m->computer = out[0], m->channel = out[1], m->file = out[2];
    m->t = t, m->input = input, m->refs = 1, m->nv = nv;
    m->event_id = event_id, m->record_id = record_id;
    return m;
}

static void match_release(sx_match *m) {
    if (m && --m->refs == 0) free(m);
}

static va_err q_push(va_correlate *x, sx_match *m) {
    if (VA_ARRAY_GROW(x->q, x->capq, x->nq + 1)) return VA_ENOMEM;
    x->q[x->nq++] = m;
    return VA_OK;
}

static void q_clear(va_correlate *x) {
    while (x->qhead < x->nq) match_release(x->q[x->qhead++]);
    x->qhead = x->nq = 0;
}

/* ---- waiting matches: atoms, encoding, decoding ------------------------------------------ */

/* Computer, channel and file names repeat across millions of matches: a waiting match names
 * them by number while the atom table is small.  Returns the atom + 2, or 1 when the string
 * must be stored inline (table full), 0 for NULL; < 0 out of memory. */
static int64_t atom(va_correlate *x, int kind, const char *s) {
    if (!s) return 0;
    uint32_t la = x->last_atom[kind];
    if (la && !strcmp(x->atoms[la - 1], s)) return (int64_t)la + 1;
    size_t len = strlen(s);
    uint64_t h = va_hash_mem(s, len, 0);
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&x->ah, h, &it); i != VA_HASH_END;
         i = va_hash_next(&x->ah, &it)) {
        if (!strcmp(x->atoms[i], s)) {
            x->last_atom[kind] = i + 1;
            return (int64_t)i + 2;
        }
    }
    if (x->natoms >= SX_MAX_ATOMS || x->atom_bytes + len > SX_MAX_ATOM_BYTES) return 1;
    if (VA_ARRAY_GROW(x->atoms, x->acap, (size_t)x->natoms + 1)) return -1;
    char *c = malloc(len + 1);
    if (!c) return -1;
    memcpy(c, s, len + 1);
    if (va_hash_insert(&x->ah, h, x->natoms)) {
        free(c);
        return -1;
    }
    x->atoms[x->natoms++] = c;
    x->atom_bytes += len;
    x->last_atom[kind] = x->natoms;
    return (int64_t)x->natoms + 1;
}

static uint64_t zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v) {
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A waiting match as bytes (spillable): input, event ID (zigzag), record ID, computer, channel
 * and file (0 absent, 1 inline length and bytes, else atom + 2), then per input field 0 if
 * absent or length + 1 and the bytes.  Varints throughout. */
static va_err enc_match(va_correlate *x, uint32_t ii, const va_event *ev) {
    va_buf *b = &x->enc;
    va_buf_clear(b);
    va_correlate_spill_put_uv(b, ii);
    va_correlate_spill_put_uv(b, zigzag(ev->event_id));
    va_correlate_spill_put_uv(b, ev->record_id);
    const char *tx[3] = {ev->computer ? ev->computer->val : NULL,
                         ev->channel ? ev->channel->val : NULL, ev->src.path};
    for (int k = 0; k < 3; k++) {
        int64_t a = atom(x, k, tx[k]);
        if (a < 0) return VA_ENOMEM;
        va_correlate_spill_put_uv(b, (uint64_t)a);
        if (a != 1) continue;
        size_t n = strlen(tx[k]);
        va_correlate_spill_put_uv(b, n);
        va_buf_put(b, tx[k], n);
    }
    const sx_input *in = &x->in[ii];
    for (uint32_t i = 0; i < in->nfields; i++) {
        const va_field *f = va_event_get(ev, in->fields[i]);
        if (!f || f->type == VA_V_NULL) {
            va_correlate_spill_put_uv(b, 0);
            continue;
        }
        va_correlate_spill_put_uv(b, (uint64_t)f->vlen + 1);
        va_buf_put(b, f->val, f->vlen);
    }
    return b->oom ? VA_ENOMEM : VA_OK;
}

/* The match block of a waiting match read back; *bad set if the bytes do not parse (they
 * were written by enc_match, so only a damaged run file gets there). */
static sx_match *dec_match(va_correlate *x, const va_correlate_spill_rec *r, int *bad) {
    const unsigned char *p = r->p, *end = r->p + r->n;
    uint64_t ii, eid, rid, v;
    *bad = 1;
    if (va_correlate_spill_get_uv(&p, end, &ii) || ii >= x->nin ||
        va_correlate_spill_get_uv(&p, end, &eid) || va_correlate_spill_get_uv(&p, end, &rid))
        return NULL;
    sx_str tx[3];
    for (int k = 0; k < 3; k++) {
        if (va_correlate_spill_get_uv(&p, end, &v)) return NULL;
        if (v == 0) {
            tx[k] = (sx_str){NULL, 0, 0};
        } else if (v == 1) {
            uint64_t n;
            if (va_correlate_spill_get_uv(&p, end, &n) || n > (uint64_t)(end - p)) return NULL;
            tx[k] = (sx_str){(const char *)p, (uint32_t)n, 1};
            p += n;
        } else {
            if (v - 2 >= x->natoms) return NULL;
            tx[k] = txt(x->atoms[v - 2]);
        }
    }
    const sx_input *in = &x->in[ii];
    for (uint32_t i = 0; i < in->nfields; i++) {
        if (va_correlate_spill_get_uv(&p, end, &v) || (v && v - 1 > (uint64_t)(end - p)))
            return NULL;
        x->tmpv[i] = v ? (sx_str){(const char *)p, (uint32_t)(v - 1), 1} : (sx_str){"", 0, 0};
        p += v ? v - 1 : 0;
    }
    *bad = 0;
    return match_new((uint32_t)ii, r->t, x->tmpv, in->nfields, tx[0], tx[1], tx[2], unzigzag(eid),
                     rid);
}

/* ---- timer heap -------------------------------------------------------------------------- */

static int t_less(const sx_timer *a, const sx_timer *b) {
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void th_down(va_correlate *x, size_t i) {
    sx_timer t = x->th[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= x->nth) break;
        if (c + 1 < x->nth && t_less(&x->th[c + 1], &x->th[c])) c++;
        if (!t_less(&x->th[c], &t)) break;
        x->th[i] = x->th[c];
        i = c;
    }
    x->th[i] = t;
}

static va_err th_push(va_correlate *x, int64_t at, sx_group *g) {
    if (VA_ARRAY_GROW(x->th, x->capth, x->nth + 1)) return VA_ENOMEM;
    sx_timer t = {at, x->tseq++, g};
    size_t i = x->nth++;
    while (i && t_less(&t, &x->th[(i - 1) / 2])) {
        x->th[i] = x->th[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    x->th[i] = t;
    assert(i == 0 || !t_less(&x->th[i], &x->th[(i - 1) / 2])); /* heap order restored */
    return VA_OK;
}

static void th_pop(va_correlate *x) {
    assert(x->nth > 0);
    x->th[0] = x->th[--x->nth];
    if (x->nth) th_down(x, 0);
}

/* Move the top timer to a later time, as if armed now. */
static void th_retop(va_correlate *x, int64_t at) {
    x->th[0].at = at;
    x->th[0].seq = x->tseq++;
    th_down(x, 0);
}

/* ---- groups and their state -------------------------------------------------------------- */

/* The hard bound on window state: the match is lost for c, which is said once per correlation
 * (window expiry keeps state far below it unless groups or windows are huge). */
static void drop(va_correlate *x, sx_corr *c) {
    x->st.state_dropped++;
    if (c->state_reported) return;
    c->state_reported = 1;
    char msg[400];
    snprintf(msg, sizeof msg,
             "correlation '%.120s': window state of all correlations holds %llu entries "
             "(max_state); matches it cannot take are dropped and counted (reported once per "
             "correlation)",
             label(c->rule), (unsigned long long)x->max_state);
    report(x->diag, x->dud, c->rule, VA_ELIMIT, msg);
}

/* Charge n state entries; 0 (and the match dropped) if the bound would be passed. */
static int charge(va_correlate *x, sx_corr *c, sx_group *g, uint64_t n) {
    if (x->state_used + n > x->max_state) {
        drop(x, c);
        return 0;
    }
    x->state_used += n;
    if (g) g->cost += n;
    return 1;
}

static void uncharge(va_correlate *x, sx_group *g, uint64_t n) {
    x->state_used -= n;
    g->cost -= n;
}

static void list_remove(sx_group *g, sx_val *v) {
    if (v->prev)
        v->prev->next = v->next;
    else
        g->oldest = v->next;
    if (v->next)
        v->next->prev = v->prev;
    else
        g->newest = v->prev;
}

/* Out of the index and of the list (the caller frees it). */
static void val_unlink(sx_group *g, sx_val *v) {
    uint32_t last = --g->nv;
    int indexed = g->vh.slot != NULL;
    if (indexed) (void)va_hash_remove(&g->vh, v->hash, v->slot);
    if (v->slot != last) {
        sx_val *m = g->vals[last];
        if (indexed) (void)va_hash_renumber(&g->vh, m->hash, last, v->slot);
        g->vals[v->slot] = m;
        m->slot = v->slot;
    }
    list_remove(g, v);
}

static void val_append(sx_group *g, sx_val *v) {
    v->next = NULL;
    v->prev = g->newest;
    if (g->newest)
        g->newest->next = v;
    else
        g->oldest = v;
    g->newest = v;
}

static void group_unlink(sx_group *g) {
    sx_corr *c = g->c;
    size_t last = --c->ng;
    (void)va_hash_remove(&c->gh, g->hash, g->slot);
    if (g->slot != last) {
        sx_group *m = c->groups[last];
        (void)va_hash_renumber(&c->gh, m->hash, (uint32_t)last, g->slot);
        c->groups[g->slot] = m;
        m->slot = g->slot;
    }
}

static void group_state_free(sx_group *g) {
    match_release(g->last);
    g->last = NULL;
    free(g->ring);
    g->ring = NULL;
    for (sx_val *v = g->oldest, *nx; v; v = nx) {
        nx = v->next;
        free(v);
    }
    g->oldest = g->newest = NULL;
    free(g->vals);
    g->vals = NULL;
    g->vcap = g->nv = 0;
    va_hash_free(&g->vh);
    free(g->tl);
    g->tl = NULL;
    if (g->mx) {
        free(g->mx->nring);
        va_correlate_ost_free(&g->mx->ost);
        free(g->mx);
        g->mx = NULL;
    }
}

/* The group fired: a new event of its key starts a new group at once, while this one waits
 * for its timer (removing a heap entry from the middle would need a back index in every
 * group, written on every sift).  It stays charged one entry until then. */
static void group_kill(va_correlate *x, sx_group *g) {
    group_unlink(g);
    group_state_free(g);
    x->state_used -= g->cost - 1;
    g->cost = 1;
    g->dead = 1;
}

/* Free a group whose timer has been popped. */
static void group_destroy(va_correlate *x, sx_group *g) {
    if (!g->dead) {
        group_unlink(g);
        group_state_free(g);
    }
    x->state_used -= g->cost;
    free(g);
}

static sx_group *group_find(const sx_corr *c, uint64_t h, const char *key, size_t len) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&c->gh, h, &it); i != VA_HASH_END;
         i = va_hash_next(&c->gh, &it)) {
        sx_group *g = c->groups[i];
        if (g->hash == h && g->keylen == len && !memcmp(g->key, key, len)) return g;
    }
    return NULL;
}

/* A new group with its deadline armed; *out NULL if the state bound dropped it. */
static va_err group_new(va_correlate *x, sx_corr *c, uint64_t h, const char *key, size_t len,
                        int64_t deadline, sx_group **out) {
    *out = NULL;
    if (c->ng >= UINT32_MAX - 1 || VA_ARRAY_GROW(c->groups, c->gcap, c->ng + 1) ||
        va_hash_reserve(&c->gh, (uint32_t)c->ng + 1))
        return VA_ENOMEM;
    if (!charge(x, c, NULL, 1 + (uint64_t)c->tlen)) return VA_OK;
    sx_group *g = calloc(1, sizeof *g + len);
    int64_t *tl = c->tlen ? malloc(c->tlen * sizeof *tl) : NULL;
    sx_metric *mx = c->metric ? calloc(1, sizeof *mx) : NULL;
    if (!g || (c->tlen && !tl) || (c->metric && !mx)) {
        free(g), free(tl), free(mx);
        x->state_used -= 1 + (uint64_t)c->tlen;
        return VA_ENOMEM;
    }
    for (uint32_t i = 0; i < c->tlen; i++) tl[i] = SX_NONE;
    g->tl = tl;
    g->mx = mx;
    g->cost = 1 + (uint64_t)c->tlen;
    g->c = c, g->hash = h, g->keylen = (uint32_t)len;
    memcpy(g->key, key, len);
    g->deadline = g->until = deadline;
    if (th_push(x, deadline, g)) {
        x->state_used -= g->cost;
        group_state_free(g);
        free(g);
        return VA_ENOMEM;
    }
    g->slot = (uint32_t)c->ng;
    (void)va_hash_insert(&c->gh, h, g->slot); /* room reserved above */
    c->groups[c->ng++] = g;
    *out = g;
    return VA_OK;
}

/* Group-by values (or a value_count tuple) as one byte string: per field a 4-byte length, the
 * bytes and a NUL, so tuples compare exactly and values can be handed out as C strings.
 * Returns 1 if need_all and a field is absent (no value to count), -1 out of memory. */
static int encode(va_buf *b, const sx_match *m, const uint32_t *slots, uint32_t n, int need_all) {
    va_buf_clear(b);
    for (uint32_t k = 0; k < n; k++) {
        const sx_str *s = &m->v[slots[k]];
        if (!s->has && need_all) return 1;
        uint32_t len = s->has ? s->len : 0;
        va_buf_put(b, &len, sizeof len);
        va_buf_put(b, s->s, len);
        va_buf_putc(b, 0);
    }
    if (!n) va_buf_put(b, "", 0);
    return b->oom ? -1 : 0;
}

static void decode(const sx_corr *c, const sx_group *g, va_kv *kv) {
    const char *p = g->key;
    for (uint32_t k = 0; k < c->ngroup; k++) {
        uint32_t len;
        memcpy(&len, p, sizeof len);
        kv[k].name = c->k->group_by.v[k];
        kv[k].nlen = (uint32_t)strlen(kv[k].name);
        kv[k].val = p + sizeof len;
        kv[k].vlen = len;
        p += sizeof len + len + 1;
    }
}

static sx_val *val_find(const sx_group *g, uint64_t h, const char *b, size_t len) {
    if (!g->vh.slot) { /* few values: no index (see SX_VAL_INDEX) */
        for (uint32_t i = 0; i < g->nv; i++) {
            sx_val *v = g->vals[i];
            if (v->hash == h && v->len == len && !memcmp(v->b, b, len)) return v;
        }
        return NULL;
    }
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&g->vh, h, &it); i != VA_HASH_END;
         i = va_hash_next(&g->vh, &it)) {
        sx_val *v = g->vals[i];
        if (v->hash == h && v->len == len && !memcmp(v->b, b, len)) return v;
    }
    return NULL;
}

/* Put v (unlinked) back into the index and at the newest end of the list; room is there. */
static void val_link(sx_group *g, sx_val *v) {
    v->slot = g->nv;
    if (g->vh.slot) (void)va_hash_insert(&g->vh, v->hash, v->slot);
    g->vals[g->nv++] = v;
    val_append(g, v);
}

static va_err val_add(sx_group *g, uint64_t h, const char *b, size_t len, int64_t t) {
    if (VA_ARRAY_GROW(g->vals, g->vcap, (size_t)g->nv + 1)) return VA_ENOMEM;
    if (g->vh.slot || g->nv + 1 > SX_VAL_INDEX) {
        int build = !g->vh.slot;
        if (va_hash_reserve(&g->vh, g->nv + 1)) return VA_ENOMEM;
        for (uint32_t i = 0; build && i < g->nv; i++)
            (void)va_hash_insert(&g->vh, g->vals[i]->hash, i); /* room reserved */
    }
    sx_val *v = malloc(sizeof *v + len);
    if (!v) return VA_ENOMEM;
    v->hash = h, v->last = t, v->len = (uint32_t)len;
    memcpy(v->b, b, len);
    val_link(g, v);
    return VA_OK;
}

/* Count a value at time t: refresh it if known, else add it (charged to the bound). */
static va_err val_see(va_correlate *x, sx_corr *c, sx_group *g, int64_t t) {
    uint64_t h = va_hash_mem(x->val.p, x->val.len, 0);
    sx_val *v = val_find(g, h, x->val.p, x->val.len);
    if (v) {
        list_remove(g, v);
        v->last = t;
        val_append(g, v);
        return VA_OK;
    }
    if (g->nv == UINT32_MAX / 2) { /* uint32 sizes: as far as the bound goes */
        drop(x, c);
        return VA_OK;
    }
    if (!charge(x, c, g, 1)) return VA_OK;
    va_err err = val_add(g, h, x->val.p, x->val.len, t);
    if (err) uncharge(x, g, 1);
    return err;
}

/* temporal_ordered: tl[l * npos + j] is the latest start of an in-order chain of l + 1 matches
 * ending at position j.  Latest start is all that matters: a later start stays in the window
 * longer, and any later match extends the chain the same way. */
static void ordered_update(const sx_corr *c, sx_group *g, const sx_use *u, int64_t t, int64_t lo) {
    uint32_t N = c->npos;
    int64_t *E = g->tl;
    /* A rule listed at several positions: going from the last position down, each update
     * reads only lower positions, which this event has not touched yet, so one event never
     * fills two positions of one chain. */
    for (uint32_t q = u->npos; q-- > 0;) {
        uint32_t p = u->pos[q];
        for (uint32_t l = p; l >= 1; l--) {
            int64_t best = SX_NONE;
            for (uint32_t j = l - 1; j < p; j++) {
                int64_t s = E[(l - 1) * N + j];
                if (live(s, lo) && s > best) best = s;
            }
            if (best != SX_NONE && best > E[l * N + p]) E[l * N + p] = best;
        }
        E[p] = t;
    }
}

/* Longest in-order chain alive at lo; *first its latest start. */
static uint64_t ordered_count(const sx_corr *c, const sx_group *g, int64_t lo, int64_t *first) {
    uint32_t N = c->npos;
    for (uint32_t l = N; l-- > 0;) {
        int64_t best = SX_NONE;
        for (uint32_t j = l; j < N; j++) {
            int64_t s = g->tl[l * N + j];
            if (live(s, lo) && s > best) best = s;
        }
        if (best != SX_NONE) {
            *first = best;
            return l + 1;
        }
    }
    return 0;
}

static uint64_t temporal_count(const sx_corr *c, const sx_group *g, int64_t lo, int64_t *first) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < c->nrules; i++) {
        if (!live(g->tl[i], lo)) continue;
        if (!n || g->tl[i] < *first) *first = g->tl[i];
        n++;
    }
    return n;
}

/* v: the count, or a metric's value. */
static int cond_ok(const sx_corr *c, double d) {
    if (c->need_all) return d >= (double)c->need_all;
    for (uint32_t i = 0; i < c->k->ncmps; i++) {
        double v = c->k->cmps[i].v.f;
        int ok = 0;
        switch (c->k->cmps[i].op) {
        case VA_RULE_GT:
            ok = d > v;
            break;
        case VA_RULE_GTE:
            ok = d >= v;
            break;
        case VA_RULE_LT:
            ok = d < v;
            break;
        case VA_RULE_LTE:
            ok = d <= v;
            break;
        case VA_RULE_EQ:
            ok = d == v;
            break;
        case VA_RULE_NEQ:
            ok = d != v;
            break;
        }
        if (!ok) return 0;
    }
    return 1;
}

/* ---- firing and the sweep ---------------------------------------------------------------- */

/* Correlation c fired for group g; m is the event that completed it.  decided is when the
 * result became known: chained correlations see the alert as a match at that time, which is
 * never before anything they have already seen. */
static va_err fire(va_correlate *x, sx_corr *c, const sx_group *g, const sx_match *m,
                   int64_t decided, uint64_t n, int64_t first, double metric) {
    x->st.alerts++;
    decode(c, g, x->kv);
    if (c->metric) {
        va_correlate_num_fmt(metric, x->mbuf);
        x->kv[c->ngroup] =
            (va_kv){c->mname, x->mbuf, (uint32_t)strlen(c->mname), (uint32_t)strlen(x->mbuf)};
    }
    if (c->emit && x->fn && !x->stop) {
        const va_rule *r = c->rule;
        va_alert a;
        memset(&a, 0, sizeof a);
        a.kind = VA_ALERT_CORRELATION;
        a.time_ns = m->t;
        a.title = r->title, a.id = r->id, a.level = c->level, a.author = r->author;
        a.tags = r->tags.v, a.ntags = r->tags.n;
        a.computer = m->computer, a.channel = m->channel;
        a.event_id = m->event_id, a.record_id = m->record_id, a.file = m->file;
        a.fields = x->kv, a.nfields = c->ngroup + (c->metric ? 1 : 0);
        a.count = n, a.first_ns = first;
        if (x->fn(x->fud, &a)) x->stop = 1;
    }
    if (c->input == SX_NOIN) return VA_OK;
    const sx_input *in = &x->in[c->input];
    for (uint32_t f = 0; f < in->nfields; f++) {
        int32_t j = in->cmap[f];
        x->tmpv[f] = j < 0 ? (sx_str){"", 0, 0} : (sx_str){x->kv[j].val, x->kv[j].vlen, 1};
    }
    sx_match *cm = match_new(c->input, decided, x->tmpv, in->nfields, txt(m->computer),
                             txt(m->channel), txt(m->file), m->event_id, m->record_id);
    if (!cm) return VA_ENOMEM;
    va_err err = q_push(x, cm);
    if (err) match_release(cm);
    return err;
}

static va_err add_closed(va_correlate *x, sx_corr *c, const sx_use *u, sx_group *g, sx_match *m) {
    switch (c->type) {
    case VA_RULE_EVENT_COUNT:
        g->count++;
        break;
    case VA_RULE_VALUE_COUNT: {
        va_err err = val_see(x, c, g, m->t);
        if (err) return err;
        break;
    }
    case VA_RULE_TEMPORAL:
        g->tl[u->rix] = m->t;
        break;
    case VA_RULE_TEMPORAL_ORDERED:
        ordered_update(c, g, u, m->t, g->t0);
        break;
    default: /* value_sum, value_avg: the whole window's values */
        va_correlate_sum_add(&g->mx->sum, &x->num);
        break;
    }
    m->refs++;
    match_release(g->last);
    g->last = m;
    return VA_OK;
}

/* Sliding value_sum and value_percentile: the values of [lo, m->t], x->num the new one.  A sum
 * that meets the condition starts its group over, as a count does; a percentile rank judges
 * the match alone, so the window's values stay as the baseline of the next one. */
static va_err add_metric(va_correlate *x, sx_corr *c, sx_group *g, sx_match *m, int64_t lo) {
    while (g->mx->nrlen && g->mx->nring[g->mx->nrhead].t < lo) {
        sx_nent *e = &g->mx->nring[g->mx->nrhead];
        if (c->type == VA_RULE_VALUE_SUM)
            va_correlate_sum_remove(&g->mx->sum, &e->v);
        else
            va_correlate_ost_erase(&g->mx->ost, e->v.f, e->id);
        g->mx->nrhead = (uint32_t)((g->mx->nrhead + 1) % g->mx->nrcap);
        g->mx->nrlen--;
        uncharge(x, g, 1);
    }
    if (g->mx->nrlen == UINT32_MAX / 2) { /* uint32 sizes: as far as the bound goes */
        drop(x, c);
        return VA_OK;
    }
    if (!charge(x, c, g, 1)) return VA_OK;
    if (g->mx->nrlen == g->mx->nrcap) {
        size_t oc = g->mx->nrcap;
        if (VA_ARRAY_GROW(g->mx->nring, g->mx->nrcap, oc + 1)) {
            uncharge(x, g, 1);
            return VA_ENOMEM;
        }
        memcpy(g->mx->nring + oc, g->mx->nring, g->mx->nrhead * sizeof *g->mx->nring);
    }
    sx_nent *e = &g->mx->nring[(g->mx->nrhead + g->mx->nrlen) % g->mx->nrcap];
    *e = (sx_nent){m->t, g->mx->nid++, x->num};
    if (c->type == VA_RULE_VALUE_PERCENTILE &&
        va_correlate_ost_insert(&g->mx->ost, e->v.f, e->id)) {
        uncharge(x, g, 1);
        return VA_ENOMEM;
    }
    g->mx->nrlen++;
    int64_t first = g->mx->nring[g->mx->nrhead].t;
    uint64_t n = g->mx->nrlen;
    double v;
    if (c->type == VA_RULE_VALUE_SUM) {
        va_correlate_sum_add(&g->mx->sum, &x->num);
        v = va_correlate_sum_value(&g->mx->sum);
    } else {
        uint64_t below, equal;
        va_correlate_ost_rank(&g->mx->ost, x->num.f, &below, &equal);
        v = 100.0 * ((double)below + 0.5 * (double)equal) / (double)n;
    }
    g->until = sat_add(m->t, c->span);
    if (!cond_ok(c, v)) return VA_OK;
    va_err err = fire(x, c, g, m, m->t, n, first, v);
    if (c->type == VA_RULE_VALUE_SUM) group_kill(x, g);
    return err;
}

static va_err add_sliding(va_correlate *x, sx_corr *c, const sx_use *u, sx_group *g, sx_match *m) {
    int64_t lo = sat_sub(m->t, c->span), first = m->t;
    uint64_t n = 0;
    va_err err;
    switch (c->type) {
    case VA_RULE_EVENT_COUNT:
        while (g->rlen && g->ring[g->rhead] < lo) {
            g->rhead = (g->rhead + 1) % g->rcap;
            g->rlen--;
            uncharge(x, g, 1);
        }
        if (g->rlen == UINT32_MAX / 2) { /* uint32 sizes: as far as the bound goes */
            drop(x, c);
            return VA_OK;
        }
        if (!charge(x, c, g, 1)) return VA_OK;
        if (g->rlen == g->rcap) {
            size_t oc = g->rcap;
            if (VA_ARRAY_GROW(g->ring, g->rcap, oc + 1)) {
                uncharge(x, g, 1);
                return VA_ENOMEM;
            }
            /* The wrapped part (before rhead) moves behind the old end: oldest first again. */
            memcpy(g->ring + oc, g->ring, g->rhead * sizeof *g->ring);
        }
        g->ring[(g->rhead + g->rlen++) % g->rcap] = m->t;
        n = g->rlen;
        first = g->ring[g->rhead];
        break;
    case VA_RULE_VALUE_COUNT:
        while (g->oldest && g->oldest->last < lo) {
            sx_val *v = g->oldest;
            val_unlink(g, v);
            free(v);
            uncharge(x, g, 1);
        }
        if ((err = val_see(x, c, g, m->t))) return err;
        n = g->nv;
        if (g->oldest) first = g->oldest->last;
        break;
    case VA_RULE_TEMPORAL:
        g->tl[u->rix] = m->t;
        n = temporal_count(c, g, lo, &first);
        break;
    case VA_RULE_TEMPORAL_ORDERED:
        ordered_update(c, g, u, m->t, lo);
        n = ordered_count(c, g, lo, &first);
        break;
    default: /* value_sum, value_percentile */
        return add_metric(x, c, g, m, lo);
    }
    if (n && cond_ok(c, (double)n)) {
        /* Fire once per fresh satisfying window: the group starts over. */
        err = fire(x, c, g, m, m->t, n, first, 0);
        group_kill(x, g);
        return err;
    }
    /* Moving the timer on every event would cost a sift each time; advance moves it when it
     * comes up, which is safe because sliding expiry emits nothing. */
    g->until = sat_add(m->t, c->span);
    return VA_OK;
}

/* A metric's field holds something that is not a number: the match does not count for c. */
static void nonnumeric(va_correlate *x, const sx_corr *c, const sx_use *u, const sx_match *m) {
    x->st.nonnumeric++;
    if (x->reported & REP_NONNUM) return;
    x->reported |= REP_NONNUM;
    if (!x->diag) return;
    const sx_input *in = &x->in[m->input];
    const sx_str *s = &m->v[u->vslot[0]];
    char msg[600];
    snprintf(msg, sizeof msg,
             "correlation '%.120s': field '%.80s' of a match of rule '%.120s' is '%.60s', not a "
             "number; it is not counted (further ones are counted in nonnumeric; reported once)",
             label(c->rule), in->fields[u->vslot[0]], label(in->rule), s->s);
    va_diag d = {VA_SEV_WARN,
                 VA_EFORMAT,
                 m->file,
                 m->record_id ? "record" : NULL,
                 m->record_id ? (int64_t)m->record_id : -1,
                 -1,
                 msg};
    x->diag(x->dud, &d);
}

static va_err deliver(va_correlate *x, const sx_use *u, sx_match *m) {
    sx_corr *c = &x->c[u->corr];
    if (c->metric) {
        /* Absent, null or empty: no value, as for value_count.  Anything else must read as a
         * number. */
        const sx_str *s = &m->v[u->vslot[0]];
        if (!s->has || !s->len) return VA_OK;
        if (va_correlate_num_parse(s->s, s->len, &x->num)) {
            nonnumeric(x, c, u, m);
            return VA_OK;
        }
    }
    if (c->type == VA_RULE_VALUE_COUNT) {
        int r = encode(&x->val, m, u->vslot, c->nvf, 1);
        if (r < 0) return VA_ENOMEM;
        if (r > 0) return VA_OK; /* nothing to count */
    }
    if (encode(&x->key, m, u->gslot, c->ngroup, 0) < 0) return VA_ENOMEM;
    uint64_t h = va_hash_mem(x->key.p, x->key.len, 0);
    sx_group *g = group_find(c, h, x->key.p, x->key.len);
    if (!g) {
        va_err err = group_new(x, c, h, x->key.p, x->key.len, sat_add(m->t, c->span), &g);
        if (err || !g) return err;
        g->t0 = m->t;
    }
    return c->closed ? add_closed(x, c, u, g, m) : add_sliding(x, c, u, g, m);
}

static va_err deliver_all(va_correlate *x, sx_match *m) {
    const sx_input *in = &x->in[m->input];
    for (uint32_t u = 0; u < in->nuses; u++) {
        va_err err = deliver(x, &in->uses[u], m);
        if (err) return err;
    }
    return VA_OK;
}

/* Deliver chained matches until none are left (correlations form a DAG, so this ends). */
static va_err drain(va_correlate *x) {
    va_err err = VA_OK;
    while (!err && x->qhead < x->nq) {
        sx_match *m = x->q[x->qhead++];
        err = deliver_all(x, m);
        match_release(m);
    }
    q_clear(x);
    return err;
}

/* A group's timer has come up and been popped: decide a closed window, or forget expired
 * sliding state. */
static va_err expire(va_correlate *x, sx_group *g) {
    sx_corr *c = g->c;
    va_err err = VA_OK;
    if (!g->dead && c->closed && g->last) {
        int64_t first = g->t0;
        uint64_t n = 0;
        double v;
        if (c->metric) {
            n = g->mx->sum.n;
            v = va_correlate_sum_value(&g->mx->sum);
            if (c->type == VA_RULE_VALUE_AVG) v /= (double)n;
        } else {
            n = c->type == VA_RULE_EVENT_COUNT   ? g->count
                : c->type == VA_RULE_VALUE_COUNT ? g->nv
                : c->type == VA_RULE_TEMPORAL    ? temporal_count(c, g, g->t0, &first)
                                                 : ordered_count(c, g, g->t0, &first);
            v = (double)n;
        }
        if (cond_ok(c, v)) err = fire(x, c, g, g->last, g->deadline, n, g->t0, v);
    }
    if (g->deadline > x->horizon) x->horizon = g->deadline;
    group_destroy(x, g);
    if (!err) err = drain(x);
    return err;
}

/* Run every timer before t (incl: up to and including t), in (time, arm order). */
static va_err advance(va_correlate *x, int64_t t, int incl) {
    while (x->nth && !x->stop) {
        sx_timer *top = &x->th[0];
        if (!(top->at < t || (incl && top->at == t))) break;
        sx_group *g = top->g;
        if (!g->dead && g->until > top->at) {
            /* Sliding state still alive: its timer moves only now, not on every event. */
            g->deadline = g->until;
            th_retop(x, g->until);
            continue;
        }
        th_pop(x);
        va_err err = expire(x, g);
        if (err) return err;
    }
    return VA_OK;
}

/* A waiting match that cannot be decoded (a damaged run file): lost, said once. */
static void damaged(va_correlate *x) {
    x->damaged++;
    if (x->reported & REP_DAMAGED) return;
    x->reported |= REP_DAMAGED;
    if (!x->diag) return;
    va_diag d = {VA_SEV_ERROR,
                 VA_EIO,
                 NULL,
                 NULL,
                 -1,
                 -1,
                 "a spilled correlation input read back damaged was lost (counted in "
                 "spill_lost; reported once)"};
    x->diag(x->dud, &d);
}

va_err va_correlate_flush(va_correlate *x, int64_t upto_ns, va_correlate_alert_fn fn, void *ud) {
    if (x->in_flush) return VA_EUSAGE;
    x->in_flush = 1, x->fn = fn, x->fud = ud, x->stop = 0;
    va_err err = VA_OK;
    /* Every waiting match, from memory and from the runs on disk, in (time, input order). */
    va_correlate_spill_sort(x->sp);
    while (!err && !x->stop) {
        va_correlate_spill_rec r;
        int have;
        if ((err = va_correlate_spill_peek(x->sp, &r, &have)) || !have || r.t > upto_ns) break;
        /* Timers before the match first; a stop there leaves the match waiting. */
        if ((err = advance(x, r.t, 0)) || x->stop) break;
        int bad;
        sx_match *m = dec_match(x, &r, &bad);
        if (!m && !bad) {
            err = VA_ENOMEM;
            break;
        }
        va_correlate_spill_pop(x->sp);
        if (r.t - 1 > x->horizon) x->horizon = r.t - 1;
        if (!m) {
            damaged(x);
            continue;
        }
        err = deliver_all(x, m);
        if (!err) err = drain(x);
        match_release(m);
    }
    if (!err && !x->stop) {
        err = advance(x, upto_ns, 1);
        if (!err && !x->stop) {
            if (upto_ns > x->horizon) x->horizon = upto_ns;
            /* Everything is decided and released: the next match may start a new hunt. */
            if (upto_ns == INT64_MAX) x->horizon = INT64_MIN;
        }
    }
    va_correlate_spill_compact(x->sp, !err && !x->stop && upto_ns == INT64_MAX);
    if (err) q_clear(x);
    x->in_flush = 0, x->fn = NULL, x->fud = NULL;
    return err;
}

static void data_report(va_correlate *x, unsigned bit, va_err code, const va_rule *r,
                        const va_event *ev, const char *what) {
    if (x->reported & bit) return;
    x->reported |= bit;
    if (!x->diag) return;
    char msg[400];
    snprintf(msg, sizeof msg, "match of rule '%.120s' %s (counted; reported once)", label(r), what);
    va_diag d = {VA_SEV_WARN, code, ev->src.path, NULL, -1, ev->src.offset, msg};
    x->diag(x->dud, &d);
}

va_err va_correlate_add(va_correlate *x, const va_rule *r, const va_event *ev) {
    if (x->in_flush) return VA_EUSAGE;
    uint32_t ii = input_of(x, r);
    if (ii == SX_NOIN || x->in[ii].corr != SX_NOIN) return VA_OK;
    if (ev->time_ns == VA_TIME_NONE) {
        x->st.untimed++;
        data_report(x, REP_UNTIMED, VA_EUNSUPPORTED, r, ev,
                    "has no event time and cannot be correlated");
        return VA_OK;
    }
    if (ev->time_ns <= x->horizon) {
        x->st.late++;
        data_report(x, REP_LATE, VA_EUSAGE, r, ev,
                    "is older than an earlier flush's horizon and was ignored");
        return VA_OK;
    }
    va_err err = enc_match(x, ii, ev);
    if (!err) err = va_correlate_spill_put(x->sp, ev->time_ns, x->seq, x->enc.p, x->enc.len);
    if (!err) x->seq++;
    return err;
}

void va_correlate_free(va_correlate *x) {
    if (!x) return;
    for (size_t i = 0; i < x->nth; i++) {
        group_state_free(x->th[i].g);
        free(x->th[i].g);
    }
    for (uint32_t i = 0; i < x->nc; i++) {
        free(x->c[i].groups);
        va_hash_free(&x->c[i].gh);
    }
    for (uint32_t i = 0; i < x->nin; i++) {
        for (uint32_t u = 0; u < x->in[i].nuses; u++) free(x->in[i].uses[u].pos);
        free(x->in[i].uses);
        free((void *)x->in[i].fields);
    }
    va_hash_free(&x->inh);
    va_correlate_spill_free(x->sp);
    q_clear(x);
    for (uint32_t i = 0; i < x->natoms; i++) free(x->atoms[i]);
    free(x->atoms);
    va_hash_free(&x->ah);
    va_buf_free(&x->enc);
    free(x->th);
    free(x->q);
    va_buf_free(&x->key);
    va_buf_free(&x->val);
    va_arena_free(&x->arena);
    free(x);
}
