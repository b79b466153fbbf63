/*
 * test_alloc_fail.c - every allocation the library makes is made to fail, one at a time.
 *
 * The executable is linked with -Wl,--wrap for malloc, calloc, realloc, strdup and strndup, so
 * every call from vaern's own code goes through the wrappers below (libyaml, PCRE2 and
 * Hyperscan allocate in their shared libraries and are not affected).  For each scenario the
 * test first counts the allocations of a clean run and records its result, then reruns it
 * with allocation 1, 2, ... N failing.  Each run must either give the clean result or say it
 * failed (an error code, a VA_ENOMEM diagnostic, a failure counter), never a different result
 * silently, and must not crash; in the ASan build LeakSanitizer also checks that the error
 * paths free what they took.  This is curl's `runtests.pl -t` idea applied per scenario.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <execinfo.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "evtx/evtx.h"
#include "evtx_writer.h"
#include "json/winevent.h"
#include "output/output.h"
#include "sigma/correlate.h"
#include "sigma/engine.h"
#include "sigma/rule.h"

/* ---- the wrappers ------------------------------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

static uint64_t calls;   /* allocations seen while armed */
static uint64_t fail_at; /* fail the fail_at-th allocation (1-based); 0: never */
static int armed;

static int should_fail(void) {
    if (!armed) return 0;
    if (++calls != fail_at) return 0;
    if (getenv("VAERN_ALLOC_TRACE")) { /* where the failing allocation is made */
        void *bt[32];
        int n = backtrace(bt, 32);
        backtrace_symbols_fd(bt, n, 2);
    }
    return 1;
}

void *__wrap_malloc(size_t n) {
    return should_fail() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t k) {
    return should_fail() ? NULL : __real_calloc(n, k);
}
void *__wrap_realloc(void *p, size_t n) {
    return should_fail() ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s) {
    return should_fail() ? NULL : __real_strdup(s);
}
char *__wrap_strndup(const char *s, size_t n) {
    return should_fail() ? NULL : __real_strndup(s, n);
}

/* A scenario runs the code under test and writes a digest of what it produced into out;
 * it returns 1 if it reported a failure (error code, VA_ENOMEM, counter), else 0. */
typedef int (*scenario_fn)(va_buf *out);

/* Run s clean, then with every single allocation failing in turn. */
static void inject(const char *name, scenario_fn s) {
    va_buf want, got;
    va_buf_init(&want);
    va_buf_init(&got);
    calls = 0, fail_at = 0, armed = 1;
    int failed = s(&want);
    armed = 0;
    uint64_t total = calls;
    if (failed) fail_msg("%s: the clean run reports a failure", name);
    assert_true(total > 0);
    const char *only = getenv("VAERN_ALLOC_FAIL_AT"); /* debugging: one allocation */
    for (uint64_t k = only ? strtoull(only, NULL, 10) : 1; k <= total; k++) {
        va_buf_clear(&got);
        calls = 0, fail_at = k, armed = 1;
        failed = s(&got);
        armed = 0;
        if (!failed && (got.len != want.len || memcmp(got.p, want.p, want.len)))
            fail_msg("%s: allocation %llu of %llu failed, and the result changed silently "
                     "(VAERN_ALLOC_FAIL_AT=%llu VAERN_ALLOC_TRACE=1 shows where):\n"
                     "want %s\ngot  %s",
                     name, (unsigned long long)k, (unsigned long long)total, (unsigned long long)k,
                     want.p ? want.p : "", got.p ? got.p : "");
    }
    printf("%s: %llu allocations, each failed once\n", name, (unsigned long long)total);
    va_buf_free(&want);
    va_buf_free(&got);
}

/* Diagnostics: remember whether one said VA_ENOMEM. */
static void note_diag(void *ud, const va_diag *d) {
    int *oom = ud;
    if (d->code == VA_ENOMEM) *oom = 1;
}

/* ---- rules: load and compile -------------------------------------------------------------- */

static const char RULES[] =
    "title: Encoded PowerShell\n"
    "id: 11111111-1111-1111-1111-111111111111\n"
    "level: high\n"
    "tags: [attack.execution, attack.t1059.001]\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel: {Image|endswith: '\\powershell.exe', CommandLine|contains|windash: [' -enc ', "
    "' -e ']}\n"
    "  filter: {ParentImage|re: '(?i)\\\\ccmexec\\.exe$'}\n"
    "  condition: sel and not filter\n"
    "---\n"
    "title: Failed logons\n"
    "id: 22222222-2222-2222-2222-222222222222\n"
    "level: medium\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n"
    "  sel: {EventID: [4625, 4771], IpAddress|cidr: ['10.0.0.0/8', '192.168.0.0/16']}\n"
    "  kw: ['mimikatz', 'sekurlsa']\n"
    "  condition: sel or 1 of kw\n"
    "---\n"
    "title: Base64 download\n"
    "id: 33333333-3333-3333-3333-333333333333\n"
    "level: low\n"
    "logsource: {product: windows, category: ps_script}\n"
    "detection:\n"
    "  sel: {ScriptBlockText|base64offset|contains: 'http://', ScriptBlockText|contains|all: "
    "['Net.WebClient', 'Download']}\n"
    "  condition: sel\n";

static int load_rules(va_arena *a, va_rule_set *set) {
    memset(set, 0, sizeof *set);
    va_rule_stats st = {0};
    return va_rule_load_mem(a, "t.yml", RULES, sizeof RULES - 1, set, NULL, NULL, &st) != VA_OK;
}

static int scen_rules(va_buf *out) {
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set;
    int failed = load_rules(&a, &set);
    if (!failed) {
        for (const va_rule *r = set.head; r; r = r->next)
            va_buf_printf(out, "%s:%u;", r->title ? r->title : "?", r->detection.nsearches);
        if (out->oom) failed = 1;
    }
    va_arena_free(&a);
    return failed;
}

/* Events for the engine: name=value pairs, one event per string, fields separated by '|'. */
static const char *const EVENTS[] = {
    "Channel=Microsoft-Windows-Sysmon/Operational|EventID=1|Image=C:\\Windows\\powershell.exe|"
    "CommandLine=powershell -enc SQBFAFgA|ParentImage=C:\\Windows\\explorer.exe",
    "Channel=Microsoft-Windows-Sysmon/Operational|EventID=1|Image=C:\\Windows\\powershell.exe|"
    "CommandLine=powershell /e SQBFAFgA|ParentImage=C:\\Windows\\CCMExec.exe",
    "Channel=Security|EventID=4625|IpAddress=10.1.2.3|TargetUserName=bob",
    "Channel=Security|EventID=4624|IpAddress=10.1.2.3|Message=ran mimikatz here",
    "Channel=Microsoft-Windows-PowerShell/Operational|EventID=4104|"
    "ScriptBlockText=(New-Object Net.WebClient).DownloadString('aHR0cDovL2V2aWwK')",
};

static int build_event(va_arena *a, va_event *ev, const char *spec) {
    va_event_init(ev, a);
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '='), *bar = strchr(p, '|');
        if (!bar) bar = p + strlen(p);
        if (va_event_add_copy(ev, p, (size_t)(eq - p), eq + 1, (size_t)(bar - eq - 1), VA_V_STR))
            return -1;
        p = *bar ? bar + 1 : bar;
    }
    va_event_finish(ev);
    return 0;
}

typedef struct hits_ctx {
    va_buf *out;
    va_engine_scratch *s;
} hits_ctx;

static int on_hit(void *ud, const va_rule *r, const va_event *ev) {
    hits_ctx *h = ud;
    uint32_t idx[16];
    uint32_t n = va_engine_hit_fields(h->s, idx, 16);
    va_buf_printf(h->out, "%s@%lld[", r->title, (long long)ev->event_id);
    for (uint32_t i = 0; i < n && i < 16; i++) va_buf_printf(h->out, "%s,", ev->f[idx[i]].name);
    va_buf_puts(h->out, "];");
    return 0;
}

/* Load, compile (prefilter as configured) and match every event. */
static int run_engine(va_buf *out, int prefilter_off) {
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set;
    int failed = load_rules(&a, &set);
    va_logsource_map *map = NULL;
    const char *err = NULL;
    va_engine *e = NULL;
    va_engine_scratch *s = NULL;
    if (!failed) failed = va_logsource_load(&a, NULL, &map, &err) != VA_OK;
    if (!failed) {
        va_engine_opts o = {.logsources = map, .prefilter_off = prefilter_off};
        va_engine_stats st;
        failed = va_engine_new(&set, &o, NULL, NULL, &e, &st) != VA_OK;
    }
    if (!failed) failed = !(s = va_engine_scratch_new());
    for (size_t i = 0; !failed && i < sizeof EVENTS / sizeof EVENTS[0]; i++) {
        va_arena ea;
        va_arena_init(&ea, 0);
        va_event ev;
        if (build_event(&ea, &ev, EVENTS[i])) {
            failed = 1;
        } else {
            hits_ctx h = {out, s};
            va_engine_match(e, s, &ev, on_hit, &h);
        }
        va_arena_free(&ea);
    }
    if (s && va_engine_scratch_failures(s)) failed = 1;
    if (out->oom) failed = 1;
    va_engine_scratch_free(s);
    va_engine_free(e);
    va_arena_free(&a);
    return failed;
}

static int scen_engine(va_buf *out) {
    return run_engine(out, 0);
}

static int scen_engine_nopf(va_buf *out) {
    return run_engine(out, 1);
}

/* ---- EVTX and JSON readers ---------------------------------------------------------------- */

static char evtx_path[256], json_path[256];

typedef struct rd_ctx {
    va_buf *out;
} rd_ctx;

static int on_rec(void *ud, const va_evtx_rec *r) {
    rd_ctx *c = ud;
    va_buf_printf(c->out, "%llu:", (unsigned long long)r->record_id);
    if (r->ev) va_event_json(r->ev, c->out);
    va_buf_putc(c->out, '\n');
    return 0;
}

static int scen_evtx(va_buf *out) {
    int oom = 0;
    va_evtx_opts o = {.want_event = 1, .threads = 1};
    va_evtx_stats st = {0};
    rd_ctx c = {out};
    const char *paths[] = {evtx_path};
    va_evtx_read_files(paths, 1, &o, note_diag, &oom, &st, on_rec, NULL, &c);
    return oom || out->oom || st.records_bad;
}

static int on_json(void *ud, const va_event *ev) {
    rd_ctx *c = ud;
    va_event_json(ev, c->out);
    va_buf_putc(c->out, '\n');
    return 0;
}

static int scen_json(va_buf *out) {
    int oom = 0;
    va_jsonev_stats st = {0};
    rd_ctx c = {out};
    va_err e = va_jsonev_read_file(json_path, NULL, note_diag, &oom, &st, on_json, &c);
    return e != VA_OK || oom || out->oom;
}

/* ---- output sinks ------------------------------------------------------------------------- */

static int run_sink(va_buf *out, va_out_fmt fmt) {
    char *p = NULL;
    size_t len = 0;
    armed = 0; /* open_memstream allocates in libc, unwrapped; only the sink is under test */
    FILE *f = open_memstream(&p, &len);
    armed = 1;
    if (!f) return 1;
    va_out_opts o = {fmt, 1, 100, 4};
    va_out *s = NULL;
    int failed = va_out_open(&o, f, &s) != VA_OK;
    static const char *const tags[] = {"attack.t1059"};
    va_kv kv[] = {{"CommandLine", "powershell -enc x", 11, 17}, {"User", "bob", 4, 3}};
    for (int i = 0; !failed && i < 9; i++) {
        va_alert a = {0};
        a.kind = i == 4 ? VA_ALERT_CORRELATION : VA_ALERT_SIGMA;
        a.time_ns = INT64_C(1704067200000000000) - i * INT64_C(1000000000);
        a.title = i % 3 ? "Rule A" : "Rule B";
        a.level = i % 2 ? "high" : "low";
        a.tags = tags, a.ntags = 1;
        a.computer = i % 2 ? "WS1" : "DC1";
        a.event_id = 4688, a.fields = kv, a.nfields = 2, a.first_ns = a.time_ns;
        a.undecided = i == 7 ? "CommandLine" : NULL;
        failed = va_out_alert(s, &a) != VA_OK;
    }
    if (s) {
        char *sum = NULL;
        size_t sl = 0;
        armed = 0;
        FILE *sf = open_memstream(&sum, &sl);
        armed = 1;
        if (!failed && sf) failed = va_out_summary(s, sf, 1) != VA_OK;
        if (va_out_close(s) != VA_OK) failed = 1;
        armed = 0;
        if (sf) fclose(sf);
        if (!failed && sum) va_buf_put(out, sum, sl);
        free(sum);
        armed = 1;
    }
    armed = 0;
    fclose(f);
    armed = 1;
    /* The table degrades visibly when it cannot sort: it says so in the output. */
    if (p && memmem(p, len, "out of memory", 13)) failed = 1;
    if (!failed) va_buf_put(out, p, len);
    free(p);
    return failed || out->oom;
}

static int scen_jsonl(va_buf *out) {
    return run_sink(out, VA_OUT_JSONL);
}
static int scen_csv(va_buf *out) {
    return run_sink(out, VA_OUT_CSV);
}
static int scen_table(va_buf *out) {
    return run_sink(out, VA_OUT_TABLE);
}

/* ---- correlations: compile, add, spill, flush --------------------------------------------- */

static const char CORR[] =
    "title: Failed\nname: failed\nlogsource: {product: windows, service: security}\n"
    "detection: {sel: {EventID: 4625}, condition: sel}\n---\n"
    "title: Ok\nname: ok\nlogsource: {product: windows, service: security}\n"
    "detection: {sel: {EventID: 4624}, condition: sel}\n---\n"
    "title: Guessing\nname: guess\ncorrelation: {type: event_count, rules: [failed], group-by: "
    "[IpAddress], timespan: 5m, condition: {gte: 3}}\n---\n"
    "title: Users\ncorrelation: {type: value_count, rules: [failed], group-by: [IpAddress], "
    "timespan: 5m, condition: {field: TargetUserName, gte: 2}}\n---\n"
    "title: Bytes\ncorrelation: {type: value_sum, rules: [failed], group-by: [IpAddress], "
    "timespan: 5m, condition: {field: Bytes, gt: 100}}\n---\n"
    "title: Guessed\ncorrelation: {type: temporal_ordered, rules: [guess, ok], group-by: "
    "[IpAddress], timespan: 10m}\n";

static int on_corr_alert(void *ud, const va_alert *a) {
    va_buf *out = ud;
    va_buf_printf(out, "%s@%lld n=%llu;", a->title, (long long)a->time_ns,
                  (unsigned long long)a->count);
    return 0;
}

static int scen_correlate(va_buf *out) {
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_rule_stats rs = {0};
    int oom = 0;
    int failed =
        va_rule_load_mem(&a, "c.yml", CORR, sizeof CORR - 1, &set, NULL, NULL, &rs) != VA_OK;
    va_correlate *x = NULL;
    /* A small budget: the inputs spill to disk and are merged back. */
    va_correlate_opts o = {.memory = 256};
    if (!failed) failed = va_correlate_new(&set, &o, note_diag, &oom, &x, NULL) != VA_OK;
    const va_rule *fr = NULL, *okr = NULL;
    for (const va_rule *r = set.head; r; r = r->next) {
        if (r->name && !strcmp(r->name, "failed")) fr = r;
        if (r->name && !strcmp(r->name, "ok")) okr = r;
    }
    for (int i = 0; !failed && i < 40; i++) {
        va_arena ea;
        va_arena_init(&ea, 0);
        va_event ev;
        char spec[256];
        int ok = i % 10 == 9;
        snprintf(spec, sizeof spec,
                 "Channel=Security|EventID=%d|IpAddress=10.0.0.%d|TargetUserName=u%d|Bytes=%d|"
                 "TimeCreated=2024-01-01T10:%02d:%02dZ",
                 ok ? 4624 : 4625, i % 3, i % 4, 30 + i, (39 - i) / 6, (i * 7) % 60);
        if (build_event(&ea, &ev, spec) || va_correlate_add(x, ok ? okr : fr, &ev) != VA_OK)
            failed = 1;
        va_arena_free(&ea);
    }
    if (!failed) failed = va_correlate_flush(x, INT64_MAX, on_corr_alert, out) != VA_OK;
    if (x) {
        va_correlate_stats st;
        va_correlate_stats_get(x, &st);
        if (st.spill_failed || st.spill_lost || st.state_dropped) failed = 1;
    }
    va_correlate_free(x);
    va_arena_free(&a);
    return failed || oom || out->oom;
}

/* ---- the tests ---------------------------------------------------------------------------- */

static int setup_files(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(evtx_path, sizeof evtx_path, "%s/vaern-allocfail-%d.evtx", tmp, (int)getpid());
    snprintf(json_path, sizeof json_path, "%s/vaern-allocfail-%d.json", tmp, (int)getpid());
    const vt_fixture *fx = vt_fixture_find("nested");
    uint8_t *data;
    size_t len;
    vt_fixinfo info;
    if (!fx || fx->build(&data, &len, &info)) return -1;
    FILE *f = fopen(evtx_path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) return -1;
    free(data);
    f = fopen(json_path, "w");
    if (!f) return -1;
    fputs("{\"EventID\":4625,\"Channel\":\"Security\",\"Hostname\":\"DC1\",\"EventTime\":"
          "\"2024-01-01 10:00:00\",\"IpAddress\":\"10.1.2.3\",\"TargetUserName\":\"bob\"}\n"
          "{\"Event\":{\"System\":{\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/"
          "Operational\",\"TimeCreated\":{\"#attributes\":{\"SystemTime\":"
          "\"2024-01-01T10:00:01Z\"}}},\"EventData\":{\"Image\":\"C:\\\\x.exe\","
          "\"CommandLine\":[\"a\",\"b\"]}}}\n"
          "not json at all\n",
          f);
    return fclose(f) ? -1 : 0;
}

static int teardown_files(void **state) {
    (void)state;
    unlink(evtx_path);
    unlink(json_path);
    return 0;
}

static void rules_load(void **state) {
    (void)state;
    inject("rule loader", scen_rules);
}
static void engine_compile_and_match(void **state) {
    (void)state;
    inject("engine with prefilter", scen_engine);
    inject("engine without prefilter", scen_engine_nopf);
}
static void evtx_read(void **state) {
    (void)state;
    inject("evtx reader", scen_evtx);
}
static void json_read(void **state) {
    (void)state;
    inject("json reader", scen_json);
}
static void correlations(void **state) {
    (void)state;
    va_buf b;
    va_buf_init(&b);
    assert_int_equal(scen_correlate(&b), 0); /* the scenario really alerts */
    /* Guessing feeds Guessed and has no `generate`: it alerts only through the chain. */
    assert_non_null(strstr(b.p, "Users@"));
    assert_non_null(strstr(b.p, "Bytes@"));
    assert_non_null(strstr(b.p, "Guessed@"));
    va_buf_free(&b);
    inject("correlations (spilling)", scen_correlate);
}

static void sinks(void **state) {
    (void)state;
    inject("jsonl sink", scen_jsonl);
    inject("csv sink", scen_csv);
    inject("table sink", scen_table);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_load), cmocka_unit_test(engine_compile_and_match),
        cmocka_unit_test(evtx_read),  cmocka_unit_test(json_read),
        cmocka_unit_test(sinks),      cmocka_unit_test(correlations),
    };
    return cmocka_run_group_tests(tests, setup_files, teardown_files);
}
