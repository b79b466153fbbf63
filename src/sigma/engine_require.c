/*
 * engine_require.c - what a compiled rule requires of an event (see engine_int.h).
 *
 * The prefilter: each rule is reduced to a set of literals of which at least one must occur
 * in an event's values for the rule to possibly match (derived through the condition: `and`
 * keeps its most selective side, `or` and `1 of` take the union, `not` gives no requirement).
 * Per event, all values are scanned once for all literals (prefilter.h), and only rules
 * without a requirement or with a literal present are evaluated.  The same algebra gives the
 * event IDs a detection demands, by which the index keys rules.  The reduction is
 * conservative, so alerts are the same with the prefilter on or off (tests run both).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/utf.h"
#include "sigma/engine_int.h"

/* ---- prefilter: rules reduced to required literals -------------------------------------- */

#define PF_MINLEN 3    /* shorter literals occur in almost every event: no use as a filter */
#define PF_MAXSET 8192 /* a requirement with more literals than this is not worth keeping */

/* A requirement: at least one of ids must occur.  none: the rule part needs nothing. */
typedef struct req {
    uint32_t *ids;
    uint32_t n;
    size_t cap;
    uint32_t minlen;
    int none;
} req;

/* The distinct literals of all rules (ASCII-lowercased), interned to ids in first-seen order
 * (the order fixes the prefilter's database and so its cache key). */
typedef struct litset {
    va_arena *a;
    const char **s;
    size_t *len;
    uint32_t n;
    size_t cap, lcap;
    va_hash lits;
    /* Requirements are (literal, field) pairs: the literal must occur in that field's value
     * (field NULL: in any value, for keywords). */
    uint32_t *plit;
    const char **pfield;
    uint32_t np;
    size_t pcap, pfcap;
    va_hash pairs;
    int oom;
    /* Fold classes of the non-ASCII characters met (va_value_fold_class scans its whole table
     * for each; literals repeat few characters), direct-mapped by code point. */
    struct fold_memo {
        uint32_t cp; /* 0: empty */
        uint32_t n;
        uint32_t cls[8];
    } fold[64];
} litset;

/* va_value_fold_class(cp, out, 8) through L's memo. */
static size_t fold_class(litset *L, uint32_t cp, uint32_t out[8]) {
    struct fold_memo *m = &L->fold[cp % 64];
    if (m->cp != cp || !cp) {
        m->n = (uint32_t)va_value_fold_class(cp, m->cls, 8);
        m->cp = cp;
    }
    memcpy(out, m->cls, sizeof m->cls);
    return m->n;
}

/* fhash: va_hash_mem of field (0 for NULL) */
static uint64_t pair_hash(uint32_t lit, uint64_t fhash) {
    return va_hash_u64(fhash, lit);
}

static uint32_t pair_intern(litset *L, uint32_t lit, const char *field, uint64_t fhash) {
    uint64_t h = pair_hash(lit, fhash);
    va_hash_iter it;
    for (uint32_t id = va_hash_first(&L->pairs, h, &it); id != VA_HASH_END;
         id = va_hash_next(&L->pairs, &it)) {
        const char *g = L->pfield[id];
        if (L->plit[id] == lit && (g == field || (g && field && !strcmp(g, field)))) return id;
    }
    if (VA_ARRAY_GROW(L->plit, L->pcap, L->np + 1) ||
        VA_ARRAY_GROW(L->pfield, L->pfcap, L->np + 1) || va_hash_insert(&L->pairs, h, L->np)) {
        L->oom = 1;
        return UINT32_MAX;
    }
    L->plit[L->np] = lit, L->pfield[L->np] = field;
    return L->np++;
}

/* Length of the literal of a requirement id (a pair id), 0 for event-ID sets (L NULL). */
static uint32_t req_len(const litset *L, uint32_t id) {
    return L ? (uint32_t)L->len[L->plit[id]] : 0;
}

static uint32_t lit_intern(litset *L, const char *s, size_t n) {
    uint64_t h = va_hash_mem_lower(s, n, 0);
    va_hash_iter it;
    for (uint32_t id = va_hash_first(&L->lits, h, &it); id != VA_HASH_END;
         id = va_hash_next(&L->lits, &it)) {
        if (L->len[id] != n) continue;
        size_t k = 0;
        while (k < n && L->s[id][k] == (char)ascii_lower((unsigned char)s[k])) k++;
        if (k == n) return id;
    }
    char *c = va_arena_strndup(L->a, s, n);
    if (!c || VA_ARRAY_GROW(L->s, L->cap, L->n + 1) || VA_ARRAY_GROW(L->len, L->lcap, L->n + 1) ||
        va_hash_insert(&L->lits, h, L->n)) {
        L->oom = 1;
        return UINT32_MAX;
    }
    for (size_t k = 0; k < n; k++) c[k] = (char)ascii_lower((unsigned char)c[k]);
    L->s[L->n] = c, L->len[L->n] = n;
    return L->n++;
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
    if (VA_ARRAY_GROW(r->ids, r->cap, r->n + 1)) return -1;
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

/* Is a literal rare enough in log text to wake rules by?  Three bytes or more; or a non-ASCII
 * character (Cyrillic homoglyphs, Unicode dashes and spaces); or a run of the characters that
 * command-line obfuscation uses and ordinary command lines do not (`^^`, `` ` ``). */
static int selective(const char *lit, size_t n) {
    if (n >= PF_MINLEN) return 1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)lit[i] >= 0x80) return 1;
    for (size_t i = 0; i < n; i++)
        if (!strchr(n == 1 ? "`^" : "`^$~{}|;%", lit[i]) || !lit[i]) return 0;
    return n > 0;
}

#define PF_VARIANTS 16 /* more raw forms of one literal than this: not worth scanning for */

/* The raw forms a subject may hold of folded literal lit[0..n): every non-ASCII character
 * replaced by each member of its fold class (ASCII case is the scan's own business).  Calls
 * fn(ud, form, len) for each; returns -1 when there would be more than PF_VARIANTS. */
static int variants(litset *L, const char *lit, size_t n, void (*fn)(void *, const char *, size_t),
                    void *ud) {
    uint32_t cls[16][8];
    size_t ncls[16], pos[16], clen[16], nk = 0, total = 1;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = (unsigned char)lit[i] < 0x80
                       ? 1
                       : va_utf8_next((const unsigned char *)lit + i, n - i, &cp);
        if (l > 1 || (unsigned char)lit[i] >= 0x80) {
            if (!l) l = 1;
            size_t c = fold_class(L, cp, cls[nk < 16 ? nk : 15]);
            if (c > 1) {
                if (nk == 16 || c > 8 || total * c > PF_VARIANTS) return -1;
                ncls[nk] = c, pos[nk] = i, clen[nk] = l, nk++, total *= c;
            }
        }
        i += l;
    }
    if (!nk) {
        fn(ud, lit, n);
        return 0;
    }
    for (size_t v = 0; v < total; v++) { /* variant v: digit j of v in base ncls[j] */
        char buf[512];
        size_t o = 0, at = 0, rest = v;
        for (size_t j = 0; j < nk; j++) {
            size_t pick = rest % ncls[j];
            rest /= ncls[j];
            if (o + (pos[j] - at) + 4 > sizeof buf) return -1;
            memcpy(buf + o, lit + at, pos[j] - at), o += pos[j] - at;
            o += va_utf8_enc(cls[j][pick], buf + o);
            at = pos[j] + clen[j];
        }
        if (o + (n - at) > sizeof buf) return -1;
        memcpy(buf + o, lit + at, n - at), o += n - at;
        fn(ud, buf, o);
    }
    return 0;
}

typedef struct addlit {
    litset *L;
    req *out;
    const char *field;
    uint64_t fhash; /* va_hash_mem of field */
    int failed;
} addlit;

static void add_variant(void *ud, const char *s, size_t n) {
    addlit *x = ud;
    if (x->failed) return;
    uint32_t id = lit_intern(x->L, s, n);
    if (id != UINT32_MAX) id = pair_intern(x->L, id, x->field, x->fhash);
    if (id == UINT32_MAX || req_add(x->out, id, (uint32_t)n)) x->failed = 1;
}

/* Literals one value of a field needs: one per alternative (or its raw forms), or none. */
static void req_value(const cfield *f, size_t v, litset *L, req *out) {
    memset(out, 0, sizeof *out);
    size_t na = va_value_nalts(f->m, v);
    if (!na) {
        out->none = 1;
        return;
    }
    for (size_t k = 0; k < na; k++) {
        const char *lit = NULL;
        size_t n = va_value_alt_literal_folded(f->m, v, k, 1, &lit);
        if (!n || !selective(lit, n)) {
            req_none(out);
            return;
        }
        /* A literal holding NUL could straddle the value separators of the scanned text: it
         * is not pinned to the field. */
        addlit x = {L, out, f->nlen && !memchr(lit, 0, n) ? f->name : NULL, 0, 0};
        if (x.field) x.fhash = va_hash_mem(x.field, strlen(x.field), 0);
        if (variants(L, lit, n, add_variant, &x) || x.failed) {
            req_none(out);
            return;
        }
    }
}

static void req_field(const cfield *f, litset *L, req *out) {
    memset(out, 0, sizeof *out);
    unsigned fl = f->flags;
    /* Presence tests, null, negation and field references need no literal of the event.  A
     * value that some route computes keeps its literals for the other routes; on the routes
     * that compute it the rule is always evaluated (crule.computing_routes). */
    if (fl & (VA_VALUE_F_NEQ | VA_VALUE_F_NULL | VA_VALUE_F_EXISTS | VA_VALUE_F_FIELDREF) ||
        va_value_absent(f->m) || !va_value_nvalues(f->m)) {
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

/* ---- conjunctive literal requirements ---------------------------------------------------- */

/* A rule's literal requirement in conjunctive form: every clause must be met, a clause by any
 * one of its (literal, field) pairs.  Two clauses rather than one let `Image|endswith: x and
 * CommandLine|contains: y` wait for both literals, so an event with only the common one of
 * them does not wake the rule.  n == 0: no requirement (the rule is always evaluated). */
#define PF_CLAUSES VA_ENGINE_CLAUSES

typedef struct cnf {
    req c[PF_CLAUSES];
    uint32_t n;
} cnf;

static void cnf_free(cnf *x) {
    for (uint32_t i = 0; i < x->n; i++) req_free(&x->c[i]);
    x->n = 0;
}

/* x = the one clause r (consumed); none or empty: no requirement. */
static void cnf_one(cnf *x, req *r) {
    x->n = 0;
    if (r->none || !r->n) {
        req_free(r);
        return;
    }
    x->c[0] = *r;
    x->n = 1;
}

/* x = x and y (y consumed): the most selective clauses of both. */
static void cnf_and(cnf *x, cnf *y) {
    req all[2 * PF_CLAUSES];
    uint32_t k = 0;
    for (uint32_t i = 0; i < x->n; i++) all[k++] = x->c[i];
    for (uint32_t i = 0; i < y->n; i++) all[k++] = y->c[i];
    for (uint32_t i = 0; i < k; i++) /* at most four: a selection sort */
        for (uint32_t j = i + 1; j < k; j++)
            if (req_better(&all[j], &all[i])) {
                req t = all[i];
                all[i] = all[j], all[j] = t;
            }
    x->n = k < PF_CLAUSES ? k : PF_CLAUSES;
    for (uint32_t i = 0; i < x->n; i++) x->c[i] = all[i];
    for (uint32_t i = x->n; i < k; i++) req_free(&all[i]);
    y->n = 0;
}

static void req_copy(req *dst, const req *src, const litset *L);
static void req_or_copy(req *out, const req *src, const litset *L);

/* x = x or y (y consumed).  (X1 and X2) or (Y1 and Y2) implies (X1 or Y1) and (X2 or Y2), so
 * clause j of the result joins clause j of each side (its last, if it has fewer). */
static void cnf_or(cnf *x, cnf *y, const litset *L) {
    if (!x->n || !y->n) {
        cnf_free(x);
        cnf_free(y);
        return;
    }
    cnf r = {.n = 0};
    uint32_t n = x->n > y->n ? x->n : y->n;
    for (uint32_t j = 0; j < n; j++) {
        req c;
        req_copy(&c, &x->c[j < x->n ? j : x->n - 1], L);
        req_or_copy(&c, &y->c[j < y->n ? j : y->n - 1], L);
        if (c.none || !c.n)
            req_free(&c); /* too wide to be a filter: this clause says nothing */
        else
            r.c[r.n++] = c;
    }
    cnf_free(x);
    cnf_free(y);
    *x = r;
}

/* x = a copy of y. */
static void cnf_copy(cnf *x, const cnf *y, const litset *L) {
    x->n = 0;
    for (uint32_t i = 0; i < y->n; i++) {
        req_copy(&x->c[x->n], &y->c[i], L);
        if (x->c[x->n].none)
            req_free(&x->c[x->n]);
        else
            x->n++;
    }
}

static void req_search(const csearch *cs, litset *L, cnf *out) {
    out->n = 0;
    for (uint32_t m = 0; m < cs->nmaps; m++) {
        cnf map = {.n = 0}; /* and over the map's fields */
        for (uint32_t k = 0; k < cs->maps[m].n; k++) {
            req r;
            req_field(&cs->maps[m].f[k], L, &r);
            cnf f;
            cnf_one(&f, &r);
            cnf_and(&map, &f);
        }
        if (!map.n) { /* a map with no literal: the search needs none */
            cnf_free(out);
            return;
        }
        if (m == 0)
            *out = map;
        else
            cnf_or(out, &map, L);
        if (!out->n) return;
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

static void req_copy(req *dst, const req *src, const litset *L) {
    memset(dst, 0, sizeof *dst);
    req_or_copy(dst, src, L);
}

/* The literal requirement of condition node nd, from the searches' requirements sreq. */
static void lit_node(const crule *c, const va_cond_node *nd, const cnf *sreq, const litset *L,
                     cnf *out) {
    out->n = 0;
    switch (nd->kind) {
    case VA_COND_ID:
        if (nd->nids && nd->ids[0] < c->ns) cnf_copy(out, &sreq[nd->ids[0]], L);
        return;
    case VA_COND_AND:
    case VA_COND_OR:
        for (uint32_t i = 0; i < nd->nkids; i++) {
            cnf r;
            lit_node(c, nd->kids[i], sreq, L, &r);
            if (nd->kind == VA_COND_AND) {
                cnf_and(out, &r);
            } else if (i == 0) {
                *out = r;
            } else {
                cnf_or(out, &r, L);
                if (!out->n) return;
            }
        }
        return;
    case VA_COND_OF:
        for (uint32_t i = 0; i < nd->nids; i++) {
            cnf r = {.n = 0};
            if (nd->ids[i] < c->ns) cnf_copy(&r, &sreq[nd->ids[i]], L);
            if (nd->count == 0) { /* all of: every one's literals are needed */
                cnf_and(out, &r);
            } else if (i == 0) { /* N of: at least one of them must match */
                *out = r;
            } else {
                cnf_or(out, &r, L);
                if (!out->n) return;
            }
        }
        return;
    default: /* not: no requirement */
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
va_err va_engine_rule_eids(va_engine *e, crule *c) {
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

/* Order of a literal's rules: by pin group (see pin_names), then clause and rule. */
static int litrule_cmp(const void *a, const void *b) {
    const litrule *x = a, *y = b;
    if (x->names != y->names) return (uintptr_t)x->names < (uintptr_t)y->names ? -1 : 1;
    if (x->clause != y->clause) return x->clause < y->clause ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* The names a literal pinned to rule field `field` of c may be found in: the field itself and
 * its renames on c's routes (NULL field: anywhere, no names).  Each name joins e's pins. */
static va_err pin_names(va_engine *e, const crule *c, const char *field, litrule *x) {
    x->nnames = 0, x->names = NULL;
    if (!field) return VA_OK;
    const char *cand[1 + 16];
    uint32_t nc = 0;
    cand[nc++] = field;
    for (uint32_t r = 0; r < c->nroutes && nc < 1 + 16; r++) {
        const char *to = route_rename(&c->routes[r], field, strlen(field));
        int dup = 0;
        for (uint32_t k = 0; to && k < nc; k++) dup |= !strcmp(cand[k], to);
        if (to && !dup) cand[nc++] = to;
    }
    /* Name lists are shared: literals' rules that read the same names form one group, whose
     * names the scan compares once per occurrence (literal_at). */
    uint64_t key = nc;
    for (uint32_t k = 0; k < nc; k++) key = va_hash_mem(cand[k], strlen(cand[k]), key);
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&e->nameset_hash, key, &it); i != VA_HASH_END;
         i = va_hash_next(&e->nameset_hash, &it)) {
        const fname *v = e->namesets[i];
        uint32_t k = 0;
        while (k < nc && v[k].len == strlen(cand[k]) && !memcmp(v[k].s, cand[k], v[k].len)) k++;
        if (k == nc && e->nameset_n[i] == nc) {
            x->names = v, x->nnames = nc;
            return VA_OK;
        }
    }
    fname *v = va_arena_alloc(&e->arena, nc * sizeof *v);
    if (!v || VA_ARRAY_GROW(e->namesets, e->namesets_cap, e->nnamesets + 1) ||
        VA_ARRAY_GROW(e->nameset_n, e->nameset_n_cap, e->nnamesets + 1) ||
        va_hash_insert(&e->nameset_hash, key, (uint32_t)e->nnamesets))
        return VA_ENOMEM;
    e->namesets[e->nnamesets] = v, e->nameset_n[e->nnamesets++] = nc;
    for (uint32_t k = 0; k < nc; k++) {
        v[k].s = cand[k], v[k].len = (uint32_t)strlen(cand[k]);
        v[k].hash = va_hash_mem(v[k].s, v[k].len, 0);
        if (va_engine_is_pinned(e, v[k].hash, v[k].s, v[k].len)) continue;
        if (VA_ARRAY_GROW(e->pins, e->pins_cap, e->npins + 1) ||
            va_hash_insert(&e->pin_hash, v[k].hash, (uint32_t)e->npins))
            return VA_ENOMEM;
        e->pins[e->npins++] = v[k];
    }
    x->names = v, x->nnames = nc;
    return VA_OK;
}

int va_engine_is_pinned(const va_engine *e, uint64_t hash, const char *name, uint32_t len) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&e->pin_hash, hash, &it); i != VA_HASH_END;
         i = va_hash_next(&e->pin_hash, &it))
        if (e->pins[i].len == len && !memcmp(e->pins[i].s, name, len)) return 1;
    return 0;
}

/* Literals pinned to a pin at least this often give the pin a scan group of its own. */
#define PF_GROUP_MIN 500

static uint32_t pin_index(const va_engine *e, uint64_t hash, const char *name, uint32_t len) {
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&e->pin_hash, hash, &it); i != VA_HASH_END;
         i = va_hash_next(&e->pin_hash, &it))
        if (e->pins[i].len == len && !memcmp(e->pins[i].s, name, len)) return i;
    return UINT32_MAX;
}

uint32_t va_engine_scan_group(const va_engine *e, uint64_t hash, const char *name, uint32_t len) {
    uint32_t i = pin_index(e, hash, name, len);
    return i == UINT32_MAX ? 0 : e->pins[i].group;
}

/* One scan group's database, built or read from the cache by one of the build's threads. */
typedef struct group_job {
    const char **lits;
    size_t *lens;
    uint32_t n;
    va_prefilter *db;
    va_err err;
    const char *why;
} group_job;

typedef struct group_pool {
    group_job *jobs;
    const uint32_t *order; /* jobs, largest first: the largest is most of the time */
    uint32_t njobs;
    _Atomic uint32_t next;
    va_prefilter_backend backend;
    const char *cache_dir;
} group_pool;

static void *run_group_jobs(void *arg) {
    group_pool *p = arg;
    for (uint32_t k; (k = atomic_fetch_add(&p->next, 1)) < p->njobs;) {
        group_job *j = &p->jobs[p->order[k]];
        j->err =
            va_prefilter_new(j->lits, j->lens, j->n, p->backend, p->cache_dir, &j->db, &j->why);
    }
    return NULL;
}

/* Build the databases of jobs[0..n) on up to `threads` threads (the caller one of them). */
static void build_databases(group_job *jobs, uint32_t n, int threads, const va_engine_opts *o) {
    uint32_t order[VA_ENGINE_GROUPS], m = 0;
    for (uint32_t g = 0; g < n; g++)
        if (jobs[g].n) order[m++] = g;
    for (uint32_t i = 1; i < m; i++) /* insertion sort, largest first */
        for (uint32_t k = i; k > 0 && jobs[order[k]].n > jobs[order[k - 1]].n; k--) {
            uint32_t t = order[k];
            order[k] = order[k - 1], order[k - 1] = t;
        }
    group_pool p = {jobs, order, m, 0, (va_prefilter_backend)o->prefilter_backend, o->cache_dir};
    pthread_t tid[VA_ENGINE_GROUPS];
    int started = 0;
    if (threads > (int)m) threads = (int)m;
    while (started + 1 < threads && !pthread_create(&tid[started], NULL, run_group_jobs, &p))
        started++;
    run_group_jobs(&p);
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
}

/* Split the literals some rule waits for into scan groups and compile a database for each
 * (only those: a literal of an `and` side that lost to a more selective one would only cost
 * matches).  The databases are built (or read from the cache) on o->threads threads; the
 * engine and its reports do not depend on how many. */
static va_err build_groups(va_engine *e, const litset *L, const uint8_t *anywhere,
                           const va_engine_opts *o, const char **why) {
    /* Distinct literals pinned to each pin. */
    uint32_t *cnt = calloc(e->npins ? e->npins : 1, sizeof *cnt);
    uint32_t *last = calloc(e->npins ? e->npins : 1, sizeof *last);
    group_job jobs[VA_ENGINE_GROUPS];
    memset(jobs, 0, sizeof jobs);
    uint8_t *gmask = NULL;
    va_err err = VA_OK;
    if (!cnt || !last) {
        err = VA_ENOMEM;
        goto done;
    }
    e->nused = 0;
    for (uint32_t l = 0; l < L->n; l++) {
        if (e->lit_off[l + 1] == e->lit_off[l]) continue;
        e->nused++;
        for (uint32_t k = e->lit_off[l]; k < e->lit_off[l + 1]; k++)
            for (uint32_t j = 0; j < e->lit_rules[k].nnames; j++) {
                const fname *n = &e->lit_rules[k].names[j];
                uint32_t p = pin_index(e, n->hash, n->s, n->len);
                if (p != UINT32_MAX && last[p] != l + 1) last[p] = l + 1, cnt[p]++;
            }
    }
    uint32_t ng = 2; /* 0: unpinned fields, 1: the pinned fields without a group of their own */
    for (size_t p = 0; p < e->npins; p++)
        e->pins[p].group = cnt[p] >= PF_GROUP_MIN && ng < VA_ENGINE_GROUPS ? ng++ : 1;
    e->ngroups = ng;
    /* The groups each literal belongs to: those needed anywhere go everywhere, the others
     * where one of their rules' names is (one pass; bit g of gmask[l]). */
    gmask = calloc(L->n ? L->n : 1, 1);
    if (!gmask) {
        err = VA_ENOMEM;
        goto done;
    }
    for (uint32_t l = 0; l < L->n; l++) {
        if (anywhere[l]) gmask[l] = 0xff;
        for (uint32_t k = e->lit_off[l]; k < e->lit_off[l + 1]; k++) {
            const litrule *x = &e->lit_rules[k];
            if (k > e->lit_off[l] && x->names == e->lit_rules[k - 1].names) continue; /* same */
            for (uint32_t j = 0; j < x->nnames; j++) {
                uint32_t p = pin_index(e, x->names[j].hash, x->names[j].s, x->names[j].len);
                if (p != UINT32_MAX) gmask[l] |= (uint8_t)(1u << e->pins[p].group);
            }
        }
    }
    e->pf_cached = 1;
    for (uint32_t g = 0; g < ng && !err; g++) {
        struct scan_group *sg = &e->grp[g];
        uint32_t cnt_g = 0;
        for (uint32_t l = 0; l < L->n; l++)
            cnt_g += e->lit_off[l + 1] > e->lit_off[l] && (gmask[l] >> g & 1);
        group_job *j = &jobs[g];
        size_t room = cnt_g ? cnt_g : 1;
        if (!(sg->ids = malloc(room * sizeof *sg->ids)) ||
            !(j->lits = malloc(room * sizeof *j->lits)) ||
            !(j->lens = malloc(room * sizeof *j->lens))) {
            err = VA_ENOMEM;
            break;
        }
        sg->n = 0;
        for (uint32_t l = 0; l < L->n; l++)
            if (e->lit_off[l + 1] > e->lit_off[l] && (gmask[l] >> g & 1))
                j->lits[sg->n] = L->s[l], j->lens[sg->n] = L->len[l], sg->ids[sg->n++] = l;
        j->n = sg->n;
    }
    if (!err) build_databases(jobs, ng, o->threads, o);
    for (uint32_t g = 0; g < ng; g++) {
        group_job *j = &jobs[g];
        e->grp[g].db = j->db;                            /* freed with the engine, built or not */
        if (!err && j->err) err = j->err, *why = j->why; /* the first group's, as one by one */
        if (j->db && !va_prefilter_from_cache(j->db)) e->pf_cached = 0;
        free(j->lits), free(j->lens);
    }
done:
    free(gmask);
    free(cnt);
    free(last);
    return err;
}

va_err va_engine_build_prefilter(va_engine *e, const va_engine_opts *o, const char **why) {
    litset L = {0};
    L.a = &e->arena;
    cnf *rr = calloc(e->n ? e->n : 1, sizeof *rr);
    e->always = calloc(e->n ? e->n : 1, 1);
    if (!rr || !e->always) {
        free(rr);
        return VA_ENOMEM;
    }
    va_err err = VA_OK;
    for (uint32_t i = 0; i < e->n && !L.oom; i++) {
        const crule *c = &e->r[i];
        cnf *sreq = calloc(c->ns ? c->ns : 1, sizeof *sreq);
        if (!sreq) {
            L.oom = 1;
            break;
        }
        for (uint32_t s = 0; s < c->ns; s++) req_search(&c->s[s], &L, &sreq[s]);
        const va_rule_detection *d = c->det;
        for (uint32_t k = 0; k < d->nconds; k++) { /* a list of conditions is an or */
            cnf r;
            lit_node(c, d->conds[k].ast, sreq, &L, &r);
            if (k == 0) {
                rr[i] = r;
            } else {
                cnf_or(&rr[i], &r, &L);
                if (!rr[i].n) break;
            }
        }
        for (uint32_t s = 0; s < c->ns; s++) cnf_free(&sreq[s]);
        free(sreq);
        e->always[i] = !rr[i].n;
    }
    if (L.oom) {
        err = VA_ENOMEM;
        goto out;
    }
    if (!(e->always_bits = va_arena_alloc(&e->arena, e->nwords * sizeof *e->always_bits))) {
        err = VA_ENOMEM;
        goto out;
    }
    memset(e->always_bits, 0, e->nwords * sizeof *e->always_bits);
    for (uint32_t j = 0; j < PF_CLAUSES; j++) {
        if (!(e->lacks[j] = va_arena_alloc(&e->arena, e->nwords * sizeof *e->lacks[j]))) {
            err = VA_ENOMEM;
            goto out;
        }
        memset(e->lacks[j], 0, e->nwords * sizeof *e->lacks[j]);
    }
    for (uint32_t i = 0; i < e->n; i++) {
        if (e->always[i]) e->always_bits[i / 64] |= 1ull << (i % 64);
        for (uint32_t j = rr[i].n; j < PF_CLAUSES; j++) e->lacks[j][i / 64] |= 1ull << (i % 64);
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
        for (uint32_t j = 0; j < rr[i].n; j++)
            for (uint32_t k = 0; k < rr[i].c[j].n; k++)
                e->lit_off[L.plit[rr[i].c[j].ids[k]] + 1]++, total++;
    for (uint32_t l = 0; l < L.n; l++) e->lit_off[l + 1] += e->lit_off[l];
    e->lit_rules = malloc((total ? total : 1) * sizeof *e->lit_rules);
    uint32_t *fill = calloc(L.n ? L.n : 1, sizeof *fill);
    if (!e->lit_rules || !fill) {
        free(fill);
        err = VA_ENOMEM;
        goto out;
    }
    uint8_t *anywhere = calloc(L.n ? L.n : 1, 1); /* literal needed in any field */
    if (!anywhere) {
        free(fill);
        err = VA_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < e->n && !err; i++) {
        const char *last_pf = NULL; /* the rule's routes that compute it, last_waive */
        uint64_t last_waive = 0;
        for (uint32_t j = 0; j < rr[i].n && !err; j++)
            for (uint32_t k = 0; k < rr[i].c[j].n && !err; k++) {
                uint32_t pid = rr[i].c[j].ids[k], l = L.plit[pid];
                litrule *x = &e->lit_rules[e->lit_off[l] + fill[l]++];
                x->rule = i;
                x->clause = j;
                /* A route that computes the pinned field cannot be prefiltered on this clause.
                 * The literals of one field come together: its routes are looked at once. */
                const char *pf = L.pfield[pid];
                if (pf && pf != last_pf) {
                    last_waive = 0;
                    for (uint32_t r = 0; r < e->r[i].nroutes; r++) {
                        const va_logsource_field *lf =
                            route_field(&e->r[i].routes[r], pf, strlen(pf));
                        if (lf && lf->conv != VA_LOGSOURCE_RENAME)
                            last_waive |= 1ull << (r < 63 ? r : 63);
                    }
                    last_pf = pf;
                }
                if (pf) e->r[i].waive_routes[j] |= last_waive;
                if ((err = pin_names(e, &e->r[i], L.pfield[pid], x))) break;
                if (!x->nnames) anywhere[l] = 1;
            }
    }
    free(fill);
    if (err) {
        free(anywhere);
        goto out;
    }
    /* Each literal's rules grouped by the names they are pinned to. */
    for (uint32_t l = 0; l < L.n; l++)
        if (e->lit_off[l + 1] - e->lit_off[l] > 1)
            qsort(&e->lit_rules[e->lit_off[l]], e->lit_off[l + 1] - e->lit_off[l],
                  sizeof *e->lit_rules, litrule_cmp);
    err = build_groups(e, &L, anywhere, o, why);
    free(anywhere);
out:
    for (uint32_t i = 0; i < e->n; i++) cnf_free(&rr[i]);
    free(rr);
    free(L.s);
    free(L.len);
    va_hash_free(&L.lits);
    free(L.plit);
    free(L.pfield);
    va_hash_free(&L.pairs);
    return err;
}
