/*
 * fuzz_sigma_value.c - libFuzzer target: compile one Sigma value list with a modifier chain
 * and match it against one subject (src/sigma/value.h).
 *
 * Input: byte 0 picks the YAML kind of the values, byte 1 the subject's va_vtype, then
 * "modifiers\nvalue[\x01value...]\nsubject".  Compile errors are expected; crashes, leaks and
 * sanitizer reports are not.  It also checks the prefilter's promise (va_value_alt_literal): when
 * a value matches and each of its alternatives names a literal, the subject contains one of
 * them, ASCII-case-insensitively (except subjects with the two characters that fold to ASCII).
 * And a plain "re" value (one, a string) must match exactly when PCRE2 called directly on the
 * subject (compiled the same way, JIT included) does, unless either stopped at a limit: the
 * shortcuts before PCRE2 (characters a match needs several times, runs joined by ".*") must
 * never change an answer.  (PCRE2's JIT and its interpreter differ on a few empty matches at a
 * byte of invalid UTF-8, such as "\\G" on "\x9e": that is PCRE2's to settle, not checked here.)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/arena.h"
#include "sigma/value.h"

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int has_ci(const char *t, size_t n, const char *l, size_t ln) {
    for (size_t i = 0; i + ln <= n; i++) {
        size_t k = 0;
        while (k < ln && lower((unsigned char)t[i + k]) == lower((unsigned char)l[k])) k++;
        if (k == ln) return 1;
    }
    return 0;
}

/* If value i of m matches s, one of its alternatives' literals must be in s. */
static void check_literals(const va_value *m, size_t i, va_value_scratch *sc,
                           const va_value_subj *s) {
    if (memmem(s->s, s->n, "\xE2\x84\xAA", 3) || memmem(s->s, s->n, "\xC5\xBF", 2)) return;
    size_t na = va_value_nalts(m, i);
    if (!na || !va_value_match_value(m, i, sc, s)) return;
    int found = 0;
    for (size_t k = 0; k < na; k++) {
        const char *lit;
        size_t ln = va_value_alt_literal(m, i, k, 1, &lit);
        if (!ln) return; /* an alternative without a literal: no promise */
        found |= has_ci(s->s, s->n, lit, ln);
    }
    if (!found) __builtin_trap();
}

/* A plain "re" value's answer against PCRE2's own on the same subject. */
static void check_re(const va_value *m, va_value_scratch *sc, const va_value_lit *v,
                     const va_value_subj *s) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)v->s, v->n,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NO_DOTSTAR_ANCHOR,
                                   &ec, &eo, NULL);
    if (re) (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* as vaern matches */
    pcre2_match_data *md = re ? pcre2_match_data_create(1, NULL) : NULL;
    if (md) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s->s, s->n, 0, 0, md, NULL);
        uint64_t before = va_value_scratch_limits(sc);
        int got = va_value_match_value(m, 0, sc, s);
        if (rc >= -1 && va_value_scratch_limits(sc) == before && got != (rc >= 0)) __builtin_trap();
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    va_value_kind kind = (va_value_kind)(data[0] % 5);
    va_vtype vt = (va_vtype)(data[1] % 6);
    const char *p = (const char *)data + 2, *end = (const char *)data + size;
    const char *nl1 = memchr(p, '\n', (size_t)(end - p));
    if (!nl1) return 0;
    const char *v = nl1 + 1;
    const char *nl2 = memchr(v, '\n', (size_t)(end - v));
    if (!nl2) return 0;
    const char *subj = nl2 + 1;

    va_value_lit vals[8];
    size_t nv = 0;
    for (const char *q = v; nv < 8;) {
        const char *sep = memchr(q, '\x01', (size_t)(nl2 - q));
        const char *e = sep ? sep : nl2;
        vals[nv++] = (va_value_lit){kind, q, (size_t)(e - q)};
        if (!sep) break;
        q = sep + 1;
    }
    static const char *const srv[] = {"srv*", "dc-01", "\\*x"};
    static const char *const one[] = {"a"};
    const va_value_placeholder ph[] = {{"Servers", srv, 3}, {"a", one, 1}};

    va_arena a;
    va_arena_init(&a, 0);
    va_value *m = NULL;
    const char *why = NULL;
    va_err e = va_value_compile(&a, p, (size_t)(nl1 - p), vals, nv, ph, 2, &m, &why);
    if (e == VA_OK) {
        va_value_scratch *sc = va_value_scratch_new();
        if (sc) {
            va_value_subj s = {subj, (size_t)(end - subj), vt, NULL, 0};
            (void)va_value_match(m, sc, &s);
            (void)va_value_absent(m);
            if (nv == 1 && kind == VA_VALUE_STR && vt == VA_V_STR && nl1 - p == 2 &&
                !memcmp(p, "re", 2))
                check_re(m, sc, &vals[0], &s);
            for (size_t i = 0; i < va_value_nvalues(m); i++) {
                (void)va_value_match_value(m, i, sc, &s);
                if (vt != VA_V_NULL) check_literals(m, i, sc, &s);
                va_value_subj o = {vals[i].s, vals[i].n, VA_V_STR, NULL, 0};
                (void)va_value_match_ref(m, i, sc, &s, &o);
            }
            va_value_scratch_free(sc);
        }
        va_value_free(m);
    } else if (!why) {
        __builtin_trap(); /* every failure must say why */
    }
    va_arena_free(&a);
    return 0;
}
