/*
 * test_output.c - unit tests for src/output: the alert sink in its three formats (exact text,
 * escaping of hostile input, JSON validity checked with vaern's parser, CSV structure and the
 * formula guard, table order, ties, the sort bound, colour and width fitting with multibyte
 * text), the summary, write errors, the terminal-safe text helpers and the progress bar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/utf.h"
#include "core/vtime.h"
#include "json/json.h"
#include "output/output.h"
#include "output/progress.h"

#define T0  1603420600671000000LL /* 2020-10-23T02:36:40.6710000Z */
#define SEC 1000000000LL

/* ---- helpers ----------------------------------------------------------------------------- */

static va_alert mk(const char *title, const char *level, int64_t t) {
    va_alert a;
    memset(&a, 0, sizeof a);
    a.kind = VA_ALERT_SIGMA;
    a.time_ns = t;
    a.title = title;
    a.level = level;
    a.event_id = -1;
    a.first_ns = VA_TIME_NONE;
    return a;
}

static va_kv kv(const char *name, const char *val) {
    va_kv k = {name, val, name ? (uint32_t)strlen(name) : 0, val ? (uint32_t)strlen(val) : 0};
    return k;
}

/* Everything the sink writes for these alerts, NUL-terminated; the caller frees it. */
static char *run(const va_out_opts *o, const va_alert *v, size_t n) {
    char *p = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&p, &len);
    assert_non_null(f);
    va_out *out = NULL;
    assert_int_equal(va_out_open(o, f, &out), VA_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(va_out_alert(out, &v[i]), VA_OK);
    assert_int_equal(va_out_close(out), VA_OK);
    assert_int_equal(fclose(f), 0);
    return p;
}

/* The summary of these alerts. */
static char *summary(const va_alert *v, size_t n, int color) {
    char *p = NULL, *q = NULL;
    size_t len = 0, qlen = 0;
    FILE *f = open_memstream(&p, &len), *sink = open_memstream(&q, &qlen);
    assert_non_null(f);
    assert_non_null(sink);
    va_out_opts o = {VA_OUT_JSONL, 0, 0, 0};
    va_out *out = NULL;
    assert_int_equal(va_out_open(&o, sink, &out), VA_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(va_out_alert(out, &v[i]), VA_OK);
    assert_int_equal(va_out_summary(out, f, color), VA_OK);
    assert_int_equal(va_out_close(out), VA_OK);
    fclose(f);
    fclose(sink);
    free(q);
    return p;
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Parse one JSON line strictly (invalid UTF-8 is an error); the DOM lives in a. */
static const va_json *parse_line(va_arena *a, const char *s, size_t n) {
    va_json_opts jo = {0, 0, 1};
    va_json *root = NULL;
    va_json_error err;
    va_err e = va_json_parse(a, s, n, &jo, &root, &err);
    if (e) fprintf(stderr, "bad JSON (%s at %zu): %.*s\n", err.reason, err.offset, (int)n, s);
    assert_int_equal(e, VA_OK);
    assert_int_equal(root->type, VA_JSON_OBJECT);
    return root;
}

/* Deterministic pseudo-random bytes for the hostile-input tests. */
static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* Random bytes, biased towards the troublesome ones: controls, quotes, separators, formula
 * starters, UTF-8 fragments, C1 and bidi controls. */
static size_t rnd_text(uint64_t *s, char *out, size_t max) {
    static const char *const bits[] = {"\x1b[2J",     "\x1b]0;x\x07",
                                       "\"",          ",",
                                       "\r\n",        "\n",
                                       "\t",          "=",
                                       "+",           "-",
                                       "@",           "'",
                                       "\\",          "\xff",
                                       "\xc3",        "\xe6\xbc\xa2",
                                       "\xc2\x9b",    "\xe2\x80\xae",
                                       "e\xcc\x81",   "\xf0\x9f\x98\x80",
                                       "a",           "bc",
                                       " ",           "\x7f",
                                       "\0",          ";",
                                       "\xed\xa0\x80"};
    size_t n = 0, want = rnd(s) % max;
    while (n < want) {
        if (rnd(s) % 3 == 0) {
            out[n++] = (char)(rnd(s) & 0xFF);
            continue;
        }
        const char *b = bits[rnd(s) % (sizeof bits / sizeof bits[0])];
        size_t bl = b[0] ? strlen(b) : 1;
        if (n + bl > max) break;
        memcpy(out + n, b, bl);
        n += bl;
    }
    return n;
}

/* ---- names ------------------------------------------------------------------------------- */

static void fmt_and_level_names(void **state) {
    (void)state;
    va_out_fmt f = VA_OUT_JSONL;
    assert_int_equal(va_out_fmt_parse("csv", &f), 0);
    assert_int_equal(f, VA_OUT_CSV);
    assert_int_equal(va_out_fmt_parse("TABLE", &f), 0);
    assert_int_equal(f, VA_OUT_TABLE);
    assert_int_equal(va_out_fmt_parse("jsonl", &f), 0);
    assert_int_equal(f, VA_OUT_JSONL);
    assert_int_equal(va_out_fmt_parse("xml", &f), -1);
    assert_int_equal(va_out_fmt_parse(NULL, &f), -1);
    assert_int_equal(f, VA_OUT_JSONL); /* untouched on failure */
    assert_int_equal(va_out_level_rank("Critical"), VA_OUT_CRITICAL);
    assert_int_equal(va_out_level_rank("informational"), VA_OUT_INFORMATIONAL);
    assert_int_equal(va_out_level_rank("info"), -1);
    assert_int_equal(va_out_level_rank(NULL), -1);
}

static void open_rejects_bad_arguments(void **state) {
    (void)state;
    va_out *out = (va_out *)&out;
    va_out_opts bad = {(va_out_fmt)0, 0, 0, 0}, good = {VA_OUT_CSV, 0, 0, 0};
    assert_int_equal(va_out_open(&bad, stdout, &out), VA_EUSAGE);
    assert_null(out);
    assert_int_equal(va_out_open(&good, NULL, &out), VA_EUSAGE);
    assert_int_equal(va_out_open(NULL, stdout, &out), VA_EUSAGE);
    assert_int_equal(va_out_alert(NULL, NULL), VA_EUSAGE);
    assert_int_equal(va_out_close(NULL), VA_OK);
}

/* ---- JSON lines -------------------------------------------------------------------------- */

static void jsonl_full_alert_exact(void **state) {
    (void)state;
    static const char *const tags[] = {"attack.execution", "attack.t1059"};
    va_kv f[] = {kv("CommandLine", "whoami /all"), kv("User", "bob"), kv("CommandLine", "id"),
                 kv("Empty", NULL)};
    va_alert a = mk("Suspicious Whoami", "high", T0);
    a.id = "abc-123";
    a.author = "Jane";
    a.tags = tags;
    a.ntags = 2;
    a.computer = "DC01.corp";
    a.channel = "Security";
    a.event_id = 4688;
    a.record_id = 42;
    a.file = "logs/a.evtx";
    a.fields = f;
    a.nfields = 4;
    va_out_opts o = {VA_OUT_JSONL, 1, 0, 0}; /* colour does not touch JSON */
    char *s = run(&o, &a, 1);
    assert_string_equal(
        s, "{\"time\":\"2020-10-23T02:36:40.6710000Z\",\"rule\":\"Suspicious Whoami\","
           "\"id\":\"abc-123\",\"level\":\"high\",\"author\":\"Jane\","
           "\"tags\":[\"attack.execution\",\"attack.t1059\"],\"computer\":\"DC01.corp\","
           "\"channel\":\"Security\",\"event_id\":4688,\"record_id\":42,"
           "\"file\":\"logs/a.evtx\",\"fields\":{\"CommandLine\":[\"whoami /all\",\"id\"],"
           "\"User\":\"bob\",\"Empty\":null}}\n");
    free(s);
}

static void jsonl_absent_values_omitted(void **state) {
    (void)state;
    va_alert a = mk(NULL, NULL, VA_TIME_NONE);
    va_alert b = mk("R", NULL, T0);
    b.event_id = 0; /* 0 is an event ID; only negative means none */
    va_alert v[] = {a, b};
    va_out_opts o = {VA_OUT_JSONL, 0, 0, 0};
    char *s = run(&o, v, 2);
    assert_string_equal(s, "{\"tags\":[],\"fields\":{}}\n"
                           "{\"time\":\"2020-10-23T02:36:40.6710000Z\",\"rule\":\"R\","
                           "\"tags\":[],\"event_id\":0,\"fields\":{}}\n");
    free(s);
}

static void jsonl_correlation(void **state) {
    (void)state;
    va_kv g[] = {kv("User", "bob"), kv("Computer", "WS7")};
    va_alert a = mk("Many logons", "medium", T0 + 5 * SEC);
    a.kind = VA_ALERT_CORRELATION;
    a.count = 12;
    a.first_ns = T0;
    a.fields = g;
    a.nfields = 2;
    a.computer = "WS7";
    va_alert b = a;
    b.first_ns = VA_TIME_NONE;
    b.count = 0;
    b.fields = NULL;
    b.nfields = 3; /* fields NULL wins over a stray count */
    va_alert v[] = {a, b};
    va_out_opts o = {VA_OUT_JSONL, 0, 0, 0};
    char *s = run(&o, v, 2);
    assert_string_equal(s, "{\"time\":\"2020-10-23T02:36:45.6710000Z\",\"rule\":\"Many logons\","
                           "\"level\":\"medium\",\"tags\":[],\"computer\":\"WS7\","
                           "\"type\":\"correlation\",\"count\":12,"
                           "\"first_time\":\"2020-10-23T02:36:40.6710000Z\","
                           "\"fields\":{\"User\":\"bob\",\"Computer\":\"WS7\"}}\n"
                           "{\"time\":\"2020-10-23T02:36:45.6710000Z\",\"rule\":\"Many logons\","
                           "\"level\":\"medium\",\"tags\":[],\"computer\":\"WS7\","
                           "\"type\":\"correlation\",\"count\":0,\"fields\":{}}\n");
    free(s);
}

static void jsonl_escaping_and_utf8(void **state) {
    (void)state;
    /* quote, backslash, comma, newlines, tab, ESC sequence, other C0, DEL, a NUL inside the
     * value, an invalid byte and a truncated sequence. */
    static const char val[] = "q\"b\\c,\n\r\t\x1b[2J\x01\x7f"
                              "\0z\xff\xc3(";
    va_kv f[] = {{"Cmd\nLine", val, 8, sizeof val - 1}, kv("Cmd\nLine", "x")};
    va_alert a = mk("T\xe2\x80\xae\xc3\xa5", "low", T0);
    a.computer = "\xff\xfe";
    a.fields = f;
    a.nfields = 2;
    va_out_opts o = {VA_OUT_JSONL, 0, 0, 0};
    char *s = run(&o, &a, 1);
    assert_string_equal(s, "{\"time\":\"2020-10-23T02:36:40.6710000Z\","
                           "\"rule\":\"T\xe2\x80\xae\xc3\xa5\",\"level\":\"low\",\"tags\":[],"
                           "\"computer\":\"\xef\xbf\xbd\xef\xbf\xbd\",\"fields\":{\"Cmd\\nLine\":"
                           "[\"q\\\"b\\\\c,\\n\\r\\t\\u001b[2J\\u0001\x7f\\u0000z\xef\xbf\xbd"
                           "\xef\xbf\xbd(\",\"x\"]}}\n");
    /* The project's strict parser accepts it and gives back the text (invalid bytes as
     * U+FFFD, everything else as it was). */
    va_arena ar;
    va_arena_init(&ar, 0);
    const va_json *root = parse_line(&ar, s, strlen(s));
    const va_json *fl = va_json_get(va_json_get(root, "fields"), "Cmd\nLine");
    assert_non_null(fl);
    assert_int_equal(fl->type, VA_JSON_ARRAY);
    static const char back[] = "q\"b\\c,\n\r\t\x1b[2J\x01\x7f"
                               "\0z\xef\xbf\xbd\xef\xbf\xbd(";
    assert_int_equal(fl->child->len, sizeof back - 1);
    assert_memory_equal(fl->child->s, back, sizeof back - 1);
    va_arena_free(&ar);
    free(s);
}

static void jsonl_valid_for_any_bytes(void **state) {
    (void)state;
    enum { N = 300 };
    static char text[N][6][64];
    static size_t len[N][6];
    static va_kv f[N][3];
    static const char *tg[N][1];
    static va_alert v[N];
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 6; k++) {
            len[i][k] = rnd_text(&seed, text[i][k], sizeof text[i][k] - 1);
            text[i][k][len[i][k]] = 0; /* C strings end at the first NUL; kv values do not */
        }
        f[i][0] = (va_kv){text[i][0], text[i][1], (uint32_t)len[i][0], (uint32_t)len[i][1]};
        f[i][1] = (va_kv){text[i][0], text[i][2], (uint32_t)len[i][0], (uint32_t)len[i][2]};
        f[i][2] = (va_kv){text[i][3], text[i][4], (uint32_t)len[i][3], (uint32_t)len[i][4]};
        tg[i][0] = text[i][5];
        v[i] = mk(text[i][5], text[i][1], (int64_t)(rnd(&seed) % (250 * 365 * 86400LL)) * SEC);
        v[i].computer = text[i][2];
        v[i].author = text[i][3];
        v[i].tags = tg[i];
        v[i].ntags = 1;
        v[i].fields = f[i];
        v[i].nfields = 3;
        if (i % 3 == 0) v[i].kind = VA_ALERT_CORRELATION, v[i].first_ns = -(int64_t)i * SEC;
    }
    va_out_opts o = {VA_OUT_JSONL, 0, 0, 0};
    char *s = run(&o, v, N);
    assert_int_equal(count_lines(s), N);
    va_arena ar;
    va_arena_init(&ar, 0);
    const char *p = s;
    for (int i = 0; i < N; i++) {
        const char *e = strchr(p, '\n');
        assert_non_null(e);
        va_arena_reset(&ar);
        const va_json *root = parse_line(&ar, p, (size_t)(e - p));
        assert_non_null(va_json_get(root, "time"));
        assert_non_null(va_json_get(root, "fields"));
        assert_int_equal(va_json_get(root, "type") != NULL, i % 3 == 0);
        p = e + 1;
    }
    va_arena_free(&ar);
    free(s);
}

/* ---- CSV --------------------------------------------------------------------------------- */

#define CSV_HEADER                                                                                 \
    "time,level,rule,id,computer,channel,event_id,record_id,file,fields,author,tags,type,count,"   \
    "first_time,undecided\r\n"

static void csv_exact_quoting_and_guard(void **state) {
    (void)state;
    static const char *const tags[] = {"attack.t1", "attack.t2"};
    va_kv f[] = {kv("CommandLine", "cmd /c \"a,b\"\nnext"), kv("User", "bob")};
    va_alert a = mk("=HYPERLINK(\"http://x\")", "high", T0);
    a.id = "+id";
    a.author = "-1+2";
    a.computer = "@SUM(A1)";
    a.channel = "\tTab";
    a.file = "\rx.evtx";
    a.tags = tags;
    a.ntags = 2;
    a.event_id = 4688;
    a.record_id = 7;
    a.fields = f;
    a.nfields = 2;
    va_alert b = mk("it's, fine", NULL, VA_TIME_NONE);
    static const char nul_val[] = "a\0b\xff";
    va_kv g[] = {{"K", nul_val, 1, sizeof nul_val - 1}};
    b.fields = g;
    b.nfields = 1;
    va_alert c = mk("Burst", "low", T0 + SEC);
    c.kind = VA_ALERT_CORRELATION;
    c.count = 9;
    c.first_ns = T0;
    va_kv h[] = {kv("User", "=cmd")};
    c.fields = h;
    c.nfields = 1;
    b.undecided = "=CommandLine"; /* a field name is input too: guarded like any cell */
    va_alert v[] = {a, b, c};
    va_out_opts o = {VA_OUT_CSV, 1, 0, 0};
    char *s = run(&o, v, 3);
    assert_string_equal(s, CSV_HEADER
                        "2020-10-23T02:36:40.6710000Z,high,\"'=HYPERLINK(\"\"http://x\"\")\",'+id,"
                        "'@SUM(A1),'\tTab,4688,7,\"'\rx.evtx\",\"CommandLine=cmd /c \"\"a,b\"\"\n"
                        "next; User=bob\",'-1+2,attack.t1 attack.t2,sigma,,,\r\n"
                        ",,\"it's, fine\",,,,,,,K=a\xef\xbf\xbd"
                        "b\xef\xbf\xbd,,,sigma,,,'=CommandLine\r\n"
                        "2020-10-23T02:36:41.6710000Z,low,Burst,,,,,,,User==cmd,,,correlation,9,"
                        "2020-10-23T02:36:40.6710000Z,\r\n");
    free(s);
}

static void csv_header_without_alerts(void **state) {
    (void)state;
    va_out_opts o = {VA_OUT_CSV, 0, 0, 0};
    char *s = run(&o, NULL, 0);
    assert_string_equal(s, CSV_HEADER);
    free(s);
}

/* A minimal RFC 4180 reader: number of cells in each record, or -1 on a syntax error.  Also
 * checks that no cell starts like a formula. */
static int csv_records(const char *s, int *cells, int max) {
    int nrec = 0, ncell = 0;
    const char *p = s;
    while (*p) {
        const char *start = p;
        int quoted = *p == '"';
        if (quoted) {
            p++;
            for (;;) {
                if (!*p) return -1;
                if (*p == '"' && p[1] == '"') {
                    p += 2;
                    continue;
                }
                if (*p == '"') break;
                p++;
            }
            p++;
            start++;
        } else {
            while (*p && *p != ',' && *p != '\r' && *p != '\n' && *p != '"') p++;
            if (*p == '"' || *p == '\n') return -1;
        }
        if (p > start && strchr("=+-@\t\r", *start)) return -1;
        ncell++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (p[0] != '\r' || p[1] != '\n') return -1;
        p += 2;
        if (nrec == max) return -1;
        cells[nrec++] = ncell;
        ncell = 0;
    }
    return ncell ? -1 : nrec;
}

static void csv_structure_for_any_bytes(void **state) {
    (void)state;
    enum { N = 300 };
    static char text[N][4][64];
    static size_t len[N][4];
    static va_kv f[N][2];
    static va_alert v[N];
    uint64_t seed = 12345;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 4; k++) {
            len[i][k] = rnd_text(&seed, text[i][k], sizeof text[i][k] - 1);
            text[i][k][len[i][k]] = 0;
        }
        f[i][0] = (va_kv){text[i][0], text[i][1], (uint32_t)len[i][0], (uint32_t)len[i][1]};
        f[i][1] = (va_kv){text[i][2], text[i][3], (uint32_t)len[i][2], (uint32_t)len[i][3]};
        v[i] = mk(text[i][3], text[i][0], T0);
        v[i].computer = text[i][1];
        v[i].file = text[i][2];
        v[i].fields = f[i];
        v[i].nfields = 2;
    }
    va_out_opts o = {VA_OUT_CSV, 0, 0, 0};
    char *s = run(&o, v, N);
    assert_true(va_utf8_valid(s, strlen(s)));
    static int cells[N + 1];
    assert_int_equal(csv_records(s, cells, N + 1), N + 1);
    for (int i = 0; i <= N; i++) assert_int_equal(cells[i], 16);
    free(s);
}

/* ---- table ------------------------------------------------------------------------------- */

static void table_sorted_with_stable_ties(void **state) {
    (void)state;
    va_kv fa[] = {kv("User", "alice"), kv("Image", "C:\\x.exe")};
    va_alert a = mk("Rule B", "high", T0 + 2 * SEC);
    a.computer = "WS1";
    a.event_id = 4688;
    a.fields = fa;
    a.nfields = 2;
    va_alert b = mk("Rule A", "low", T0);
    b.computer = "DC01";
    b.event_id = 4624;
    va_alert c = mk("Rule C", "medium", T0 + 2 * SEC); /* same time as a, after it in input */
    c.computer = "WS1";
    c.event_id = 1;
    va_alert d = mk("Rule D", "informational", VA_TIME_NONE);
    va_alert e = mk(NULL, "weird-level", T0 + SEC);
    e.id = "id-only";
    e.kind = VA_ALERT_CORRELATION;
    e.count = 3;
    e.first_ns = T0;
    va_alert v[] = {a, b, c, d, e};
    va_out_opts o = {VA_OUT_TABLE, 0, 100, 0};
    char *s = run(&o, v, 5);
    /* Columns: time 19, level 8, computer max(8, widest), EID right-aligned max(3, digits),
     * rule max(4, widest), details last; two spaces apart; no trailing padding. */
    char want[2048];
    snprintf(want, sizeof want,
             "%-19s  %-8s  %-8s  %4s  %-7s  %s\n"
             "%-19s  %-8s  %-8s  %4s  %s\n"
             "%-19s  %-8s  %-8s  %4s  %s\n"
             "%-19s  %s  %-8s  %4s  %-7s  %s\n" /* %s: printf pads bytes, not columns */
             "%-19s  %-8s  %-8s  %4s  %-7s  %s\n"
             "%-19s  %-8s  %-8s  %4s  %s\n",
             "TIME", "LEVEL", "COMPUTER", "EID", "RULE", "DETAILS",             /* header */
             "-", "info", "-", "-", "Rule D",                                   /* no time */
             "2020-10-23 02:36:40", "low", "DC01", "4624", "Rule A",            /* T0 */
             "2020-10-23 02:36:41", "weird-l\xe2\x80\xa6", "-", "-", "id-only", /* T0+1 */
             "count: 3 \xc2\xa6 first: 2020-10-23 02:36:40",                    /*  */
             "2020-10-23 02:36:42", "high", "WS1", "4688", "Rule B",            /* T0+2 */
             "User: alice \xc2\xa6 Image: C:\\x.exe",                           /*  */
             "2020-10-23 02:36:42", "medium", "WS1", "1", "Rule C");            /* tie */
    assert_string_equal(s, want);
    free(s);
}

static void table_sort_bound(void **state) {
    (void)state;
    va_alert v[] = {mk("R1", "low", T0 + 3 * SEC), mk("R2", "low", T0 + 1 * SEC),
                    mk("R3", "low", T0 + 4 * SEC), mk("R4", "low", T0 + 2 * SEC),
                    mk("R5", "low", T0)};
    va_out_opts o = {VA_OUT_TABLE, 0, 0, 2};
    char *s = run(&o, v, 5);
    char want[1024];
    const char *row = "2020-10-23 02:36:4%d  %-8s  %-8s  %3s  %s\n";
    /* The header keeps DETAILS; rows without details end after the rule. */
    int n = snprintf(want, sizeof want, "%-19s  %-8s  %-8s  %3s  %-4s  %s\n", "TIME", "LEVEL",
                     "COMPUTER", "EID", "RULE", "DETAILS");
    n += snprintf(want + n, sizeof want - (size_t)n, row, 1, "low", "-", "-", "R2");
    n += snprintf(want + n, sizeof want - (size_t)n, row, 3, "low", "-", "-", "R1");
    n += snprintf(want + n, sizeof want - (size_t)n,
                  "-- the 2 alerts above are sorted by time; sort limit reached: the rest "
                  "follow in arrival order --\n");
    n += snprintf(want + n, sizeof want - (size_t)n, row, 4, "low", "-", "-", "R3");
    n += snprintf(want + n, sizeof want - (size_t)n, row, 2, "low", "-", "-", "R4");
    snprintf(want + n, sizeof want - (size_t)n, row, 0, "low", "-", "-", "R5");
    assert_string_equal(s, want);
    free(s);
}

/* Every ESC in s starts one of the sink's own SGR sequences. */
static int only_our_escapes(const char *s) {
    static const char *const ok[] = {"\033[0m",  "\033[1m",  "\033[2m",   "\033[31m",
                                     "\033[32m", "\033[33m", "\033[1;91m"};
    for (size_t at = 0; s[at]; at++) {
        if (s[at] != '\033') continue;
        int found = 0;
        for (size_t i = 0; i < sizeof ok / sizeof ok[0] && !found; i++)
            found = !strncmp(s + at, ok[i], strlen(ok[i]));
        if (!found) return 0;
    }
    return 1;
}

/* Widest line of s in columns, SGR sequences not counted; -1 if a line is not valid UTF-8 or
 * holds a control character other than those sequences. */
static long widest_line(const char *s) {
    long widest = 0;
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        va_buf b;
        va_buf_init(&b);
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\033') {
                while (i < n && s[i] != 'm') i++;
                continue;
            }
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
                va_buf_free(&b);
                return -1;
            }
            va_buf_putc(&b, s[i]);
        }
        if (!va_utf8_valid(b.p ? b.p : "", b.len)) {
            va_buf_free(&b);
            return -1;
        }
        long w = (long)va_out_tty_width(b.p ? b.p : "", b.len);
        if (w > widest) widest = w;
        va_buf_free(&b);
        s += n + (e != NULL);
    }
    return widest;
}

static void table_color_and_hostile_text(void **state) {
    (void)state;
    va_kv f[] = {kv("Cmd", "\x1b]0;pwned\x07\x1b[2J\xc2\x9b"
                           "31m")};
    va_alert v[] = {mk("crit \x1b[8m", "critical", T0), mk("h", "high", T0 + 1),
                    mk("m", "medium", T0 + 2), mk("l", "low", T0 + 3),
                    mk("i", "informational", T0 + 4)};
    v[0].computer = "DC\x1b[1A";
    v[0].fields = f;
    v[0].nfields = 1;
    va_out_opts on = {VA_OUT_TABLE, 1, 120, 0}, off = {VA_OUT_TABLE, 0, 120, 0};
    char *s = run(&on, v, 5);
    assert_true(only_our_escapes(s));
    assert_non_null(strstr(s, "\033[1;91mcritical\033[0m"));
    assert_non_null(strstr(s, "\033[31mhigh\033[0m"));
    assert_non_null(strstr(s, "\033[33mmedium\033[0m"));
    assert_non_null(strstr(s, "\033[32mlow\033[0m"));
    assert_non_null(strstr(s, "\033[2minfo\033[0m"));
    assert_non_null(strstr(s, "\033[1mTIME\033[0m"));
    assert_non_null(strstr(s, "DC\\x1b[1A"));
    assert_non_null(strstr(s, "crit \\x1b[8m"));
    assert_non_null(strstr(s, "Cmd: \\x1b]0;pwned\\x07\\x1b[2J\\u009b31m"));
    free(s);
    s = run(&off, v, 5);
    assert_null(strchr(s, '\033'));
    assert_null(strstr(s, "\xc2\x9b"));
    assert_non_null(strstr(s, "Cmd: \\x1b]0;pwned\\x07\\x1b[2J\\u009b31m"));
    free(s);
}

static void table_width_with_multibyte_text(void **state) {
    (void)state;
    /* Fixed columns take 19+2 + 8+2 + 8+2 + 3+2 + 4+2 = 52 columns; details start at 52. */
    va_kv f[] = {kv("k", "\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2")};
    va_alert a = mk("R", "low", T0);
    a.fields = f;
    a.nfields = 1;
    a.event_id = 1;
    va_out_opts o = {VA_OUT_TABLE, 0, 60, 0};
    char *s = run(&o, &a, 1);
    const char *row = strchr(s, '\n') + 1;
    /* 59 columns before the ellipsis: "k: " and two wide characters make 7. */
    assert_string_equal(row, "2020-10-23 02:36:40  low       -           1  R     "
                             "k: \xe6\xbc\xa2\xe5\xad\x97\xe2\x80\xa6\n");
    assert_int_equal(widest_line(s), 60);
    free(s);
    /* One column more does not fit a third wide character either: the line is 60 wide. */
    o.width = 61;
    s = run(&o, &a, 1);
    row = strchr(s, '\n') + 1;
    assert_string_equal(row, "2020-10-23 02:36:40  low       -           1  R     "
                             "k: \xe6\xbc\xa2\xe5\xad\x97\xe2\x80\xa6\n");
    free(s);
    /* Narrower than the fixed columns: the computer column is cut mid-way, header too. */
    o.width = 30;
    s = run(&o, &a, 1);
    assert_string_equal(s, "TIME                 LEVEL   \xe2\x80\xa6\n"
                           "2020-10-23 02:36:40  low     \xe2\x80\xa6\n");
    free(s);
    /* A long computer name is cut to 32 columns inside its column, combining marks kept. */
    va_alert b = a;
    b.computer = "HOST-e\xcc\x81-0123456789012345678901234567890123456789";
    o.width = 200;
    s = run(&o, &b, 1);
    assert_non_null(strstr(s, "HOST-e\xcc\x81-012345678901234567890123\xe2\x80\xa6    1  R"));
    free(s);
}

static void table_width_property(void **state) {
    (void)state;
    enum { N = 120 };
    static char text[N][5][96];
    static size_t len[N][5];
    static va_kv f[N][2];
    static va_alert v[N];
    uint64_t seed = 777;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 5; k++) {
            len[i][k] = rnd_text(&seed, text[i][k], sizeof text[i][k] - 1);
            text[i][k][len[i][k]] = 0;
        }
        f[i][0] = (va_kv){text[i][0], text[i][1], (uint32_t)len[i][0], (uint32_t)len[i][1]};
        f[i][1] = (va_kv){text[i][2], text[i][4], (uint32_t)len[i][2], (uint32_t)len[i][4]};
        v[i] = mk(text[i][3], i % 2 ? "high" : text[i][4], T0 - (int64_t)(rnd(&seed) % 1000) * SEC);
        v[i].computer = text[i][2];
        v[i].event_id = (int64_t)(rnd(&seed) % 70000) - 1;
        v[i].fields = f[i];
        v[i].nfields = 2;
    }
    for (unsigned w = 20; w <= 200; w += 9) {
        va_out_opts o = {VA_OUT_TABLE, (int)(w & 1), w, w % 4 == 0 ? 50 : 0};
        char *s = run(&o, v, N);
        assert_true(only_our_escapes(s));
        long widest = widest_line(s);
        assert_true(widest > 0);
        assert_true(widest <= (long)w);
        assert_int_equal(count_lines(s), N + 1 + (w % 4 == 0));
        free(s);
    }
}

static void table_empty_prints_nothing(void **state) {
    (void)state;
    va_out_opts o = {VA_OUT_TABLE, 1, 0, 0};
    char *s = run(&o, NULL, 0);
    assert_string_equal(s, "");
    free(s);
}

/* ---- summary ----------------------------------------------------------------------------- */

/* An undecided alert (a regex stopped at its limit) says so in every format and the summary. */
static void undecided_alert_marked(void **state) {
    (void)state;
    va_alert a = mk("R", "high", T0);
    a.undecided = "CommandLine";
    va_alert b = mk("S", "low", T0 + SEC);
    va_alert v[] = {a, b};
    va_out_opts o = {VA_OUT_JSONL, 0, 0, 0};
    char *s = run(&o, v, 2);
    assert_string_equal(s, "{\"time\":\"2020-10-23T02:36:40.6710000Z\",\"rule\":\"R\","
                           "\"level\":\"high\",\"tags\":[],\"undecided\":\"CommandLine\","
                           "\"fields\":{}}\n"
                           "{\"time\":\"2020-10-23T02:36:41.6710000Z\",\"rule\":\"S\","
                           "\"level\":\"low\",\"tags\":[],\"fields\":{}}\n");
    free(s);
    va_out_opts t = {VA_OUT_TABLE, 0, 120, 0};
    s = run(&t, v, 2);
    const char *row = strstr(s, "  R  ");
    assert_non_null(row);
    assert_non_null(strstr(row, "UNDECIDED (regex limit in CommandLine)"));
    assert_null(strstr(strstr(s, "  S"), "UNDECIDED"));
    free(s);
    s = summary(v, 2, 0);
    assert_non_null(strstr(s, "Alerts: 2 (critical 0, high 1, medium 0, low 1, informational 0; "
                              "1 undecided: a regular expression hit its match limit)\n"));
    free(s);
}

static void summary_counts_and_tops(void **state) {
    (void)state;
    va_alert v[9];
    const char *order[9] = {"R1", "R2", "R3", "R1", "R3", "R1", "R3", "R4", "R5"};
    for (int i = 0; i < 9; i++) {
        const char *t = order[i];
        const char *lv = t[1] == '1'   ? "high"
                         : t[1] == '2' ? "critical"
                         : t[1] == '3' ? "low"
                         : t[1] == '4' ? NULL
                                       : "medium";
        v[i] = mk(t, lv, T0 + (i % 6) * SEC);
        v[i].computer = t[1] == '2' || t[1] == '5' ? "H2" : t[1] == '4' ? NULL : "H1";
    }
    v[8].kind = VA_ALERT_CORRELATION;
    v[7].time_ns = VA_TIME_NONE;
    char *s = summary(v, 9, 0);
    assert_string_equal(s, "Alerts: 9 (critical 1, high 3, medium 1, low 3, informational 0, "
                           "other 1; 1 correlation)\n"
                           "Time:   2020-10-23 02:36:40 .. 2020-10-23 02:36:45 UTC\n"
                           "Top rules (5 in all):\n"
                           "  count  level          rule\n"
                           "      3  high           R1\n"
                           "      3  low            R3\n"
                           "      1  critical       R2\n"
                           "      1  -              R4\n"
                           "      1  medium         R5\n"
                           "Top hosts (2 in all):\n"
                           "  count  host\n"
                           "      6  H1\n"
                           "      2  H2\n");
    free(s);
    s = summary(v, 9, 1);
    assert_true(only_our_escapes(s));
    assert_non_null(strstr(s, "\033[1;91mcritical\033[0m 1"));
    assert_non_null(strstr(s, "\033[31mhigh\033[0m           R1"));
    free(s);
}

static void summary_limits_and_hostile_names(void **state) {
    (void)state;
    va_alert v[13];
    char titles[13][8];
    for (int i = 0; i < 12; i++) {
        snprintf(titles[i], sizeof titles[i], "T%02d", i);
        v[i] = mk(titles[i], "low", T0);
        v[i].computer = "\x1b]0;owned\x07";
    }
    v[12] = mk("T11", "low", T0); /* T11 gets 2: first; the rest tie in first-seen order */
    char *s = summary(v, 13, 0);
    assert_non_null(strstr(s, "Top rules (12 in all):\n  count  level          rule\n"
                              "      2  low            T11\n      1  low            T00\n"));
    assert_non_null(strstr(s, "      1  low            T08\nTop hosts"));
    assert_null(strstr(s, "T09"));
    assert_non_null(strstr(s, "     12  \\x1b]0;owned\\x07\n"));
    assert_null(strchr(s, '\033'));
    free(s);
    s = summary(NULL, 0, 1);
    assert_string_equal(s, "\033[1mAlerts: 0\033[0m\n");
    free(s);
}

static void stats_follow_alerts(void **state) {
    (void)state;
    char *p = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&p, &len);
    assert_non_null(f);
    va_out_opts o = {VA_OUT_TABLE, 0, 0, 0};
    va_out *out;
    assert_int_equal(va_out_open(&o, f, &out), VA_OK);
    va_alert v[] = {mk("a", "HIGH", T0 + SEC), mk("b", "nonsense", T0 - SEC),
                    mk("c", "low", VA_TIME_NONE)};
    v[1].kind = VA_ALERT_CORRELATION;
    for (int i = 0; i < 3; i++) assert_int_equal(va_out_alert(out, &v[i]), VA_OK);
    va_out_stats st;
    va_out_get_stats(out, &st);
    assert_int_equal(st.alerts, 3);
    assert_int_equal(st.correlations, 1);
    assert_int_equal(st.by_level[VA_OUT_HIGH], 1);
    assert_int_equal(st.by_level[VA_OUT_LOW], 1);
    assert_int_equal(st.by_level[VA_OUT_OTHER], 1);
    assert_int_equal(st.first_ns, T0 - SEC);
    assert_int_equal(st.last_ns, T0 + SEC);
    assert_int_equal(len, 0); /* the table waits for close */
    assert_int_equal(va_out_close(out), VA_OK);
    fclose(f);
    assert_int_equal(count_lines(p), 4);
    free(p);
}

/* ---- write errors ------------------------------------------------------------------------ */

static void write_errors_are_sticky(void **state) {
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (!f) skip();
    setvbuf(f, NULL, _IONBF, 0);
    va_out_opts o = {VA_OUT_JSONL, 0, 0, 0};
    va_out *out = NULL;
    assert_int_equal(va_out_open(&o, f, &out), VA_OK);
    va_alert a = mk("R", "low", T0);
    errno = 0;
    assert_int_equal(va_out_alert(out, &a), VA_EIO);
    assert_int_equal(errno, ENOSPC);
    errno = 0;
    assert_int_equal(va_out_alert(out, &a), VA_EIO);
    assert_int_equal(errno, ENOSPC);
    errno = 0;
    assert_int_equal(va_out_close(out), VA_EIO);
    assert_int_equal(errno, ENOSPC);
    /* CSV fails at open, on its header. */
    va_out_opts c = {VA_OUT_CSV, 0, 0, 0};
    out = (va_out *)&out;
    assert_int_equal(va_out_open(&c, f, &out), VA_EIO);
    assert_int_equal(errno, ENOSPC);
    assert_null(out);
    fclose(f);
    /* Buffered: the error shows when close flushes. */
    f = fopen("/dev/full", "w");
    assert_non_null(f);
    va_out_opts t = {VA_OUT_TABLE, 0, 0, 0};
    assert_int_equal(va_out_open(&t, f, &out), VA_OK);
    assert_int_equal(va_out_alert(out, &a), VA_OK);
    assert_int_equal(va_out_close(out), VA_EIO);
    assert_int_equal(errno, ENOSPC);
    fclose(f);
}

/* ---- terminal text ----------------------------------------------------------------------- */

static void tty_escapes(void **state) {
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
        size_t width;
    } cases[] = {
        {"plain", 5, "plain", 5},
        {"a\x1b[2Jb", 6, "a\\x1b[2Jb", 9},
        {"\t\n\r\x07\x7f", 5, "\\t\\n\\r\\x07\\x7f", 14},
        {"\0x", 2, "\\x00x", 5},
        {"\xc2\x9b"
         "1m",
         4, "\\u009b1m", 8}, /* C1 CSI */
        {"\xe2\x80\xae"
         "cba",
         6, "\\u202ecba", 9},                                   /* bidi override */
        {"\xe2\x81\xa6\xe2\x80\xa8", 6, "\\u2066\\u2028", 12},  /* isolate, line separator */
        {"\xff\xc3(", 3, "\\xff\\xc3(", 9},                     /* invalid bytes */
        {"\xed\xa0\x80", 3, "\\xed\\xa0\\x80", 12},             /* surrogate */
        {"\xc3\xa5\xe6\xbc\xa2", 5, "\xc3\xa5\xe6\xbc\xa2", 3}, /* a-ring 1, CJK 2 */
        {"e\xcc\x81", 3, "e\xcc\x81", 1},                       /* combining acute */
        {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 2},         /* emoji */
        {"C:\\Windows", 10, "C:\\Windows", 10},                 /* backslashes stay */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        va_buf b;
        va_buf_init(&b);
        size_t w = va_out_tty_esc(&b, cases[i].in, cases[i].len);
        assert_false(b.oom);
        assert_string_equal(b.p, cases[i].out);
        assert_int_equal(w, cases[i].width);
        assert_int_equal(va_out_tty_width(b.p, b.len), cases[i].width);
        va_buf_free(&b);
    }
}

static void tty_fit_and_cut(void **state) {
    (void)state;
    static const struct {
        const char *in;
        size_t cols;
        int pad;
        const char *out;
        size_t w;
    } cases[] = {
        {"abcdef", 4, 1, "abc\xe2\x80\xa6", 4},
        {"abcd", 4, 1, "abcd", 4},
        {"ab", 4, 1, "ab  ", 4},
        {"ab", 4, 0, "ab", 2},
        {"\xe6\xbc\xa2\xe5\xad\x97", 3, 1, "\xe6\xbc\xa2\xe2\x80\xa6", 3},
        {"\xe6\xbc\xa2\xe5\xad\x97x", 4, 1, "\xe6\xbc\xa2\xe2\x80\xa6 ", 4},
        {"\xe6\xbc\xa2\xe5\xad\x97", 4, 1, "\xe6\xbc\xa2\xe5\xad\x97", 4},
        {"e\xcc\x81"
         "e\xcc\x81",
         2, 0,
         "e\xcc\x81"
         "e\xcc\x81",
         2},
        {"abc", 0, 1, "", 0},
        {"abc", 1, 1, "\xe2\x80\xa6", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        va_buf b;
        va_buf_init(&b);
        va_buf_put(&b, "", 0);
        size_t w =
            va_out_tty_fit(&b, cases[i].in, strlen(cases[i].in), cases[i].cols, cases[i].pad);
        assert_string_equal(b.p ? b.p : "", cases[i].out);
        assert_int_equal(w, cases[i].w);
        va_buf_free(&b);
    }
    va_buf b;
    va_buf_init(&b);
    assert_int_equal(va_out_tty_cut(&b,
                                    "a\xe6\xbc\xa2"
                                    "b",
                                    5, 2),
                     1);
    assert_string_equal(b.p, "a");
    va_buf_free(&b);
}

/* ---- progress ---------------------------------------------------------------------------- */

typedef struct fake_clock {
    int64_t now, step;
    unsigned long calls;
} fake_clock;

static int64_t fake_now(void *ud) {
    fake_clock *c = ud;
    c->calls++;
    c->now += c->step;
    return c->now;
}

static void progress_inert(void **state) {
    (void)state;
    char *p = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&p, &len);
    assert_non_null(f);
    va_progress *a = va_progress_new(f, 1000); /* not a terminal */
    va_progress *b = va_progress_new(NULL, 1000);
    va_progress_opts force = {1, 80, NULL, NULL, 1};
    va_progress *c = va_progress_new_opts(f, 0, &force); /* total unknown */
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    for (int i = 0; i < 100000; i++) {
        va_progress_update(a, (uint64_t)i, (uint64_t)i, 0);
        va_progress_update(b, (uint64_t)i, (uint64_t)i, 0);
        va_progress_update(c, (uint64_t)i, (uint64_t)i, 0);
    }
    va_progress_clear(a);
    va_progress_end(a);
    va_progress_end(b);
    va_progress_end(c);
    va_progress_update(NULL, 1, 1, 1);
    va_progress_end(NULL);
    fflush(f);
    assert_int_equal(len, 0);
    fclose(f);
    free(p);
}

static void progress_draws_clears_and_limits(void **state) {
    (void)state;
    char *p = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&p, &len);
    assert_non_null(f);
    fake_clock ck = {0, 0, 0};
    va_progress_opts o = {1, 80, fake_now, &ck, 1};
    va_progress *pr = va_progress_new_opts(f, 200000000, &o);
    assert_non_null(pr);
    va_progress_update(pr, 1000, 10, 0); /* before the delay: nothing */
    fflush(f);
    assert_int_equal(len, 0);
    ck.now = SEC;
    va_progress_update(pr, 100000000, 2500000, 7);
    va_progress_update(pr, 100000000, 2500000, 7);
    fflush(f);
    /* 79 columns: the bar shrinks to what the numbers leave. */
    assert_string_equal(p, "\r 50% [###############---------------] 100.0 MB/s  2.5M ev/s  "
                           "7 alerts  ETA 0:01");
    size_t first = len;
    ck.now = SEC + 50 * 1000000LL; /* 50 ms later: too soon to redraw */
    for (int i = 0; i < 10; i++) va_progress_update(pr, 110000000, 2600000, 7);
    fflush(f);
    assert_int_equal(len, first);
    /* The frozen fake clock let the stride grow; within one stride the bar is redrawn. */
    ck.now = SEC + 200 * 1000000LL;
    for (int i = 0; i < 300 && len == first; i++) {
        va_progress_update(pr, 150000000, 3000000, 9);
        fflush(f);
    }
    assert_true(len > first);
    assert_int_equal(p[first], '\r');
    assert_non_null(strstr(p + first, " 75% ["));
    assert_non_null(strstr(p + first, "9 alerts"));
    assert_true(strlen(p + first) <= 80);
    size_t second = len;
    va_progress_clear(pr);
    fflush(f);
    char want[100];
    want[0] = '\r';
    memset(want + 1, ' ', 79);
    want[80] = '\r';
    want[81] = 0;
    assert_string_equal(p + second, want);
    /* After a clear the next update draws again at once. */
    va_progress_update(pr, 150000000, 3000000, 9);
    fflush(f);
    assert_true(len > second + 81);
    va_progress_end(pr);
    fclose(f);
    free(p);
}

static void progress_narrow_terminal(void **state) {
    (void)state;
    char *p = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&p, &len);
    assert_non_null(f);
    fake_clock ck = {0, SEC, 0};
    va_progress_opts o = {1, 30, fake_now, &ck, 1};
    va_progress *pr = va_progress_new_opts(f, 1000, &o);
    va_progress_update(pr, 2000, 1, 1); /* more than the total: clamped to 100% */
    va_progress_end(pr);
    fclose(f);
    assert_int_equal(p[0], '\r');
    const char *e = strchr(p + 1, '\r');
    assert_non_null(e);
    assert_int_equal(e - (p + 1), 29); /* one column short of the width */
    assert_memory_equal(p + 1, "100% ", 5);
    assert_null(memchr(p, '[', (size_t)(e - p))); /* no room for a bar */
    free(p);
}

static void progress_reads_clock_rarely(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    /* A clock that does not move (events arriving fast): the stride doubles up to its bound,
     * so the clock is read about once per 256 updates. */
    fake_clock still = {0, 0, 0};
    va_progress_opts o = {1, 80, fake_now, &still, 1};
    va_progress *pr = va_progress_new_opts(f, 1u << 30, &o);
    for (unsigned i = 0; i < 1000000; i++) va_progress_update(pr, i, i, 0);
    va_progress_end(pr);
    assert_true(still.calls < 1000000 / 256 + 20);
    assert_true(still.calls > 1000000 / 256 - 20);
    /* A slow source (100 ms per event): the clock is read on every update, so the bar keeps
     * up with it. */
    fake_clock slow = {0, 100 * 1000000LL, 0};
    o.clock_ud = &slow;
    pr = va_progress_new_opts(f, 1u << 30, &o);
    for (unsigned i = 0; i < 50; i++) va_progress_update(pr, i, i, 0);
    va_progress_end(pr);
    assert_int_equal(slow.calls, 51); /* one at creation */
    fclose(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fmt_and_level_names),
        cmocka_unit_test(open_rejects_bad_arguments),
        cmocka_unit_test(jsonl_full_alert_exact),
        cmocka_unit_test(jsonl_absent_values_omitted),
        cmocka_unit_test(jsonl_correlation),
        cmocka_unit_test(jsonl_escaping_and_utf8),
        cmocka_unit_test(jsonl_valid_for_any_bytes),
        cmocka_unit_test(csv_exact_quoting_and_guard),
        cmocka_unit_test(csv_header_without_alerts),
        cmocka_unit_test(undecided_alert_marked),
        cmocka_unit_test(csv_structure_for_any_bytes),
        cmocka_unit_test(table_sorted_with_stable_ties),
        cmocka_unit_test(table_sort_bound),
        cmocka_unit_test(table_color_and_hostile_text),
        cmocka_unit_test(table_width_with_multibyte_text),
        cmocka_unit_test(table_width_property),
        cmocka_unit_test(table_empty_prints_nothing),
        cmocka_unit_test(summary_counts_and_tops),
        cmocka_unit_test(summary_limits_and_hostile_names),
        cmocka_unit_test(stats_follow_alerts),
        cmocka_unit_test(write_errors_are_sticky),
        cmocka_unit_test(tty_escapes),
        cmocka_unit_test(tty_fit_and_cut),
        cmocka_unit_test(progress_inert),
        cmocka_unit_test(progress_draws_clears_and_limits),
        cmocka_unit_test(progress_narrow_terminal),
        cmocka_unit_test(progress_reads_clock_rarely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
