/*
 * test_sigma_correlate.c - the correlation engine (sigma/correlate.h) on inline multi-document
 * rules and hand-built events: the seven correlation types firing and not firing (threshold,
 * timespan edges, groups kept apart), every condition operator, multi-field group-by, absent
 * group-by fields, aliases, generate, chaining (sliding and closed windows), value_count with
 * repeated values and tuples, temporal_ordered order and ties, value_sum/avg/percentile with
 * values that are not numbers and the helpers behind them (correlate_metric.h), alert details,
 * split flushes and replay determinism, waiting matches spilled to disk (a tiny budget, spills
 * that fail) giving the same alerts as all in memory, correlations left out, and the state
 * bound.  Base rules are fed straight to va_correlate_add: the detection engine is not involved.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/vtime.h"
#include "sigma/correlate.h"
#include "sigma/correlate_metric.h"

#define T0 INT64_C(1704067200000000000) /* 2024-01-01T00:00:00Z */

enum { LINE = 256 };

typedef struct fx {
    va_arena a;
    va_rule_set set;
    char *text; /* the YAML loaded */
    va_correlate *x;
    va_correlate_stats st;
    int ndiag;
    va_err dcode[32];
    char dmsg[32][400];
    int64_t dline[32];
    char (*al)[LINE]; /* one line per alert: "Title@t first=f n=count k=v ..." */
    size_t nal, cap;
    int stop_at; /* the callback returns nonzero on this alert (1-based); 0 never */
    int reenter; /* the callback tries va_correlate_add and va_correlate_flush */
    va_err reenter_add, reenter_flush;
    /* details of the last alert */
    char computer[64], channel[64], file[64], id[64], author[64], level[32], tag0[64];
    int64_t event_id;
    uint64_t record_id;
    uint32_t ntags;
} fx;

static double secs(int64_t t) {
    return (double)(t - T0) / 1e9;
}

static void on_diag(void *ud, const va_diag *d) {
    fx *f = ud;
    if (f->ndiag >= 32) return;
    f->dcode[f->ndiag] = d->code;
    f->dline[f->ndiag] = d->unit_no;
    snprintf(f->dmsg[f->ndiag], sizeof f->dmsg[0], "%s", d->msg);
    f->ndiag++;
}

static void copy_str(char *dst, size_t n, const char *s) {
    snprintf(dst, n, "%s", s ? s : "(null)");
}

static const va_rule *rule(const fx *f, const char *nm) {
    for (const va_rule *r = f->set.head; r; r = r->next)
        if ((r->name && !strcmp(r->name, nm)) || (r->title && !strcmp(r->title, nm))) return r;
    fail_msg("no rule %s", nm);
    return NULL;
}

static int on_alert(void *ud, const va_alert *a) {
    fx *f = ud;
    assert_int_equal(a->kind, VA_ALERT_CORRELATION);
    if (f->nal == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        assert_non_null(f->al = realloc(f->al, f->cap * sizeof *f->al));
    }
    char *s = f->al[f->nal++];
    int n = snprintf(s, LINE, "%s@%g first=%g n=%llu", a->title, secs(a->time_ns),
                     secs(a->first_ns), (unsigned long long)a->count);
    for (uint32_t i = 0; i < a->nfields && n < LINE; i++)
        n += snprintf(s + n, LINE - (size_t)n, " %.*s=%.*s", (int)a->fields[i].nlen,
                      a->fields[i].name, (int)a->fields[i].vlen, a->fields[i].val);
    copy_str(f->computer, sizeof f->computer, a->computer);
    copy_str(f->channel, sizeof f->channel, a->channel);
    copy_str(f->file, sizeof f->file, a->file);
    copy_str(f->id, sizeof f->id, a->id);
    copy_str(f->author, sizeof f->author, a->author);
    copy_str(f->level, sizeof f->level, a->level);
    copy_str(f->tag0, sizeof f->tag0, a->ntags ? a->tags[0] : NULL);
    f->event_id = a->event_id, f->record_id = a->record_id, f->ntags = a->ntags;
    if (f->reenter) {
        va_event ev;
        va_event_init(&ev, &f->a);
        ev.time_ns = T0;
        f->reenter_add = va_correlate_add(f->x, rule(f, "a"), &ev);
        f->reenter_flush = va_correlate_flush(f->x, INT64_MAX, on_alert, f);
    }
    return f->stop_at && (size_t)f->stop_at == f->nal;
}

/* Load one detection rule per word of bases ("name" or "name/level"; id "id-name"), then
 * the documents of yaml. */
static void load(fx *f, const char *bases, const char *yaml) {
    memset(f, 0, sizeof *f);
    va_arena_init(&f->a, 0);
    size_t cap = strlen(yaml) + 1, len = 0;
    for (const char *p = bases; *p; p++) cap += 256;
    assert_non_null(f->text = malloc(cap));
    for (const char *p = bases; *p;) {
        size_t w = strcspn(p, " "), nl = strcspn(p, " /");
        if (w) {
            const char *lv = nl < w ? p + nl + 1 : "low";
            int lvl = nl < w ? (int)(w - nl - 1) : 3;
            len += (size_t)snprintf(f->text + len, cap - len,
                                    "title: Rule %.*s\nname: %.*s\nid: id-%.*s\nlevel: %.*s\n"
                                    "logsource: {product: windows, service: security}\n"
                                    "detection: {sel: {EventID: 4625}, condition: sel}\n---\n",
                                    (int)nl, p, (int)nl, p, (int)nl, p, lvl, lv);
        }
        p += w + (p[w] == ' ');
    }
    snprintf(f->text + len, cap - len, "%s", yaml);
    va_rule_stats rs = {0};
    assert_int_equal(
        va_rule_load_mem(&f->a, "t.yml", f->text, strlen(f->text), &f->set, NULL, NULL, &rs),
        VA_OK);
}

static void build_opts(fx *f, const va_correlate_opts *o) {
    assert_int_equal(va_correlate_new(&f->set, o, on_diag, f, &f->x, &f->st), VA_OK);
}

static void build(fx *f, uint64_t max_state) {
    va_correlate_opts o = {.max_state = max_state};
    build_opts(f, &o);
}

static void setup_opts(fx *f, const char *bases, const char *yaml, const va_correlate_opts *o) {
    load(f, bases, yaml);
    build_opts(f, o);
    assert_int_equal(f->ndiag, 0);
}

static void setup(fx *f, const char *bases, const char *yaml) {
    setup_opts(f, bases, yaml, NULL);
}

static void teardown(fx *f) {
    va_correlate_free(f->x);
    free(f->al);
    free(f->text);
    va_arena_free(&f->a);
}

/* A match of rule nm at T0 + t seconds (NAN: no time) with NULL-terminated "Name=value"
 * fields; the time goes through TimeCreated and va_event_finish like a real event's. */
static void ev(fx *f, const char *nm, double t, ...) {
    va_arena a;
    va_arena_init(&a, 0);
    va_event e;
    va_event_init(&e, &a);
    e.src.path = "t.evtx";
    int64_t ns = isnan(t) ? VA_TIME_NONE : T0 + (int64_t)llround(t * 1e9);
    if (!isnan(t)) {
        char ts[40];
        size_t n = va_time_fmt_ns(ns, 9, ts);
        assert_int_equal(va_event_add_copy(&e, "TimeCreated", 11, ts, n, VA_V_STR), VA_OK);
    }
    va_list ap;
    va_start(ap, t);
    for (const char *kv; (kv = va_arg(ap, const char *));) {
        const char *eq = strchr(kv, '=');
        assert_non_null(eq);
        assert_int_equal(
            va_event_add_copy(&e, kv, (size_t)(eq - kv), eq + 1, strlen(eq + 1), VA_V_STR), VA_OK);
    }
    va_end(ap);
    va_event_finish(&e);
    assert_true(e.time_ns == ns);
    assert_int_equal(va_correlate_add(f->x, rule(f, nm), &e), VA_OK);
    va_arena_free(&a);
}

static void flush(fx *f, double upto) {
    int64_t u = isinf(upto) ? INT64_MAX : T0 + (int64_t)llround(upto * 1e9);
    assert_int_equal(va_correlate_flush(f->x, u, on_alert, f), VA_OK);
}

static void expect(const fx *f, const char *const *want, size_t n) {
    for (size_t i = 0; i < f->nal && i < n; i++) assert_string_equal(f->al[i], want[i]);
    if (f->nal != n) {
        for (size_t i = 0; i < f->nal; i++) print_message("  got %s\n", f->al[i]);
        fail_msg("%zu alerts, expected %zu", f->nal, n);
    }
}

#define EXPECT(f, ...)                                                                             \
    expect((f), (const char *const[]){__VA_ARGS__},                                                \
           sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define EXPECT_NONE(f) expect((f), NULL, 0)

static int cmp_str(const void *a, const void *b) {
    return strcmp(a, b);
}

/* The User values of title's alerts, sorted, space-separated. */
static void users_of(const fx *f, const char *title, char *out, size_t outn) {
    char u[64][32];
    size_t k = 0, tl = strlen(title);
    for (size_t i = 0; i < f->nal && k < 64; i++) {
        const char *s = f->al[i], *p;
        if (strncmp(s, title, tl) || s[tl] != '@' || !(p = strstr(s, " User="))) continue;
        snprintf(u[k++], sizeof u[0], "%.*s", (int)strcspn(p + 6, " "), p + 6);
    }
    qsort(u, k, sizeof u[0], cmp_str);
    out[0] = 0;
    for (size_t i = 0; i < k; i++) {
        if (i) strncat(out, " ", outn - strlen(out) - 1);
        strncat(out, u[i], outn - strlen(out) - 1);
    }
}

/* ---- event_count ------------------------------------------------------------------------- */

static void event_count_sliding(void **state) {
    (void)state;
    fx f;
    setup(&f, "fail",
          "title: Brute force\n"
          "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 10s,"
          " condition: {gte: 3}}\n");
    assert_int_equal(f.st.rules, 1);
    /* Enough events inside the window. */
    ev(&f, "fail", 0, "User=alice", NULL);
    ev(&f, "fail", 1, "User=alice", NULL);
    ev(&f, "fail", 2, "User=alice", NULL);
    /* One below the threshold. */
    ev(&f, "fail", 0, "User=bob", NULL);
    ev(&f, "fail", 1, "User=bob", NULL);
    /* The first event is 11 s before the third: outside a 10 s window. */
    ev(&f, "fail", 0, "User=carol", NULL);
    ev(&f, "fail", 5, "User=carol", NULL);
    ev(&f, "fail", 11, "User=carol", NULL);
    /* Exactly 10 s apart: the window is inclusive. */
    ev(&f, "fail", 100, "User=dave", NULL);
    ev(&f, "fail", 105, "User=dave", NULL);
    ev(&f, "fail", 110, "User=dave", NULL);
    /* A burst of six fires twice: the window starts over after each alert. */
    for (int i = 0; i < 6; i++) ev(&f, "fail", 200 + i, "User=erin", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Brute force@2 first=0 n=3 User=alice", "Brute force@110 first=100 n=3 User=dave",
           "Brute force@202 first=200 n=3 User=erin", "Brute force@205 first=203 n=3 User=erin");
    teardown(&f);
}

static void event_count_groups(void **state) {
    (void)state;
    fx f;
    setup(&f, "fail",
          "title: Per user and host\n"
          "correlation: {type: event_count, rules: [fail], group-by: [User, Host], timespan: 1m,"
          " condition: {gte: 2}}\n");
    /* Same user, different hosts: two groups, neither reaches 2. */
    ev(&f, "fail", 0, "User=alice", "Host=A", NULL);
    ev(&f, "fail", 1, "User=alice", "Host=B", NULL);
    /* Same user and host. */
    ev(&f, "fail", 2, "User=bob", "Host=A", NULL);
    ev(&f, "fail", 3, "User=bob", "Host=A", NULL);
    /* Absent and empty group-by values are one group. */
    ev(&f, "fail", 4, "Host=C", NULL);
    ev(&f, "fail", 5, "User=", "Host=C", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Per user and host@3 first=2 n=2 User=bob Host=A",
           "Per user and host@5 first=4 n=2 User= Host=C");
    teardown(&f);
}

/* One event_count correlation per operator, each titled by it. */
#define OPC(title, cond)                                                                           \
    "title: " title "\ncorrelation: {type: event_count, rules: [fail], group-by: [User],"          \
    " timespan: 10s, condition: " cond "}\n---\n"
/* One operator per line, so clang-format is told to keep them. */
// clang-format off
static const char OPS[] =
    OPC("gt", "{gt: 2}")
    OPC("gte", "{gte: 2}")
    OPC("lt", "{lt: 3}")
    OPC("lte", "{lte: 3}")
    OPC("eq", "{eq: 3}")
    OPC("neq", "{neq: 3}")
    OPC("range", "{gt: 1, lte: 3}")
    OPC("float", "{gte: 2.5}");
// clang-format on
#undef OPC

static void condition_operators(void **state) {
    (void)state;
    fx f;
    setup(&f, "fail", OPS);
    assert_int_equal(f.st.rules, 8);
    /* User ui has i events, all inside one window. */
    for (int i = 1; i <= 5; i++) {
        char u[16];
        snprintf(u, sizeof u, "User=u%d", i);
        for (int j = 0; j < i; j++) ev(&f, "fail", j, u, NULL);
    }
    flush(&f, INFINITY);
    char got[256];
    /* Lower bounds fire as soon as they hold, then start over. */
    users_of(&f, "gt", got, sizeof got);
    assert_string_equal(got, "u3 u4 u5");
    users_of(&f, "gte", got, sizeof got);
    assert_string_equal(got, "u2 u3 u4 u4 u5 u5");
    users_of(&f, "float", got, sizeof got);
    assert_string_equal(got, "u3 u4 u5");
    /* Upper bounds are decided when the window ends. */
    users_of(&f, "lt", got, sizeof got);
    assert_string_equal(got, "u1 u2");
    users_of(&f, "lte", got, sizeof got);
    assert_string_equal(got, "u1 u2 u3");
    users_of(&f, "eq", got, sizeof got);
    assert_string_equal(got, "u3");
    users_of(&f, "neq", got, sizeof got);
    assert_string_equal(got, "u1 u2 u4 u5");
    users_of(&f, "range", got, sizeof got);
    assert_string_equal(got, "u2 u3");
    teardown(&f);
}

static void closed_window_lifecycle(void **state) {
    (void)state;
    fx f;
    setup(&f, "fail",
          "title: Exactly two\n"
          "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 10s,"
          " condition: {eq: 2}}\n");
    ev(&f, "fail", 0, "User=alice", NULL); /* window [0, 10]: 2 events */
    ev(&f, "fail", 1, "User=alice", NULL);
    ev(&f, "fail", 20, "User=alice", NULL); /* window [20, 30]: 3 events */
    ev(&f, "fail", 21, "User=alice", NULL);
    ev(&f, "fail", 22, "User=alice", NULL);
    ev(&f, "fail", 40, "User=alice", NULL); /* window [40, 50], end included */
    ev(&f, "fail", 50, "User=alice", NULL);
    flush(&f, 9.999);
    EXPECT_NONE(&f); /* the first window could still get an event */
    flush(&f, 10);
    EXPECT(&f, "Exactly two@1 first=0 n=2 User=alice");
    flush(&f, INFINITY);
    EXPECT(&f, "Exactly two@1 first=0 n=2 User=alice", "Exactly two@50 first=40 n=2 User=alice");
    teardown(&f);

    /* Windows ending at the same time are decided in the order they were opened. */
    setup(&f, "fail",
          "title: Once\n"
          "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 10s,"
          " condition: {eq: 1}}\n");
    const char *order[] = {"User=u5", "User=u3", "User=u8", "User=u1", "User=u7",
                           "User=u2", "User=u9", "User=u4", "User=u6"};
    for (int i = 0; i < 9; i++) ev(&f, "fail", 0, order[i], NULL);
    flush(&f, INFINITY);
    assert_int_equal(f.nal, 9);
    for (int i = 0; i < 9; i++) {
        char want[64];
        snprintf(want, sizeof want, "Once@0 first=0 n=1 %s", order[i]);
        assert_string_equal(f.al[i], want);
    }
    teardown(&f);
}

/* ---- value_count ------------------------------------------------------------------------- */

static void value_count_distinct(void **state) {
    (void)state;
    fx f;
    setup(&f, "fail",
          "title: Spray\n"
          "correlation: {type: value_count, rules: [fail], group-by: [Ip], timespan: 60s,"
          " condition: {field: TargetUserName, gte: 3}}\n"
          "---\n"
          "title: Tuples\n"
          "correlation: {type: value_count, rules: [fail], group-by: [Ip], timespan: 60s,"
          " condition: {field: [TargetUserName, Host], gte: 3}}\n"
          "---\n"
          "title: Single user\n"
          "correlation: {type: value_count, rules: [fail], group-by: [Ip], timespan: 60s,"
          " condition: {field: TargetUserName, lt: 2}}\n");
    /* ip1: a and b repeated count twice; c makes three. */
    const char *ip1[] = {"a", "a", "b", "a", "b", "c"};
    for (int i = 0; i < 6; i++) {
        char u[32];
        snprintf(u, sizeof u, "TargetUserName=%s", ip1[i]);
        ev(&f, "fail", i, "Ip=ip1", u, "Host=x", NULL);
    }
    /* ip2: two users but three (user, host) tuples. */
    ev(&f, "fail", 0, "Ip=ip2", "TargetUserName=a", "Host=x", NULL);
    ev(&f, "fail", 1, "Ip=ip2", "TargetUserName=a", "Host=y", NULL);
    ev(&f, "fail", 2, "Ip=ip2", "TargetUserName=b", "Host=x", NULL);
    /* ip3: one user only (decided at the window end). */
    ev(&f, "fail", 0, "Ip=ip3", "TargetUserName=a", "Host=x", NULL);
    ev(&f, "fail", 10, "Ip=ip3", "TargetUserName=a", "Host=x", NULL);
    /* ip4: a at 0 has left the window by 61, so c at 62 makes three with b and a again. */
    ev(&f, "fail", 0, "Ip=ip4", "TargetUserName=a", "Host=x", NULL);
    ev(&f, "fail", 30, "Ip=ip4", "TargetUserName=b", "Host=x", NULL);
    ev(&f, "fail", 61, "Ip=ip4", "TargetUserName=a", "Host=x", NULL);
    ev(&f, "fail", 62, "Ip=ip4", "TargetUserName=c", "Host=x", NULL);
    /* ip5: no value to count at all. */
    for (int i = 0; i < 3; i++) ev(&f, "fail", i, "Ip=ip5", "Host=x", NULL);
    /* ip6: a has left the window when c comes: two values, not three. */
    ev(&f, "fail", 0, "Ip=ip6", "TargetUserName=a", "Host=x", NULL);
    ev(&f, "fail", 30, "Ip=ip6", "TargetUserName=b", "Host=x", NULL);
    ev(&f, "fail", 61, "Ip=ip6", "TargetUserName=c", "Host=x", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Tuples@2 first=0 n=3 Ip=ip2", "Spray@5 first=3 n=3 Ip=ip1",
           "Tuples@5 first=3 n=3 Ip=ip1", "Single user@10 first=0 n=1 Ip=ip3",
           "Spray@62 first=30 n=3 Ip=ip4", "Tuples@62 first=30 n=3 Ip=ip4",
           /* ip6's second window [61, 121] holds c alone; decided at its end */
           "Single user@61 first=61 n=1 Ip=ip6");
    teardown(&f);

    /* Many distinct values (indexed by hash past a few): they expire and refresh as few do. */
    setup(&f, "fail",
          "title: Wide\n"
          "correlation: {type: value_count, rules: [fail], group-by: [Ip], timespan: 60s,"
          " condition: {field: TargetUserName, gte: 20}}\n"
          "---\n"
          "title: Wide closed\n"
          "correlation: {type: value_count, rules: [fail], group-by: [Ip], timespan: 60s,"
          " condition: {field: TargetUserName, eq: 19}}\n");
    for (int i = 0; i < 19; i++) { /* u0..u18 at 0..18: 19 values, one short */
        char u[32];
        snprintf(u, sizeof u, "TargetUserName=u%d", i);
        ev(&f, "fail", i, "Ip=ip1", u, NULL);
    }
    /* At 70 u0..u9 have left the window: refresh u10..u18, add v0..v10: 20 at the last. */
    for (int i = 10; i < 19; i++) {
        char u[32];
        snprintf(u, sizeof u, "TargetUserName=u%d", i);
        ev(&f, "fail", 70, "Ip=ip1", u, NULL);
    }
    for (int i = 0; i < 11; i++) {
        char u[32];
        snprintf(u, sizeof u, "TargetUserName=v%d", i);
        ev(&f, "fail", 71 + i, "Ip=ip1", u, NULL);
    }
    flush(&f, INFINITY);
    EXPECT(&f, "Wide closed@18 first=0 n=19 Ip=ip1", "Wide@81 first=70 n=20 Ip=ip1");
    teardown(&f);
}

/* ---- temporal ---------------------------------------------------------------------------- */

static void temporal_any_order(void **state) {
    (void)state;
    fx f;
    setup(&f, "A B C",
          "title: Recon\n"
          "correlation: {type: temporal, rules: [A, B, C], group-by: [User], timespan: 5m}\n"
          "---\n"
          "title: Two of three\n"
          "correlation: {type: temporal, rules: [A, B, C], group-by: [User], timespan: 5m,"
          " condition: {gte: 2}}\n");
    ev(&f, "A", 0, "User=alice", NULL);
    ev(&f, "C", 10, "User=alice", NULL);
    ev(&f, "B", 20, "User=alice", NULL);
    ev(&f, "A", 0, "User=bob", NULL);
    ev(&f, "B", 10, "User=bob", NULL);
    ev(&f, "C", 400, "User=bob", NULL); /* A and B are more than 5m before */
    ev(&f, "A", 0, "User=carol", NULL); /* one rule twice is one distinct rule */
    ev(&f, "A", 5, "User=carol", NULL);
    ev(&f, "A", 0, "User=dave", NULL); /* A has left the window when C comes */
    ev(&f, "B", 200, "User=dave", NULL);
    ev(&f, "C", 400, "User=dave", NULL);
    ev(&f, "A", 500, "User=alice", NULL); /* a fresh round after the alert */
    ev(&f, "B", 501, "User=alice", NULL);
    ev(&f, "C", 502, "User=alice", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Two of three@10 first=0 n=2 User=alice", "Two of three@10 first=0 n=2 User=bob",
           "Recon@20 first=0 n=3 User=alice", "Two of three@200 first=0 n=2 User=dave",
           "Two of three@501 first=500 n=2 User=alice", "Recon@502 first=500 n=3 User=alice");
    teardown(&f);
}

static void temporal_ordered(void **state) {
    (void)state;
    fx f;
    setup(&f, "A B",
          "title: A then B\n"
          "correlation: {type: temporal_ordered, rules: [A, B], group-by: [User], timespan: 1m}\n"
          "---\n"
          "title: A B A\n"
          "correlation: {type: temporal_ordered, rules: [A, B, A], group-by: [User],"
          " timespan: 1m}\n"
          "---\n"
          "title: A A\n"
          "correlation: {type: temporal_ordered, rules: [A, A], group-by: [User], timespan: 1m}\n");
    ev(&f, "B", 0, "User=alice", NULL); /* wrong order */
    ev(&f, "A", 10, "User=alice", NULL);
    ev(&f, "A", 0, "User=bob", NULL); /* right order */
    ev(&f, "B", 10, "User=bob", NULL);
    ev(&f, "A", 0, "User=carol", NULL); /* too far apart */
    ev(&f, "B", 61, "User=carol", NULL);
    ev(&f, "A", 0, "User=dave", NULL); /* the latest A starts the chain */
    ev(&f, "A", 30, "User=dave", NULL);
    ev(&f, "B", 80, "User=dave", NULL);
    ev(&f, "A", 5, "User=erin", NULL); /* same time: input order decides */
    ev(&f, "B", 5, "User=erin", NULL);
    ev(&f, "B", 5, "User=frank", NULL);
    ev(&f, "A", 5, "User=frank", NULL);
    ev(&f, "A", 0, "User=gina", NULL); /* A, B, A fills [A, B, A] */
    ev(&f, "B", 1, "User=gina", NULL);
    ev(&f, "A", 2, "User=gina", NULL);
    /* One A cannot fill two positions of [A, A]: only the second A completes it. */
    ev(&f, "A", 3, "User=hank", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "A then B@1 first=0 n=2 User=gina", "A B A@2 first=0 n=3 User=gina",
           "A A@2 first=0 n=2 User=gina", "A then B@5 first=5 n=2 User=erin",
           "A then B@10 first=0 n=2 User=bob", "A A@30 first=0 n=2 User=dave",
           "A then B@80 first=30 n=2 User=dave");
    teardown(&f);
}

/* ---- value_sum, value_avg, value_percentile --------------------------------------------- */

static void value_sum(void **state) {
    (void)state;
    fx f;
    setup(&f, "proxy",
          "title: Exfil\nname: exfil\n"
          "correlation: {type: value_sum, rules: [proxy], group-by: [Src], timespan: 1h,"
          " condition: {field: Bytes, gt: 1000}}\n"
          "---\n"
          "title: In range\n"
          "correlation: {type: value_sum, rules: [proxy], group-by: [Src], timespan: 1h,"
          " condition: {field: Bytes, gte: 100, lte: 200}}\n"
          "---\n"
          "title: Exfil again\n"
          "correlation: {type: event_count, rules: [exfil], group-by: [Src], timespan: 1d,"
          " condition: {gte: 2}, generate: true}\n");
    /* a: the third value passes 1000 (sliding: at once), then the group starts over. */
    ev(&f, "proxy", 0, "Src=a", "Bytes=400", NULL);
    ev(&f, "proxy", 10, "Src=a", "Bytes=500", NULL);
    ev(&f, "proxy", 20, "Src=a", "Bytes=200", NULL);
    ev(&f, "proxy", 30, "Src=a", "Bytes=999", NULL);
    ev(&f, "proxy", 40, "Src=a", "Bytes=2", NULL);
    /* b: the first value has left the window; b2: an hour exactly is inside. */
    ev(&f, "proxy", 0, "Src=b", "Bytes=600", NULL);
    ev(&f, "proxy", 3601, "Src=b", "Bytes=600", NULL);
    ev(&f, "proxy", 0, "Src=b2", "Bytes=600", NULL);
    ev(&f, "proxy", 3600, "Src=b2", "Bytes=500", NULL);
    /* c: a range is decided when the window ends. */
    ev(&f, "proxy", 0, "Src=c", "Bytes=150", NULL);
    /* d: a value that is not a number is not counted (and reported once). */
    ev(&f, "proxy", 0, "Src=d", "Bytes=abc", NULL);
    ev(&f, "proxy", 1, "Src=d", "Bytes=50", NULL);
    ev(&f, "proxy", 2, "Src=d", "Bytes=60", NULL);
    /* e: absent and empty values are no values: no window at all. */
    ev(&f, "proxy", 0, "Src=e", NULL);
    ev(&f, "proxy", 1, "Src=e", "Bytes=", NULL);
    /* g: hex (as EVTX writes HexInt), blanks and exponents are numbers; so are negatives. */
    ev(&f, "proxy", 0, "Src=g", "Bytes=0x40", NULL);
    ev(&f, "proxy", 1, "Src=g", "Bytes= 36 ", NULL);
    ev(&f, "proxy", 2, "Src=g", "Bytes=1.5e1", NULL);
    ev(&f, "proxy", 3, "Src=g", "Bytes=-5", NULL);
    flush(&f, INFINITY);
    /* Windows ending at 3600 are decided after the match at 3600 (a window includes its end),
     * in the order they were opened. */
    EXPECT(&f, "Exfil@20 first=0 n=3 Src=a sum(Bytes)=1100",
           "Exfil@40 first=30 n=2 Src=a sum(Bytes)=1001", "Exfil again@40 first=20 n=2 Src=a",
           "Exfil@3600 first=0 n=2 Src=b2 sum(Bytes)=1100",
           "In range@0 first=0 n=1 Src=c sum(Bytes)=150",
           "In range@3 first=0 n=4 Src=g sum(Bytes)=110",
           "In range@2 first=1 n=2 Src=d sum(Bytes)=110");
    va_correlate_stats st;
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.nonnumeric, 2); /* one match, two correlations */
    assert_int_equal(f.ndiag, 1);
    assert_int_equal(f.dcode[0], VA_EFORMAT);
    assert_non_null(strstr(f.dmsg[0], "field 'Bytes' of a match of rule 'proxy' is 'abc'"));
    teardown(&f);
}

static void value_avg(void **state) {
    (void)state;
    fx f;
    setup(&f, "proxy",
          "title: Avg high\n"
          "correlation: {type: value_avg, rules: [proxy], group-by: [Src], timespan: 10m,"
          " condition: {field: Bytes, gt: 500}}\n"
          "---\n"
          "title: Avg low\n"
          "correlation: {type: value_avg, rules: [proxy], group-by: [Src], timespan: 10m,"
          " condition: {field: Bytes, lt: 10}}\n");
    /* a: one big value, then small ones: the window's average is 257.5, no alert (an average
     * is only known when the window ends, even for gt). */
    ev(&f, "proxy", 0, "Src=a", "Bytes=1000", NULL);
    for (int i = 1; i <= 3; i++) ev(&f, "proxy", i, "Src=a", "Bytes=10", NULL);
    /* b: 650 on average. */
    ev(&f, "proxy", 0, "Src=b", "Bytes=600", NULL);
    ev(&f, "proxy", 100, "Src=b", "Bytes=700", NULL);
    ev(&f, "proxy", 601, "Src=b", "Bytes=1", NULL); /* the next window */
    /* c: averages are reals. */
    ev(&f, "proxy", 0, "Src=c", "Bytes=1", NULL);
    ev(&f, "proxy", 1, "Src=c", "Bytes=2", NULL);
    ev(&f, "proxy", 2, "Src=c", "Bytes=2", NULL);
    flush(&f, 599);
    EXPECT_NONE(&f); /* windows still open */
    flush(&f, INFINITY);
    EXPECT(&f, "Avg high@100 first=0 n=2 Src=b avg(Bytes)=650",
           "Avg low@2 first=0 n=3 Src=c avg(Bytes)=1.6666666666666667",
           "Avg low@601 first=601 n=1 Src=b avg(Bytes)=1");
    teardown(&f);
}

static void value_percentile(void **state) {
    (void)state;
    fx f;
    setup(&f, "proxy",
          "title: High\n"
          "correlation: {type: value_percentile, rules: [proxy], group-by: [Src], timespan: 1h,"
          " condition: {field: Bytes, gte: 95}}\n"
          "---\n"
          "title: Low\n"
          "correlation: {type: value_percentile, rules: [proxy], group-by: [Src], timespan: 1h,"
          " condition: {field: Bytes, lte: 5}}\n");
    /* a: forty equal values sit at the median (50); then an outlier above, one below, and the
     * same outlier again (the window's values stay the baseline after an alert). */
    for (int i = 0; i < 40; i++) ev(&f, "proxy", i, "Src=a", "Bytes=100", NULL);
    ev(&f, "proxy", 40, "Src=a", "Bytes=5000", NULL);
    ev(&f, "proxy", 41, "Src=a", "Bytes=1", NULL);
    ev(&f, "proxy", 42, "Src=a", "Bytes=5000", NULL);
    /* b: the baseline has expired when the outlier comes: one value is its own median. */
    for (int i = 0; i < 40; i++) ev(&f, "proxy", i, "Src=b", "Bytes=100", NULL);
    ev(&f, "proxy", 4000, "Src=b", "Bytes=5000", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "High@40 first=0 n=41 Src=a percentile(Bytes)=98.78048780487805",
           "Low@41 first=0 n=42 Src=a percentile(Bytes)=1.1904761904761905",
           "High@42 first=0 n=43 Src=a percentile(Bytes)=97.67441860465117");
    teardown(&f);
}

/* The field of a metric is an alias like any other, and a list of fields is refused. */
static void metric_aliases(void **state) {
    (void)state;
    fx f;
    setup(&f, "proxy fw",
          "title: Out\n"
          "correlation:\n"
          "  type: value_sum\n"
          "  rules: [proxy, fw]\n"
          "  group-by: [host]\n"
          "  timespan: 1m\n"
          "  condition: {field: bytes, gte: 100}\n"
          "  aliases:\n"
          "    host: {proxy: Src, fw: SourceIp}\n"
          "    bytes: {proxy: BytesOut, fw: SentBytes}\n");
    ev(&f, "proxy", 0, "Src=10.0.0.1", "BytesOut=60", "SentBytes=1000", NULL);
    ev(&f, "fw", 1, "SourceIp=10.0.0.1", "SentBytes=40", "BytesOut=1000", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Out@1 first=0 n=2 host=10.0.0.1 sum(bytes)=100");
    teardown(&f);
}

/* Numbers, their text in alerts, and the ordered multiset against a plain array. */
static void metric_helpers(void **state) {
    (void)state;
    static const struct {
        const char *s;
        int ok, isint;
        double f;
    } nums[] = {{"0", 1, 1, 0},
                {"-12", 1, 1, -12},
                {"+7", 1, 1, 7},
                {" 42\t", 1, 1, 42},
                {"0x1F", 1, 1, 31},
                {"0XfFfF", 1, 1, 65535},
                {"1.5", 1, 0, 1.5},
                {".5", 1, 0, 0.5},
                {"5.", 1, 0, 5},
                {"2e3", 1, 0, 2000},
                {"-1.25E-2", 1, 0, -0.0125},
                {"9223372036854775807", 1, 1, 9223372036854775807.0},
                {"9223372036854775808", 1, 0, 9223372036854775808.0},
                {"0xffffffffffffffff", 1, 0, 18446744073709551615.0},
                {"", 0, 0, 0},
                {" ", 0, 0, 0},
                {"-", 0, 0, 0},
                {"1,5", 0, 0, 0},
                {"1e", 0, 0, 0},
                {"inf", 0, 0, 0},
                {"nan", 0, 0, 0},
                {"1e999", 0, 0, 0},
                {"0x", 0, 0, 0},
                {"0x1g", 0, 0, 0},
                {"12ab", 0, 0, 0},
                {"- 1", 0, 0, 0},
                {"0x10000000000000000", 0, 0, 0}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        va_correlate_num v;
        int r = va_correlate_num_parse(nums[i].s, strlen(nums[i].s), &v);
        if ((r == 0) != nums[i].ok) fail_msg("'%s': parse gave %d", nums[i].s, r);
        if (!nums[i].ok) continue;
        assert_int_equal(v.isint, nums[i].isint);
        assert_true(v.f == nums[i].f);
    }
    static const struct {
        double v;
        const char *s;
    } fmts[] = {{0, "0"},
                {-0.0, "0"},
                {1500, "1500"},
                {-3, "-3"},
                {0.1, "0.1"},
                {2.5e20, "2.5e+20"},
                {1.0 / 3, "0.3333333333333333"}};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char b[32];
        va_correlate_num_fmt(fmts[i].v, b);
        assert_string_equal(b, fmts[i].s);
    }
    /* Integer sums are exact however values come and go; an emptied sum is zero again. */
    va_correlate_sum sum;
    memset(&sum, 0, sizeof sum);
    va_correlate_num big = {1, INT64_MAX, (double)INT64_MAX}, one = {1, 1, 1}, tenth = {0, 0, 0.1};
    va_correlate_sum_add(&sum, &big);
    va_correlate_sum_add(&sum, &big);
    va_correlate_sum_add(&sum, &one);
    va_correlate_sum_remove(&sum, &big);
    va_correlate_sum_remove(&sum, &big);
    assert_true(va_correlate_sum_value(&sum) == 1);
    for (int i = 0; i < 1000; i++) va_correlate_sum_add(&sum, &tenth);
    assert_true(fabs(va_correlate_sum_value(&sum) - 101) < 1e-9);
    for (int i = 0; i < 1000; i++) va_correlate_sum_remove(&sum, &tenth);
    va_correlate_sum_remove(&sum, &one);
    assert_true(va_correlate_sum_value(&sum) == 0);
    assert_int_equal(sum.n, 0);
    /* Ranks against a brute-force count, through inserts and erases in a sliding order. */
    va_correlate_ost t;
    memset(&t, 0, sizeof t);
    enum { N = 3000, W = 500 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    uint32_t s = 5;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = (double)((s >> 8) % 100);
        assert_int_equal(va_correlate_ost_insert(&t, v[i], (uint64_t)i), 0);
        if (i >= W) va_correlate_ost_erase(&t, v[i - W], (uint64_t)(i - W));
        int lo = i >= W ? i - W + 1 : 0;
        assert_int_equal(va_correlate_ost_size(&t), (uint64_t)(i - lo + 1));
        if (i % 7) continue;
        uint64_t below, equal, b = 0, e = 0;
        va_correlate_ost_rank(&t, v[i], &below, &equal);
        for (int j = lo; j <= i; j++) b += v[j] < v[i], e += v[j] == v[i];
        assert_int_equal(below, b);
        assert_int_equal(equal, e);
    }
    /* Freed nodes are reused: the array never holds more than the window. */
    assert_true(t.used <= W + 1);
    va_correlate_ost_free(&t);
    free(v);
}

/* ---- aliases, generate, chaining, details ------------------------------------------------ */

static void aliases(void **state) {
    (void)state;
    fx f;
    setup(&f, "fail proc",
          "title: Fail then process\n"
          "correlation:\n"
          "  type: temporal\n"
          "  rules: [fail, id-proc]\n"
          "  group-by: [user]\n"
          "  timespan: 1m\n"
          "  aliases:\n"
          "    user: {fail: TargetUserName, id-proc: User}\n");
    ev(&f, "fail", 0, "TargetUserName=alice", NULL);
    ev(&f, "proc", 5, "User=alice", NULL);
    ev(&f, "fail", 10, "TargetUserName=bob", NULL);
    ev(&f, "proc", 11, "User=carol", NULL);
    ev(&f, "proc", 12, "TargetUserName=bob", NULL); /* not proc's user field */
    flush(&f, INFINITY);
    EXPECT(&f, "Fail then process@5 first=0 n=2 user=alice");
    teardown(&f);
}

static void generate_and_standalone(void **state) {
    (void)state;
    fx f;
    setup(&f, "a b c z",
          "title: Count a\n"
          "correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m,"
          " condition: {gte: 2}}\n"
          "---\n"
          "title: Count b and c\n"
          "correlation: {type: event_count, rules: [b, c], group-by: [User], timespan: 1m,"
          " condition: {gte: 2}, generate: true}\n"
          "---\n"
          "title: Also a\n"
          "correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m,"
          " condition: {gte: 3}, generate: false}\n");
    assert_int_equal(va_correlate_referenced(f.x, rule(&f, "a")), 1);
    assert_int_equal(va_correlate_standalone(f.x, rule(&f, "a")), 0);
    assert_int_equal(va_correlate_referenced(f.x, rule(&f, "b")), 1);
    assert_int_equal(va_correlate_standalone(f.x, rule(&f, "b")), 1);
    assert_int_equal(va_correlate_standalone(f.x, rule(&f, "c")), 1);
    assert_int_equal(va_correlate_referenced(f.x, rule(&f, "z")), 0);
    assert_int_equal(va_correlate_standalone(f.x, rule(&f, "z")), 1);
    assert_int_equal(va_correlate_referenced(f.x, rule(&f, "Count a")), 0);
    assert_int_equal(va_correlate_standalone(f.x, rule(&f, "Count a")), 1);
    /* Matches of an unreferenced rule change nothing. */
    ev(&f, "z", 0, "User=alice", NULL);
    ev(&f, "z", 1, "User=alice", NULL);
    ev(&f, "b", 2, "User=alice", NULL);
    ev(&f, "c", 3, "User=alice", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Count b and c@3 first=2 n=2 User=alice");
    teardown(&f);

    /* One referencing correlation with generate: true is enough. */
    setup(&f, "a",
          "title: One\n"
          "correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m,"
          " condition: {gte: 2}}\n"
          "---\n"
          "title: Two\n"
          "correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m,"
          " condition: {gte: 2}, generate: true}\n");
    assert_int_equal(va_correlate_standalone(f.x, rule(&f, "a")), 1);
    teardown(&f);
}

/* The spec's example: many failed logins followed by a success.  gen goes into the outer
 * correlation, whose generate decides whether the inner one's alerts are output. */
#define CHAIN_YAML(gen)                                                                            \
    "title: Many failed\nname: many_failed\n"                                                      \
    "correlation: {type: event_count, rules: [failed_login], group-by: [User], timespan: 10m,"     \
    " condition: {gte: 3}}\n"                                                                      \
    "---\n"                                                                                        \
    "title: Brute force success\n"                                                                 \
    "correlation: {type: temporal_ordered, rules: [many_failed, successful_login],"                \
    " group-by: [User], timespan: 10m" gen "}\n"

static void chain_events(fx *f) {
    for (int i = 0; i < 3; i++) ev(f, "failed_login", i, "User=alice", NULL);
    ev(f, "successful_login", 3, "User=alice", NULL);
    ev(f, "successful_login", 10, "User=bob", NULL); /* success before the failures */
    for (int i = 0; i < 3; i++) ev(f, "failed_login", 11 + i, "User=bob", NULL);
    flush(f, INFINITY);
}

static void chaining(void **state) {
    (void)state;
    fx f;
    setup(&f, "failed_login/low successful_login/medium", CHAIN_YAML(""));
    assert_int_equal(f.st.rules, 2);
    assert_int_equal(va_correlate_standalone(f.x, rule(&f, "many_failed")), 0);
    assert_int_equal(va_correlate_referenced(f.x, rule(&f, "many_failed")), 1);
    chain_events(&f);
    /* The inner correlation's alerts only feed the outer one (generate absent). */
    EXPECT(&f, "Brute force success@3 first=2 n=2 User=alice");
    /* No level of its own: the highest of what it stands on (low via many_failed, medium). */
    assert_string_equal(f.level, "medium");
    va_correlate_stats st;
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.alerts, 3); /* two inner, one outer */
    teardown(&f);

    setup(&f, "failed_login/low successful_login/medium", CHAIN_YAML(", generate: true"));
    chain_events(&f);
    EXPECT(&f, "Many failed@2 first=0 n=3 User=alice",
           "Brute force success@3 first=2 n=2 User=alice", "Many failed@13 first=11 n=3 User=bob");
    teardown(&f);
}

static void chaining_closed_window(void **state) {
    (void)state;
    fx f;
    setup(&f, "x/high",
          "title: Exactly two\nname: two\n"
          "correlation: {type: event_count, rules: [x], group-by: [User], timespan: 10s,"
          " condition: {eq: 2}}\n"
          "---\n"
          "title: Outer\nlevel: critical\n"
          "correlation: {type: event_count, rules: [two], group-by: [User], timespan: 1m,"
          " condition: {gte: 1}, generate: true}\n");
    ev(&f, "x", 0, "User=alice", NULL);
    ev(&f, "x", 1, "User=alice", NULL);
    flush(&f, 9);
    EXPECT_NONE(&f);
    flush(&f, 10);
    /* The inner result is known at its window end (10 s): that is when the outer sees it. */
    EXPECT(&f, "Exactly two@1 first=0 n=2 User=alice", "Outer@10 first=10 n=1 User=alice");
    assert_string_equal(f.level, "critical");
    teardown(&f);
}

static void alert_details(void **state) {
    (void)state;
    fx f;
    setup(&f, "fail/high",
          "title: Detail\n"
          "id: corr-1\n"
          "author: Tester\n"
          "tags: [attack.t1110, attack.credential_access]\n"
          "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 1m,"
          " condition: {gte: 2}}\n");
    ev(&f, "fail", 0, "User=alice", "Computer=HOST0", "EventRecordID=1", NULL);
    ev(&f, "fail", 1, "User=alice", "Computer=HOST1", "Channel=Security", "EventID=4625",
       "EventRecordID=77", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Detail@1 first=0 n=2 User=alice");
    /* The completing event's facts, the correlation's metadata, the base rule's level. */
    assert_string_equal(f.computer, "HOST1");
    assert_string_equal(f.channel, "Security");
    assert_int_equal(f.event_id, 4625);
    assert_int_equal(f.record_id, 77);
    assert_string_equal(f.file, "t.evtx");
    assert_string_equal(f.id, "corr-1");
    assert_string_equal(f.author, "Tester");
    assert_int_equal(f.ntags, 2);
    assert_string_equal(f.tag0, "attack.t1110");
    assert_string_equal(f.level, "high");
    teardown(&f);
}

/* ---- split flushes and replay ------------------------------------------------------------ */

/* Every kind of window, chained both ways, over two rules and four users. */
static const char MIX[] =
    "title: S count\n"
    "correlation: {type: event_count, rules: [A], group-by: [User], timespan: 30s,"
    " condition: {gte: 3}}\n"
    "---\n"
    "title: S closed\nname: s_closed\n"
    "correlation: {type: event_count, rules: [B], group-by: [User], timespan: 20s,"
    " condition: {lte: 2}}\n"
    "---\n"
    "title: S values\n"
    "correlation: {type: value_count, rules: [A, B], group-by: [User], timespan: 60s,"
    " condition: {field: Val, gte: 3}}\n"
    "---\n"
    "title: S temporal\n"
    "correlation: {type: temporal, rules: [A, B], group-by: [User], timespan: 10s}\n"
    "---\n"
    "title: S ordered\nname: s_ord\n"
    "correlation: {type: temporal_ordered, rules: [B, A], group-by: [User], timespan: 10s}\n"
    "---\n"
    "title: S chain\n"
    "correlation: {type: event_count, rules: [s_ord], group-by: [User], timespan: 120s,"
    " condition: {gte: 2}, generate: true}\n"
    "---\n"
    "title: S chain closed\n"
    "correlation: {type: event_count, rules: [s_closed], group-by: [User], timespan: 100s,"
    " condition: {neq: 1}, generate: true}\n"
    "---\n"
    "title: S sum\n"
    "correlation: {type: value_sum, rules: [A], group-by: [User], timespan: 30s,"
    " condition: {field: Num, gt: 1500}}\n"
    "---\n"
    "title: S avg\n"
    "correlation: {type: value_avg, rules: [B], group-by: [User], timespan: 20s,"
    " condition: {field: Num, gte: 600}}\n"
    "---\n"
    "title: S pct\n"
    "correlation: {type: value_percentile, rules: [A, B], group-by: [User], timespan: 60s,"
    " condition: {field: Num, gte: 90}}\n";

enum { NMIX = 600 };

typedef struct mixev {
    const char *rule;
    double t;
    char user[16], val[16], num[16];
} mixev;

static void mix_events(mixev *e) {
    uint32_t s = 12345;
    for (int i = 0; i < NMIX; i++) {
        s = s * 1103515245u + 12345u;
        uint32_t r = s >> 8;
        e[i].rule = r & 1 ? "A" : "B";
        e[i].t = i * 1.5;
        snprintf(e[i].user, sizeof e[i].user, "User=u%u", (r >> 1) % 4);
        snprintf(e[i].val, sizeof e[i].val, "Val=v%u", (r >> 3) % 5);
        snprintf(e[i].num, sizeof e[i].num, "Num=%u", (r >> 6) % 1000);
    }
}

static void mix_add(fx *f, const mixev *e) {
    ev(f, e->rule, e->t, e->user, e->val, e->num, NULL);
}

static void same_alerts(const fx *f, const fx *ref) {
    assert_int_equal(f->nal, ref->nal);
    for (size_t i = 0; i < ref->nal; i++) assert_string_equal(f->al[i], ref->al[i]);
}

static void split_flush_and_replay(void **state) {
    (void)state;
    mixev *e = malloc(NMIX * sizeof *e);
    assert_non_null(e);
    mix_events(e);
    fx ref, f;

    /* Reference: everything, one flush.  Every correlation takes part. */
    setup(&ref, "A B", MIX);
    assert_int_equal(ref.st.rules, 10);
    for (int i = 0; i < NMIX; i++) mix_add(&ref, &e[i]);
    flush(&ref, INFINITY);
    const char *titles[] = {"S count@", "S closed@",       "S values@", "S temporal@", "S ordered@",
                            "S chain@", "S chain closed@", "S sum@",    "S avg@",      "S pct@"};
    for (size_t k = 0; k < sizeof titles / sizeof titles[0]; k++) {
        size_t hits = 0;
        for (size_t i = 0; i < ref.nal; i++)
            hits += !strncmp(ref.al[i], titles[k], strlen(titles[k]));
        if (hits < 5) fail_msg("%zu %s alerts in the mix", hits, titles[k]);
    }

    /* Same adds, the flush split at rising points. */
    setup(&f, "A B", MIX);
    for (int i = 0; i < NMIX; i++) mix_add(&f, &e[i]);
    for (double u = 0; u < 950; u += 37) flush(&f, u);
    flush(&f, INFINITY);
    same_alerts(&f, &ref);
    teardown(&f);

    /* Adds and flushes interleaved, as a hunt would run them. */
    setup(&f, "A B", MIX);
    double p = 20;
    for (int i = 0; i < NMIX; i++) {
        while (e[i].t > p) flush(&f, p), p += 20;
        mix_add(&f, &e[i]);
    }
    flush(&f, INFINITY);
    same_alerts(&f, &ref);
    va_correlate_stats st;
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.late, 0);
    teardown(&f);

    /* Input out of time order (times distinct): event time decides, not input order. */
    uint32_t s = 99;
    for (int i = NMIX - 1; i > 0; i--) {
        s = s * 1103515245u + 12345u;
        int j = (int)((s >> 8) % (uint32_t)(i + 1));
        mixev t = e[i];
        e[i] = e[j], e[j] = t;
    }
    setup(&f, "A B", MIX);
    for (int i = 0; i < NMIX; i++) mix_add(&f, &e[i]);
    flush(&f, INFINITY);
    same_alerts(&f, &ref);
    teardown(&f);

    /* Replay: the same x after a full flush starts a new hunt and gives the same alerts. */
    mix_events(e);
    size_t n0 = ref.nal;
    for (int i = 0; i < NMIX; i++) mix_add(&ref, &e[i]);
    flush(&ref, INFINITY);
    assert_int_equal(ref.nal, 2 * n0);
    for (size_t i = 0; i < n0; i++) assert_string_equal(ref.al[n0 + i], ref.al[i]);
    teardown(&ref);
    free(e);
}

/* ---- waiting matches spilled to disk ----------------------------------------------------- */

enum { NBIG = 20000, TINY = 512 };

/* NBIG matches of the MIX rules over 40 users, three to a time slot (ties in input order), in
 * time order or shuffled. */
static mixev *big_events(int shuffle) {
    mixev *e = malloc(NBIG * sizeof *e);
    assert_non_null(e);
    uint32_t s = 777;
    for (int i = 0; i < NBIG; i++) {
        s = s * 1103515245u + 12345u;
        uint32_t r = s >> 8;
        e[i].rule = r & 1 ? "A" : "B";
        e[i].t = (i / 3) * 0.2;
        snprintf(e[i].user, sizeof e[i].user, "User=u%u", (r >> 1) % 40);
        snprintf(e[i].val, sizeof e[i].val, "Val=v%u", (r >> 7) % 6);
        snprintf(e[i].num, sizeof e[i].num, "Num=%u", (r >> 10) % 1000);
    }
    for (int i = NBIG - 1; shuffle && i > 0; i--) {
        s = s * 1103515245u + 12345u;
        int j = (int)((s >> 8) % (uint32_t)(i + 1));
        mixev t = e[i];
        e[i] = e[j], e[j] = t;
    }
    return e;
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

/* The same alerts with a tiny memory budget (dozens of runs on disk, merged in levels) as all
 * in memory, with input out of time order and with adds and flushes interleaved. */
static void spill_same_alerts(void **state) {
    (void)state;
    char dir[] = "/tmp/vaern-test-spill-XXXXXX";
    assert_non_null(mkdtemp(dir));
    va_correlate_opts all = {.memory = UINT64_MAX}, tiny = {.memory = TINY, .tmpdir = dir};
    for (int shuffle = 1; shuffle >= 0; shuffle--) {
        mixev *e = big_events(shuffle);
        fx ref, f;
        setup_opts(&ref, "A B", MIX, &all);
        for (int i = 0; i < NBIG; i++) mix_add(&ref, &e[i]);
        va_correlate_stats st;
        va_correlate_stats_get(ref.x, &st);
        assert_int_equal(st.spilled_runs, 0);
        assert_true(st.memory_peak > 100 * TINY);
        flush(&ref, INFINITY);
        assert_true(ref.nal > 100);

        setup_opts(&f, "A B", MIX, &tiny);
        if (shuffle) {
            for (int i = 0; i < NBIG; i++) mix_add(&f, &e[i]);
            va_correlate_stats_get(f.x, &st);
            assert_int_equal(st.buffered, NBIG);
            /* Runs are unlinked as soon as they are created. */
            assert_int_equal(dir_entries(dir), 0);
            flush(&f, INFINITY);
        } else {
            double p = 20;
            for (int i = 0; i < NBIG; i++) {
                while (e[i].t > p) flush(&f, p), p += 20;
                mix_add(&f, &e[i]);
            }
            flush(&f, INFINITY);
        }
        same_alerts(&f, &ref);
        va_correlate_stats_get(f.x, &st);
        if (shuffle) {
            /* Every TINY bytes a run; every FANIN runs of a level one of the next. */
            assert_true(st.spilled_runs > 3 * 16);
            assert_true(st.spill_merges >= 3);
        }
        assert_true(st.spilled_runs > 0);
        assert_true(st.spilled_bytes > 0);
        assert_true(st.memory_peak <= TINY + 256);
        assert_int_equal(st.spill_failed, 0);
        assert_int_equal(st.spill_lost, 0);
        assert_int_equal(st.buffered, 0);
        assert_int_equal(st.late, 0);
        assert_int_equal(f.ndiag, 0);
        teardown(&f);
        teardown(&ref);
        free(e);
    }
    assert_int_equal(dir_entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* A spill that cannot be written loses nothing: the matches stay in memory (reported once,
 * counted), and a merge that fails halfway puts its inputs back. */
static void spill_failure(void **state) {
    (void)state;
    mixev *e = big_events(1);
    fx ref, f;
    va_correlate_opts all = {.memory = UINT64_MAX};
    setup_opts(&ref, "A B", MIX, &all);
    for (int i = 0; i < NBIG; i++) mix_add(&ref, &e[i]);
    flush(&ref, INFINITY);

    /* No such directory: no run is ever written. */
    va_correlate_opts bad = {.memory = TINY, .tmpdir = "/nonexistent-vaern-dir"};
    setup_opts(&f, "A B", MIX, &bad);
    for (int i = 0; i < NBIG; i++) mix_add(&f, &e[i]);
    va_correlate_stats st;
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.spilled_runs, 0);
    assert_true(st.spill_failed >= 1);
    /* After a failure the next try waits until memory has doubled: a few tries, not one per
     * match. */
    assert_true(st.spill_failed < 40);
    assert_true(st.memory_peak > 100 * TINY);
    assert_int_equal(st.buffered, NBIG);
    assert_int_equal(f.ndiag, 1);
    assert_int_equal(f.dcode[0], VA_EIO);
    assert_non_null(strstr(f.dmsg[0], "/nonexistent-vaern-dir"));
    assert_non_null(strstr(f.dmsg[0], "stay in memory"));
    flush(&f, INFINITY);
    same_alerts(&f, &ref);
    teardown(&f);

    /* Files may not grow past 16 KiB (as on a nearly full disk): small runs are written, the
     * merges of bigger ones fail and are undone. */
    char dir[] = "/tmp/vaern-test-spill-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 16 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    va_correlate_opts full = {.memory = TINY, .tmpdir = dir};
    setup_opts(&f, "A B", MIX, &full);
    for (int i = 0; i < NBIG; i++) mix_add(&f, &e[i]);
    flush(&f, INFINITY);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    va_correlate_stats_get(f.x, &st);
    assert_true(st.spilled_runs > 16);
    assert_true(st.spill_merges >= 1);
    assert_true(st.spill_failed >= 1);
    assert_int_equal(st.spill_lost, 0);
    assert_int_equal(f.ndiag, 1);
    assert_int_equal(f.dcode[0], VA_EIO);
    assert_non_null(strstr(f.dmsg[0], "cannot merge spilled correlation inputs"));
    same_alerts(&f, &ref);
    teardown(&f);
    assert_int_equal(rmdir(dir), 0);
    teardown(&ref);
    free(e);
}

/* A run file that cannot be read back (truncated behind the engine's back, through
 * /proc/self/fd since runs are unlinked): reported as an error, its rest counted as lost, and
 * the other runs are still evaluated. */
static void spill_read_failure(void **state) {
    (void)state;
    char dir[] = "/tmp/vaern-test-spill-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mixev *e = big_events(1);
    fx f;
    va_correlate_opts tiny = {.memory = TINY, .tmpdir = dir};
    setup_opts(&f, "A B", MIX, &tiny);
    for (int i = 0; i < 2000; i++) mix_add(&f, &e[i]);
    va_correlate_stats st;
    va_correlate_stats_get(f.x, &st);
    assert_true(st.spilled_runs > 4);
    int cut = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d)) && !cut;) {
        char link[300], target[512];
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        if (!strstr(target, "vaern-correlate-") || !strstr(target, "(deleted)")) continue;
        int fd = atoi(de->d_name);
        off_t size = lseek(fd, 0, SEEK_END);
        cut = size > 64 && ftruncate(fd, size / 2) == 0;
    }
    closedir(d);
    assert_true(cut);
    flush(&f, INFINITY);
    va_correlate_stats_get(f.x, &st);
    assert_true(st.spill_lost > 0);
    assert_true(st.spill_lost < 2000);
    assert_int_equal(st.buffered, 0);
    assert_true(f.nal > 0);
    assert_int_equal(f.ndiag, 1);
    assert_int_equal(f.dcode[0], VA_EIO);
    assert_non_null(strstr(f.dmsg[0], "cannot read back spilled correlation inputs"));
    teardown(&f);
    free(e);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- correlations left out --------------------------------------------------------------- */

static int diag_has(const fx *f, va_err code, const char *text) {
    for (int i = 0; i < f->ndiag; i++)
        if (f->dcode[i] == code && strstr(f->dmsg[i], text)) return 1;
    return 0;
}

static void bad_correlations(void **state) {
    (void)state;
    fx f;
    load(&f, "ok only_bad",
         "title: F\nname: flt\nlogsource: {product: windows, service: security}\n"
         "filter: {rules: [ok], selection: {User: x}, condition: selection}\n"
         "---\n"
         "title: Unknown ref\n"
         "correlation: {type: event_count, rules: [nope], group-by: [User], timespan: 1m,"
         " condition: {gte: 2}}\n"
         "---\n"
         "title: Cycle one\nname: cyc1\n"
         "correlation: {type: temporal, rules: [cyc2, ok], group-by: [User], timespan: 1m}\n"
         "---\n"
         "title: Cycle two\nname: cyc2\n"
         "correlation: {type: temporal, rules: [cyc1], group-by: [User], timespan: 1m}\n"
         "---\n"
         "title: Self\nname: self\n"
         "correlation: {type: event_count, rules: [self], group-by: [User], timespan: 1m,"
         " condition: {gte: 2}}\n"
         "---\n"
         "title: Behind cycle\n"
         "correlation: {type: event_count, rules: [cyc1], group-by: [User], timespan: 1m,"
         " condition: {gte: 2}}\n"
         "---\n"
         "title: No group\n"
         "correlation: {type: event_count, rules: [only_bad], timespan: 1m, condition: {gte: 2}}\n"
         "---\n"
         "title: Sum\nname: sumname\n"
         "correlation: {type: value_sum, rules: [ok], group-by: [User], timespan: 1m,"
         " condition: {field: [Bytes, Packets], gt: 10}}\n"
         "---\n"
         "title: Uses left out\n"
         "correlation: {type: temporal, rules: [ok, sumname], group-by: [User], timespan: 1m}\n"
         "---\n"
         "title: Filter ref\n"
         "correlation: {type: event_count, rules: [flt], group-by: [User], timespan: 1m,"
         " condition: {gte: 2}}\n"
         "---\n"
         "title: No timespan\n"
         "correlation: {type: event_count, rules: [ok], group-by: [User], timespan: 1m,"
         " condition: {gte: 2}}\n"
         "---\n"
         "title: Good\n"
         "correlation: {type: event_count, rules: [ok], group-by: [User], timespan: 1m,"
         " condition: {gte: 2}}\n");
    /* The loader refuses a missing timespan itself; a hand-built rule can still lack one. */
    va_rule *nt = (va_rule *)rule(&f, "No timespan");
    nt->corr.timespan = NULL;
    nt->corr.timespan_s = 0;
    build(&f, 0);
    assert_int_equal(f.st.rules, 1);
    assert_int_equal(f.st.failed, 10);
    assert_int_equal(f.ndiag, 10);
    assert_true(diag_has(&f, VA_EFORMAT, "unknown rule 'nope'"));
    assert_true(diag_has(&f, VA_EFORMAT, "cycle (through 'cyc2')"));
    assert_true(diag_has(&f, VA_EFORMAT, "cycle (through 'cyc1')"));
    assert_true(diag_has(&f, VA_EFORMAT, "cycle (through 'self')"));
    assert_true(diag_has(&f, VA_EFORMAT, "needs group-by"));
    assert_true(
        diag_has(&f, VA_EFORMAT, "value_sum correlation takes one number field, not a list of 2"));
    assert_true(diag_has(&f, VA_EFORMAT, "'sumname', which was left out"));
    assert_true(diag_has(&f, VA_EUNSUPPORTED, "'flt' is a filter rule"));
    assert_true(diag_has(&f, VA_EFORMAT, "needs a timespan"));
    /* Reported in load order at the rule's line. */
    assert_string_equal(f.dmsg[0], "unknown rule 'nope' (neither an id nor a name)");
    assert_int_equal(f.dline[0], rule(&f, "Unknown ref")->line);
    /* Rules used only by correlations left out stay standalone. */
    assert_int_equal(va_correlate_referenced(f.x, rule(&f, "only_bad")), 0);
    assert_int_equal(va_correlate_standalone(f.x, rule(&f, "only_bad")), 1);
    assert_int_equal(va_correlate_referenced(f.x, rule(&f, "ok")), 1);
    ev(&f, "ok", 0, "User=alice", NULL);
    ev(&f, "ok", 1, "User=alice", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Good@1 first=0 n=2 User=alice");
    teardown(&f);

    /* No correlations at all is fine. */
    setup(&f, "ok",
          "title: Other\nlogsource: {product: windows}\n"
          "detection: {sel: {a: b}, condition: sel}\n");
    assert_int_equal(f.st.rules, 0);
    assert_int_equal(va_correlate_referenced(f.x, rule(&f, "ok")), 0);
    ev(&f, "ok", 0, "User=alice", NULL);
    flush(&f, INFINITY);
    EXPECT_NONE(&f);
    teardown(&f);
}

/* ---- bounds, untimed, late, stop, reentry ------------------------------------------------ */

static const char COUNT10[] = "title: Ten\n"
                              "correlation: {type: event_count, rules: [a], group-by: [User],"
                              " timespan: 1m, condition: {gte: 10}}\n";

static void state_bound(void **state) {
    (void)state;
    fx f;
    load(&f, "a", COUNT10);
    build(&f, 5);
    /* Waiting matches are never dropped, whatever the state bound. */
    for (int i = 0; i < 8; i++) ev(&f, "a", i, "User=alice", NULL);
    va_correlate_stats st;
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.state_dropped, 0);
    assert_int_equal(st.buffered, 8);
    assert_int_equal(f.ndiag, 0);
    flush(&f, 100);
    /* The eight reach one group: the group and four times fill the five state entries, so
     * the other four times are dropped at the state bound, reported once, naming the
     * correlation. */
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.state_dropped, 4);
    assert_int_equal(st.buffered, 0);
    assert_int_equal(f.ndiag, 1);
    assert_int_equal(f.dcode[0], VA_ELIMIT);
    assert_non_null(strstr(f.dmsg[0], "correlation 'Ten'"));
    teardown(&f);

    /* The state bound: each group costs one entry plus one per time held. */
    load(&f, "a", COUNT10);
    build(&f, 4);
    ev(&f, "a", 0, "User=u1", NULL);
    ev(&f, "a", 1, "User=u2", NULL);
    ev(&f, "a", 2, "User=u3", NULL); /* u1 and u2 hold 4 entries: no room for u3 */
    flush(&f, 10);
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.state_dropped, 1);
    /* A full flush releases all state; the same again is fine. */
    flush(&f, INFINITY);
    ev(&f, "a", 0, "User=u1", NULL);
    ev(&f, "a", 1, "User=u2", NULL);
    flush(&f, INFINITY);
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.state_dropped, 1);
    assert_int_equal(f.ndiag, 1);
    teardown(&f);

    /* Each correlation that meets the bound is named once. */
    load(&f, "a",
         "title: One\n"
         "correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m,"
         " condition: {gte: 10}}\n"
         "---\n"
         "title: Two\n"
         "correlation: {type: event_count, rules: [a], group-by: [Host], timespan: 1m,"
         " condition: {gte: 10}}\n");
    build(&f, 2);
    for (int i = 0; i < 6; i++) {
        char u[16], h[16];
        snprintf(u, sizeof u, "User=u%d", i);
        snprintf(h, sizeof h, "Host=h%d", i);
        ev(&f, "a", i, u, h, NULL);
    }
    flush(&f, INFINITY);
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.state_dropped, 11); /* one of twelve (match, correlation) pairs fit */
    assert_int_equal(f.ndiag, 2);
    /* One's first group takes both entries, so Two meets the bound first. */
    assert_non_null(strstr(f.dmsg[0], "correlation 'Two'"));
    assert_non_null(strstr(f.dmsg[1], "correlation 'One'"));
    teardown(&f);
}

static void untimed_late_and_reset(void **state) {
    (void)state;
    fx f;
    setup(&f, "a",
          "title: Two\n"
          "correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m,"
          " condition: {gte: 2}}\n");
    ev(&f, "a", NAN, "User=alice", NULL);
    ev(&f, "a", NAN, "User=alice", NULL);
    va_correlate_stats st;
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.untimed, 2);
    assert_int_equal(f.ndiag, 1);
    assert_int_equal(f.dcode[0], VA_EUNSUPPORTED);
    ev(&f, "a", 5, "User=alice", NULL);
    flush(&f, 10);
    ev(&f, "a", 10, "User=alice", NULL); /* at the horizon: too late */
    ev(&f, "a", 3, "User=alice", NULL);  /* before it */
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.late, 2);
    assert_int_equal(f.ndiag, 2);
    assert_int_equal(f.dcode[1], VA_EUSAGE);
    ev(&f, "a", 10.5, "User=alice", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Two@10.5 first=5 n=2 User=alice");
    /* After the end of a hunt any time is accepted again. */
    ev(&f, "a", 0, "User=bob", NULL);
    ev(&f, "a", 1, "User=bob", NULL);
    flush(&f, INFINITY);
    EXPECT(&f, "Two@10.5 first=5 n=2 User=alice", "Two@1 first=0 n=2 User=bob");
    va_correlate_stats_get(f.x, &st);
    assert_int_equal(st.late, 2);
    teardown(&f);
}

static void stop_and_reentry(void **state) {
    (void)state;
    fx f;
    setup(&f, "a",
          "title: Each\n"
          "correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m,"
          " condition: {gte: 1}}\n");
    for (int i = 0; i < 3; i++) ev(&f, "a", i, "User=alice", NULL);
    f.stop_at = 1;
    flush(&f, INFINITY);
    EXPECT(&f, "Each@0 first=0 n=1 User=alice");
    /* The rest stayed buffered. */
    f.stop_at = 0;
    f.reenter = 1;
    flush(&f, INFINITY);
    EXPECT(&f, "Each@0 first=0 n=1 User=alice", "Each@1 first=1 n=1 User=alice",
           "Each@2 first=2 n=1 User=alice");
    assert_int_equal(f.reenter_add, VA_EUSAGE);
    assert_int_equal(f.reenter_flush, VA_EUSAGE);
    teardown(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(event_count_sliding),
        cmocka_unit_test(event_count_groups),
        cmocka_unit_test(condition_operators),
        cmocka_unit_test(closed_window_lifecycle),
        cmocka_unit_test(value_count_distinct),
        cmocka_unit_test(temporal_any_order),
        cmocka_unit_test(temporal_ordered),
        cmocka_unit_test(value_sum),
        cmocka_unit_test(value_avg),
        cmocka_unit_test(value_percentile),
        cmocka_unit_test(metric_aliases),
        cmocka_unit_test(metric_helpers),
        cmocka_unit_test(aliases),
        cmocka_unit_test(generate_and_standalone),
        cmocka_unit_test(chaining),
        cmocka_unit_test(chaining_closed_window),
        cmocka_unit_test(alert_details),
        cmocka_unit_test(split_flush_and_replay),
        cmocka_unit_test(spill_same_alerts),
        cmocka_unit_test(spill_failure),
        cmocka_unit_test(spill_read_failure),
        cmocka_unit_test(bad_correlations),
        cmocka_unit_test(state_bound),
        cmocka_unit_test(untimed_late_and_reset),
        cmocka_unit_test(stop_and_reentry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
