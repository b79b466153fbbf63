/*
 * test_core.c - unit tests for src/core: arena, buffers and escaping, UTF-16/UTF-8, time,
 * the flat event and its JSON form, and the ordered work queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_rand.h"

#include "core/arena.h"
#include "core/array.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/find.h"
#include "core/hash.h"
#include "core/utf.h"
#include "core/vtime.h"
#include "core/workq.h"

static void arena_alloc_align_reset(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 1024);
    char *p = va_arena_alloc(&a, 10);
    char *q = va_arena_alloc(&a, 10);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_int_equal((uintptr_t)q % 16, 0);
    assert_true(q >= p + 10);
    /* An oversized request gets its own block. */
    char *big = va_arena_alloc(&a, 100000);
    assert_non_null(big);
    memset(big, 1, 100000);
    size_t reserved = a.total;
    va_arena_reset(&a);
    /* After a reset the kept blocks are reused: no new memory for the same pattern. */
    assert_non_null(va_arena_alloc(&a, 10));
    assert_non_null(va_arena_alloc(&a, 100000));
    assert_int_equal(a.total, reserved);
    char *s = va_arena_strndup(&a, "abcdef", 3);
    assert_string_equal(s, "abc");
    va_arena_free(&a);
    assert_int_equal(a.total, 0);
}

static void buf_json_escaping(void **state) {
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"\xc3\xa5", 2, "\"\xc3\xa5\""}, /* valid UTF-8 kept */
        {"\xff"
         "a",
         2,
         "\"\xef\xbf\xbd"
         "a\""},                                         /* invalid byte -> U+FFFD */
        {"\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""}, /* truncated sequence */
        {"a\0b", 3, "\"a\\u0000b\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        va_buf b;
        va_buf_init(&b);
        va_buf_json_str(&b, cases[i].in, cases[i].len);
        assert_false(b.oom);
        assert_string_equal(b.p, cases[i].out);
        va_buf_free(&b);
    }
}

/* The escaper for valid UTF-8 (16 and 8 bytes a step) against the byte-by-byte one: every
 * length around the steps, every character JSON escapes at every position, UTF-8 around it. */
static void buf_json_escaping_valid(void **state) {
    (void)state;
    const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\0', '\t', '\x7f'};
    for (size_t n = 0; n <= 70; n++) {
        for (size_t at = 0; at <= n; at++) {
            char s[80];
            for (size_t i = 0; i < n; i++) s[i] = (char)('a' + (i * 7) % 26);
            if (at < n) s[at] = specials[(n + at) % sizeof specials];
            if (n > 40 && at != n / 2) s[n / 2] = '"'; /* two to escape */
            /* A two-byte character where it overlaps neither. */
            size_t u = n >= 4 ? (at + n) % (n - 1) : n;
            if (u + 1 < n && u != at && u + 1 != at && (n <= 40 || (u != n / 2 && u + 1 != n / 2)))
                memcpy(s + u, "\xc3\xa9", 2);
            va_buf a, b;
            va_buf_init(&a), va_buf_init(&b);
            va_buf_puts(&a, "x"), va_buf_puts(&b, "x");
            va_buf_json_str_valid(&a, s, n);
            va_buf_json_str(&b, s, n);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.p, b.p, a.len);
            va_buf_free(&a), va_buf_free(&b);
        }
    }
}

/* The escaper that checks UTF-8 (sixteen plain ASCII bytes a step) against itself on pieces
 * shorter than a step, cut before ASCII bytes only (so no character is cut): random text of
 * plain ASCII, bytes JSON escapes, UTF-8 and broken UTF-8 must escape to the same bytes. */
static void buf_json_escaping_pieces(void **state) {
    (void)state;
    static const char *const bits[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                       "\xc3",     "\xff",         "\x80",
                                       "\"",       "\\",           "\n",
                                       "\x01",     "\x7f",         "\x1f"};
    uint64_t seed = 7;
    for (int round = 0; round < 3000; round++) {
        char s[300];
        size_t n = 0;
        while (n < 200) {
            unsigned r = (unsigned)(test_rand_next(&seed) >> 33);
            if (r % 11 == 0) {
                const char *x = bits[(r / 11) % 12];
                memcpy(s + n, x, strlen(x));
                n += strlen(x);
            } else {
                s[n++] = (char)(' ' + r % 95);
            }
        }
        size_t len = (size_t)(seed >> 40) % n + 1;
        va_buf whole, parts;
        va_buf_init(&whole), va_buf_init(&parts);
        va_buf_json_str(&whole, s, len);
        va_buf_putc(&parts, '"');
        for (size_t at = 0; at < len;) {
            size_t end = at + 1;
            while (end < len && end - at < 15 && (unsigned char)s[end] >= 0x80) end++;
            while (end < len && end - at < 15 && (unsigned char)s[end] < 0x80 && end - at < 9)
                end++;
            while (end < len && (unsigned char)s[end] >= 0x80) end++; /* never inside a character */
            va_buf one;
            va_buf_init(&one);
            va_buf_json_str(&one, s + at, end - at);
            va_buf_put(&parts, one.p + 1, one.len - 2); /* without its quotes */
            va_buf_free(&one);
            at = end;
        }
        va_buf_putc(&parts, '"');
        assert_int_equal(whole.len, parts.len);
        assert_memory_equal(whole.p, parts.p, whole.len);
        va_buf_free(&whole), va_buf_free(&parts);
    }
}

static void buf_xml_and_numbers(void **state) {
    (void)state;
    va_buf b;
    va_buf_init(&b);
    va_buf_xml_esc(&b, "a<b>&\"c\"", 9, 0);
    assert_string_equal(b.p, "a&lt;b&gt;&amp;\"c\"");
    va_buf_clear(&b);
    va_buf_xml_esc(&b, "\"q\"", 3, 1);
    assert_string_equal(b.p, "&quot;q&quot;");
    va_buf_clear(&b);
    va_buf_u64(&b, UINT64_MAX);
    va_buf_putc(&b, ' ');
    va_buf_i64(&b, INT64_MIN);
    va_buf_putc(&b, ' ');
    va_buf_i64(&b, 0);
    assert_string_equal(b.p, "18446744073709551615 -9223372036854775808 0");
    /* Every number of digits, at its edges, against printf. */
    for (uint64_t p10 = 1;; p10 *= 10) {
        for (uint64_t v = p10 - 1; v <= p10 + 1; v++) {
            char want[24];
            snprintf(want, sizeof want, "%llu", (unsigned long long)v);
            va_buf_clear(&b);
            va_buf_u64(&b, v);
            assert_string_equal(b.p, want);
        }
        if (p10 > UINT64_MAX / 10) break;
    }
    va_buf_clear(&b);
    /* printf longer than the internal stack buffer */
    va_buf_printf(&b, "%0300d", 7);
    assert_int_equal(b.len, 300);
    assert_int_equal(b.p[299], '7');
    va_buf_free(&b);
}

static void buf_growth(void **state) {
    (void)state;
    va_buf b;
    va_buf_init(&b);
    /* Starts at 256 bytes and doubles, the NUL counted. */
    assert_int_equal(va_buf_reserve(&b, 10), 0);
    assert_int_equal(b.cap, 256);
    va_buf_put(&b, "abc", 3);
    assert_int_equal(va_buf_reserve(&b, 252), 0);
    assert_int_equal(b.cap, 256);
    assert_int_equal(va_buf_reserve(&b, 253), 0);
    assert_int_equal(b.cap, 512);
    assert_int_equal(va_buf_reserve(&b, 5000), 0);
    assert_int_equal(b.cap, 8192);
    assert_string_equal(b.p, "abc");
    /* A size whose sum would overflow is refused and marks the buffer, which keeps its text. */
    assert_int_equal(va_buf_reserve(&b, SIZE_MAX - 1), -1);
    assert_true(b.oom);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.p, "abc", 3);
    va_buf_free(&b);
}

static void utf16_conversion(void **state) {
    (void)state;
    /* "Aå€" + surrogate pair U+1F600 + lone high surrogate + lone low surrogate */
    const uint8_t in[] = {0x41, 0x00, 0xe5, 0x00, 0xac, 0x20, 0x3d, 0xd8,
                          0x00, 0xde, 0x3d, 0xd8, 0x41, 0x00, 0x00, 0xdc};
    char out[64];
    size_t n = va_utf16le_conv(in, sizeof in / 2, out);
    out[n] = 0;
    assert_string_equal(out, "A\xc3\xa5\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd"
                             "A\xef\xbf\xbd");
    assert_true(n <= va_utf16_max_utf8(sizeof in / 2));
    assert_true(va_utf8_valid(out, n));
    assert_false(va_utf8_valid("\xc0\x80", 2));     /* overlong NUL */
    assert_false(va_utf8_valid("\xed\xa0\x80", 3)); /* encoded surrogate */
    assert_true(va_utf8_valid("\xef\xbf\xbd", 3));
}

/* UTF-16LE of an ASCII/Latin-1 string (one code unit per byte of s). */
static size_t to_utf16(const char *s, size_t n, uint8_t *out) {
    for (size_t i = 0; i < n; i++) out[2 * i] = (uint8_t)s[i], out[2 * i + 1] = 0;
    return n;
}

static void utf16_conversion_options(void **state) {
    (void)state;
    uint8_t in[128];
    char out[400];
    unsigned found;
    /* Every length around the 8-unit blocks, with and without a character JSON escapes at
     * every position: the finding must be exact, the text copied as is. */
    for (size_t n = 0; n <= 40; n++) {
        for (size_t at = 0; at <= n; at++) {
            char s[48];
            for (size_t i = 0; i < n; i++) s[i] = (char)('a' + i % 26);
            const char specials[] = {'"', '\\', '\n', '\x01'};
            char sp = specials[(n + at) % 4];
            if (at < n) s[at] = sp;
            to_utf16(s, n, in);
            found = 0;
            size_t l = va_utf16le_conv_ex(in, n, out, 0, &found);
            assert_int_equal(l, n);
            assert_memory_equal(out, s, n);
            assert_int_equal(found, at < n ? VA_UTF16_JSON_ESC : 0);
        }
    }
    /* Stop at the first NUL, wherever it falls; a NUL is not a finding, what precedes is. */
    for (size_t n = 1; n <= 40; n++) {
        for (size_t at = 0; at < n; at++) {
            char s[48];
            for (size_t i = 0; i < n; i++) s[i] = (char)('A' + i % 26);
            s[at] = 0;
            to_utf16(s, n, in);
            found = 0;
            size_t l = va_utf16le_conv_ex(in, n, out, VA_UTF16_STOP_NUL, &found);
            assert_int_equal(l, at);
            assert_memory_equal(out, s, at);
            assert_int_equal(found, 0);
            /* Without the option the NUL is text (and a control character). */
            found = 0;
            assert_int_equal(va_utf16le_conv_ex(in, n, out, 0, &found), n);
            assert_int_equal(found, VA_UTF16_JSON_ESC);
        }
    }
    /* Non-ASCII inside and after a block, a surrogate pair across the block boundary and a
     * lone surrogate before the NUL. */
    const uint8_t mixed[] = {'a', 0, 'b',  0,    'c',  0,    'd',  0,    'e',  0,
                             'f', 0, 'g',  0,    0x3d, 0xd8, 0x00, 0xde, 0xe5, 0x00,
                             'h', 0, 0x3d, 0xd8, 0,    0,    'z',  0};
    found = 0;
    size_t l = va_utf16le_conv_ex(mixed, sizeof mixed / 2, out, VA_UTF16_STOP_NUL, &found);
    out[l] = 0;
    assert_string_equal(out, "abcdefg\xf0\x9f\x98\x80\xc3\xa5h\xef\xbf\xbd");
    assert_int_equal(found, 0);
    /* The buffer and arena forms give the same text. */
    va_buf b;
    va_buf_init(&b);
    va_buf_puts(&b, "x");
    found = 0;
    va_utf16le_buf_ex(&b, mixed, sizeof mixed / 2, VA_UTF16_STOP_NUL, &found);
    assert_string_equal(b.p, "xabcdefg\xf0\x9f\x98\x80\xc3\xa5h\xef\xbf\xbd");
    va_buf_free(&b);
    va_arena a;
    va_arena_init(&a, 4096);
    size_t dl;
    found = 0;
    to_utf16("say \"hi\"", 8, in);
    char *d = va_utf16le_dup_ex(&a, in, 8, &dl, &found);
    assert_non_null(d);
    assert_string_equal(d, "say \"hi\"");
    assert_int_equal(dl, 8);
    assert_int_equal(found, VA_UTF16_JSON_ESC);
    va_arena_free(&a);
}

static void time_format_and_parse(void **state) {
    (void)state;
    char s[48];
    /* 2016-07-08T18:12:51.6816408Z as FILETIME */
    uint64_t ft = 131124751716816408ULL;
    va_time_fmt_filetime(ft, 9, s);
    assert_string_equal(s, "2016-07-08T18:12:51.681640800Z");
    va_time_fmt_filetime(ft, 7, s);
    assert_string_equal(s, "2016-07-08T18:12:51.6816408Z");
    va_time_fmt_filetime(0, 7, s);
    assert_string_equal(s, "1601-01-01T00:00:00.0000000Z");
    va_time_fmt_filetime(UINT64_MAX, 0, s); /* far beyond the ns range: still formatted */
    assert_string_equal(s, "60056-05-28T05:36:10Z");
    int64_t ns = va_time_from_filetime(ft);
    va_time_fmt_ns(ns, 7, s);
    assert_string_equal(s, "2016-07-08T18:12:51.6816408Z");
    int64_t p;
    assert_int_equal(va_time_parse_iso("2016-07-08T18:12:51.6816408Z", 28, &p), 0);
    assert_int_equal(p, ns);
    assert_int_equal(va_time_parse_iso("2016-07-08 20:12:51.6816408+02:00", 33, &p), 0);
    assert_int_equal(p, ns);
    assert_int_equal(va_time_parse_iso("1970-01-01", 10, &p), 0);
    assert_int_equal(p, 0);
    va_time_fmt_ns(-1, 3, s);
    assert_string_equal(s, "1969-12-31T23:59:59.999Z");
    static const char *bad[] = {"2016-13-01", "2016-07-08T25:00",         "2016-07-08T18:12:51.",
                                "x",          "2016-07-08T18:12:51Zjunk", "9999-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(va_time_parse_iso(bad[i], strlen(bad[i]), &p), 0);
}

static void event_json_and_facts(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_event ev;
    va_event_init(&ev, &a);
    assert_int_equal(va_event_add(&ev, "EventID", 7, "4625", 4, VA_V_UINT), VA_OK);
    assert_int_equal(va_event_add(&ev, "Channel", 7, "Security", 8, VA_V_STR), VA_OK);
    assert_int_equal(va_event_add(&ev, "Data", 4, "a", 1, VA_V_STR), VA_OK);
    assert_int_equal(va_event_add(&ev, "TimeCreated", 11, "2020-01-02T03:04:05.5Z", 22, VA_V_STR),
                     VA_OK);
    assert_int_equal(va_event_add(&ev, "Data", 4, "7", 1, VA_V_INT), VA_OK);
    assert_int_equal(va_event_add(&ev, "Empty", 5, NULL, 0, VA_V_NULL), VA_OK);
    assert_int_equal(va_event_add_copy(&ev, "Ok", 2, "true", 4, VA_V_BOOL), VA_OK);
    assert_int_equal(va_event_add(&ev, "EventRecordID", 13, "42", 2, VA_V_UINT), VA_OK);
    /* Many fields: the field array grows inside the arena. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(va_event_add(&ev, "X", 1, "y", 1, VA_V_STR), VA_OK);
    va_event_finish(&ev);
    assert_int_equal(ev.event_id, 4625);
    assert_int_equal(ev.record_id, 42);
    assert_non_null(ev.channel);
    assert_string_equal(ev.channel->val, "Security");
    assert_null(ev.provider);
    int64_t t;
    va_time_parse_iso("2020-01-02T03:04:05.5Z", 22, &t);
    assert_int_equal(ev.time_ns, t);
    assert_string_equal(va_event_get(&ev, "Data")->val, "a");
    assert_null(va_event_get(&ev, "data"));
    /* The same facts from the fields with a fact's name only. */
    uint32_t idx[16], nidx = 0;
    for (uint32_t i = 0; i < ev.n; i++)
        if (va_event_fact_name(ev.f[i].name, ev.f[i].nlen)) idx[nidx++] = i;
    assert_int_equal(nidx, 4); /* EventID, Channel, TimeCreated, EventRecordID */
    va_event ev2 = ev;
    ev2.channel = ev2.provider = ev2.computer = NULL;
    ev2.event_id = -1, ev2.record_id = 0, ev2.time_ns = VA_TIME_NONE;
    va_event_finish_only(&ev2, idx, nidx);
    assert_ptr_equal(ev2.channel, ev.channel);
    assert_int_equal(ev2.event_id, ev.event_id);
    assert_int_equal(ev2.record_id, ev.record_id);
    assert_int_equal(ev2.time_ns, ev.time_ns);
    static const char *const facts[] = {"Channel",     "EventID",       "Computer",
                                        "TimeCreated", "Provider_Name", "EventRecordID"};
    for (size_t i = 0; i < 6; i++) {
        assert_true(va_event_fact_name(facts[i], strlen(facts[i])));
        assert_false(va_event_fact_name(facts[i], strlen(facts[i]) - 1));
    }
    assert_false(va_event_fact_name("Channel_", 8));
    assert_false(va_event_fact_name("Provider_Guid", 13));
    va_buf b;
    va_buf_init(&b);
    va_event_json(&ev, &b);
    const char *want = "{\"EventID\":4625,\"Channel\":\"Security\",\"Data\":[\"a\",7],"
                       "\"TimeCreated\":\"2020-01-02T03:04:05.5Z\",\"Empty\":null,\"Ok\":true,"
                       "\"EventRecordID\":42,\"X\":[";
    assert_memory_equal(b.p, want, strlen(want));
    va_buf_free(&b);
    va_arena_free(&a);
}

/* Work queue: items finish out of order (later items are cheaper) but are delivered in order. */
typedef struct wq_item {
    int seq;
    volatile int result;
} wq_item;

typedef struct wq_state {
    int next_expected;
    int delivered;
    int stop_at;
} wq_state;

/* The JSON of ev as the format says, written the obvious quadratic way: each name once, at
 * its first occurrence, with all its values (an array when there are several). */
static void json_reference(const va_event *ev, va_buf *out) {
    va_buf_putc(out, '{');
    for (uint32_t i = 0; i < ev->n; i++) {
        const va_field *f = &ev->f[i];
        uint32_t j, n = 0;
        for (j = 0; j < i; j++)
            if (ev->f[j].nlen == f->nlen && !memcmp(ev->f[j].name, f->name, f->nlen)) break;
        if (j < i) continue;
        for (j = i; j < ev->n; j++)
            n += ev->f[j].nlen == f->nlen && !memcmp(ev->f[j].name, f->name, f->nlen);
        if (out->len > 1) va_buf_putc(out, ',');
        va_buf_json_str(out, f->name, f->nlen);
        va_buf_putc(out, ':');
        if (n > 1) va_buf_putc(out, '[');
        for (j = i, n = 0; j < ev->n; j++) {
            const va_field *g = &ev->f[j];
            if (g->nlen != f->nlen || memcmp(g->name, f->name, f->nlen)) continue;
            if (n++) va_buf_putc(out, ',');
            if (g->type == VA_V_UINT)
                va_buf_put(out, g->val, g->vlen);
            else
                va_buf_json_str(out, g->val, g->vlen);
        }
        if (n > 1) va_buf_putc(out, ']');
    }
    va_buf_putc(out, '}');
}

/* Repeated names in every arrangement, in small events (the quick test) and in events past its
 * 128 fields (the table), with one scratch reused from a huge event to small ones; plain
 * flags only skip escaping, they never change the text. */
static void event_json_repeated_names(void **state) {
    (void)state;
    va_json_scratch sc = {0};
    static const char *const names[] = {"A",
                                        "B",
                                        "Data",
                                        "LongerName_0123456789",
                                        "LongerName_0123456789x",
                                        "x\"y",
                                        "C",
                                        "LongerName_9123456789"};
    const size_t sizes[] = {5000, 1, 2, 3, 17, 64, 127, 128, 129, 300, 7};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (unsigned pattern = 0; pattern < 4; pattern++) {
            va_arena a;
            va_arena_init(&a, 0);
            va_event ev;
            va_event_init(&ev, &a);
            char nb[32], vb[32];
            for (size_t i = 0; i < sizes[si]; i++) {
                const char *n;
                if (pattern == 0) { /* all distinct */
                    snprintf(nb, sizeof nb, "F%zu", i);
                    n = nb;
                } else if (pattern == 1) { /* a few names over and over */
                    n = names[(i * 7 + i / 3) % 8];
                } else if (pattern == 2) { /* distinct, one repeat at the very end */
                    snprintf(nb, sizeof nb, "F%zu", i + 1 == sizes[si] ? (size_t)0 : i);
                    n = nb;
                } else { /* same first and last bytes, different middles */
                    snprintf(nb, sizeof nb, "Prefix%03zu_Suffix", i % 50);
                    n = nb;
                }
                snprintf(vb, sizeof vb, "v%zu\t", i);
                int numeric = i % 3 == 0;
                if (numeric) snprintf(vb, sizeof vb, "%zu", i);
                assert_int_equal(va_event_add_copy(&ev, n, strlen(n), vb, strlen(vb),
                                                   numeric ? VA_V_UINT : VA_V_STR),
                                 VA_OK);
                /* Plain where it is true: the output must not change. */
                if (!strchr(n, '"')) ev.f[ev.n - 1].flags |= VA_FIELD_NAME_PLAIN;
                if (numeric) ev.f[ev.n - 1].flags |= VA_FIELD_VAL_PLAIN;
            }
            va_buf want, got, got2;
            va_buf_init(&want), va_buf_init(&got), va_buf_init(&got2);
            json_reference(&ev, &want);
            va_event_json_with(&ev, &got, &sc);
            va_event_json(&ev, &got2);
            assert_non_null(got.p);
            assert_string_equal(got.p, want.p);
            assert_string_equal(got2.p, want.p);
            va_buf_free(&want), va_buf_free(&got), va_buf_free(&got2);
            va_arena_free(&a);
        }
    }
    va_json_scratch_free(&sc);
    va_json_scratch_free(&sc); /* freeing twice is harmless */
}

static void wq_work(void *ud, void *item, int worker) {
    (void)ud, (void)worker;
    wq_item *it = item;
    volatile unsigned long x = 0;
    for (int i = 0; i < (100 - it->seq % 100) * 1000; i++) x += (unsigned long)i;
    it->result = it->seq * 2 + (int)(x & 0); /* x is only there to take time */
}

static int wq_done(void *ud, void *item) {
    wq_state *s = ud;
    wq_item *it = item;
    assert_int_equal(it->seq, s->next_expected);
    assert_int_equal(it->result, it->seq * 2);
    s->next_expected++;
    s->delivered++;
    return s->stop_at && s->delivered == s->stop_at;
}

static void run_queue(int threads, int n, int stop_at) {
    wq_item items[8];
    void *slots[8];
    for (int i = 0; i < 8; i++) slots[i] = &items[i];
    wq_state s = {0, 0, stop_at};
    va_workq *q = va_workq_new(threads, slots, threads > 1 ? 8 : 1, wq_work, wq_done, &s);
    assert_non_null(q);
    int submitted = 0;
    for (int i = 0; i < n; i++) {
        wq_item *it = va_workq_acquire(q);
        if (!it) break;
        it->seq = i;
        it->result = -1;
        va_workq_submit(q, it);
        submitted++;
    }
    int stopped = va_workq_finish(q);
    va_workq_free(q);
    if (stop_at) {
        assert_true(stopped);
        assert_true(submitted < n);
    } else {
        assert_false(stopped);
        assert_int_equal(s.delivered, n);
    }
}

static void workq_order(void **state) {
    (void)state;
    run_queue(1, 50, 0);
    run_queue(2, 500, 0);
    run_queue(4, 500, 0);
    run_queue(2, 500, 20); /* a consumer that stops early */
}

/* The index table against a plain array of keys: inserts, lookups, removals (backward shift)
 * and renumbering over many rounds, with colliding and distinct keys. */
typedef struct hkey {
    uint64_t k;
    int live;
} hkey;

static uint32_t hfind(const va_hash *t, const hkey *keys, uint64_t k, int collide) {
    uint64_t h = collide ? k % 7 : va_hash_u64(0, k);
    va_hash_iter it;
    for (uint32_t i = va_hash_first(t, h, &it); i != VA_HASH_END; i = va_hash_next(t, &it))
        if (keys[i].live && keys[i].k == k) return i;
    return VA_HASH_END;
}

static void hash_table_model(void **state) {
    (void)state;
    for (int collide = 0; collide < 2; collide++) {
        va_hash t;
        va_hash_init(&t);
        assert_int_equal(hfind(&t, NULL, 1, collide), VA_HASH_END); /* empty, no memory */
        enum { N = 3000 };
        static hkey keys[N + 1];
        memset(keys, 0, sizeof keys);
        uint64_t x = 88172645463325252ull;
        for (int round = 0; round < 20000; round++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint32_t i = (uint32_t)(x % N);
            uint64_t h = collide ? (uint64_t)i % 7 : va_hash_u64(0, i);
            if (!keys[i].live) {
                assert_int_equal(va_hash_insert(&t, h, i), 0);
                keys[i].k = i, keys[i].live = 1;
            } else if (x & 0x100) {
                assert_int_equal(va_hash_remove(&t, h, i), 0);
                assert_int_equal(va_hash_remove(&t, h, i), -1);
                keys[i].live = 0;
            }
        }
        uint32_t live = 0;
        for (uint32_t i = 0; i < N; i++) {
            live += keys[i].live;
            assert_int_equal(hfind(&t, keys, i, collide), keys[i].live ? i : VA_HASH_END);
        }
        assert_int_equal(t.n, live);
        /* Renumbering: a live key moves to the spare last entry of the caller's array. */
        for (uint32_t i = 0; i < N; i++)
            if (keys[i].live) {
                uint64_t h = collide ? (uint64_t)i % 7 : va_hash_u64(0, i);
                assert_int_equal(va_hash_renumber(&t, h, i, N), 0);
                keys[N] = keys[i], keys[i].live = 0;
                assert_int_equal(hfind(&t, keys, i, collide), N);
                break;
            }
        va_hash_clear(&t);
        assert_int_equal(t.n, 0);
        assert_int_equal(hfind(&t, keys, 5, collide), VA_HASH_END);
        va_hash_free(&t);
    }
}

static void hash_functions(void **state) {
    (void)state;
    const char *a = "Microsoft-Windows-Sysmon/Operational",
               *b = "microsoft-windows-sysmon/operational";
    size_t n = strlen(a);
    assert_true(va_hash_mem(a, n, 0) != va_hash_mem(b, n, 0));
    assert_true(va_hash_mem_lower(a, n, 0) == va_hash_mem(b, n, 0));
    assert_true(va_hash_mem_lower(a, n, 0) == va_hash_mem_lower(b, n, 0));
    /* Every length up to two words, and bytes at and beyond 0x80 left alone by lowering. */
    unsigned char u[20], l[20];
    for (size_t len = 0; len <= sizeof u; len++) {
        for (size_t i = 0; i < len; i++) {
            u[i] = (unsigned char)("AZaz@[`{\xc3\x89\xc3\xa9"[i % 12]);
            l[i] = (u[i] >= 'A' && u[i] <= 'Z') ? (unsigned char)(u[i] + 32) : u[i];
        }
        assert_true(va_hash_mem_lower(u, len, 7) == va_hash_mem(l, len, 7));
        if (len) assert_true(va_hash_mem(u, len, 0) != va_hash_mem(u, len - 1, 0));
    }
    /* Different seeds, different hashes; mixing depends on both sides. */
    assert_true(va_hash_mem(a, n, 1) != va_hash_mem(a, n, 2));
    assert_true(va_hash_u64(1, 2) != va_hash_u64(2, 1));
    /* The checksum: a flip of any one bit of a block of every length up to 130 bytes (all four
     * lanes, the word tail and the byte tail) changes it; so do the length and the seed. */
    unsigned char blk[130];
    for (size_t i = 0; i < sizeof blk; i++) blk[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof blk; len++) {
        uint64_t h = va_hash_sum(blk, len, 5);
        assert_true(h == va_hash_sum(blk, len, 5));
        assert_true(h != va_hash_sum(blk, len, 6));
        if (len) assert_true(h != va_hash_sum(blk, len - 1, 5));
        for (size_t i = 0; i < len; i++)
            for (int bit = 0; bit < 8; bit += 3) {
                blk[i] ^= (unsigned char)(1u << bit);
                assert_true(h != va_hash_sum(blk, len, 5));
                blk[i] ^= (unsigned char)(1u << bit);
            }
    }
    /* Words swapped between lanes are a different block. */
    memcpy(blk, "AAAAAAAABBBBBBBBCCCCCCCCDDDDDDDD", 32);
    uint64_t h1 = va_hash_sum(blk, 32, 0);
    memcpy(blk, "BBBBBBBBAAAAAAAACCCCCCCCDDDDDDDD", 32);
    assert_true(h1 != va_hash_sum(blk, 32, 0));
}

static void array_grow(void **state) {
    (void)state;
    uint32_t *v = NULL;
    size_t cap = 0, n = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        assert_int_equal(VA_ARRAY_GROW(v, cap, n + 1), 0);
        v[n++] = i;
    }
    assert_true(cap >= 1000 && cap < 2048);
    for (uint32_t i = 0; i < 1000; i++) assert_int_equal(v[i], i);
    /* An impossible size is refused and the array is untouched. */
    uint32_t *keep = v;
    size_t keep_cap = cap;
    assert_int_equal(VA_ARRAY_GROW(v, cap, SIZE_MAX / 2), -1);
    assert_ptr_equal(v, keep);
    assert_int_equal(cap, keep_cap);
    free(v);
}

/* va_find agrees with memmem on random text over a small alphabet (many near matches), at
 * every needle length and alignment, and on the edges. */
static void find_like_memmem(void **state) {
    (void)state;
    static unsigned char hay[300], nd[24];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 20000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t hn = (size_t)(x % sizeof hay), nn = (size_t)((x >> 20) % sizeof nd);
        for (size_t i = 0; i < hn; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            hay[i] = (unsigned char)("abAB\0\xff"[x % 6]);
        }
        if (nn && hn && (x & 1)) { /* often a real occurrence */
            size_t at = (size_t)((x >> 8) % hn);
            for (size_t i = 0; i < nn; i++) nd[i] = hay[(at + i) % hn];
        } else {
            for (size_t i = 0; i < nn; i++) nd[i] = (unsigned char)("abAB"[(x >> (i % 60)) % 4]);
        }
        const void *want = memmem(hay, hn, nd, nn), *got = va_find(hay, hn, nd, nn);
        if (want != got) fail_msg("hn %zu nn %zu: memmem %p va_find %p", hn, nn, want, got);
    }
    assert_null(va_find("ab", 2, "abc", 3));
    const char *ab = "ab";
    assert_ptr_equal(va_find(ab, 2, "", 0), ab);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_alloc_align_reset),
        cmocka_unit_test(buf_json_escaping),
        cmocka_unit_test(buf_json_escaping_valid),
        cmocka_unit_test(buf_json_escaping_pieces),
        cmocka_unit_test(buf_xml_and_numbers),
        cmocka_unit_test(buf_growth),
        cmocka_unit_test(utf16_conversion),
        cmocka_unit_test(utf16_conversion_options),
        cmocka_unit_test(time_format_and_parse),
        cmocka_unit_test(event_json_and_facts),
        cmocka_unit_test(event_json_repeated_names),
        cmocka_unit_test(workq_order),
        cmocka_unit_test(hash_table_model),
        cmocka_unit_test(hash_functions),
        cmocka_unit_test(array_grow),
        cmocka_unit_test(find_like_memmem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
