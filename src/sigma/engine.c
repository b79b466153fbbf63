/*
 * engine.c - compiling rules and matching events (see engine.h).
 *
 * Matching order per event: routes first (channel and event ID, from the logsource mapping),
 * then the condition, whose search identifiers are evaluated on demand and memoised for the
 * event.  Field values are case-folded at most once per event, whatever the number of rules
 * that compare them.
 *
 * The prefilter: at compile time each rule is reduced to a set of literals of which at least
 * one must occur in an event's values for the rule to possibly match (derived through the
 * condition: `and` keeps its most selective side, `or` and `1 of` take the union, `not` gives
 * no requirement).  Per event, all values are scanned once for all literals (prefilter.h), and
 * only rules without a requirement or with a literal present are evaluated.  The reduction is
 * conservative, so alerts are the same with the prefilter on or off (tests run both).
 */
#include "sigma/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/array.h"
#include "sigma/prefilter.h"

typedef struct cfield {
    const char *name; /* "" for a keyword-style value matched against every field */
    uint32_t nlen;
    va_value *m;
    unsigned flags;
    int computed; /* some route of the rule converts this field's value (logsource.h) */
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
    uint8_t *positive; /* per search: used somewhere not under `not` (its fields explain hits) */
    const va_rule_detection *det; /* the rule's detection, or a filter's */
    uint32_t *filters; /* indices into va_engine.flt of the filters applying to this rule */
    uint32_t nfilters;
} crule;

/* Rules indexed by what their routes require, so an event meets only its candidates:
 * (channel, event ID), channel with any event ID, or anything (routes without a channel). */
/* Index key (in place of an event ID) of a channel's rules keyed by detection event IDs. */
#define KEY_REFINED (-2)

typedef struct ientry {
    const char *channel; /* lower-case; NULL marks an empty slot */
    size_t clen;
    int64_t event_id; /* -1: any */
    uint32_t *rules;  /* ascending rule indices */
    uint32_t n, cap;
} ientry;

/* A rule that needs a literal, in the value of field (or its rename alt), or anywhere. */
typedef struct litrule {
    uint32_t rule;
    uint32_t flen, alen;
    const char *field, *alt; /* NULL field: any value */
} litrule;

struct va_engine {
    va_arena arena;
    crule *r;
    uint32_t n;
    crule *flt; /* compiled filter rules: a hit of a rule they name is dropped if they match */
    uint32_t nflt;
    /* Prefilter: literal id -> rules needing it (CSR), rules that are always evaluated. */
    va_prefilter *pf; /* NULL: prefilter off */
    int pf_cached;
    uint32_t *lit_off;
    litrule *lit_rules;
    uint32_t nlits;
    uint8_t *always; /* per rule */
    ientry *idx;     /* open addressing by (channel, event ID) */
    uint32_t idx_cap;
    ientry any; /* rules with a route that admits every channel */
};

struct va_engine_scratch {
    va_value_scratch *sv;
    uint8_t *memo; /* per search identifier: 0 unknown, 1 false, 2 true */
    uint32_t memo_cap;
    uint8_t *fmemo; /* the same for a filter being evaluated */
    uint32_t fmemo_cap;
    va_buf fold;      /* folded field values of the current event */
    size_t *fold_off; /* per field: offset in fold + 1, 0 if not folded yet */
    uint32_t *fold_len;
    uint32_t fold_cap;
    /* Prefilter state for the current event. */
    const va_engine *owner; /* the engine pf_s belongs to */
    va_prefilter_scratch *pf_s;
    va_buf text;                     /* the event's values, NUL-separated */
    uint32_t *mark;                  /* per rule: == epoch when one of its literals occurs */
    uint32_t *lit_epoch, *lit_field; /* per literal: last event and field it was seen in */
    uint32_t nlit;
    size_t *fstart; /* per field: offset of its value in text */
    uint32_t fstart_cap;
    uint32_t nmark;
    uint32_t epoch;
    int scanned, all;            /* scan done; the prefilter cannot decide (evaluate everything) */
    uint64_t evaluated, skipped; /* rules evaluated / skipped by the prefilter, cumulative */
    /* Values that route conversions computed for the current event (logsource.h); field
     * index ev->n + k is vf[k].  Their text lives in vfa, reset per event. */
    struct vfield {
        const va_logsource_field *spec;
        va_field f;
    } * vf;
    size_t nvf, vf_cap;
    va_arena vfa;
    va_buf conv;
    /* The rule that matched last, for va_engine_hit_fields. */
    const crule *hit_c;
    const va_logsource_route *hit_route;
    const va_event *hit_ev;
    uint8_t *seen; /* per event field, while collecting */
    uint32_t seen_cap;
};

static void report(va_diag_fn diag, void *ud, const va_rule *r, va_err code, const char *fmt,
                   const char *a, const char *b) {
    if (!diag) return;
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    va_diag d = {VA_SEV_WARN, code, r->file, "line", (int64_t)r->line, -1, msg};
    diag(ud, &d);
}

static va_value_kind lit_kind(va_rule_vtype t) {
    switch (t) {
    case VA_RULE_INT:
        return VA_VALUE_INT;
    case VA_RULE_FLOAT:
        return VA_VALUE_FLOAT;
    case VA_RULE_BOOL:
        return VA_VALUE_BOOL;
    case VA_RULE_NULL:
        return VA_VALUE_NULL;
    default:
        return VA_VALUE_STR;
    }
}

/* How rule field name[0..len) reads the event on route r (NULL: as it is named). */
static const va_logsource_field *route_field(const va_logsource_route *r, const char *name,
                                             size_t len) {
    return r ? va_logsource_field_of(r, name, len) : NULL;
}

/* What field name[0..len) reads on route r: the mapping's rename, or NULL if r keeps it or
 * computes the value (see cfield.computed). */
static const char *route_rename(const va_logsource_route *r, const char *name, size_t len) {
    const va_logsource_field *f = route_field(r, name, len);
    return f && f->conv == VA_LOGSOURCE_RENAME ? f->field : NULL;
}

/* Mark the search identifiers nd uses outside any `not`. */
static void mark_positive(const va_cond_node *nd, int neg, uint8_t *pos, uint32_t ns) {
    if (nd->kind == VA_COND_NOT) neg = !neg;
    if (!neg && (nd->kind == VA_COND_ID || nd->kind == VA_COND_OF))
        for (uint32_t i = 0; i < nd->nids; i++)
            if (nd->ids[i] < ns) pos[nd->ids[i]] = 1;
    for (uint32_t i = 0; i < nd->nkids; i++) mark_positive(nd->kids[i], neg, pos, ns);
}

/* Modifiers after which a keyword keeps its own comparison; any other keyword is searched
 * for anywhere in a value (the specification applies keywords to the whole log message). */
static int keyword_has_own_op(const va_rule_field *f) {
    static const char *const own[] = {
        "contains", "startswith", "endswith", "re",   "cidr", "lt",   "lte",   "gt",   "gte",
        "exists",   "fieldref",   "minute",   "hour", "day",  "week", "month", "year", NULL};
    for (uint32_t i = 0; i < f->mods.n; i++)
        for (int k = 0; own[k]; k++)
            if (!strcmp(f->mods.v[i], own[k])) return 1;
    return 0;
}

/* Compile one field (name|mods: values). */
static va_err compile_field(va_engine *e, const va_engine_opts *o, const va_rule_field *f,
                            cfield *out, const char **why) {
    char mods[512];
    size_t ml = 0;
    int keyword = !f->name || !*f->name;
    for (uint32_t i = 0; i < f->mods.n; i++) {
        size_t l = strlen(f->mods.v[i]);
        if (ml + l + 2 > sizeof mods) {
            *why = "modifier chain too long";
            return VA_ELIMIT;
        }
        if (ml) mods[ml++] = '|';
        memcpy(mods + ml, f->mods.v[i], l);
        ml += l;
    }
    if (keyword && !keyword_has_own_op(f)) {
        if (ml + 10 > sizeof mods) {
            *why = "modifier chain too long";
            return VA_ELIMIT;
        }
        if (ml) mods[ml++] = '|';
        memcpy(mods + ml, "contains", 8);
        ml += 8;
    }
    va_value_lit lits[64] = {{0}};
    va_value_lit *lv = f->nvals <= 64 ? lits : malloc(f->nvals * sizeof *lv);
    if (!lv) return VA_ENOMEM;
    for (uint32_t i = 0; i < f->nvals; i++) {
        /* A keyword is text to find, even when YAML reads it as a number. */
        lv[i].kind =
            keyword && f->vals[i].type != VA_RULE_NULL ? VA_VALUE_STR : lit_kind(f->vals[i].type);
        lv[i].s = f->vals[i].text;
        lv[i].n = f->vals[i].len;
    }
    va_err err = va_value_compile(&e->arena, mods, ml, lv, f->nvals, o->placeholders,
                                  o->nplaceholders, &out->m, why);
    if (lv != lits) free(lv);
    if (err) return err;
    out->name = f->name ? f->name : "";
    out->nlen = (uint32_t)strlen(out->name);
    out->flags = va_value_flags(out->m);
    return VA_OK;
}

static va_err compile_rule(va_engine *e, const va_engine_opts *o, const va_rule *r, crule *c,
                           const char **why, const char **what) {
    memset(c, 0, sizeof *c);
    c->rule = r;
    const va_rule_detection *d = r->kind == VA_RULE_KIND_FILTER ? &r->filter.det : &r->detection;
    c->det = d;
    c->s = va_arena_alloc(&e->arena, (d->nsearches ? d->nsearches : 1) * sizeof *c->s);
    if (!c->s) return VA_ENOMEM;
    c->ns = d->nsearches;
    for (uint32_t i = 0; i < d->nsearches; i++) {
        const va_rule_search *s = &d->searches[i];
        csearch *cs = &c->s[i];
        *what = s->name;
        if (s->kind == VA_RULE_SEARCH_KEYWORDS) {
            /* Keywords: one nameless field whose values are tried against every field. */
            cs->maps = va_arena_alloc(&e->arena, sizeof *cs->maps);
            cfield *cf = va_arena_alloc(&e->arena, sizeof *cf);
            if (!cs->maps || !cf) return VA_ENOMEM;
            va_rule_field kf = {0};
            kf.name = "";
            kf.vals = s->keywords, kf.nvals = s->nkeywords;
            va_err err = compile_field(e, o, &kf, cf, why);
            if (err) return err;
            cs->maps[0].f = cf, cs->maps[0].n = 1;
            cs->nmaps = 1;
            continue;
        }
        cs->maps = va_arena_alloc(&e->arena, (s->nmaps ? s->nmaps : 1) * sizeof *cs->maps);
        if (!cs->maps) return VA_ENOMEM;
        cs->nmaps = s->nmaps;
        for (uint32_t m = 0; m < s->nmaps; m++) {
            const va_rule_map *sm = &s->maps[m];
            cmap *cm = &cs->maps[m];
            cm->f = va_arena_alloc(&e->arena, (sm->n ? sm->n : 1) * sizeof *cm->f);
            if (!cm->f) return VA_ENOMEM;
            cm->n = sm->n;
            for (uint32_t k = 0; k < sm->n; k++) {
                *what = sm->fields[k].name;
                va_err err = compile_field(e, o, &sm->fields[k], &cm->f[k], why);
                if (err) return err;
            }
        }
    }
    if (!(c->positive = va_arena_alloc(&e->arena, c->ns ? c->ns : 1))) return VA_ENOMEM;
    memset(c->positive, 0, c->ns ? c->ns : 1);
    for (uint32_t k = 0; k < d->nconds; k++) mark_positive(d->conds[k].ast, 0, c->positive, c->ns);
    return VA_OK;
}

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static uint64_t key_hash(const char *ch, size_t n, int64_t id) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)id;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)lower((unsigned char)ch[i])) * 1099511628211ull;
    return h ^ (h >> 31);
}

static int key_eq(const ientry *x, const char *ch, size_t n, int64_t id) {
    if (x->event_id != id || x->clen != n) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)x->channel[i] != lower((unsigned char)ch[i])) return 0;
    return 1;
}

static ientry *slot_for(const va_engine *e, const char *ch, size_t n, int64_t id) {
    uint32_t j = (uint32_t)key_hash(ch, n, id) & (e->idx_cap - 1);
    while (e->idx[j].channel) {
        if (key_eq(&e->idx[j], ch, n, id)) return &e->idx[j];
        j = (j + 1) & (e->idx_cap - 1);
    }
    return &e->idx[j]; /* the empty slot where the key would go */
}

static int entry_add(ientry *x, uint32_t rule) {
    if (x->n && x->rules[x->n - 1] == rule) return 0; /* same rule, another route */
    if (x->n == x->cap) {
        uint32_t cap = x->cap ? x->cap * 2 : 8;
        uint32_t *r = realloc(x->rules, cap * sizeof *r);
        if (!r) return -1;
        x->rules = r, x->cap = cap;
    }
    x->rules[x->n++] = rule;
    return 0;
}

static va_err index_key(va_engine *e, const char *ch, int64_t id, uint32_t rule) {
    size_t n = strlen(ch);
    ientry *x = slot_for(e, ch, n, id);
    if (!x->channel) {
        char *low = va_arena_strndup(&e->arena, ch, n);
        if (!low) return VA_ENOMEM;
        for (size_t i = 0; i < n; i++) low[i] = (char)lower((unsigned char)low[i]);
        x->channel = low, x->clen = n, x->event_id = id;
    }
    return entry_add(x, rule) ? VA_ENOMEM : VA_OK;
}

static va_err build_index(va_engine *e) {
    uint32_t keys = 0;
    for (uint32_t i = 0; i < e->n; i++)
        for (uint32_t k = 0; k < e->r[i].nroutes; k++) {
            const va_logsource_route *r = &e->r[i].routes[k];
            keys += r->nchannels * (r->nevent_ids ? r->nevent_ids : 1 + e->r[i].neids);
        }
    uint32_t cap = 64;
    while (cap < 2 * keys + 2) cap *= 2;
    if (!(e->idx = calloc(cap, sizeof *e->idx))) return VA_ENOMEM;
    e->idx_cap = cap;
    for (uint32_t i = 0; i < e->n; i++) {
        for (uint32_t k = 0; k < e->r[i].nroutes; k++) {
            const va_logsource_route *r = &e->r[i].routes[k];
            if (r->etw_provider) continue; /* never matches an event log record */
            if (!r->nchannels) {
                if (entry_add(&e->any, i)) return VA_ENOMEM;
                continue;
            }
            for (uint32_t c = 0; c < r->nchannels; c++) {
                if (!r->nevent_ids && e->r[i].neids) {
                    /* Keyed by the event IDs its detection demands; events whose EventID is
                     * not a plain number see it through the REFINED list instead. */
                    for (uint32_t d = 0; d < e->r[i].neids; d++)
                        if (index_key(e, r->channels[c], e->r[i].eids[d], i)) return VA_ENOMEM;
                    if (index_key(e, r->channels[c], KEY_REFINED, i)) return VA_ENOMEM;
                    continue;
                }
                if (!r->nevent_ids) {
                    if (index_key(e, r->channels[c], -1, i)) return VA_ENOMEM;
                    continue;
                }
                for (uint32_t d = 0; d < r->nevent_ids; d++)
                    if (index_key(e, r->channels[c], r->event_ids[d], i)) return VA_ENOMEM;
            }
        }
    }
    return VA_OK;
}

/* ---- prefilter: rules reduced to required literals -------------------------------------- */

#define PF_MINLEN 3    /* shorter literals occur in almost every event: no use as a filter */
#define PF_MAXSET 8192 /* a requirement with more literals than this is not worth keeping */

/* A requirement: at least one of ids must occur.  none: the rule part needs nothing. */
typedef struct req {
    uint32_t *ids;
    uint32_t n, cap;
    uint32_t minlen;
    int none;
} req;

/* The distinct literals of all rules (ASCII-lowercased), interned to ids. */
typedef struct litset {
    va_arena *a;
    const char **s;
    size_t *len;
    uint32_t n, cap;
    uint32_t *tab; /* open addressing: id + 1, 0 empty */
    uint32_t tcap;
    /* Requirements are (literal, field) pairs: the literal must occur in that field's value
     * (field NULL: in any value, for keywords). */
    uint32_t *plit;
    const char **pfield;
    uint32_t np, pcap;
    uint32_t *ptab; /* open addressing: pair id + 1, 0 empty */
    uint32_t ptcap;
    int oom;
} litset;

static uint64_t pair_hash(uint32_t lit, const char *f) {
    uint64_t h = 1469598103934665603ull ^ lit;
    for (; f && *f; f++) h = (h ^ (uint8_t)*f) * 1099511628211ull;
    return h ^ (h >> 29);
}

static int pair_grow(litset *L) {
    uint32_t cap = L->ptcap ? L->ptcap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < L->np; i++) {
        uint32_t j = (uint32_t)pair_hash(L->plit[i], L->pfield[i]) & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = i + 1;
    }
    free(L->ptab);
    L->ptab = t, L->ptcap = cap;
    return 0;
}

static uint32_t pair_intern(litset *L, uint32_t lit, const char *field) {
    if (2 * (L->np + 1) > L->ptcap && pair_grow(L)) goto oom;
    uint32_t j = (uint32_t)pair_hash(lit, field) & (L->ptcap - 1);
    for (; L->ptab[j]; j = (j + 1) & (L->ptcap - 1)) {
        uint32_t id = L->ptab[j] - 1;
        const char *g = L->pfield[id];
        if (L->plit[id] == lit && (g == field || (g && field && !strcmp(g, field)))) return id;
    }
    if (L->np == L->pcap) {
        uint32_t cap = L->pcap ? L->pcap * 2 : 1024;
        uint32_t *nl = realloc(L->plit, cap * sizeof *nl);
        if (!nl) goto oom;
        L->plit = nl;
        const char **nf = realloc(L->pfield, cap * sizeof *nf);
        if (!nf) goto oom;
        L->pfield = nf, L->pcap = cap;
    }
    L->plit[L->np] = lit, L->pfield[L->np] = field;
    L->ptab[j] = L->np + 1;
    return L->np++;
oom:
    L->oom = 1;
    return UINT32_MAX;
}

/* Length of the literal of a requirement id (a pair id), 0 for event-ID sets (L NULL). */
static uint32_t req_len(const litset *L, uint32_t id) {
    return L ? (uint32_t)L->len[L->plit[id]] : 0;
}

static uint64_t lit_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)lower((unsigned char)s[i])) * 1099511628211ull;
    return h ^ (h >> 29);
}

static int lit_grow(litset *L) {
    uint32_t cap = L->tcap ? L->tcap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < L->n; i++) {
        uint32_t j = (uint32_t)lit_hash(L->s[i], L->len[i]) & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = i + 1;
    }
    free(L->tab);
    L->tab = t, L->tcap = cap;
    return 0;
}

static uint32_t lit_intern(litset *L, const char *s, size_t n) {
    if (2 * (L->n + 1) > L->tcap && lit_grow(L)) goto oom;
    uint32_t j = (uint32_t)lit_hash(s, n) & (L->tcap - 1);
    for (; L->tab[j]; j = (j + 1) & (L->tcap - 1)) {
        uint32_t id = L->tab[j] - 1;
        if (L->len[id] != n) continue;
        size_t k = 0;
        while (k < n && L->s[id][k] == (char)lower((unsigned char)s[k])) k++;
        if (k == n) return id;
    }
    if (L->n == L->cap) {
        uint32_t cap = L->cap ? L->cap * 2 : 1024;
        const char **ns = realloc(L->s, cap * sizeof *ns);
        if (!ns) goto oom;
        L->s = ns;
        size_t *nl = realloc(L->len, cap * sizeof *nl);
        if (!nl) goto oom;
        L->len = nl, L->cap = cap;
    }
    char *c = va_arena_strndup(L->a, s, n);
    if (!c) goto oom;
    for (size_t k = 0; k < n; k++) c[k] = (char)lower((unsigned char)c[k]);
    L->s[L->n] = c, L->len[L->n] = n;
    L->tab[j] = L->n + 1;
    return L->n++;
oom:
    L->oom = 1;
    return UINT32_MAX;
}

static void req_free(req *r) {
    free(r->ids);
    memset(r, 0, sizeof *r);
}

static void req_none(req *r) {
    req_free(r);
    r->none = 1;
}

static int req_add(req *r, uint32_t id, uint32_t len) {
    if (r->n == PF_MAXSET) return -1;
    if (r->n == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 4;
        uint32_t *v = realloc(r->ids, cap * sizeof *v);
        if (!v) return -1;
        r->ids = v, r->cap = cap;
    }
    r->ids[r->n++] = id;
    if (!r->minlen || len < r->minlen) r->minlen = len;
    return 0;
}

/* into |= from (from is consumed). */
static void req_union(req *into, req *from, const litset *L) { /* L NULL: event IDs */
    if (into->none || from->none) {
        req_none(into);
        req_free(from);
        return;
    }
    for (uint32_t i = 0; i < from->n; i++)
        if (req_add(into, from->ids[i], req_len(L, from->ids[i]))) {
            req_none(into);
            break;
        }
    req_free(from);
}

/* Is a the more selective requirement?  Longer literals first (up to 8 bytes, past which
 * they are all rare enough), then fewer of them. */
static int req_better(const req *a, const req *b) {
    if (a->none || !a->n) return 0;
    if (b->none || !b->n) return 1;
    uint32_t la = a->minlen < 8 ? a->minlen : 8, lb = b->minlen < 8 ? b->minlen : 8;
    if (la != lb) return la > lb;
    return a->n < b->n;
}

/* For event-ID sets: the smaller set. */
static int eid_better(const req *a, const req *b) {
    if (a->none || !a->n) return 0;
    if (b->none || !b->n) return 1;
    return a->n < b->n;
}

typedef int (*req_better_fn)(const req *a, const req *b);

/* into = the better of into and cand (cand is consumed): an AND needs only one side. */
static void req_pick(req *into, req *cand, req_better_fn better) {
    if (better(cand, into)) {
        req_free(into);
        *into = *cand;
    } else {
        req_free(cand);
    }
}

/* Literals one value of a field needs: one per alternative, or none. */
static void req_value(const cfield *f, size_t v, litset *L, req *out) {
    memset(out, 0, sizeof *out);
    size_t na = va_value_nalts(f->m, v);
    if (!na) {
        out->none = 1;
        return;
    }
    for (size_t k = 0; k < na; k++) {
        const char *lit = NULL;
        size_t n = va_value_alt_literal(f->m, v, k, PF_MINLEN, &lit);
        uint32_t id = n ? lit_intern(L, lit, n) : UINT32_MAX;
        /* A literal holding NUL could straddle the value separators of the scanned text: it
         * is not pinned to the field. */
        const char *field = n && f->nlen && !memchr(lit, 0, n) ? f->name : NULL;
        if (id != UINT32_MAX) id = pair_intern(L, id, field);
        if (id == UINT32_MAX || req_add(out, id, (uint32_t)n)) {
            req_none(out);
            return;
        }
    }
}

static void req_field(const cfield *f, litset *L, req *out) {
    memset(out, 0, sizeof *out);
    unsigned fl = f->flags;
    /* Presence tests, null, negation and field references need no literal of the event, nor
     * does a value a route computes (the rule's literal is not in the raw event). */
    if (fl & (VA_VALUE_F_NEQ | VA_VALUE_F_NULL | VA_VALUE_F_EXISTS | VA_VALUE_F_FIELDREF) ||
        f->computed || va_value_absent(f->m) || !va_value_nvalues(f->m)) {
        out->none = 1;
        return;
    }
    size_t nv = va_value_nvalues(f->m);
    if (fl & VA_VALUE_F_ALL) { /* every value must match: any one value's literals will do */
        out->none = 1;
        for (size_t v = 0; v < nv; v++) {
            req r;
            req_value(f, v, L, &r);
            req_pick(out, &r, req_better);
        }
        return;
    }
    for (size_t v = 0; v < nv && !out->none; v++) {
        req r;
        req_value(f, v, L, &r);
        req_union(out, &r, L);
    }
}

static void req_search(const csearch *cs, litset *L, req *out) {
    memset(out, 0, sizeof *out);
    if (!cs->nmaps) {
        out->none = 1;
        return;
    }
    for (uint32_t m = 0; m < cs->nmaps && !out->none; m++) {
        req best = {.none = 1};
        for (uint32_t k = 0; k < cs->maps[m].n; k++) {
            req r;
            req_field(&cs->maps[m].f[k], L, &r);
            req_pick(&best, &r, req_better);
        }
        req_union(out, &best, L);
    }
}

/* out |= a copy of src (src is kept). */
static void req_or_copy(req *out, const req *src, const litset *L) {
    if (out->none) return;
    if (src->none) {
        req_none(out);
        return;
    }
    for (uint32_t i = 0; i < src->n; i++)
        if (req_add(out, src->ids[i], req_len(L, src->ids[i]))) {
            req_none(out);
            return;
        }
}

static void req_node(const crule *c, const va_cond_node *nd, const req *sreq, litset *L, req *out,
                     req_better_fn better) {
    memset(out, 0, sizeof *out);
    switch (nd->kind) {
    case VA_COND_ID:
        if (!nd->nids || nd->ids[0] >= c->ns)
            out->none = 1;
        else
            req_or_copy(out, &sreq[nd->ids[0]], L);
        return;
    case VA_COND_AND:
        out->none = 1;
        for (uint32_t i = 0; i < nd->nkids; i++) {
            req r;
            req_node(c, nd->kids[i], sreq, L, &r, better);
            req_pick(out, &r, better);
        }
        return;
    case VA_COND_OR:
        if (!nd->nkids) out->none = 1;
        for (uint32_t i = 0; i < nd->nkids && !out->none; i++) {
            req r;
            req_node(c, nd->kids[i], sreq, L, &r, better);
            req_union(out, &r, L);
        }
        return;
    case VA_COND_OF:
        if (!nd->nids) {
            out->none = 1;
            return;
        }
        if (nd->count == 0) { /* all of: any one of them will do */
            out->none = 1;
            for (uint32_t i = 0; i < nd->nids; i++) {
                req r = {0};
                if (nd->ids[i] < c->ns)
                    req_or_copy(&r, &sreq[nd->ids[i]], L);
                else
                    r.none = 1;
                req_pick(out, &r, better);
            }
            return;
        }
        /* N of: at least one of them must match */
        for (uint32_t i = 0; i < nd->nids && !out->none; i++) {
            if (nd->ids[i] >= c->ns)
                req_none(out);
            else
                req_or_copy(out, &sreq[nd->ids[i]], L);
        }
        return;
    default: /* not: no requirement */
        out->none = 1;
        return;
    }
}

/* ---- event IDs a rule's detection demands ------------------------------------------------ */

#define EID_MAX 64 /* more event IDs than this: index the rule by channel alone */

static void eid_field(const cfield *f, req *out) {
    memset(out, 0, sizeof *out);
    size_t nv = va_value_nvalues(f->m);
    if (f->flags & (VA_VALUE_F_NEQ | VA_VALUE_F_NULL | VA_VALUE_F_EXISTS | VA_VALUE_F_FIELDREF) ||
        va_value_absent(f->m) || !nv) {
        out->none = 1;
        return;
    }
    int all = (f->flags & VA_VALUE_F_ALL) != 0;
    if (all) out->none = 1;
    for (size_t v = 0; v < nv; v++) {
        req r = {0};
        size_t na = va_value_nalts(f->m, v);
        if (!na) r.none = 1;
        for (size_t k = 0; k < na && !r.none; k++) {
            int64_t id;
            if (!va_value_alt_int_eq(f->m, v, k, &id) || id < 0 || id >= UINT32_MAX ||
                req_add(&r, (uint32_t)id, 0))
                req_none(&r);
        }
        if (all)
            req_pick(out, &r, eid_better);
        else
            req_union(out, &r, NULL);
        if (!all && out->none) return;
    }
}

static void eid_search(const csearch *cs, req *out) {
    memset(out, 0, sizeof *out);
    if (!cs->nmaps) out->none = 1;
    for (uint32_t m = 0; m < cs->nmaps && !out->none; m++) {
        req best = {.none = 1};
        for (uint32_t k = 0; k < cs->maps[m].n; k++) {
            const cfield *f = &cs->maps[m].f[k];
            if (f->nlen != 7 || memcmp(f->name, "EventID", 7)) continue;
            req r;
            eid_field(f, &r);
            req_pick(&best, &r, eid_better);
        }
        req_union(out, &best, NULL);
    }
}

static int u32_cmp(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The event IDs without which c's detection cannot match (c->neids = 0: any). */
static va_err rule_eids(va_engine *e, crule *c) {
    c->neids = 0;
    for (uint32_t k = 0; k < c->nroutes; k++) /* a mapping that renames EventID: not safe */
        if (route_field(&c->routes[k], "EventID", 7)) return VA_OK;
    const va_rule_detection *d = c->det;
    req *sreq = calloc(c->ns ? c->ns : 1, sizeof *sreq);
    if (!sreq) return VA_ENOMEM;
    for (uint32_t i = 0; i < c->ns; i++) eid_search(&c->s[i], &sreq[i]);
    req acc = {0};
    if (!d->nconds) acc.none = 1;
    for (uint32_t k = 0; k < d->nconds && !acc.none; k++) {
        req r;
        req_node(c, d->conds[k].ast, sreq, NULL, &r, eid_better);
        req_union(&acc, &r, NULL);
    }
    for (uint32_t i = 0; i < c->ns; i++) req_free(&sreq[i]);
    free(sreq);
    va_err err = VA_OK;
    if (!acc.none && acc.n) {
        qsort(acc.ids, acc.n, sizeof *acc.ids, u32_cmp);
        uint32_t n = 0;
        for (uint32_t i = 0; i < acc.n; i++)
            if (!n || acc.ids[n - 1] != acc.ids[i]) acc.ids[n++] = acc.ids[i];
        if (n <= EID_MAX) {
            c->eids = va_arena_alloc(&e->arena, n * sizeof *c->eids);
            if (!c->eids) {
                err = VA_ENOMEM;
            } else {
                memcpy(c->eids, acc.ids, n * sizeof *c->eids);
                c->neids = n;
            }
        }
    }
    req_free(&acc);
    return err;
}

static va_err build_prefilter(va_engine *e, const va_engine_opts *o, const char **why) {
    litset L = {0};
    L.a = &e->arena;
    req *rr = calloc(e->n ? e->n : 1, sizeof *rr);
    e->always = calloc(e->n ? e->n : 1, 1);
    if (!rr || !e->always) {
        free(rr);
        return VA_ENOMEM;
    }
    va_err err = VA_OK;
    for (uint32_t i = 0; i < e->n && !L.oom; i++) {
        const crule *c = &e->r[i];
        req *sreq = calloc(c->ns ? c->ns : 1, sizeof *sreq);
        if (!sreq) {
            L.oom = 1;
            break;
        }
        for (uint32_t s = 0; s < c->ns; s++) req_search(&c->s[s], &L, &sreq[s]);
        const va_rule_detection *d = c->det;
        if (!d->nconds) rr[i].none = 1;
        for (uint32_t k = 0; k < d->nconds && !rr[i].none; k++) {
            req r;
            req_node(c, d->conds[k].ast, sreq, &L, &r, req_better);
            req_union(&rr[i], &r, &L);
        }
        for (uint32_t s = 0; s < c->ns; s++) req_free(&sreq[s]);
        free(sreq);
        e->always[i] = rr[i].none || !rr[i].n;
    }
    if (L.oom) {
        err = VA_ENOMEM;
        goto out;
    }
    /* literal id -> rules, compressed rows */
    e->nlits = L.n;
    e->lit_off = calloc((size_t)L.n + 1, sizeof *e->lit_off);
    if (!e->lit_off) {
        err = VA_ENOMEM;
        goto out;
    }
    size_t total = 0;
    for (uint32_t i = 0; i < e->n; i++)
        if (!e->always[i])
            for (uint32_t k = 0; k < rr[i].n; k++) e->lit_off[L.plit[rr[i].ids[k]] + 1]++, total++;
    for (uint32_t l = 0; l < L.n; l++) e->lit_off[l + 1] += e->lit_off[l];
    e->lit_rules = malloc((total ? total : 1) * sizeof *e->lit_rules);
    uint32_t *fill = calloc(L.n ? L.n : 1, sizeof *fill);
    if (!e->lit_rules || !fill) {
        free(fill);
        err = VA_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < e->n; i++)
        if (!e->always[i])
            for (uint32_t k = 0; k < rr[i].n; k++) {
                uint32_t pid = rr[i].ids[k], l = L.plit[pid];
                litrule *x = &e->lit_rules[e->lit_off[l] + fill[l]++];
                x->rule = i;
                x->field = L.pfield[pid];
                x->alt = NULL;
                /* the event field the rule reads may be renamed on one of its routes */
                for (uint32_t r = 0; x->field && r < e->r[i].nroutes && !x->alt; r++)
                    x->alt = route_rename(&e->r[i].routes[r], x->field, strlen(x->field));
                x->flen = x->field ? (uint32_t)strlen(x->field) : 0;
                x->alen = x->alt ? (uint32_t)strlen(x->alt) : 0;
            }
    free(fill);
    err = va_prefilter_new(L.s, L.len, L.n, (va_prefilter_backend)o->prefilter_backend,
                           o->cache_dir, &e->pf, why);
    if (!err) e->pf_cached = va_prefilter_from_cache(e->pf);
out:
    for (uint32_t i = 0; i < e->n; i++) req_free(&rr[i]);
    free(rr);
    free(L.s);
    free(L.len);
    free(L.tab);
    free(L.plit);
    free(L.pfield);
    free(L.ptab);
    return err;
}

/* Flag the fields of c that one of its routes computes rather than renames. */
static void mark_computed(crule *c) {
    for (uint32_t i = 0; i < c->ns; i++)
        for (uint32_t m = 0; m < c->s[i].nmaps; m++)
            for (uint32_t k = 0; k < c->s[i].maps[m].n; k++) {
                cfield *f = &c->s[i].maps[m].f[k];
                for (uint32_t r = 0; f->nlen && r < c->nroutes && !f->computed; r++) {
                    const va_logsource_field *lf = route_field(&c->routes[r], f->name, f->nlen);
                    f->computed = lf && lf->conv != VA_LOGSOURCE_RENAME;
                }
            }
}

/* Point each rule at the filters that name it (by id or name); names that match no compiled
 * rule are reported. */
static va_err attach_filters(va_engine *e, va_diag_fn diag, void *ud) {
    for (uint32_t f = 0; f < e->nflt; f++) {
        const va_rule *fr = e->flt[f].rule;
        for (uint32_t k = 0; k < fr->filter.rules.n; k++) {
            const char *ref = fr->filter.rules.v[k];
            int found = 0;
            for (uint32_t i = 0; i < e->n; i++) {
                const va_rule *r = e->r[i].rule;
                if (!((r->id && !strcasecmp(r->id, ref)) || (r->name && !strcmp(r->name, ref))))
                    continue;
                crule *c = &e->r[i];
                uint32_t *v = va_arena_alloc(&e->arena, (c->nfilters + 1) * sizeof *v);
                if (!v) return VA_ENOMEM;
                if (c->nfilters) memcpy(v, c->filters, c->nfilters * sizeof *v);
                v[c->nfilters++] = f;
                c->filters = v;
                found = 1;
            }
            if (!found)
                report(diag, ud, fr, VA_EFORMAT, "filter names rule '%s', which is not loaded (%s)",
                       ref, fr->title);
        }
    }
    return VA_OK;
}

va_err va_engine_new(const va_rule_set *set, const va_engine_opts *o, va_diag_fn diag, void *ud,
                     va_engine **out, va_engine_stats *st) {
    va_engine_stats dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    *out = NULL;
    va_engine *e = calloc(1, sizeof *e);
    if (!e) return VA_ENOMEM;
    va_arena_init(&e->arena, 256 * 1024);
    e->r = calloc(set->n ? set->n : 1, sizeof *e->r);
    if (!e->r) {
        free(e);
        return VA_ENOMEM;
    }
    uint32_t nfilter_rules = 0;
    for (const va_rule *r = set->head; r; r = r->next)
        nfilter_rules += r->kind == VA_RULE_KIND_FILTER;
    if (nfilter_rules && !(e->flt = calloc(nfilter_rules, sizeof *e->flt))) {
        va_engine_free(e);
        return VA_ENOMEM;
    }
    for (const va_rule *r = set->head; r; r = r->next) {
        if (r->kind == VA_RULE_KIND_CORRELATION) continue; /* correlate.h evaluates them */
        int is_filter = r->kind == VA_RULE_KIND_FILTER;
        crule *c = is_filter ? &e->flt[e->nflt] : &e->r[e->n];
        const char *why = NULL, *what = NULL, *unknown = NULL;
        uint32_t nroutes = 0;
        va_logsource_route *routes =
            va_logsource_routes(o->logsources, &e->arena, r->logsource.product,
                                r->logsource.category, r->logsource.service, &nroutes, &unknown);
        if (!nroutes) {
            st->unmapped++;
            report(diag, ud, r, VA_EUNSUPPORTED, "logsource '%s' is not in the mapping (%s)",
                   unknown ? unknown : "?", r->title);
            continue;
        }
        va_err err = compile_rule(e, o, r, c, &why, &what);
        if (err == VA_ENOMEM) {
            va_engine_free(e);
            return VA_ENOMEM;
        }
        if (err) {
            if (err == VA_EUNSUPPORTED)
                st->unsupported++;
            else
                st->failed++;
            report(diag, ud, r, err, "%s: %s", what ? what : "detection", why ? why : "");
            continue;
        }
        c->routes = routes, c->nroutes = nroutes;
        mark_computed(c);
        if (is_filter) {
            e->nflt++;
            st->filters++;
        } else {
            e->n++;
            st->rules++;
        }
    }
    if (attach_filters(e, diag, ud) != VA_OK) {
        va_engine_free(e);
        return VA_ENOMEM;
    }
    for (uint32_t i = 0; i < e->n; i++)
        if (rule_eids(e, &e->r[i])) {
            va_engine_free(e);
            return VA_ENOMEM;
        }
    if (build_index(e) != VA_OK) {
        va_engine_free(e);
        return VA_ENOMEM;
    }
    if (!o->prefilter_off) {
        const char *why = NULL;
        va_err err = build_prefilter(e, o, &why);
        if (err) {
            if (diag && why) {
                va_diag d = {VA_SEV_ERROR, err, "prefilter", NULL, -1, -1, why};
                diag(ud, &d);
            }
            va_engine_free(e);
            return err;
        }
        for (uint32_t i = 0; i < e->n; i++) st->prefiltered += !e->always[i];
        st->literals = e->nlits;
        st->backend = va_prefilter_backend_name(e->pf);
        st->cached = e->pf_cached;
    }
    *out = e;
    return VA_OK;
}

static void free_field_matchers(va_engine *e) {
    for (uint32_t i = 0; i < e->n; i++)
        for (uint32_t s = 0; s < e->r[i].ns; s++)
            for (uint32_t m = 0; m < e->r[i].s[s].nmaps; m++)
                for (uint32_t f = 0; f < e->r[i].s[s].maps[m].n; f++)
                    va_value_free(e->r[i].s[s].maps[m].f[f].m);
}

void va_engine_free(va_engine *e) {
    if (!e) return;
    free_field_matchers(e);
    for (uint32_t i = 0; i < e->nflt; i++)
        for (uint32_t s = 0; s < e->flt[i].ns; s++)
            for (uint32_t m = 0; m < e->flt[i].s[s].nmaps; m++)
                for (uint32_t f = 0; f < e->flt[i].s[s].maps[m].n; f++)
                    va_value_free(e->flt[i].s[s].maps[m].f[f].m);
    free(e->flt);
    for (uint32_t i = 0; i < e->idx_cap; i++) free(e->idx[i].rules);
    free(e->idx);
    free(e->any.rules);
    va_prefilter_free(e->pf);
    free(e->lit_off);
    free(e->lit_rules);
    free(e->always);
    free(e->r);
    va_arena_free(&e->arena);
    free(e);
}

va_engine_scratch *va_engine_scratch_new(void) {
    va_engine_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (!(s->sv = va_value_scratch_new())) {
        free(s);
        return NULL;
    }
    va_buf_init(&s->fold);
    va_buf_init(&s->text);
    va_buf_init(&s->conv);
    va_arena_init(&s->vfa, 4096);
    return s;
}

void va_engine_scratch_free(va_engine_scratch *s) {
    if (!s) return;
    va_value_scratch_free(s->sv);
    va_buf_free(&s->fold);
    va_buf_free(&s->text);
    va_buf_free(&s->conv);
    va_arena_free(&s->vfa);
    free(s->vf);
    va_prefilter_scratch_free(s->pf_s);
    free(s->mark);
    free(s->lit_epoch);
    free(s->lit_field);
    free(s->fstart);
    free(s->seen);
    free(s->fmemo);
    free(s->memo);
    free(s->fold_off);
    free(s->fold_len);
    free(s);
}

typedef struct evalctx {
    const crule *c;
    const va_logsource_route *route;
    va_engine_scratch *s;
    const va_event *ev;
    uint8_t *memo; /* per search identifier of c: 0 unknown, 1 false, 2 true */
} evalctx;

static int grow_fold(va_engine_scratch *s, uint32_t nfields);

/* Field i of the event: ev->f[i], or a value a route computed (i >= ev->n). */
static const va_field *field_at(const evalctx *x, uint32_t i) {
    return i < x->ev->n ? &x->ev->f[i] : &x->s->vf[i - x->ev->n].f;
}

/* The index of the value spec computes for the current event (memoised per event), or
 * UINT32_MAX when the event has none of its source fields. */
static uint32_t computed_field(evalctx *x, const va_logsource_field *spec) {
    va_engine_scratch *s = x->s;
    const va_event *ev = x->ev;
    for (size_t k = 0; k < s->nvf; k++)
        if (s->vf[k].spec == spec) return s->vf[k].f.val ? ev->n + (uint32_t)k : UINT32_MAX;
    if (VA_ARRAY_GROW(s->vf, s->vf_cap, s->nvf + 1) || grow_fold(s, ev->n + (uint32_t)s->nvf + 1))
        return UINT32_MAX;
    const char *val[8] = {0};
    uint32_t len[8] = {0};
    uint32_t np = spec->nparts;
    if (np > 8) np = 8; /* the loader allows VA_LOGSOURCE_MAX_PARTS (8) */
    for (uint32_t p = 0; p < np; p++) {
        const char *name = spec->parts[p];
        size_t nl = strlen(name);
        for (uint32_t i = 0; i < ev->n && !val[p]; i++)
            if (ev->f[i].nlen == nl && !memcmp(ev->f[i].name, name, nl))
                val[p] = ev->f[i].val, len[p] = ev->f[i].vlen;
    }
    struct vfield *v = &s->vf[s->nvf];
    memset(v, 0, sizeof *v);
    v->spec = spec;
    va_buf_clear(&s->conv);
    if (va_logsource_convert(spec, val, len, &s->conv) && !s->conv.oom) {
        char *t = va_arena_strndup(&s->vfa, s->conv.p ? s->conv.p : "", s->conv.len);
        if (!t) return UINT32_MAX;
        v->f.name = spec->name, v->f.nlen = (uint32_t)strlen(spec->name);
        v->f.val = t, v->f.vlen = (uint32_t)s->conv.len;
        int digits = s->conv.len > 0;
        for (size_t k = 0; k < s->conv.len && digits; k++) digits = t[k] >= '0' && t[k] <= '9';
        v->f.type = spec->conv == VA_LOGSOURCE_HEX && digits ? VA_V_UINT : VA_V_STR;
    }
    s->fold_off[ev->n + s->nvf] = 0;
    s->nvf++;
    return v->f.val ? ev->n + (uint32_t)s->nvf - 1 : UINT32_MAX;
}

/* Which event fields a rule field name reads on x's route: those named as the mapping says
 * (all of them: a name may repeat), or the one value a conversion computes. */
typedef struct fpos {
    const char *name;
    uint32_t len;
    uint32_t virt; /* index of the computed value; UINT32_MAX: look fields up by name */
    int absent;    /* a computed value the event has no source for */
} fpos;

static fpos field_pos(evalctx *x, const char *name, uint32_t len) {
    fpos p = {name, len, UINT32_MAX, 0};
    /* An event that fails its route's conditions shows the rule no field (logsource.h). */
    if (x->route && x->route->test && computed_field(x, x->route->test) == UINT32_MAX) {
        p.absent = 1;
        return p;
    }
    const va_logsource_field *lf = route_field(x->route, name, len);
    if (!lf) return p;
    if (lf->conv == VA_LOGSOURCE_RENAME) {
        p.name = lf->field, p.len = (uint32_t)strlen(lf->field);
        return p;
    }
    p.virt = computed_field(x, lf);
    p.absent = p.virt == UINT32_MAX;
    return p;
}

/* The first field at or after index from that p reads, or UINT32_MAX. */
static uint32_t field_next(const evalctx *x, const fpos *p, uint32_t from) {
    if (p->absent) return UINT32_MAX;
    if (p->virt != UINT32_MAX) return from <= p->virt ? p->virt : UINT32_MAX;
    for (uint32_t i = from; i < x->ev->n; i++)
        if (x->ev->f[i].nlen == p->len && !memcmp(x->ev->f[i].name, p->name, p->len)) return i;
    return UINT32_MAX;
}

static void subject(evalctx *x, uint32_t i, int fold, va_value_subj *sj) {
    const va_field *f = field_at(x, i);
    sj->s = f->val, sj->n = f->vlen, sj->type = (va_vtype)f->type;
    sj->fold = NULL, sj->fold_n = 0;
    if (!fold) return;
    va_engine_scratch *s = x->s;
    if (!s->fold_off[i]) {
        size_t off = s->fold.len;
        va_value_fold(f->val, f->vlen, &s->fold);
        s->fold_off[i] = off + 1;
        s->fold_len[i] = (uint32_t)(s->fold.len - off);
    }
    if (!s->fold.oom) {
        sj->fold = s->fold.p + s->fold_off[i] - 1;
        sj->fold_n = s->fold_len[i];
    }
}

#define EACH_FIELD(x, p, i)                                                                        \
    for (uint32_t i = field_next((x), (p), 0); i != UINT32_MAX; i = field_next((x), (p), i + 1))

static int match_field(evalctx *x, const cfield *cf) {
    const va_event *ev = x->ev;
    int fold = (cf->flags & VA_VALUE_F_NEEDFOLD) != 0;
    va_value_subj sj;
    if (!cf->nlen) {                      /* keyword: any field value */
        if (cf->flags & VA_VALUE_F_ALL) { /* every keyword somewhere in the event */
            for (size_t v = 0; v < va_value_nvalues(cf->m); v++) {
                int hit = 0;
                for (uint32_t i = 0; i < ev->n && !hit; i++) {
                    subject(x, i, fold, &sj);
                    hit = va_value_match_value(cf->m, v, x->s->sv, &sj);
                }
                if (!hit) return 0;
            }
            return 1;
        }
        for (uint32_t i = 0; i < ev->n; i++) {
            subject(x, i, fold, &sj);
            if (va_value_match(cf->m, x->s->sv, &sj)) return 1;
        }
        return 0;
    }
    fpos p = field_pos(x, cf->name, cf->nlen);
    uint32_t first = field_next(x, &p, 0);
    if (first == UINT32_MAX) return va_value_absent(cf->m);
    if (cf->flags & VA_VALUE_F_FIELDREF) {
        int all = (cf->flags & VA_VALUE_F_ALL) != 0, r = all;
        for (size_t v = 0; v < va_value_nvalues(cf->m); v++) {
            size_t rl;
            const char *rn = va_value_ref_name(cf->m, v, &rl);
            fpos q = field_pos(x, rn, (uint32_t)rl); /* read like any other field */
            int hit = 0;
            for (uint32_t j = field_next(x, &q, 0); j != UINT32_MAX && !hit;
                 j = field_next(x, &q, j + 1)) {
                va_value_subj other;
                subject(x, j, fold, &other);
                subject(x, first, fold, &sj);
                hit = va_value_match_ref(cf->m, v, x->s->sv, &sj, &other);
            }
            if (all && !hit) r = 0;
            if (!all && hit) r = 1;
        }
        return (cf->flags & VA_VALUE_F_NEQ) ? !r : r;
    }
    if ((cf->flags & VA_VALUE_F_ALL) && field_next(x, &p, first + 1) != UINT32_MAX) {
        /* `all` over a repeated field: every value must match some instance. */
        int r = 1;
        for (size_t v = 0; v < va_value_nvalues(cf->m) && r; v++) {
            int hit = 0;
            for (uint32_t i = first; i != UINT32_MAX && !hit; i = field_next(x, &p, i + 1)) {
                subject(x, i, fold, &sj);
                hit = va_value_match_value(cf->m, v, x->s->sv, &sj);
            }
            r = hit;
        }
        return (cf->flags & VA_VALUE_F_NEQ) ? !r : r;
    }
    EACH_FIELD(x, &p, i) {
        subject(x, i, fold, &sj);
        if (va_value_match(cf->m, x->s->sv, &sj)) return 1;
    }
    return 0;
}

static int search_cb(void *ud, uint32_t idx) {
    evalctx *x = ud;
    if (idx >= x->c->ns) return 0;
    uint8_t *memo = &x->memo[idx];
    if (*memo) return *memo == 2;
    const csearch *cs = &x->c->s[idx];
    int any = 0;
    for (uint32_t m = 0; m < cs->nmaps && !any; m++) {
        int all = 1;
        for (uint32_t f = 0; f < cs->maps[m].n && all; f++) all = match_field(x, &cs->maps[m].f[f]);
        any = all;
    }
    *memo = any ? 2 : 1;
    return any;
}

static int grow_fold(va_engine_scratch *s, uint32_t nfields) {
    if (nfields <= s->fold_cap) return 0;
    uint32_t cap = s->fold_cap ? s->fold_cap : 32;
    while (cap < nfields) cap *= 2;
    size_t *o = realloc(s->fold_off, cap * sizeof *o);
    if (!o) return -1;
    s->fold_off = o;
    uint32_t *l = realloc(s->fold_len, cap * sizeof *l);
    if (!l) return -1;
    s->fold_len = l, s->fold_cap = cap;
    return 0;
}

static int grow(va_engine_scratch *s, uint32_t nsearch, uint32_t nfields) {
    if (nsearch > s->memo_cap) {
        uint8_t *m = realloc(s->memo, nsearch);
        if (!m) return -1;
        s->memo = m, s->memo_cap = nsearch;
    }
    return grow_fold(s, nfields);
}

/* One rule against the event: its first admitting route, then its condition. */
static int match_rule(const crule *c, va_engine_scratch *s, const va_event *ev, const char *ch,
                      size_t chl) {
    const va_logsource_route *route = NULL;
    for (uint32_t k = 0; k < c->nroutes && !route; k++)
        if (va_logsource_route_matches(&c->routes[k], ch, chl, ev->event_id)) route = &c->routes[k];
    if (!route) return 0;
    if (grow(s, c->ns ? c->ns : 1, 0)) return 0;
    memset(s->memo, 0, c->ns ? c->ns : 1);
    evalctx x = {c, route, s, ev, s->memo};
    const va_rule_detection *d = c->det;
    for (uint32_t k = 0; k < d->nconds; k++) /* a list of conditions is an OR */
        if (va_cond_eval(d->conds[k].ast, search_cb, &x)) {
            s->hit_c = c, s->hit_route = route, s->hit_ev = ev;
            return 1;
        }
    return 0;
}

/* Does one of the filters naming c match ev (so the hit is dropped)?  A filter sees the event
 * only if its own logsource admits it; it reads fields through the rule's route renames. */
static int filtered(const va_engine *e, const crule *c, va_engine_scratch *s, const va_event *ev,
                    const char *ch, size_t chl) {
    for (uint32_t i = 0; i < c->nfilters; i++) {
        const crule *f = &e->flt[c->filters[i]];
        int admits = 0;
        for (uint32_t k = 0; k < f->nroutes && !admits; k++)
            admits = va_logsource_route_matches(&f->routes[k], ch, chl, ev->event_id);
        if (!admits) continue;
        uint32_t need = f->ns ? f->ns : 1;
        if (need > s->fmemo_cap) {
            uint8_t *m = realloc(s->fmemo, need);
            if (!m) return 0;
            s->fmemo = m, s->fmemo_cap = need;
        }
        memset(s->fmemo, 0, need);
        evalctx x = {f, s->hit_route, s, ev, s->fmemo};
        for (uint32_t k = 0; k < f->det->nconds; k++)
            if (va_cond_eval(f->det->conds[k].ast, search_cb, &x)) return 1;
    }
    return 0;
}

static void on_literal(void *ud, uint32_t id, size_t end) {
    void **a = ud;
    const va_engine *e = a[0];
    va_engine_scratch *s = a[1];
    const va_event *ev = a[2];
    /* The field whose value holds the byte before end (values are NUL-separated). */
    uint32_t lo = 0, hi = ev->n;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (s->fstart[mid] < end)
            lo = mid;
        else
            hi = mid;
    }
    if (s->lit_epoch[id] == s->epoch && s->lit_field[id] == lo) return; /* seen here already */
    s->lit_epoch[id] = s->epoch, s->lit_field[id] = lo;
    const va_field *f = ev->n ? &ev->f[lo] : NULL;
    for (uint32_t k = e->lit_off[id]; k < e->lit_off[id + 1]; k++) {
        const litrule *x = &e->lit_rules[k];
        if (s->mark[x->rule] == s->epoch) continue;
        if (x->field &&
            !(f && ((f->nlen == x->flen && !memcmp(f->name, x->field, x->flen)) ||
                    (x->alt && f->nlen == x->alen && !memcmp(f->name, x->alt, x->alen)))))
            continue;
        s->mark[x->rule] = s->epoch;
    }
}

/* Scan the event's values for every rule literal once; sets s->all when the scan cannot
 * decide (out of memory, a backend error, or text with the two non-ASCII characters that
 * fold to ASCII letters, which an ASCII-caseless scan would miss). */
static void prefilter_scan(const va_engine *e, va_engine_scratch *s, const va_event *ev) {
    s->scanned = 1;
    if (s->owner != e) {
        va_prefilter_scratch_free(s->pf_s);
        s->pf_s = va_prefilter_scratch_new(e->pf);
        s->owner = s->pf_s ? e : NULL;
        free(s->mark);
        free(s->lit_epoch);
        free(s->lit_field);
        s->mark = calloc(e->n ? e->n : 1, sizeof *s->mark);
        s->lit_epoch = calloc(e->nlits ? e->nlits : 1, sizeof *s->lit_epoch);
        s->lit_field = calloc(e->nlits ? e->nlits : 1, sizeof *s->lit_field);
        s->nmark = s->mark ? e->n : 0;
        s->nlit = e->nlits;
        s->epoch = 0;
    }
    if (!s->pf_s || !s->mark || !s->lit_epoch || !s->lit_field) {
        s->all = 1;
        return;
    }
    if (++s->epoch == 0) { /* wrapped: old marks could look current */
        memset(s->mark, 0, s->nmark * sizeof *s->mark);
        memset(s->lit_epoch, 0, s->nlit * sizeof *s->lit_epoch);
        s->epoch = 1;
    }
    if (ev->n > s->fstart_cap) {
        size_t *n = realloc(s->fstart, ev->n * sizeof *n);
        if (!n) {
            s->all = 1;
            return;
        }
        s->fstart = n, s->fstart_cap = ev->n;
    }
    va_buf_clear(&s->text);
    for (uint32_t i = 0; i < ev->n; i++) {
        s->fstart[i] = s->text.len;
        va_buf_put(&s->text, ev->f[i].val, ev->f[i].vlen);
        va_buf_putc(&s->text, '\0');
    }
    if (s->text.oom) {
        s->all = 1;
        return;
    }
    const char *t = s->text.p ? s->text.p : "";
    size_t n = s->text.len;
    if ((memchr(t, 0xE2, n) && memmem(t, n, "\xE2\x84\xAA", 3)) ||
        (memchr(t, 0xC5, n) && memmem(t, n, "\xC5\xBF", 2))) {
        s->all = 1;
        return;
    }
    void *a[3] = {(void *)e, s, (void *)ev};
    if (va_prefilter_scan(e->pf, s->pf_s, t, n, on_literal, a)) s->all = 1;
}

/* Whether ev->event_id says all about the event's EventID: one such field, digits only.  Rules
 * indexed by the event IDs their detection demands are exact only for such events. */
static int plain_event_id(const va_event *ev) {
    if (ev->event_id < 0) return 0;
    int seen = 0;
    for (uint32_t i = 0; i < ev->n; i++) {
        const va_field *f = &ev->f[i];
        if (f->nlen != 7 || memcmp(f->name, "EventID", 7)) continue;
        if (seen++ || !f->vlen) return 0;
        for (uint32_t k = 0; k < f->vlen; k++)
            if (f->val[k] < '0' || f->val[k] > '9') return 0;
    }
    return seen == 1;
}

uint32_t va_engine_match(const va_engine *e, va_engine_scratch *s, const va_event *ev,
                         va_engine_hit_fn fn, void *ud) {
    uint32_t hits = 0;
    const char *ch = ev->channel ? ev->channel->val : NULL;
    size_t chl = ev->channel ? ev->channel->vlen : 0;
    if (grow(s, 1, ev->n ? ev->n : 1)) return 0;
    va_buf_clear(&s->fold);
    if (s->nvf) {
        s->nvf = 0;
        va_arena_reset(&s->vfa);
    }
    memset(s->fold_off, 0, (ev->n ? ev->n : 1) * sizeof *s->fold_off);
    /* Candidates: up to four ascending lists of rule indices, merged so that rules run in
     * rule order and a rule listed twice runs once. */
    const ientry *lists[4] = {&e->any, NULL, NULL, NULL};
    if (ch && e->idx_cap) {
        const ientry *a = slot_for(e, ch, chl, ev->event_id), *b = slot_for(e, ch, chl, -1);
        lists[1] = a->channel ? a : NULL;
        lists[2] = b->channel ? b : NULL;
        if (!plain_event_id(ev)) {
            const ientry *r = slot_for(e, ch, chl, KEY_REFINED);
            lists[3] = r->channel ? r : NULL;
        }
    }
    uint32_t pos[4] = {0, 0, 0, 0};
    s->scanned = s->all = 0;
    for (;;) {
        uint32_t best = UINT32_MAX;
        for (int l = 0; l < 4; l++)
            if (lists[l] && pos[l] < lists[l]->n && lists[l]->rules[pos[l]] < best)
                best = lists[l]->rules[pos[l]];
        if (best == UINT32_MAX) break;
        for (int l = 0; l < 4; l++)
            if (lists[l] && pos[l] < lists[l]->n && lists[l]->rules[pos[l]] == best) pos[l]++;
        const crule *c = &e->r[best];
        if (e->pf && !e->always[best]) {
            if (!s->scanned) prefilter_scan(e, s, ev);
            if (!s->all && s->mark[best] != s->epoch) {
                s->skipped++;
                continue;
            }
        }
        s->evaluated++;
        if (!match_rule(c, s, ev, ch, chl)) continue;
        if (c->nfilters && filtered(e, c, s, ev, ch, chl)) continue;
        hits++;
        if (fn && fn(ud, c->rule, ev)) break;
    }
    return hits;
}

void va_engine_scratch_counts(const va_engine_scratch *s, uint64_t *evaluated, uint64_t *skipped) {
    if (evaluated) *evaluated = s->evaluated;
    if (skipped) *skipped = s->skipped;
}

/* Mark the event fields through which cf matches (cf as a whole is known to match); for a
 * value a route computes, the event fields it was computed from. */
static void seen_field(evalctx *x, const cfield *cf, uint8_t *seen) {
    const va_event *ev = x->ev;
    int fold = (cf->flags & VA_VALUE_F_NEEDFOLD) != 0;
    va_value_subj sj;
    if (cf->nlen) {
        const va_logsource_field *lf = route_field(x->route, cf->name, cf->nlen);
        if (lf && lf->conv != VA_LOGSOURCE_RENAME) {
            for (uint32_t k = 0; k < lf->nparts; k++) {
                fpos q = {lf->parts[k], 0, UINT32_MAX, 0};
                q.len = (uint32_t)strlen(q.name);
                uint32_t i = field_next(x, &q, 0); /* the first, as computed_field read it */
                if (i != UINT32_MAX) seen[i] = 1;
            }
            return;
        }
    }
    fpos p = {NULL, 0, UINT32_MAX, 0};
    if (cf->nlen) p = field_pos(x, cf->name, cf->nlen);
    for (uint32_t i = 0; i < ev->n; i++) {
        if (cf->nlen && field_next(x, &p, i) != i) continue;
        if (cf->flags & VA_VALUE_F_FIELDREF) {
            seen[i] = 1;
            continue;
        }
        subject(x, i, fold, &sj);
        int hit = va_value_match(cf->m, x->s->sv, &sj);
        for (size_t v = 0; !hit && (cf->flags & VA_VALUE_F_ALL) && v < va_value_nvalues(cf->m); v++)
            hit = va_value_match_value(cf->m, v, x->s->sv, &sj);
        if (hit) seen[i] = 1;
    }
}

uint32_t va_engine_hit_fields(va_engine_scratch *s, uint32_t *idx, uint32_t cap) {
    const crule *c = s->hit_c;
    const va_event *ev = s->hit_ev;
    if (!c || !ev || !ev->n) return 0;
    if (ev->n > s->seen_cap) {
        uint8_t *n = realloc(s->seen, ev->n);
        if (!n) return 0;
        s->seen = n, s->seen_cap = ev->n;
    }
    memset(s->seen, 0, ev->n);
    evalctx x = {c, s->hit_route, s, ev, s->memo};
    for (uint32_t i = 0; i < c->ns; i++) {
        if (!c->positive[i] || s->memo[i] != 2) continue;
        const csearch *cs = &c->s[i];
        for (uint32_t m = 0; m < cs->nmaps; m++) {
            int all = 1;
            for (uint32_t f = 0; f < cs->maps[m].n && all; f++)
                all = match_field(&x, &cs->maps[m].f[f]);
            for (uint32_t f = 0; all && f < cs->maps[m].n; f++)
                seen_field(&x, &cs->maps[m].f[f], s->seen);
        }
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < ev->n; i++)
        if (s->seen[i]) {
            if (n < cap) idx[n] = i;
            n++;
        }
    return n;
}
