/*
 * test_sigma_logsource.c - the logsource mapping: the built-in file loads, routes follow the
 * Sigma taxonomy, route matching on channel and event ID, and errors in edited files are
 * reported with their position.
 */
#include <setjmp.h>
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
    /* ETW-only sources never match an event log record. */
    r = va_logsource_routes(m, &a, "windows", "file_access", NULL, &n, &unknown);
    assert_int_equal(n, 1);
    assert_non_null(r[0].etw_provider);
    assert_false(matches(r, n, "Microsoft-Windows-Kernel-File", 10));
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
        cmocka_unit_test(default_mapping_routes),
        cmocka_unit_test(every_taxonomy_category_present),
        cmocka_unit_test(errors_have_positions),
        cmocka_unit_test(file_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
