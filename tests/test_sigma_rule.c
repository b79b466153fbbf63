/*
 * test_sigma_rule.c - unit tests for the Sigma rule loader (sigma/rule.h) and condition
 * parser/evaluator (sigma/cond.h).
 *
 * Rules are written inline; expectations come from the Sigma 2.1 specification (detection
 * shapes, modifier chains, condition precedence, filters, correlation types) and from YAML 1.2
 * core-schema typing.  Error cases check the exact line and column reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sigma/cond.h"
#include "sigma/rule.h"

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct diags {
    int n;
    va_rule_diag first;
    char msg[512];
    char file[256];
} diags;

static void collect(void *ud, const va_rule_diag *d) {
    diags *g = ud;
    if (!g->n++) {
        g->first = *d;
        snprintf(g->msg, sizeof g->msg, "%s", d->msg);
        snprintf(g->file, sizeof g->file, "%s", d->file);
        g->first.msg = g->msg;
        g->first.file = g->file;
    }
}

typedef struct fixture {
    va_arena a;
    va_rule_set set;
    diags d;
    va_rule_stats st;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    va_arena_init(&f->a, 1 << 14);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    va_arena_free(&f->a);
    free(f);
    return 0;
}

static void reset(fixture *f) {
    va_arena_reset(&f->a);
    memset(&f->set, 0, sizeof f->set);
    memset(&f->d, 0, sizeof f->d);
    memset(&f->st, 0, sizeof f->st);
}

static va_err load(fixture *f, const char *yaml) {
    reset(f);
    return va_rule_load_mem(&f->a, "t.yml", yaml, strlen(yaml), &f->set, collect, &f->d, &f->st);
}

static const va_rule_search *search(const va_rule_detection *d, const char *name) {
    for (uint32_t i = 0; i < d->nsearches; i++)
        if (!strcmp(d->searches[i].name, name)) return &d->searches[i];
    fail_msg("no search identifier %s", name);
    return NULL;
}

/* ---- detection shapes -------------------------------------------------------------------- */

static const char shapes_yaml[] = "title: Shapes\n"                             /* 1 */
                                  "id: 5b1e3f1c-0000-4000-8000-000000000001\n"  /* 2 */
                                  "status: test\n"                              /* 3 */
                                  "level: high\n"                               /* 4 */
                                  "author: someone\n"                           /* 5 */
                                  "date: 2024-01-02\n"                          /* 6 */
                                  "tags:\n"                                     /* 7 */
                                  "    - attack.execution\n"                    /* 8 */
                                  "    - attack.t1059\n"                        /* 9 */
                                  "falsepositives: Unknown\n"                   /* 10 */
                                  "logsource:\n"                                /* 11 */
                                  "    product: windows\n"                      /* 12 */
                                  "    category: process_creation\n"            /* 13 */
                                  "detection:\n"                                /* 14 */
                                  "    sel_map:\n"                              /* 15 */
                                  "        Image|endswith: '\\cmd.exe'\n"       /* 16 */
                                  "        CommandLine|contains|all:\n"         /* 17 */
                                  "            - ' /c '\n"                      /* 18 */
                                  "            - 'whoami'\n"                    /* 19 */
                                  "    sel_list:\n"                             /* 20 */
                                  "        - ParentImage|endswith: '\\a.exe'\n" /* 21 */
                                  "        - EventID: 4688\n"                   /* 22 */
                                  "          Level: 4\n"                        /* 23 */
                                  "    keywords:\n"                             /* 24 */
                                  "        - 'mimikatz'\n"                      /* 25 */
                                  "        - 42\n"                              /* 26 */
                                  "    kw_all:\n"                               /* 27 */
                                  "        '|all':\n"                           /* 28 */
                                  "            - 'a'\n"                         /* 29 */
                                  "            - 'b'\n"                         /* 30 */
                                  "    condition: sel_map or sel_list or keywords or kw_all\n"
                                  "x-custom: ignored\n";

static void test_shapes(void **state) {
    fixture *f = *state;
    assert_int_equal(load(f, shapes_yaml), VA_OK);
    assert_int_equal(f->d.n, 0);
    assert_int_equal(f->set.n, 1);
    const va_rule *r = f->set.head;
    assert_int_equal(r->kind, VA_RULE_KIND_DETECTION);
    assert_string_equal(r->title, "Shapes");
    assert_string_equal(r->id, "5b1e3f1c-0000-4000-8000-000000000001");
    assert_string_equal(r->status, "test");
    assert_string_equal(r->level, "high");
    assert_string_equal(r->date, "2024-01-02");
    assert_int_equal(r->tags.n, 2);
    assert_string_equal(r->tags.v[1], "attack.t1059");
    assert_int_equal(r->falsepositives.n, 1);
    assert_string_equal(r->logsource.product, "windows");
    assert_string_equal(r->logsource.category, "process_creation");
    assert_null(r->logsource.service);

    const va_rule_detection *d = &r->detection;
    assert_int_equal(d->nsearches, 4);
    const va_rule_search *s = search(d, "sel_map");
    assert_int_equal(s->kind, VA_RULE_SEARCH_MAP);
    assert_int_equal(s->nmaps, 1);
    assert_int_equal(s->line, 15);
    assert_int_equal(s->col, 5);
    const va_rule_field *fl = &s->maps[0].fields[0];
    assert_string_equal(fl->name, "Image");
    assert_int_equal(fl->mods.n, 1);
    assert_string_equal(fl->mods.v[0], "endswith");
    assert_false(fl->is_list);
    assert_string_equal(fl->vals[0].text, "\\cmd.exe");
    assert_int_equal(fl->vals[0].line, 16);
    assert_int_equal(fl->vals[0].col, 25);
    fl = &s->maps[0].fields[1];
    assert_string_equal(fl->name, "CommandLine");
    assert_int_equal(fl->mods.n, 2);
    assert_string_equal(fl->mods.v[0], "contains"); /* order as written */
    assert_string_equal(fl->mods.v[1], "all");
    assert_true(fl->is_list);
    assert_int_equal(fl->nvals, 2);
    assert_string_equal(fl->vals[1].text, "whoami");
    assert_int_equal(fl->vals[1].line, 19);

    s = search(d, "sel_list");
    assert_int_equal(s->kind, VA_RULE_SEARCH_MAPLIST);
    assert_int_equal(s->nmaps, 2);
    assert_int_equal(s->maps[0].n, 1);
    assert_int_equal(s->maps[1].n, 2);
    assert_string_equal(s->maps[1].fields[1].name, "Level");
    assert_int_equal(s->maps[1].fields[0].vals[0].type, VA_RULE_INT);
    assert_int_equal(s->maps[1].fields[0].vals[0].i, 4688);

    s = search(d, "keywords");
    assert_int_equal(s->kind, VA_RULE_SEARCH_KEYWORDS);
    assert_int_equal(s->nkeywords, 2);
    assert_string_equal(s->keywords[0].text, "mimikatz");
    assert_int_equal(s->keywords[1].type, VA_RULE_INT);

    s = search(d, "kw_all");
    assert_int_equal(s->kind, VA_RULE_SEARCH_MAP);
    assert_string_equal(s->maps[0].fields[0].name, ""); /* keyword search with modifiers */
    assert_string_equal(s->maps[0].fields[0].mods.v[0], "all");

    assert_int_equal(d->nconds, 1);
    assert_int_equal(d->conds[0].line, 31);
    assert_int_equal(d->conds[0].ast->kind, VA_COND_OR);
    assert_int_equal(d->conds[0].ast->nkids, 4);
}

/* ---- value typing ----------------------------------------------------------------------- */

static void test_value_types(void **state) {
    static const struct {
        const char *yaml;
        va_rule_vtype type;
        const char *text;
        int64_t i;
    } cases[] = {
        {"plain", VA_RULE_STR, "plain", 0},
        {"'42'", VA_RULE_STR, "42", 0},
        {"\"true\"", VA_RULE_STR, "true", 0},
        {"42", VA_RULE_INT, "42", 42},
        {"-7", VA_RULE_INT, "-7", -7},
        {"0x1F", VA_RULE_INT, "0x1F", 31},
        {"0o17", VA_RULE_INT, "0o17", 15},
        {"99999999999999999999", VA_RULE_INT, "99999999999999999999", INT64_MAX},
        {"1.5", VA_RULE_FLOAT, "1.5", 0},
        {"2e3", VA_RULE_FLOAT, "2e3", 0},
        {".inf", VA_RULE_FLOAT, ".inf", 0},
        {"true", VA_RULE_BOOL, "true", 1},
        {"False", VA_RULE_BOOL, "False", 0},
        {"yes", VA_RULE_STR, "yes", 0}, /* YAML 1.2: not a boolean */
        {"null", VA_RULE_NULL, "null", 0},
        {"~", VA_RULE_NULL, "~", 0},
        {"", VA_RULE_NULL, "", 0},
        {"''", VA_RULE_STR, "", 0},
        {"!!str 12", VA_RULE_STR, "12", 0},
        {"0x", VA_RULE_STR, "0x", 0},
        {"1.2.3", VA_RULE_STR, "1.2.3", 0},
    };
    fixture *f = *state;
    char buf[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf,
                 "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        F: %s\n"
                 "    condition: sel\n",
                 cases[i].yaml);
        assert_int_equal(load(f, buf), VA_OK);
        const va_rule_value *v = &f->set.head->detection.searches[0].maps[0].fields[0].vals[0];
        if (v->type != cases[i].type) fail_msg("%s: type %d", cases[i].yaml, v->type);
        assert_string_equal(v->text, cases[i].text);
        if (cases[i].type == VA_RULE_INT || cases[i].type == VA_RULE_BOOL)
            assert_true(v->i == cases[i].i);
        assert_int_equal(v->line, 6);
        /* an empty value has no text; libyaml marks it right after the colon */
        assert_int_equal(v->col, cases[i].yaml[0] ? 12 : 11);
    }
    /* numeric value of a float */
    assert_int_equal(load(f, "title: t\nlogsource: {product: x}\ndetection:\n  s: {F: 2.5}\n"
                             "  condition: s\n"),
                     VA_OK);
    assert_true(f->set.head->detection.searches[0].maps[0].fields[0].vals[0].f == 2.5);
}

/* ---- multi-document files, correlation -------------------------------------------------- */

/* The specification's "Failed Logins Followed by Successful Login" example. */
static const char multi_yaml[] =
    "title: Correlation - Multiple Failed Logins Followed by Successful Login\n"
    "id: b180ead8-d58f-40b2-ae54-c8940995b9b6\n"
    "status: experimental\n"
    "correlation:\n"
    "    type: temporal_ordered\n"
    "    rules:\n"
    "        - multiple_failed_login\n"
    "        - successful_login\n"
    "    group-by:\n"
    "        - User\n"
    "    timespan: 10m\n"
    "level: high\n"
    "---\n"
    "title: Multiple failed logons\n"
    "name: multiple_failed_login\n"
    "correlation:\n"
    "    type: event_count\n"
    "    rules:\n"
    "        - failed_login\n"
    "    group-by:\n"
    "        - User\n"
    "    timespan: 10m\n"
    "    condition:\n"
    "        gte: 10\n"
    "---\n"
    "title: Single failed login\n"
    "name: failed_login\n"
    "logsource:\n"
    "    product: windows\n"
    "    service: security\n"
    "detection:\n"
    "    selection:\n"
    "        EventID:\n"
    "            - 529\n"
    "            - 4625\n"
    "    condition: selection\n"
    "---\n"
    "title: Successful login\n"
    "name: successful_login\n"
    "logsource:\n"
    "    product: windows\n"
    "    service: security\n"
    "detection:\n"
    "    selection:\n"
    "        EventID:\n"
    "            - 528\n"
    "            - 4624\n"
    "    condition: selection\n";

static void test_multi_document(void **state) {
    fixture *f = *state;
    assert_int_equal(load(f, multi_yaml), VA_OK);
    assert_int_equal(f->set.n, 4);
    assert_int_equal(f->st.by_kind[VA_RULE_KIND_CORRELATION], 2);
    assert_int_equal(f->st.by_kind[VA_RULE_KIND_DETECTION], 2);
    const va_rule *r = f->set.head;
    assert_int_equal(r->kind, VA_RULE_KIND_CORRELATION);
    assert_int_equal(r->doc, 0);
    assert_int_equal(r->corr.type, VA_RULE_TEMPORAL_ORDERED);
    assert_int_equal(r->corr.rules.n, 2);
    assert_string_equal(r->corr.rules.v[1], "successful_login");
    assert_string_equal(r->corr.group_by.v[0], "User");
    assert_int_equal(r->corr.timespan_s, 600);
    assert_int_equal(r->corr.ncmps, 0);
    assert_int_equal(r->corr.generate, -1);
    r = r->next;
    assert_int_equal(r->doc, 1);
    assert_int_equal(r->line, 14);
    assert_string_equal(r->name, "multiple_failed_login");
    assert_int_equal(r->corr.type, VA_RULE_EVENT_COUNT);
    assert_int_equal(r->corr.ncmps, 1);
    assert_int_equal(r->corr.cmps[0].op, VA_RULE_GTE);
    assert_int_equal(r->corr.cmps[0].v.i, 10);
    r = r->next;
    assert_int_equal(r->kind, VA_RULE_KIND_DETECTION);
    assert_string_equal(r->logsource.service, "security");
    assert_int_equal(r->detection.searches[0].maps[0].fields[0].nvals, 2);
    assert_string_equal(r->next->name, "successful_login");

    /* A bad document is reported; the others still load. */
    static const char mixed[] = "title: a\nlogsource: {product: x}\ndetection: {s: {F: 1}, "
                                "condition: s}\n"
                                "---\n"
                                "title: b\nlogsource: {product: x}\ndetection: {s: {F: 1}, "
                                "condition: t}\n"
                                "---\n"
                                "---\n"
                                "title: c\nlogsource: {product: x}\ndetection: {s: [k], "
                                "condition: s}\n";
    assert_int_equal(load(f, mixed), VA_EFORMAT);
    assert_int_equal(f->set.n, 2);
    assert_int_equal(f->d.n, 1);
    assert_int_equal(f->d.first.line, 7);
    assert_string_equal(f->set.head->next->title, "c");
    assert_int_equal(f->set.head->next->doc, 3); /* the empty document counts as one */
    assert_int_equal(f->st.docs_failed, 1);
    assert_int_equal(f->st.files_failed, 1);

    /* A YAML syntax error costs its own document only: parsing resumes at the next `---`
     * line, and a second error is added to the first's report. */
    reset(f);
    static const char broken[] = "title: a\nlogsource: {product: x}\ndetection: {s: {F: 1}, "
                                 "condition: s}\n"                    /* lines 1-3 */
                                 "---\n"                              /* 4 */
                                 "title: b\nlogsource: {product: x\n" /* 5-6: unclosed */
                                 "detection: {s: {F: 1}, condition: s}\n"
                                 "---\n"                               /* 8 */
                                 "title: c\nlogsource: {product: x}\n" /* 9-10 */
                                 "detection: {s: {F: 1}, condition: s}\n"
                                 "--- \n"                             /* 12 */
                                 "title: d\nlogsource: [product: x\n" /* 13-14: unclosed */
                                 "---\n"                              /* 15 */
                                 "title: e\nlogsource: {product: x}\n"
                                 "detection: {s: {F: 1}, condition: s}\n";
    assert_int_equal(load(f, broken), VA_EFORMAT);
    assert_int_equal(f->set.n, 3);
    assert_string_equal(f->set.head->title, "a");
    assert_string_equal(f->set.head->next->title, "c");
    assert_int_equal(f->set.head->next->line, 9);
    assert_string_equal(f->set.head->next->next->title, "e");
    assert_int_equal(f->set.head->next->next->line, 16);
    assert_int_equal(f->d.n, 1);
    assert_int_equal(f->d.first.line, 7);
    assert_non_null(strstr(f->d.msg, "; also at 15:"));
}

static void test_correlation_types(void **state) {
    static const struct {
        const char *body;
        va_rule_ctype type;
        uint32_t ncmps;
        va_rule_cmpop op0;
        const char *field;
        int64_t secs;
    } cases[] = {
        {"type: event_count\n  rules: [r1]\n  group-by: [Host]\n  timespan: 1h\n"
         "  condition: {gte: 100}\n",
         VA_RULE_EVENT_COUNT, 1, VA_RULE_GTE, NULL, 3600},
        {"type: value_count\n  rules: r1\n  group-by: [Host, Ws]\n  timespan: 1d\n"
         "  condition: {field: User, gt: 100, lte: 200}\n",
         VA_RULE_VALUE_COUNT, 2, VA_RULE_GT, "User", 86400},
        {"type: temporal\n  rules: [a, b, c]\n  group-by: [Host]\n  timespan: 5m\n",
         VA_RULE_TEMPORAL, 0, 0, NULL, 300},
        {"type: temporal_ordered\n  rules: [a, b]\n  timespan: 30s\n"
         "  condition: {eq: 2}\n",
         VA_RULE_TEMPORAL_ORDERED, 1, VA_RULE_EQ, NULL, 30},
        {"type: value_sum\n  rules: [w]\n  group-by: [Ip]\n  timespan: 1h\n"
         "  condition: {field: bytes_sent, gt: 1000000}\n",
         VA_RULE_VALUE_SUM, 1, VA_RULE_GT, "bytes_sent", 3600},
        {"type: value_avg\n  rules: [w]\n  group-by: [Ip]\n  timespan: 24h\n"
         "  condition: {field: BytesOut, neq: 500.5}\n",
         VA_RULE_VALUE_AVG, 1, VA_RULE_NEQ, "BytesOut", 86400},
        {"type: value_percentile\n  rules: [p]\n  group-by: [C]\n  timespan: 24h\n"
         "  condition: {field: image, lt: 1}\n",
         VA_RULE_VALUE_PERCENTILE, 1, VA_RULE_LT, "image", 86400},
    };
    fixture *f = *state;
    char buf[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "title: c\ncorrelation:\n  %s  generate: true\n", cases[i].body);
        if (load(f, buf)) fail_msg("case %zu: %s", i, f->d.msg);
        const va_rule_correlation *c = &f->set.head->corr;
        assert_int_equal(c->type, cases[i].type);
        assert_int_equal(c->ncmps, cases[i].ncmps);
        if (c->ncmps) assert_int_equal(c->cmps[0].op, cases[i].op0);
        if (cases[i].field)
            assert_string_equal(c->fields.v[0], cases[i].field);
        else
            assert_int_equal(c->fields.n, 0);
        assert_true(c->timespan_s == cases[i].secs);
        assert_int_equal(c->generate, 1);
    }
    /* generate at the top level, where the 2.1 schema puts it */
    assert_int_equal(load(f, "title: c\ngenerate: true\ncorrelation:\n  type: event_count\n"
                             "  rules: [w]\n  group-by: [U]\n  timespan: 1h\n"
                             "  condition: {gte: 3}\n"),
                     VA_OK);
    assert_int_equal(f->set.head->corr.generate, 1);
    assert_int_not_equal(load(f, "title: c\ngenerate: sometimes\ncorrelation:\n  type: "
                                 "event_count\n  rules: [w]\n  group-by: [U]\n  timespan: 1h\n"
                                 "  condition: {gte: 3}\n"),
                         VA_OK);
    /* value_avg threshold kept as a float */
    assert_int_equal(load(f, "title: c\ncorrelation:\n  type: value_avg\n  rules: [w]\n"
                             "  timespan: 1h\n  condition: {field: B, gt: 2.5}\n"),
                     VA_OK);
    assert_int_equal(f->set.head->corr.cmps[0].v.type, VA_RULE_FLOAT);

    /* aliases from the specification */
    static const char aliases[] = "title: x\n"
                                  "correlation:\n"
                                  "    type: temporal\n"
                                  "    rules: [internal_error, new_network_connection]\n"
                                  "    group-by: [internal_ip, remote_ip]\n"
                                  "    timespan: 10s\n"
                                  "    aliases:\n"
                                  "        internal_ip:\n"
                                  "            internal_error: destination.ip\n"
                                  "            new_network_connection: source.ip\n"
                                  "        remote_ip:\n"
                                  "            internal_error: source.ip\n"
                                  "            new_network_connection: destination.ip\n";
    assert_int_equal(load(f, aliases), VA_OK);
    const va_rule_correlation *c = &f->set.head->corr;
    assert_int_equal(c->naliases, 2);
    assert_string_equal(c->aliases[1].alias, "remote_ip");
    assert_int_equal(c->aliases[1].n, 2);
    assert_string_equal(c->aliases[1].rule[1], "new_network_connection");
    assert_string_equal(c->aliases[1].field[1], "destination.ip");
}

static void test_filter(void **state) {
    static const char yaml[] = "title: Filter Administrator account\n"
                               "description: The valid administrator account start with adm_\n"
                               "logsource:\n"
                               "    category: process_creation\n"
                               "    product: windows\n"
                               "filter:\n"
                               "    rules:\n"
                               "        - 6f3e2987-db24-4c78-a860-b4f4095a7095\n"
                               "        - df0841c0-9846-4e9f-ad8a-7df91571771b\n"
                               "    selection:\n"
                               "        User|startswith: 'adm_'\n"
                               "    condition: selection\n";
    fixture *f = *state;
    assert_int_equal(load(f, yaml), VA_OK);
    const va_rule *r = f->set.head;
    assert_int_equal(r->kind, VA_RULE_KIND_FILTER);
    assert_int_equal(r->filter.rules.n, 2);
    assert_string_equal(r->filter.rules.v[1], "df0841c0-9846-4e9f-ad8a-7df91571771b");
    assert_int_equal(r->filter.det.nsearches, 1); /* `rules` is not a search identifier */
    assert_string_equal(r->filter.det.searches[0].maps[0].fields[0].mods.v[0], "startswith");
    assert_int_equal(r->filter.det.conds[0].ast->kind, VA_COND_ID);
    assert_int_equal(f->st.by_kind[VA_RULE_KIND_FILTER], 1);
}

/* ---- load errors ------------------------------------------------------------------------ */

static void test_errors(void **state) {
    static const char head[] = "title: t\nlogsource:\n    product: x\ndetection:\n";
    /* body starts on line 5 */
    static const struct {
        const char *body;
        va_err code;
        uint32_t line, col;
        const char *msg;
    } cases[] = {
        {"    sel:\n        F: 1\n    condition: sel and nope\n", VA_EFORMAT, 7, 24,
         "'nope' is not defined"},
        {"    sel:\n        F: 1\n    condition: 'sel and 1 of x*'\n", VA_EFORMAT, 7, 25,
         "matches no search identifier"},
        {"    sel:\n        F: 1\n    condition: sel and (sel\n", VA_EFORMAT, 7, 24, "not closed"},
        {"    sel:\n        F: 1\n", VA_EFORMAT, 5, 5, "no 'condition'"},
        {"    sel: foo\n    condition: sel\n", VA_EFORMAT, 5, 10, "must be a map or a list"},
        {"    sel:\n        - a\n        - F: 1\n    condition: sel\n", VA_EFORMAT, 7, 11, "mixes"},
        {"    sel:\n        - F: 1\n        - b\n    condition: sel\n", VA_EFORMAT, 7, 11,
         "mixes maps and a scalar"},
        {"    sel:\n        F:\n            x: 1\n    condition: sel\n", VA_EFORMAT, 7, 13,
         "must be a scalar or a list"},
        {"    sel:\n        F:\n            - ''\n            - null\n    condition: sel\n",
         VA_EFORMAT, 8, 15, "null in a list"},
        {"    sel:\n        F||contains: a\n    condition: sel\n", VA_EFORMAT, 6, 9,
         "empty modifier"},
        {"    sel:\n        F: []\n    condition: sel\n", VA_EFORMAT, 6, 12, "empty list"},
        {"    sel:\n        F: 1\n        F: 2\n    condition: sel\n", VA_EFORMAT, 7, 9,
         "duplicate key 'F'"},
        {"    sel:\n        F: 1\n    condition: sel | count() > 5\n", VA_EUNSUPPORTED, 7, 20,
         "aggregation"},
        {"    sel:\n        F: 1\n    condition:\n        - sel\n        - bad\n", VA_EFORMAT, 9,
         11, "'bad' is not defined"},
        {"    sel:\n        F: 1\n    timeframe: 5m\n    condition: sel\n", VA_EUNSUPPORTED, 7, 5,
         "timeframe"},
        {"    sel:\n        F: [a, b\n", VA_EFORMAT, 7, 1, "YAML"},
    };
    fixture *f = *state;
    char buf[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s", head, cases[i].body);
        va_err e = load(f, buf);
        if (e != cases[i].code || f->d.n != 1 || f->d.first.line != cases[i].line ||
            f->d.first.col != cases[i].col || !strstr(f->d.msg, cases[i].msg))
            fail_msg("case %zu: got %s %u:%u '%s' (%d diags)", i, va_err_name(e), f->d.first.line,
                     f->d.first.col, f->d.msg, f->d.n);
        assert_string_equal(f->d.first.file, "t.yml");
        assert_int_equal(f->set.n, 0);
    }

    /* document-level errors */
    static const struct {
        const char *yaml;
        va_err code;
        uint32_t line, col;
        const char *msg;
    } docs[] = {
        {"logsource: {product: x}\ndetection: {s: {F: 1}, condition: s}\n", VA_EFORMAT, 1, 1,
         "'title'"},
        {"title: t\ndetection: {s: {F: 1}, condition: s}\n", VA_EFORMAT, 1, 1, "'logsource'"},
        {"title: t\nlogsource: {product: x}\n", VA_EFORMAT, 1, 1, "no 'detection'"},
        {"- a\n- b\n", VA_EFORMAT, 1, 1, "must be a map"},
        {"title: [x]\nlogsource: {}\ndetection: {s: {F: 1}, condition: s}\n", VA_EFORMAT, 1, 8,
         "'title' must be a string"},
        {"title: t\naction: global\nlogsource: {}\n", VA_EUNSUPPORTED, 2, 1, "rule collections"},
        {"title: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1w\n"
         "  condition: {gte: 1}\n",
         VA_EFORMAT, 5, 13, "timespan"},
        {"title: t\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 1h\n"
         "  condition: {gte: 1}\n",
         VA_EFORMAT, 6, 14, "needs 'field'"},
        {"title: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n", VA_EFORMAT,
         3, 3, "needs a 'condition'"},
        {"title: t\ncorrelation:\n  type: counting\n  rules: [a]\n  timespan: 1h\n", VA_EFORMAT, 3,
         9, "unknown correlation type"},
        {"title: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n"
         "  condition: {gte: many}\n",
         VA_EFORMAT, 6, 20, "needs a number"},
        {"title: t\ncorrelation:\n  type: temporal\n  timespan: 1h\n", VA_EFORMAT, 3, 3,
         "no 'rules'"},
        {"title: t\nlogsource: {product: x}\nfilter:\n  selection: {U: a}\n  condition: "
         "selection\n",
         VA_EFORMAT, 4, 3, "no 'rules'"},
        {"title: t\nlogsource: {product: x}\nfilter:\n  rules: [a]\n  other: {U: a}\n"
         "  condition: other\n",
         VA_EFORMAT, 4, 3, "no 'selection'"},
        {"title: t\nlogsource: {}\ndetection: {s: {F: 1}, condition: s}\ncorrelation: {}\n",
         VA_EFORMAT, 1, 1, "only one of"},
        {"", VA_EFORMAT, 1, 1, "no rule"},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        va_err e = load(f, docs[i].yaml);
        if (e != docs[i].code || f->d.n != 1 || f->d.first.line != docs[i].line ||
            f->d.first.col != docs[i].col || !strstr(f->d.msg, docs[i].msg))
            fail_msg("doc case %zu: got %s %u:%u '%s' (%d diags)", i, va_err_name(e),
                     f->d.first.line, f->d.first.col, f->d.msg, f->d.n);
    }
}

/* Self-referencing aliases must end in an error, not unbounded recursion. */
static void test_alias_cycle(void **state) {
    fixture *f = *state;
    assert_int_equal(load(f, "title: t\nlogsource: {}\ndetection: &d\n  s: *d\n  condition: s\n"),
                     VA_EFORMAT);
    assert_int_equal(f->d.n, 1);
    assert_int_equal(load(f, "title: t\nlogsource: {}\ndetection:\n  s: &m {F: *m}\n"
                             "  condition: s\n"),
                     VA_EFORMAT);
    assert_int_equal(f->d.n, 1);
}

/* Anchors and aliases: an alias is the anchored node (a map reused as a second search
 * identifier); anchors are per document; a duplicate anchor and an undefined alias are YAML
 * errors at the second anchor and at the alias, with libyaml's words. */
static void test_anchors(void **state) {
    fixture *f = *state;
    assert_int_equal(load(f, "title: t\nlogsource: {}\ndetection:\n  s: &m {F: &v 7}\n"
                             "  t: *m\n  u: {G: *v}\n  condition: s and t and u\n"),
                     VA_OK);
    const va_rule_detection *d = &f->set.head->detection;
    assert_int_equal(d->nsearches, 3);
    assert_string_equal(search(d, "t")->maps[0].fields[0].name, "F");
    assert_int_equal(search(d, "t")->maps[0].line, 4); /* the anchored node's position */
    const va_rule_value *v = &search(d, "u")->maps[0].fields[0].vals[0];
    assert_int_equal(v->type, VA_RULE_INT);
    assert_int_equal(v->i, 7);
    assert_int_equal(v->line, 4);
    assert_int_equal(v->col, 13); /* at the anchor, where the node starts */

    static const struct {
        const char *yaml;
        uint32_t line, col;
        const char *msg;
    } bad[] = {
        {"title: &a t\nlogsource: &a {}\ndetection: {s: {F: 1}, condition: s}\n", 2, 12,
         "YAML: second occurrence found duplicate anchor; first occurrence"},
        {"title: t\nlogsource: *b\ndetection: {s: {F: 1}, condition: s}\n", 2, 12,
         "YAML: found undefined alias"},
        {"title: &a t\nlogsource: {}\ndetection: {s: {F: 1}, condition: s}\n---\n"
         "title: *a\nlogsource: {}\ndetection: {s: {F: 1}, condition: s}\n",
         5, 8, "YAML: found undefined alias"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(load(f, bad[i].yaml), VA_EFORMAT);
        assert_int_equal(f->d.n, 1);
        assert_int_equal(f->d.first.line, bad[i].line);
        assert_int_equal(f->d.first.col, bad[i].col);
        assert_string_equal(f->d.msg, bad[i].msg);
    }
    assert_int_equal(f->set.n, 1); /* the first document of the last case stands */
}

/* A tag is what libyaml reports for the node: also when it follows the anchor on the next
 * line, and after non-ASCII text (libyaml's marks count characters, not bytes, so the source
 * text at a mark's index is not the node's). */
static void test_explicit_tags(void **state) {
    fixture *f = *state;
    assert_int_equal(load(f, "title: t\nlogsource: {}\ndetection:\n  s:\n    F: &a\n"
                             "      !!str 5\n    G: *a\n    H: !!int 6\n  condition: s\n"),
                     VA_OK);
    const va_rule_map *m = &f->set.head->detection.searches[0].maps[0];
    assert_int_equal(m->fields[0].vals[0].type, VA_RULE_STR);
    assert_int_equal(m->fields[1].vals[0].type, VA_RULE_STR);
    assert_int_equal(m->fields[2].vals[0].type, VA_RULE_INT);
    assert_int_equal(load(f, "title: t\ndescription: \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n"
                             "logsource: {}\ndetection:\n  s:\n    F!!!!: 5\n  condition: s\n"),
                     VA_OK);
    const va_rule_value *v = &f->set.head->detection.searches[0].maps[0].fields[0].vals[0];
    assert_int_equal(v->type, VA_RULE_INT);
    assert_int_equal(v->col, 12);
}

/* ---- directory walk --------------------------------------------------------------------- */

static void put_file(const char *dir, const char *name, const char *text) {
    char p[1200];
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof p);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_load_tree(void **state) {
    fixture *f = *state;
    char dir[] = "/tmp/va_rule_treeXXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[600];
    snprintf(sub, sizeof sub, "%s/b_sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    static const char ok[] = "title: %s\nlogsource: {product: x}\ndetection: {s: {F: 1}, "
                             "condition: s}\n";
    char t[256];
    snprintf(t, sizeof t, ok, "c");
    put_file(dir, "c.yaml", t);
    snprintf(t, sizeof t, ok, "a");
    put_file(dir, "a.yml", t);
    put_file(dir, "bad.yml", "title: bad\nlogsource: {}\ndetection: {condition: s}\n");
    put_file(dir, "notes.txt", "not a rule");
    snprintf(t, sizeof t, ok, "sub");
    put_file(sub, "z.yml", t);
    reset(f);
    va_err e = va_rule_load_path(&f->a, dir, &f->set, collect, &f->d, &f->st);
    assert_int_equal(e, VA_EFORMAT);
    assert_int_equal(f->st.files, 4);
    assert_int_equal(f->st.files_failed, 1);
    assert_int_equal(f->set.n, 3);
    /* byte order: a.yml, b_sub/, bad.yml, c.yaml */
    assert_string_equal(f->set.head->title, "a");
    assert_string_equal(f->set.head->next->title, "sub");
    assert_string_equal(f->set.head->next->next->title, "c");
    assert_non_null(strstr(f->d.file, "/bad.yml"));
    assert_int_equal(f->d.first.line, 3);

    /* With threads: the same set, stats and report as one by one, for 1 to 4 threads (the
     * tree and an extra file split into runs in different places). */
    snprintf(t, sizeof t, "%s/c.yaml", dir);
    const char *const two[] = {dir, t};
    for (int nt = 1; nt <= 4; nt++) {
        va_arena ar[4];
        for (int k = 0; k < 4; k++) va_arena_init(&ar[k], 0);
        va_rule_set set = {0};
        va_rule_stats st = {0};
        diags d = {0};
        assert_int_equal(va_rule_load_paths(ar, nt, two, 2, NULL, &set, collect, &d, &st),
                         VA_EFORMAT);
        assert_int_equal(st.files, 5);
        assert_int_equal(st.files_failed, 1);
        assert_int_equal(set.n, 4);
        static const char *const order[] = {"a", "sub", "c", "c"};
        const va_rule *r = set.head;
        for (int k = 0; k < 4; k++, r = r->next) assert_string_equal(r->title, order[k]);
        assert_null(r);
        assert_ptr_equal(set.tail->next, NULL);
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.file, "/bad.yml"));
        assert_int_equal(d.first.line, 3);
        for (int k = 0; k < 4; k++) va_arena_free(&ar[k]);
    }

    /* missing file: reported with line 0 */
    reset(f);
    snprintf(t, sizeof t, "%s/missing.yml", dir);
    assert_int_equal(va_rule_load_path(&f->a, t, &f->set, collect, &f->d, &f->st), VA_EIO);
    assert_int_equal(f->d.first.line, 0);

    /* a FIFO named like a rule: reported, not waited on */
    reset(f);
    snprintf(t, sizeof t, "%s/fifo.yml", dir);
    assert_int_equal(mkfifo(t, 0600), 0);
    assert_int_equal(va_rule_load_path(&f->a, t, &f->set, collect, &f->d, &f->st), VA_EIO);
    assert_non_null(strstr(f->d.msg, "not a regular file"));
    unlink(t);

    char p[700];
    static const char *const names[] = {"a.yml", "bad.yml", "c.yaml", "notes.txt"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/z.yml", sub);
    unlink(p);
    rmdir(sub);
    rmdir(dir);
}

/* Every report as one line, in order. */
static void log_diag(void *ud, const va_rule_diag *d) {
    char *log = ud;
    size_t n = strlen(log);
    snprintf(log + n, 4096 - n, "%s:%u:%u: %s\n", d->file, d->line, d->col, d->msg);
}

/* The folder walk's own reports (a link loop) come out among the files' reports in walk
 * order, with threads as one by one. */
static void test_load_paths_order(void **state) {
    (void)state;
    char dir[] = "/tmp/va_rule_orderXXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[600], link[700];
    snprintf(sub, sizeof sub, "%s/m", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(link, sizeof link, "%s/loop", sub);
    assert_int_equal(symlink(dir, link), 0);
    static const char ok[] = "title: t\nlogsource: {product: x}\ndetection: {s: {F: 1}, "
                             "condition: s}\n";
    static const char bad[] = "title: bad\nlogsource: {}\ndetection: {condition: s}\n";
    put_file(dir, "a.yml", ok);
    put_file(dir, "b_bad.yml", bad);
    put_file(sub, "k.yml", ok);
    put_file(dir, "n.yml", ok);
    put_file(dir, "z_bad.yml", bad);
    static char want[4096], got[4096];
    want[0] = 0;
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_rule_stats st = {0};
    va_err e = va_rule_load_path(&a, dir, &set, log_diag, want, &st);
    assert_int_equal(e, VA_EFORMAT);
    assert_int_equal(set.n, 3);
    va_arena_free(&a);
    /* bad file, then the loop (in m/), then the other bad file */
    const char *p1 = strstr(want, "b_bad.yml"), *p2 = strstr(want, "/m/loop"),
               *p3 = strstr(want, "z_bad.yml");
    assert_true(p1 && p2 && p3 && p1 < p2 && p2 < p3);
    const char *const one[] = {dir};
    for (int nt = 1; nt <= 4; nt++) {
        va_arena ar[4];
        for (int k = 0; k < 4; k++) va_arena_init(&ar[k], 0);
        va_rule_set s2 = {0};
        va_rule_stats st2 = {0};
        got[0] = 0;
        assert_int_equal(va_rule_load_paths(ar, nt, one, 1, NULL, &s2, log_diag, got, &st2),
                         VA_EFORMAT);
        assert_string_equal(got, want);
        assert_int_equal(s2.n, 3);
        assert_int_equal(st2.files, st.files);
        for (int k = 0; k < 4; k++) va_arena_free(&ar[k]);
    }
    static const char *const names[] = {"a.yml", "b_bad.yml", "n.yml", "z_bad.yml"};
    char p[700];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/k.yml", sub);
    unlink(p);
    unlink(link);
    rmdir(sub);
    rmdir(dir);
}

/* ---- the cache of parsed YAML ------------------------------------------------------------- */

/* What a loaded set says, as text: every rule's kind, place, metadata, searches, values and
 * conditions (enough to see a rule that differs). */
static void describe(const va_rule_set *set, char *out, size_t cap) {
    size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__))
    for (const va_rule *r = set->head; r; r = r->next) {
        PUT("%s %s doc %u %u:%u '%s' id %s tags %u\n", va_rule_kind_name(r->kind), r->file, r->doc,
            r->line, r->col, r->title, r->id ? r->id : "-", r->tags.n);
        const va_rule_detection *d = &r->detection;
        for (uint32_t i = 0; i < d->nsearches; i++) {
            const va_rule_search *s = &d->searches[i];
            PUT(" %s %d %u:%u\n", s->name, s->kind, s->line, s->col);
            for (uint32_t m = 0; m < s->nmaps; m++)
                for (uint32_t k = 0; k < s->maps[m].n; k++) {
                    const va_rule_field *fl = &s->maps[m].fields[k];
                    PUT("  %s|%u", fl->name, fl->mods.n);
                    for (uint32_t v = 0; v < fl->nvals; v++)
                        PUT(" %s:%s@%u:%u", va_rule_vtype_name(fl->vals[v].type), fl->vals[v].text,
                            fl->vals[v].line, fl->vals[v].col);
                    PUT("\n");
                }
        }
        char c[256];
        for (uint32_t i = 0; i < d->nconds; i++) {
            va_cond_format(d->conds[i].ast, c, sizeof c);
            PUT(" cond %s @%u:%u\n", c, d->conds[i].line, d->conds[i].col);
        }
    }
#undef PUT
    assert_true(n < cap);
}

typedef struct loaded {
    char text[8192], diags[4096];
    va_rule_stats st;
    va_err e;
} loaded;

static void load_cached(const char *dir, const char *cache, int nt, loaded *out) {
    va_arena ar[4];
    for (int k = 0; k < 4; k++) va_arena_init(&ar[k], 0);
    va_rule_set set = {0};
    memset(out, 0, sizeof *out);
    const char *const one[] = {dir};
    out->e = va_rule_load_paths(ar, nt, one, 1, cache, &set, log_diag, out->diags, &out->st);
    describe(&set, out->text, sizeof out->text);
    for (int k = 0; k < 4; k++) va_arena_free(&ar[k]);
}

static size_t count_packs(const char *cache) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '^rules-.*\\.yc$'", cache);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    unsigned n = 0;
    assert_int_equal(fscanf(p, "%u", &n), 1);
    pclose(p);
    return n;
}

static void pack_path(const char *cache, char *out, size_t cap) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -t %s/rules-*.yc | head -1", cache);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, (int)cap, p));
    out[strcspn(out, "\n")] = 0;
    pclose(p);
}

/* Rules, reports and stats are the same with the cache (first run: parsed and stored; then
 * taken from it) as without; an edited file is parsed again; a damaged or foreign pack is not
 * used and is replaced; old packs are pruned. */
static void test_cache(void **state) {
    (void)state;
    char dir[] = "/tmp/va_rule_cacheXXXXXX", cache[] = "/tmp/va_rule_ycXXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(cache));
    assert_int_equal(rmdir(cache), 0); /* the loader makes it */
    static const char ok[] = "title: %s\nid: %s\nlogsource: {product: x}\ndetection:\n"
                             "  s: &m {F|contains: [a, 2, !!str 3], G: ~}\n  t: *m\n"
                             "  k: ['x', \"y\"]\n  condition: s and not (t or k)\n";
    char t[512];
    for (int i = 0; i < 6; i++) {
        char name[16], id[16];
        snprintf(name, sizeof name, "r%d.yml", i);
        snprintf(id, sizeof id, "id-%d", i % 5); /* r5 is a copy of r0: one entry for both */
        snprintf(t, sizeof t, ok, i % 5 ? name : "r0.yml", id);
        put_file(dir, name, t);
    }
    put_file(dir, "syntax.yml", "title: a\nlogsource: {product: x}\ndetection: {s: [a, b\n");
    put_file(dir, "anchor.yml", "title: &a t\nlogsource: {}\ndetection: {s: {F: &a 1}}\n");
    put_file(dir, "model.yml", "title: b\nlogsource: {}\ndetection: {s: {F: 1}, condition: u}\n");
    put_file(dir, "two.yml",
             "title: c\nlogsource: {}\ndetection: {s: {F: 1}, condition: s}\n"
             "---\n---\ntitle: d\nlogsource: {}\ndetection: {s: [k], "
             "condition: s}\n---\n- a\n");
    static loaded plain, first, again;
    load_cached(dir, NULL, 2, &plain);
    assert_int_equal(plain.st.files, 10);
    assert_int_equal(plain.st.cached, 0);
    assert_int_equal(plain.e, VA_EFORMAT);
    assert_non_null(strstr(plain.diags, "syntax.yml:4:1: YAML"));
    assert_non_null(strstr(plain.diags, "anchor.yml:3:20: YAML: second occurrence"));
    for (int nt = 1; nt <= 3; nt++) {
        load_cached(dir, cache, nt, nt == 1 ? &first : &again);
        loaded *x = nt == 1 ? &first : &again;
        assert_string_equal(x->text, plain.text);
        assert_string_equal(x->diags, plain.diags);
        assert_int_equal(x->e, plain.e);
        assert_int_equal(x->st.files, 10);
        assert_int_equal(x->st.docs_failed, plain.st.docs_failed);
        assert_int_equal(x->st.by_kind[VA_RULE_KIND_DETECTION],
                         plain.st.by_kind[VA_RULE_KIND_DETECTION]);
        assert_int_equal(x->st.cached, nt == 1 ? 0 : 10);
    }
    assert_int_equal(count_packs(cache), 1);

    /* An edited file is parsed again, the others come from the pack. */
    snprintf(t, sizeof t, ok, "edited", "id-9");
    put_file(dir, "r3.yml", t);
    load_cached(dir, cache, 2, &again);
    assert_int_equal(again.st.cached, 9);
    assert_non_null(strstr(again.text, "'edited'"));
    load_cached(dir, cache, 2, &again);
    assert_int_equal(again.st.cached, 10);
    load_cached(dir, NULL, 2, &plain);
    assert_string_equal(again.text, plain.text);

    /* Damage: a byte changed in the middle, then the pack cut short, then another file. */
    char pack[700];
    pack_path(cache, pack, sizeof pack);
    for (int damage = 0; damage < 3; damage++) {
        FILE *fp = fopen(pack, "r+b");
        assert_non_null(fp);
        assert_int_equal(fseek(fp, 0, SEEK_END), 0);
        long size = ftell(fp);
        if (damage == 0) {
            assert_int_equal(fseek(fp, size / 2, SEEK_SET), 0);
            int c = fgetc(fp);
            assert_int_equal(fseek(fp, size / 2, SEEK_SET), 0);
            fputc(c ^ 0x20, fp);
        }
        fclose(fp);
        if (damage == 1) assert_int_equal(truncate(pack, size - 100), 0);
        if (damage == 2) put_file(cache, strrchr(pack, '/') + 1, "not a pack");
        load_cached(dir, cache, 2, &again);
        assert_string_equal(again.text, plain.text);
        assert_string_equal(again.diags, plain.diags);
        assert_true(again.st.cached < 10);
        load_cached(dir, cache, 2, &again); /* replaced */
        assert_int_equal(again.st.cached, 10);
        assert_string_equal(again.text, plain.text);
    }

    /* Pruning: packs of other path lists beyond YC_KEEP (8) go, oldest first. */
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "rules-old%02d.yc", i);
        put_file(cache, name, "old");
        char p[800];
        snprintf(p, sizeof p, "%s/%s", cache, name);
        struct timespec ts[2] = {{1000 + i, 0}, {1000 + i, 0}};
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    }
    put_file(dir, "r4.yml", "title: new\nlogsource: {}\ndetection: {s: {F: 1}, condition: s}\n");
    load_cached(dir, cache, 1, &again); /* a parse: the pack is written, the cache pruned */
    assert_int_equal(count_packs(cache), 8);
    char p[800];
    snprintf(p, sizeof p, "%s/rules-old09.yc", cache);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/rules-old02.yc", cache);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(access(pack, F_OK), 0);

    /* A cache folder that cannot be made: loading is the same, nothing kept. */
    char nodir[700];
    snprintf(nodir, sizeof nodir, "%s/r0.yml/cache", dir);
    load_cached(dir, nodir, 2, &again);
    load_cached(dir, NULL, 2, &plain);
    assert_string_equal(again.text, plain.text);
    assert_int_equal(again.st.cached, 0);

    char cmd[1600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, cache);
    assert_int_equal(system(cmd), 0);
}

/* A file settled before a run (changed more than 2 s before it) is taken by its stamp the next
 * time, without reading it; an edit that keeps its size and modification time, a file replaced
 * by another, or damaged stamps make it read again, and the rules are always the file's. */
static void test_cache_stamps(void **state) {
    (void)state;
    char dir[] = "/tmp/va_rule_stampXXXXXX", cache[] = "/tmp/va_rule_ysXXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(cache));
    static const char ok[] = "title: %s\nlogsource: {product: x}\n"
                             "detection: {s: {F: a}, condition: s}\n";
    char t[256], name[16];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "r%d.yml", i);
        snprintf(t, sizeof t, ok, i == 3 ? "r0" : name); /* r3: a copy of r0 */
        put_file(dir, name, t);
    }
    struct timespec pause = {2, 200000000};
    nanosleep(&pause, NULL); /* the files settle */
    static loaded plain, again;
    load_cached(dir, NULL, 1, &plain);
    load_cached(dir, cache, 2, &again); /* parsed; the pack keeps their stamps */
    assert_int_equal(again.st.cached, 0);
    load_cached(dir, cache, 2, &again);
    assert_int_equal(again.st.cached, 4);
    assert_int_equal(again.st.unread, 4);
    assert_string_equal(again.text, plain.text);

    /* Edited in place, same size, the modification time put back: read again. */
    char p[700];
    snprintf(p, sizeof p, "%s/r1.yml", dir);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    snprintf(t, sizeof t, ok, "R1.yml");
    put_file(dir, "r1.yml", t);
    struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    load_cached(dir, cache, 2, &again);
    assert_int_equal(again.st.cached, 3); /* the edit is parsed */
    assert_int_equal(again.st.unread, 3);
    assert_non_null(strstr(again.text, "'R1.yml'"));
    load_cached(dir, NULL, 1, &plain);
    assert_string_equal(again.text, plain.text);
    /* Not settled yet: by its bytes, from the pack, until it is. */
    load_cached(dir, cache, 2, &again);
    assert_int_equal(again.st.cached, 4);
    assert_int_equal(again.st.unread, 3);

    /* Replaced by another file of the same bytes (a new inode): read, found by its bytes. */
    snprintf(t, sizeof t, ok, "r2.yml");
    put_file(dir, "new.tmp", t);
    char q[700];
    snprintf(q, sizeof q, "%s/new.tmp", dir);
    snprintf(p, sizeof p, "%s/r2.yml", dir);
    assert_int_equal(rename(q, p), 0);
    load_cached(dir, cache, 2, &again);
    assert_int_equal(again.st.cached, 4);
    assert_int_equal(again.st.unread, 2);
    assert_string_equal(again.text, plain.text);

    /* Damaged stamps (the pack's last byte): the pack is not used, and is replaced. */
    char pack[700];
    pack_path(cache, pack, sizeof pack);
    FILE *fp = fopen(pack, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, -1, SEEK_END), 0);
    int c = fgetc(fp);
    assert_int_equal(fseek(fp, -1, SEEK_END), 0);
    fputc(c ^ 1, fp);
    fclose(fp);
    load_cached(dir, cache, 2, &again);
    assert_int_equal(again.st.cached, 0);
    assert_string_equal(again.text, plain.text);
    load_cached(dir, cache, 2, &again);
    assert_int_equal(again.st.cached, 4);

    char cmd[1600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, cache);
    assert_int_equal(system(cmd), 0);
}

/* ---- conditions ------------------------------------------------------------------------- */

static void test_cond_precedence(void **state) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a", "a"},
        {"a or b and not c", "(a or (b and not c))"},
        {"not a and b", "(not a and b)"},
        {"a and b or c and d", "((a and b) or (c and d))"},
        {"a and (b or c)", "(a and (b or c))"},
        {"((a))", "a"},
        {"not (a or b)", "not (a or b)"},
        {"not not a", "not not a"},
        {"1 of sel* and not filter", "(1 of sel* and not filter)"},
        {"1 of sel* and not 1 of filter*", "(1 of sel* and not 1 of filter*)"},
        {"all of them", "all of them"},
        {"1 of them", "1 of them"},
        {"any of sel*", "1 of sel*"},
        {"2 of sel*", "2 of sel*"},
        {"A AND NOT b OR c", "((A and not b) or c)"},
        {"All Of Them", "all of them"},
        {"a or b or c", "(a or b or c)"},
        {"(a or b) and (c or (d and not e))", "((a or b) and (c or (d and not e)))"},
        {"  a\n and\tb  ", "(a and b)"},
        {"sel_1 and not filter.main-x", "(sel_1 and not filter.main-x)"},
    };
    fixture *f = *state;
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset(f);
        va_cond_node *n;
        va_cond_error e = {0};
        if (va_cond_parse(&f->a, cases[i].in, strlen(cases[i].in), &n, &e))
            fail_msg("'%s': %s at %u", cases[i].in, e.msg, e.pos);
        va_cond_format(n, out, sizeof out);
        assert_string_equal(out, cases[i].out);
    }
}

static void test_cond_errors(void **state) {
    static const struct {
        const char *in;
        va_err code;
        uint32_t pos;
        const char *msg;
    } cases[] = {
        {"", VA_EFORMAT, 0, "empty"},
        {"   ", VA_EFORMAT, 0, "empty"},
        {"a and", VA_EFORMAT, 5, "condition ends"},
        {"a b", VA_EFORMAT, 2, "found 'b'"},
        {"(a or b", VA_EFORMAT, 0, "not closed"},
        {"a)", VA_EFORMAT, 1, "without matching"},
        {"()", VA_EFORMAT, 1, "found ')'"},
        {"sel*", VA_EFORMAT, 0, "wildcard"},
        {"a and 1 sel", VA_EFORMAT, 8, "'of' expected"},
        {"0 of sel*", VA_EFORMAT, 0, "1 or more"},
        {"1 of", VA_EFORMAT, 4, "condition ends"},
        {"1 of and", VA_EFORMAT, 5, "found 'and'"},
        {"a | count() > 5", VA_EUNSUPPORTED, 2, "aggregation"},
        {"not", VA_EFORMAT, 3, "condition ends"},
        {"a and or b", VA_EFORMAT, 6, "found 'or'"},
        {"them", VA_EFORMAT, 0, "found 'them'"},
    };
    fixture *f = *state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset(f);
        va_cond_node *n = NULL;
        va_cond_error e = {0};
        va_err r = va_cond_parse(&f->a, cases[i].in, strlen(cases[i].in), &n, &e);
        if (r != cases[i].code || e.pos != cases[i].pos || !e.msg || !strstr(e.msg, cases[i].msg))
            fail_msg("'%s': got %s at %u: %s", cases[i].in, va_err_name(r), e.pos,
                     e.msg ? e.msg : "");
        assert_null(n);
    }
}

static void test_cond_depth(void **state) {
    fixture *f = *state;
    char buf[4096];
    /* exactly the limit parses, one more is VA_ELIMIT */
    for (int extra = 0; extra < 2; extra++) {
        int d = VA_COND_MAX_DEPTH + extra;
        size_t o = 0;
        for (int i = 0; i < d; i++) buf[o++] = '(';
        buf[o++] = 'a';
        for (int i = 0; i < d; i++) buf[o++] = ')';
        reset(f);
        va_cond_node *n;
        va_cond_error e = {0};
        va_err r = va_cond_parse(&f->a, buf, o, &n, &e);
        assert_int_equal(r, extra ? VA_ELIMIT : VA_OK);
        if (extra) assert_int_equal(e.pos, VA_COND_MAX_DEPTH);
    }
    size_t o = 0;
    for (int i = 0; i < VA_COND_MAX_DEPTH + 1; i++) o += (size_t)snprintf(buf + o, 8, "not ");
    buf[o++] = 'a';
    reset(f);
    va_cond_node *n;
    va_cond_error e = {0};
    assert_int_equal(va_cond_parse(&f->a, buf, o, &n, &e), VA_ELIMIT);
    /* a long flat chain is not nesting */
    o = 0;
    for (int i = 0; i < 500; i++) o += (size_t)snprintf(buf + o, 8, "a and ");
    buf[o++] = 'a';
    reset(f);
    assert_int_equal(va_cond_parse(&f->a, buf, o, &n, &e), VA_OK);
    assert_int_equal(n->nkids, 501);
}

static int truth(void *ud, uint32_t idx) {
    return (int)((*(const uint32_t *)ud >> idx) & 1);
}

/* ud: {true bits, unknown bits}. */
static int truth3(void *ud, uint32_t idx) {
    const uint32_t *b = ud;
    if ((b[1] >> idx) & 1) return VA_COND_UNKNOWN;
    return (int)((b[0] >> idx) & 1);
}

static void test_cond_eval(void **state) {
    /* identifiers: bit i of `bits` is identifier i's truth */
    static const char *const names[] = {"sel1", "sel2", "filter_a", "filter_b", "_hidden", "kw"};
    static const struct {
        const char *cond;
        uint32_t bits;
        int want;
    } cases[] = {
        {"sel1 or sel2 and not kw", 0x01, 1},
        {"sel1 or sel2 and not kw", 0x22, 0},
        {"sel1 or sel2 and not kw", 0x02, 1},
        {"not sel1 and sel2", 0x02, 1},
        {"not sel1 and sel2", 0x03, 0},
        {"not (sel1 and sel2)", 0x03, 0},
        {"1 of sel* and not 1 of filter*", 0x02, 1},
        {"1 of sel* and not 1 of filter*", 0x0a, 0},
        {"1 of sel* and not 1 of filter*", 0x0c, 0},
        {"all of sel*", 0x01, 0},
        {"all of sel*", 0x03, 1},
        {"2 of *", 0x10 | 0x01, 1},
        {"all of them", 0x2f, 1}, /* _hidden is not part of `them` */
        {"all of them", 0x1e, 0},
        {"1 of them", 0x10, 0}, /* only _hidden matched */
        {"1 of _*", 0x10, 1},   /* an explicit pattern does select it */
        {"any of filter*", 0x08, 1},
        {"(sel1 or sel2) and (filter_a or (kw and not filter_b))", 0x21, 1},
        {"(sel1 or sel2) and (filter_a or (kw and not filter_b))", 0x29, 0},
        {"3 of filter*", 0x0c, 0}, /* more than the pattern selects can never hold */
    };
    fixture *f = *state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset(f);
        va_cond_node *n;
        va_cond_error e = {0};
        assert_int_equal(va_cond_parse(&f->a, cases[i].cond, strlen(cases[i].cond), &n, &e), VA_OK);
        assert_int_equal(va_cond_resolve(n, names, 6, &f->a, &e), VA_OK);
        uint32_t bits = cases[i].bits;
        if (va_cond_eval(n, truth, &bits) != cases[i].want)
            fail_msg("'%s' with 0x%x: want %d", cases[i].cond, bits, cases[i].want);
    }
    /* Three-valued: bit i of `unknown` makes identifier i UNKNOWN (a regex limit). */
    static const struct {
        const char *cond;
        uint32_t bits, unknown;
        int want;
    } k3[] = {
        {"sel1", 0, 0x01, VA_COND_UNKNOWN},
        {"not sel1", 0, 0x01, VA_COND_UNKNOWN},
        {"sel1 and sel2", 0x00, 0x01, VA_COND_FALSE},
        {"sel1 and sel2", 0x02, 0x01, VA_COND_UNKNOWN},
        {"sel2 and sel1", 0x00, 0x01, VA_COND_FALSE},
        {"sel1 or sel2", 0x02, 0x01, VA_COND_TRUE},
        {"sel1 or sel2", 0x00, 0x01, VA_COND_UNKNOWN},
        {"sel2 and not sel1", 0x02, 0x01, VA_COND_UNKNOWN},
        {"all of sel*", 0x02, 0x01, VA_COND_UNKNOWN},
        {"all of sel*", 0x00, 0x01, VA_COND_FALSE},
        {"1 of sel*", 0x00, 0x01, VA_COND_UNKNOWN},
        {"1 of sel*", 0x02, 0x01, VA_COND_TRUE},
        {"2 of them", 0x02, 0x01, VA_COND_UNKNOWN},
        {"2 of them", 0x00, 0x01, VA_COND_FALSE},
        {"2 of them", 0x00, 0x03, VA_COND_UNKNOWN},
        {"3 of them", 0x06, 0x01, VA_COND_UNKNOWN}, /* two true and the unknown */
        {"3 of them", 0x0e, 0x01, VA_COND_TRUE},    /* three true decide */
    };
    for (size_t i = 0; i < sizeof k3 / sizeof k3[0]; i++) {
        reset(f);
        va_cond_node *n;
        va_cond_error e = {0};
        assert_int_equal(va_cond_parse(&f->a, k3[i].cond, strlen(k3[i].cond), &n, &e), VA_OK);
        assert_int_equal(va_cond_resolve(n, names, 6, &f->a, &e), VA_OK);
        uint32_t bits[2] = {k3[i].bits, k3[i].unknown};
        int got = va_cond_eval(n, truth3, bits);
        if (got != k3[i].want)
            fail_msg("'%s' with 0x%x, unknown 0x%x: want %d, got %d", k3[i].cond, k3[i].bits,
                     k3[i].unknown, k3[i].want, got);
    }
    /* resolution errors keep the node position */
    reset(f);
    va_cond_node *n;
    va_cond_error e = {0};
    const char *c = "sel1 and not 1 of nomatch*";
    assert_int_equal(va_cond_parse(&f->a, c, strlen(c), &n, &e), VA_OK);
    assert_int_equal(va_cond_resolve(n, names, 6, &f->a, &e), VA_EFORMAT);
    assert_int_equal(e.pos, 13);
    assert_int_equal(va_cond_resolve(n, names, 0, &f->a, &e), VA_EFORMAT);
    assert_int_equal(e.pos, 0);
}

static void test_pattern(void **state) {
    (void)state;
    assert_true(va_cond_pattern_match("sel*", "selection"));
    assert_true(va_cond_pattern_match("sel*", "sel"));
    assert_true(va_cond_pattern_match("*_main_*", "filter_main_x"));
    assert_true(va_cond_pattern_match("*", ""));
    assert_true(va_cond_pattern_match("a*b*c", "aXbYbc"));
    assert_false(va_cond_pattern_match("a*b*c", "aXbYbd"));
    assert_false(va_cond_pattern_match("sel*", "Selection")); /* identifiers are case-sensitive */
    assert_false(va_cond_pattern_match("sel", "sel1"));
}

/* Condition list: each entry is parsed and resolved; positions point into the entry. */
static void test_condition_list(void **state) {
    fixture *f = *state;
    static const char yaml[] = "title: t\nlogsource: {product: x}\ndetection:\n"
                               "    a: {F: 1}\n    b: [kw]\n"
                               "    condition:\n        - a\n        - 'b and not a'\n";
    assert_int_equal(load(f, yaml), VA_OK);
    const va_rule_detection *d = &f->set.head->detection;
    assert_int_equal(d->nconds, 2);
    assert_string_equal(d->conds[1].text, "b and not a");
    assert_int_equal(d->conds[1].line, 8);
    assert_int_equal(d->conds[1].ast->kind, VA_COND_AND);
    assert_int_equal(d->conds[1].ast->kids[1]->kind, VA_COND_NOT);
    assert_int_equal(d->conds[1].ast->kids[1]->kids[0]->ids[0], 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_correlation_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_tree, setup, teardown),
        cmocka_unit_test(test_load_paths_order),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_stamps),
        cmocka_unit_test_setup_teardown(test_cond_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cond_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cond_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cond_eval, setup, teardown),
        cmocka_unit_test(test_pattern),
        cmocka_unit_test_setup_teardown(test_condition_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
