/*
 * test_sigma_value.c - unit tests for src/sigma/value: Sigma value matching with modifiers.
 *
 * Table-driven: each row is (modifiers, value, subject, expected) where the expectation comes
 * from the Sigma rules specification (wildcards, escapes, null/empty) and its modifiers
 * appendix; encodings are checked against RFC 4648 / UTF-16 byte sequences worked out by hand.
 * Every row is matched twice, once letting the matcher fold the subject and once with a
 * subject folded beforehand (the engine's path), and both must agree with the expectation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "test_rand.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/arena.h"
#include "core/buf.h"
#include "sigma/value.h"

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct row {
    const char *mods;
    va_value_kind kind;
    const char *pat;
    const char *subj;
    size_t subj_n; /* 0: strlen(subj) */
    va_vtype type;
    int want;
} row;

/* Plain string value against a string field. */
#define S(mods, pat, subj, want)                                                                   \
    { mods, VA_VALUE_STR, pat, subj, 0, VA_V_STR, want }

static int match_both(const va_value *m, va_value_scratch *sc, const char *s, size_t n, va_vtype t,
                      const char *what) {
    va_value_subj a = {s, n, t, NULL, 0};
    int r1 = va_value_match(m, sc, &a);
    va_buf f;
    va_buf_init(&f);
    va_value_fold(s, n, &f);
    assert_false(f.oom);
    va_value_subj b = {s, n, t, f.p ? f.p : "", f.len};
    int r2 = va_value_match(m, sc, &b);
    va_buf_free(&f);
    if (r1 != r2) fail_msg("%s: self-folded %d, pre-folded %d", what, r1, r2);
    return r1;
}

static void run_rows(const row *rows, size_t n) {
    va_value_scratch *sc = va_value_scratch_new();
    assert_non_null(sc);
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        va_arena a;
        va_arena_init(&a, 0);
        va_value_lit lit = {r->kind, r->pat, strlen(r->pat)};
        va_value *m = NULL;
        const char *why = NULL;
        va_err e = va_value_compile(&a, r->mods, strlen(r->mods), &lit, 1, NULL, 0, &m, &why);
        if (e != VA_OK) fail_msg("row %zu (%s: '%s'): compile failed: %s", i, r->mods, r->pat, why);
        char what[256];
        snprintf(what, sizeof what, "row %zu (%s: '%s' vs '%s')", i, r->mods, r->pat, r->subj);
        size_t sn = r->subj_n ? r->subj_n : strlen(r->subj);
        int got = match_both(m, sc, r->subj, sn, r->type, what);
        if (got != r->want) fail_msg("%s: got %d, want %d", what, got, r->want);
        va_value_free(m);
        va_arena_free(&a);
    }
    va_value_scratch_free(sc);
}

#define RUN(rows) run_rows(rows, sizeof rows / sizeof rows[0])

/* Compile a list of string values; asserts success. */
static va_value *compile_list(va_arena *a, const char *mods, const char *const *vals, size_t n,
                              const va_value_placeholder *ph, size_t nph) {
    va_value_lit lits[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) lits[i] = (va_value_lit){VA_VALUE_STR, vals[i], strlen(vals[i])};
    va_value *m = NULL;
    const char *why = NULL;
    va_err e = va_value_compile(a, mods, strlen(mods), lits, n, ph, nph, &m, &why);
    if (e != VA_OK) fail_msg("compile %s failed: %s", mods, why);
    return m;
}

static int smatch(const va_value *m, va_value_scratch *sc, const char *s) {
    return match_both(m, sc, s, strlen(s), VA_V_STR, s);
}

/* ---- plain strings, wildcards, escapes ---------------------------------------------------- */

static void test_plain_and_wildcards(void **state) {
    (void)state;
    static const row rows[] = {
        /* All values are case-insensitive strings; an exact match by default. */
        S("", "cmd.exe", "cmd.exe", 1),
        S("", "cmd.exe", "CMD.EXE", 1),
        S("", "cmd.exe", "cmd.exe ", 0),
        S("", "cmd.exe", "xcmd.exe", 0),
        S("", "cmd.exe", "cmd.ex", 0),
        /* Empty value: only the empty string; a null field is not the empty value. */
        S("", "", "", 1),
        S("", "", "a", 0),
        {"", VA_VALUE_STR, "", "", 0, VA_V_NULL, 0},
        /* `*` any length, `?` exactly one character. */
        S("", "*", "", 1),
        S("", "*", "anything at all", 1),
        S("", "**", "x", 1),
        S("", "prog?.exe", "progA.exe", 1),
        S("", "prog?.exe", "prog.exe", 0),
        S("", "prog?.exe", "progAB.exe", 0),
        S("", "antivirus_V*.exe", "antivirus_V21.2.1.exe", 1),
        S("", "antivirus_V*.exe", "antivirus_V.exe", 1),
        S("", "antivirus_V*.exe", "antivirus_V1.exe.bak", 0),
        S("", "*cmd", "xxcmd", 1),
        S("", "*cmd", "cmdxx", 0),
        S("", "cmd*", "cmdxx", 1),
        S("", "cmd*", "xxcmd", 0),
        S("", "c*d", "cd", 1),
        S("", "c*d", "c123d", 1),
        S("", "c*d", "c123", 0),
        S("", "*c*d*", "xxcyydzz", 1),
        S("", "*c*d*", "xxdyyczz", 0),
        S("", "?md", "cmd", 1),
        S("", "cm?", "cmd", 1),
        S("", "c?d", "cmd", 1),
        S("", "c?d", "cd", 0),
        S("", "?", "", 0),
        S("", "?", "\xC3\xA4", 1), /* one character, two bytes */
        S("", "??", "\xC3\xA4", 0),
        S("", "?", "\xE2\x82\xAC", 1), /* euro sign, three bytes */
        S("", "*?", "", 0),
        S("", "?*", "a", 1),
        S("", "a*b*c", "aXbYc", 1),
        S("", "a*b*c", "acb", 0),
        S("", "a*a", "a", 0),
        S("", "a*a", "aa", 1),
        S("", "*ab*ab*", "abab", 1),
        S("", "*ab*ab*", "aba", 0),
        S("", "*a?c*", "xxabcxx", 1),
        S("", "*a?c*", "xxacxx", 0),
        S("", "*?\xC3\xA4", "x\xC3\xA4", 1),
        /* Escapes: \* and \? are the characters; \\ before a wildcard is a backslash. */
        S("", "\\*", "*", 1),
        S("", "\\*", "x", 0),
        S("", "a\\*b", "a*b", 1),
        S("", "a\\*b", "aXb", 0),
        S("", "\\?", "?", 1),
        S("", "\\?", "a", 0),
        S("", "\\\\*", "\\foo", 1),
        S("", "\\\\*", "foo", 0),
        S("", "\\\\\\*", "\\*", 1),
        S("", "\\\\\\*", "\\x", 0),
        S("", "\\\\\\\\", "\\\\", 1),
        S("", "\\\\\\\\", "\\", 0),
        S("", "\\\\\\", "\\\\", 1), /* three backslashes are two */
        /* A plain backslash can be single or double; before other characters it is literal. */
        S("", "C:\\Windows", "C:\\Windows", 1),
        S("", "C:\\\\Windows", "C:\\Windows", 1),
        S("", "\\a", "\\a", 1),
        S("", "C:\\Windows\\", "C:\\Windows\\", 1), /* trailing backslash */
        S("", "C:\\Windows\\", "C:\\Windows", 0),
        S("", "*\\cmd.exe", "C:\\Windows\\System32\\cmd.exe", 1),
        /* Percent signs are plain without expand. */
        S("", "%name%", "%name%", 1),
        S("", "\\%name%", "\\%name%", 1),
    };
    RUN(rows);
}

/* ---- case folding ------------------------------------------------------------------------ */

static void test_case_folding(void **state) {
    (void)state;
    static const row rows[] = {
        S("", "\xC3\x84NDERUNG", "\xC3\xA4nderung", 1),   /* ÄNDERUNG / änderung */
        S("", "\xC3\xA4nderung", "\xC3\x84NDERUNG", 1),   /* and back */
        S("", "?NDERUNG", "\xC3\xA4nderung", 1),          /* ? on a folded 2-byte char */
        S("", "\xC3\x84?DERUNG", "\xC3\xA4Nderung", 1),   /* Ä?DERUNG */
        S("", "\xC3\x96\xC3\x9C", "\xC3\xB6\xC3\xBC", 1), /* ÖÜ / öü */
        S("", "\xC5\xB8", "\xC3\xBF", 1),                 /* Ÿ (U+0178) / ÿ */
        S("", "\xC2\xB5", "\xCE\xBC", 1),                 /* micro sign / mu */
        S("",
          "\xC5\x81\xC3\x93"
          "D\xC5\xB9",
          "\xC5\x82\xC3\xB3"
          "d\xC5\xBA",
          1),                                 /* ŁÓDŹ / łódź */
        S("", "\xC7\x84", "\xC7\x86", 1),     /* Ǆ / ǆ */
        S("", "\xC7\x85", "\xC7\x86", 1),     /* ǅ (title case) / ǆ */
        S("", "\xC6\x8F", "\xC9\x99", 1),     /* Ə / ə (Latin Ext-B) */
        S("", "\xC8\xBA", "\xE2\xB1\xA5", 1), /* Ⱥ folds to 3 bytes */
        S("", "\xC5\xBF", "S", 1),            /* long s folds to s */
        S("", "\xE2\x84\xAA", "k", 1),        /* Kelvin sign */
        S("", "\xE1\xBA\x9E", "\xC3\x9F", 1), /* capital sharp s / ß */
        S("", "\xC3\x9F", "ss", 0),           /* simple folding only */
        S("", "\xC4\xB0", "i", 0),            /* İ has no simple fold */
        S("", "I", "\xC4\xB1", 0),            /* dotless ı stays */
        S("", "\xCE\x91\xCE\x98\xCE\x97\xCE\x9D\xCE\x91",
          "\xCE\xB1\xCE\xB8\xCE\xB7\xCE\xBD\xCE\xB1", 1), /* ΑΘΗΝΑ / αθηνα */
        S("", "\xCE\xA3", "\xCF\x82", 1),                 /* Σ / final ς */
        S("", "\xCF\x82", "\xCF\x83", 1),                 /* ς / σ */
        S("", "\xCE\x86", "\xCE\xAC", 1),                 /* Ά / ά */
        S("", "\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2",
          "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", 1), /* ПРИВЕТ / привет */
        S("", "\xD0\x81", "\xD1\x91", 1),                         /* Ё / ё */
        S("", "\xD2\x90", "\xD2\x91", 1),                         /* Ґ / ґ */
        S("", "\xD4\xB1", "\xD5\xA1", 1),                         /* Armenian Ա / ա */
        S("", "\xEF\xBC\xA1", "\xEF\xBD\x81", 1),                 /* fullwidth A / a */
        S("", "\xD0\x96", "\xD0\x97", 0),                         /* Ж is not з */
        /* cased: exact bytes. */
        S("cased", "cmd", "CMD", 0),
        S("cased", "cmd", "cmd", 1),
        S("cased", "\xC3\x84NDERUNG", "\xC3\xA4nderung", 0),
        S("cased", "C?D", "CmD", 1),
        S("cased", "C?D", "cmd", 0),
    };
    RUN(rows);
}

/* va_value_fold over every ASCII byte at every position of blocks of 16 (the vector path) and
 * around non-ASCII text, against the fold run by run: ASCII runs a byte at a time, the rest
 * (no ASCII in it, so never a vector block) as it folds alone. */
static void test_fold_blocks(void **state) {
    (void)state;
    static const char *const other[] = {"\xC3\x84", "\xE2\x84\xAA", "\xFF", "\xD0\x9F\xD0\xA0"};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 4000; round++) {
        char in[200];
        size_t n = 0;
        va_buf want;
        va_buf_init(&want);
        while (n < 150) {
            unsigned r = (unsigned)(test_rand_next(&seed) >> 33);
            if (r % 23 == 0) {
                const char *o = other[(r / 23) % 4];
                memcpy(in + n, o, strlen(o));
                va_value_fold(o, strlen(o), &want);
                n += strlen(o);
            } else {
                char c = (char)(r % 128);
                in[n++] = c;
                va_buf_putc(&want, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
            }
        }
        for (size_t from = 0; from < 20; from++) { /* every alignment and length */
            va_buf got;
            va_buf_init(&got);
            va_value_fold(in + from, n - from, &got);
            if (from == 0) { /* a suffix folds to a suffix only from a run boundary */
                assert_int_equal(got.len, want.len);
                assert_memory_equal(got.p, want.p, want.len);
            }
            for (size_t k = from; k < n; k++) { /* ASCII bytes fold to themselves or +32 */
                unsigned char c = (unsigned char)in[k];
                if (c >= 0x80) break;
                assert_int_equal((unsigned char)got.p[k - from], c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            va_buf_free(&got);
        }
        va_buf_free(&want);
    }
}

static void test_fold_api(void **state) {
    (void)state;
    va_buf b;
    va_buf_init(&b);
    /* "ÄÖÜ ΣΑΣ Ж İ ABC" */
    const char *in = "\xC3\x84\xC3\x96\xC3\x9C \xCE\xA3\xCE\x91\xCE\xA3 \xD0\x96 \xC4\xB0 ABC";
    va_value_fold(in, strlen(in), &b);
    assert_false(b.oom);
    assert_string_equal(b.p,
                        "\xC3\xA4\xC3\xB6\xC3\xBC \xCF\x83\xCE\xB1\xCF\x83 \xD0\xB6 \xC4\xB0 abc");
    /* Bytes that are not UTF-8 pass through. */
    va_buf_clear(&b);
    va_value_fold("\xFF\xFE"
                  "A\x00",
                  4, &b);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.p,
                        "\xFF\xFE"
                        "a\x00",
                        4);
    va_buf_free(&b);
    assert_int_equal(va_value_fold_cp('Z'), 'z');
    assert_int_equal(va_value_fold_cp(0x0130), 0x0130);
    assert_int_equal(va_value_fold_cp(0x0100), 0x0101);
    assert_int_equal(va_value_fold_cp(0x0101), 0x0101);
    assert_int_equal(va_value_fold_cp(0x042F), 0x044F);
    assert_int_equal(va_value_fold_cp(0x03A2), 0x03A2); /* unassigned gap in Greek capitals */
}

/* ---- contains / startswith / endswith ----------------------------------------------------- */

static void test_position_modifiers(void **state) {
    (void)state;
    static const row rows[] = {
        S("contains", "evil", "xxEVILxx", 1),
        S("contains", "evil", "evi", 0),
        S("contains", "evil", "evil", 1),
        S("contains", "a*c", "xxabbbcxx", 1),
        S("contains", "a?c", "xxabcxx", 1),
        S("contains", "a?c", "xxacxx", 0),
        S("contains", "", "anything", 1),
        S("contains", "", "", 1),
        S("contains", "*evil*", "an evil one", 1),
        S("contains", "\\*", "a*b", 1),
        S("contains", "\\*", "ab", 0),
        S("startswith", "evil", "evilx", 1),
        S("startswith", "evil", "xevil", 0),
        S("startswith", "", "", 1),
        S("startswith", "ev?l", "EVIL.exe", 1),
        S("endswith", "\\cmd.exe", "C:\\Windows\\System32\\cmd.exe", 1),
        S("endswith", "\\cmd.exe", "C:\\Windows\\System32\\cmd.exe.bak", 0),
        S("endswith", "\\cmd.exe", "cmd.exe", 0),
        S("endswith", "c?d.exe", "C:\\x\\CMD.exe", 1),
        S("endswith", "?", "x\xC3\xA4", 1),
        S("contains|cased", "Evil", "evil", 0),
        S("contains|cased", "Evil", "xEvilx", 1),
        S("cased|endswith", "Evil", "xEvil", 1),
        S("startswith|cased", "Evil", "evil", 0),
        /* Numbers take string modifiers as their text. */
        {"contains", VA_VALUE_INT, "462", "14624", 0, VA_V_UINT, 1},
        {"startswith", VA_VALUE_INT, "46", "4624", 0, VA_V_UINT, 1},
    };
    RUN(rows);
}

/* ---- numbers ----------------------------------------------------------------------------- */

static void test_numbers(void **state) {
    (void)state;
    static const row rows[] = {
        /* A YAML integer matches the numeric field whatever its text, and the string form. */
        {"", VA_VALUE_INT, "4624", "4624", 0, VA_V_UINT, 1},
        {"", VA_VALUE_INT, "4624", "4624", 0, VA_V_STR, 1},
        {"", VA_VALUE_INT, "4624", "04624", 0, VA_V_STR, 1},
        {"", VA_VALUE_INT, "4624", "4624.0", 0, VA_V_REAL, 1},
        {"", VA_VALUE_INT, "4624", "0x1210", 0, VA_V_STR, 1},
        {"", VA_VALUE_INT, "4624", "4625", 0, VA_V_UINT, 0},
        {"", VA_VALUE_INT, "4624", "462", 0, VA_V_UINT, 0},
        {"", VA_VALUE_INT, "4624", "", 0, VA_V_STR, 0},
        {"", VA_VALUE_INT, "4624", "", 0, VA_V_NULL, 0},
        {"", VA_VALUE_INT, "-1", "-1", 0, VA_V_INT, 1},
        {"", VA_VALUE_INT, "0x10", "16", 0, VA_V_INT, 1},
        {"", VA_VALUE_FLOAT, "1.5", "1.50", 0, VA_V_REAL, 1},
        {"", VA_VALUE_FLOAT, "1.5", "15e-1", 0, VA_V_REAL, 1},
        {"", VA_VALUE_FLOAT, "1.5", "1.05", 0, VA_V_REAL, 0},
        /* A quoted number is a string: text equality only. */
        S("", "4624", "4624", 1),
        S("", "4624", "04624", 0),
        {"", VA_VALUE_STR, "4624", "4624", 0, VA_V_UINT, 1},
        /* Comparisons: field text parsed as integer or float; non-numeric never matches. */
        {"gt", VA_VALUE_INT, "10", "11", 0, VA_V_INT, 1},
        {"gt", VA_VALUE_INT, "10", "10", 0, VA_V_INT, 0},
        {"gt", VA_VALUE_INT, "10", "10.5", 0, VA_V_REAL, 1},
        {"gt", VA_VALUE_INT, "10", "1e2", 0, VA_V_REAL, 1},
        {"gt", VA_VALUE_INT, "10", "-11", 0, VA_V_INT, 0},
        {"gt", VA_VALUE_INT, "10", "abc", 0, VA_V_STR, 0},
        {"gt", VA_VALUE_INT, "10", "", 0, VA_V_STR, 0},
        {"gt", VA_VALUE_INT, "10", "11abc", 0, VA_V_STR, 0},
        {"gt", VA_VALUE_INT, "10", " 11", 0, VA_V_STR, 0},
        {"gt", VA_VALUE_INT, "0", "true", 0, VA_V_BOOL, 0},
        {"gt", VA_VALUE_INT, "0", "", 0, VA_V_NULL, 0},
        {"gt", VA_VALUE_INT, "9223372036854775806", "9223372036854775807", 0, VA_V_INT, 1},
        {"gt", VA_VALUE_INT, "9223372036854775806", "9223372036854775806", 0, VA_V_INT, 0},
        {"gte", VA_VALUE_INT, "10", "10", 0, VA_V_INT, 1},
        {"gte", VA_VALUE_INT, "10", "9.99", 0, VA_V_REAL, 0},
        {"lt", VA_VALUE_INT, "10", "9", 0, VA_V_INT, 1},
        {"lt", VA_VALUE_INT, "10", "10", 0, VA_V_INT, 0},
        {"lt", VA_VALUE_INT, "-5", "-6", 0, VA_V_INT, 1},
        {"lt", VA_VALUE_FLOAT, "0.5", "0.25", 0, VA_V_REAL, 1},
        {"lte", VA_VALUE_INT, "10", "10.0", 0, VA_V_REAL, 1},
        {"lte", VA_VALUE_INT, "10", "0xB", 0, VA_V_STR, 0},
        {"lte", VA_VALUE_INT, "10", "xyz", 0, VA_V_STR, 0},
        /* neq: the field differs from the value. */
        {"neq", VA_VALUE_INT, "4624", "4624", 0, VA_V_UINT, 0},
        {"neq", VA_VALUE_INT, "4624", "4625", 0, VA_V_UINT, 1},
        {"neq", VA_VALUE_INT, "4624", "04624", 0, VA_V_STR, 0},
        S("neq", "foo", "FOO", 0),
        S("neq", "foo", "bar", 1),
        S("neq|contains", "foo", "xfoox", 0),
        S("neq|cased", "foo", "FOO", 1),
        {"cased", VA_VALUE_INT, "4624", "04624", 0, VA_V_STR, 1}, /* cased changes no number */
    };
    RUN(rows);
}

/* ---- null, empty, exists ----------------------------------------------------------------- */

static void test_null_exists(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_value_scratch *sc = va_value_scratch_new();
    assert_non_null(sc);
    const char *why;
    va_value *m;
    va_value_lit nul = {VA_VALUE_NULL, "", 0};
    assert_int_equal(va_value_compile(&a, "", 0, &nul, 1, NULL, 0, &m, &why), VA_OK);
    assert_true(va_value_flags(m) & VA_VALUE_F_NULL);
    assert_int_equal(va_value_absent(m), 1);
    assert_int_equal(match_both(m, sc, "", 0, VA_V_NULL, "null"), 1);
    assert_int_equal(match_both(m, sc, "", 0, VA_V_STR, "empty"), 0);
    assert_int_equal(match_both(m, sc, "x", 1, VA_V_STR, "x"), 0);
    va_value_free(m);

    va_value_lit empty = {VA_VALUE_STR, "", 0};
    assert_int_equal(va_value_compile(&a, NULL, 0, &empty, 1, NULL, 0, &m, &why), VA_OK);
    assert_int_equal(va_value_absent(m), 0);
    assert_int_equal(match_both(m, sc, "", 0, VA_V_STR, "empty"), 1);
    va_value_free(m);

    va_value_lit t = {VA_VALUE_BOOL, "true", 4}, f = {VA_VALUE_BOOL, "False", 5};
    assert_int_equal(va_value_compile(&a, "exists", 6, &t, 1, NULL, 0, &m, &why), VA_OK);
    assert_true(va_value_flags(m) & VA_VALUE_F_EXISTS);
    assert_int_equal(va_value_absent(m), 0);
    assert_int_equal(match_both(m, sc, "", 0, VA_V_NULL, "present null"), 1);
    assert_int_equal(match_both(m, sc, "", 0, VA_V_STR, "present empty"), 1);
    va_value_free(m);
    assert_int_equal(va_value_compile(&a, "exists", 6, &f, 1, NULL, 0, &m, &why), VA_OK);
    assert_int_equal(va_value_absent(m), 1);
    assert_int_equal(match_both(m, sc, "x", 1, VA_V_STR, "present"), 0);
    va_value_free(m);

    /* A boolean value without exists is compared as text. */
    assert_int_equal(va_value_compile(&a, "", 0, &t, 1, NULL, 0, &m, &why), VA_OK);
    assert_int_equal(match_both(m, sc, "true", 4, VA_V_BOOL, "true"), 1);
    assert_int_equal(match_both(m, sc, "TRUE", 4, VA_V_STR, "TRUE"), 1);
    assert_int_equal(match_both(m, sc, "false", 5, VA_V_BOOL, "false"), 0);
    assert_int_equal(va_value_absent(m), 0);
    va_value_free(m);
    va_value_scratch_free(sc);
    va_arena_free(&a);
}

/* ---- time parts -------------------------------------------------------------------------- */

#define T(mods, v, subj, want)                                                                     \
    { mods, VA_VALUE_INT, v, subj, 0, VA_V_STR, want }

static void test_time_parts(void **state) {
    (void)state;
    /* Expected parts worked out by hand from the calendar (2024-01-01 is a Monday; 2021-01-03
     * is a Sunday in ISO week 53 of 2020; 2024-12-30 is a Monday in ISO week 1 of 2025). */
    static const row rows[] = {
        T("minute", "37", "2024-03-05T14:37:00Z", 1),
        T("minute", "37", "2024-03-05T14:38:00Z", 0),
        T("hour", "14", "2024-03-05T14:37:00Z", 1),
        T("hour", "14", "2024-03-05T15:37:00Z", 0),
        T("day", "5", "2024-03-05 14:37:00", 1),
        T("month", "3", "2024-03-05T14:37:00.123Z", 1),
        T("year", "2024", "2024-03-05T14:37:00Z", 1),
        T("year", "2023", "2024-03-05T14:37:00Z", 0),
        T("hour", "23", "2024-03-05T01:30:00+02:00", 1), /* offsets give UTC parts */
        T("day", "4", "2024-03-05T01:30:00+02:00", 1),
        T("week", "10", "2024-03-05T00:00:00Z", 1),
        T("week", "1", "2024-01-01T00:00:00Z", 1),
        T("week", "53", "2021-01-03T12:00:00Z", 1),
        T("week", "1", "2024-12-30T12:00:00Z", 1),
        T("week", "52", "2024-12-29T12:00:00Z", 1),
        T("year", "1969", "1969-12-31T23:59:59Z", 1),
        T("day", "31", "1969-12-31T23:59:59.5Z", 1),
        T("hour", "23", "1969-12-31T23:59:59.5Z", 1),
        T("month", "2", "2024-02-29T00:00:00Z", 1),
        T("day", "29", "2024-02-29T00:00:00Z", 1),
        T("month", "3", "2023-03-01T00:00:00Z", 1),
        T("hour|gte", "8", "2024-03-05T07:59:59Z", 0),
        T("hour|gte", "8", "2024-03-05T08:00:00Z", 1),
        T("hour|lt", "6", "2024-03-05T05:00:00Z", 1),
        T("hour|lt|neq", "6", "2024-03-05T05:00:00Z", 0),
        T("minute", "5", "not a date", 0),
        T("minute", "5", "5", 0),
        {"minute", VA_VALUE_INT, "0", "", 0, VA_V_NULL, 0},
    };
    RUN(rows);
}

/* ---- windash ----------------------------------------------------------------------------- */

#define EN   "\xE2\x80\x93"
#define EM   "\xE2\x80\x94"
#define HBAR "\xE2\x80\x95"

static void test_windash(void **state) {
    (void)state;
    static const row rows[] = {
        S("windash", "-exec", "-exec", 1),
        S("windash", "-exec", "/exec", 1),
        S("windash", "-exec", EN "exec", 1),
        S("windash", "-exec", EM "exec", 1),
        S("windash", "-exec", HBAR "exec", 1),
        S("windash", "-exec", "+exec", 0),
        S("windash", "-exec", "exec", 0),
        S("windash", "-exec", "--exec", 0),
        S("windash", "/exec", "-EXEC", 1),
        S("windash", EN "x", "-x", 1),
        S("windash", "a-b-c", "a/b" EN "c", 1),
        S("windash", "a-b-c", "a/bc", 0),
        S("windash|contains", " -nop ", "powershell.exe /nop /w hidden", 1),
        S("windash|contains", " -nop ", "powershell.exe " EM "NoP -w hidden", 1),
        S("windash|contains", " -nop ", "powershell.exe nop", 0),
        S("windash|contains", "/c", "cmd.exe -c whoami", 1),
        S("windash|endswith", " -enc", "x " HBAR "enc", 1),
        S("windash|startswith", "-", EN, 1),
        S("windash|contains", "a?-", "xab/x", 1),
        /* Without windash a dash is a dash. */
        S("", "-exec", "/exec", 0),
    };
    RUN(rows);
}

/* ---- encodings --------------------------------------------------------------------------- */

static void test_encodings(void **state) {
    (void)state;
    static const row rows[] = {
        /* RFC 4648 test vectors. */
        S("base64", "foobar", "Zm9vYmFy", 1),
        S("base64", "foob", "Zm9vYg==", 1),
        S("base64", "fo", "Zm8=", 1),
        S("base64", "foobar", "zm9vymfy", 0), /* base64 is compared exactly */
        S("base64", "FOOBAR", "Zm9vYmFy", 0),
        S("base64|contains", "foob", "xxZm9vYg==yy", 1),
        S("base64|contains", "foob", "xxZm9vYgyy", 0),
        S("base64|startswith", "fo", "Zm8=rest", 1),
        S("base64", "\\*", "Kg==", 1), /* an escaped wildcard is a plain character */
        /* base64offset: the value anywhere in an encoded string, at any byte offset. */
        S("base64offset|contains", "foobar", "Zm9vYmFy", 1),     /* b64("foobar") */
        S("base64offset|contains", "foobar", "WGZvb2Jhcg==", 1), /* b64("Xfoobar") */
        S("base64offset|contains", "foobar", "WFlmb29iYXI=", 1), /* b64("XYfoobar") */
        S("base64offset|contains", "foobar", "WFlaZm9vYmFy", 1), /* b64("XYZfoobar") */
        S("base64offset|contains", "foobar", "Zm9vQmFy", 0),     /* b64("fooBar") */
        S("base64offset|contains", "foobar", "WGZvb0Jhcg==", 0), /* b64("XfooBar") */
        S("base64offset|contains", "IEX (New-Object Net.WebClient)",
          "powershell -enc SUVYIChOZXctT2JqZWN0IE5ldC5XZWJDbGllbnQp", 1),
        /* UTF-16 encodings, byte sequences from the appendix. */
        {"utf16le", VA_VALUE_STR, "cmd", "c\0m\0d\0", 6, VA_V_STR, 1},
        {"wide", VA_VALUE_STR, "cmd", "c\0m\0d\0", 6, VA_V_STR, 1},
        {"utf16be", VA_VALUE_STR, "cmd", "\0c\0m\0d", 6, VA_V_STR, 1},
        {"utf16", VA_VALUE_STR, "cmd",
         "\xFF\xFE"
         "c\0m\0d\0",
         8, VA_V_STR, 1},
        {"utf16le", VA_VALUE_STR, "cmd", "cmd", 0, VA_V_STR, 0},
        {"utf16le", VA_VALUE_STR, "\xC3\xA4", "\xE4\0", 2, VA_V_STR, 1}, /* ä is U+00E4 */
        {"wide|contains", VA_VALUE_STR, "md", "c\0m\0d\0", 6, VA_V_STR, 1},
        S("wide|base64", "cmd", "YwBtAGQA", 1),
        S("utf16le|base64", "cmd", "YwBtAGQA", 1),
        /* wide|base64offset|contains: UTF-16LE command lines, base64 encoded at offsets 6,
         * 8 and 10 bytes ("/c cmd /q", "x/c cmd /q", "xy/c cmd /q"). */
        S("wide|base64offset|contains", "cmd", "LwBjACAAYwBtAGQAIAAvAHEA", 1),
        S("wide|base64offset|contains", "cmd", "eAAvAGMAIABjAG0AZAAgAC8AcQA=", 1),
        S("wide|base64offset|contains", "cmd", "eAB5AC8AYwAgAGMAbQBkACAALwBxAA==", 1),
        S("wide|base64offset|contains", "cmd", "Y21k", 0), /* b64("cmd"), not UTF-16 */
        /* windash before an encoding: every permutation is encoded. */
        S("windash|base64", "-a", "L2E=", 1), /* b64("/a") */
        S("windash|base64", "-a", "LWE=", 1), /* b64("-a") */
        S("windash|base64", "-a", "K2E=", 0), /* b64("+a") */
    };
    RUN(rows);
}

/* ---- regular expressions ----------------------------------------------------------------- */

static void test_re(void **state) {
    (void)state;
    static const row rows[] = {
        S("re", "^cmd\\.exe$", "cmd.exe", 1),
        S("re", "^cmd\\.exe$", "CMD.EXE", 0), /* case-sensitive by default */
        S("re|i", "^cmd\\.exe$", "CMD.EXE", 1),
        S("re", "foo", "xfoox", 1), /* a search, not a full match */
        S("re", "^foo", "xfoo", 0),
        S("re", "a.b", "a\nb", 0),
        S("re|s", "a.b", "a\nb", 1),
        S("re", "^b", "a\nb", 0),
        S("re|m", "^b", "a\nb", 1),
        S("re|i|m", "^B$", "a\nb", 1),
        S("re|s|i", "A.B", "a\nb", 1),
        S("re", "[a-z]{3,4}[0-9]+", "__abc12__", 1),
        S("re", "[^a-z]", "abc", 0),
        S("re", "(ab|cd)+e", "cdabe", 1),
        S("re", "a\\*", "a*", 1),
        S("re", "\xC3\xA4.", "\xC3\xA4\xC3\xB6", 1), /* UTF-8 aware dot */
        S("re|i", "\xC3\x84", "\xC3\xA4", 1),
        S("re", "x", "\xFF\xFEx", 1), /* invalid UTF-8 subject is not an error */
        S("re|neq", "^a", "abc", 0),
        S("re|neq", "^a", "bc", 1),
    };
    RUN(rows);
}

static void test_re_pathological(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_value_scratch *sc = va_value_scratch_new();
    assert_non_null(sc);
    const char *pats[] = {"(a+)+$", "(a|a)*b", "(x+x+)+y"};
    const char *subj[] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    for (int i = 0; i < 3; i++) {
        va_value *m = compile_list(&a, "re", &pats[i], 1, NULL, 0);
        time_t t0 = time(NULL);
        va_value_subj s = {subj[i], strlen(subj[i]), VA_V_STR, NULL, 0};
        assert_int_equal(va_value_match(m, sc, &s), 0);
        assert_true(time(NULL) - t0 < 10);
        va_value_free(m);
    }
    /* At least the exponential ones were cut off by the match limit and counted. */
    assert_true(va_value_scratch_limits(sc) >= 1);
    va_value_scratch_free(sc);
    va_arena_free(&a);
}

/* Two shortcuts before PCRE2: a character every match needs several times is counted first
 * (a line with too few cannot match), and an expression of plain runs joined by ".*" is
 * matched in one pass (patterns like "\\+.*\\+.*\\+" make PCRE2 backtrack long).  The answers
 * must be PCRE2's own: checked against PCRE2 called directly (JIT, the same options) on many
 * small subjects with newlines, both cases and bytes beyond ASCII (valid and not), with
 * extended mode (spaces not literal) and the letters caseless UTF maps beyond ASCII ('k', 's')
 * among the patterns. */
static void test_re_shortcuts(void **state) {
    (void)state;
    static const row rows[] = {
        S("re", "\\+.*\\+.*\\+", "a+b+c+", 1),
        S("re", "\\+.*\\+.*\\+", "a+b+c", 0),
        S("re", "\\+.*\\+.*\\+", "+\n++", 0), /* '.' stops at the line's end */
        S("re", "\\+.*\\+.*\\+", "+\n+++", 1),
        S("re|s", "\\+.*\\+.*\\+", "+\n++", 1),
        S("re", "(?s)\\+.*\\+.*\\+", "+\n++", 1),
        S("re", "(?x) \\+ \\+ \\+ ", "+++", 1), /* spaces are not literal here */
        S("re", "(?ix) \\+ \\+ ", "++", 1),
        S("re|i", "k.k.k", "\xE2\x84\xAAxKxk", 1), /* U+212A KELVIN SIGN is a 'k' */
        S("re|i", "s.*s", "\xC5\xBF-S", 1),        /* U+017F LONG S is an 's' */
        S("re|i", "ab.*CD", "xABycdz", 1),
        S("re", "ab.*CD", "xABycdz", 0),
        S("re", "ab.*bc", "abc", 0), /* runs do not overlap */
        S("re", "ab.*bc", "abbc", 1),
        S("re", "a.*b", "a\xFF b", 0), /* '.' does not match invalid UTF-8 */
        S("re|s", ".*A.*a",
          "\xC3"
          "A a",
          1), /* a match after invalid UTF-8 is found */
        S("re", ".*A.*a",
          "\xC3"
          "A a",
          1),
        S("re", "a.*b",
          "a\xC3\xA9"
          "b",
          1),
        S("re", "a,b,c,d,e", "a,b,c,d,e", 1),
        S("re", "a,b,c,d,e", "a,b,c,d;e", 0),
        S("re", "(,,)?,x,", ",x,", 1), /* a group's characters are not counted */
        S("re", ",?,?,x", "x,", 0),
        S("re", ",?,?,x", ",x", 1), /* the optional ones are not counted */
    };
    RUN(rows);
    { /* an escaped NUL is a character to find, not the end of a run (found by fuzzing) */
        va_arena na;
        va_arena_init(&na, 0);
        static const char pat[] = "\\+.*\\\0\x15";
        va_value_lit lit = {VA_VALUE_STR, pat, sizeof pat - 1};
        va_value *m = NULL;
        const char *why = NULL;
        assert_int_equal(va_value_compile(&na, "re", 2, &lit, 1, NULL, 0, &m, &why), VA_OK);
        va_value_scratch *sc = va_value_scratch_new();
        assert_non_null(sc);
        assert_int_equal(match_both(m, sc, "+\x15", 2, VA_V_STR, "no NUL"), 0);
        assert_int_equal(match_both(m, sc, "+\0\x15", 3, VA_V_STR, "NUL"), 1);
        va_value_scratch_free(sc);
        va_value_free(m);
        va_arena_free(&na);
    }
    static const char *const pats[] = {
        "\\+.*\\+.*\\+.*\\+",
        "a\\+\\+b",
        "\\+{2}.\\+",
        "\\+[+]\\+",
        "(?x) \\+ \\+ # comment",
        "\\+\\+|a",
        "(\\+|a)\\+\\+",
        "^\\+.\\+$",
        "\\+ \\+ \\+",
        "(?i)A\\+A\\+",
        "a.*b",
        "a.*?b.*",
        ".*A.*a",
        "(?i)a.*\\+a",
        "(?s)a.*a",
        "(?is)A.*+",
        "k.*s",
        "a\\..*\\+",
    };
    static const char *const mods[] = {"re", "re|i", "re|s", "re|i|s", "re|m"};
    static const uint32_t opts[] = {0, PCRE2_CASELESS, PCRE2_DOTALL, PCRE2_CASELESS | PCRE2_DOTALL,
                                    PCRE2_MULTILINE};
    static const char *const units[] = {"+", "a", "A",        " ",    "\n",          ".",
                                        "k", "S", "\xC3\xA9", "\xC3", "\xE2\x84\xAA"};
    va_arena a;
    va_arena_init(&a, 0);
    va_value_scratch *sc = va_value_scratch_new();
    assert_non_null(sc);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    assert_non_null(md);
    uint32_t seed = 12345;
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        for (size_t o = 0; o < sizeof mods / sizeof mods[0]; o++) {
            va_value *m = compile_list(&a, mods[o], &pats[p], 1, NULL, 0);
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)pats[p], PCRE2_ZERO_TERMINATED,
                                           PCRE2_UTF | PCRE2_MATCH_INVALID_UTF |
                                               PCRE2_NO_DOTSTAR_ANCHOR | opts[o],
                                           &ec, &eo, NULL);
            assert_non_null(re);
            (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the engine vaern matches with */
            for (int k = 0; k < 1000; k++) {
                char subj[64];
                size_t n = 0;
                seed = seed * 1103515245u + 12345u;
                for (size_t len = (seed >> 16) % 16; len; len--) {
                    seed = seed * 1103515245u + 12345u;
                    const char *u = units[(seed >> 16) % (sizeof units / sizeof units[0])];
                    memcpy(subj + n, u, strlen(u));
                    n += strlen(u);
                }
                int want = pcre2_match(re, (PCRE2_SPTR)subj, n, 0, 0, md, NULL) >= 0;
                if (match_both(m, sc, subj, n, VA_V_STR, pats[p]) != want)
                    fail_msg("%s '%s' on '%.*s': want %d", mods[o], pats[p], (int)n, subj, want);
            }
            pcre2_code_free(re);
            va_value_free(m);
        }
    }
    pcre2_match_data_free(md);
    va_value_scratch_free(sc);
    va_arena_free(&a);
}

/* ---- CIDR -------------------------------------------------------------------------------- */

static void test_cidr(void **state) {
    (void)state;
    static const row rows[] = {
        S("cidr", "10.0.0.0/8", "10.1.2.3", 1),
        S("cidr", "10.0.0.0/8", "10.255.255.255", 1),
        S("cidr", "10.0.0.0/8", "11.0.0.1", 0),
        S("cidr", "10.0.0.0/8", "9.255.255.255", 0),
        S("cidr", "10.0.0.0/8", "::ffff:10.1.2.3", 1), /* IPv4-mapped IPv6 */
        S("cidr", "10.0.0.0/8", "::ffff:11.1.2.3", 0),
        S("cidr", "10.0.0.0/8", "::10.1.2.3", 0), /* compatible, not mapped */
        S("cidr", "10.0.0.0/8", "not-an-ip", 0),
        S("cidr", "10.0.0.0/8", "", 0),
        S("cidr", "10.0.0.0/8", "10.0.0.1 ", 0),
        S("cidr", "10.0.0.0/8", "10.0.0", 0),
        S("cidr", "10.1.2.3/8", "10.9.9.9", 1), /* host bits in the network are ignored */
        S("cidr", "0.0.0.0/0", "255.255.255.255", 1),
        S("cidr", "0.0.0.0/0", "0.0.0.0", 1),
        S("cidr", "0.0.0.0/0", "::1", 0),
        S("cidr", "192.168.1.1/32", "192.168.1.1", 1),
        S("cidr", "192.168.1.1/32", "192.168.1.2", 0),
        S("cidr", "192.168.1.1", "192.168.1.1", 1), /* no prefix: one address */
        S("cidr", "192.168.1.0/24", "192.168.1.255", 1),
        S("cidr", "192.168.1.0/24", "192.168.2.0", 0),
        S("cidr", "172.16.0.0/12", "172.31.255.255", 1),
        S("cidr", "172.16.0.0/12", "172.32.0.0", 0),
        S("cidr", "2001:db8::/32", "2001:db8::1", 1),
        S("cidr", "2001:db8::/32", "2001:DB8:ffff::1", 1),
        S("cidr", "2001:db8::/32", "2001:db9::1", 0),
        S("cidr", "2001:db8::/32", "10.0.0.1", 0),
        S("cidr", "::/0", "fe80::1", 1),
        S("cidr", "::/0", "1.2.3.4", 1), /* IPv4 seen as ::ffff:1.2.3.4 */
        S("cidr", "::1/128", "::1", 1),
        S("cidr", "::1/128", "::2", 0),
        S("cidr", "::1/128", "0:0:0:0:0:0:0:1", 1),
        S("cidr", "fe80::/10", "fe80::1%eth0", 1),
        S("cidr", "fe80::/10", "febf::1", 1),
        S("cidr", "fe80::/10", "fec0::1", 0),
        S("cidr", "::ffff:0:0/96", "10.1.2.3", 1),
        S("cidr", "::ffff:10.0.0.0/104", "10.9.9.9", 1),
        S("cidr", "::ffff:10.0.0.0/104", "11.9.9.9", 0),
        S("cidr|neq", "10.0.0.0/8", "10.1.2.3", 0),
        S("cidr|neq", "10.0.0.0/8", "8.8.8.8", 1),
    };
    RUN(rows);
}

/* ---- lists, all, expand, fieldref -------------------------------------------------------- */

static void test_lists_all(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_value_scratch *sc = va_value_scratch_new();
    assert_non_null(sc);
    const char *two[] = {"OabVirtualDirectory", " -ExternalUrl "};
    va_value *any = compile_list(&a, "contains", two, 2, NULL, 0);
    va_value *all = compile_list(&a, "contains|all", two, 2, NULL, 0);
    assert_true(va_value_flags(all) & VA_VALUE_F_ALL);
    assert_false(va_value_flags(any) & VA_VALUE_F_ALL);
    assert_int_equal(va_value_nvalues(all), 2);
    const char *both = "Set-OabVirtualDirectory -ExternalUrl http://x";
    const char *one = "Set-OabVirtualDirectory -InternalUrl http://x";
    assert_int_equal(smatch(any, sc, both), 1);
    assert_int_equal(smatch(any, sc, one), 1);
    assert_int_equal(smatch(all, sc, both), 1);
    assert_int_equal(smatch(all, sc, one), 0);
    assert_int_equal(smatch(any, sc, "nothing"), 0);
    /* Per-value primitive for engines that spread `all` over repeated fields. */
    va_value_subj s = {one, strlen(one), VA_V_STR, NULL, 0};
    assert_int_equal(va_value_match_value(all, 0, sc, &s), 1);
    assert_int_equal(va_value_match_value(all, 1, sc, &s), 0);
    assert_int_equal(va_value_match_value(all, 2, sc, &s), 0);
    /* A list of numbers: OR; with neq, different from all of them. */
    va_value_lit ids[] = {{VA_VALUE_INT, "517", 3}, {VA_VALUE_INT, "1102", 4}};
    va_value *m;
    const char *why;
    assert_int_equal(va_value_compile(&a, "", 0, ids, 2, NULL, 0, &m, &why), VA_OK);
    assert_int_equal(match_both(m, sc, "1102", 4, VA_V_UINT, "1102"), 1);
    assert_int_equal(match_both(m, sc, "517", 3, VA_V_UINT, "517"), 1);
    assert_int_equal(match_both(m, sc, "518", 3, VA_V_UINT, "518"), 0);
    assert_int_equal(va_value_compile(&a, "neq", 3, ids, 2, NULL, 0, &m, &why), VA_OK);
    assert_int_equal(match_both(m, sc, "1102", 4, VA_V_UINT, "neq 1102"), 0);
    assert_int_equal(match_both(m, sc, "518", 3, VA_V_UINT, "neq 518"), 1);
    /* gt with all: within a range. */
    va_value_lit range[] = {{VA_VALUE_INT, "10", 2}, {VA_VALUE_INT, "20", 2}};
    assert_int_equal(va_value_compile(&a, "gt|all", 6, range, 2, NULL, 0, &m, &why), VA_OK);
    assert_int_equal(match_both(m, sc, "25", 2, VA_V_INT, "25"), 1);
    assert_int_equal(match_both(m, sc, "15", 2, VA_V_INT, "15"), 0);
    va_value_free(any);
    va_value_free(all);
    va_value_scratch_free(sc);
    va_arena_free(&a);
}

static void test_expand(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_value_scratch *sc = va_value_scratch_new();
    assert_non_null(sc);
    const char *servers[] = {"srv*", "dc01"};
    const char *names[] = {"x"};
    const char *admins[] = {"admin", "root"};
    va_value_placeholder ph[] = {
        {"Servers", servers, 2}, {"name", names, 1}, {"Administrators", admins, 2}};
    const char *v1[] = {"%Servers%"};
    va_value *m = compile_list(&a, "expand", v1, 1, ph, 3);
    assert_int_equal(smatch(m, sc, "SRV-12"), 1);
    assert_int_equal(smatch(m, sc, "dc01"), 1);
    assert_int_equal(smatch(m, sc, "ws01"), 0);
    assert_int_equal(smatch(m, sc, "%Servers%"), 0);
    /* `\%plain%name%`: %plain is plain, %name% a placeholder (rules specification). */
    const char *v2[] = {"\\%plain%name%"};
    m = compile_list(&a, "expand", v2, 1, ph, 3);
    assert_int_equal(smatch(m, sc, "%plainx"), 1);
    assert_int_equal(smatch(m, sc, "%plain%name%"), 0);
    const char *v3[] = {"user=%Administrators%;host=%Servers%"};
    m = compile_list(&a, "expand|contains", v3, 1, ph, 3);
    assert_int_equal(smatch(m, sc, "..user=root;host=srv9.."), 1);
    assert_int_equal(smatch(m, sc, "..user=root;host=ws9.."), 0);
    /* Placeholder values are expanded before encoding when expand comes first. */
    const char *v4[] = {"%name%y"};
    m = compile_list(&a, "expand|base64", v4, 1, ph, 3);
    assert_int_equal(smatch(m, sc, "eHk="), 1); /* b64("xy") */
    /* windash before expand leaves the placeholder's name alone and permutes its values. */
    const char *dashed[] = {"-x"};
    va_value_placeholder ph2[] = {{"a-b", dashed, 1}};
    const char *v6[] = {"%a-b%"};
    m = compile_list(&a, "windash|expand", v6, 1, ph2, 1);
    assert_int_equal(smatch(m, sc, "-x"), 1);
    assert_int_equal(smatch(m, sc, "/x"), 0);
    m = compile_list(&a, "expand|windash", v6, 1, ph2, 1);
    assert_int_equal(smatch(m, sc, "/x"), 1);
    /* An unresolved placeholder is an error naming it. */
    const char *v5[] = {"%Nope%"};
    va_value_lit lit = {VA_VALUE_STR, v5[0], strlen(v5[0])};
    const char *why = NULL;
    va_value *bad = NULL;
    assert_int_equal(va_value_compile(&a, "expand", 6, &lit, 1, ph, 3, &bad, &why), VA_EFORMAT);
    assert_non_null(why);
    assert_non_null(strstr(why, "%Nope%"));
    assert_null(bad);
    /* base64 before expand cannot encode the placeholder. */
    assert_int_equal(va_value_compile(&a, "base64|expand", 13, &lit, 1, ph, 3, &bad, &why),
                     VA_EFORMAT);
    assert_non_null(strstr(why, "expand"));
    va_value_scratch_free(sc);
    va_arena_free(&a);
}

static void test_fieldref(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_value_scratch *sc = va_value_scratch_new();
    assert_non_null(sc);
    const char *ref[] = {"TargetUserName"};
    struct {
        const char *mods, *subj, *other;
        int want;
    } rows[] = {
        {"fieldref", "Admin", "admin", 1},
        {"fieldref", "Admin", "Admin2", 0},
        {"fieldref|cased", "Admin", "admin", 0},
        {"fieldref|cased", "Admin", "Admin", 1},
        {"fieldref|startswith", "AdminXYZ", "admin", 1},
        {"fieldref|startswith", "XAdmin", "admin", 0},
        {"fieldref|endswith", "XAdmin", "ADMIN", 1},
        {"fieldref|contains", "xxADMINxx", "admin", 1},
        {"fieldref|contains", "xxADMxx", "admin", 0},
        {"fieldref", "\xC3\x84", "\xC3\xA4", 1},
        {"fieldref|neq", "a", "a", 1}, /* per-value primitive: neq is the engine's to apply */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        va_value *m = compile_list(&a, rows[i].mods, ref, 1, NULL, 0);
        assert_true(va_value_flags(m) & VA_VALUE_F_FIELDREF);
        size_t n = 0;
        const char *name = va_value_ref_name(m, 0, &n);
        assert_non_null(name);
        assert_int_equal(n, strlen(ref[0]));
        assert_memory_equal(name, ref[0], n);
        va_value_subj s = {rows[i].subj, strlen(rows[i].subj), VA_V_STR, NULL, 0};
        va_value_subj o = {rows[i].other, strlen(rows[i].other), VA_V_STR, NULL, 0};
        if (va_value_match_ref(m, 0, sc, &s, &o) != rows[i].want) fail_msg("fieldref row %zu", i);
        assert_int_equal(va_value_match(m, sc, &s), 0);
    }
    va_value_scratch_free(sc);
    va_arena_free(&a);
}

/* ---- compile errors ---------------------------------------------------------------------- */

static void test_errors(void **state) {
    (void)state;
    static const struct {
        const char *mods;
        va_value_kind kind;
        const char *val;
        va_err want;
        const char *why_has;
    } rows[] = {
        {"foo", VA_VALUE_STR, "x", VA_EUNSUPPORTED, "foo"},
        {"contains|foo", VA_VALUE_STR, "x", VA_EUNSUPPORTED, "foo"},
        {"minute", VA_VALUE_STR, "5", VA_EFORMAT, "minute"},
        {"minute|hour", VA_VALUE_INT, "5", VA_EFORMAT, "time"},
        {"hour|contains", VA_VALUE_INT, "5", VA_EFORMAT, "contains"},
        {"re|hour", VA_VALUE_STR, "5", VA_EFORMAT, "hour"},
        {"exists", VA_VALUE_BOOL, "maybe", VA_EFORMAT, "maybe"},
        {"Contains", VA_VALUE_STR, "x", VA_EUNSUPPORTED, "Contains"},
        {"contains|startswith", VA_VALUE_STR, "x", VA_EFORMAT, "startswith"},
        {"endswith|contains", VA_VALUE_STR, "x", VA_EFORMAT, "endswith"},
        {"contains|contains", VA_VALUE_STR, "x", VA_EFORMAT, "twice"},
        {"contains|", VA_VALUE_STR, "x", VA_EFORMAT, "empty"},
        {"|contains", VA_VALUE_STR, "x", VA_EFORMAT, "empty"},
        {"i", VA_VALUE_STR, "x", VA_EFORMAT, "re"},
        {"i|re", VA_VALUE_STR, "x", VA_EFORMAT, "re"},
        {"re|contains", VA_VALUE_STR, "x", VA_EFORMAT, "contains"},
        {"base64|re", VA_VALUE_STR, "x", VA_EFORMAT, "base64"},
        {"re", VA_VALUE_STR, "(", VA_EFORMAT, "re"},
        {"re", VA_VALUE_STR, "a{2,1}", VA_EFORMAT, "re"},
        {"contains|base64", VA_VALUE_STR, "foo", VA_EFORMAT, "wildcard"},
        {"base64", VA_VALUE_STR, "fo*o", VA_EFORMAT, "wildcard"},
        {"base64offset", VA_VALUE_STR, "fo?o", VA_EFORMAT, "wildcard"},
        {"base64|base64offset", VA_VALUE_STR, "foo", VA_EFORMAT, "base64"},
        {"wide|utf16be", VA_VALUE_STR, "foo", VA_EFORMAT, "utf16"},
        {"cidr|re", VA_VALUE_STR, "10.0.0.0/8", VA_EFORMAT, "cidr"},
        {"cidr|contains", VA_VALUE_STR, "10.0.0.0/8", VA_EFORMAT, "contains"},
        {"cidr", VA_VALUE_STR, "10.0.0.0/33", VA_EFORMAT, "cidr"},
        {"cidr", VA_VALUE_STR, "10.0.0.0/", VA_EFORMAT, "cidr"},
        {"cidr", VA_VALUE_STR, "10.0.0/8", VA_EFORMAT, "cidr"},
        {"cidr", VA_VALUE_STR, "::/129", VA_EFORMAT, "cidr"},
        {"cidr", VA_VALUE_STR, "10.0.0.0/8x", VA_EFORMAT, "cidr"},
        {"cidr", VA_VALUE_STR, "fe80::%1/64", VA_EFORMAT, "cidr"},
        {"gt", VA_VALUE_STR, "abc", VA_EFORMAT, "gt"},
        {"gt", VA_VALUE_STR, "10", VA_EFORMAT, "number"}, /* numeric modifiers want numbers */
        {"lt|gt", VA_VALUE_INT, "10", VA_EFORMAT, "lt"},
        {"gt|contains", VA_VALUE_INT, "10", VA_EFORMAT, "contains"},
        {"exists", VA_VALUE_STR, "yes", VA_EFORMAT, "exists"},
        {"exists|contains", VA_VALUE_BOOL, "true", VA_EFORMAT, "exists"},
        {"exists|neq", VA_VALUE_BOOL, "true", VA_EFORMAT, "exists"},
        {"contains", VA_VALUE_NULL, "", VA_EFORMAT, "null"},
        {"all", VA_VALUE_STR, "x", VA_EFORMAT, "all"},
        {"fieldref|re", VA_VALUE_STR, "Other", VA_EFORMAT, "fieldref"},
        {"fieldref|base64", VA_VALUE_STR, "Other", VA_EFORMAT, "base64"},
        {"fieldref", VA_VALUE_STR, "", VA_EFORMAT, "fieldref"},
        {"windash|base64offset", VA_VALUE_STR, "-a-b-c-d-e-f", VA_ELIMIT, "windash"},
        {"base64offset", VA_VALUE_STR, "", VA_EFORMAT, "base64offset"},
        {"expand", VA_VALUE_STR, "%missing%", VA_EFORMAT, "%missing%"},
        {"", VA_VALUE_INT, "12abc", VA_EFORMAT, "12abc"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        va_arena a;
        va_arena_init(&a, 0);
        va_value_lit lit = {rows[i].kind, rows[i].val, strlen(rows[i].val)};
        va_value *m = (va_value *)&a; /* must be reset to NULL on failure */
        const char *why = NULL;
        va_err e =
            va_value_compile(&a, rows[i].mods, strlen(rows[i].mods), &lit, 1, NULL, 0, &m, &why);
        if (e != rows[i].want)
            fail_msg("error row %zu (%s: '%s'): got %s (%s), want %s", i, rows[i].mods, rows[i].val,
                     va_err_name(e), why ? why : "-", va_err_name(rows[i].want));
        assert_null(m);
        assert_non_null(why);
        if (!strstr(why, rows[i].why_has))
            fail_msg("error row %zu: reason '%s' does not mention '%s'", i, why, rows[i].why_has);
        va_arena_free(&a);
    }
    /* null in a list, and an empty list. */
    va_arena a;
    va_arena_init(&a, 0);
    va_value_lit two[] = {{VA_VALUE_STR, "", 0}, {VA_VALUE_NULL, "", 0}};
    va_value *m;
    const char *why;
    assert_int_equal(va_value_compile(&a, "", 0, two, 2, NULL, 0, &m, &why), VA_EFORMAT);
    assert_non_null(strstr(why, "null"));
    assert_int_equal(va_value_compile(&a, "", 0, two, 0, NULL, 0, &m, &why), VA_EFORMAT);
    /* A regex compiled in a list whose later value fails is released (checked under ASan). */
    va_value_lit res[] = {{VA_VALUE_STR, "ok", 2}, {VA_VALUE_STR, "(", 1}};
    assert_int_equal(va_value_compile(&a, "re", 2, res, 2, NULL, 0, &m, &why), VA_EFORMAT);
    va_arena_free(&a);
}

/* ---- large subjects ---------------------------------------------------------------------- */

static void test_big_subject(void **state) {
    (void)state;
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    memcpy(big + n - 6, "NEEDLE", 6);
    big[n] = 0;
    va_arena a;
    va_arena_init(&a, 0);
    va_value_scratch *sc = va_value_scratch_new();
    assert_non_null(sc);
    struct {
        const char *mods, *pat;
        int want;
    } rows[] = {
        {"contains", "needle", 1},
        {"contains|cased", "needle", 0},
        {"contains|cased", "NEEDLE", 1},
        {"endswith", "needle", 1},
        {"startswith", "aaa", 1},
        {"startswith", "needle", 0},
        {"contains", "haystack", 0},
        {"", "a*a?a*needle", 1},
        {"", "*b*", 0},
        {"", "a*needlf", 0},
        {"re", "NEEDLE$", 1},
        {"base64offset|contains", "needle", 0},
        {"windash|contains", "-needle", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        va_value *m = compile_list(&a, rows[i].mods, &rows[i].pat, 1, NULL, 0);
        if (match_both(m, sc, big, n, VA_V_STR, rows[i].pat) != rows[i].want)
            fail_msg("big row %zu (%s: %s)", i, rows[i].mods, rows[i].pat);
        va_value_free(m);
    }
    va_value_scratch_free(sc);
    va_arena_free(&a);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_wildcards),
        cmocka_unit_test(test_case_folding),
        cmocka_unit_test(test_fold_blocks),
        cmocka_unit_test(test_fold_api),
        cmocka_unit_test(test_position_modifiers),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_null_exists),
        cmocka_unit_test(test_time_parts),
        cmocka_unit_test(test_windash),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_re),
        cmocka_unit_test(test_re_pathological),
        cmocka_unit_test(test_re_shortcuts),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_lists_all),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_fieldref),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_big_subject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
