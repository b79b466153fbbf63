/*
 * test_sigma_prefilter.c - the multi-literal matcher behind the Sigma prefilter: both backends
 * against a naive search on random literals and texts (ASCII case-insensitive, overlapping and
 * duplicate literals, bytes above 0x7f), and the Hyperscan database cache (written once, then
 * loaded; a damaged entry is rebuilt, never trusted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sigma/prefilter.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* A small alphabet makes overlaps and repeats likely; 0xC3 and 0xA9 are UTF-8 bytes. */
static char rnd_char(void) {
    static const char alpha[] = "abAB\\.-:\xC3\xA9";
    return alpha[rnd(sizeof alpha - 1)];
}

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int naive_has(const char *t, size_t n, const char *l, size_t ln) {
    for (size_t i = 0; i + ln <= n; i++) {
        size_t k = 0;
        while (k < ln && lower((unsigned char)t[i + k]) == lower((unsigned char)l[k])) k++;
        if (k == ln) return 1;
    }
    return 0;
}

static void on_hit(void *ud, uint32_t id, size_t end) {
    (void)end;
    ((uint8_t *)ud)[id] = 1;
}

static void check_backend(va_prefilter_backend b) {
    enum { NLIT = 300, ROUNDS = 200 };
    char store[NLIT][8];
    const char *lits[NLIT];
    size_t lens[NLIT];
    for (int i = 0; i < NLIT; i++) {
        lens[i] = 1 + rnd(6);
        for (size_t k = 0; k < lens[i]; k++) store[i][k] = rnd_char();
        lits[i] = store[i];
    }
    memcpy(store[1], store[0], lens[0]), lens[1] = lens[0]; /* an exact duplicate */
    store[2][0] = (char)(lens[0] ? lower(store[0][0]) ^ 0x20 : 'x');
    va_prefilter *p = NULL;
    const char *why = NULL;
    assert_int_equal(va_prefilter_new(lits, lens, NLIT, b, NULL, &p, &why), VA_OK);
    va_prefilter_scratch *s = va_prefilter_scratch_new(p);
    assert_non_null(s);
    for (int r = 0; r < ROUNDS; r++) {
        char text[200];
        size_t n = rnd(sizeof text);
        for (size_t k = 0; k < n; k++) text[k] = rnd_char();
        uint8_t got[NLIT] = {0};
        assert_int_equal(va_prefilter_scan(p, s, text, n, on_hit, got), 0);
        for (int i = 0; i < NLIT; i++)
            if (got[i] != naive_has(text, n, lits[i], lens[i]))
                fail_msg("%s: literal %d (%.*s) in '%.*s': got %d", va_prefilter_backend_name(p), i,
                         (int)lens[i], lits[i], (int)n, text, got[i]);
    }
    va_prefilter_scratch_free(s);
    va_prefilter_free(p);
}

static void automaton_matches_naive(void **state) {
    (void)state;
    check_backend(VA_PREFILTER_AUTOMATON);
}

static void hyperscan_matches_naive(void **state) {
    (void)state;
#ifdef VAERN_HAVE_HYPERSCAN
    check_backend(VA_PREFILTER_HYPERSCAN);
#else
    skip();
#endif
}

static void hyperscan_cache(void **state) {
    (void)state;
#ifdef VAERN_HAVE_HYPERSCAN
    char dir[] = "/tmp/vaern-pf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *lits[] = {"mimikatz", "\\powershell.exe", "-enc"};
    size_t lens[] = {8, 15, 4};
    const char *why;
    va_prefilter *p = NULL;
    assert_int_equal(va_prefilter_new(lits, lens, 3, VA_PREFILTER_HYPERSCAN, dir, &p, &why), VA_OK);
    assert_int_equal(va_prefilter_from_cache(p), 0);
    va_prefilter_free(p);
    assert_int_equal(va_prefilter_new(lits, lens, 3, VA_PREFILTER_HYPERSCAN, dir, &p, &why), VA_OK);
    assert_int_equal(va_prefilter_from_cache(p), 1);
    va_prefilter_scratch *s = va_prefilter_scratch_new(p);
    uint8_t got[3] = {0};
    const char t[] = "C:\\Windows\\PowerShell.exe -ENC abc";
    assert_int_equal(va_prefilter_scan(p, s, t, sizeof t - 1, on_hit, got), 0);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 1);
    assert_int_equal(got[2], 1);
    va_prefilter_scratch_free(s);
    va_prefilter_free(p);
    /* Another literal set gets its own entry. */
    lens[2] = 3;
    assert_int_equal(va_prefilter_new(lits, lens, 3, VA_PREFILTER_HYPERSCAN, dir, &p, &why), VA_OK);
    assert_int_equal(va_prefilter_from_cache(p), 0);
    va_prefilter_free(p);
    /* Damage every entry: it is rebuilt, not trusted. */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "for f in %s/*.hsdb; do printf 'garbage' | dd of=$f bs=1 seek=40 "
             "conv=notrunc 2>/dev/null; done",
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(va_prefilter_new(lits, lens, 3, VA_PREFILTER_HYPERSCAN, dir, &p, &why), VA_OK);
    assert_int_equal(va_prefilter_from_cache(p), 0);
    s = va_prefilter_scratch_new(p);
    memset(got, 0, sizeof got);
    assert_int_equal(va_prefilter_scan(p, s, t, sizeof t - 1, on_hit, got), 0);
    assert_int_equal(got[1] + got[2], 2);
    va_prefilter_scratch_free(s);
    va_prefilter_free(p);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
#else
    skip();
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(automaton_matches_naive),
        cmocka_unit_test(hyperscan_matches_naive),
        cmocka_unit_test(hyperscan_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
