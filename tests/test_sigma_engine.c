/*
 * test_sigma_engine.c - the Sigma engine end to end on inline rules and events: logsource
 * routing (channel, event ID, the 4688 route's renames), conditions over search identifiers,
 * keywords, repeated fields, null and absent fields, fieldref, and rules left out.
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

#include "test_rand.h"

#include "sigma/engine.h"
#include "sigma/placeholders.h"

typedef struct fx {
    va_arena a;
    va_rule_set set;
    va_logsource_map *map;
    va_engine *e;
    va_engine_stats st;
    va_engine_scratch *s;
} fx;

static void no_diag(void *ud, const va_diag *d) {
    (void)ud, (void)d;
}

/* Rules compiled against a mapping given as YAML (NULL: the built-in one). */
static void setup_rules_map(fx *x, const char *yaml, const char *map_yaml, int prefilter_off) {
    memset(x, 0, sizeof *x);
    va_arena_init(&x->a, 0);
    va_rule_stats rs = {0};
    assert_int_equal(va_rule_load_mem(&x->a, "t.yml", yaml, strlen(yaml), &x->set, NULL, NULL, &rs),
                     VA_OK);
    size_t len;
    const char *y = map_yaml ? map_yaml : va_logsource_default_yaml(&len);
    if (map_yaml) len = strlen(map_yaml);
    const char *err = NULL;
    assert_int_equal(va_logsource_load_mem(&x->a, "ls", y, len, &x->map, &err), VA_OK);
    va_engine_opts o = {.logsources = x->map, .prefilter_off = prefilter_off};
    assert_int_equal(va_engine_new(&x->set, &o, no_diag, NULL, &x->e, &x->st), VA_OK);
    assert_non_null(x->s = va_engine_scratch_new());
}

static void setup_rules(fx *x, const char *yaml) {
    setup_rules_map(x, yaml, NULL, 0);
}

static void teardown(fx *x) {
    va_engine_scratch_free(x->s);
    va_engine_free(x->e);
    va_arena_free(&x->a);
}

/* An event from "name=value" pairs; names ending in '#' are numbers (VA_V_UINT). */
static uint32_t run(fx *x, const char *const *kv, size_t n) {
    va_arena a;
    va_arena_init(&a, 0);
    va_event ev;
    va_event_init(&ev, &a);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        size_t nl = (size_t)(eq - kv[i]);
        int num = nl && kv[i][nl - 1] == '#';
        assert_int_equal(va_event_add_copy(&ev, kv[i], num ? nl - 1 : nl, eq + 1, strlen(eq + 1),
                                           num ? VA_V_UINT : VA_V_STR),
                         VA_OK);
    }
    va_event_finish(&ev);
    uint32_t hits = va_engine_match(x->e, x->s, &ev, NULL, NULL);
    va_arena_free(&a);
    return hits;
}

#define RUN(x, ...)                                                                                \
    run((x), (const char *const[]){__VA_ARGS__},                                                   \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static const char PROC_RULE[] = "title: Encoded PowerShell\n"
                                "id: 11111111-1111-1111-1111-111111111111\n"
                                "level: high\n"
                                "logsource: {product: windows, category: process_creation}\n"
                                "detection:\n"
                                "  selection:\n"
                                "    Image|endswith: '\\powershell.exe'\n"
                                "    CommandLine|contains: ' -enc '\n"
                                "  filter:\n"
                                "    ParentImage|endswith: '\\ccmexec.exe'\n"
                                "  condition: selection and not filter\n";

static void routes_and_renames(void **state) {
    (void)state;
    fx x;
    setup_rules(&x, PROC_RULE);
    assert_int_equal(x.st.rules, 1);
    /* Sysmon 1 */
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-Sysmon/Operational", "EventID#=1",
                         "Image=C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                         "CommandLine=powershell.exe -enc SQBFAFgA"),
                     1);
    /* Case-insensitive by default. */
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-Sysmon/Operational", "EventID#=1",
                         "Image=C:\\WINDOWS\\POWERSHELL.EXE", "CommandLine=X -ENC Y"),
                     1);
    /* The filter excludes. */
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-Sysmon/Operational", "EventID#=1",
                         "Image=C:\\powershell.exe", "CommandLine=x -enc y",
                         "ParentImage=C:\\Windows\\CCM\\CcmExec.exe"),
                     0);
    /* Security 4688 reads NewProcessName for Image. */
    assert_int_equal(RUN(&x, "Channel=Security", "EventID#=4688",
                         "NewProcessName=C:\\powershell.exe", "CommandLine=x -enc y"),
                     1);
    /* Same fields, wrong event ID or channel: the rule never sees the event. */
    assert_int_equal(RUN(&x, "Channel=Security", "EventID#=4624",
                         "NewProcessName=C:\\powershell.exe", "Image=C:\\powershell.exe",
                         "CommandLine=x -enc y"),
                     0);
    assert_int_equal(
        RUN(&x, "Channel=System", "EventID#=1", "Image=C:\\powershell.exe", "CommandLine=x -enc y"),
        0);
    teardown(&x);
}

static void conditions_keywords_and_fields(void **state) {
    (void)state;
    fx x;
    setup_rules(&x, "title: Of\n"
                    "logsource: {product: windows, service: security}\n"
                    "detection:\n"
                    "  sel_a: {EventID: 4625}\n"
                    "  sel_b: {EventID: 4771}\n"
                    "  user: {TargetUserName|startswith: adm}\n"
                    "  condition: 1 of sel_* and user\n"
                    "---\n"
                    "title: Keywords\n"
                    "logsource: {product: windows, service: system}\n"
                    "detection:\n"
                    "  keywords: ['*mimikatz*', 'procdump']\n"
                    "  condition: keywords\n"
                    "---\n"
                    "title: All values over a repeated field\n"
                    "logsource: {product: windows, service: application}\n"
                    "detection:\n"
                    "  sel: {Data|contains|all: [alpha, beta]}\n"
                    "  condition: sel\n"
                    "---\n"
                    "title: Null means absent\n"
                    "logsource: {product: windows, service: taskscheduler}\n"
                    "detection:\n"
                    "  sel: {EventID: 106, UserContext: null}\n"
                    "  condition: sel\n"
                    "---\n"
                    "title: Fieldref\n"
                    "logsource: {product: windows, service: wmi}\n"
                    "detection:\n"
                    "  sel: {User|fieldref: Owner}\n"
                    "  condition: sel\n");
    assert_int_equal(x.st.rules, 5);
    assert_int_equal(RUN(&x, "Channel=Security", "EventID#=4771", "TargetUserName=admin01"), 1);
    assert_int_equal(RUN(&x, "Channel=Security", "EventID#=4624", "TargetUserName=admin01"), 0);
    assert_int_equal(RUN(&x, "Channel=Security", "EventID#=4625", "TargetUserName=bob"), 0);
    assert_int_equal(RUN(&x, "Channel=System", "Data=ran MimiKatz.exe"), 1);
    assert_int_equal(RUN(&x, "Channel=System", "Data=procdump"), 1);
    /* A keyword is searched inside values (the whole message), wildcards or not. */
    assert_int_equal(RUN(&x, "Channel=System", "Data=procdump64 -ma lsass"), 1);
    assert_int_equal(RUN(&x, "Channel=System", "Data=proc dump"), 0);
    assert_int_equal(RUN(&x, "Channel=Application", "Data=alpha one", "Data=the beta"), 1);
    assert_int_equal(RUN(&x, "Channel=Application", "Data=alpha one", "Data=gamma"), 0);
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-TaskScheduler/Operational", "EventID#=106"),
                     1);
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-TaskScheduler/Operational", "EventID#=106",
                         "UserContext=CORP\\bob"),
                     0);
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-WMI-Activity/Operational", "User=CORP\\bob",
                         "Owner=corp\\bob"),
                     1);
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-WMI-Activity/Operational", "User=CORP\\bob",
                         "Owner=CORP\\eve"),
                     0);
    teardown(&x);
}

static void rules_left_out(void **state) {
    (void)state;
    fx x;
    setup_rules(&x, "title: Linux\n"
                    "logsource: {product: linux, service: auditd}\n"
                    "detection: {sel: {type: EXECVE}, condition: sel}\n"
                    "---\n"
                    "title: Unknown category\n"
                    "logsource: {product: windows, category: no_such_thing}\n"
                    "detection: {sel: {a: b}, condition: sel}\n"
                    "---\n"
                    "title: Bad regex\n"
                    "logsource: {product: windows, service: security}\n"
                    "detection: {sel: {CommandLine|re: '(unclosed'}, condition: sel}\n"
                    "---\n"
                    "title: Count\n"
                    "name: c1\n"
                    "correlation:\n"
                    "  type: event_count\n"
                    "  rules: [x]\n"
                    "  group-by: [User]\n"
                    "  timespan: 5m\n"
                    "  condition: {gte: 10}\n");
    assert_int_equal(x.st.rules, 0);
    assert_int_equal(x.st.unmapped, 2);
    assert_int_equal(x.st.failed, 1);
    assert_int_equal(x.st.unsupported, 0); /* correlations are correlate.h's */
    assert_int_equal(RUN(&x, "Channel=Security", "CommandLine=(unclosed"), 0);
    teardown(&x);
}

/* A filter rule drops hits of the rules it names, only where its condition holds and its
 * logsource admits the event, reading fields through the rule's route (4688 renames). */
static void filter_rules(void **state) {
    (void)state;
    fx x;
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "%s---\n"
             "title: Other\n"
             "id: 22222222-2222-2222-2222-222222222222\n"
             "logsource: {product: windows, category: process_creation}\n"
             "detection: {sel: {CommandLine|contains: ' -enc '}, condition: sel}\n"
             "---\n"
             "title: Admin accounts are fine\n"
             "logsource: {product: windows, category: process_creation}\n"
             "filter:\n"
             "  rules: [11111111-1111-1111-1111-111111111111, no-such-rule]\n"
             "  selection: {User|startswith: 'adm_', Image|endswith: '\\powershell.exe'}\n"
             "  condition: selection\n",
             PROC_RULE);
    setup_rules(&x, yaml);
    assert_int_equal(x.st.rules, 2);
    assert_int_equal(x.st.filters, 1);
    /* Both rules fire for a normal user. */
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-Sysmon/Operational", "EventID#=1",
                         "Image=C:\\powershell.exe", "CommandLine=x -enc y", "User=bob"),
                     2);
    /* adm_: the filtered rule is dropped, the other one still fires. */
    assert_int_equal(RUN(&x, "Channel=Microsoft-Windows-Sysmon/Operational", "EventID#=1",
                         "Image=C:\\powershell.exe", "CommandLine=x -enc y", "User=ADM_alice"),
                     1);
    /* On 4688 the filter reads Image and User (from the Subject) through the route too. */
    assert_int_equal(RUN(&x, "Channel=Security", "EventID#=4688",
                         "NewProcessName=C:\\powershell.exe", "CommandLine=x -enc y",
                         "SubjectUserName=adm_alice"),
                     1);
    assert_int_equal(RUN(&x, "Channel=Security", "EventID#=4688",
                         "NewProcessName=C:\\powershell.exe", "CommandLine=x -enc y",
                         "SubjectUserName=carol"),
                     2);
    teardown(&x);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The placeholder file for `expand`: strings and lists, empty entries unconfigured (the rule
 * is left out), errors with line and column. */
static void placeholders_file(void **state) {
    (void)state;
    char path[] = "/tmp/va_phXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "# sites\nAdmins_Workstations: ['ADM-PC*', JUMP01]\ndc: 10.1.0.10\nempty:\n");
    va_arena a;
    va_arena_init(&a, 0);
    va_value_placeholder *ph;
    size_t n;
    char err[256];
    assert_int_equal(va_placeholders_load_file(&a, path, &ph, &n, err, sizeof err), VA_OK);
    assert_int_equal(n, 3);
    assert_string_equal(ph[0].name, "Admins_Workstations");
    assert_int_equal(ph[0].nvals, 2);
    assert_string_equal(ph[0].vals[1], "JUMP01");
    assert_int_equal(ph[1].nvals, 1);
    assert_string_equal(ph[1].vals[0], "10.1.0.10");
    assert_int_equal(ph[2].nvals, 0);
    /* through the engine: the configured placeholder expands, the empty one leaves its rule out */
    fx x;
    memset(&x, 0, sizeof x);
    va_arena_init(&x.a, 0);
    static const char rules[] =
        "title: Admin PC\n"
        "logsource: {product: windows, service: security}\n"
        "detection: {sel: {Workstation|expand: '%Admins_Workstations%'}, "
        "condition: sel}\n"
        "---\n"
        "title: Unset\n"
        "logsource: {product: windows, service: security}\n"
        "detection: {sel: {Workstation|expand: '%empty%'}, condition: sel}\n";
    va_rule_stats rs = {0};
    assert_int_equal(va_rule_load_mem(&x.a, "t.yml", rules, strlen(rules), &x.set, NULL, NULL, &rs),
                     VA_OK);
    size_t len;
    const char *y = va_logsource_default_yaml(&len);
    const char *lerr = NULL;
    assert_int_equal(va_logsource_load_mem(&x.a, "ls", y, len, &x.map, &lerr), VA_OK);
    va_engine_opts o = {.logsources = x.map, .placeholders = ph, .nplaceholders = n};
    assert_int_equal(va_engine_new(&x.set, &o, no_diag, NULL, &x.e, &x.st), VA_OK);
    assert_non_null(x.s = va_engine_scratch_new());
    assert_int_equal(x.st.rules, 1);
    assert_int_equal(x.st.failed, 1);
    assert_int_equal(RUN(&x, "Channel=Security", "Workstation=adm-pc07"), 1);
    assert_int_equal(RUN(&x, "Channel=Security", "Workstation=JUMP02"), 0);
    teardown(&x);
    /* errors name the file, line and column */
    write_file(path, "ok: a\nbad: {x: y}\n");
    assert_int_equal(va_placeholders_load_file(&a, path, &ph, &n, err, sizeof err), VA_EFORMAT);
    assert_non_null(strstr(err, ":2:6: "));
    write_file(path, "a: [b\n");
    assert_int_equal(va_placeholders_load_file(&a, path, &ph, &n, err, sizeof err), VA_EFORMAT);
    assert_non_null(strstr(err, path));
    unlink(path);
    assert_int_equal(va_placeholders_load_file(&a, path, &ph, &n, err, sizeof err), VA_EIO);
    va_arena_free(&a);
}

/* ---- value conversions of a route (logsource.h) -------------------------------------------- */

static const char CONV_MAP[] =
    "windows:\n"
    "  categories:\n"
    "    process_creation:\n"
    "      - channels: [Security]\n"
    "        event_ids: [4688]\n"
    "        fields:\n"
    "          Image: NewProcessName\n"
    "          ProcessId: {field: NewProcessId, convert: hex}\n"
    "          IntegrityLevel: {field: MandatoryLabel, map: {S-1-16-12288: High, "
    "S-1-16-16384: System}}\n"
    "          User: {join: [SubjectDomainName, SubjectUserName], separator: '\\'}\n"
    "          TargetObject: {field: ObjectName, prefix: {'\\REGISTRY\\MACHINE': HKLM}}\n";

static const char *conv_rule(char *buf, size_t cap, const char *sel) {
    snprintf(buf, cap,
             "title: R\nlogsource: {product: windows, category: process_creation}\n"
             "detection:\n  sel: %s\n  condition: sel\n",
             sel);
    return buf;
}

static uint32_t conv_hits(const char *sel, const char *const *kv, size_t n, int pf_off) {
    char r[512];
    fx x;
    setup_rules_map(&x, conv_rule(r, sizeof r, sel), CONV_MAP, pf_off);
    assert_int_equal(x.st.rules, 1);
    uint32_t h = run(&x, kv, n);
    teardown(&x);
    return h;
}

#define CONV(sel, ...)                                                                             \
    (conv_hits(sel, (const char *const[]){__VA_ARGS__},                                            \
               sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), 0) +             \
     10 * conv_hits(sel, (const char *const[]){__VA_ARGS__},                                       \
                    sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), 1))

#define SEC "Channel=Security", "EventID#=4688"

static void route_conversions(void **state) {
    (void)state;
    /* Each result counts the prefilter-on hit once and the prefilter-off hit ten times: 11 is
     * a match in both modes, 0 none in either (the modes must never disagree). */
    assert_int_equal(CONV("{IntegrityLevel: High}", SEC, "MandatoryLabel=S-1-16-12288"), 11);
    assert_int_equal(CONV("{IntegrityLevel: high}", SEC, "MandatoryLabel=s-1-16-12288"), 11);
    assert_int_equal(CONV("{IntegrityLevel: High}", SEC, "MandatoryLabel=S-1-16-8192"), 0);
    /* A value the map does not know is read as it is. */
    assert_int_equal(CONV("{IntegrityLevel: S-1-16-8192}", SEC, "MandatoryLabel=S-1-16-8192"), 11);
    assert_int_equal(CONV("{IntegrityLevel|exists: false}", SEC, "Other=x"), 11);
    assert_int_equal(CONV("{IntegrityLevel|exists: true}", SEC, "MandatoryLabel=x"), 11);
    /* Hexadecimal process IDs as decimal: numbers and text operators alike. */
    assert_int_equal(CONV("{ProcessId: 420}", SEC, "NewProcessId=0x1a4"), 11);
    assert_int_equal(CONV("{ProcessId|startswith: '42'}", SEC, "NewProcessId=0x1a4"), 11);
    assert_int_equal(CONV("{ProcessId|startswith: '0x'}", SEC, "NewProcessId=0x1a4"), 0);
    assert_int_equal(CONV("{ProcessId: 'n/a'}", SEC, "NewProcessId=n/a"), 11);
    /* Joins of two fields; "-" and empty parts are left out. */
    assert_int_equal(CONV("{User|contains: 'AUTHORITY\\SYS'}", SEC,
                          "SubjectDomainName=NT AUTHORITY", "SubjectUserName=SYSTEM"),
                     11);
    assert_int_equal(CONV("{User: 'alice'}", SEC, "SubjectDomainName=-", "SubjectUserName=alice"),
                     11);
    assert_int_equal(CONV("{User: 'alice'}", SEC, "SubjectDomainName=", "SubjectUserName=alice"),
                     11);
    assert_int_equal(CONV("{User|exists: false}", SEC, "SubjectLogonId=0x3e7"), 11);
    /* Prefix replacement, ASCII case-insensitive on the prefix. */
    assert_int_equal(CONV("{TargetObject|startswith: 'HKLM\\SOFTWARE\\'}", SEC,
                          "ObjectName=\\REGISTRY\\MACHINE\\SOFTWARE\\Run"),
                     11);
    assert_int_equal(
        CONV("{TargetObject|startswith: 'HKLM\\'}", SEC, "ObjectName=\\registry\\machine\\x"), 11);
    assert_int_equal(
        CONV("{TargetObject|startswith: 'HKLM\\'}", SEC, "ObjectName=\\REGISTRY\\USER\\x"), 0);
    /* A rename and a conversion in one rule; fieldref reads the converted value too. */
    assert_int_equal(CONV("{Image|endswith: '\\cmd.exe', IntegrityLevel: System}", SEC,
                          "NewProcessName=C:\\Windows\\cmd.exe", "MandatoryLabel=S-1-16-16384"),
                     11);
    assert_int_equal(CONV("{ProcessId|fieldref: Other}", SEC, "NewProcessId=0x10", "Other=16"), 11);
}

/* The matched fields of a converted value are the event fields it was computed from. */
static int fields_cb(void *ud, const va_rule *r, const va_event *ev) {
    (void)r;
    void **a = ud;
    uint32_t idx[8];
    uint32_t n = va_engine_hit_fields(a[0], idx, 8);
    char *out = a[1];
    for (uint32_t i = 0; i < n && i < 8; i++) {
        strcat(out, ev->f[idx[i]].name);
        strcat(out, ";");
    }
    return 0;
}

static void route_conversion_hit_fields(void **state) {
    (void)state;
    char r[512];
    fx x;
    setup_rules_map(&x, conv_rule(r, sizeof r, "{User|contains: 'bob', IntegrityLevel: High}"),
                    CONV_MAP, 0);
    va_arena a;
    va_arena_init(&a, 0);
    va_event ev;
    va_event_init(&ev, &a);
    const char *kv[][2] = {{"Channel", "Security"},
                           {"EventID", "4688"},
                           {"SubjectUserName", "bob"},
                           {"SubjectDomainName", "CORP"},
                           {"MandatoryLabel", "S-1-16-12288"},
                           {"CommandLine", "x"}};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(va_event_add_copy(&ev, kv[i][0], strlen(kv[i][0]), kv[i][1],
                                           strlen(kv[i][1]), VA_V_STR),
                         VA_OK);
    va_event_finish(&ev);
    char names[256] = "";
    void *ud[2] = {x.s, names};
    assert_int_equal(va_engine_match(x.e, x.s, &ev, fields_cb, ud), 1);
    assert_string_equal(names, "SubjectUserName;SubjectDomainName;MandatoryLabel;");
    va_arena_free(&a);
    teardown(&x);
}

static void route_conversion_errors(void **state) {
    (void)state;
    static const char *const bad[] = {
        "{field: A, convert: oct}",
        "{join: []}",
        "{field: A, map: {a: b}, prefix: {c: d}}",
        "{map: {a: b}}",
        "{join: [A, B], field: C}",
        "{field: A, separator: x}",
        "{field: A, colour: red}",
        "[A, B]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char y[512];
        snprintf(y, sizeof y,
                 "windows:\n  categories:\n    process_creation:\n      - channels: [Security]\n"
                 "        fields:\n          X: %s\n",
                 bad[i]);
        va_arena a;
        va_arena_init(&a, 0);
        va_logsource_map *m = NULL;
        const char *err = NULL;
        assert_int_equal(va_logsource_load_mem(&a, "m.yml", y, strlen(y), &m, &err), VA_EFORMAT);
        assert_non_null(err);
        assert_non_null(strstr(err, "m.yml:6:"));
        va_arena_free(&a);
    }
}

/* ---- a regular expression that PCRE2 gives up on never hides a match ------------------------ */

typedef struct undecided_seen {
    va_engine_scratch *s;
    int hits, undecided;
    char field[64];
} undecided_seen;

static int undecided_cb(void *ud, const va_rule *r, const va_event *ev) {
    (void)r, (void)ev;
    undecided_seen *u = ud;
    u->hits++;
    const char *f = va_engine_hit_undecided(u->s);
    if (f) {
        u->undecided++;
        snprintf(u->field, sizeof u->field, "%s", f);
    }
    return 0;
}

/* Hits and undecided hits of the rule with this detection on one Sysmon 1 event with
 * CommandLine = cl and Image = img. */
static undecided_seen undecided_run(const char *detection, const char *cl, const char *img,
                                    int pf_off) {
    char r[1024];
    snprintf(r, sizeof r,
             "title: R\nlogsource: {product: windows, category: process_creation}\n"
             "detection:\n%s",
             detection);
    fx x;
    setup_rules_map(&x, r, NULL, pf_off);
    assert_int_equal(x.st.rules, 1);
    va_arena a;
    va_arena_init(&a, 0);
    va_event ev;
    va_event_init(&ev, &a);
    const char *kv[][2] = {{"Channel", "Microsoft-Windows-Sysmon/Operational"},
                           {"EventID", "1"},
                           {"CommandLine", cl},
                           {"Image", img}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(va_event_add_copy(&ev, kv[i][0], strlen(kv[i][0]), kv[i][1],
                                           strlen(kv[i][1]), VA_V_STR),
                         VA_OK);
    va_event_finish(&ev);
    undecided_seen u = {x.s, 0, 0, ""};
    va_engine_match(x.e, x.s, &ev, undecided_cb, &u);
    va_arena_free(&a);
    teardown(&x);
    return u;
}

static void regex_limit_is_undecided(void **state) {
    (void)state;
    /* 30 a's then a non-b: (a+)+b backtracks exponentially at the start and PCRE2 stops at its
     * match limit before it reaches the real match "ab" at the end. */
    char pad[128];
    snprintf(pad, sizeof pad, "%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaac ab");
    for (int pf_off = 0; pf_off < 2; pf_off++) {
        undecided_seen u = undecided_run("  sel: {CommandLine|re: '(a+)+b'}\n  condition: sel\n",
                                         pad, "C:\\x.exe", pf_off);
        assert_int_equal(u.hits, 1);
        assert_int_equal(u.undecided, 1);
        assert_string_equal(u.field, "CommandLine");
        /* Decided values stay decided: a plain match and a plain non-match. */
        u = undecided_run("  sel: {CommandLine|re: '(a+)+b'}\n  condition: sel\n", "xx aab", "i",
                          pf_off);
        assert_int_equal(u.hits, 1);
        assert_int_equal(u.undecided, 0);
        u = undecided_run("  sel: {CommandLine|re: '(a+)+b'}\n  condition: sel\n", "xx c", "i",
                          pf_off);
        assert_int_equal(u.hits, 0);
        /* Under `not` the limit also raises the alert, undecided (not U is U). */
        u = undecided_run("  sel: {CommandLine|re: '(a+)+b'}\n  condition: not sel\n", pad, "i",
                          pf_off);
        assert_int_equal(u.hits, 1);
        assert_int_equal(u.undecided, 1);
        /* false and U is false: another selection that does not match decides. */
        u = undecided_run(
            "  sel: {CommandLine|re: '(a+)+b'}\n  img: {Image|endswith: '\\evil.exe'}\n"
            "  condition: sel and img\n",
            pad, "C:\\good.exe", pf_off);
        assert_int_equal(u.hits, 0);
        /* true or U is true: decided, not undecided. */
        u = undecided_run(
            "  sel: {CommandLine|re: '(a+)+b'}\n  img: {Image|endswith: '\\evil.exe'}\n"
            "  condition: sel or img\n",
            pad, "C:\\evil.exe", pf_off);
        assert_int_equal(u.hits, 1);
        assert_int_equal(u.undecided, 0);
        /* 1 of with one U and no true: undecided. */
        u = undecided_run(
            "  sel: {CommandLine|re: '(a+)+b'}\n  img: {Image|endswith: '\\evil.exe'}\n"
            "  condition: 1 of them\n",
            pad, "C:\\good.exe", pf_off);
        assert_int_equal(u.hits, 1);
        assert_int_equal(u.undecided, 1);
    }
}

/* Events of many field-name shapes in turn (more than a scratch keeps), the same names in
 * other orders, names of the same length that differ in one byte: one scratch for all gives
 * what a fresh scratch per event gives, and what the rule says. */
static const char SHAPE_RULE[] = "title: Admin logon failure from one host\n"
                                 "id: 33333333-1111-1111-1111-111111111111\n"
                                 "logsource: {product: windows, service: security}\n"
                                 "detection:\n"
                                 "  s:\n"
                                 "    EventID: 4625\n"
                                 "    TargetUserName|contains: admin\n"
                                 "    IpAddress: 10.0.0.1\n"
                                 "  condition: s\n";

static void field_shapes(void **state) {
    (void)state;
    fx x;
    setup_rules(&x, SHAPE_RULE);
    static const char *const names[] = {"TargetUserName", "TargetUserNamf",  "IpAddress",
                                        "IpAddresz",      "WorkstationName", "LogonType"};
    static const char *const vals[] = {"xadminx", "10.0.0.1", "nobody", "10.0.0.2"};
    uint64_t seed = 42;
    for (int round = 0; round < 3000; round++) {
        va_arena a;
        va_arena_init(&a, 0);
        va_event ev;
        va_event_init(&ev, &a);
        assert_int_equal(va_event_add_copy(&ev, "Channel", 7, "Security", 8, VA_V_STR), VA_OK);
        assert_int_equal(va_event_add_copy(&ev, "EventID", 7, "4625", 4, VA_V_UINT), VA_OK);
        int has_user = 0, has_ip = 0;
        unsigned nf = 1 + (unsigned)(test_rand_next(&seed) >> 60) % 5;
        for (unsigned k = 0; k < nf; k++) {
            test_rand_next(&seed);
            const char *nm = names[(seed >> 33) % 6];
            const char *v = vals[(seed >> 45) % 4];
            /* the rule reads the first of repeated names (any of them matching is a match) */
            if (!strcmp(nm, "TargetUserName") && strstr(v, "admin")) has_user = 1;
            if (!strcmp(nm, "IpAddress") && !strcmp(v, "10.0.0.1")) has_ip = 1;
            assert_int_equal(va_event_add_copy(&ev, nm, strlen(nm), v, strlen(v), VA_V_STR), VA_OK);
        }
        va_event_finish(&ev);
        uint32_t shared = va_engine_match(x.e, x.s, &ev, NULL, NULL);
        va_engine_scratch *fresh = va_engine_scratch_new();
        assert_non_null(fresh);
        uint32_t alone = va_engine_match(x.e, fresh, &ev, NULL, NULL);
        va_engine_scratch_free(fresh);
        if (shared != alone || shared != (uint32_t)(has_user && has_ip))
            fail_msg("round %d: shared scratch %u, fresh %u, expected %d", round, shared, alone,
                     has_user && has_ip);
        va_arena_free(&a);
    }
    teardown(&x);
}

/* One scratch for an engine, then for another made after the first was freed (often at the
 * same address) with many more literals: the scratch's tables are made again for it. */
static void scratch_outlives_engine(void **state) {
    (void)state;
    fx x, y;
    setup_rules(&x, SHAPE_RULE);
    assert_int_equal(
        RUN(&x, "Channel=Security", "EventID#=4625", "TargetUserName=admin", "IpAddress=10.0.0.1"),
        1);
    va_buf big;
    va_buf_init(&big);
    va_buf_puts(&big, "title: Many literals\nid: 44444444-1111-1111-1111-111111111111\n"
                      "logsource: {product: windows, service: security}\n"
                      "detection:\n  s:\n    TargetUserName|contains:\n");
    for (int k = 0; k < 2000; k++) {
        char line[64];
        snprintf(line, sizeof line, "      - 'user%05dname'\n", k);
        va_buf_puts(&big, line);
    }
    va_buf_puts(&big, "  condition: s\n");
    assert_false(big.oom);
    setup_rules(&y, big.p);
    /* The second engine made just after the first is freed: malloc then tends to give it
     * the first one's address, which the scratch still holds. */
    va_engine *old = x.e;
    va_engine_free(y.e);
    va_engine_free(x.e);
    va_engine_opts o = {.logsources = y.map};
    assert_int_equal(va_engine_new(&y.set, &o, no_diag, NULL, &y.e, &y.st), VA_OK);
    if (y.e != old) print_message("(the new engine is not at the old address this time)\n");
    va_engine_scratch_free(y.s);
    y.s = x.s; /* the first engine's scratch */
    x.s = NULL, x.e = NULL;
    assert_int_equal(RUN(&y, "Channel=Security", "EventID#=4625", "TargetUserName=xuser01999namex"),
                     1);
    assert_int_equal(RUN(&y, "Channel=Security", "EventID#=4625", "TargetUserName=user02000name"),
                     0);
    va_buf_free(&big);
    teardown(&x);
    teardown(&y);
}

/* Diagnostics as text, in order. */
static void diag_to_buf(void *ud, const va_diag *d) {
    va_buf *b = ud;
    char line[600];
    snprintf(line, sizeof line, "%s:%lld: %d %s\n", d->file ? d->file : "", (long long)d->unit,
             (int)d->code, d->msg);
    va_buf_puts(b, line);
}

/* The rules of YAML stream y and the built-in logsource mapping, into a (the caller frees
 * a). */
static void load_set(va_arena *a, const va_buf *y, va_rule_set *set, va_logsource_map **map) {
    va_rule_stats rs = {0};
    assert_int_equal(va_rule_load_mem(a, "t.yml", y->p, y->len, set, NULL, NULL, &rs), VA_OK);
    size_t len;
    const char *m = va_logsource_default_yaml(&len), *err = NULL;
    assert_int_equal(va_logsource_load_mem(a, "ls", m, len, map, &err), VA_OK);
}

/* The hits of e on a Sysmon process creation event with field f1 = v1 and, unless f2 is NULL,
 * f2 = v2. */
static uint32_t match_sysmon1(const va_engine *e, va_engine_scratch *sc, const char *f1,
                              const char *v1, const char *f2, const char *v2) {
    va_arena ea;
    va_arena_init(&ea, 0);
    va_event ev;
    va_event_init(&ev, &ea);
    va_event_add_copy(&ev, "Channel", 7, "Microsoft-Windows-Sysmon/Operational", 36, VA_V_STR);
    va_event_add_copy(&ev, "EventID", 7, "1", 1, VA_V_UINT);
    va_event_add_copy(&ev, f1, strlen(f1), v1, strlen(v1), VA_V_STR);
    if (f2) va_event_add_copy(&ev, f2, strlen(f2), v2, strlen(v2), VA_V_STR);
    va_event_finish(&ev);
    uint32_t hits = va_engine_match(e, sc, &ev, NULL, NULL);
    va_arena_free(&ea);
    return hits;
}

/* Rules compiled by several threads: the same rules kept, in the same order, the same
 * reports in the same order and the same counts as by one; a rule that fails after one of its
 * regular expressions compiled leaves nothing behind (the sanitizer build checks for leaks). */
static void compile_threads_same(void **state) {
    (void)state;
    va_buf y;
    va_buf_init(&y);
    for (int k = 0; k < 300; k++) {
        char r[700];
        const char *det;
        switch (k % 6) {
        case 0:
            det = "{s: {CommandLine|re: 'a[0-9]+b', Image|re: '(unclosed'}, condition: s}";
            break;
        case 1:
            det = "{s: {CommandLine|contains: 'x%03d'}, condition: s}";
            break;
        case 2:
            det = "{s: {CommandLine|re: 'r%03d[a-z]'}, condition: s}";
            break;
        case 3:
            det = "{s: {CommandLine|nosuchmod: 'z'}, condition: s}";
            break;
        case 4:
            det = "{s: {Image|endswith: 'e%03d.exe'}, condition: s}";
            break;
        default:
            det = "{s: {CommandLine|contains: 'w%03d'}, condition: s}";
            break;
        }
        char d[300];
        snprintf(d, sizeof d, det, k);
        snprintf(r, sizeof r,
                 "title: R%d\nid: 00000000-0000-0000-0000-%012d\n"
                 "logsource: {product: windows, category: %s}\ndetection: %s\n---\n",
                 k, k, k % 25 == 7 ? "no_such_category" : "process_creation", d);
        va_buf_puts(&y, r);
    }
    va_buf_puts(&y, "title: F\nlogsource: {product: windows, category: process_creation}\n"
                    "filter:\n  rules: [00000000-0000-0000-0000-000000000001]\n"
                    "  selection: {User: bob}\n  condition: selection\n");
    assert_false(y.oom);
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_logsource_map *map;
    load_set(&a, &y, &set, &map);
    va_buf out[2];
    va_engine *e[2];
    va_engine_stats st[2];
    for (int t = 0; t < 2; t++) {
        va_buf_init(&out[t]);
        va_engine_opts o = {.logsources = map, .threads = t ? 4 : 1};
        assert_int_equal(va_engine_new(&set, &o, diag_to_buf, &out[t], &e[t], &st[t]), VA_OK);
    }
    assert_int_equal(st[0].rules, st[1].rules);
    assert_int_equal(st[0].filters, 1);
    assert_int_equal(st[1].filters, 1);
    assert_int_equal(st[0].failed, st[1].failed);
    assert_int_equal(st[0].unmapped, st[1].unmapped);
    assert_int_equal(st[0].unsupported, st[1].unsupported);
    assert_int_equal(st[0].failed, 48);      /* the unclosed group */
    assert_int_equal(st[0].unsupported, 48); /* the unknown modifier */
    assert_int_equal(st[0].unmapped, 12);
    assert_int_equal(out[0].len, out[1].len);
    assert_memory_equal(out[0].p, out[1].p, out[0].len);
    va_engine_scratch *sc = va_engine_scratch_new();
    assert_non_null(sc);
    static const char *const cl[] = {"x001", "r002q", "x013", "e004.exe", "w005", "zzz"};
    for (int c = 0; c < 6; c++) {
        uint32_t hits[2];
        for (int t = 0; t < 2; t++) {
            hits[t] = match_sysmon1(e[t], sc, "CommandLine", cl[c], "Image", cl[c]);
        }
        assert_int_equal(hits[0], hits[1]);
        assert_int_equal(hits[0], c < 5 ? 1u : 0u);
    }
    va_engine_scratch_free(sc);
    for (int t = 0; t < 2; t++) {
        va_engine_free(e[t]);
        va_buf_free(&out[t]);
    }
    va_buf_free(&y);
    va_arena_free(&a);
}

/* Scan groups' databases built on several threads: fields with hundreds of literals get
 * groups of their own; the engine keeps the same literals and finds the same rules whether one
 * thread or four built the databases, with or without the cache, and the cache written by
 * four threads serves a later build whole. */
static void prefilter_groups_threads(void **state) {
    (void)state;
    va_buf y;
    va_buf_init(&y);
    for (int k = 0; k < 1300; k++) {
        char r[400], d[200];
        if (k < 600)
            snprintf(d, sizeof d, "{s: {CommandLine|contains: 'cmd%04d'}, condition: s}", k);
        else if (k < 1200)
            snprintf(d, sizeof d, "{s: {Image|endswith: 'img%04d.exe'}, condition: s}", k);
        else if (k < 1250)
            snprintf(d, sizeof d, "{s: {User|contains: 'usr%04d'}, condition: s}", k);
        else
            snprintf(d, sizeof d, "{k: ['kw%04d'], condition: k}", k);
        snprintf(r, sizeof r,
                 "title: R%d\nlogsource: {product: windows, category: process_creation}\n"
                 "detection: %s\n---\n",
                 k, d);
        va_buf_puts(&y, r);
    }
    assert_false(y.oom);
    va_arena a;
    va_arena_init(&a, 0);
    va_rule_set set = {0};
    va_logsource_map *map;
    load_set(&a, &y, &set, &map);
    char cache[] = "/tmp/va_pf_groupsXXXXXX";
    assert_non_null(mkdtemp(cache));
    /* threads, cache: one thread without; four writing the cache; four and one reading it */
    static const int threads[4] = {1, 4, 4, 1};
    static const int cached[4] = {0, 0, 1, 1};
    va_engine *e[4];
    va_engine_stats st[4];
    for (int i = 0; i < 4; i++) {
        va_engine_opts o = {
            .logsources = map, .threads = threads[i], .cache_dir = i ? cache : NULL};
        assert_int_equal(va_engine_new(&set, &o, NULL, NULL, &e[i], &st[i]), VA_OK);
        assert_int_equal(st[i].rules, 1300);
        assert_int_equal(st[i].literals, st[0].literals);
        assert_int_equal(st[i].prefiltered, 1300);
        assert_int_equal(st[i].cached, cached[i]);
    }
    assert_true(st[0].literals >= 1300);
    va_engine_scratch *sc = va_engine_scratch_new();
    assert_non_null(sc);
    static const char *const cl[] = {"a cmd0007 b", "x\\img0655.exe", "usr1203", "kw1277", "none"};
    for (int c = 0; c < 5; c++) {
        for (int i = 0; i < 4; i++) {
            const char *f = c == 0 || c == 3 || c == 4 ? "CommandLine" : c == 1 ? "Image" : "User";
            assert_int_equal(match_sysmon1(e[i], sc, f, cl[c], NULL, NULL), c < 4 ? 1u : 0u);
        }
    }
    va_engine_scratch_free(sc);
    for (int i = 0; i < 4; i++) va_engine_free(e[i]);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '^prefilter-.*\\.hsdb$'", cache);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    unsigned n = 0;
    assert_int_equal(fscanf(f, "%u", &n), 1);
    pclose(f);
    /* CommandLine and Image with groups of their own, User in the shared one, the keywords'
     * in the group of the fields no literal is pinned to: one database each */
    assert_int_equal(n, 4);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    assert_int_equal(system(cmd), 0);
    va_buf_free(&y);
    va_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_and_renames),
        cmocka_unit_test(conditions_keywords_and_fields),
        cmocka_unit_test(rules_left_out),
        cmocka_unit_test(filter_rules),
        cmocka_unit_test(placeholders_file),
        cmocka_unit_test(route_conversions),
        cmocka_unit_test(route_conversion_hit_fields),
        cmocka_unit_test(route_conversion_errors),
        cmocka_unit_test(regex_limit_is_undecided),
        cmocka_unit_test(field_shapes),
        cmocka_unit_test(scratch_outlives_engine),
        cmocka_unit_test(compile_threads_same),
        cmocka_unit_test(prefilter_groups_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
