/*
 * correlate_metric.c - numbers, sums and ranks for the metric correlations (see
 * correlate_metric.h).
 *
 * The multiset is a treap (a binary search tree on (value, id) that is also a heap on a
 * priority derived from id), split and merged by key, with subtree sizes for ranks.  Nodes are
 * numbered from 1 in one growing array (0 is "none"), freed ones chained through their left
 * link, so a window that slides for hours reuses the same memory.
 */
#include "sigma/correlate_metric.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/hash.h"

/* ---- numbers ----------------------------------------------------------------------------- */

static int blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int digit(char c) {
    return c >= '0' && c <= '9';
}

static int hexval(char c) {
    if (digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int va_correlate_num_parse(const char *s, size_t n, va_correlate_num *out) {
    while (n && blank(s[0])) s++, n--;
    while (n && blank(s[n - 1])) n--;
    if (!n) return -1;
    size_t i = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        uint64_t u = 0;
        for (i = 2; i < n; i++) {
            int h = hexval(s[i]);
            if (h < 0) return -1;
            if (u > UINT64_MAX >> 4) return -1; /* beyond 64 bits is not a hex value EVTX writes */
            u = u << 4 | (uint64_t)h;
        }
        out->isint = u <= INT64_MAX;
        out->i = out->isint ? (int64_t)u : 0;
        out->f = (double)u;
        return 0;
    }
    int neg = s[0] == '-';
    if (s[0] == '-' || s[0] == '+') i++;
    size_t d0 = i;
    while (i < n && digit(s[i])) i++;
    size_t nint = i - d0, nfrac = 0;
    int real = 0;
    if (i < n && s[i] == '.') {
        real = 1;
        size_t f0 = ++i;
        while (i < n && digit(s[i])) i++;
        nfrac = i - f0;
    }
    if (!nint && !nfrac) return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        real = 1;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        size_t e0 = i;
        while (i < n && digit(s[i])) i++;
        if (i == e0) return -1;
    }
    if (i != n) return -1;
    if (!real) {
        uint64_t u = 0;
        int fits = 1;
        for (size_t k = d0; k < n && fits; k++) {
            unsigned dv = (unsigned)(s[k] - '0');
            if (u > (UINT64_MAX - dv) / 10)
                fits = 0;
            else
                u = u * 10 + dv;
        }
        if (fits && (neg ? u <= (uint64_t)INT64_MAX + 1 : u <= INT64_MAX)) {
            out->isint = 1;
            out->i = neg ? (int64_t)(0 - u) : (int64_t)u;
            out->f = (double)out->i;
            return 0;
        }
    }
    /* strtod needs a terminated string; a number longer than this is not a real field value. */
    char buf[128];
    if (n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    double v = strtod(buf, NULL);
    if (!isfinite(v)) return -1;
    out->isint = 0, out->i = 0, out->f = v;
    return 0;
}

void va_correlate_num_fmt(double v, char buf[32]) {
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, 32, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* ---- sums -------------------------------------------------------------------------------- */

/* Neumaier: the low-order bits lost by each addition are kept in comp. */
static void kahan(va_correlate_sum *s, double x) {
    double t = s->f + x;
    if (fabs(s->f) >= fabs(x))
        s->comp += (s->f - t) + x;
    else
        s->comp += (x - t) + s->f;
    s->f = t;
}

void va_correlate_sum_add(va_correlate_sum *s, const va_correlate_num *v) {
    if (v->isint)
        s->i += v->i;
    else
        kahan(s, v->f);
    s->n++;
}

void va_correlate_sum_remove(va_correlate_sum *s, const va_correlate_num *v) {
    if (v->isint)
        s->i -= v->i;
    else
        kahan(s, -v->f);
    s->n--;
    if (!s->n) s->i = 0, s->f = s->comp = 0; /* empty: exactly zero again */
}

double va_correlate_sum_value(const va_correlate_sum *s) {
    return (double)s->i + (s->f + s->comp);
}

/* ---- the multiset ------------------------------------------------------------------------ */

struct va_correlate_ost_node {
    double v;
    uint64_t id;
    uint32_t l, r, size, prio;
};

static int key_less(double a, uint64_t ai, double b, uint64_t bi) {
    return a < b || (a == b && ai < bi);
}

static uint32_t sz(const va_correlate_ost_node *N, uint32_t t) {
    return t ? N[t].size : 0;
}

static void upd(va_correlate_ost_node *N, uint32_t t) {
    N[t].size = 1 + sz(N, N[t].l) + sz(N, N[t].r);
}

/* Split t into the pairs below (v, id) and the rest. */
static void split(va_correlate_ost_node *N, uint32_t t, double v, uint64_t id, uint32_t *l,
                  uint32_t *r) {
    if (!t) {
        *l = *r = 0;
        return;
    }
    if (key_less(N[t].v, N[t].id, v, id)) {
        split(N, N[t].r, v, id, &N[t].r, r);
        *l = t;
    } else {
        split(N, N[t].l, v, id, l, &N[t].l);
        *r = t;
    }
    upd(N, t);
}

/* Every key of a is below every key of b. */
static uint32_t merge(va_correlate_ost_node *N, uint32_t a, uint32_t b) {
    if (!a || !b) return a ? a : b;
    if (N[a].prio > N[b].prio) {
        N[a].r = merge(N, N[a].r, b);
        upd(N, a);
        return a;
    }
    N[b].l = merge(N, a, N[b].l);
    upd(N, b);
    return b;
}

int va_correlate_ost_insert(va_correlate_ost *t, double v, uint64_t id) {
    uint32_t n = t->free_head;
    if (n) {
        t->free_head = t->node[n].l;
    } else {
        if (t->used >= UINT32_MAX - 1 || VA_ARRAY_GROW(t->node, t->cap, (size_t)t->used + 2))
            return -1;
        n = ++t->used; /* node 0 is "none" */
    }
    va_correlate_ost_node *N = t->node;
    N[n] = (va_correlate_ost_node){v, id, 0, 0, 1, (uint32_t)va_hash_u64(0x7ea9, id)};
    uint32_t l, r;
    split(N, t->root, v, id, &l, &r);
    t->root = merge(N, merge(N, l, n), r);
    return 0;
}

void va_correlate_ost_erase(va_correlate_ost *t, double v, uint64_t id) {
    va_correlate_ost_node *N = t->node;
    uint32_t l, m, r;
    split(N, t->root, v, id, &l, &r);
    split(N, r, v, id + 1, &m, &r); /* m: the pair itself (ids are unique) */
    t->root = merge(N, l, r);
    if (m) {
        N[m].l = t->free_head;
        t->free_head = m;
    }
}

uint64_t va_correlate_ost_size(const va_correlate_ost *t) {
    return sz(t->node, t->root);
}

void va_correlate_ost_rank(const va_correlate_ost *t, double v, uint64_t *below, uint64_t *equal) {
    const va_correlate_ost_node *N = t->node;
    uint64_t lt = 0, le = 0;
    for (uint32_t x = t->root; x;) {
        if (N[x].v < v)
            lt += sz(N, N[x].l) + 1, x = N[x].r;
        else
            x = N[x].l;
    }
    for (uint32_t x = t->root; x;) {
        if (N[x].v <= v)
            le += sz(N, N[x].l) + 1, x = N[x].r;
        else
            x = N[x].l;
    }
    *below = lt, *equal = le - lt;
}

void va_correlate_ost_free(va_correlate_ost *t) {
    free(t->node);
    memset(t, 0, sizeof *t);
}
