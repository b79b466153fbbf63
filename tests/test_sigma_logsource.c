/*
 * test_sigma_logsource.c - the logsource mapping: the built-in file loads, routes follow the
 * Sigma taxonomy, route matching on channel and event ID, the value conversions of a route
 * (va_logsource_convert on values given by hand), route conditions, and errors in edited files
 * are reported with their position.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sigma/logsource.h"

static va_logsource_map *load_default(va_arena *a) {
    size_t len;
    const char *y = va_logsource_default_yaml(&len);
    const char *err = NULL;
    va_logsource_map *m = NULL;
    assert_int_equal(va_logsource_load_mem(a, "logsources.yml", y, len, &m, &err), VA_OK);
    assert_non_null(m);
    return m;
}

static int matches(const va_logsource_route *r, uint32_t n, const char *channel, int64_t id) {
    for (uint32_t i = 0; i < n; i++)
        if (va_logsource_route_matches(&r[i], channel, strlen(channel), id)) return 1;
    return 0;
}

static void default_mapping_routes(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_logsource_map *m = load_default(&a);
    uint32_t n;
    const char *unknown;
    /* process_creation: Sysmon 1, and Security 4688 with its field renames. */
    va_logsource_route *r =
        va_logsource_routes(m, &a, "windows", "process_creation", NULL, &n, &unknown);
    assert_int_equal(n, 2);
    assert_true(matches(r, n, "Microsoft-Windows-Sysmon/Operational", 1));
    assert_true(matches(r, n, "microsoft-windows-sysmon/operational", 1)); /* case-insensitive */
    assert_true(matches(r, n, "Security", 4688));
    assert_false(matches(r, n, "Security", 4624));
    assert_false(matches(r, n, "Microsoft-Windows-Sysmon/Operational", 3));
    int renames = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t f = 0; f < r[i].nfields; f++)
            if (!strcmp(r[i].fields[f].name, "Image") &&
                !strcmp(r[i].fields[f].field, "NewProcessName"))
                renames++;
    assert_int_equal(renames, 1);
    /* Services are channels with any event ID. */
    r = va_logsource_routes(m, &a, "windows", NULL, "security", &n, &unknown);
    assert_int_equal(n, 1);
    assert_true(matches(r, n, "Security", 4625));
    assert_false(matches(r, n, "System", 7045));
    /* Multi-channel categories from the taxonomy. */
    r = va_logsource_routes(m, &a, "windows", "ps_script", NULL, &n, &unknown);
    assert_true(matches(r, n, "Microsoft-Windows-PowerShell/Operational", 4104));
    assert_true(matches(r, n, "PowerShellCore/Operational", 4104));
    assert_false(matches(r, n, "Microsoft-Windows-PowerShell/Operational", 4103));
    r = va_logsource_routes(m, &a, "windows", "registry_event", NULL, &n, &unknown);
    assert_true(matches(r, n, "Microsoft-Windows-Sysmon/Operational", 14));
    /* Category and service: the category restricted to the service's channels. */
    r = va_logsource_routes(m, &a, "windows", "process_creation", "sysmon", &n, &unknown);
    assert_int_equal(n, 1);
    assert_true(matches(r, n, "Microsoft-Windows-Sysmon/Operational", 1));
    assert_false(matches(r, n, "Security", 4688));
    /* Product alone: every event of the product. */
    r = va_logsource_routes(m, &a, "windows", NULL, NULL, &n, &unknown);
    assert_int_equal(n, 1);
    assert_true(matches(r, n, "Anything", 12345));
    /* ETW-only sources never match an event log record; file_access also reads Security 4663
     * on files (a route with conditions). */
    r = va_logsource_routes(m, &a, "windows", "file_access", NULL, &n, &unknown);
    assert_int_equal(n, 2);
    assert_non_null(r[0].etw_provider);
    assert_false(matches(r, 1, "Microsoft-Windows-Kernel-File", 10));
    assert_true(matches(r, n, "Security", 4663));
    assert_non_null(r[1].test);
    /* Every Security route of a Sysmon category, with its event IDs. */
    static const struct {
        const char *cat;
        int64_t id;
        int conditioned;
    } sec[] = {{"process_creation", 4688, 0},   {"process_termination", 4689, 0},
               {"network_connection", 5156, 0}, {"process_access", 4656, 1},
               {"file_access", 4663, 1},        {"file_delete", 4663, 1},
               {"registry_event", 4657, 0},     {"registry_set", 4657, 1},
               {"registry_delete", 4657, 1}};
    for (size_t i = 0; i < sizeof sec / sizeof sec[0]; i++) {
        r = va_logsource_routes(m, &a, "windows", sec[i].cat, NULL, &n, &unknown);
        const va_logsource_route *hit = NULL;
        for (uint32_t k = 0; k < n; k++)
            if (va_logsource_route_matches(&r[k], "Security", 8, sec[i].id)) hit = &r[k];
        if (!hit) fail_msg("%s: no Security %d route", sec[i].cat, (int)sec[i].id);
        assert_int_equal(!!hit->test, sec[i].conditioned);
        assert_false(matches(r, n, "Security", 4624));
    }
    /* Categories Security cannot stand in for keep their Sysmon route alone. */
    static const char *const sysmon_only[] = {"file_event", "registry_add", "image_load",
                                              "dns_query", "create_remote_thread"};
    for (size_t i = 0; i < sizeof sysmon_only / sizeof sysmon_only[0]; i++) {
        r = va_logsource_routes(m, &a, "windows", sysmon_only[i], NULL, &n, &unknown);
        assert_int_equal(n, 1);
        assert_string_equal(r[0].channels[0], "Microsoft-Windows-Sysmon/Operational");
    }
    /* Sysmon 12 is a creation or a deletion: its EventType decides. */
    r = va_logsource_routes(m, &a, "windows", "registry_add", NULL, &n, &unknown);
    assert_non_null(r[0].test);
    /* Unknown names are named. */
    r = va_logsource_routes(m, &a, "windows", "no_such_category", NULL, &n, &unknown);
    assert_int_equal(n, 0);
    assert_string_equal(unknown, "no_such_category");
    r = va_logsource_routes(m, &a, "linux", NULL, "auditd", &n, &unknown);
    assert_int_equal(n, 0);
    assert_string_equal(unknown, "auditd");
    va_arena_free(&a);
}

static void every_taxonomy_category_present(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_logsource_map *m = load_default(&a);
    /* Windows categories and services the SigmaHQ rule set uses most (from the taxonomy). */
    static const char *cats[] = {"process_creation", "registry_set", "file_event",
                                 "ps_script",        "image_load",   "network_connection",
                                 "registry_event",   "ps_module",    "process_access",
                                 "dns_query",        "pipe_created", "create_remote_thread",
                                 "driver_load",      "wmi_event",    "ps_classic_start"};
    static const char *svcs[] = {"security",      "system",      "application",
                                 "windefend",     "sysmon",      "powershell",
                                 "taskscheduler", "bits-client", "wmi"};
    uint32_t n;
    const char *unknown;
    for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++) {
        va_logsource_routes(m, &a, "windows", cats[i], NULL, &n, &unknown);
        assert_true(n >= 1);
    }
    for (size_t i = 0; i < sizeof svcs / sizeof svcs[0]; i++) {
        va_logsource_routes(m, &a, "windows", NULL, svcs[i], &n, &unknown);
        assert_true(n >= 1);
    }
    va_arena_free(&a);
}

static void errors_have_positions(void **state) {
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"windows:\n  categories:\n    x:\n      - channel: [\"Security\"]\n",
         "t.yml:4:9: unknown key in a route"},
        {"windows:\n  categories:\n    x:\n      - event_ids: [\"four\"]\n",
         "t.yml:4:20: event IDs are integers"},
        {"windows:\n  kinds:\n    x: []\n", "t.yml:2:3: expected categories or services"},
        {"windows:\n  services:\n    x: {channels: [a]}\n", "t.yml:3:8: expected a list of routes"},
        {"- a\n- b\n", "t.yml:1:1: expected a map of products"},
        {"windows: [\n", "t.yml:2:1: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        va_arena a;
        va_arena_init(&a, 0);
        va_logsource_map *m = (va_logsource_map *)1;
        const char *err = NULL;
        va_err e =
            va_logsource_load_mem(&a, "t.yml", cases[i].yaml, strlen(cases[i].yaml), &m, &err);
        assert_int_equal(e, VA_EFORMAT);
        assert_null(m);
        assert_non_null(err);
        if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: got '%s', want prefix '%s'", i, err, cases[i].want);
        va_arena_free(&a);
    }
}

/* ---- conversions ------------------------------------------------------------------------- */

static const char CONV_YAML[] =
    "windows:\n"
    "  categories:\n"
    "    c:\n"
    "      - channels: [Security]\n"
    "        fields:\n"
    "          Plain: Other\n"
    "          Pid: {field: NewProcessId, convert: hex}\n"
    "          Details: {field: NewValue, convert: dword}\n"
    "          Level: {field: Label, map: {S-1-16-12288: High, '': Empty}}\n"
    "          Key: {field: ObjectName, prefix: {'\\REGISTRY\\MACHINE\\': 'HKLM\\'}}\n"
    "          Who: {join: [Domain, Name], separator: '\\'}\n"
    "          Target:\n"
    "            join:\n"
    "              - {field: ObjectName, prefix: {'\\REGISTRY\\MACHINE\\': 'HKLM\\'}}\n"
    "              - {field: ValueName, map: {'': '(Default)'}}\n"
    "            separator: '\\'\n"
    "          User:\n"
    "            first:\n"
    "              - {field: TargetSid, map: &sids {S-1-5-18: 'NT AUTHORITY\\SYSTEM'}}\n"
    "              - {join: [TargetDomain, TargetName], separator: '\\'}\n"
    "              - {field: SubjectSid, map: *sids}\n"
    "              - {join: [SubjectDomain, SubjectName], separator: '\\'}\n"
    "          LogonId: {first: [TargetLogonId, SubjectLogonId], skip: ['', '-', '0x0']}\n"
    "          Value: {field: NewValue, when: {NewValueType: ['%%1873', '%%1874']}}\n"
    "          Data:\n"
    "            first:\n"
    "              - {field: NewValue, convert: dword, when: {NewValueType: '%%1876'}}\n"
    "              - {field: NewValue, when: {NewValueType: ['%%1873', '%%1874']}}\n";

/* The value rule field name reads from an event given as "Name=value" strings (no '=': the
 * field is absent), or "(absent)". */
static void conv(const char *name, const char *want, ...) {
    va_arena a;
    va_arena_init(&a, 0);
    va_logsource_map *m = NULL;
    const char *err = NULL;
    if (va_logsource_load_mem(&a, "c.yml", CONV_YAML, strlen(CONV_YAML), &m, &err))
        fail_msg("load: %s", err);
    const va_logsource_route *r = &m->sources[0].routes[0];
    const va_logsource_field *f = va_logsource_field_of(r, name, strlen(name));
    assert_non_null(f);
    assert_int_not_equal(f->conv, VA_LOGSOURCE_RENAME);
    assert_true(f->nparts >= 1 && f->nparts <= VA_LOGSOURCE_MAX_PARTS);
    const char *val[VA_LOGSOURCE_MAX_PARTS] = {0};
    uint32_t len[VA_LOGSOURCE_MAX_PARTS] = {0};
    va_list ap;
    va_start(ap, want);
    for (const char *kv; (kv = va_arg(ap, const char *));) {
        const char *eq = strchr(kv, '=');
        assert_non_null(eq);
        for (uint32_t i = 0; i < f->nparts; i++)
            if (strlen(f->parts[i]) == (size_t)(eq - kv) && !strncmp(f->parts[i], kv, eq - kv))
                val[i] = eq + 1, len[i] = (uint32_t)strlen(eq + 1);
    }
    va_end(ap);
    va_buf out;
    va_buf_init(&out);
    va_buf_puts(&out, "<"); /* the result is appended after what the buffer holds */
    int got = va_logsource_convert(f, val, len, &out);
    const char *res = got ? out.p + 1 : "(absent)";
    if (!got && out.len != 1) fail_msg("%s: nothing to append, but the buffer grew", name);
    if (strcmp(res, want)) fail_msg("%s: got '%s', want '%s'", name, res, want);
    va_buf_free(&out);
    va_arena_free(&a);
}

static void conversions(void **state) {
    (void)state;
    conv("Pid", "420", "NewProcessId=0x1a4", NULL);
    conv("Pid", "n/a", "NewProcessId=n/a", NULL); /* not recognised: as it is */
    conv("Pid", "(absent)", "Other=1", NULL);
    /* REG_DWORD as Sysmon writes it; what is not a 32-bit decimal stays as it is. */
    conv("Details", "DWORD (0x00000441)", "NewValue=1089", NULL);
    conv("Details", "DWORD (0xffffffff)", "NewValue=4294967295", NULL);
    conv("Details", "4294967296", "NewValue=4294967296", NULL);
    conv("Details", "0x1", "NewValue=0x1", NULL);
    conv("Level", "High", "Label=s-1-16-12288", NULL);
    conv("Level", "S-1-16-8192", "Label=S-1-16-8192", NULL);
    conv("Level", "Empty", "Label=", NULL);
    conv("Key", "HKLM\\SOFTWARE\\Run", "ObjectName=\\REGISTRY\\MACHINE\\SOFTWARE\\Run", NULL);
    conv("Key", "\\REGISTRY\\USER\\S-1-5-21", "ObjectName=\\REGISTRY\\USER\\S-1-5-21", NULL);
    /* Joins leave out absent, empty and "-" parts. */
    conv("Who", "CORP\\bob", "Domain=CORP", "Name=bob", NULL);
    conv("Who", "bob", "Domain=-", "Name=bob", NULL);
    conv("Who", "", "Domain=-", "Name=-", NULL);
    conv("Who", "(absent)", "Other=x", NULL);
    /* A join of conversions: the registry key and value name as Sysmon's TargetObject. */
    conv("Target", "HKLM\\SOFTWARE\\Run\\evil", "ObjectName=\\REGISTRY\\MACHINE\\SOFTWARE\\Run",
         "ValueName=evil", NULL);
    conv("Target", "HKLM\\SOFTWARE\\Run\\(Default)",
         "ObjectName=\\REGISTRY\\MACHINE\\SOFTWARE\\Run", "ValueName=", NULL);
    /* first: the new process's account when 4688 names one, else the creator's; well-known
     * SIDs by their Sysmon names. */
    conv("User", "OFFSEC\\admmig", "TargetSid=S-1-0-0", "TargetDomain=OFFSEC", "TargetName=admmig",
         "SubjectSid=S-1-5-18", "SubjectDomain=OFFSEC", "SubjectName=FS03$", NULL);
    conv("User", "NT AUTHORITY\\SYSTEM", "TargetSid=S-1-0-0", "TargetDomain=-", "TargetName=-",
         "SubjectSid=S-1-5-18", "SubjectDomain=OFFSEC", "SubjectName=FS03$", NULL);
    conv("User", "NT AUTHORITY\\SYSTEM", "TargetSid=S-1-5-18", "TargetDomain=OFFSEC",
         "TargetName=FS03$", "SubjectSid=S-1-5-21-1", "SubjectDomain=OFFSEC", "SubjectName=bob",
         NULL);
    conv("User", "OFFSEC\\bob", "TargetSid=S-1-0-0", "TargetDomain=-", "TargetName=-",
         "SubjectSid=S-1-5-21-1", "SubjectDomain=OFFSEC", "SubjectName=bob", NULL);
    /* Version 0 of 4688 has no Target fields; a join with a part left out is no answer to
     * `first` but is what the last item, the default, reads. */
    conv("User", "OFFSEC\\bob", "SubjectSid=S-1-5-21-1", "SubjectDomain=OFFSEC", "SubjectName=bob",
         NULL);
    conv("User", "OFFSEC", "TargetDomain=OFFSEC", "TargetName=-", "SubjectDomain=OFFSEC",
         "SubjectName=-", NULL);
    conv("User", "(absent)", "Other=x", NULL);
    /* skip: values that mean "none". */
    conv("LogonId", "0x3e7", "TargetLogonId=0x0", "SubjectLogonId=0x3e7", NULL);
    conv("LogonId", "0x41a6996", "TargetLogonId=0x41a6996", "SubjectLogonId=0x3e7", NULL);
    conv("LogonId", "0x3e7", "SubjectLogonId=0x3e7", NULL);
    conv("LogonId", "(absent)", "TargetLogonId=0x0", NULL); /* the default has no source */
    /* when: the value only where the conditions hold. */
    conv("Value", "C:\\x.exe", "NewValueType=%%1873", "NewValue=C:\\x.exe", NULL);
    conv("Value", "(absent)", "NewValueType=%%1876", "NewValue=1", NULL);
    conv("Value", "(absent)", "NewValue=C:\\x.exe", NULL);
    conv("Data", "DWORD (0x00000001)", "NewValueType=%%1876", "NewValue=1", NULL);
    conv("Data", "C:\\x.exe", "NewValueType=%%1874", "NewValue=C:\\x.exe", NULL);
    conv("Data", "(absent)", "NewValueType=%%1875", "NewValue=00 01", NULL);
}

static const char TEST_YAML[] =
    "windows:\n"
    "  categories:\n"
    "    registry_add:\n"
    "      - channels: [Microsoft-Windows-Sysmon/Operational]\n"
    "        event_ids: [12]\n"
    "        conditions: {EventType: CreateKey}\n"
    "    registry_delete:\n"
    "      - channels: [Microsoft-Windows-Sysmon/Operational]\n"
    "        event_ids: [12]\n"
    "        conditions: {EventType: [DeleteKey, DeleteValue]}\n"
    "      - channels: [Security]\n"
    "        event_ids: [4657]\n"
    "        conditions: {OperationType: '%%1906', ObjectServer: Security}\n";

static int admits(const va_logsource_route *r, const char *k1, const char *v1, const char *k2,
                  const char *v2) {
    const char *val[VA_LOGSOURCE_MAX_PARTS] = {0};
    uint32_t len[VA_LOGSOURCE_MAX_PARTS] = {0};
    for (uint32_t i = 0; i < r->test->nparts; i++) {
        if (k1 && !strcmp(r->test->parts[i], k1)) val[i] = v1, len[i] = (uint32_t)strlen(v1);
        if (k2 && !strcmp(r->test->parts[i], k2)) val[i] = v2, len[i] = (uint32_t)strlen(v2);
    }
    va_buf out;
    va_buf_init(&out);
    int got = va_logsource_convert(r->test, val, len, &out);
    va_buf_free(&out);
    return got;
}

static void route_conditions(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_logsource_map *m = NULL;
    const char *err = NULL;
    if (va_logsource_load_mem(&a, "t.yml", TEST_YAML, strlen(TEST_YAML), &m, &err))
        fail_msg("load: %s", err);
    uint32_t n;
    const char *unknown;
    va_logsource_route *r =
        va_logsource_routes(m, &a, "windows", "registry_add", NULL, &n, &unknown);
    assert_int_equal(n, 1);
    assert_non_null(r[0].test);
    assert_true(admits(&r[0], "EventType", "CreateKey", NULL, NULL));
    assert_true(admits(&r[0], "EventType", "createkey", NULL, NULL));
    assert_false(admits(&r[0], "EventType", "DeleteKey", NULL, NULL));
    assert_false(admits(&r[0], "Other", "CreateKey", NULL, NULL));
    r = va_logsource_routes(m, &a, "windows", "registry_delete", NULL, &n, &unknown);
    assert_int_equal(n, 2);
    assert_true(admits(&r[0], "EventType", "DeleteValue", NULL, NULL));
    assert_true(admits(&r[1], "OperationType", "%%1906", "ObjectServer", "Security"));
    assert_false(admits(&r[1], "OperationType", "%%1906", NULL, NULL)); /* all must hold */
    assert_false(admits(&r[1], "OperationType", "%%1905", "ObjectServer", "Security"));
    va_arena_free(&a);
}

static void conversion_and_condition_errors(void **state) {
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"          X: {field: A, convert: oct}\n", "c.yml:6:34: convert takes hex or dword"},
        {"          X: {first: []}\n", "c.yml:6:22: expected at least one field"},
        {"          X: {first: [A], field: B}\n", "c.yml:6:14: join and first name"},
        {"          X: {field: A, skip: ['-']}\n", "c.yml:6:31: skip goes with first"},
        {"          X: {first: [A], separator: x}\n", "c.yml:6:14: separator goes with join"},
        {"          X: {field: A, when: []}\n", "c.yml:6:31: conditions are a map"},
        {"          X: {field: A, when: {B: []}}\n", "c.yml:6:35: a condition needs"},
        {"          X: {first: [A, {join: [B, C]}], map: {a: b}}\n", "c.yml:6:14: one conversion"},
        {"          X: {join: [A, B, C, D, E, F, G, H, I]}\n",
         "c.yml:6:46: a rule field reads at most 8"},
        {"          X: {first: [{first: [{first: [{first: [{first: [A]}]}]}]}]}\n",
         "c.yml:6:59: conversions nest at most 4 deep"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char y[512];
        snprintf(y, sizeof y,
                 "windows:\n  categories:\n    process_creation:\n      - channels: [Security]\n"
                 "        fields:\n%s",
                 cases[i].yaml);
        va_arena a;
        va_arena_init(&a, 0);
        va_logsource_map *m = NULL;
        const char *err = NULL;
        assert_int_equal(va_logsource_load_mem(&a, "c.yml", y, strlen(y), &m, &err), VA_EFORMAT);
        if (!err || strncmp(err, cases[i].want, strlen(cases[i].want)))
            fail_msg("case %zu: got '%s', want prefix '%s'", i, err ? err : "", cases[i].want);
        va_arena_free(&a);
    }
    /* A route with conditions must be its source's only route for a channel and event ID: the
     * engine picks one route per event by those alone. */
    static const char *const overlap[] = {
        "    c:\n      - channels: [Security]\n        event_ids: [4657]\n"
        "      - channels: [security]\n        event_ids: [4657, 4663]\n"
        "        conditions: {OperationType: '%%1906'}\n",
        "    c:\n      - channels: [Security]\n        event_ids: [4657]\n"
        "        conditions: {OperationType: '%%1906'}\n"
        "      - channels: [Security]\n",
    };
    for (size_t i = 0; i < sizeof overlap / sizeof overlap[0]; i++) {
        char y[512];
        snprintf(y, sizeof y, "windows:\n  categories:\n%s", overlap[i]);
        va_arena a;
        va_arena_init(&a, 0);
        va_logsource_map *m = NULL;
        const char *err = NULL;
        assert_int_equal(va_logsource_load_mem(&a, "o.yml", y, strlen(y), &m, &err), VA_EFORMAT);
        if (!err || !strstr(err, "the one at line 4 select the same channel"))
            fail_msg("overlap %zu: got '%s'", i, err ? err : "");
        va_arena_free(&a);
    }
    /* Different event IDs, or a route on another channel, do not overlap. */
    static const char ok[] = "windows:\n  categories:\n    c:\n"
                             "      - channels: [Security]\n        event_ids: [4657]\n"
                             "        conditions: {OperationType: '%%1906'}\n"
                             "      - channels: [Security]\n        event_ids: [4663]\n"
                             "      - channels: [System]\n";
    va_arena a;
    va_arena_init(&a, 0);
    va_logsource_map *m = NULL;
    const char *err = NULL;
    if (va_logsource_load_mem(&a, "ok.yml", ok, strlen(ok), &m, &err)) fail_msg("%s", err);
    va_arena_free(&a);
}

static void file_not_found(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 0);
    va_logsource_map *m;
    const char *err = NULL;
    assert_int_equal(va_logsource_load_file(&a, "/nonexistent/logsources.yml", &m, &err), VA_EIO);
    assert_non_null(strstr(err, "/nonexistent/logsources.yml"));
    va_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_mapping_routes), cmocka_unit_test(every_taxonomy_category_present),
        cmocka_unit_test(errors_have_positions),  cmocka_unit_test(conversions),
        cmocka_unit_test(route_conditions),       cmocka_unit_test(conversion_and_condition_errors),
        cmocka_unit_test(file_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
