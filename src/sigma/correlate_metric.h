/*
 * correlate_metric.h - the arithmetic behind value_sum, value_avg and value_percentile
 * correlations: reading a field value as a number, a sum that values can leave again when they
 * expire from a sliding window, and a multiset of numbers answering "how many are below v" in
 * O(log n) for percentile ranks.  Internal to the correlation engine (correlate.c); semantics in
 * docs/correlation.md.
 */
#ifndef VA_SIGMA_CORRELATE_METRIC_H
#define VA_SIGMA_CORRELATE_METRIC_H

#include <stddef.h>
#include <stdint.h>

/* A field value read as a number: an integer that fits int64 (exact), or a double. */
typedef struct va_correlate_num {
    int isint;
    int64_t i;
    double f; /* the value as a double either way */
} va_correlate_num;

/* Read s[0..n) as a number: an optional sign and decimal digits, with an optional fraction and
 * exponent, or 0x and hex digits (as EVTX writes HexInt values); blanks around it are allowed.
 * Anything else (empty, "-", "1,5", "inf", "nan", words, a value beyond the double range) is
 * not a number: -1.  Fractions are read with strtod in the C locale (vaern never sets another). */
int va_correlate_num_parse(const char *s, size_t n, va_correlate_num *out);

/* Shortest text that reads back as the same double ("1500", "0.1", "2.5e+20"); buf of 32. */
void va_correlate_num_fmt(double v, char buf[32]);

/* A sum that values join and leave (a sliding window): integers are summed exactly in 128 bits,
 * reals in a compensated (Neumaier) double sum, so integer data (bytes, counts) gives exact
 * sums however long the window slides, and reals drift by rounding only.  Zero it to start. */
typedef struct va_correlate_sum {
    __int128 i;
    double f, comp;
    uint64_t n; /* values in the sum */
} va_correlate_sum;

void va_correlate_sum_add(va_correlate_sum *s, const va_correlate_num *v);
/* v must have been added. */
void va_correlate_sum_remove(va_correlate_sum *s, const va_correlate_num *v);
double va_correlate_sum_value(const va_correlate_sum *s);

/* A multiset of (value, id) pairs (ids unique) in a treap whose nodes live in one array; the
 * owner frees it with va_correlate_ost_free. */
typedef struct va_correlate_ost_node va_correlate_ost_node;
typedef struct va_correlate_ost {
    va_correlate_ost_node *node;
    size_t cap;
    uint32_t used, free_head, root;
} va_correlate_ost;

/* 0, or -1 out of memory (the set is unchanged). */
int va_correlate_ost_insert(va_correlate_ost *t, double v, uint64_t id);
/* Remove the pair (v, id), which must be in the set. */
void va_correlate_ost_erase(va_correlate_ost *t, double v, uint64_t id);
/* Pairs in the set, and how many have a value below v and equal to v. */
uint64_t va_correlate_ost_size(const va_correlate_ost *t);
void va_correlate_ost_rank(const va_correlate_ost *t, double v, uint64_t *below, uint64_t *equal);
void va_correlate_ost_free(va_correlate_ost *t);

#endif
