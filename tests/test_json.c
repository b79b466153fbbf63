/*
 * test_json.c - unit tests for src/json: the JSON parser (valid and invalid documents, escapes,
 * surrogates, UTF-8, numbers, limits, error positions), the mapping of evtx_dump, NXLog and
 * Winlogbeat objects into flat events, the streaming reader over every file layout and its
 * recovery from damage, and `vaern dump` on JSON input.  Every input is generated here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "json/json.h"
#include "json/winevent.h"
#include "sigma/engine.h"
#include "sigma/logsource.h"
#include "sigma/rule.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Canonical text of a DOM: numbers tagged u/i/r by kind, strings JSON-escaped. */
static void show(const va_json *v, va_buf *b) {
    switch (v->type) {
    case VA_JSON_NULL:
        va_buf_puts(b, "null");
        break;
    case VA_JSON_BOOL:
        va_buf_puts(b, v->b ? "true" : "false");
        break;
    case VA_JSON_NUMBER:
        va_buf_putc(b, v->num == VA_JSON_UINT ? 'u' : v->num == VA_JSON_INT ? 'i' : 'r');
        va_buf_put(b, v->s, v->len);
        break;
    case VA_JSON_STRING:
        va_buf_json_str(b, v->s, v->len);
        break;
    default: {
        int obj = v->type == VA_JSON_OBJECT;
        uint32_t n = 0;
        va_buf_putc(b, obj ? '{' : '[');
        for (const va_json *c = v->child; c; c = c->next, n++) {
            if (c != v->child) va_buf_putc(b, ',');
            if (obj) {
                va_buf_json_str(b, c->key, c->klen);
                va_buf_putc(b, ':');
            }
            show(c, b);
        }
        assert_int_equal(n, v->n);
        va_buf_putc(b, obj ? '}' : ']');
    }
    }
}

static va_err parse(va_arena *a, const char *s, size_t n, const va_json_opts *o, va_json **root,
                    va_json_error *e) {
    memset(e, 0, sizeof *e);
    return va_json_parse(a, s, n, o, root, e);
}

/* ---- parser: valid documents ------------------------------------------------------------- */

static void parse_valid_table(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"{}", "{}"},
        {"[]", "[]"},
        {" \t\r\n[ ]\n", "[]"},
        {"0", "u0"},
        {"-0", "i-0"},
        {"[1, -2, 3.5, 1e3, 1E+3, 2e-3, -0.0e-1]", "[u1,i-2,r3.5,r1e3,r1E+3,r2e-3,r-0.0e-1]"},
        {"123456789012345678901234567890", "u123456789012345678901234567890"},
        {"[true,false,null]", "[true,false,null]"},
        {"{\"a\":{\"b\":[{},[],\"\"]}}", "{\"a\":{\"b\":[{},[],\"\"]}}"},
        {"{\"k\":1,\"k\":2}", "{\"k\":u1,\"k\":u2}"},
        {"\"plain\"", "\"plain\""},
        {"{\"\":\"empty key\"}", "{\"\":\"empty key\"}"},
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\""},
        {"\"\\u0041\\u00e5\\u20AC\"", "\"A\xc3\xa5\xe2\x82\xac\""},
        {"\"\xc3\xa5\xe2\x82\xac\xf0\x9f\x98\x80\"", "\"\xc3\xa5\xe2\x82\xac\xf0\x9f\x98\x80\""},
        {"{\"a\":1,\"b\":[2,{\"c\":null}]}", "{\"a\":u1,\"b\":[u2,{\"c\":null}]}"},
    };
    va_arena a;
    va_arena_init(&a, 0);
    va_buf b;
    va_buf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        va_json *root;
        va_json_error e;
        va_arena_reset(&a);
        va_err rc = parse(&a, cases[i].in, strlen(cases[i].in), NULL, &root, &e);
        if (rc) fail_msg("case %zu (%s): %s", i, cases[i].in, e.reason);
        va_buf_clear(&b);
        show(root, &b);
        if (strcmp(b.p, cases[i].out)) fail_msg("case %zu: got %s want %s", i, b.p, cases[i].out);
    }
    va_buf_free(&b);
    va_arena_free(&a);
}

/* Decoded bytes of one string document. */
static void check_string(va_arena *a, const char *in, size_t inlen, const char *want,
                         size_t wantlen, int strict) {
    va_json *root;
    va_json_error e;
    va_json_opts o = {0, 0, strict};
    va_err rc = parse(a, in, inlen, &o, &root, &e);
    if (rc) fail_msg("%s: %s", in, e.reason);
    assert_int_equal(root->type, VA_JSON_STRING);
    assert_int_equal(root->len, wantlen);
    assert_memory_equal(root->s, want, wantlen);
    assert_int_equal(root->s[root->len], 0);
}

static void parse_escapes_surrogates_utf8(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
#define S(in, want) check_string(&a, in, sizeof in - 1, want, sizeof want - 1, 0)
    /* A surrogate pair is one code point. */
    S("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
    S("\"\\uD834\\uDD1E!\"", "\xf0\x9d\x84\x9e!");
    /* Unpaired surrogates become U+FFFD, and what follows is decoded on its own. */
    S("\"\\ud83d\"", "\xef\xbf\xbd");
    S("\"\\ude00\"", "\xef\xbf\xbd");
    S("\"\\ud83dx\"", "\xef\xbf\xbd"
                      "x");
    S("\"\\ud83d\\u0041\"", "\xef\xbf\xbd"
                            "A");
    S("\"\\ud83d\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80");
    S("\"\\ude00\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd");
    /* NUL is kept: strings carry a length. */
    S("\"a\\u0000b\"", "a\0b");
    /* Invalid UTF-8: one U+FFFD per bad byte, the rest kept. */
    S("\"\xff\"", "\xef\xbf\xbd");
    S("\"\xc3\x28\"", "\xef\xbf\xbd(");
    S("\"\xc0\xaf\"", "\xef\xbf\xbd\xef\xbf\xbd");                 /* overlong '/' */
    S("\"\xed\xa0\x80\"", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* encoded surrogate */
    S("\"\xe2\x82\"", "\xef\xbf\xbd\xef\xbf\xbd");                 /* truncated sequence */
    S("\"\xf4\x90\x80\x80\"",
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* above U+10FFFF */
#undef S
    /* Keys are decoded the same way. */
    va_json *root;
    va_json_error e;
    assert_int_equal(parse(&a, "{\"\\u00e5\\n\":1}", 14, NULL, &root, &e), VA_OK);
    assert_int_equal(root->child->klen, 3);
    assert_memory_equal(root->child->key, "\xc3\xa5\n", 3);
    assert_ptr_equal(va_json_get(root, "\xc3\xa5\n"), root->child);
    va_arena_free(&a);
}

static void parse_numbers(void **state) {
    (void)state;
    static const struct {
        const char *in;
        va_json_num num;
        va_vtype vt;
    } cases[] = {
        {"7", VA_JSON_UINT, VA_V_UINT},     {"18446744073709551616", VA_JSON_UINT, VA_V_UINT},
        {"-7", VA_JSON_INT, VA_V_INT},      {"-0", VA_JSON_INT, VA_V_INT},
        {"0.5", VA_JSON_REAL, VA_V_REAL},   {"-1.25e-300", VA_JSON_REAL, VA_V_REAL},
        {"1E400", VA_JSON_REAL, VA_V_REAL}, {"10", VA_JSON_UINT, VA_V_UINT},
    };
    va_arena a;
    va_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        va_json *root;
        va_json_error e;
        assert_int_equal(parse(&a, cases[i].in, strlen(cases[i].in), NULL, &root, &e), VA_OK);
        assert_int_equal(root->type, VA_JSON_NUMBER);
        assert_int_equal(root->num, cases[i].num);
        assert_int_equal(va_json_vtype(root), cases[i].vt);
        /* The text is kept exactly: no precision is lost. */
        assert_string_equal(root->s, cases[i].in);
    }
    va_json *root;
    va_json_error e;
    assert_int_equal(parse(&a, "[true,null,\"s\"]", 15, NULL, &root, &e), VA_OK);
    assert_int_equal(va_json_vtype(root->child), VA_V_BOOL);
    assert_string_equal(root->child->s, "true");
    assert_int_equal(va_json_vtype(root->child->next), VA_V_NULL);
    assert_int_equal(va_json_vtype(root->child->next->next), VA_V_STR);
    va_arena_free(&a);
}

/* ---- parser: invalid documents and error positions --------------------------------------- */

static void parse_invalid_table(void **state) {
    (void)state;
    static const struct {
        const char *in;
        va_err code;
        size_t off;
        uint32_t line, col;
        const char *reason; /* a substring of the reason */
    } cases[] = {
        {"", VA_ETRUNC, 0, 1, 1, "input ends"},
        {"   ", VA_ETRUNC, 3, 1, 4, "input ends"},
        {"{", VA_ETRUNC, 1, 1, 2, "inside an object"},
        {"[1,", VA_ETRUNC, 3, 1, 4, "input ends"},
        {"{\"a\" 1}", VA_EFORMAT, 5, 1, 6, "expected ':'"},
        {"{\"a\":1,}", VA_EFORMAT, 7, 1, 8, "member name"},
        {"{1:2}", VA_EFORMAT, 1, 1, 2, "member name"},
        {"[1,]", VA_EFORMAT, 3, 1, 4, "unexpected ']'"},
        {"[1 2]", VA_EFORMAT, 3, 1, 4, "expected ','"},
        {"{\"a\":1]", VA_EFORMAT, 6, 1, 7, "expected ',' or '}'"},
        {"01", VA_EFORMAT, 0, 1, 1, "leading zero"},
        {"-", VA_ETRUNC, 0, 1, 1, "after '-'"},
        {"-a", VA_EFORMAT, 0, 1, 1, "no digit"},
        {"1.", VA_ETRUNC, 0, 1, 1, "after '.'"},
        {"1.e5", VA_EFORMAT, 0, 1, 1, "after '.'"},
        {"1e", VA_ETRUNC, 0, 1, 1, "exponent"},
        {"1e+", VA_ETRUNC, 0, 1, 1, "exponent"},
        {".5", VA_EFORMAT, 0, 1, 1, "unexpected '.'"},
        {"+1", VA_EFORMAT, 0, 1, 1, "unexpected '+'"},
        {"tru", VA_ETRUNC, 0, 1, 1, "inside 'true'"},
        {"trUe", VA_EFORMAT, 0, 1, 1, "invalid literal"},
        {"nulL", VA_EFORMAT, 0, 1, 1, "invalid literal"},
        {"\"abc", VA_ETRUNC, 0, 1, 1, "unterminated string"},
        {"\"a\x01z\"", VA_EFORMAT, 2, 1, 3, "control character"},
        {"\"a\nb\"", VA_EFORMAT, 2, 1, 3, "control character"},
        {"\"\\x\"", VA_EFORMAT, 1, 1, 2, "invalid escape"},
        {"\"\\u12g4\"", VA_EFORMAT, 1, 1, 2, "invalid \\u"},
        {"\"\\u12", VA_ETRUNC, 1, 1, 2, "truncated \\u"},
        {"[1] x", VA_EFORMAT, 4, 1, 5, "after the end"},
        {"{}{}", VA_EFORMAT, 2, 1, 3, "after the end"},
        {"\xef\xbb\xbf{}", VA_EFORMAT, 0, 1, 1, "0xEF"},
        {"[\xc3\xa9]", VA_EFORMAT, 1, 1, 2, "0xC3"},
        {"{\n  \"a\": tru\n}", VA_EFORMAT, 9, 2, 8, "invalid literal"},
        {"[\"\xc3\xa5\xc3\xa5\", x]", VA_EFORMAT, 9, 1, 8, "unexpected 'x'"},
        {"{\"a\":1}\n\n  {", VA_EFORMAT, 11, 3, 3, "after the end"},
    };
    va_arena a;
    va_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        va_json *root = (va_json *)&a; /* must be reset to NULL on failure */
        va_json_error e;
        va_err rc = parse(&a, cases[i].in, strlen(cases[i].in), NULL, &root, &e);
        if (rc != cases[i].code)
            fail_msg("case %zu (%s): code %d want %d (%s)", i, cases[i].in, rc, cases[i].code,
                     e.reason);
        assert_null(root);
        assert_int_equal(e.code, cases[i].code);
        if (e.offset != cases[i].off || e.line != cases[i].line || e.col != cases[i].col)
            fail_msg("case %zu: at %zu %u:%u want %zu %u:%u (%s)", i, e.offset, e.line, e.col,
                     cases[i].off, cases[i].line, cases[i].col, e.reason);
        if (!strstr(e.reason, cases[i].reason))
            fail_msg("case %zu: reason '%s' lacks '%s'", i, e.reason, cases[i].reason);
    }
    /* The error structure is optional. */
    va_json *root;
    assert_int_equal(va_json_parse(&a, "[", 1, NULL, &root, NULL), VA_ETRUNC);
    va_arena_free(&a);
}

static void parse_strict_utf8(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_json_opts strict = {0, 0, 1};
    va_json *root;
    va_json_error e;
    assert_int_equal(parse(&a, "[\"ok\", \"b\xffz\"]", 13, &strict, &root, &e), VA_EFORMAT);
    assert_int_equal(e.offset, 9);
    assert_non_null(strstr(e.reason, "UTF-8"));
    /* Valid UTF-8 and escaped surrogates are fine in strict mode too. */
    check_string(&a, "\"\xc3\xa5\\ud83d\"", 10, "\xc3\xa5\xef\xbf\xbd", 5, 1);
    va_arena_free(&a);
}

static char *nested(size_t depth) {
    char *s = malloc(2 * depth + 1);
    assert_non_null(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = 0;
    return s;
}

static void parse_limits(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_json *root;
    va_json_error e;
    va_json_opts o = {0, 10, 0};
    char *s = nested(10);
    assert_int_equal(parse(&a, s, 20, &o, &root, &e), VA_OK);
    free(s);
    s = nested(11);
    assert_int_equal(parse(&a, s, 22, &o, &root, &e), VA_ELIMIT);
    assert_int_equal(e.offset, 10); /* the eleventh '[' */
    assert_non_null(strstr(e.reason, "deeper than 10"));
    free(s);
    /* The default depth, and a requested depth above the hard cap, which bounds recursion. */
    s = nested(VA_JSON_DEFAULT_MAX_DEPTH);
    assert_int_equal(parse(&a, s, strlen(s), NULL, &root, &e), VA_OK);
    free(s);
    s = nested(VA_JSON_DEFAULT_MAX_DEPTH + 1);
    assert_int_equal(parse(&a, s, strlen(s), NULL, &root, &e), VA_ELIMIT);
    free(s);
    va_json_opts deep = {0, 1000000, 0};
    s = nested(VA_JSON_HARD_MAX_DEPTH + 1);
    assert_int_equal(parse(&a, s, strlen(s), &deep, &root, &e), VA_ELIMIT);
    assert_int_equal(e.offset, VA_JSON_HARD_MAX_DEPTH);
    free(s);
    /* Half a million unclosed brackets: refused at the limit, not by running out of stack. */
    s = nested(500000);
    assert_int_equal(parse(&a, s, 500000, NULL, &root, &e), VA_ELIMIT);
    free(s);
    /* Size limit. */
    va_json_opts small = {8, 0, 0};
    assert_int_equal(parse(&a, "[1,2,3]", 7, &small, &root, &e), VA_OK);
    assert_int_equal(parse(&a, "[1,2,3,4]", 9, &small, &root, &e), VA_ELIMIT);
    assert_non_null(strstr(e.reason, "larger than the limit"));
    va_arena_free(&a);
}

static void parse_dom_owns_its_text(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 4096);
    const char doc[] = "{\"name\":\"value\",\"n\":-12.5e3,\"list\":[\"x\",true]}";
    char *copy = strdup(doc);
    assert_non_null(copy);
    va_json *root;
    va_json_error e;
    assert_int_equal(parse(&a, copy, strlen(copy), NULL, &root, &e), VA_OK);
    memset(copy, 'Z', strlen(copy));
    free(copy);
    assert_string_equal(va_json_get(root, "name")->s, "value");
    assert_string_equal(va_json_get(root, "n")->s, "-12.5e3");
    const va_json *list = va_json_get(root, "list");
    assert_int_equal(list->n, 2);
    assert_string_equal(list->child->s, "x");
    assert_int_equal(list->child->off, 36);
    assert_null(va_json_get(root, "missing"));
    assert_null(va_json_get(list, "x")); /* not an object */
    assert_true(va_json_is_scalar(list->child));
    assert_false(va_json_is_scalar(list));
    assert_string_equal(va_json_type_name(VA_JSON_OBJECT), "object");
    /* Parsing again and again into a reset arena takes no more memory. */
    size_t total = 0;
    for (int i = 0; i < 100; i++) {
        va_arena_reset(&a);
        assert_int_equal(parse(&a, doc, strlen(doc), NULL, &root, &e), VA_OK);
        if (i == 1) total = a.total;
        if (i > 1) assert_int_equal(a.total, total);
    }
    va_arena_free(&a);
}

/* ---- mapping ----------------------------------------------------------------------------- */

typedef struct want {
    const char *name, *val;
    va_vtype t;
} want;

typedef struct mapped {
    va_arena a;
    va_buf text;
    va_event ev;
    va_json *root;
    va_jsonev_notes notes;
} mapped;

static void map_doc(mapped *m, const char *doc) {
    va_json_error e;
    va_arena_init(&m->a, 0);
    va_buf_init(&m->text);
    if (parse(&m->a, doc, strlen(doc), NULL, &m->root, &e)) fail_msg("parse: %s", e.reason);
    va_event_init(&m->ev, &m->a);
    const char *why = NULL;
    va_err rc = va_jsonev_map(m->root, &m->ev, &m->text, &why, &m->notes);
    if (rc) fail_msg("map: %d %s", rc, why ? why : "");
}

static void unmap(mapped *m) {
    va_buf_free(&m->text);
    va_arena_free(&m->a);
}

static void expect_fields(const va_event *ev, const want *w, size_t n) {
    for (size_t i = 0; i < n && i < ev->n; i++) {
        const va_field *f = &ev->f[i];
        if (strcmp(f->name, w[i].name) || strlen(w[i].val) != f->vlen ||
            memcmp(f->val, w[i].val, f->vlen) || f->type != w[i].t)
            fail_msg("field %zu: got %s=%s (type %d), want %s=%s (type %d)", i, f->name, f->val,
                     f->type, w[i].name, w[i].val, w[i].t);
    }
    if (ev->n != n) {
        for (size_t i = n; i < ev->n; i++)
            print_message("extra field %s=%s\n", ev->f[i].name, ev->f[i].val);
        fail_msg("%u fields, want %zu", ev->n, n);
    }
}

static const char evtx_dump_doc[] =
    "{\"Event\": {\"#attributes\": {\"xmlns\": "
    "\"http://schemas.microsoft.com/win/2004/08/events/event\"},\n"
    " \"System\": {\"Provider\": {\"#attributes\": {\"Name\": \"Microsoft-Windows-Sysmon\", "
    "\"Guid\": \"5770385F-C22A-43E0-BF4C-06F5698FFBD9\"}},\n"
    "  \"EventID\": 1, \"Version\": 5, \"Level\": 4, \"Task\": 1, \"Opcode\": 0,\n"
    "  \"Keywords\": \"0x8000000000000000\",\n"
    "  \"TimeCreated\": {\"#attributes\": {\"SystemTime\": \"2025-11-27T07:40:10.165324Z\"}},\n"
    "  \"EventRecordID\": 571146,\n"
    "  \"Correlation\": {\"#attributes\": {\"ActivityID\": "
    "\"8E521E2B-7C26-0001-417F-9C8E267CDB01\"}},\n"
    "  \"Execution\": {\"#attributes\": {\"ProcessID\": 3544, \"ThreadID\": 4272}},\n"
    "  \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Computer\": \"ws1\",\n"
    "  \"Security\": {\"#attributes\": {\"UserID\": \"S-1-5-18\"}}},\n"
    " \"EventData\": {\"RuleName\": \"-\", \"ProcessGuid\": "
    "\"0197231E-005A-6928-A50B-000000000D00\",\n"
    "  \"ProcessId\": 4460, \"Image\": \"C:\\\\Windows\\\\cmd.exe\", \"Offset\": -3,\n"
    "  \"Ratio\": 0.5, \"Flag\": true, \"Empty\": null, \"Unicode\": \"\\u00e5\\ud83d\\ude00\"}}}";

static void map_evtx_dump(void **state) {
    (void)state;
    mapped m;
    map_doc(&m, evtx_dump_doc);
    assert_int_equal(va_jsonev_detect(m.root), VA_JSONEV_EVTX_DUMP);
    static const want w[] = {
        {"Provider_Name", "Microsoft-Windows-Sysmon", VA_V_STR},
        {"Provider_Guid", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", VA_V_STR},
        {"EventID", "1", VA_V_UINT},
        {"Version", "5", VA_V_UINT},
        {"Level", "4", VA_V_UINT},
        {"Task", "1", VA_V_UINT},
        {"Opcode", "0", VA_V_UINT},
        {"Keywords", "0x8000000000000000", VA_V_STR},
        {"TimeCreated", "2025-11-27T07:40:10.1653240Z", VA_V_STR},
        {"EventRecordID", "571146", VA_V_UINT},
        {"Correlation_ActivityID", "{8E521E2B-7C26-0001-417F-9C8E267CDB01}", VA_V_STR},
        {"ProcessID", "3544", VA_V_UINT},
        {"ThreadID", "4272", VA_V_UINT},
        {"Channel", "Microsoft-Windows-Sysmon/Operational", VA_V_STR},
        {"Computer", "ws1", VA_V_STR},
        {"Security_UserID", "S-1-5-18", VA_V_STR},
        {"RuleName", "-", VA_V_STR},
        {"ProcessGuid", "0197231E-005A-6928-A50B-000000000D00", VA_V_STR},
        {"ProcessId", "4460", VA_V_UINT},
        {"Image", "C:\\Windows\\cmd.exe", VA_V_STR},
        {"Offset", "-3", VA_V_INT},
        {"Ratio", "0.5", VA_V_REAL},
        {"Flag", "true", VA_V_BOOL},
        {"Empty", "", VA_V_NULL},
        {"Unicode", "\xc3\xa5\xf0\x9f\x98\x80", VA_V_STR},
    };
    expect_fields(&m.ev, w, sizeof w / sizeof w[0]);
    /* The direct facts are filled. */
    assert_int_equal(m.ev.event_id, 1);
    assert_int_equal(m.ev.record_id, 571146);
    assert_string_equal(m.ev.channel->val, "Microsoft-Windows-Sysmon/Operational");
    assert_string_equal(m.ev.provider->val, "Microsoft-Windows-Sysmon");
    assert_string_equal(m.ev.computer->val, "ws1");
    assert_int_equal(m.ev.time_ns, 1764229210165324000LL);
    unmap(&m);
}

static void map_evtx_dump_data_forms(void **state) {
    (void)state;
    /* Unnamed <Data> collapsed into a #text array, explicit Data elements with Name attributes,
     * attributes on EventData itself, a Binary element, and UserData leaves. */
    mapped m;
    map_doc(&m, "{\"Event\": {\"System\": {\"EventID\": {\"#attributes\": {\"Qualifiers\": 16384}, "
                "\"#text\": 7036}, \"EventRecordID\": 9, \"Security\": null},"
                " \"EventData\": {\"#attributes\": {\"Name\": \"TaskDisabled\"},"
                "  \"Data\": {\"#text\": [\"first\", 2, \"third\"]}, \"Binary\": \"00FF\"}}}");
    static const want w1[] = {
        {"EventID_Qualifiers", "16384", VA_V_UINT},
        {"EventID", "7036", VA_V_UINT},
        {"EventRecordID", "9", VA_V_UINT},
        {"EventData_Name", "TaskDisabled", VA_V_STR},
        {"Data", "first", VA_V_STR},
        {"Data", "2", VA_V_UINT},
        {"Data", "third", VA_V_STR},
        {"Binary", "00FF", VA_V_STR},
    };
    expect_fields(&m.ev, w1, sizeof w1 / sizeof w1[0]);
    unmap(&m);

    map_doc(&m, "{\"Event\": {\"EventData\": {\"Data\": ["
                "{\"#attributes\": {\"Name\": \"TargetUserName\"}, \"#text\": \"bob\"},"
                "{\"#attributes\": {\"Name\": \"LogonType\"}, \"#text\": 3},"
                "{\"#attributes\": {\"Name\": \"Nothing\"}}]}}}");
    static const want w2[] = {
        {"TargetUserName", "bob", VA_V_STR},
        {"LogonType", "3", VA_V_UINT},
        {"Nothing", "", VA_V_NULL},
    };
    expect_fields(&m.ev, w2, sizeof w2 / sizeof w2[0]);
    unmap(&m);

    map_doc(&m, "{\"Event\": {\"UserData\": {\"LogFileCleared\": {\"#attributes\": {\"xmlns\": "
                "\"http://x\"}, \"SubjectUserName\": \"bob\", \"ClientProcessId\": 25920, "
                "\"Names\": [\"a\", \"b\"]}}}}");
    static const want w3[] = {
        {"SubjectUserName", "bob", VA_V_STR},
        {"ClientProcessId", "25920", VA_V_UINT},
        {"Names", "a", VA_V_STR},
        {"Names", "b", VA_V_STR},
    };
    expect_fields(&m.ev, w3, sizeof w3 / sizeof w3[0]);
    unmap(&m);

    /* evtx_dump --separate-json-attributes: attributes in "<name>_attributes" siblings, with
     * or without the element itself. */
    map_doc(&m, "{\"Event_attributes\": {\"xmlns\": \"x\"}, \"Event\": {\"System\": {"
                "\"Provider_attributes\": {\"Name\": \"P\", \"Guid\": "
                "\"5770385f-c22a-43e0-bf4c-06f5698ffbd9\"}, \"Provider\": null, \"EventID\": 4,"
                "\"TimeCreated_attributes\": {\"SystemTime\": \"2021-01-01T00:00:00.000001Z\"},"
                "\"Execution_attributes\": {\"ProcessID\": 1, \"ThreadID\": 2}},"
                "\"EventData\": {\"A\": \"1\"}}}");
    static const want w4[] = {
        {"Provider_Name", "P", VA_V_STR},
        {"Provider_Guid", "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}", VA_V_STR},
        {"EventID", "4", VA_V_UINT},
        {"TimeCreated", "2021-01-01T00:00:00.0000010Z", VA_V_STR},
        {"ProcessID", "1", VA_V_UINT},
        {"ThreadID", "2", VA_V_UINT},
        {"A", "1", VA_V_STR},
    };
    expect_fields(&m.ev, w4, sizeof w4 / sizeof w4[0]);
    unmap(&m);
}

static const char nxlog_doc[] =
    "{\"EventTime\":\"2020-08-05 02:09:26\",\"Hostname\":\"WORKSTATION5.theshire.local\","
    "\"Keywords\":-9214364837600034816,\"EventType\":\"AUDIT_SUCCESS\",\"SeverityValue\":2,"
    "\"Severity\":\"INFO\",\"EventID\":4688,\"SourceName\":\"Microsoft-Windows-Security-Auditing\","
    "\"ProviderGuid\":\"{54849625-5478-4994-A5BA-3E3B0328C30D}\",\"Version\":2,\"Task\":13312,"
    "\"OpcodeValue\":0,\"RecordNumber\":110748,\"ExecutionProcessID\":4,"
    "\"ExecutionThreadID\":4888,\"Channel\":\"Security\",\"Message\":\"A new process has been "
    "created.\\r\\n\",\"Category\":\"Process Creation\",\"Opcode\":\"Info\","
    "\"NewProcessName\":\"C:\\\\Windows\\\\System32\\\\cmd.exe\",\"CommandLine\":\"cmd /c x\","
    "\"EventReceivedTime\":\"2020-08-05 02:09:29\",\"SourceModuleName\":\"eventlog\","
    "\"SourceModuleType\":\"im_msvistalog\",\"@version\":\"1\",\"host\":\"wec\",\"port\":53997,"
    "\"tags\":[\"mordorDataset\"],\"@timestamp\":\"2020-08-05T06:09:29.626Z\","
    "\"Level\":\"0\",\"UserID\":\"S-1-5-18\",\"MultiValue\":[\"x\",\"y\"]}";

static void map_nxlog(void **state) {
    (void)state;
    mapped m;
    map_doc(&m, nxlog_doc);
    assert_int_equal(va_jsonev_detect(m.root), VA_JSONEV_NXLOG);
    static const want w[] = {
        {"Provider_Name", "Microsoft-Windows-Security-Auditing", VA_V_STR},
        {"Provider_Guid", "{54849625-5478-4994-A5BA-3E3B0328C30D}", VA_V_STR},
        {"EventID", "4688", VA_V_UINT},
        {"Version", "2", VA_V_UINT},
        {"Level", "0", VA_V_UINT},
        {"Task", "13312", VA_V_UINT},
        {"Opcode", "0", VA_V_UINT},
        {"RenderingInfo_Opcode", "Info", VA_V_STR},
        {"Keywords", "0x8020000000000000", VA_V_STR},
        /* EventTime (local, no zone) is not taken as UTC: @timestamp, in UTC, is the time. */
        {"TimeCreated", "2020-08-05T06:09:29.6260000Z", VA_V_STR},
        {"EventRecordID", "110748", VA_V_UINT},
        {"ProcessID", "4", VA_V_UINT},
        {"ThreadID", "4888", VA_V_UINT},
        {"Channel", "Security", VA_V_STR},
        {"Computer", "WORKSTATION5.theshire.local", VA_V_STR},
        {"Security_UserID", "S-1-5-18", VA_V_STR},
        {"EventType", "AUDIT_SUCCESS", VA_V_STR},
        {"SeverityValue", "2", VA_V_UINT},
        {"Severity", "INFO", VA_V_STR},
        {"Message", "A new process has been created.\r\n", VA_V_STR},
        {"Category", "Process Creation", VA_V_STR},
        {"NewProcessName", "C:\\Windows\\System32\\cmd.exe", VA_V_STR},
        {"CommandLine", "cmd /c x", VA_V_STR},
        {"MultiValue", "x", VA_V_STR},
        {"MultiValue", "y", VA_V_STR},
    };
    expect_fields(&m.ev, w, sizeof w / sizeof w[0]);
    assert_int_equal(m.ev.event_id, 4688);
    assert_int_equal(m.ev.record_id, 110748);
    assert_string_equal(m.ev.computer->val, "WORKSTATION5.theshire.local");
    assert_null(m.notes.unzoned_time);
    unmap(&m);

    /* TimeCreated wins over @timestamp; an offset is converted to UTC; numeric strings for the
     * System numbers become integers; Keywords as hex text is kept. */
    map_doc(&m, "{\"@timestamp\":\"2020-10-23T02:36:40.671Z\",\"TimeCreated\":"
                "\"2020-10-23T04:36:43.764+02:00\",\"EventID\":\"5156\",\"Channel\":\"Security\","
                "\"Task\":\"12810\",\"Keywords\":\"0x8020000000000000\",\"ProcessID\":\"4584\"}");
    static const want w2[] = {
        {"EventID", "5156", VA_V_UINT},
        {"Task", "12810", VA_V_UINT},
        {"Keywords", "0x8020000000000000", VA_V_STR},
        {"TimeCreated", "2020-10-23T02:36:43.7640000Z", VA_V_STR},
        {"ProcessID", "4584", VA_V_UINT},
        {"Channel", "Security", VA_V_STR},
    };
    expect_fields(&m.ev, w2, sizeof w2 / sizeof w2[0]);
    unmap(&m);
}

/* The event's time: a zoned time wins over one without a zone whatever the member order; a
 * time without a zone is used only when there is nothing else, read as UTC and noted. */
static void map_times(void **state) {
    (void)state;
    static const struct {
        const char *doc, *want;
        int unzoned;
    } cases[] = {
        /* NXLog through Logstash: EventTime is local (here UTC-4), @timestamp UTC. */
        {"{\"EventTime\":\"2020-08-05 02:09:26\",\"@timestamp\":\"2020-08-05T06:09:29.626Z\","
         "\"EventID\":1,\"Channel\":\"C\"}",
         "2020-08-05T06:09:29.6260000Z", 0},
        {"{\"@timestamp\":\"2020-08-05T06:09:29.626Z\",\"EventTime\":\"2020-08-05 02:09:26\","
         "\"EventID\":1,\"Channel\":\"C\"}",
         "2020-08-05T06:09:29.6260000Z", 0},
        /* an unzoned TimeCreated does not win over a zoned @timestamp either */
        {"{\"TimeCreated\":\"2020-10-18 10:56:18.799\",\"@timestamp\":\"2020-10-19T02:56:18.8Z\","
         "\"EventID\":1,\"Channel\":\"C\"}",
         "2020-10-19T02:56:18.8000000Z", 0},
        /* a zoned EventTime (NXLog configured for ISO 8601 with offset) is used as it says */
        {"{\"EventTime\":\"2020-08-05T02:09:26-04:00\",\"@timestamp\":\"2020-08-05T06:09:29Z\","
         "\"EventID\":1,\"Channel\":\"C\"}",
         "2020-08-05T06:09:26.0000000Z", 0},
        /* text that is no time does not hide a time that is one */
        {"{\"TimeCreated\":\"yesterday\",\"@timestamp\":\"2020-08-05T06:09:29Z\","
         "\"EventID\":1,\"Channel\":\"C\"}",
         "2020-08-05T06:09:29.0000000Z", 0},
        /* only times without a zone: the first, read as UTC, noted */
        {"{\"TimeCreated\":\"2020-10-18 10:56:18.799\",\"EventID\":1,\"Channel\":\"C\"}",
         "2020-10-18T10:56:18.7990000Z", 1},
        {"{\"EventReceivedTime\":\"2020-08-05 02:09:29\",\"EventTime\":\"2020-08-05 02:09:26\","
         "\"EventID\":1,\"Channel\":\"C\"}",
         "2020-08-05T02:09:26.0000000Z", 1},
        /* nothing readable: the text as it is, no note (there is no time to doubt) */
        {"{\"TimeCreated\":\"yesterday\",\"EventID\":1,\"Channel\":\"C\"}", "yesterday", 0},
        /* Winlogbeat: @timestamp, unless only time_created has a zone */
        {"{\"@timestamp\":\"2021-03-01T10:00:00.123Z\",\"winlog\":{\"time_created\":"
         "\"2021-03-01T09:59:59Z\",\"channel\":\"C\"}}",
         "2021-03-01T10:00:00.1230000Z", 0},
        {"{\"@timestamp\":\"2021-03-01 10:00:00\",\"winlog\":{\"time_created\":"
         "\"2021-03-01T11:00:00+02:00\",\"channel\":\"C\"}}",
         "2021-03-01T09:00:00.0000000Z", 0},
        {"{\"@timestamp\":\"2021-03-01 10:00:00\",\"winlog\":{\"channel\":\"C\"}}",
         "2021-03-01T10:00:00.0000000Z", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mapped m;
        map_doc(&m, cases[i].doc);
        const char *got = NULL;
        for (uint32_t k = 0; k < m.ev.n; k++)
            if (!strcmp(m.ev.f[k].name, "TimeCreated")) {
                if (got) fail_msg("case %zu: two times", i);
                got = m.ev.f[k].val;
            }
        if (!got || strcmp(got, cases[i].want))
            fail_msg("case %zu: time %s, want %s", i, got ? got : "(none)", cases[i].want);
        if (!!m.notes.unzoned_time != cases[i].unzoned)
            fail_msg("case %zu: unzoned note %d, want %d", i, !!m.notes.unzoned_time,
                     cases[i].unzoned);
        /* the times not used are not event fields */
        for (uint32_t k = 0; k < m.ev.n; k++)
            if (!strcmp(m.ev.f[k].name, "EventTime") || !strcmp(m.ev.f[k].name, "@timestamp"))
                fail_msg("case %zu: %s kept", i, m.ev.f[k].name);
        unmap(&m);
    }
}

static const char winlogbeat_doc[] =
    "{\"@timestamp\":\"2021-03-01T10:00:00.123Z\",\"message\":\"A new process has been created.\","
    "\"event\":{\"code\":\"4688\",\"kind\":\"event\",\"provider\":\"Microsoft-Windows-Security-"
    "Auditing\"},\"log\":{\"level\":\"information\"},\"host\":{\"name\":\"ws5\"},"
    "\"agent\":{\"type\":\"winlogbeat\"},"
    "\"winlog\":{\"channel\":\"Security\",\"computer_name\":\"WS5.contoso.local\","
    "\"event_id\":\"4688\",\"provider_name\":\"Microsoft-Windows-Security-Auditing\","
    "\"provider_guid\":\"{54849625-5478-4994-a5ba-3e3b0328c30d}\",\"record_id\":110748,"
    "\"process\":{\"pid\":4,\"thread\":{\"id\":4888}},\"task\":\"Process Creation\","
    "\"opcode\":\"Info\",\"keywords\":[\"Audit Success\"],\"version\":2,"
    "\"activity_id\":\"{D5F81413-EE55-0001-C79D-A7F5C76AD601}\","
    "\"user\":{\"identifier\":\"S-1-5-18\",\"name\":\"SYSTEM\"},\"api\":\"wineventlog\","
    "\"event_data\":{\"NewProcessName\":\"C:\\\\x.exe\",\"CommandLine\":\"x -y\","
    "\"TokenElevationType\":\"%%1936\"}}}";

static void map_winlogbeat(void **state) {
    (void)state;
    mapped m;
    map_doc(&m, winlogbeat_doc);
    assert_int_equal(va_jsonev_detect(m.root), VA_JSONEV_WINLOGBEAT);
    static const want w[] = {
        {"Provider_Name", "Microsoft-Windows-Security-Auditing", VA_V_STR},
        {"Provider_Guid", "{54849625-5478-4994-a5ba-3e3b0328c30d}", VA_V_STR},
        {"EventID", "4688", VA_V_UINT},
        {"Version", "2", VA_V_UINT},
        {"RenderingInfo_Level", "information", VA_V_STR},
        {"RenderingInfo_Task", "Process Creation", VA_V_STR},
        {"RenderingInfo_Opcode", "Info", VA_V_STR},
        {"RenderingInfo_Keyword", "Audit Success", VA_V_STR},
        {"TimeCreated", "2021-03-01T10:00:00.1230000Z", VA_V_STR},
        {"EventRecordID", "110748", VA_V_UINT},
        {"Correlation_ActivityID", "{D5F81413-EE55-0001-C79D-A7F5C76AD601}", VA_V_STR},
        {"ProcessID", "4", VA_V_UINT},
        {"ThreadID", "4888", VA_V_UINT},
        {"Channel", "Security", VA_V_STR},
        {"Computer", "WS5.contoso.local", VA_V_STR},
        {"Security_UserID", "S-1-5-18", VA_V_STR},
        {"NewProcessName", "C:\\x.exe", VA_V_STR},
        {"CommandLine", "x -y", VA_V_STR},
        {"TokenElevationType", "%%1936", VA_V_STR},
        {"Message", "A new process has been created.", VA_V_STR},
    };
    expect_fields(&m.ev, w, sizeof w / sizeof w[0]);
    unmap(&m);

    /* event.code stands in for a missing winlog.event_id; user_data leaves by their names. */
    map_doc(&m, "{\"event\":{\"code\":1102},\"winlog\":{\"channel\":\"Security\","
                "\"user_data\":{\"xml_name\":\"LogFileCleared\",\"SubjectUserName\":\"bob\","
                "\"Inner\":{\"Leaf\":\"v\"}}}}");
    static const want w2[] = {
        {"EventID", "1102", VA_V_UINT},
        {"Channel", "Security", VA_V_STR},
        {"SubjectUserName", "bob", VA_V_STR},
        {"Leaf", "v", VA_V_STR},
    };
    expect_fields(&m.ev, w2, sizeof w2 / sizeof w2[0]);
    assert_int_equal(m.ev.event_id, 1102);
    unmap(&m);
}

static void map_unknown_shapes(void **state) {
    (void)state;
    static const char *const docs[] = {
        "{\"foo\": 1}",
        "{\"EventID\": 4688}", /* no Channel/SourceName/Hostname */
        "{\"Event\": \"not an object\"}",
        "{\"winlog\": [1]}",
        "[1, 2]",
        "\"text\"",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        va_arena a;
        va_arena_init(&a, 0);
        va_buf text;
        va_buf_init(&text);
        va_json *root;
        va_json_error e;
        assert_int_equal(parse(&a, docs[i], strlen(docs[i]), NULL, &root, &e), VA_OK);
        assert_int_equal(va_jsonev_detect(root), VA_JSONEV_UNKNOWN);
        va_event ev;
        va_event_init(&ev, &a);
        const char *why = NULL;
        assert_int_equal(va_jsonev_map(root, &ev, &text, &why, NULL), VA_EFORMAT);
        assert_non_null(why);
        assert_int_equal(ev.n, 0);
        va_buf_free(&text);
        va_arena_free(&a);
    }
    assert_string_equal(va_jsonev_format_name(VA_JSONEV_NXLOG), "nxlog");
}

/* The same event as evtx_dump, NXLog and Winlogbeat write it. */
static const char same_evtx_dump[] =
    "{\"Event\":{\"System\":{\"Provider\":{\"#attributes\":{\"Name\":"
    "\"Microsoft-Windows-Security-Auditing\",\"Guid\":\"54849625-5478-4994-A5BA-3E3B0328C30D\"}},"
    "\"EventID\":4688,\"Version\":2,\"Level\":0,\"Task\":13312,\"Opcode\":0,"
    "\"Keywords\":\"0x8020000000000000\",\"TimeCreated\":{\"#attributes\":{\"SystemTime\":"
    "\"2020-10-21T12:19:04.411000Z\"}},\"EventRecordID\":110748,\"Correlation\":null,"
    "\"Execution\":{\"#attributes\":{\"ProcessID\":4,\"ThreadID\":4888}},\"Channel\":\"Security\","
    "\"Computer\":\"WORKSTATION5\",\"Security\":null},"
    "\"EventData\":{\"SubjectUserSid\":\"S-1-5-21-1\",\"SubjectUserName\":\"wardog\","
    "\"NewProcessId\":\"0x27cc\",\"NewProcessName\":\"C:\\\\Windows\\\\System32\\\\netsh.exe\","
    "\"CommandLine\":\"netsh advfirewall\"}}}";
static const char same_nxlog[] =
    "{\"SubjectUserName\":\"wardog\",\"TimeCreated\":\"2020-10-21 12:19:04.411\","
    "\"CommandLine\":\"netsh advfirewall\",\"NewProcessId\":\"0x27cc\",\"EventID\":4688,"
    "\"Channel\":\"Security\",\"Task\":\"13312\",\"Level\":\"0\",\"Version\":2,\"OpcodeValue\":0,"
    "\"Keywords\":-9214364837600034816,\"RecordNumber\":110748,\"ExecutionProcessID\":4,"
    "\"ThreadID\":4888,\"Hostname\":\"WORKSTATION5\",\"SubjectUserSid\":\"S-1-5-21-1\","
    "\"NewProcessName\":\"C:\\\\Windows\\\\System32\\\\netsh.exe\","
    "\"SourceName\":\"Microsoft-Windows-Security-Auditing\","
    "\"ProviderGuid\":\"{54849625-5478-4994-A5BA-3E3B0328C30D}\","
    "\"EventReceivedTime\":\"2020-10-21 12:19:05\",\"SourceModuleType\":\"im_msvistalog\"}";
static const char same_winlogbeat[] =
    "{\"@timestamp\":\"2020-10-21T12:19:04.411Z\",\"winlog\":{\"channel\":\"Security\","
    "\"computer_name\":\"WORKSTATION5\",\"event_id\":4688,\"provider_name\":"
    "\"Microsoft-Windows-Security-Auditing\",\"provider_guid\":"
    "\"{54849625-5478-4994-A5BA-3E3B0328C30D}\",\"record_id\":\"110748\",\"version\":2,"
    "\"process\":{\"pid\":4,\"thread\":{\"id\":4888}},\"keywords\":\"0x8020000000000000\","
    "\"event_data\":{\"SubjectUserSid\":\"S-1-5-21-1\",\"SubjectUserName\":\"wardog\","
    "\"NewProcessId\":\"0x27cc\",\"NewProcessName\":\"C:\\\\Windows\\\\System32\\\\netsh.exe\","
    "\"CommandLine\":\"netsh advfirewall\"}}}";

static void same_event_same_fields(void **state) {
    (void)state;
    static const char *const core[] = {
        "Provider_Name",   "Provider_Guid", "EventID",        "Version",
        "Keywords",        "TimeCreated",   "EventRecordID",  "ProcessID",
        "ThreadID",        "Channel",       "Computer",       "SubjectUserSid",
        "SubjectUserName", "NewProcessId",  "NewProcessName", "CommandLine"};
    /* Level, Task and Opcode are numbers in the first two; Winlogbeat only has their names. */
    static const char *const numbers[] = {"Level", "Task", "Opcode"};
    mapped d, n, w;
    map_doc(&d, same_evtx_dump);
    map_doc(&n, same_nxlog);
    map_doc(&w, same_winlogbeat);
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
        const va_field *a = va_event_get(&d.ev, core[i]);
        const va_field *b = va_event_get(&n.ev, core[i]);
        const va_field *c = va_event_get(&w.ev, core[i]);
        if (!a || !b || !c)
            fail_msg("%s missing: %p %p %p", core[i], (void *)a, (void *)b, (void *)c);
        if (strcmp(a->val, b->val) || strcmp(a->val, c->val))
            fail_msg("%s: evtx_dump '%s', nxlog '%s', winlogbeat '%s'", core[i], a->val, b->val,
                     c->val);
        /* Integers are integers in every source, whatever the JSON writer made of them. */
        if (a->type != b->type || a->type != c->type)
            fail_msg("%s: types %d %d %d", core[i], a->type, b->type, c->type);
    }
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        const va_field *a = va_event_get(&d.ev, numbers[i]);
        const va_field *b = va_event_get(&n.ev, numbers[i]);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a->val, b->val);
        assert_int_equal(a->type, b->type);
    }
    const va_event *evs[] = {&d.ev, &n.ev, &w.ev};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(evs[i]->event_id, 4688);
        assert_int_equal(evs[i]->record_id, 110748);
        assert_int_equal(evs[i]->time_ns, d.ev.time_ns);
        assert_string_equal(evs[i]->channel->val, "Security");
        assert_string_equal(evs[i]->computer->val, "WORKSTATION5");
        assert_string_equal(evs[i]->provider->val, "Microsoft-Windows-Security-Auditing");
    }
    assert_true(d.ev.time_ns != INT64_MIN);
    /* The evtx_dump and NXLog forms carry exactly the same field names. */
    for (uint32_t i = 0; i < d.ev.n; i++)
        if (!va_event_get(&n.ev, d.ev.f[i].name)) fail_msg("%s only in evtx_dump", d.ev.f[i].name);
    for (uint32_t i = 0; i < n.ev.n; i++)
        if (!va_event_get(&d.ev, n.ev.f[i].name)) fail_msg("%s only in NXLog", n.ev.f[i].name);
    unmap(&d);
    unmap(&n);
    unmap(&w);
}

/* ---- streaming reader -------------------------------------------------------------------- */

#define MAXD 16
#define MAXE 64

typedef struct seen {
    int ndiag, nev, stop_after;
    struct {
        va_severity sev;
        va_err code;
        char unit[16];
        int64_t unit_no, offset;
        char msg[320];
    } d[MAXD];
    struct {
        int64_t event_id, unit, offset;
        char first[64]; /* first field name=value */
    } e[MAXE];
} seen;

static void on_diag(void *ud, const va_diag *g) {
    seen *s = ud;
    if (s->ndiag >= MAXD) return;
    s->d[s->ndiag].sev = g->sev;
    s->d[s->ndiag].code = g->code;
    snprintf(s->d[s->ndiag].unit, sizeof s->d[0].unit, "%s", g->unit ? g->unit : "");
    s->d[s->ndiag].unit_no = g->unit_no;
    s->d[s->ndiag].offset = g->offset;
    snprintf(s->d[s->ndiag].msg, sizeof s->d[0].msg, "%s", g->msg);
    s->ndiag++;
}

static int on_event(void *ud, const va_event *ev) {
    seen *s = ud;
    if (s->nev < MAXE) {
        s->e[s->nev].event_id = ev->event_id;
        s->e[s->nev].unit = ev->src.unit;
        s->e[s->nev].offset = ev->src.offset;
        snprintf(s->e[s->nev].first, sizeof s->e[0].first, "%s=%s", ev->n ? ev->f[0].name : "",
                 ev->n ? ev->f[0].val : "");
        assert_string_equal(ev->src.path, "mem");
    }
    s->nev++;
    return s->stop_after && s->nev >= s->stop_after;
}

/* Classic PowerShell events (channel "Windows PowerShell"): EVTX has the details block as an
 * unnamed Data; NXLog only the rendered Message, Winlogbeat param1..3.  All three give the rule
 * the same Data text. */
#define PS_DETAILS                                                                                 \
    "\\tNewEngineState=Available\\r\\n\\tPreviousEngineState=None\\r\\n\\r\\n\\tSequenceNumber=13" \
    "\\r\\n\\r\\n\\tHostName=ConsoleHost\\r\\n\\tHostVersion=2.0\\r\\n\\tHostId=64821494-0737-"    \
    "4ce9-ad67-"                                                                                   \
    "3ac0e50a81b8\\r\\n\\tHostApplication=powershell -version 2 -c "                               \
    "calc\\r\\n\\tEngineVersion=2.0\\r\\n"                                                         \
    "\\tRunspaceId=74ae21ca-7fa9-40cc-a265-7a41fdb168a6\\r\\n\\tPipelineId=\\r\\n\\tCommandLine="
static const char ps_evtx_dump[] =
    "{\"Event\":{\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"PowerShell\"}},"
    "\"EventID\":400,\"Channel\":\"Windows PowerShell\",\"Computer\":\"PC1\",\"TimeCreated\":"
    "{\"#attributes\":{\"SystemTime\":\"2021-01-28T09:58:44.538760Z\"}}},\"EventData\":{\"Data\":"
    "{\"#text\":[\"Available\",\"None\",\"" PS_DETAILS "\"]}}}}";
static const char ps_nxlog[] =
    "{\"EventID\":400,\"SourceName\":\"PowerShell\",\"Channel\":\"Windows PowerShell\","
    "\"Hostname\":\"PC1\",\"EventTime\":\"2021-01-28T10:58:44+01:00\",\"Message\":\"Engine state "
    "is changed from None to Available. \\r\\n\\r\\nDetails: \\r\\n" PS_DETAILS "\\r\\n\"}";
static const char ps_winlogbeat[] =
    "{\"@timestamp\":\"2021-01-28T09:58:44.538Z\",\"winlog\":{\"channel\":\"Windows PowerShell\","
    "\"provider_name\":\"PowerShell\",\"event_id\":400,\"computer_name\":\"PC1\",\"event_data\":"
    "{\"param1\":\"Available\",\"param2\":\"None\",\"param3\":\"" PS_DETAILS "\"}},\"message\":"
    "\"Engine state is changed from None to Available.\"}";

static const char *data_of(const va_event *ev, int i) {
    for (uint32_t k = 0; k < ev->n; k++)
        if (!strcmp(ev->f[k].name, "Data") && !i--) return ev->f[k].val;
    return NULL;
}

/* Rules as SigmaHQ writes them for these events (posh_pc_*): tests on Data. */
static const char PS_RULES[] =
    "title: Downgrade\n"
    "logsource: {product: windows, category: ps_classic_start}\n"
    "detection:\n"
    "  selection: {Data|contains: 'EngineVersion=2.'}\n"
    "  filter: {Data|contains: 'HostVersion=2.'}\n"
    "  condition: selection and not filter\n"
    "---\n"
    "title: Console host\n"
    "logsource: {product: windows, category: ps_classic_start}\n"
    "detection:\n"
    "  selection: {Data|contains|all: ['HostName=ConsoleHost', 'HostApplication=powershell "
    "-version']}\n"
    "  null_host: {Data|re: 'HostId=[a-zA-Z0-9-]{36}\\s+EngineVersion='}\n"
    "  condition: selection and not null_host\n";

static int count_hits(void *ud, const va_rule *r, const va_event *ev) {
    (void)r, (void)ev;
    (*(int *)ud)++;
    return 0;
}

static void map_ps_classic(void **state) {
    (void)state;
    mapped m[3];
    map_doc(&m[0], ps_evtx_dump);
    map_doc(&m[1], ps_nxlog);
    map_doc(&m[2], ps_winlogbeat);
    const char *block = data_of(&m[0].ev, 2);
    assert_non_null(block);
    assert_non_null(strstr(block, "HostApplication=powershell -version 2"));
    /* NXLog: the Message's details block, without the template's words or the final CRLF */
    assert_string_equal(data_of(&m[1].ev, 0), block);
    assert_null(data_of(&m[1].ev, 1));
    /* Winlogbeat: param1..3 are the unnamed Data, in order */
    assert_string_equal(data_of(&m[2].ev, 0), "Available");
    assert_string_equal(data_of(&m[2].ev, 1), "None");
    assert_string_equal(data_of(&m[2].ev, 2), block);
    /* The same rules fire on all three: one alert each for "Console host"; "Downgrade" is
     * held back by its filter (host version 2 too). */
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_rule_stats rs = {0};
    assert_int_equal(
        va_rule_load_mem(&a, "ps.yml", PS_RULES, strlen(PS_RULES), &set, NULL, NULL, &rs), VA_OK);
    va_logsource_map *map = NULL;
    assert_int_equal(va_logsource_load(&a, NULL, &map, NULL), VA_OK);
    va_engine_opts o = {.logsources = map};
    va_engine *e = NULL;
    va_engine_stats es;
    seen ds = {0};
    assert_int_equal(va_engine_new(&set, &o, on_diag, &ds, &e, &es), VA_OK);
    assert_int_equal(ds.ndiag, 0);
    assert_int_equal(es.rules, 2);
    va_engine_scratch *sc = va_engine_scratch_new();
    assert_non_null(sc);
    for (int i = 0; i < 3; i++) {
        int hits = 0;
        va_engine_match(e, sc, &m[i].ev, count_hits, &hits);
        if (hits != 1) fail_msg("form %d: %d alerts, want 1", i, hits);
    }
    va_engine_scratch_free(sc);
    va_engine_free(e);
    va_arena_free(&a);
    for (int i = 0; i < 3; i++) unmap(&m[i]);
    /* An NXLog message without a details block gives no Data; a Data member is kept as it is;
     * other channels are left alone. */
    static const char *const none[] = {
        "{\"EventID\":400,\"Channel\":\"Windows PowerShell\",\"Message\":\"Engine state is "
        "changed.\"}",
        "{\"EventID\":400,\"Channel\":\"Microsoft-Windows-PowerShell/Operational\",\"Message\":"
        "\"x\\r\\n\\tHostName=ConsoleHost\"}",
    };
    for (size_t i = 0; i < 2; i++) {
        mapped x;
        map_doc(&x, none[i]);
        if (data_of(&x.ev, 0)) fail_msg("none %zu: Data '%s'", i, data_of(&x.ev, 0));
        unmap(&x);
    }
    mapped x;
    map_doc(&x, "{\"EventID\":400,\"Channel\":\"windows powershell\",\"Data\":\"own\",\"Message\":"
                "\"x\\r\\n\\tHostName=ConsoleHost\"}");
    assert_string_equal(data_of(&x.ev, 0), "own");
    assert_null(data_of(&x.ev, 1));
    unmap(&x);
}

/* Feed input in pieces of step bytes (0: all at once). */
static va_jsonev_stats run_reader(const char *in, size_t n, size_t step, const va_jsonev_opts *o,
                                  seen *s) {
    int stop_after = s->stop_after;
    memset(s, 0, sizeof *s);
    s->stop_after = stop_after;
    va_jsonev_reader *r = va_jsonev_new("mem", o, on_diag, s, on_event, s);
    assert_non_null(r);
    if (!step) step = n ? n : 1;
    for (size_t i = 0; i < n && !va_jsonev_stopped(r); i += step)
        assert_int_equal(va_jsonev_feed(r, in + i, i + step <= n ? step : n - i), VA_OK);
    assert_int_equal(va_jsonev_end(r), VA_OK);
    va_jsonev_stats st = *va_jsonev_get_stats(r);
    va_jsonev_free(r);
    return st;
}

/* Every layout gives the same events, whatever the size of the pieces fed. */
static void reader_layouts(void **state) {
    (void)state;
    static const char *const layouts[] = {
        /* NDJSON, with CRLF and a blank line */
        "{\"EventID\":1,\"Channel\":\"A\"}\r\n\n{\"EventID\":2,\"Channel\":\"B\"}\n"
        "{\"EventID\":3,\"Channel\":\"C\"}",
        /* concatenated, compact and pretty-printed */
        "{\"EventID\":1,\"Channel\":\"A\"}{\"EventID\":2,\"Channel\":\"B\"}\n{\n  \"EventID\": 3,\n"
        "  \"Channel\": \"C\"\n}\n",
        /* pretty-printed, as evtx_dump writes them */
        "{\n  \"EventID\": 1,\n  \"Channel\": \"A\"\n}\n{\n  \"EventID\": 2,\n  \"Channel\": "
        "\"B\"\n}"
        "\n{\n  \"EventID\": 3,\n  \"Channel\": \"C\"\n}\n",
        /* a top-level array, compact and pretty */
        "[{\"EventID\":1,\"Channel\":\"A\"},{\"EventID\":2,\"Channel\":\"B\"},"
        "{\"EventID\":3,\"Channel\":\"C\"}]",
        "[\n  {\n    \"EventID\": 1, \"Channel\": \"A\"\n  },\n  {\n    \"EventID\": 2, "
        "\"Channel\": "
        "\"B\"\n  },\n  {\"EventID\": 3, \"Channel\": \"C\"}\n]\n",
        /* evtx_dump's text output, with a byte order mark */
        "\xef\xbb\xbfRecord 1\n{\"EventID\":1,\"Channel\":\"A\"}\nRecord 2\r\n{\n\"EventID\":2,"
        "\"Channel\":\"B\"}\nRecord 3\n{\"EventID\":3,\"Channel\":\"C\"}\n",
        /* braces and brackets inside strings, escaped quotes */
        "{\"EventID\":1,\"Channel\":\"A\",\"x\":\"}{][\\\"}\"}\n{\"EventID\":2,\"Channel\":\"B\","
        "\"y\":\"\\\\\"}{\"EventID\":3,\"Channel\":\"C\",\"z\":\"{\"}",
    };
    static const size_t steps[] = {0, 1, 2, 3, 7, 64};
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
            seen s = {0};
            va_jsonev_stats st = run_reader(layouts[l], strlen(layouts[l]), steps[k], NULL, &s);
            if (s.ndiag) fail_msg("layout %zu step %zu: %s", l, steps[k], s.d[0].msg);
            if (s.nev != 3) fail_msg("layout %zu step %zu: %d events", l, steps[k], s.nev);
            for (int i = 0; i < 3; i++) assert_int_equal(s.e[i].event_id, i + 1);
            assert_int_equal(st.events, 3);
            assert_int_equal(st.objects, 3);
            assert_int_equal(st.bad, 0);
            assert_int_equal(st.by_format[VA_JSONEV_NXLOG], 3);
            assert_int_equal(st.bytes, strlen(layouts[l]));
        }
    }
}

static void reader_sources(void **state) {
    (void)state;
    /* NDJSON: units are lines; offsets are where each object starts. */
    const char nd[] = "{\"EventID\":1,\"Channel\":\"A\"}\n\n{\"EventID\":2,\"Channel\":\"B\"}\n";
    seen s = {0};
    run_reader(nd, strlen(nd), 0, NULL, &s);
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.e[0].unit, 1);
    assert_int_equal(s.e[0].offset, 0);
    assert_int_equal(s.e[1].unit, 3);
    assert_int_equal(s.e[1].offset, 29);
    /* Pretty-printed: units are object ordinals. */
    const char pr[] =
        "{\n\"EventID\":1,\"Channel\":\"A\"\n}\n{\n\"EventID\":2,\"Channel\":\"B\"\n}";
    run_reader(pr, strlen(pr), 0, NULL, &s);
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.e[0].unit, 1);
    assert_int_equal(s.e[1].unit, 2);
    assert_int_equal(s.e[1].offset, 30);
    /* The evtx_dump shape through the reader. */
    run_reader(evtx_dump_doc, strlen(evtx_dump_doc), 5, NULL, &s);
    assert_int_equal(s.nev, 1);
    assert_int_equal(s.ndiag, 0);
    assert_string_equal(s.e[0].first, "Provider_Name=Microsoft-Windows-Sysmon");
}

static int has(const seen *s, int i, va_err code, const char *unit, int64_t no, int64_t off,
               const char *text) {
    if (i >= s->ndiag) fail_msg("no diagnostic %d (have %d)", i, s->ndiag);
    if (s->d[i].code != code || strcmp(s->d[i].unit, unit) || s->d[i].unit_no != no ||
        (off >= 0 && s->d[i].offset != off) || !strstr(s->d[i].msg, text))
        fail_msg("diagnostic %d: code %d unit %s %" PRId64 " offset %" PRId64 " '%s'; want code %d "
                 "unit %s %" PRId64 " offset %" PRId64 " '%s'",
                 i, s->d[i].code, s->d[i].unit, s->d[i].unit_no, s->d[i].offset, s->d[i].msg, code,
                 unit, no, off, text);
    return 1;
}

static void reader_damage(void **state) {
    (void)state;
    seen s = {0};
    va_jsonev_stats st;
    /* A bad object in NDJSON: reported with its line, offset of the problem, and skipped. */
    const char a[] = "{\"EventID\":1,\"Channel\":\"A\"}\n{\"EventID\":2,\"Channel\":tru}\n"
                     "{\"EventID\":3,\"Channel\":\"C\"}\n";
    st = run_reader(a, strlen(a), 0, NULL, &s);
    assert_int_equal(s.nev, 2);
    has(&s, 0, VA_EFORMAT, "line", 2, 28 + 23, "line 2, column 24: invalid literal");
    assert_int_equal(st.bad, 1);
    assert_int_equal(st.objects, 3);

    /* An unknown shape. */
    const char b[] =
        "{\"EventID\":1,\"Channel\":\"A\"}\n{\"foo\":1}\n{\"EventID\":3,\"Channel\":\"C\"}";
    run_reader(b, strlen(b), 0, NULL, &s);
    assert_int_equal(s.nev, 2);
    has(&s, 0, VA_EFORMAT, "line", 2, 28, "not a Windows event");

    /* A string left open at the end of an NDJSON line costs that line only. */
    const char c[] = "{\"EventID\":1,\"Channel\":\"A\"}\n{\"EventID\":2,\"Channel\":\"B}\n"
                     "{\"EventID\":3,\"Channel\":\"C\"}\n";
    run_reader(c, strlen(c), 1, NULL, &s);
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.e[1].event_id, 3);
    has(&s, 0, VA_EFORMAT, "line", 2, -1, "string not closed");

    /* So does an object left open at the end of its line. */
    const char d[] = "{\"EventID\":1,\"Channel\":\"A\"}\n{\"EventID\":2,\"Channel\":\"B\"\n"
                     "{\"EventID\":3,\"Channel\":\"C\"}\n";
    run_reader(d, strlen(d), 0, NULL, &s);
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.e[1].event_id, 3);
    has(&s, 0, VA_EFORMAT, "line", 2, 54, "object not closed at the end of the line");

    /* Stray text between pretty-printed objects: reported, reading resumes at the next object. */
    const char e[] = "{\n \"EventID\": 1, \"Channel\": \"A\"\n}\ngarbage here {\n\"x\": 1}\n{\n "
                     "\"EventID\": 3, \"Channel\": \"C\"\n}\n";
    run_reader(e, strlen(e), 0, NULL, &s);
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.e[1].event_id, 3);
    has(&s, 0, VA_EFORMAT, "line", 4, 34, "unexpected 'g'");
    assert_int_equal(s.ndiag, 1);

    /* A "Record" line that is not one. */
    const char f[] = "Recorder\n{\"EventID\":1,\"Channel\":\"A\"}\n";
    run_reader(f, strlen(f), 0, NULL, &s);
    assert_int_equal(s.nev, 1);
    has(&s, 0, VA_EFORMAT, "line", 1, 0, "unexpected 'R'");

    /* Input ends inside an object. */
    const char g[] = "{\"EventID\":1,\"Channel\":\"A\"}\n{\"EventID\":2,";
    st = run_reader(g, strlen(g), 0, NULL, &s);
    assert_int_equal(s.nev, 1);
    has(&s, 0, VA_ETRUNC, "line", 2, 28, "input ends inside the object");
    assert_int_equal(st.bad, 1);

    /* Array separators are checked loosely: warnings, no event lost. */
    const char h[] = "[{\"EventID\":1,\"Channel\":\"A\"} {\"EventID\":2,\"Channel\":\"B\"},,"
                     "{\"EventID\":3,\"Channel\":\"C\"},]";
    st = run_reader(h, strlen(h), 0, NULL, &s);
    assert_int_equal(s.nev, 3);
    assert_int_equal(st.warnings, 3);
    assert_int_equal(st.bad, 0);
    assert_int_equal(s.d[0].sev, VA_SEV_WARN);
    has(&s, 0, VA_EFORMAT, "line", 1, 29, "missing ','");
    has(&s, 1, VA_EFORMAT, "line", 1, 57, "without an array element");
    has(&s, 2, VA_EFORMAT, "line", 1, -1, "before the end of the array");

    /* An array that never closes, and a non-object element. */
    const char i[] =
        "[{\"EventID\":1,\"Channel\":\"A\"}, [1, 2], {\"EventID\":3,\"Channel\":\"C\"}";
    st = run_reader(i, strlen(i), 0, NULL, &s);
    assert_int_equal(s.nev, 2);
    has(&s, 0, VA_EFORMAT, "line", 1, 30, "an array where an event object was expected");
    has(&s, 1, VA_ETRUNC, "line", 1, -1, "inside the array");
    assert_int_equal(st.bad, 1);
    assert_int_equal(st.warnings, 1);
}

/* Times without a zone: read as UTC, reported once per input, every one counted. */
static void reader_unzoned_times(void **state) {
    (void)state;
    const char in[] = "{\"EventID\":1,\"Channel\":\"A\",\"TimeCreated\":\"2020-10-18 10:56:18\"}\n"
                      "{\"EventID\":2,\"Channel\":\"A\",\"TimeCreated\":\"2020-10-18T10:56:19Z\"}\n"
                      "{\"EventID\":3,\"Channel\":\"A\",\"EventTime\":\"2020-10-18 10:56:20\"}\n"
                      "{\"EventID\":4,\"Channel\":\"A\",\"TimeCreated\":\"2020-10-18 10:56:21\"}\n";
    seen s = {0};
    va_jsonev_stats st = run_reader(in, strlen(in), 0, NULL, &s);
    assert_int_equal(s.nev, 4);
    assert_int_equal(st.events, 4);
    assert_int_equal(st.unzoned_times, 3);
    assert_int_equal(st.warnings, 1);
    assert_int_equal(st.bad, 0);
    assert_int_equal(s.ndiag, 1);
    assert_int_equal(s.d[0].sev, VA_SEV_WARN);
    /* named by the first such event's line, at the offset of its time value */
    has(&s, 0, VA_EFORMAT, "line", 1, (int64_t)(strchr(in, '2') - in - 1),
        "event time \"2020-10-18 10:56:18\" (TimeCreated) has no time zone");
    assert_non_null(strstr(s.d[0].msg, "read as UTC (reported once per input)"));
    /* A second input is reported again. */
    const char *rest = strchr(in, '\n') + 1;
    run_reader(rest, strlen(rest), 7, NULL, &s);
    assert_int_equal(s.ndiag, 1);
    has(&s, 0, VA_EFORMAT, "line", 2, -1, "(EventTime) has no time zone");
    /* An input whose times all have zones: nothing to report. */
    const char ok[] = "{\"EventID\":1,\"Channel\":\"A\",\"EventTime\":\"2020-10-18 10:56:18\","
                      "\"@timestamp\":\"2020-10-18T14:56:19.1Z\"}\n";
    st = run_reader(ok, strlen(ok), 0, NULL, &s);
    assert_int_equal(s.ndiag, 0);
    assert_int_equal(st.unzoned_times, 0);
}

static void reader_limits_and_stop(void **state) {
    (void)state;
    seen s = {0};
    /* An object over the limit is skipped whole, without keeping its bytes. */
    char big[400];
    int n = snprintf(big, sizeof big,
                     "{\"EventID\":1,\"Channel\":\"A\"}\n{\"EventID\":2,\"Channel\":\"%0150d\"}\n"
                     "{\"EventID\":3,\"Channel\":\"C\"}\n",
                     0);
    va_jsonev_opts o = {100, 0, 0};
    va_jsonev_stats st = run_reader(big, (size_t)n, 16, &o, &s);
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.e[1].event_id, 3);
    has(&s, 0, VA_ELIMIT, "line", 2, 28, "larger than the limit of 100 bytes");
    assert_int_equal(st.bad, 1);
    /* Too deep. */
    const char deep[] = "{\"EventID\":1,\"Channel\":\"A\",\"x\":[[[[[1]]]]]}\n"
                        "{\"EventID\":2,\"Channel\":\"B\"}\n";
    va_jsonev_opts d = {0, 4, 0};
    run_reader(deep, strlen(deep), 0, &d, &s);
    assert_int_equal(s.nev, 1);
    has(&s, 0, VA_ELIMIT, "line", 1, 34, "deeper than 4");
    /* Strict UTF-8. */
    const char bad8[] = "{\"EventID\":1,\"Channel\":\"\xff\"}\n";
    run_reader(bad8, strlen(bad8), 0, NULL, &s);
    assert_int_equal(s.nev, 1);
    va_jsonev_opts strict = {0, 0, 1};
    run_reader(bad8, strlen(bad8), 0, &strict, &s);
    assert_int_equal(s.nev, 0);
    has(&s, 0, VA_EFORMAT, "line", 1, 24, "invalid UTF-8");
    /* The callback stops the reader. */
    const char three[] = "{\"EventID\":1,\"Channel\":\"A\"}{\"EventID\":2,\"Channel\":\"B\"}"
                         "{\"EventID\":3,\"Channel\":\"C\"}";
    s.stop_after = 2;
    st = run_reader(three, strlen(three), 3, NULL, &s);
    assert_int_equal(s.nev, 2);
    assert_int_equal(st.events, 2);
}

static char *tmp_dir(void) {
    char tmpl[] = "/tmp/vaern-test-json-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *out = strdup(d);
    assert_non_null(out);
    return out;
}

static char *join(const char *dir, const char *name) {
    size_t l = strlen(dir) + strlen(name) + 2;
    char *p = malloc(l);
    assert_non_null(p);
    snprintf(p, l, "%s/%s", dir, name);
    return p;
}

typedef struct ids {
    uint64_t n, next_ok;
} ids;

static int count_in_order(void *ud, const va_event *ev) {
    ids *c = ud;
    if ((uint64_t)ev->record_id == c->n + 1) c->next_ok++;
    c->n++;
    return 0;
}

/* A file larger than several read blocks, objects straddling block boundaries. */
static void reader_file(void **state) {
    (void)state;
    char *dir = tmp_dir();
    char *path = join(dir, "big.ndjson");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const uint64_t n = 30000;
    for (uint64_t i = 1; i <= n; i++)
        fprintf(f,
                "{\"EventID\":4688,\"Channel\":\"Security\",\"RecordNumber\":%llu,"
                "\"CommandLine\":\"cmd.exe /c echo %0*llu\"}\n",
                (unsigned long long)i, (int)(i % 97), (unsigned long long)i);
    assert_int_equal(fclose(f), 0);
    ids c = {0, 0};
    va_jsonev_stats st = {0};
    seen s = {0};
    assert_int_equal(va_jsonev_read_file(path, NULL, on_diag, &s, &st, count_in_order, &c), VA_OK);
    assert_int_equal(s.ndiag, 0);
    assert_int_equal(c.n, n);
    assert_int_equal(c.next_ok, n);
    assert_int_equal(st.events, n);
    assert_true(st.bytes > 2 * VA_JSONEV_BLOCK);
    /* Missing file and directory: VA_EIO, reported. */
    char *missing = join(dir, "missing.json");
    assert_int_equal(va_jsonev_read_file(missing, NULL, on_diag, &s, &st, count_in_order, &c),
                     VA_EIO);
    assert_int_equal(s.ndiag, 1);
    assert_int_equal(s.d[0].code, VA_EIO);
    assert_int_equal(va_jsonev_read_file(dir, NULL, on_diag, &s, NULL, count_in_order, &c), VA_EIO);
    assert_int_equal(s.ndiag, 2);
    unlink(path);
    rmdir(dir);
    free(missing);
    free(path);
    free(dir);
}

/* ---- vaern dump on JSON input ------------------------------------------------------------ */

static int run_cmd(const char *cmd, va_buf *out) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[4096];
    size_t got;
    va_buf_clear(out);
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) va_buf_put(out, buf, got);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cli_dump_json(void **state) {
    (void)state;
    const char *bin = getenv("VAERN_BIN");
    if (!bin || access(bin, X_OK)) skip();
    char *dir = tmp_dir();
    char *sub = join(dir, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    char *good = join(sub, "a.json"), *bad = join(dir, "b.ndjson"), *other = join(dir, "c.txt");
    FILE *f = fopen(good, "w");
    assert_non_null(f);
    fputs(same_evtx_dump, f);
    fputs("\n", f);
    fputs(same_nxlog, f);
    fclose(f);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("{\"EventID\":1,\"Channel\":\"A\"}\n{oops}\n", f);
    fclose(f);
    f = fopen(other, "w");
    assert_non_null(f);
    fputs("not searched: wrong extension\n", f);
    fclose(f);
    va_buf out;
    va_buf_init(&out);
    char cmd[1024];
    /* The NXLog form's time has no zone: read as UTC, reported once, so the exit status is 1. */
    snprintf(cmd, sizeof cmd, "'%s' dump '%s' 2>&1 >/dev/null", bin, good);
    assert_int_equal(run_cmd(cmd, &out), 1);
    assert_non_null(strstr(out.p, "a.json: line 2: offset 0x"));
    assert_non_null(
        strstr(out.p, "has no time zone and the event has no time with one: read as UTC"));
    /* The two forms of the same event print the same core fields. */
    snprintf(cmd, sizeof cmd, "'%s' dump '%s' 2>/dev/null", bin, good);
    assert_int_equal(run_cmd(cmd, &out), 1);
    char *nl = strchr(out.p, '\n');
    assert_non_null(nl);
    assert_non_null(strstr(out.p, "\"EventID\":4688"));
    assert_non_null(strstr(nl + 1, "\"EventID\":4688"));
    assert_non_null(strstr(out.p, "\"TimeCreated\":\"2020-10-21T12:19:04.4110000Z\""));
    assert_non_null(strstr(nl + 1, "\"TimeCreated\":\"2020-10-21T12:19:04.4110000Z\""));
    assert_non_null(strstr(nl + 1, "\"Provider_Guid\":\"{54849625-5478-4994-A5BA-3E3B0328C30D}\""));
    assert_non_null(strstr(out.p, "\"Provider_Guid\":\"{54849625-5478-4994-A5BA-3E3B0328C30D}\""));
    /* A directory: both JSON files, in order, the bad line reported: exit 1. */
    snprintf(cmd, sizeof cmd, "'%s' dump --stats '%s' 2>&1 >/dev/null", bin, dir);
    assert_int_equal(run_cmd(cmd, &out), 1);
    assert_non_null(strstr(out.p, "b.ndjson: line 2"));
    assert_non_null(strstr(out.p, "2 JSON files, 3 events, 1 bad"));
    snprintf(cmd, sizeof cmd, "'%s' dump -o '%s/out.jsonl' '%s' '%s'", bin, dir, good, bad);
    assert_int_equal(run_cmd(cmd, &out), 1);
    snprintf(cmd, sizeof cmd, "wc -l < '%s/out.jsonl'", dir);
    assert_int_equal(run_cmd(cmd, &out), 0);
    assert_int_equal(atoi(out.p), 3);
    /* Usage errors. */
    snprintf(cmd, sizeof cmd, "'%s' dump 2>/dev/null", bin);
    assert_int_equal(run_cmd(cmd, &out), 2);
    snprintf(cmd, sizeof cmd, "'%s' dump --threads x '%s' 2>/dev/null", bin, good);
    assert_int_equal(run_cmd(cmd, &out), 2);
    snprintf(cmd, sizeof cmd, "'%s' dump '%s/none.json' 2>/dev/null", bin, dir);
    assert_int_equal(run_cmd(cmd, &out), 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(run_cmd(cmd, &out), 0);
    va_buf_free(&out);
    free(good), free(bad), free(other), free(sub), free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_valid_table),
        cmocka_unit_test(parse_escapes_surrogates_utf8),
        cmocka_unit_test(parse_numbers),
        cmocka_unit_test(parse_invalid_table),
        cmocka_unit_test(parse_strict_utf8),
        cmocka_unit_test(parse_limits),
        cmocka_unit_test(parse_dom_owns_its_text),
        cmocka_unit_test(map_evtx_dump),
        cmocka_unit_test(map_evtx_dump_data_forms),
        cmocka_unit_test(map_nxlog),
        cmocka_unit_test(map_times),
        cmocka_unit_test(map_winlogbeat),
        cmocka_unit_test(map_unknown_shapes),
        cmocka_unit_test(same_event_same_fields),
        cmocka_unit_test(map_ps_classic),
        cmocka_unit_test(reader_layouts),
        cmocka_unit_test(reader_sources),
        cmocka_unit_test(reader_damage),
        cmocka_unit_test(reader_unzoned_times),
        cmocka_unit_test(reader_limits_and_stop),
        cmocka_unit_test(reader_file),
        cmocka_unit_test(cli_dump_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
