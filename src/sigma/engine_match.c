/*
 * engine_match.c - matching events (see engine.h and engine_int.h).
 *
 * Matching order per event: routes first (channel and event ID, from the logsource mapping),
 * then the prefilter (one scan of the event's values for every rule literal), then the
 * condition, whose search identifiers are evaluated on demand and memoised for the event.
 * Field values are case-folded at most once per event, whatever the number of rules that
 * compare them, and values a route computes (logsource.h) are computed once per event.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "sigma/engine_int.h"

#define ENGINE_SHAPES       8   /* recent field-name lists kept per scratch */
#define ENGINE_SHAPE_FIELDS 512 /* events with more fields are hashed afresh */

struct va_engine_scratch {
    va_value_scratch *sv;
    uint8_t *memo; /* per search identifier: 0 unknown, 1 false, 2 true */
    size_t memo_cap;
    uint8_t *fmemo; /* the same for a filter being evaluated */
    size_t fmemo_cap;
    va_buf fold;      /* folded field values of the current event */
    size_t *fold_off; /* per field: offset in fold + 1, 0 if not folded yet */
    uint32_t *fold_len;
    size_t fold_cap, fold_len_cap;
    /* Prefilter state for the current event. */
    const va_engine *owner; /* the engine pf_s belongs to */
    va_prefilter_scratch *pf_s[VA_ENGINE_GROUPS];
    /* The event's values, NUL-separated, by scan group (engine_int.h): text[g] those of the
     * fields of group g; fstart[g][k] and fidx[g][k] give the offset and the field index of
     * the k-th value of text[g]. */
    va_buf text[VA_ENGINE_GROUPS];
    size_t *fstart[VA_ENGINE_GROUPS];
    uint32_t *fidx[VA_ENGINE_GROUPS];
    uint32_t nval[VA_ENGINE_GROUPS];
    size_t fstart_cap[VA_ENGINE_GROUPS], fidx_cap[VA_ENGINE_GROUPS];
    uint64_t *mbits[VA_ENGINE_CLAUSES]; /* rule bitsets: clause j of its requirement met */
    uint64_t *cand;                     /* rule bitset: the event's candidates */
    uint64_t *waive[VA_ENGINE_CLAUSES]; /* rule bitsets: clause j waived for this event */
    size_t waive_cap[VA_ENGINE_CLAUSES];
    size_t cand_cap, mbits_cap[VA_ENGINE_CLAUSES];
    uint32_t *lit_epoch, *lit_field; /* per literal: last event and field it was seen in */
    uint32_t nlit;
    uint32_t epoch;
    int scanned, all;            /* scan done; the prefilter cannot decide (evaluate everything) */
    uint64_t evaluated, skipped; /* rules evaluated / skipped by the prefilter, cumulative */
    /* The event's field names by hash: fh[i] is field i's hash, ft the table of them.  They
     * are a recent shape's (below), or built in ftab and fhash for this event alone. */
    const va_hash *ft;
    const uint64_t *fh;
    struct shape *cur; /* the event's shape, NULL if none */
    va_hash ftab;
    uint64_t *fhash;
    size_t fhash_cap;
    /* The field-name lists of recent events (most events repeat one of a few: the records
     * of one event ID), with their hashes, name table and scan groups, so that an event of a
     * known shape costs a compare of its names instead of hashing and looking up each. */
    struct shape {
        uint32_t n;    /* fields; 0: unused */
        uint64_t used; /* clock when last matched (the least recent is replaced) */
        uint32_t *nlen;
        char *names; /* the names back to back */
        uint64_t *fhash;
        size_t nlen_cap, names_cap, fhash_cap;
        va_hash tab;
        uint8_t *group; /* per field: its scan group in engine gfor (gid) */
        size_t group_cap;
        const va_engine *gfor;
        uint64_t gid;
    } shapes[ENGINE_SHAPES];
    uint64_t clock;
    uint64_t owner_id; /* id of owner (engine_int.h: an address can be reused) */
    /* Values that route conversions computed for the current event (logsource.h); field
     * index ev->n + k is vf[k].  Their text lives in vfa, reset per event. */
    struct vfield {
        const va_logsource_field *spec;
        va_field f;
    } * vf;
    size_t nvf, vf_cap;
    va_arena vfa;
    va_buf conv;
    /* The regex field that gave up at a limit in the rule being evaluated, and in the hit. */
    const char *undecided_field, *hit_undecided;
    /* The rule that matched last, for va_engine_hit_fields. */
    const crule *hit_c;
    const va_logsource_route *hit_route;
    const va_event *hit_ev;
    uint8_t *seen; /* per event field, while collecting */
    size_t seen_cap;
    uint8_t *mapres; /* the rule being evaluated: its maps' results (evalctx.mapres) */
    size_t mapres_cap;
    uint64_t failures; /* events not fully matched: out of memory (va_engine_scratch_counts) */
};

va_engine_scratch *va_engine_scratch_new(void) {
    va_engine_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (!(s->sv = va_value_scratch_new())) {
        free(s);
        return NULL;
    }
    va_buf_init(&s->fold);
    for (int g = 0; g < VA_ENGINE_GROUPS; g++) va_buf_init(&s->text[g]);
    va_buf_init(&s->conv);
    va_arena_init(&s->vfa, 4096);
    return s;
}

void va_engine_scratch_free(va_engine_scratch *s) {
    if (!s) return;
    va_value_scratch_free(s->sv);
    va_buf_free(&s->fold);
    for (int g = 0; g < VA_ENGINE_GROUPS; g++) va_buf_free(&s->text[g]);
    va_buf_free(&s->conv);
    va_arena_free(&s->vfa);
    free(s->vf);
    va_hash_free(&s->ftab);
    free(s->fhash);
    for (int k = 0; k < ENGINE_SHAPES; k++) {
        struct shape *h = &s->shapes[k];
        free(h->nlen), free(h->names), free(h->fhash), free(h->group);
        va_hash_free(&h->tab);
    }
    for (int g = 0; g < VA_ENGINE_GROUPS; g++) va_prefilter_scratch_free(s->pf_s[g]);
    for (int j = 0; j < VA_ENGINE_CLAUSES; j++) free(s->mbits[j]);
    free(s->cand);
    for (int j = 0; j < VA_ENGINE_CLAUSES; j++) free(s->waive[j]);
    free(s->lit_epoch);
    free(s->lit_field);
    for (int t = 0; t < VA_ENGINE_GROUPS; t++) free(s->fstart[t]), free(s->fidx[t]);
    free(s->seen);
    free(s->mapres);
    free(s->fmemo);
    free(s->memo);
    free(s->fold_off);
    free(s->fold_len);
    free(s);
}

typedef struct evalctx {
    const crule *c;
    const va_logsource_route *route;
    uint32_t ri; /* route's index in c->routes (cfield.res), UINT32_MAX: resolve by name */
    va_engine_scratch *s;
    const va_event *ev;
    uint8_t *memo;   /* per search identifier of c: 0 unknown, 1 false, 2 true */
    uint8_t *mapres; /* per map of c (c->map_off): 0 not evaluated, else 1 + VA_COND_ value;
                        NULL: not kept (filters) */
} evalctx;

static int grow_fold(va_engine_scratch *s, uint32_t nfields);
static uint32_t field_first(const evalctx *x, const char *name, uint32_t len);

/* Field i of the event: ev->f[i], or a value a route computed (i >= ev->n). */
static const va_field *field_at(const evalctx *x, uint32_t i) {
    assert(i < x->ev->n + x->s->nvf); /* an event field, or a value computed for this event */
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
    const char *val[VA_LOGSOURCE_MAX_PARTS] = {0};
    uint32_t len[VA_LOGSOURCE_MAX_PARTS] = {0};
    uint32_t np = spec->nparts;
    if (np > VA_LOGSOURCE_MAX_PARTS) np = VA_LOGSOURCE_MAX_PARTS; /* the loader's bound */
    for (uint32_t p = 0; p < np; p++) {
        const char *name = spec->parts[p];
        uint32_t i = field_first(x, name, (uint32_t)strlen(name));
        if (i != UINT32_MAX) val[p] = ev->f[i].val, len[p] = ev->f[i].vlen;
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
    uint64_t hash;
    uint32_t virt; /* index of the computed value; UINT32_MAX: look fields up by name */
    int absent;    /* a computed value the event has no source for */
} fpos;

static fpos fpos_of(evalctx *x, const char *name, uint32_t len, uint64_t hash,
                    const va_logsource_field *spec) {
    fpos p = {name, len, hash, UINT32_MAX, 0};
    if (spec) {
        p.virt = computed_field(x, spec);
        p.absent = p.virt == UINT32_MAX;
    }
    return p;
}

/* By name, through the route's field map (filters, field references, seen fields). */
static fpos field_pos(evalctx *x, const char *name, uint32_t len) {
    const va_logsource_field *lf = route_field(x->route, name, len);
    if (lf && lf->conv == VA_LOGSOURCE_RENAME) name = lf->field, len = (uint32_t)strlen(lf->field);
    return fpos_of(x, name, len, va_hash_mem(name, len, 0),
                   lf && lf->conv != VA_LOGSOURCE_RENAME ? lf : NULL);
}

/* A rule field, resolved at compile time for the route being evaluated. */
static fpos field_pos_cf(evalctx *x, const cfield *cf) {
    if (x->ri == UINT32_MAX || !cf->res) return field_pos(x, cf->name, cf->nlen);
    const fres *r = &cf->res[x->ri];
    return fpos_of(x, r->name, r->len, r->hash, r->spec);
}

/* Index the event's field names by hash, once per event, for field_next. */
/* ev's field-name hashes into fh (room for ev->n + 1) and a table of them in tab; -1 out of
 * memory.  A table grown for one huge event is dropped rather than cleared for every small one. */
static int hash_names(va_hash *tab, uint64_t *fh, const va_event *ev) {
    if (tab->slot && (size_t)tab->mask + 1 > 8 * ((size_t)ev->n + 16))
        va_hash_free(tab);
    else
        va_hash_clear(tab);
    if (va_hash_reserve(tab, ev->n)) return -1;
    for (uint32_t i = 0; i < ev->n; i++) {
        fh[i] = va_hash_mem(ev->f[i].name, ev->f[i].nlen, 0);
        if (va_hash_insert(tab, fh[i], i)) return -1;
    }
    return 0;
}

/* ev's names for this event alone (no shape). */
static int build_ftab(va_engine_scratch *s, const va_event *ev) {
    if (VA_ARRAY_GROW(s->fhash, s->fhash_cap, ev->n + 1) || hash_names(&s->ftab, s->fhash, ev))
        return -1;
    s->ft = &s->ftab, s->fh = s->fhash, s->cur = NULL;
    return 0;
}

/* The recent shape with ev's field names, in order, or NULL. */
static struct shape *shape_find(va_engine_scratch *s, const va_event *ev) {
    for (int k = 0; k < ENGINE_SHAPES; k++) {
        struct shape *h = &s->shapes[k];
        if (h->n != ev->n) continue;
        const char *p = h->names;
        uint32_t i = 0;
        for (; i < ev->n; p += h->nlen[i], i++)
            if (h->nlen[i] != ev->f[i].nlen || memcmp(p, ev->f[i].name, h->nlen[i])) break;
        if (i == ev->n) return h;
    }
    return NULL;
}

/* Make ev's field-name list a shape in place of the least recent one; -1 out of memory (the
 * shape is left unused). */
static int shape_add(va_engine_scratch *s, const va_event *ev, struct shape **out) {
    struct shape *h = &s->shapes[0];
    for (int k = 1; k < ENGINE_SHAPES && h->n; k++)
        if (!s->shapes[k].n || s->shapes[k].used < h->used) h = &s->shapes[k];
    h->n = 0;
    size_t bytes = 0;
    for (uint32_t i = 0; i < ev->n; i++) bytes += ev->f[i].nlen;
    if (VA_ARRAY_GROW(h->nlen, h->nlen_cap, ev->n) ||
        VA_ARRAY_GROW(h->names, h->names_cap, bytes ? bytes : 1) ||
        VA_ARRAY_GROW(h->fhash, h->fhash_cap, ev->n + 1) || hash_names(&h->tab, h->fhash, ev))
        return -1;
    char *p = h->names;
    for (uint32_t i = 0; i < ev->n; i++) {
        memcpy(p, ev->f[i].name, ev->f[i].nlen);
        p += ev->f[i].nlen;
        h->nlen[i] = ev->f[i].nlen;
    }
    h->gfor = NULL;
    h->n = ev->n;
    *out = h;
    return 0;
}

/* Field names of ev by hash (s->ft, s->fh): from a recent shape where ev has one. */
static int event_names(va_engine_scratch *s, const va_event *ev) {
    if (!ev->n || ev->n > ENGINE_SHAPE_FIELDS) return build_ftab(s, ev);
    struct shape *h = shape_find(s, ev);
    if (!h && shape_add(s, ev, &h)) return build_ftab(s, ev);
    h->used = ++s->clock;
    s->ft = &h->tab, s->fh = h->fhash, s->cur = h;
    return 0;
}

/* The first field at or after index from that p reads, or UINT32_MAX. */
static uint32_t field_next(const evalctx *x, const fpos *p, uint32_t from) {
    if (p->absent) return UINT32_MAX;
    if (p->virt != UINT32_MAX) return from <= p->virt ? p->virt : UINT32_MAX;
    const va_event *ev = x->ev;
    uint32_t best = UINT32_MAX;
    va_hash_iter it;
    for (uint32_t i = va_hash_first(x->s->ft, p->hash, &it); i != VA_HASH_END;
         i = va_hash_next(x->s->ft, &it))
        if (i >= from && i < best && ev->f[i].nlen == p->len &&
            !memcmp(ev->f[i].name, p->name, p->len))
            best = i;
    return best;
}

static uint32_t field_first(const evalctx *x, const char *name, uint32_t len) {
    fpos p = {name, len, va_hash_mem(name, len, 0), UINT32_MAX, 0};
    return field_next(x, &p, 0);
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
    fpos p = field_pos_cf(x, cf);
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

/* A field's match, or VA_COND_UNKNOWN when a regular expression gave up at a PCRE2 limit on
 * the way (whatever the answer: the limit may have hidden a match, or a non-match under
 * `neq`), so the rule is decided in favour of the alert and the alert says so. */
static int match_field_3(evalctx *x, const cfield *cf) {
    uint64_t before = va_value_scratch_limits(x->s->sv);
    int r = match_field(x, cf);
    if (va_value_scratch_limits(x->s->sv) == before) return r;
    if (!x->s->undecided_field) x->s->undecided_field = cf->nlen ? cf->name : "(keywords)";
    return VA_COND_UNKNOWN;
}

/* Memo values per search identifier: 0 not yet evaluated, else 1 + the VA_COND_ value. */
static int search_cb(void *ud, uint32_t idx) {
    evalctx *x = ud;
    if (idx >= x->c->ns) return VA_COND_FALSE;
    uint8_t *memo = &x->memo[idx];
    if (*memo) return *memo - 1;
    const csearch *cs = &x->c->s[idx];
    int any = VA_COND_FALSE; /* or over the maps, and over each map's fields (3-valued) */
    for (uint32_t m = 0; m < cs->nmaps && any != VA_COND_TRUE; m++) {
        int all = VA_COND_TRUE;
        for (uint32_t f = 0; f < cs->maps[m].n && all != VA_COND_FALSE; f++) {
            int r = match_field_3(x, &cs->maps[m].f[f]);
            if (r != VA_COND_TRUE) all = r == VA_COND_FALSE ? VA_COND_FALSE : VA_COND_UNKNOWN;
        }
        if (x->mapres) x->mapres[x->c->map_off[idx] + m] = (uint8_t)(all + 1);
        if (all != VA_COND_FALSE) any = all;
    }
    *memo = (uint8_t)(any + 1);
    return any;
}

static int grow_fold(va_engine_scratch *s, uint32_t nfields) {
    return VA_ARRAY_GROW(s->fold_off, s->fold_cap, nfields) ||
                   VA_ARRAY_GROW(s->fold_len, s->fold_len_cap, nfields)
               ? -1
               : 0;
}

static int grow(va_engine_scratch *s, uint32_t nsearch, uint32_t nfields) {
    return VA_ARRAY_GROW(s->memo, s->memo_cap, nsearch) ? -1 : grow_fold(s, nfields);
}

/* A route's conditions on event fields (logsource.h `conditions`) hold for ev: the route's
 * test, computed (and memoised) like any converted value. */
static int route_conditions_hold(va_engine_scratch *s, const va_logsource_route *r,
                                 const va_event *ev) {
    if (!r->test) return 1;
    evalctx x = {NULL, r, UINT32_MAX, s, ev, NULL, NULL};
    return computed_field(&x, r->test) != UINT32_MAX;
}

/* One rule against the event: its first admitting route, then its condition. */
static int match_rule(const crule *c, va_engine_scratch *s, const va_event *ev, const char *ch,
                      size_t chl) {
    const va_logsource_route *route = NULL;
    for (uint32_t k = 0; k < c->nroutes && !route; k++)
        if (va_logsource_route_matches(&c->routes[k], ch, chl, ev->event_id) &&
            route_conditions_hold(s, &c->routes[k], ev))
            route = &c->routes[k];
    if (!route) return 0;
    if (grow(s, c->ns ? c->ns : 1, 0) ||
        VA_ARRAY_GROW(s->mapres, s->mapres_cap, c->nmaps_all + 1)) {
        s->failures++;
        return 0;
    }
    memset(s->memo, 0, c->ns ? c->ns : 1);
    memset(s->mapres, 0, c->nmaps_all + 1);
    evalctx x = {c, route, (uint32_t)(route - c->routes), s, ev, s->memo, s->mapres};
    const va_rule_detection *d = c->det;
    s->undecided_field = NULL;
    int any = VA_COND_FALSE;
    for (uint32_t k = 0; k < d->nconds && any != VA_COND_TRUE; k++) { /* a list is an OR */
        int r = va_cond_eval(d->conds[k].ast, search_cb, &x);
        if (r != VA_COND_FALSE) any = r;
    }
    if (any == VA_COND_FALSE) return 0;
    s->hit_c = c, s->hit_route = route, s->hit_ev = ev;
    s->hit_undecided = any == VA_COND_UNKNOWN ? s->undecided_field : NULL;
    return 1;
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
        if (VA_ARRAY_GROW(s->fmemo, s->fmemo_cap, need)) {
            s->failures++; /* the filter could not run: keep the hit */
            return 0;
        }
        memset(s->fmemo, 0, need);
        evalctx x = {f, s->hit_route, UINT32_MAX, s, ev, s->fmemo, NULL}; /* the rule's route */
        for (uint32_t k = 0; k < f->det->nconds; k++) {
            s->undecided_field = NULL;
            int r = va_cond_eval(f->det->conds[k].ast, search_cb, &x);
            if (r == VA_COND_TRUE) return 1;
            /* An undecided filter keeps the hit, and the alert says it is undecided. */
            if (r == VA_COND_UNKNOWN && !s->hit_undecided) s->hit_undecided = s->undecided_field;
        }
    }
    return 0;
}

/* Literal id occurs in text t just before offset end. */
static void literal_at(const va_engine *e, va_engine_scratch *s, const va_event *ev, int t,
                       uint32_t id, size_t end) {
    /* The value holding the byte before end (values are NUL-separated). */
    uint32_t lo = 0, hi = s->nval[t];
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (s->fstart[t][mid] < end)
            lo = mid;
        else
            hi = mid;
    }
    uint32_t fi = s->nval[t] ? s->fidx[t][lo] : 0;
    if (s->lit_epoch[id] == s->epoch && s->lit_field[id] == fi) return; /* seen here already */
    s->lit_epoch[id] = s->epoch, s->lit_field[id] = fi;
    const va_field *f = s->nval[t] ? &ev->f[fi] : NULL;
    uint64_t fh = f ? s->fh[fi] : 0;
    const fname *group = NULL;
    int in = 0;
    /* Rules come grouped by the names they are pinned to: one comparison per group. */
    for (uint32_t k = e->lit_off[id]; k < e->lit_off[id + 1]; k++) {
        const litrule *x = &e->lit_rules[k];
        if (k == e->lit_off[id] || x->names != group) {
            group = x->names;
            in = !x->nnames;
            for (uint32_t j = 0; j < x->nnames && !in && f; j++)
                in = x->names[j].hash == fh && x->names[j].len == f->nlen &&
                     !memcmp(x->names[j].s, f->name, f->nlen);
        }
        if (in) s->mbits[x->clause][x->rule / 64] |= 1ull << (x->rule % 64);
    }
}

/* A literal found by group g's database: ud is {engine, scratch, event, &g}. */
static void on_literal(void *ud, uint32_t id, size_t end) {
    void **a = ud;
    const va_engine *e = a[0];
    uint32_t g = *(const uint32_t *)a[3];
    literal_at(e, a[1], a[2], (int)g, e->grp[g].ids[id], end);
}

/* Scan the event's values for every rule literal once; sets s->all when the scan cannot
 * decide (out of memory, a backend error, or text with the two non-ASCII characters that
 * fold to ASCII letters, which an ASCII-caseless scan would miss).  Each value is scanned
 * with the database of its field's scan group only (engine_int.h). */
static void prefilter_scan(const va_engine *e, va_engine_scratch *s, const va_event *ev) {
    s->scanned = 1;
    if (s->owner != e || s->owner_id != e->id) {
        int ok = 1;
        for (uint32_t g = 0; g < VA_ENGINE_GROUPS; g++) {
            va_prefilter_scratch_free(s->pf_s[g]);
            s->pf_s[g] =
                g < e->ngroups && e->grp[g].db ? va_prefilter_scratch_new(e->grp[g].db) : NULL;
            if (g < e->ngroups && e->grp[g].db && !s->pf_s[g]) ok = 0;
        }
        s->owner = ok ? e : NULL;
        s->owner_id = e->id;
        free(s->lit_epoch);
        free(s->lit_field);
        s->lit_epoch = calloc(e->nlits ? e->nlits : 1, sizeof *s->lit_epoch);
        s->lit_field = calloc(e->nlits ? e->nlits : 1, sizeof *s->lit_field);
        s->nlit = e->nlits;
        s->epoch = 0;
    }
    if (!s->owner || !s->lit_epoch || !s->lit_field) {
        s->all = 1;
        return;
    }
    for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
        memset(s->mbits[j], 0, e->nwords * sizeof *s->mbits[j]);
    if (++s->epoch == 0) { /* wrapped: old literal marks could look current */
        memset(s->lit_epoch, 0, s->nlit * sizeof *s->lit_epoch);
        s->epoch = 1;
    }
    uint32_t ng = e->ngroups;
    for (uint32_t t = 0; t < ng; t++) {
        if (VA_ARRAY_GROW(s->fstart[t], s->fstart_cap[t], ev->n) ||
            VA_ARRAY_GROW(s->fidx[t], s->fidx_cap[t], ev->n)) {
            s->all = 1; /* no scan: every candidate is evaluated, nothing is lost */
            return;
        }
        va_buf_clear(&s->text[t]);
        s->nval[t] = 0;
    }
    struct shape *h = s->cur;
    if (h && (h->gfor != e || h->gid != e->id)) {
        if (VA_ARRAY_GROW(h->group, h->group_cap, h->n)) {
            h = NULL;
        } else {
            for (uint32_t i = 0; i < ev->n; i++)
                h->group[i] =
                    (uint8_t)va_engine_scan_group(e, s->fh[i], ev->f[i].name, ev->f[i].nlen);
            h->gfor = e, h->gid = e->id;
        }
    }
    for (uint32_t i = 0; i < ev->n; i++) {
        const va_field *f = &ev->f[i];
        uint32_t t = h ? h->group[i] : va_engine_scan_group(e, s->fh[i], f->name, f->nlen);
        if (!e->grp[t].db) continue; /* no literal can be in this field */
        s->fstart[t][s->nval[t]] = s->text[t].len;
        s->fidx[t][s->nval[t]++] = i;
        va_buf_put(&s->text[t], f->val, f->vlen);
        va_buf_putc(&s->text[t], '\0');
    }
    for (uint32_t t = 0; t < ng; t++) {
        if (s->text[t].oom) {
            s->all = 1;
            return;
        }
        const char *x = s->text[t].p ? s->text[t].p : "";
        size_t n = s->text[t].len;
        if ((memchr(x, 0xE2, n) && memmem(x, n, "\xE2\x84\xAA", 3)) ||
            (memchr(x, 0xC5, n) && memmem(x, n, "\xC5\xBF", 2))) {
            s->all = 1;
            return;
        }
    }
    for (uint32_t t = 0; t < ng; t++) {
        if (!s->text[t].len) continue;
        void *a[4] = {(void *)e, s, (void *)ev, &t};
        if (va_prefilter_scan(e->grp[t].db, s->pf_s[t], s->text[t].p, s->text[t].len, on_literal,
                              a)) {
            s->all = 1;
            return;
        }
    }
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

/* Bits set in x, without the libgcc call that __builtin_popcountll becomes on x86-64 CPUs
 * not known to have POPCNT. */
static inline uint64_t popcount64(uint64_t x) {
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (x * 0x0101010101010101ull) >> 56;
}

static int grow_marks(va_engine_scratch *s, uint32_t nw) {
    for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
        if (VA_ARRAY_GROW(s->mbits[j], s->mbits_cap[j], nw) ||
            VA_ARRAY_GROW(s->waive[j], s->waive_cap[j], nw))
            return -1;
    return 0;
}

uint32_t va_engine_match(const va_engine *e, va_engine_scratch *s, const va_event *ev,
                         va_engine_hit_fn fn, void *ud) {
    uint32_t hits = 0;
    const char *ch = ev->channel ? ev->channel->val : NULL;
    size_t chl = ev->channel ? ev->channel->vlen : 0;
    if (grow(s, 1, ev->n ? ev->n : 1)) {
        s->failures++;
        return 0;
    }
    va_buf_clear(&s->fold);
    if (s->nvf) {
        s->nvf = 0;
        va_arena_reset(&s->vfa);
    }
    memset(s->fold_off, 0, (ev->n ? ev->n : 1) * sizeof *s->fold_off);
    /* Candidates: the rules of the event's index entries, as the OR of their bitsets; then
     * those the prefilter cannot rule out (always evaluated, or a literal found).  Bits are
     * taken in ascending order, so rules run in rule order and each at most once. */
    uint32_t nw = e->nwords;
    if (VA_ARRAY_GROW(s->cand, s->cand_cap, nw) || grow_marks(s, nw)) {
        s->failures++;
        return 0;
    }
    uint64_t *cand = s->cand;
    memcpy(cand, e->any, nw * sizeof *cand);
    for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
        memcpy(s->waive[j], e->any_waive[j], nw * sizeof *s->waive[j]);
    if (ch) {
        uint64_t hc = va_hash_mem_lower(ch, chl, 0);
        const ientry *l[3] = {
            va_engine_index_find(e, hc, ch, chl, ev->event_id),
            va_engine_index_find(e, hc, ch, chl, -1),
            plain_event_id(ev) ? NULL : va_engine_index_find(e, hc, ch, chl, KEY_REFINED)};
        for (int k = 0; k < 3; k++)
            if (l[k])
                for (uint32_t w = l[k]->w0; w < l[k]->w1; w++) {
                    cand[w] |= l[k]->bits[w];
                    for (int j = 0; j < VA_ENGINE_CLAUSES; j++) s->waive[j][w] |= l[k]->waive[j][w];
                }
    }
    s->scanned = s->all = 0;
    if (event_names(s, ev)) {
        s->failures++;
        return 0;
    }
    if (e->ngroups) {
        uint64_t need = 0; /* candidates that only a literal can admit */
        for (uint32_t w = 0; w < nw && !need; w++) need = cand[w] & ~e->always_bits[w];
        if (need) prefilter_scan(e, s, ev);
        for (uint32_t w = 0; w < nw; w++) {
            if (!cand[w]) continue; /* most words: candidates are few */
            uint64_t admit = ~0ull;
            if (s->scanned && !s->all) {
                uint64_t met = ~e->lacks[0][w]; /* a rule without clause 0 is always_bits */
                for (int j = 0; j < VA_ENGINE_CLAUSES; j++)
                    met &= s->mbits[j][w] | e->lacks[j][w] | s->waive[j][w];
                admit = e->always_bits[w] | met;
            }
            s->skipped += popcount64(cand[w] & ~admit);
            cand[w] &= admit;
        }
    }
    for (uint32_t w = 0; w < nw; w++) {
        for (uint64_t bits = cand[w]; bits; bits &= bits - 1) {
            uint32_t best = w * 64 + (uint32_t)__builtin_ctzll(bits);
            assert(best < e->n); /* no bit beyond the last rule is ever set */
            const crule *c = &e->r[best];
            s->evaluated++;
            if (!match_rule(c, s, ev, ch, chl)) continue;
            if (c->nfilters && filtered(e, c, s, ev, ch, chl)) continue;
            hits++;
            if (fn && fn(ud, c->rule, ev)) return hits;
        }
    }
    return hits;
}

void va_engine_scratch_counts(const va_engine_scratch *s, uint64_t *evaluated, uint64_t *skipped) {
    if (evaluated) *evaluated = s->evaluated;
    if (skipped) *skipped = s->skipped;
}

uint64_t va_engine_scratch_failures(const va_engine_scratch *s) {
    return s->failures;
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
            uint32_t np = lf->nparts;
            for (uint32_t k = 0; k < np; k++) {
                const char *name = lf->parts[k];
                uint32_t i = field_first(x, name, (uint32_t)strlen(name)); /* as computed */
                if (i != UINT32_MAX) seen[i] = 1;
            }
            return;
        }
    }
    fpos p = {NULL, 0, 0, UINT32_MAX, 0};
    if (cf->nlen) {
        p = field_pos_cf(x, cf);
        uint32_t first = field_next(x, &p, 0);
        /* One instance of a field that matched is the one it matched through. */
        if (first != UINT32_MAX && first < ev->n && field_next(x, &p, first + 1) == UINT32_MAX) {
            seen[first] = 1;
            return;
        }
    }
    for (uint32_t i = 0; i < ev->n; i++) {
        if (cf->nlen && field_next(x, &p, i) != i) continue;
        if (cf->flags & VA_VALUE_F_FIELDREF) {
            seen[i] = 1;
            continue;
        }
        subject(x, i, fold, &sj);
        uint64_t limits = va_value_scratch_limits(x->s->sv);
        int hit = va_value_match(cf->m, x->s->sv, &sj);
        for (size_t v = 0; !hit && (cf->flags & VA_VALUE_F_ALL) && v < va_value_nvalues(cf->m); v++)
            hit = va_value_match_value(cf->m, v, x->s->sv, &sj);
        /* A value a regex gave up on is what made the rule undecided: show it too. */
        if (hit || va_value_scratch_limits(x->s->sv) != limits) seen[i] = 1;
    }
}

uint32_t va_engine_hit_fields(va_engine_scratch *s, uint32_t *idx, uint32_t cap) {
    const crule *c = s->hit_c;
    const va_event *ev = s->hit_ev;
    if (!c || !ev || !ev->n) return 0;
    if (VA_ARRAY_GROW(s->seen, s->seen_cap, ev->n)) {
        s->failures++;
        return 0;
    }
    memset(s->seen, 0, ev->n);
    evalctx x = {c, s->hit_route, (uint32_t)(s->hit_route - c->routes), s, ev, s->memo, NULL};
    for (uint32_t i = 0; i < c->ns; i++) { /* true (memo 2) and undecided (3) searches */
        if (!c->positive[i] || s->memo[i] < 2) continue;
        const csearch *cs = &c->s[i];
        for (uint32_t m = 0; m < cs->nmaps; m++) {
            /* The map's result as the evaluation found it, or (after the first true map,
             * where the evaluation stopped) found now. */
            uint8_t known = s->mapres[c->map_off[i] + m];
            int all = known ? known - 1 != VA_COND_FALSE : 1;
            for (uint32_t f = 0; !known && f < cs->maps[m].n && all; f++)
                all = match_field_3(&x, &cs->maps[m].f[f]) != VA_COND_FALSE;
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

const char *va_engine_hit_undecided(const va_engine_scratch *s) {
    return s->hit_undecided;
}
