/*
 * engine.c - compiling rules and matching events (see engine.h).
 *
 * Matching order per event: routes first (channel and event ID, from the logsource mapping),
 * then the condition, whose search identifiers are evaluated on demand and memoised for the
 * event.  Field values are case-folded at most once per event, whatever the number of rules
 * that compare them.
 */
#include "sigma/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cfield {
    const char *name; /* "" for a keyword-style value matched against every field */
    uint32_t nlen;
    va_sv *m;
    unsigned flags;
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
    const va_sr_rule *rule;
    va_sl_route *routes;
    uint32_t nroutes;
    csearch *s;
    uint32_t ns;
} crule;

/* Rules indexed by what their routes require, so an event meets only its candidates:
 * (channel, event ID), channel with any event ID, or anything (routes without a channel). */
typedef struct ientry {
    const char *channel; /* lower-case; NULL marks an empty slot */
    size_t clen;
    int64_t event_id; /* -1: any */
    uint32_t *rules;  /* ascending rule indices */
    uint32_t n, cap;
} ientry;

struct va_se {
    va_arena arena;
    crule *r;
    uint32_t n;
    ientry *idx; /* open addressing by (channel, event ID) */
    uint32_t idx_cap;
    ientry any; /* rules with a route that admits every channel */
};

struct va_se_scratch {
    va_sv_scratch *sv;
    uint8_t *memo; /* per search identifier: 0 unknown, 1 false, 2 true */
    uint32_t memo_cap;
    va_buf fold;      /* folded field values of the current event */
    size_t *fold_off; /* per field: offset in fold + 1, 0 if not folded yet */
    uint32_t *fold_len;
    uint32_t fold_cap;
};

static void report(va_diag_fn diag, void *ud, const va_sr_rule *r, va_err code, const char *fmt,
                   const char *a, const char *b) {
    if (!diag) return;
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    va_diag d = {VA_SEV_WARN, code, r->file, "line", (int64_t)r->line, -1, msg};
    diag(ud, &d);
}

static va_sv_kind lit_kind(va_sr_vtype t) {
    switch (t) {
    case VA_SR_INT:
        return VA_SV_INT;
    case VA_SR_FLOAT:
        return VA_SV_FLOAT;
    case VA_SR_BOOL:
        return VA_SV_BOOL;
    case VA_SR_NULL:
        return VA_SV_NULL;
    default:
        return VA_SV_STR;
    }
}

/* Compile one field (name|mods: values). */
static va_err compile_field(va_se *e, const va_se_opts *o, const va_sr_field *f, cfield *out,
                            const char **why) {
    char mods[512];
    size_t ml = 0;
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
    va_sv_lit lits[64] = {{0}};
    va_sv_lit *lv = f->nvals <= 64 ? lits : malloc(f->nvals * sizeof *lv);
    if (!lv) return VA_ENOMEM;
    for (uint32_t i = 0; i < f->nvals; i++) {
        lv[i].kind = lit_kind(f->vals[i].type);
        lv[i].s = f->vals[i].text;
        lv[i].n = f->vals[i].len;
    }
    va_err err = va_sv_compile(&e->arena, mods, ml, lv, f->nvals, o->placeholders, o->nplaceholders,
                               &out->m, why);
    if (lv != lits) free(lv);
    if (err) return err;
    out->name = f->name ? f->name : "";
    out->nlen = (uint32_t)strlen(out->name);
    out->flags = va_sv_flags(out->m);
    return VA_OK;
}

static va_err compile_rule(va_se *e, const va_se_opts *o, const va_sr_rule *r, crule *c,
                           const char **why, const char **what) {
    memset(c, 0, sizeof *c);
    c->rule = r;
    const va_sr_detection *d = &r->detection;
    c->s = va_arena_alloc(&e->arena, (d->nsearches ? d->nsearches : 1) * sizeof *c->s);
    if (!c->s) return VA_ENOMEM;
    c->ns = d->nsearches;
    for (uint32_t i = 0; i < d->nsearches; i++) {
        const va_sr_search *s = &d->searches[i];
        csearch *cs = &c->s[i];
        *what = s->name;
        if (s->kind == VA_SR_SEARCH_KEYWORDS) {
            /* Keywords: one nameless field whose values are tried against every field. */
            cs->maps = va_arena_alloc(&e->arena, sizeof *cs->maps);
            cfield *cf = va_arena_alloc(&e->arena, sizeof *cf);
            if (!cs->maps || !cf) return VA_ENOMEM;
            va_sr_field kf = {0};
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
            const va_sr_map *sm = &s->maps[m];
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

static ientry *slot_for(const va_se *e, const char *ch, size_t n, int64_t id) {
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

static va_err index_key(va_se *e, const char *ch, int64_t id, uint32_t rule) {
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

static va_err build_index(va_se *e) {
    uint32_t keys = 0;
    for (uint32_t i = 0; i < e->n; i++)
        for (uint32_t k = 0; k < e->r[i].nroutes; k++) {
            const va_sl_route *r = &e->r[i].routes[k];
            keys += r->nchannels * (r->nevent_ids ? r->nevent_ids : 1);
        }
    uint32_t cap = 64;
    while (cap < 2 * keys + 2) cap *= 2;
    if (!(e->idx = calloc(cap, sizeof *e->idx))) return VA_ENOMEM;
    e->idx_cap = cap;
    for (uint32_t i = 0; i < e->n; i++) {
        for (uint32_t k = 0; k < e->r[i].nroutes; k++) {
            const va_sl_route *r = &e->r[i].routes[k];
            if (r->etw_provider) continue; /* never matches an event log record */
            if (!r->nchannels) {
                if (entry_add(&e->any, i)) return VA_ENOMEM;
                continue;
            }
            for (uint32_t c = 0; c < r->nchannels; c++) {
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

va_err va_se_new(const va_sr_set *set, const va_se_opts *o, va_diag_fn diag, void *ud, va_se **out,
                 va_se_stats *st) {
    va_se_stats dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    *out = NULL;
    va_se *e = calloc(1, sizeof *e);
    if (!e) return VA_ENOMEM;
    va_arena_init(&e->arena, 256 * 1024);
    e->r = calloc(set->n ? set->n : 1, sizeof *e->r);
    if (!e->r) {
        free(e);
        return VA_ENOMEM;
    }
    for (const va_sr_rule *r = set->head; r; r = r->next) {
        if (r->kind != VA_SR_KIND_DETECTION) {
            st->unsupported++;
            report(diag, ud, r, VA_EUNSUPPORTED, "%s rule not evaluated yet (%s)",
                   r->kind == VA_SR_KIND_FILTER ? "filter" : "correlation", r->title);
            continue;
        }
        crule *c = &e->r[e->n];
        const char *why = NULL, *what = NULL, *unknown = NULL;
        uint32_t nroutes = 0;
        va_sl_route *routes =
            va_sl_routes(o->logsources, &e->arena, r->logsource.product, r->logsource.category,
                         r->logsource.service, &nroutes, &unknown);
        if (!nroutes) {
            st->unmapped++;
            report(diag, ud, r, VA_EUNSUPPORTED, "logsource '%s' is not in the mapping (%s)",
                   unknown ? unknown : "?", r->title);
            continue;
        }
        va_err err = compile_rule(e, o, r, c, &why, &what);
        if (err == VA_ENOMEM) {
            va_se_free(e);
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
        e->n++;
        st->rules++;
    }
    if (build_index(e) != VA_OK) {
        va_se_free(e);
        return VA_ENOMEM;
    }
    *out = e;
    return VA_OK;
}

static void free_field_matchers(va_se *e) {
    for (uint32_t i = 0; i < e->n; i++)
        for (uint32_t s = 0; s < e->r[i].ns; s++)
            for (uint32_t m = 0; m < e->r[i].s[s].nmaps; m++)
                for (uint32_t f = 0; f < e->r[i].s[s].maps[m].n; f++)
                    va_sv_free(e->r[i].s[s].maps[m].f[f].m);
}

void va_se_free(va_se *e) {
    if (!e) return;
    free_field_matchers(e);
    for (uint32_t i = 0; i < e->idx_cap; i++) free(e->idx[i].rules);
    free(e->idx);
    free(e->any.rules);
    free(e->r);
    va_arena_free(&e->arena);
    free(e);
}

va_se_scratch *va_se_scratch_new(void) {
    va_se_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (!(s->sv = va_sv_scratch_new())) {
        free(s);
        return NULL;
    }
    va_buf_init(&s->fold);
    return s;
}

void va_se_scratch_free(va_se_scratch *s) {
    if (!s) return;
    va_sv_scratch_free(s->sv);
    va_buf_free(&s->fold);
    free(s->memo);
    free(s->fold_off);
    free(s->fold_len);
    free(s);
}

typedef struct evalctx {
    const crule *c;
    const va_sl_route *route;
    va_se_scratch *s;
    const va_event *ev;
} evalctx;

/* The event field a rule's field name reads on this route (renames from the mapping). */
static void route_name(const va_sl_route *r, const cfield *f, const char **name, uint32_t *len) {
    for (uint32_t i = 0; r && i < r->nfields; i++) {
        if (strlen(r->from[i]) == f->nlen && !memcmp(r->from[i], f->name, f->nlen)) {
            *name = r->to[i], *len = (uint32_t)strlen(r->to[i]);
            return;
        }
    }
    *name = f->name, *len = f->nlen;
}

static void subject(evalctx *x, uint32_t i, int fold, va_sv_subj *sj) {
    const va_field *f = &x->ev->f[i];
    sj->s = f->val, sj->n = f->vlen, sj->type = (va_vtype)f->type;
    sj->fold = NULL, sj->fold_n = 0;
    if (!fold) return;
    va_se_scratch *s = x->s;
    if (!s->fold_off[i]) {
        size_t off = s->fold.len;
        va_sv_fold(f->val, f->vlen, &s->fold);
        s->fold_off[i] = off + 1;
        s->fold_len[i] = (uint32_t)(s->fold.len - off);
    }
    if (!s->fold.oom) {
        sj->fold = s->fold.p + s->fold_off[i] - 1;
        sj->fold_n = s->fold_len[i];
    }
}

static int field_eq(const va_field *f, const char *name, uint32_t len) {
    return f->nlen == len && !memcmp(f->name, name, len);
}

static int match_field(evalctx *x, const cfield *cf) {
    const va_event *ev = x->ev;
    int fold = (cf->flags & VA_SV_F_NEEDFOLD) != 0;
    va_sv_subj sj;
    if (!cf->nlen) { /* keyword: any field value */
        for (uint32_t i = 0; i < ev->n; i++) {
            subject(x, i, fold, &sj);
            if (va_sv_match(cf->m, x->s->sv, &sj)) return 1;
        }
        return 0;
    }
    const char *name;
    uint32_t len;
    route_name(x->route, cf, &name, &len);
    uint32_t first = UINT32_MAX, count = 0;
    for (uint32_t i = 0; i < ev->n; i++)
        if (field_eq(&ev->f[i], name, len)) {
            if (first == UINT32_MAX) first = i;
            count++;
        }
    if (!count) return va_sv_absent(cf->m);
    if (cf->flags & VA_SV_F_FIELDREF) {
        int all = (cf->flags & VA_SV_F_ALL) != 0, r = all;
        for (size_t v = 0; v < va_sv_nvalues(cf->m); v++) {
            size_t rl;
            const char *rn = va_sv_ref_name(cf->m, v, &rl);
            int hit = 0;
            for (uint32_t j = 0; j < ev->n && !hit; j++) {
                if (ev->f[j].nlen != rl || memcmp(ev->f[j].name, rn, rl)) continue;
                va_sv_subj other;
                subject(x, j, fold, &other);
                subject(x, first, fold, &sj);
                hit = va_sv_match_ref(cf->m, v, x->s->sv, &sj, &other);
            }
            if (all && !hit) r = 0;
            if (!all && hit) r = 1;
        }
        return (cf->flags & VA_SV_F_NEQ) ? !r : r;
    }
    if ((cf->flags & VA_SV_F_ALL) && count > 1) {
        /* `all` over a repeated field: every value must match some instance. */
        int r = 1;
        for (size_t v = 0; v < va_sv_nvalues(cf->m) && r; v++) {
            int hit = 0;
            for (uint32_t i = first; i < ev->n && !hit; i++) {
                if (!field_eq(&ev->f[i], name, len)) continue;
                subject(x, i, fold, &sj);
                hit = va_sv_match_value(cf->m, v, x->s->sv, &sj);
            }
            r = hit;
        }
        return (cf->flags & VA_SV_F_NEQ) ? !r : r;
    }
    for (uint32_t i = first; i < ev->n; i++) {
        if (!field_eq(&ev->f[i], name, len)) continue;
        subject(x, i, fold, &sj);
        if (va_sv_match(cf->m, x->s->sv, &sj)) return 1;
    }
    return 0;
}

static int search_cb(void *ud, uint32_t idx) {
    evalctx *x = ud;
    if (idx >= x->c->ns) return 0;
    uint8_t *memo = &x->s->memo[idx];
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

static int grow(va_se_scratch *s, uint32_t nsearch, uint32_t nfields) {
    if (nsearch > s->memo_cap) {
        uint8_t *m = realloc(s->memo, nsearch);
        if (!m) return -1;
        s->memo = m, s->memo_cap = nsearch;
    }
    if (nfields > s->fold_cap) {
        size_t *o = realloc(s->fold_off, nfields * sizeof *o);
        if (!o) return -1;
        s->fold_off = o;
        uint32_t *l = realloc(s->fold_len, nfields * sizeof *l);
        if (!l) return -1;
        s->fold_len = l, s->fold_cap = nfields;
    }
    return 0;
}

/* One rule against the event: its first admitting route, then its condition. */
static int match_rule(const crule *c, va_se_scratch *s, const va_event *ev, const char *ch,
                      size_t chl) {
    const va_sl_route *route = NULL;
    for (uint32_t k = 0; k < c->nroutes && !route; k++)
        if (va_sl_route_matches(&c->routes[k], ch, chl, ev->event_id)) route = &c->routes[k];
    if (!route) return 0;
    if (grow(s, c->ns ? c->ns : 1, 0)) return 0;
    memset(s->memo, 0, c->ns ? c->ns : 1);
    evalctx x = {c, route, s, ev};
    const va_sr_detection *d = &c->rule->detection;
    for (uint32_t k = 0; k < d->nconds; k++) /* a list of conditions is an OR */
        if (va_sc_eval(d->conds[k].ast, search_cb, &x)) return 1;
    return 0;
}

uint32_t va_se_match(const va_se *e, va_se_scratch *s, const va_event *ev, va_se_hit_fn fn,
                     void *ud) {
    uint32_t hits = 0;
    const char *ch = ev->channel ? ev->channel->val : NULL;
    size_t chl = ev->channel ? ev->channel->vlen : 0;
    if (grow(s, 1, ev->n ? ev->n : 1)) return 0;
    va_buf_clear(&s->fold);
    memset(s->fold_off, 0, (ev->n ? ev->n : 1) * sizeof *s->fold_off);
    /* Candidates: up to three ascending lists of rule indices, merged so that rules run in
     * rule order and a rule listed twice runs once. */
    const ientry *lists[3] = {&e->any, NULL, NULL};
    if (ch && e->idx_cap) {
        const ientry *a = slot_for(e, ch, chl, ev->event_id), *b = slot_for(e, ch, chl, -1);
        lists[1] = a->channel ? a : NULL;
        lists[2] = b->channel ? b : NULL;
    }
    uint32_t pos[3] = {0, 0, 0};
    for (;;) {
        uint32_t best = UINT32_MAX;
        for (int l = 0; l < 3; l++)
            if (lists[l] && pos[l] < lists[l]->n && lists[l]->rules[pos[l]] < best)
                best = lists[l]->rules[pos[l]];
        if (best == UINT32_MAX) break;
        for (int l = 0; l < 3; l++)
            if (lists[l] && pos[l] < lists[l]->n && lists[l]->rules[pos[l]] == best) pos[l]++;
        const crule *c = &e->r[best];
        if (!match_rule(c, s, ev, ch, chl)) continue;
        hits++;
        if (fn && fn(ud, c->rule, ev)) break;
    }
    return hits;
}
