/*
 * test_evtx.c - unit tests of the EVTX reader (src/evtx) over files made by the test writer
 * (tests/helpers/evtx_writer).
 *
 * Covered: the writer itself (checked against the format's constants, so the fixtures mean
 * what they claim), the XML rendering and the flat event for every token and value type,
 * array expansion, optional substitutions, embedded binary XML, every kind of damage (reported
 * with the right code and place, counted, and the rest of the file still read), ignore_crc,
 * the file API, stopping early, and the multithreaded reader against the single-threaded one.
 * Expected outputs come from the format (MS-EVEN6, libevtx's documentation and evtxexport's
 * output for the same input where it reads it), never from running the reader under test;
 * only the JSON test compares two of the library's own paths (per chunk and per file set).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "evtx/evtx.h"
#include "evtx/flat.h"
#include "evtx_writer.h"

#define N(a)    (sizeof(a) / sizeof((a)[0]))
#define BASE(k) ((int64_t)VT_HEADER_SIZE + (int64_t)(k)*VT_CHUNK_SIZE)

/* ---- collecting what the reader delivers ---- */

typedef struct fcopy {
    char *name, *val;
    uint8_t type;
} fcopy;

/* A record as delivered, copied out of the callback (its memory is only lent). */
typedef struct rcopy {
    char *path;
    uint64_t id, written, off;
    uint32_t chunk;
    char *xml, *json; /* NULL unless asked for */
    fcopy *f;
    uint32_t nf;
    int64_t event_id, time_ns;
    uint64_t record_id;
    char *provider, *channel, *computer; /* values of the event's direct facts, or NULL */
} rcopy;

typedef struct dcopy {
    va_severity sev;
    va_err code;
    char *file;
    int64_t unit, off;
    char *msg;
} dcopy;

typedef struct fdone {
    char *path;
    va_evtx_stats st;
    va_err err;
} fdone;

typedef struct run {
    rcopy *r;
    size_t n, cap;
    dcopy *d;
    size_t nd, capd;
    fdone *fd;
    size_t nfd, capfd;
    va_evtx_stats st;
    va_err open_err;
    int dirty;
    size_t stop_after; /* the record callback asks to stop after this many (0: never) */
} run;

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    assert_non_null(d);
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char *dups(const char *s) {
    return s ? dupn(s, strlen(s)) : NULL;
}

static void *grow(void *p, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return p;
    size_t c = *cap ? *cap * 2 : 16;
    void *q = realloc(p, c * elem);
    assert_non_null(q);
    *cap = c;
    return q;
}

static int on_rec(void *ud, const va_evtx_rec *r) {
    run *x = ud;
    x->r = grow(x->r, &x->cap, x->n, sizeof *x->r);
    rcopy *c = &x->r[x->n++];
    memset(c, 0, sizeof *c);
    c->id = r->record_id, c->written = r->written, c->off = r->file_offset, c->chunk = r->chunk;
    if (r->xml) c->xml = dupn(r->xml, r->xml_len);
    if (r->json) c->json = dupn(r->json, r->json_len);
    if (r->ev) {
        const va_event *ev = r->ev;
        c->nf = ev->n;
        c->f = calloc(ev->n ? ev->n : 1, sizeof *c->f);
        assert_non_null(c->f);
        for (uint32_t i = 0; i < ev->n; i++) {
            c->f[i].name = dupn(ev->f[i].name, ev->f[i].nlen);
            c->f[i].val = dupn(ev->f[i].val, ev->f[i].vlen);
            c->f[i].type = ev->f[i].type;
        }
        c->event_id = ev->event_id, c->time_ns = ev->time_ns, c->record_id = ev->record_id;
        if (ev->provider) c->provider = dups(ev->provider->val);
        if (ev->channel) c->channel = dups(ev->channel->val);
        if (ev->computer) c->computer = dups(ev->computer->val);
        c->path = dups(ev->src.path);
    }
    return x->stop_after && x->n >= x->stop_after;
}

static void on_diag(void *ud, const va_diag *d) {
    run *x = ud;
    x->d = grow(x->d, &x->capd, x->nd, sizeof *x->d);
    dcopy *c = &x->d[x->nd++];
    c->sev = d->sev, c->code = d->code, c->unit = d->unit_no, c->off = d->offset;
    c->file = dups(d->file);
    c->msg = dups(d->msg);
}

static void on_file(void *ud, const char *path, const va_evtx_stats *st, va_err err) {
    run *x = ud;
    x->fd = grow(x->fd, &x->capfd, x->nfd, sizeof *x->fd);
    fdone *c = &x->fd[x->nfd++];
    c->path = dups(path), c->st = *st, c->err = err;
}

static void run_free(run *x) {
    for (size_t i = 0; i < x->n; i++) {
        rcopy *c = &x->r[i];
        for (uint32_t k = 0; k < c->nf; k++) free(c->f[k].name), free(c->f[k].val);
        free(c->f), free(c->xml), free(c->json), free(c->path);
        free(c->provider), free(c->channel), free(c->computer);
    }
    for (size_t i = 0; i < x->nd; i++) free(x->d[i].file), free(x->d[i].msg);
    for (size_t i = 0; i < x->nfd; i++) free(x->fd[i].path);
    free(x->r), free(x->d), free(x->fd);
    memset(x, 0, sizeof *x);
}

static const va_evtx_opts OPTS_ALL = {.want_xml = 1, .want_event = 1, .threads = 1};

/* Open an image in memory and parse every chunk slot with va_evtx_chunk_parse; fresh: with a
 * new parse context for each chunk, so that nothing learnt in one chunk is used in the next. */
static void parse_img_ctx(run *x, const uint8_t *img, size_t len, const va_evtx_opts *o,
                          int fresh) {
    va_evtx_file *f = NULL;
    x->open_err = va_evtx_open_mem("mem.evtx", img, len, on_diag, x, &f);
    if (x->open_err) return;
    x->dirty = va_evtx_dirty(f);
    va_evtx_ctx *c = va_evtx_ctx_new();
    assert_non_null(c);
    for (uint32_t i = 0; i < va_evtx_nchunks(f); i++) {
        if (fresh && i) {
            va_evtx_ctx_free(c);
            assert_non_null(c = va_evtx_ctx_new());
        }
        if (va_evtx_chunk_parse(f, i, o ? o : &OPTS_ALL, c, &x->st, on_rec, x)) break;
    }
    va_evtx_ctx_free(c);
    va_evtx_close(f);
}

static void parse_img(run *x, const uint8_t *img, size_t len, const va_evtx_opts *o) {
    parse_img_ctx(x, img, len, o, 0);
}

static const char *fval(const rcopy *r, const char *name) {
    for (uint32_t i = 0; i < r->nf; i++)
        if (!strcmp(r->f[i].name, name)) return r->f[i].val;
    return NULL;
}

typedef struct xfield {
    const char *name, *val;
    va_vtype type;
} xfield;

/* The event's fields are exactly e[0..n), in order. */
static void expect_fields(const rcopy *r, const xfield *e, size_t n) {
    for (size_t i = 0; i < n && i < r->nf; i++) {
        if (strcmp(r->f[i].name, e[i].name) || strcmp(r->f[i].val, e[i].val) ||
            r->f[i].type != e[i].type)
            fail_msg("field %zu: got %s=\"%s\" (type %d), expected %s=\"%s\" (type %d)", i,
                     r->f[i].name, r->f[i].val, r->f[i].type, e[i].name, e[i].val, e[i].type);
    }
    if (r->nf != n) {
        for (uint32_t i = 0; i < r->nf; i++)
            print_message("  got %s=\"%s\"\n", r->f[i].name, r->f[i].val);
        fail_msg("%u fields, expected %zu", r->nf, n);
    }
}

/* The part of xml from the line holding open to the end of the line holding close. */
static char *xml_part(const char *xml, const char *open, const char *close) {
    const char *a = strstr(xml, open);
    assert_non_null(a);
    while (a > xml && a[-1] != '\n') a--;
    const char *b = strstr(a, close);
    assert_non_null(b);
    b = strchr(b, '\n');
    assert_non_null(b);
    return dupn(a, (size_t)(b + 1 - a));
}

/* ---- building test files ---- */

static const vt_sysdef SEC = {"Microsoft-Windows-Security-Auditing",
                              "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Security",
                              "dc01.corp.example", 0};

static vt_evtx *mem_writer(void) {
    vt_evtx_opts o = {NULL, 0, -1, 0};
    vt_evtx *w = vt_evtx_new(&o);
    assert_non_null(w);
    return w;
}

static void finish_parse(vt_evtx *w, run *x, const va_evtx_opts *o) {
    uint8_t *img;
    size_t len;
    assert_int_equal(vt_evtx_finish(w, &img, &len), 0);
    vt_evtx_free(w);
    parse_img(x, img, len, o);
    free(img);
}

/* One record whose body is the fragment f. */
static void one_frag(run *x, const vt_frag *f) {
    vt_evtx *w = mem_writer();
    assert_int_equal(vt_evtx_add(w, vt_filetime(2024, 1, 2, 3, 4, 5, 0), f, NULL), 0);
    finish_parse(w, x, NULL);
    assert_int_equal(x->open_err, VA_OK);
    assert_int_equal(x->nd, 0);
    assert_int_equal(x->n, 1);
}

/* One Security-shaped event: payload template t with values v, System values s. */
static void one_event(run *x, const vt_sysdef *def, const vt_sysvals *s, const vt_tmpl *t,
                      const vt_val *v, size_t n) {
    vt_tmpl *ev = vt_tmpl_event(def);
    vt_frag *pl = vt_frag_new();
    assert_non_null(ev);
    assert_non_null(pl);
    vt_tinst(pl, t, v, n);
    vt_val sv[VT_SYS_NVALS];
    vt_sysvals_fill(sv, s, vt_v_binxml(pl));
    vt_evtx *w = mem_writer();
    assert_int_equal(vt_evtx_add_tinst(w, s->time, ev, sv, VT_SYS_NVALS, NULL), 0);
    finish_parse(w, x, NULL);
    vt_frag_free(pl);
    vt_tmpl_free(ev);
    assert_int_equal(x->open_err, VA_OK);
    assert_int_equal(x->n, 1);
}

/* ---- the writer against the format ---- */

static uint16_t get16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint64_t get64(const uint8_t *p) {
    return vt_get32(p) | (uint64_t)vt_get32(p + 4) << 32;
}

static void test_writer_layout(void **state) {
    (void)state;
    /* The standard check value of CRC-32/ISO-HDLC, and FILETIME's epoch. */
    assert_int_equal(vt_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_true(vt_filetime(1970, 1, 1, 0, 0, 0, 0) == 116444736000000000ull);
    assert_true(vt_filetime(1601, 1, 1, 0, 0, 0, 7) == 7);
    assert_true(vt_filetime(2000, 3, 1, 0, 0, 1, 0) - vt_filetime(2000, 2, 28, 0, 0, 0, 0) ==
                (2 * 86400ull + 1) * 10000000ull);

    const char *names[] = {"User"};
    const uint8_t types[] = {VT_T_STRING};
    vt_tmpl *t = vt_tmpl_data(names, types, 1, NULL, NULL);
    assert_non_null(t);
    vt_evtx *w = mem_writer();
    vt_rec_info a, b;
    vt_val v1 = vt_v_str("alice"), v2 = vt_v_str("bob");
    assert_int_equal(vt_evtx_add_tinst(w, 111, t, &v1, 1, &a), 0);
    assert_int_equal(vt_evtx_add_tinst(w, 222, t, &v2, 1, &b), 0);
    uint8_t *img;
    size_t len;
    assert_int_equal(vt_evtx_finish(w, &img, &len), 0);
    vt_evtx_free(w);

    assert_int_equal(len, VT_HEADER_SIZE + VT_CHUNK_SIZE);
    assert_memory_equal(img, "ElfFile\0", 8);
    assert_int_equal(vt_get32(img + 32), 128);
    assert_int_equal(get16(img + 36), 1); /* minor version */
    assert_int_equal(get16(img + 38), 3); /* major version */
    assert_int_equal(get16(img + 40), 4096);
    assert_int_equal(get16(img + 42), 1);
    assert_int_equal(get64(img + 24), 3); /* next record id */
    assert_int_equal(vt_get32(img + 124), vt_crc32(0, img, 120));

    const uint8_t *ck = img + VT_HEADER_SIZE;
    assert_memory_equal(ck, "ElfChnk\0", 8);
    assert_int_equal(get64(ck + 8), 1);
    assert_int_equal(get64(ck + 16), 2);
    assert_int_equal(get64(ck + 24), 1);
    assert_int_equal(get64(ck + 32), 2);
    assert_int_equal(vt_get32(ck + 40), 128);
    assert_int_equal(vt_get32(ck + 44), b.off);
    assert_int_equal(vt_get32(ck + 48), b.off + b.size);
    assert_int_equal(vt_get32(ck + 52), vt_crc32(0, ck + 512, b.off + b.size - 512));
    assert_int_equal(vt_get32(ck + 124), vt_crc32(vt_crc32(0, ck, 120), ck + 128, 384));

    /* Records: signature, size and its copy, id, written time; 8-byte aligned. */
    assert_int_equal(a.off, 512);
    assert_int_equal(b.off, a.off + a.size);
    assert_int_equal(a.size % 8, 0);
    for (int k = 0; k < 2; k++) {
        const vt_rec_info *r = k ? &b : &a;
        const uint8_t *p = ck + r->off;
        assert_memory_equal(p, "**\0\0", 4);
        assert_int_equal(vt_get32(p + 4), r->size);
        assert_int_equal(vt_get32(p + r->size - 4), r->size);
        assert_int_equal(get64(p + 8), k + 1);
        assert_int_equal(get64(p + 16), k ? 222 : 111);
        assert_memory_equal(p + 24, "\x0f\x01\x01\x00\x0c", 5);
    }
    /* The first instance carries the definition inline (its offset points just past itself),
     * the second refers to the same definition and carries only its values. */
    uint32_t def = vt_get32(ck + a.off + 24 + 4 + 6);
    assert_int_equal(def, a.off + 24 + 4 + 10);
    assert_memory_equal(ck + def + 4, t->guid, 16);
    assert_int_equal(vt_get32(ck + b.off + 24 + 4 + 6), def);
    assert_true(b.size < a.size / 2);
    /* The name "User" is stored once, inline, hashed into the string table. */
    const uint8_t *nm = ck + a.name_off;
    assert_int_equal(get16(nm + 6), 9); /* "EventData" comes first */
    assert_memory_equal(nm + 8, "E\0v\0e\0n\0t\0D\0a\0t\0a\0\0\0", 20);
    uint32_t hash = 0;
    for (const char *c = "EventData"; *c; c++) hash = hash * 65599u + (uint8_t)*c;
    assert_int_equal(get16(nm + 4), hash & 0xffff);
    /* Each name hangs off bucket hash % 64 of the table, chained through its first field. */
    int linked = 0;
    for (uint32_t o = vt_get32(ck + 128 + 4 * ((hash & 0xffff) % 64)), hops = 0;
         o && hops < 1000 && !linked; o = vt_get32(ck + o), hops++)
        linked = o == a.name_off;
    assert_true(linked);
    free(img);

    /* A record that cannot fit any chunk is refused, and the writer stays usable. */
    uint8_t *huge = calloc(1, 70000);
    assert_non_null(huge);
    vt_val hv = vt_v_bin(huge, 70000);
    w = mem_writer();
    assert_int_equal(vt_evtx_add_tinst(w, 1, t, &hv, 1, NULL), -1);
    free(huge);
    assert_int_equal(vt_evtx_add_tinst(w, 1, t, &v1, 1, &a), 0);
    assert_int_equal(a.id, 1);
    assert_int_equal(vt_evtx_finish(w, &img, &len), 0);
    vt_evtx_free(w);
    free(img);
    vt_tmpl_free(t);
}

/* ---- a whole event: XML and flat fields ---- */

static void test_event_security(void **state) {
    (void)state;
    const char *names[] = {"SubjectUserSid", "TargetUserName", "LogonType", "IpAddress",
                           "ProcessId"};
    const uint8_t types[] = {VT_T_SID, VT_T_STRING, VT_T_UINT32, VT_T_STRING, VT_T_HEX64};
    vt_tmpl *t = vt_tmpl_data(names, types, 5, NULL, NULL);
    assert_non_null(t);
    vt_val v[] = {vt_v_sid("S-1-5-18"), vt_v_str("alice"), vt_v_u32(10), vt_v_str("10.1.2.3"),
                  vt_v_hex64(0x3e7)};
    vt_sysvals s = {4624,
                    2,
                    0,
                    0,
                    12544,
                    0x8020000000000000ull,
                    vt_filetime(2024, 3, 1, 8, 0, 0, 1234567),
                    7,
                    612,
                    1000,
                    "S-1-5-21-1-2-3-500",
                    "{0AF1B7C8-52D6-4D80-A7B2-EC0E7A2C13A4}"};
    run x = {0};
    one_event(&x, &SEC, &s, t, v, 5);
    const rcopy *r = &x.r[0];
    static const char xml[] =
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
        "  <System>\n"
        "    <Provider Name=\"Microsoft-Windows-Security-Auditing\" "
        "Guid=\"{54849625-5478-4994-A5BA-3E3B0328C30D}\"/>\n"
        "    <EventID>4624</EventID>\n"
        "    <Version>2</Version>\n"
        "    <Level>0</Level>\n"
        "    <Task>12544</Task>\n"
        "    <Opcode>0</Opcode>\n"
        "    <Keywords>0x8020000000000000</Keywords>\n"
        "    <TimeCreated SystemTime=\"2024-03-01T08:00:00.123456700Z\"/>\n"
        "    <EventRecordID>7</EventRecordID>\n"
        "    <Correlation ActivityID=\"{0AF1B7C8-52D6-4D80-A7B2-EC0E7A2C13A4}\"/>\n"
        "    <Execution ProcessID=\"612\" ThreadID=\"1000\"/>\n"
        "    <Channel>Security</Channel>\n"
        "    <Computer>dc01.corp.example</Computer>\n"
        "    <Security UserID=\"S-1-5-21-1-2-3-500\"/>\n"
        "  </System>\n"
        "  <EventData>\n"
        "    <Data Name=\"SubjectUserSid\">S-1-5-18</Data>\n"
        "    <Data Name=\"TargetUserName\">alice</Data>\n"
        "    <Data Name=\"LogonType\">10</Data>\n"
        "    <Data Name=\"IpAddress\">10.1.2.3</Data>\n"
        "    <Data Name=\"ProcessId\">0x00000000000003e7</Data>\n"
        "  </EventData>\n"
        "</Event>\n";
    assert_string_equal(r->xml, xml);
    static const xfield f[] = {
        {"Provider_Name", "Microsoft-Windows-Security-Auditing", VA_V_STR},
        {"Provider_Guid", "{54849625-5478-4994-A5BA-3E3B0328C30D}", VA_V_STR},
        {"EventID", "4624", VA_V_UINT},
        {"Version", "2", VA_V_UINT},
        {"Level", "0", VA_V_UINT},
        {"Task", "12544", VA_V_UINT},
        {"Opcode", "0", VA_V_UINT},
        {"Keywords", "0x8020000000000000", VA_V_STR},
        {"TimeCreated", "2024-03-01T08:00:00.1234567Z", VA_V_STR},
        {"EventRecordID", "7", VA_V_UINT},
        {"Correlation_ActivityID", "{0AF1B7C8-52D6-4D80-A7B2-EC0E7A2C13A4}", VA_V_STR},
        {"ProcessID", "612", VA_V_UINT},
        {"ThreadID", "1000", VA_V_UINT},
        {"Channel", "Security", VA_V_STR},
        {"Computer", "dc01.corp.example", VA_V_STR},
        {"Security_UserID", "S-1-5-21-1-2-3-500", VA_V_STR},
        {"SubjectUserSid", "S-1-5-18", VA_V_STR},
        {"TargetUserName", "alice", VA_V_STR},
        {"LogonType", "10", VA_V_UINT},
        {"IpAddress", "10.1.2.3", VA_V_STR},
        {"ProcessId", "0x3e7", VA_V_STR},
    };
    expect_fields(r, f, N(f));
    /* The direct facts. */
    assert_int_equal(r->event_id, 4624);
    assert_int_equal(r->record_id, 7);
    assert_true(r->time_ns == 1709280000123456700ll);
    assert_string_equal(r->provider, "Microsoft-Windows-Security-Auditing");
    assert_string_equal(r->channel, "Security");
    assert_string_equal(r->computer, "dc01.corp.example");
    assert_string_equal(r->path, "mem.evtx");
    /* And the record header. */
    assert_int_equal(r->id, 1);
    assert_true(r->written == s.time);
    assert_int_equal(r->chunk, 0);
    assert_int_equal(r->off, VT_HEADER_SIZE + 512);
    run_free(&x);
    vt_tmpl_free(t);
}

static void test_event_userdata_qualifiers(void **state) {
    (void)state;
    static const vt_sysdef log = {"Microsoft-Windows-Eventlog", NULL, "Security", "fs03", 1};
    const char *names[] = {"SubjectUserName", "SubjectLogonId"};
    const uint8_t types[] = {VT_T_STRING, VT_T_HEX64};
    vt_tmpl *t = vt_tmpl_data(names, types, 2, "LogFileCleared",
                              "http://manifests.microsoft.com/win/2004/08/windows/eventlog");
    assert_non_null(t);
    vt_val v[] = {vt_v_str("admmig"), vt_v_hex64(0x1f4c65f)};
    vt_tmpl *ev = vt_tmpl_event(&log);
    vt_frag *pl = vt_frag_new();
    assert_non_null(ev);
    assert_non_null(pl);
    vt_tinst(pl, t, v, 2);
    vt_sysvals s = {1102,
                    0,
                    4,
                    0,
                    104,
                    0x4020000000000000ull,
                    vt_filetime(2021, 10, 20, 13, 39, 12, 7319042),
                    67099,
                    732,
                    3728,
                    NULL,
                    NULL};
    vt_val sv[VT_SYS_NVALS];
    vt_sysvals_fill(sv, &s, vt_v_binxml(pl));
    sv[4] = vt_v_u16(16384); /* EventID Qualifiers */
    vt_evtx *w = mem_writer();
    assert_int_equal(vt_evtx_add_tinst(w, s.time, ev, sv, VT_SYS_NVALS, NULL), 0);
    run x = {0};
    finish_parse(w, &x, NULL);
    assert_int_equal(x.n, 1);
    const rcopy *r = &x.r[0];
    static const char xml[] =
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
        "  <System>\n"
        "    <Provider Name=\"Microsoft-Windows-Eventlog\"/>\n"
        "    <EventID Qualifiers=\"16384\">1102</EventID>\n"
        "    <Version>0</Version>\n"
        "    <Level>4</Level>\n"
        "    <Task>104</Task>\n"
        "    <Opcode>0</Opcode>\n"
        "    <Keywords>0x4020000000000000</Keywords>\n"
        "    <TimeCreated SystemTime=\"2021-10-20T13:39:12.731904200Z\"/>\n"
        "    <EventRecordID>67099</EventRecordID>\n"
        "    <Correlation/>\n"
        "    <Execution ProcessID=\"732\" ThreadID=\"3728\"/>\n"
        "    <Channel>Security</Channel>\n"
        "    <Computer>fs03</Computer>\n"
        "    <Security/>\n"
        "  </System>\n"
        "  <UserData>\n"
        "    <LogFileCleared "
        "xmlns=\"http://manifests.microsoft.com/win/2004/08/windows/eventlog\">\n"
        "      <SubjectUserName>admmig</SubjectUserName>\n"
        "      <SubjectLogonId>0x0000000001f4c65f</SubjectLogonId>\n"
        "    </LogFileCleared>\n"
        "  </UserData>\n"
        "</Event>\n";
    assert_string_equal(r->xml, xml);
    static const xfield f[] = {
        {"Provider_Name", "Microsoft-Windows-Eventlog", VA_V_STR},
        {"EventID_Qualifiers", "16384", VA_V_UINT},
        {"EventID", "1102", VA_V_UINT},
        {"Version", "0", VA_V_UINT},
        {"Level", "4", VA_V_UINT},
        {"Task", "104", VA_V_UINT},
        {"Opcode", "0", VA_V_UINT},
        {"Keywords", "0x4020000000000000", VA_V_STR},
        {"TimeCreated", "2021-10-20T13:39:12.7319042Z", VA_V_STR},
        {"EventRecordID", "67099", VA_V_UINT},
        {"ProcessID", "732", VA_V_UINT},
        {"ThreadID", "3728", VA_V_UINT},
        {"Channel", "Security", VA_V_STR},
        {"Computer", "fs03", VA_V_STR},
        {"SubjectUserName", "admmig", VA_V_STR},
        {"SubjectLogonId", "0x1f4c65f", VA_V_STR},
    };
    expect_fields(r, f, N(f));
    assert_int_equal(r->event_id, 1102);
    assert_int_equal(r->record_id, 67099);
    run_free(&x);
    vt_frag_free(pl);
    vt_tmpl_free(ev);
    vt_tmpl_free(t);
}

/* ---- value types ---- */

typedef struct vcase {
    const char *what;
    vt_val v;
    uint8_t decl;     /* type the template declares for the substitution */
    const char *xml;  /* element text in XML; NULL: the element is empty */
    const char *flat; /* field value in the event */
    va_vtype type;
} vcase;

static void test_value_types(void **state) {
    (void)state;
    static const uint16_t lone[] = {'a', 0xd800, 'b', 0xdc00};
    static const uint16_t nul_end[] = {'h', 'i', 0};
    static const uint8_t bin[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};
    static const uint8_t sid_raw[] = {1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0};
    static const uint8_t ansi_nul[] = "abcdefghijklmnopqrstuvwxyz\0after the end";
    const vcase cases[] = {
        {"null", vt_v_null(), VT_T_STRING, NULL, "", VA_V_NULL},
        {"utf16", vt_v_str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 <&>\"'"), VT_T_STRING,
         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 &lt;&amp;&gt;\"'",
         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 <&>\"'", VA_V_STR},
        {"utf16 lone surrogates", vt_v_str16(lone, 4), VT_T_STRING,
         "a\xef\xbf\xbd"
         "b\xef\xbf\xbd",
         "a\xef\xbf\xbd"
         "b\xef\xbf\xbd",
         VA_V_STR},
        {"utf16 NUL-terminated", vt_v_str16(nul_end, 3), VT_T_STRING, "hi", "hi", VA_V_STR},
        {"ansi (Windows-1252)", vt_v_ansi("ansi \x80\xe9"), VT_T_ANSI, "ansi \xe2\x82\xac\xc3\xa9",
         "ansi \xe2\x82\xac\xc3\xa9", VA_V_STR},
        /* past the 16-byte steps: a character to map and a quote in the second and third */
        {"ansi long", vt_v_ansi("0123456789abcdefghij\x80klmnopqrstuvwxyz0123456789\"ABCDEFGH"),
         VT_T_ANSI, "0123456789abcdefghij\xe2\x82\xacklmnopqrstuvwxyz0123456789\"ABCDEFGH",
         "0123456789abcdefghij\xe2\x82\xacklmnopqrstuvwxyz0123456789\"ABCDEFGH", VA_V_STR},
        {"ansi NUL inside", vt_v_raw(VT_T_ANSI, ansi_nul, sizeof ansi_nul), VT_T_ANSI,
         "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz", VA_V_STR},
        {"int8", vt_v_i8(-128), VT_T_INT8, "-128", "-128", VA_V_INT},
        {"uint8", vt_v_u8(255), VT_T_UINT8, "255", "255", VA_V_UINT},
        {"int16", vt_v_i16(-300), VT_T_INT16, "-300", "-300", VA_V_INT},
        {"uint16", vt_v_u16(65535), VT_T_UINT16, "65535", "65535", VA_V_UINT},
        {"int32", vt_v_i32(-2147483647 - 1), VT_T_INT32, "-2147483648", "-2147483648", VA_V_INT},
        {"uint32", vt_v_u32(4294967295u), VT_T_UINT32, "4294967295", "4294967295", VA_V_UINT},
        {"int64", vt_v_i64(-5000000000ll), VT_T_INT64, "-5000000000", "-5000000000", VA_V_INT},
        {"uint64", vt_v_u64(18446744073709551615ull), VT_T_UINT64, "18446744073709551615",
         "18446744073709551615", VA_V_UINT},
        /* evtxexport prints reals with "%e" and a three-digit exponent; the event keeps the
         * shortest text that reads back as the same number. */
        {"real32", vt_v_r32(1.5f), VT_T_REAL32, "1.500000e+000", "1.5", VA_V_REAL},
        {"real32 0.1", vt_v_r32(0.1f), VT_T_REAL32, "1.000000e-001", "0.1", VA_V_REAL},
        {"real64", vt_v_r64(-0.25), VT_T_REAL64, "-2.500000e-001", "-0.25", VA_V_REAL},
        {"real64 big", vt_v_r64(12345.678), VT_T_REAL64, "1.234568e+004", "12345.678", VA_V_REAL},
        {"bool true", vt_v_bool(1), VT_T_BOOL, "true", "true", VA_V_BOOL},
        {"bool false", vt_v_bool(0), VT_T_BOOL, "false", "false", VA_V_BOOL},
        {"binary", vt_v_bin(bin, sizeof bin), VT_T_BINARY, "DEADBEEF0001", "DEADBEEF0001",
         VA_V_STR},
        {"guid", vt_v_guid("{01234567-89ab-cdef-0123-456789ABCDEF}"), VT_T_GUID,
         "{01234567-89AB-CDEF-0123-456789ABCDEF}", "{01234567-89AB-CDEF-0123-456789ABCDEF}",
         VA_V_STR},
        {"size_t 32-bit", vt_v_sizet32(0x1234), VT_T_SIZET, "4660", "4660", VA_V_UINT},
        {"size_t 64-bit", vt_v_sizet64(0x123456789ull), VT_T_SIZET, "4886718345", "4886718345",
         VA_V_UINT},
        {"filetime", vt_v_filetime(vt_filetime(2021, 10, 20, 13, 39, 12, 7319042)), VT_T_FILETIME,
         "2021-10-20T13:39:12.731904200Z", "2021-10-20T13:39:12.7319042Z", VA_V_STR},
        {"systemtime", vt_v_systime(2020, 2, 6, 29, 23, 59, 58, 999), VT_T_SYSTIME,
         "2020-02-29T23:59:58.999Z", "2020-02-29T23:59:58.999Z", VA_V_STR},
        {"sid", vt_v_sid("S-1-5-21-1004336348-1177238915-682003330-512"), VT_T_SID,
         "S-1-5-21-1004336348-1177238915-682003330-512",
         "S-1-5-21-1004336348-1177238915-682003330-512", VA_V_STR},
        {"sid raw", vt_v_raw(VT_T_SID, sid_raw, sizeof sid_raw), VT_T_SID, "S-1-5-18", "S-1-5-18",
         VA_V_STR},
        {"hex32", vt_v_hex32(0xbeef), VT_T_HEX32, "0x0000beef", "0xbeef", VA_V_STR},
        {"hex64", vt_v_hex64(0xfeedfacecafeull), VT_T_HEX64, "0x0000feedfacecafe", "0xfeedfacecafe",
         VA_V_STR},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const vcase *c = &cases[i];
        const char *names[] = {"X"};
        vt_tmpl *t = vt_tmpl_data(names, &c->decl, 1, NULL, NULL);
        assert_non_null(t);
        vt_sysvals s = {1, 0, 4, 0, 0, 0, vt_filetime(2024, 1, 1, 0, 0, 0, 0), 1, 4, 8, NULL, NULL};
        run x = {0};
        one_event(&x, &SEC, &s, t, &c->v, 1);
        char *got = xml_part(x.r[0].xml, "<EventData>", "</EventData>");
        char want[512];
        if (c->xml)
            snprintf(want, sizeof want,
                     "  <EventData>\n    <Data Name=\"X\">%s</Data>\n  </EventData>\n", c->xml);
        else
            snprintf(want, sizeof want, "  <EventData>\n    <Data Name=\"X\"/>\n  </EventData>\n");
        if (strcmp(got, want)) fail_msg("%s: XML\n%s\nexpected\n%s", c->what, got, want);
        const char *fv = fval(&x.r[0], "X");
        if (!fv || strcmp(fv, c->flat))
            fail_msg("%s: field X = \"%s\", expected \"%s\"", c->what, fv ? fv : "(none)", c->flat);
        const rcopy *r = &x.r[0];
        if (r->f[r->nf - 1].type != c->type)
            fail_msg("%s: field type %d, expected %d", c->what, r->f[r->nf - 1].type, c->type);
        free(got);
        run_free(&x);
        vt_tmpl_free(t);
    }
}

/* ---- arrays ---- */

static void test_arrays_repeat_element(void **state) {
    (void)state;
    static const char *const files[] = {"a.txt", "b c.txt", "\xc3\xa9.txt"};
    static const char *const single[] = {"only"};
    uint8_t u32s[12], guids[32];
    for (int k = 0; k < 3; k++) vt_put32(u32s + 4 * k, (uint32_t)(k + 1) * 100);
    vt_val g1 = vt_v_guid("{00000000-0000-0000-0000-000000000001}");
    vt_val g2 = vt_v_guid("{FFFFFFFF-0000-0000-0000-00000000000A}");
    memcpy(guids, g1.inl, 16);
    memcpy(guids + 16, g2.inl, 16);
    const char *names[] = {"Files", "Pids", "Single", "Guids", "After"};
    const uint8_t types[] = {VT_T_ARRAY | VT_T_STRING, VT_T_ARRAY | VT_T_UINT32,
                             VT_T_ARRAY | VT_T_STRING, VT_T_ARRAY | VT_T_GUID, VT_T_STRING};
    vt_tmpl *t = vt_tmpl_data(names, types, 5, NULL, NULL);
    assert_non_null(t);
    vt_val v[] = {vt_v_strarr(files, 3), vt_v_raw(VT_T_ARRAY | VT_T_UINT32, u32s, 12),
                  vt_v_strarr(single, 1), vt_v_raw(VT_T_ARRAY | VT_T_GUID, guids, 32),
                  vt_v_str("end")};
    vt_sysvals s = {1, 0, 4, 0, 0, 0, vt_filetime(2024, 1, 1, 0, 0, 0, 0), 1, 4, 8, NULL, NULL};
    run x = {0};
    one_event(&x, &SEC, &s, t, v, 5);
    char *got = xml_part(x.r[0].xml, "<EventData>", "</EventData>");
    assert_string_equal(got, "  <EventData>\n"
                             "    <Data Name=\"Files\">a.txt</Data>\n"
                             "    <Data Name=\"Files\">b c.txt</Data>\n"
                             "    <Data Name=\"Files\">\xc3\xa9.txt</Data>\n"
                             "    <Data Name=\"Pids\">100</Data>\n"
                             "    <Data Name=\"Pids\">200</Data>\n"
                             "    <Data Name=\"Pids\">300</Data>\n"
                             "    <Data Name=\"Single\">only</Data>\n"
                             "    <Data Name=\"Guids\">{00000000-0000-0000-0000-000000000001}"
                             "</Data>\n"
                             "    <Data Name=\"Guids\">{FFFFFFFF-0000-0000-0000-00000000000A}"
                             "</Data>\n"
                             "    <Data Name=\"After\">end</Data>\n"
                             "  </EventData>\n");
    free(got);
    /* Repeated names in the event: detectors read them as "any of". */
    const rcopy *r = &x.r[0];
    uint32_t first = 0;
    while (first < r->nf && strcmp(r->f[first].name, "Files")) first++;
    static const xfield f[] = {{"Files", "a.txt", VA_V_STR},
                               {"Files", "b c.txt", VA_V_STR},
                               {"Files", "\xc3\xa9.txt", VA_V_STR},
                               {"Pids", "100", VA_V_UINT},
                               {"Pids", "200", VA_V_UINT},
                               {"Pids", "300", VA_V_UINT},
                               {"Single", "only", VA_V_STR},
                               {"Guids", "{00000000-0000-0000-0000-000000000001}", VA_V_STR},
                               {"Guids", "{FFFFFFFF-0000-0000-0000-00000000000A}", VA_V_STR},
                               {"After", "end", VA_V_STR}};
    assert_int_equal(r->nf - first, N(f));
    for (size_t i = 0; i < N(f); i++) {
        assert_string_equal(r->f[first + i].name, f[i].name);
        assert_string_equal(r->f[first + i].val, f[i].val);
        assert_int_equal(r->f[first + i].type, f[i].type);
    }
    run_free(&x);
    vt_tmpl_free(t);
}

/* Array items at the edges: empty items between NULs, a last item without its NUL, ANSI items,
 * an odd byte at the end of a UTF-16 array, and a fixed-size array with a partial last item. */
static void test_array_item_edges(void **state) {
    (void)state;
    static const uint8_t s16[] = {'a', 0, 0, 0, 0, 0, 'b', 0, 0, 0, 'c', 0, 'd', 0, 'x'};
    static const uint8_t s8[] = {'p', 0, 'q', 'r', 0};
    uint8_t u16s[5] = {1, 0, 2, 0, 9};
    const char *names[] = {"S", "A", "U", "End"};
    const uint8_t types[] = {VT_T_ARRAY | VT_T_STRING, VT_T_ARRAY | VT_T_ANSI,
                             VT_T_ARRAY | VT_T_UINT16, VT_T_STRING};
    vt_tmpl *t = vt_tmpl_data(names, types, 4, NULL, NULL);
    assert_non_null(t);
    vt_val v[] = {vt_v_raw(VT_T_ARRAY | VT_T_STRING, s16, sizeof s16),
                  vt_v_raw(VT_T_ARRAY | VT_T_ANSI, s8, sizeof s8),
                  vt_v_raw(VT_T_ARRAY | VT_T_UINT16, u16s, sizeof u16s), vt_v_str("end")};
    vt_sysvals sv = {1, 0, 4, 0, 0, 0, vt_filetime(2024, 1, 1, 0, 0, 0, 0), 1, 4, 8, NULL, NULL};
    run x = {0};
    one_event(&x, &SEC, &sv, t, v, 4);
    const rcopy *r = &x.r[0];
    uint32_t first = 0;
    while (first < r->nf && strcmp(r->f[first].name, "S")) first++;
    static const xfield f[] = {
        {"S", "a", VA_V_STR},  {"S", "", VA_V_STR},   {"S", "b", VA_V_STR},
        {"S", "cd", VA_V_STR}, {"A", "p", VA_V_STR},  {"A", "qr", VA_V_STR},
        {"U", "1", VA_V_UINT}, {"U", "2", VA_V_UINT}, {"End", "end", VA_V_STR}};
    assert_int_equal(r->nf - first, N(f));
    for (size_t i = 0; i < N(f); i++) {
        assert_string_equal(r->f[first + i].name, f[i].name);
        assert_string_equal(r->f[first + i].val, f[i].val);
        assert_int_equal(r->f[first + i].type, f[i].type);
    }
    run_free(&x);
    vt_tmpl_free(t);
}

/* ---- optional substitutions ---- */

static void test_optional_null(void **state) {
    (void)state;
    vt_frag *f = vt_frag_new();
    assert_non_null(f);
    vt_open(f, "EventData");
    /* sole content an optional substitution that is null: the element is left out */
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Gone");
    vt_subst(f, 0, VT_T_STRING, 1);
    vt_close(f);
    /* attribute whose value is an optional null: the attribute is left out */
    vt_open(f, "Data");
    vt_attr_subst(f, "Name", 1, VT_T_STRING, 1);
    vt_text(f, "kept");
    vt_close(f);
    /* two optional substitutions, one null: only the other is rendered */
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Half");
    vt_subst(f, 0, VT_T_STRING, 1);
    vt_subst(f, 2, VT_T_STRING, 1);
    vt_close(f);
    /* a normal substitution that is null: the element stays, empty */
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Empty");
    vt_subst(f, 0, VT_T_STRING, 0);
    vt_close(f);
    /* an element that loses its only child stays, empty */
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Outer");
    vt_open(f, "Inner");
    vt_subst(f, 0, VT_T_STRING, 1);
    vt_close(f);
    vt_close(f);
    /* optional and present */
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Here");
    vt_subst(f, 3, VT_T_UINT32, 1);
    vt_close(f);
    vt_close(f);
    vt_tmpl *t = vt_tmpl_new(f, "optional");
    assert_non_null(t);
    vt_val v[] = {vt_v_null(), vt_v_null(), vt_v_str("two"), vt_v_u32(3)};
    vt_evtx *w = mem_writer();
    assert_int_equal(vt_evtx_add_tinst(w, 0, t, v, 4, NULL), 0);
    run x = {0};
    finish_parse(w, &x, NULL);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.r[0].xml, "<EventData>\n"
                                    "  <Data>kept</Data>\n"
                                    "  <Data Name=\"Half\">two</Data>\n"
                                    "  <Data Name=\"Empty\"/>\n"
                                    "  <Data Name=\"Outer\"/>\n"
                                    "  <Data Name=\"Here\">3</Data>\n"
                                    "</EventData>\n");
    run_free(&x);
    vt_tmpl_free(t);

    /* In a whole event: no Correlation ActivityID, no Security UserID, no Qualifiers. */
    const char *names[] = {"A"};
    const uint8_t types[] = {VT_T_STRING};
    vt_tmpl *d = vt_tmpl_data(names, types, 1, NULL, NULL);
    assert_non_null(d);
    vt_val a = vt_v_str("x");
    vt_sysvals s = {5, 0, 4, 0, 0, 0, vt_filetime(2024, 1, 1, 0, 0, 0, 0), 1, 4, 8, NULL, NULL};
    one_event(&x, &SEC, &s, d, &a, 1);
    const rcopy *r = &x.r[0];
    assert_non_null(strstr(r->xml, "\n    <EventID>5</EventID>\n"));
    assert_non_null(strstr(r->xml, "\n    <Correlation/>\n"));
    assert_non_null(strstr(r->xml, "\n    <Security/>\n"));
    assert_null(fval(r, "Correlation_ActivityID"));
    assert_null(fval(r, "Security_UserID"));
    assert_null(fval(r, "EventID_Qualifiers"));
    assert_string_equal(fval(r, "A"), "x");
    run_free(&x);
    vt_tmpl_free(d);
}

/* ---- embedded binary XML ---- */

static void test_embedded_binxml(void **state) {
    (void)state;
    uint8_t *img;
    size_t len;
    vt_fixinfo info;
    /* The catalog's "nested": the payload's template takes a string array, a uint32 array,
     * an optional null, and binary XML of plain elements (no template) two levels down. */
    assert_int_equal(vt_fixture_find("nested")->build(&img, &len, &info), 0);
    run x = {0};
    parse_img(&x, img, len, NULL);
    free(img);
    assert_int_equal(x.nd, 0);
    assert_int_equal(x.n, 1);
    char *got = xml_part(x.r[0].xml, "<EventData>", "</EventData>");
    assert_string_equal(got, "  <EventData>\n"
                             "    <Data Name=\"File\">a.txt</Data>\n"
                             "    <Data Name=\"File\">b.txt</Data>\n"
                             "    <Data Name=\"File\">c.txt</Data>\n"
                             "    <Data Name=\"Pid\">4</Data>\n"
                             "    <Data Name=\"Pid\">1234</Data>\n"
                             "    <Detail>\n"
                             "      <Leaf Kind=\"plain\">deep</Leaf>\n"
                             "    </Detail>\n"
                             "  </EventData>\n");
    free(got);
    const rcopy *r = &x.r[0];
    assert_string_equal(fval(r, "Leaf"), "deep");
    assert_string_equal(fval(r, "Leaf_Kind"), "plain");
    assert_null(fval(r, "Opt"));
    assert_int_equal(r->event_id, 4663);
    run_free(&x);

    /* Three levels: binary XML whose template instance takes binary XML holding another
     * template instance; the same inner template used twice in the record. */
    vt_frag *tf = vt_frag_new(), *lf = vt_frag_new();
    assert_non_null(tf);
    assert_non_null(lf);
    vt_open(tf, "Box");
    vt_attr_subst(tf, "Id", 0, VT_T_UINT16, 0);
    vt_subst(tf, 1, VT_T_BINXML, 1);
    vt_close(tf);
    vt_tmpl *box = vt_tmpl_new(tf, "box");
    vt_open(lf, "Item");
    vt_subst(lf, 0, VT_T_STRING, 0);
    vt_close(lf);
    vt_tmpl *item = vt_tmpl_new(lf, "item");
    assert_non_null(box);
    assert_non_null(item);
    vt_frag *l3 = vt_frag_new(), *l2 = vt_frag_new(), *top = vt_frag_new();
    assert_non_null(l3);
    assert_non_null(l2);
    assert_non_null(top);
    vt_val iv = vt_v_str("x");
    vt_tinst(l3, item, &iv, 1);
    vt_val bv2[2] = {vt_v_u16(2), vt_v_binxml(l3)};
    vt_tinst(l2, box, bv2, 2);
    vt_open(top, "Root");
    vt_val bv1[2] = {vt_v_u16(1), vt_v_binxml(l2)};
    vt_tinst(top, box, bv1, 2);
    vt_val iv2 = vt_v_str("y");
    vt_tinst(top, item, &iv2, 1);
    vt_close(top);
    one_frag(&x, top);
    assert_string_equal(x.r[0].xml, "<Root>\n"
                                    "  <Box Id=\"1\">\n"
                                    "    <Box Id=\"2\">\n"
                                    "      <Item>x</Item>\n"
                                    "    </Box>\n"
                                    "  </Box>\n"
                                    "  <Item>y</Item>\n"
                                    "</Root>\n");
    run_free(&x);
    vt_frag_free(l3), vt_frag_free(l2), vt_frag_free(top);
    vt_tmpl_free(box), vt_tmpl_free(item);
}

/* ---- tokens outside templates ---- */

static void test_tokens_content(void **state) {
    (void)state;
    vt_frag *f = vt_frag_new();
    assert_non_null(f);
    vt_open(f, "Event");
    vt_open(f, "Text");
    vt_text(f, "a\"b<c>&d'");
    vt_close(f);
    vt_open(f, "Attr");
    vt_attr_text(f, "q", "a\"b<c>&d'");
    vt_close(f);
    vt_open(f, "Cdata");
    vt_cdata(f, "raw <b> & \xc3\xa9");
    vt_close(f);
    vt_open(f, "Char");
    vt_charref(f, 0x263a);
    vt_close(f);
    vt_open(f, "Ent");
    vt_entref(f, "lt");
    vt_close(f);
    vt_open(f, "Pieces");
    vt_text(f, "x ");
    vt_entref(f, "amp");
    vt_text(f, " y");
    vt_close(f);
    vt_open(f, "Explicit");
    vt_content(f); /* start tag closed (0x02), then end element (0x04), nothing between */
    vt_close(f);
    vt_close(f);
    run x = {0};
    one_frag(&x, f);
    assert_string_equal(x.r[0].xml, "<Event>\n"
                                    "  <Text>a\"b&lt;c&gt;&amp;d'</Text>\n"
                                    "  <Attr q=\"a&quot;b&lt;c&gt;&amp;d'\"/>\n"
                                    "  <Cdata><![CDATA[raw <b> & \xc3\xa9]]></Cdata>\n"
                                    "  <Char>&#9786;</Char>\n"
                                    "  <Ent>&lt;</Ent>\n"
                                    "  <Pieces>x &amp; y</Pieces>\n"
                                    "  <Explicit/>\n"
                                    "</Event>\n");
    static const xfield fl[] = {{"Text", "a\"b<c>&d'", VA_V_STR},
                                {"Attr_q", "a\"b<c>&d'", VA_V_STR},
                                {"Cdata", "raw <b> & \xc3\xa9", VA_V_STR},
                                {"Char", "\xe2\x98\xba", VA_V_STR},
                                {"Ent", "<", VA_V_STR},
                                {"Pieces", "x & y", VA_V_STR}};
    expect_fields(&x.r[0], fl, N(fl));
    run_free(&x);
    vt_frag_free(f);
}

/* Attributes inside a template: several per element (0x46 then 0x06), and one whose value is
 * text, a substitution and text again. */
static void test_attr_pieces(void **state) {
    (void)state;
    vt_frag *f = vt_frag_new();
    assert_non_null(f);
    vt_open(f, "Event");
    vt_open(f, "Item");
    vt_attr_text(f, "a", "1");
    vt_attr(f, "b");
    vt_text(f, "pre-");
    vt_subst(f, 0, VT_T_UINT32, 0);
    vt_text(f, "-post");
    vt_attr_subst(f, "c", 1, VT_T_HEX32, 0);
    vt_text(f, "body");
    vt_close(f);
    vt_close(f);
    vt_tmpl *t = vt_tmpl_new(f, "pieces");
    assert_non_null(t);
    vt_val v[] = {vt_v_u32(5), vt_v_hex32(0x10)};
    vt_evtx *w = mem_writer();
    assert_int_equal(vt_evtx_add_tinst(w, 0, t, v, 2, NULL), 0);
    run x = {0};
    finish_parse(w, &x, NULL);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.r[0].xml,
                        "<Event>\n"
                        "  <Item a=\"1\" b=\"pre-5-post\" c=\"0x00000010\">body</Item>\n"
                        "</Event>\n");
    static const xfield fl[] = {{"Item_a", "1", VA_V_STR},
                                {"Item_b", "pre-5-post", VA_V_STR},
                                {"Item_c", "0x10", VA_V_STR},
                                {"Item", "body", VA_V_STR}};
    expect_fields(&x.r[0], fl, N(fl));
    run_free(&x);
    vt_tmpl_free(t);
}

/* An attribute built of text, a character reference and an entity reference: its value is
 * a<&b, which XML writes a&lt;&amp;b. */
static void test_tokens_attr_references(void **state) {
    (void)state;
    vt_frag *f = vt_frag_new();
    assert_non_null(f);
    vt_open(f, "Event");
    vt_open(f, "Item");
    vt_attr(f, "Mixed");
    vt_text(f, "a");
    vt_charref(f, '<');
    vt_entref(f, "amp");
    vt_text(f, "b");
    vt_close(f);
    vt_close(f);
    run x = {0};
    one_frag(&x, f);
    assert_string_equal(x.r[0].xml, "<Event>\n"
                                    "  <Item Mixed=\"a&lt;&amp;b\"/>\n"
                                    "</Event>\n");
    static const xfield fl[] = {{"Item_Mixed", "a<&b", VA_V_STR}};
    expect_fields(&x.r[0], fl, N(fl));
    run_free(&x);
    vt_frag_free(f);
}

/* The reader's CRC32 (folded with carry-less multiplication where the CPU has it) against the
 * writer's own bitwise one: every length up to several folding rounds, every alignment, any
 * starting value, a whole chunk, and a run split at every point. */
static void test_crc32(void **state) {
    (void)state;
    enum { MAX = 65536 + 64 };
    uint8_t *buf = malloc(MAX);
    assert_non_null(buf);
    uint32_t seed = 12345;
    for (size_t i = 0; i < MAX; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    assert_int_equal(va_evtx_crc32(0, "123456789", 9), 0xCBF43926u);
    for (size_t off = 0; off < 16; off++) {
        for (size_t n = 0; n <= 300; n++) {
            uint32_t start = off & 1 ? 0 : (uint32_t)(n * 2654435761u);
            assert_int_equal(va_evtx_crc32(start, buf + off, n), vt_crc32(start, buf + off, n));
        }
    }
    assert_int_equal(va_evtx_crc32(0, buf + 3, 65536), vt_crc32(0, buf + 3, 65536));
    uint32_t whole = vt_crc32(0, buf, 1000);
    for (size_t cut = 0; cut <= 1000; cut += 7)
        assert_int_equal(va_evtx_crc32(va_evtx_crc32(0, buf, cut), buf + cut, 1000 - cut), whole);
    free(buf);
}

/* JSON of an event whose names and values come from every source the reader has (element and
 * attribute names, template text, substitutions of each text type, character and entity
 * references) with characters JSON must escape in each, next to plain ones: the reader tells
 * the JSON writer which text is plain, so a wrong word there would show as raw quotes here. */
static void test_json_escaping_sources(void **state) {
    (void)state;
    vt_frag *f = vt_frag_new();
    assert_non_null(f);
    vt_open(f, "Event");
    vt_open(f, "EventData");
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Path");
    vt_subst(f, 0, VT_T_STRING, 0);
    vt_close(f);
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Say \"hi\"");
    vt_subst(f, 1, VT_T_UINT32, 0);
    vt_close(f);
    vt_open(f, "Data");
    vt_attr_subst(f, "Name", 2, VT_T_STRING, 0);
    vt_subst(f, 3, VT_T_ANSI, 0);
    vt_close(f);
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Refs");
    vt_charref(f, '"');
    vt_entref(f, "quot");
    vt_charref(f, 0x263a);
    vt_close(f);
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Ctl");
    vt_subst(f, 4, VT_T_STRING, 0);
    vt_close(f);
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Clean");
    vt_subst(f, 5, VT_T_STRING, 0);
    vt_close(f);
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Arr");
    vt_subst(f, 6, VT_T_ARRAY | VT_T_STRING, 0);
    vt_close(f);
    vt_close(f);
    vt_open(f, "Odd\"El");
    vt_attr_text(f, "a\\b", "v\\");
    vt_text(f, "t\"x");
    vt_close(f);
    vt_close(f);
    vt_tmpl *t = vt_tmpl_new(f, "json-escaping");
    assert_non_null(t);
    static const char *const items[] = {"x\"", "y"};
    vt_val v[] = {
        vt_v_str("C:\\dir\\x.exe"),     vt_v_u32(7),
        vt_v_str("Sub\"Name"),          vt_v_ansi("a\"b\tc"),
        vt_v_str("line1\nline2\r\x01"), vt_v_str("plain text longer than sixteen characters"),
        vt_v_strarr(items, 2)};
    vt_evtx *w = mem_writer();
    assert_int_equal(vt_evtx_add_tinst(w, 0, t, v, N(v), NULL), 0);
    run x = {0};
    va_evtx_opts o = {.want_json = 1, .threads = 1};
    finish_parse(w, &x, &o);
    assert_int_equal(x.nd, 0);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.r[0].json,
                        "{\"Path\":\"C:\\\\dir\\\\x.exe\",\"Say \\\"hi\\\"\":7,"
                        "\"Sub\\\"Name\":\"a\\\"b\\tc\",\"Refs\":\"\\\"\\\"\xe2\x98\xba\","
                        "\"Ctl\":\"line1\\nline2\\r\\u0001\","
                        "\"Clean\":\"plain text longer than sixteen characters\","
                        "\"Arr\":[\"x\\\"\",\"y\"],"
                        "\"Odd\\\"El_a\\\\b\":\"v\\\\\",\"Odd\\\"El\":\"t\\\"x\"}");
    run_free(&x);
    vt_tmpl_free(t);
}

/* Processing instructions: target alone and target with data, each on its own line. */
static void test_tokens_pi(void **state) {
    (void)state;
    vt_frag *f = vt_frag_new();
    assert_non_null(f);
    vt_open(f, "Event");
    vt_pi(f, "target", NULL);
    vt_pi(f, "xml-stylesheet", "href=\"s.xsl\"");
    vt_open(f, "A");
    vt_text(f, "t");
    vt_close(f);
    vt_close(f);
    run x = {0};
    one_frag(&x, f);
    assert_string_equal(x.r[0].xml, "<Event>\n"
                                    "  <?target?>\n"
                                    "  <?xml-stylesheet href=\"s.xsl\"?>\n"
                                    "  <A>t</A>\n"
                                    "</Event>\n");
    /* Processing instructions are not event data. */
    static const xfield fl[] = {{"A", "t", VA_V_STR}};
    expect_fields(&x.r[0], fl, N(fl));
    run_free(&x);
    vt_frag_free(f);
}

/* ---- damaged files ---- */

enum { OFF_ABS, OFF_CHUNK, OFF_REC, OFF_LEN, OFF_ANY };
enum { SKIP_NONE, SKIP_CHUNK, SKIP_REC, SKIP_CUT };

typedef struct xdiag {
    va_severity sev;
    va_err code;
    int unit;  /* chunk, -1 for the file, or DAMAGED */
    int where; /* OFF_* */
    int64_t off;
} xdiag;

typedef struct dmg {
    const char *fixture;
    va_err open_err;
    int dirty;
    size_t ndiag;
    xdiag diag[3];
    uint64_t st[5]; /* chunks, chunks_bad, chunks_crc, chunks_empty, records_bad */
    int skip;       /* which records are lost: SKIP_* */
} dmg;

#define DG(sev, code, unit, where, off)                                                            \
    { VA_SEV_##sev, VA_E##code, unit, where, off }
#define DAMAGED -2 /* unit: the chunk the fixture damaged */

/* Oversized sizes and counts: "an offset or size inside the file points outside its
 * container" is VA_ERANGE; a file that ends inside a record is VA_ETRUNC (docs/errors.md).
 * trunc_chunk: the header still counts three chunks, chunk 1 ends early, and the record the
 * cut goes through is lost. */
// clang-format off
static const dmg damaged[] = {
    {"bad_records_crc", VA_OK, 0, 1, {DG(ERROR, CRC, DAMAGED, OFF_CHUNK, 52)},
     {3, 1, 1, 0, 0}, SKIP_CHUNK},
    {"bad_chunk_header_crc", VA_OK, 0, 1, {DG(ERROR, CRC, DAMAGED, OFF_CHUNK, 124)},
     {3, 1, 1, 0, 0}, SKIP_CHUNK},
    {"bad_file_crc", VA_OK, 0, 1, {DG(WARN, CRC, -1, OFF_ABS, 124)},
     {3, 0, 0, 0, 0}, SKIP_NONE},
    {"trunc_chunk", VA_OK, 0, 3, {DG(WARN, TRUNC, -1, OFF_LEN, 0),
                                  DG(WARN, TRUNC, DAMAGED, OFF_LEN, 0),
                                  DG(ERROR, TRUNC, DAMAGED, OFF_REC, 0)},
     {2, 0, 0, 0, 1}, SKIP_CUT},
    {"trunc_header", VA_ETRUNC, 0, 1, {DG(ERROR, TRUNC, -1, OFF_LEN, 0)},
     {0, 0, 0, 0, 0}, SKIP_NONE},
    {"bad_file_magic", VA_OK, 0, 1, {DG(WARN, FORMAT, -1, OFF_ABS, 0)},
     {3, 0, 0, 0, 0}, SKIP_NONE},
    {"not_evtx", VA_EFORMAT, 0, 1, {DG(ERROR, FORMAT, -1, OFF_ABS, 0)},
     {0, 0, 0, 0, 0}, SKIP_NONE},
    {"bad_chunk_magic", VA_OK, 0, 1, {DG(ERROR, FORMAT, DAMAGED, OFF_CHUNK, 0)},
     {3, 1, 0, 0, 0}, SKIP_CHUNK},
    {"record_too_big", VA_OK, 0, 1, {DG(ERROR, RANGE, DAMAGED, OFF_REC, 0)},
     {1, 0, 0, 0, 1}, SKIP_REC},
    {"subst_count", VA_OK, 0, 1, {DG(ERROR, RANGE, DAMAGED, OFF_REC, 0)},
     {1, 0, 0, 0, 1}, SKIP_REC},
    {"name_overrun", VA_OK, 0, 1, {DG(ERROR, RANGE, DAMAGED, OFF_REC, 0)},
     {1, 0, 0, 0, 1}, SKIP_REC},
    {"bad_token", VA_OK, 0, 1, {DG(ERROR, FORMAT, DAMAGED, OFF_REC, 0)},
     {1, 0, 0, 0, 1}, SKIP_REC},
    {"bad_record_magic", VA_OK, 0, 1, {DG(ERROR, FORMAT, DAMAGED, OFF_REC, 0)},
     {1, 0, 0, 0, 1}, SKIP_REC},
    {"extra_chunks", VA_OK, 0, 0, {{0}}, {3, 0, 0, 0, 0}, SKIP_NONE},
    {"empty_slots", VA_OK, 0, 0, {{0}}, {3, 0, 0, 2, 0}, SKIP_NONE},
    {"dirty", VA_OK, 1, 0, {{0}}, {1, 0, 0, 0, 0}, SKIP_NONE},
};
// clang-format on

/* Is record id lost to the damage?  Decided from the image's own structure (chunk headers,
 * record sizes), not from what the reader reports. */
static int lost(const dmg *t, const vt_fixinfo *info, const uint8_t *img, size_t len, uint64_t id) {
    switch (t->skip) {
    case SKIP_CHUNK: {
        const uint8_t *ck = img + BASE(info->chunk);
        return id >= get64(ck + 8) && id <= get64(ck + 16);
    }
    case SKIP_REC:
        return (int64_t)id == info->bad_id;
    case SKIP_CUT:
        /* Lost unless the record lies wholly inside the cut image. */
        for (int64_t k = 0; BASE(k) + 512 <= (int64_t)len; k++) {
            const uint8_t *ck = img + BASE(k);
            if (id < get64(ck + 8) || id > get64(ck + 16)) continue;
            for (uint32_t pos = 512; BASE(k) + pos + 24 <= (int64_t)len;) {
                uint32_t size = vt_get32(ck + pos + 4);
                if (get64(ck + pos + 8) == id) return BASE(k) + pos + size > (int64_t)len;
                pos += size;
            }
            return 1;
        }
        return 1;
    default:
        return 0;
    }
}

static void test_damaged(void **state) {
    const dmg *t = *state;
    uint8_t *img;
    size_t len;
    vt_fixinfo info;
    const vt_fixture *fx = vt_fixture_find(t->fixture);
    assert_non_null(fx);
    assert_int_equal(fx->build(&img, &len, &info), 0);
    run x = {0};
    parse_img(&x, img, len, NULL);
    int64_t chunk = info.chunk;

    assert_int_equal(x.open_err, t->open_err);
    for (size_t i = 0; i < x.nd; i++)
        print_message("  diag: sev %d %s unit %lld offset %lld: %s\n", x.d[i].sev,
                      va_err_name(x.d[i].code), (long long)x.d[i].unit, (long long)x.d[i].off,
                      x.d[i].msg);
    assert_int_equal(x.nd, t->ndiag);
    /* A wrong code or place is reported after the other checks, so that one failure does not
     * hide whether the rest of the file was still read. */
    char bad[512] = "";
    for (size_t i = 0; i < t->ndiag && !bad[0]; i++) {
        const xdiag *e = &t->diag[i];
        const dcopy *g = &x.d[i];
        int64_t unit = e->unit == DAMAGED ? chunk : e->unit;
        int64_t off = e->where == OFF_CHUNK ? BASE(chunk) + e->off
                      : e->where == OFF_REC ? info.rec_off
                      : e->where == OFF_LEN ? (int64_t)len
                                            : e->off;
        if (g->sev != e->sev || g->code != e->code || g->unit != unit || g->off != off)
            snprintf(bad, sizeof bad,
                     "%s: diagnostic %zu is %d %s unit %lld offset %lld, expected %d %s unit "
                     "%lld offset %lld",
                     t->fixture, i, g->sev, va_err_name(g->code), (long long)g->unit,
                     (long long)g->off, e->sev, va_err_name(e->code), (long long)unit,
                     (long long)off);
        assert_string_equal(g->file, "mem.evtx");
        assert_true(g->msg && *g->msg);
    }
    if (t->open_err) {
        assert_int_equal(x.n, 0);
        run_free(&x);
        free(img);
        if (bad[0]) fail_msg("%s", bad);
        return;
    }
    assert_int_equal(x.dirty, t->dirty);
    assert_int_equal(x.st.chunks, t->st[0]);
    assert_int_equal(x.st.chunks_bad, t->st[1]);
    assert_int_equal(x.st.chunks_crc, t->st[2]);
    assert_int_equal(x.st.chunks_empty, t->st[3]);
    assert_int_equal(x.st.records_bad, t->st[4]);
    /* Every record not lost to the damage is delivered, in order, intact. */
    size_t k = 0;
    for (uint64_t id = 1; id <= (uint64_t)info.records; id++) {
        if (lost(t, &info, img, len, id)) continue;
        if (k >= x.n) fail_msg("%s: record %llu missing", t->fixture, (unsigned long long)id);
        assert_int_equal(x.r[k].id, id);
        assert_int_equal(x.r[k].record_id, id); /* EventRecordID from the event itself */
        assert_non_null(fval(&x.r[k], "Computer"));
        k++;
    }
    assert_int_equal(x.n, k);
    assert_int_equal(x.st.records, k);
    run_free(&x);
    free(img);
    if (bad[0]) fail_msg("%s", bad);
}

/* Every fixture of the catalog (the fuzz seeds) builds; the valid ones read without a single
 * diagnostic and yield every record written, the damaged ones each have a row above. */
static void test_fixture_catalog(void **state) {
    (void)state;
    size_t n;
    const vt_fixture *fx = vt_fixture_list(&n);
    assert_true(n >= N(damaged));
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(vt_fixture_find(fx[i].name), &fx[i]);
        uint8_t *img;
        size_t len;
        vt_fixinfo info;
        if (fx[i].build(&img, &len, &info)) fail_msg("fixture %s does not build", fx[i].name);
        size_t k;
        for (k = 0; k < N(damaged) && strcmp(damaged[k].fixture, fx[i].name); k++) {}
        if (k == N(damaged)) {
            run x = {0};
            parse_img(&x, img, len, NULL);
            if (x.nd || x.open_err || (int64_t)x.n != info.records)
                fail_msg("valid fixture %s: %zu diagnostics, %zu of %lld records", fx[i].name, x.nd,
                         x.n, (long long)info.records);
            run_free(&x);
        }
        free(img);
    }
    assert_null(vt_fixture_find("no such fixture"));
}

static void test_ignore_crc(void **state) {
    (void)state;
    static const struct {
        const char *fixture;
        int64_t field;
    } cases[] = {{"bad_records_crc", 52}, {"bad_chunk_header_crc", 124}};
    for (size_t i = 0; i < N(cases); i++) {
        uint8_t *img;
        size_t len;
        vt_fixinfo info;
        assert_int_equal(vt_fixture_find(cases[i].fixture)->build(&img, &len, &info), 0);
        va_evtx_opts o = OPTS_ALL;
        o.ignore_crc = 1;
        run x = {0};
        parse_img(&x, img, len, &o);
        /* Still reported, as a warning, and counted; but every record is read. */
        assert_int_equal(x.nd, 1);
        assert_int_equal(x.d[0].sev, VA_SEV_WARN);
        assert_int_equal(x.d[0].code, VA_ECRC);
        assert_int_equal(x.d[0].unit, info.chunk);
        assert_int_equal(x.d[0].off, BASE(info.chunk) + cases[i].field);
        assert_int_equal(x.st.chunks_crc, 1);
        assert_int_equal(x.st.chunks_bad, 0);
        assert_int_equal(x.n, info.records);
        for (size_t k = 0; k < x.n; k++) assert_int_equal(x.r[k].id, k + 1);
        run_free(&x);
        free(img);
    }
}

/* ---- many chunks ---- */

/* n Security events with distinct values (user<id>, id-based times) on up to 4 hosts. */
static uint8_t *many_events(uint32_t n, uint32_t hosts, size_t *len) {
    vt_sysdef defs[4] = {SEC, SEC, SEC, SEC};
    static const char *const names[] = {"dc01", "ws01", "ws02", "fs01"};
    vt_tmpl *ev[4];
    for (uint32_t h = 0; h < 4; h++) {
        defs[h].computer = names[h];
        ev[h] = vt_tmpl_event(&defs[h]);
        assert_non_null(ev[h]);
    }
    const char *dn[] = {"TargetUserName", "Seq"};
    const uint8_t dt[] = {VT_T_STRING, VT_T_UINT32};
    vt_tmpl *d = vt_tmpl_data(dn, dt, 2, NULL, NULL);
    assert_non_null(d);
    vt_evtx *w = mem_writer();
    for (uint32_t i = 1; i <= n; i++) {
        char user[32];
        snprintf(user, sizeof user, "user%u", (unsigned)i);
        vt_val dv[2] = {vt_v_str(user), vt_v_u32(i)};
        vt_frag *pl = vt_frag_new();
        assert_non_null(pl);
        vt_tinst(pl, d, dv, 2);
        uint64_t t = vt_filetime(2024, 5, 1, 0, 0, 0, 0) + (uint64_t)i * 10000000u;
        vt_sysvals s = {4624, 2, 0, 0, 12544, 0, t, i, 4, i, NULL, NULL};
        vt_val v[VT_SYS_NVALS];
        vt_sysvals_fill(v, &s, vt_v_binxml(pl));
        assert_int_equal(vt_evtx_add_tinst(w, t, ev[i % hosts], v, VT_SYS_NVALS, NULL), 0);
        vt_frag_free(pl);
    }
    uint8_t *img;
    assert_int_equal(vt_evtx_finish(w, &img, len), 0);
    vt_evtx_free(w);
    for (int h = 0; h < 4; h++) vt_tmpl_free(ev[h]);
    vt_tmpl_free(d);
    return img;
}

static void test_many_chunks(void **state) {
    (void)state;
    size_t len;
    uint8_t *img = many_events(1500, 4, &len);
    uint32_t nchunks = (uint32_t)((len - VT_HEADER_SIZE) / VT_CHUNK_SIZE);
    assert_true(nchunks >= 3);
    run x = {0};
    parse_img(&x, img, len, NULL);
    assert_int_equal(x.nd, 0);
    assert_int_equal(x.n, 1500);
    assert_int_equal(x.st.chunks, nchunks);
    static const char *const hosts[] = {"dc01", "ws01", "ws02", "fs01"};
    for (uint32_t i = 0; i < x.n; i++) {
        const rcopy *r = &x.r[i];
        char user[32], seq[16];
        snprintf(user, sizeof user, "user%u", (unsigned)(i + 1));
        snprintf(seq, sizeof seq, "%u", (unsigned)(i + 1));
        assert_int_equal(r->id, i + 1);
        /* Each chunk defines its templates and names again: every chunk must render. */
        const uint8_t *ck = img + BASE(r->chunk);
        assert_true(r->id >= get64(ck + 8) && r->id <= get64(ck + 16));
        assert_true(r->off >= (uint64_t)BASE(r->chunk) + 512);
        assert_string_equal(fval(r, "TargetUserName"), user);
        assert_string_equal(fval(r, "Seq"), seq);
        assert_string_equal(fval(r, "ThreadID"), seq);
        assert_string_equal(r->computer, hosts[(i + 1) % 4]);
        assert_true(r->time_ns == 1714521600000000000ll + (int64_t)(i + 1) * 1000000000ll);
    }
    assert_int_equal(x.r[x.n - 1].chunk, nchunks - 1);
    run_free(&x);
    free(img);
}

/* ---- the file API and stopping ---- */

/* Tests that need files get a directory of their own (state), removed with everything in it
 * by the teardown, which cmocka runs even when the test fails. */
static int tmpdir_setup(void **state) {
    char *dir = dups("/tmp/vaern-test-evtx-XXXXXX");
    if (!mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int tmpdir_teardown(void **state) {
    char *dir = *state;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    int r = rmdir(dir);
    free(dir);
    return r;
}

static char *temp_file(const char *dir, const uint8_t *p, size_t n) {
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/XXXXXX.evtx", dir);
    char *path = dups(tmpl);
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return path;
}

static char *temp_fixture(const char *dir, const char *name) {
    uint8_t *img;
    size_t len;
    vt_fixinfo info;
    assert_int_equal(vt_fixture_find(name)->build(&img, &len, &info), 0);
    char *p = temp_file(dir, img, len);
    free(img);
    return p;
}

static void test_open_file(void **state) {
    const char *dir = *state;
    run x = {0};
    va_evtx_file *f = NULL;
    assert_int_equal(va_evtx_open("/nonexistent/vaern.evtx", on_diag, &x, &f), VA_EIO);
    assert_int_equal(x.nd, 1);
    assert_int_equal(x.d[0].code, VA_EIO);
    assert_string_equal(x.d[0].file, "/nonexistent/vaern.evtx");
    assert_int_equal(va_evtx_open("/tmp", on_diag, &x, &f), VA_EIO);
    assert_int_equal(x.nd, 2);
    run_free(&x);

    char *path = temp_fixture(dir, "basic");
    assert_int_equal(va_evtx_open(path, on_diag, &x, &f), VA_OK);
    assert_string_equal(va_evtx_path(f), path);
    assert_int_equal(va_evtx_nchunks(f), 1);
    assert_int_equal(va_evtx_dirty(f), 0);
    va_evtx_ctx *c = va_evtx_ctx_new();
    assert_non_null(c);
    /* A chunk index past the file is no chunk at all. */
    assert_int_equal(va_evtx_chunk_parse(f, 5, &OPTS_ALL, c, &x.st, on_rec, &x), 0);
    assert_int_equal(x.st.chunks, 0);
    /* Stop after two records: the parse says so and delivers no more. */
    x.stop_after = 2;
    assert_int_equal(va_evtx_chunk_parse(f, 0, &OPTS_ALL, c, &x.st, on_rec, &x), 1);
    assert_int_equal(x.n, 2);
    assert_int_equal(x.r[1].id, 2);
    assert_string_equal(x.r[0].path, path);
    va_evtx_ctx_free(c);
    va_evtx_close(f);
    assert_int_equal(x.nd, 0);
    run_free(&x);
    free(path);

    /* An empty file cannot be an EVTX file. */
    path = temp_file(dir, (const uint8_t *)"", 0);
    assert_int_not_equal(va_evtx_open(path, on_diag, &x, &f), VA_OK);
    assert_int_equal(x.nd, 1);
    run_free(&x);
    free(path);
}

/* ---- the parallel reader ---- */

typedef struct files {
    char *path[6];
    size_t n;
    uint64_t records[6]; /* expected per file */
    va_err err[6];
} files;

static void make_files(files *fs, const char *dir) {
    size_t len;
    memset(fs, 0, sizeof *fs);
    uint8_t *img = many_events(1200, 3, &len);
    fs->path[0] = temp_file(dir, img, len);
    fs->records[0] = 1200;
    free(img);
    fs->path[1] = temp_fixture(dir, "bad_chunk_magic");
    fs->path[2] = temp_fixture(dir, "trunc_header");
    fs->err[2] = VA_ETRUNC;
    fs->path[3] = dups("/nonexistent/vaern-missing.evtx");
    fs->err[3] = VA_EIO;
    fs->path[4] = temp_fixture(dir, "nested");
    fs->records[4] = 1;
    fs->path[5] = temp_fixture(dir, "record_too_big");
    fs->records[5] = 4;
    fs->n = 6;
    /* bad_chunk_magic loses chunk 1: count what its other chunks hold, from the image. */
    uint8_t *b;
    vt_fixinfo info;
    assert_int_equal(vt_fixture_find("bad_chunk_magic")->build(&b, &len, &info), 0);
    const uint8_t *ck = b + BASE(1);
    fs->records[1] = (uint64_t)info.records - (get64(ck + 16) - get64(ck + 8) + 1);
    free(b);
}

static void free_files(files *fs) {
    for (size_t i = 0; i < fs->n; i++) free(fs->path[i]);
}

static void read_all(const files *fs, int threads, int want_json, run *x) {
    va_evtx_opts o = {.want_xml = !want_json,
                      .want_event = !want_json,
                      .want_json = want_json,
                      .threads = threads};
    memset(x, 0, sizeof *x);
    int stop = va_evtx_read_files((const char *const *)fs->path, fs->n, &o, on_diag, x, &x->st,
                                  on_rec, on_file, x);
    assert_int_equal(stop, 0);
}

static void test_threads_same_output(void **state) {
    files fs;
    make_files(&fs, *state);
    run one, two;
    read_all(&fs, 1, 0, &one);
    read_all(&fs, 2, 0, &two);
    /* What is expected, whatever the thread count. */
    uint64_t total = 0;
    for (size_t i = 0; i < fs.n; i++) total += fs.records[i];
    assert_int_equal(one.n, total);
    assert_int_equal(one.st.records, total);
    assert_int_equal(one.nfd, fs.n);
    size_t k = 0;
    for (size_t i = 0; i < fs.n; i++) {
        assert_string_equal(one.fd[i].path, fs.path[i]);
        assert_int_equal(one.fd[i].err, fs.err[i]);
        assert_int_equal(one.fd[i].st.records, fs.records[i]);
        for (uint64_t j = 0; j < fs.records[i]; j++, k++)
            assert_string_equal(one.r[k].path, fs.path[i]);
    }
    /* Records of the big file come in id order. */
    for (uint64_t j = 0; j < fs.records[0]; j++) assert_int_equal(one.r[j].id, j + 1);
    /* Diagnostics in file order: chunk 1 of file 1, the header of file 2, file 3 missing,
     * the oversized record of file 5. */
    assert_int_equal(one.nd, 4);
    assert_string_equal(one.d[0].file, fs.path[1]);
    assert_int_equal(one.d[0].code, VA_EFORMAT);
    assert_string_equal(one.d[1].file, fs.path[2]);
    assert_int_equal(one.d[1].code, VA_ETRUNC);
    assert_string_equal(one.d[2].file, fs.path[3]);
    assert_int_equal(one.d[2].code, VA_EIO);
    assert_string_equal(one.d[3].file, fs.path[5]);
    assert_int_equal(one.d[3].code, VA_ERANGE);
    assert_int_equal(one.st.chunks_bad, 1);
    assert_int_equal(one.st.records_bad, 1);

    /* Two threads: the same, in the same order. */
    assert_int_equal(two.n, one.n);
    for (size_t i = 0; i < one.n; i++) {
        assert_string_equal(two.r[i].path, one.r[i].path);
        assert_int_equal(two.r[i].id, one.r[i].id);
        assert_int_equal(two.r[i].chunk, one.r[i].chunk);
        assert_int_equal(two.r[i].off, one.r[i].off);
        assert_string_equal(two.r[i].xml, one.r[i].xml);
        assert_int_equal(two.r[i].nf, one.r[i].nf);
        for (uint32_t j = 0; j < one.r[i].nf; j++) {
            assert_string_equal(two.r[i].f[j].name, one.r[i].f[j].name);
            assert_string_equal(two.r[i].f[j].val, one.r[i].f[j].val);
        }
    }
    assert_int_equal(two.nd, one.nd);
    for (size_t i = 0; i < one.nd; i++) {
        assert_string_equal(two.d[i].file, one.d[i].file);
        assert_int_equal(two.d[i].code, one.d[i].code);
        assert_int_equal(two.d[i].unit, one.d[i].unit);
        assert_int_equal(two.d[i].off, one.d[i].off);
    }
    assert_int_equal(two.nfd, one.nfd);
    for (size_t i = 0; i < one.nfd; i++) {
        assert_string_equal(two.fd[i].path, one.fd[i].path);
        assert_memory_equal(&two.fd[i].st, &one.fd[i].st, sizeof one.fd[i].st);
    }
    assert_memory_equal(&two.st, &one.st, sizeof one.st);
    run_free(&one);
    run_free(&two);
    free_files(&fs);
}

/* With want_json the records carry the flat event as JSON, from any number of threads, the
 * same JSON va_evtx_chunk_parse gives for the same record. */
static void test_threads_json(void **state) {
    files fs;
    make_files(&fs, *state);
    run ev, js, ref = {0};
    read_all(&fs, 1, 0, &ev);
    va_evtx_file *f;
    assert_int_equal(va_evtx_open(fs.path[0], on_diag, &ref, &f), VA_OK);
    va_evtx_ctx *c = va_evtx_ctx_new();
    assert_non_null(c);
    va_evtx_opts o = {.want_json = 1, .threads = 1};
    for (uint32_t i = 0; i < va_evtx_nchunks(f); i++)
        va_evtx_chunk_parse(f, i, &o, c, &ref.st, on_rec, &ref);
    va_evtx_ctx_free(c);
    va_evtx_close(f);
    assert_int_equal(ref.n, fs.records[0]);
    for (int threads = 1; threads <= 2; threads++) {
        read_all(&fs, threads, 1, &js);
        assert_int_equal(js.n, ev.n);
        for (size_t i = 0; i < ev.n; i++) {
            if (!js.r[i].json || js.r[i].json[0] != '{')
                fail_msg("threads %d record %zu (%s id %llu): no JSON", threads, i, ev.r[i].path,
                         (unsigned long long)ev.r[i].id);
            if (i < ref.n) assert_string_equal(js.r[i].json, ref.r[i].json);
            /* Every field of the event appears in the JSON object. */
            for (uint32_t j = 0; j < ev.r[i].nf; j++) {
                char key[160];
                snprintf(key, sizeof key, "\"%s\":", ev.r[i].f[j].name);
                if (!strstr(js.r[i].json, key))
                    fail_msg("threads %d record %zu: %s missing from %s", threads, i, key,
                             js.r[i].json);
            }
        }
        run_free(&js);
    }
    run_free(&ev);
    run_free(&ref);
    free_files(&fs);
}

/* ---- plans: the flattener replays what it did for the first record of a shape ---- */

typedef struct shapes {
    vt_tmpl *ev, *ev_ud, *data_a, *data_a2, *data_b, *dyn, *clash, *nest_out, *nest_in, *ud;
} shapes;

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

/* Record k of the shape test: its System values, and a payload of one of many shapes (several
 * templates, nulls, short values, arrays of one and of several items, text needing escapes,
 * a field name from a substitution, an identity clash, two levels of embedding, a payload that
 * is not a template instance, a damaged payload). */
static void add_shaped(vt_evtx *w, const shapes *t, uint32_t k, uint32_t *seed) {
    static const char *const one[] = {"solo"};
    static const char *const three[] = {"x", "y \"z\"", ""};
    static const uint8_t garbage[] = {0x0f, 0x01, 0x01, 0x00, 0x0c, 0x01, 0xff, 0xff, 0xff};
    static const uint8_t short_u32[] = {7, 0};
    uint32_t r = lcg(seed), pick = r % 11;
    char str[64];
    snprintf(str, sizeof str, r & 8 ? "plain %u" : "tab\there \"q\" %u\\", (unsigned)k);
    vt_frag *pl = vt_frag_new(), *inner = vt_frag_new();
    assert_non_null(pl);
    assert_non_null(inner);
    vt_val dv[8];
    const vt_tmpl *ev = t->ev;
    switch (pick) {
    case 0:
    case 1:
    case 10: /* the usual: same shape most of the time, some nulls and a short value; two
                templates of the same value types and other names */
        dv[0] = r & 16 ? vt_v_sid("S-1-5-18") : vt_v_null();
        dv[1] = vt_v_str(str);
        dv[2] = r & 32 ? vt_v_raw(VT_T_UINT32, short_u32, 2) : vt_v_u32(k);
        dv[3] = r & 64 ? vt_v_str("") : r & 2 ? vt_v_null() : vt_v_str("10.0.0.1");
        dv[4] = vt_v_hex64(k);
        vt_tinst(pl, pick == 10 ? t->data_a2 : t->data_a, dv, 5);
        break;
    case 2: /* arrays of one item (formatted in place) and of several (element repeated) */
        dv[0] = r & 16 ? vt_v_strarr(three, 3) : vt_v_strarr(one, 1);
        dv[1] = vt_v_guid("{01234567-89AB-CDEF-0123-456789ABCDEF}");
        dv[2] = vt_v_filetime(vt_filetime(2024, 5, 6, 7, 8, 9, k));
        dv[3] = r & 32 ? vt_v_sizet32(k) : vt_v_sizet64(k);
        dv[4] = vt_v_bool(k & 1);
        dv[5] = r & 64 ? vt_v_r64(1.5 * k) : vt_v_null();
        dv[6] = vt_v_ansi(r & 128 ? "an\"si" : "ansi");
        dv[7] = vt_v_bin(str, 5);
        vt_tinst(pl, t->data_b, dv, 8);
        break;
    case 3: /* a field name from a substitution */
        dv[0] = vt_v_str(r & 16 ? "NameA" : "Name\"B");
        dv[1] = vt_v_str(str);
        dv[2] = vt_v_u16((uint16_t)k);
        vt_tinst(pl, t->dyn, dv, 3);
        break;
    case 4: /* <Data Name="EventID"> and friends: renamed only where System has them */
        dv[0] = vt_v_u32(k);
        dv[1] = vt_v_str("other");
        vt_tinst(pl, t->clash, dv, 2);
        break;
    case 5: { /* two levels of embedding */
        vt_val iv[2] = {vt_v_str(str), r & 16 ? vt_v_null() : vt_v_u64(k)};
        vt_tinst(inner, t->nest_in, iv, 2);
        dv[0] = vt_v_binxml(inner);
        dv[1] = vt_v_str("outer");
        vt_tinst(pl, t->nest_out, dv, 2);
        break;
    }
    case 6: /* a payload that is elements, not a template instance */
        vt_open(pl, "EventData");
        vt_open(pl, "Data");
        vt_attr_text(pl, "Name", "Inline");
        vt_text(pl, str);
        vt_close(pl);
        vt_close(pl);
        break;
    case 7: /* UserData */
        ev = t->ev_ud;
        dv[0] = vt_v_str(str);
        dv[1] = vt_v_hex64(k);
        vt_tinst(pl, t->ud, dv, 2);
        break;
    default:
        break;
    }
    vt_sysvals s = {(uint16_t)(4600 + pick),
                    1,
                    4,
                    0,
                    1,
                    0x8020000000000000ull,
                    vt_filetime(2024, 1, 1, 0, 0, 0, k),
                    vt_evtx_next_id(w),
                    4,
                    8,
                    r & 256 ? "S-1-5-21-1-2-3-1001" : NULL,
                    r & 512 ? "{11111111-2222-3333-4444-555555555555}" : NULL};
    vt_val v[VT_SYS_NVALS];
    vt_val payload = pick == 8   ? vt_v_raw(VT_T_BINXML, garbage, sizeof garbage)
                     : pick == 9 ? vt_v_null()
                                 : vt_v_binxml(pl);
    vt_sysvals_fill(v, &s, payload);
    if (r & 1024) v[4] = vt_v_u16(0x10); /* EventID Qualifiers */
    assert_int_equal(vt_evtx_add_tinst(w, s.time, ev, v, VT_SYS_NVALS, NULL), 0);
    vt_frag_free(pl);
    vt_frag_free(inner);
}

static void make_shapes(shapes *t) {
    static const vt_sysdef UD = {"Microsoft-Windows-Eventlog", NULL, "Security", "dc01", 1};
    const char *na[] = {"SubjectUserSid", "TargetUserName", "LogonType", "IpAddress", "LogonId"};
    const char *na2[] = {"UserSid", "UserName", "Kind", "Address", "Session"};
    const uint8_t ta[] = {VT_T_SID, VT_T_STRING, VT_T_UINT32, VT_T_STRING, VT_T_HEX64};
    const char *nb[] = {"Files", "Guid", "When", "Count", "Flag", "Ratio", "Ansi", "Blob"};
    const uint8_t tb[] = {VT_T_ARRAY | VT_T_STRING,
                          VT_T_GUID,
                          VT_T_FILETIME,
                          VT_T_SIZET,
                          VT_T_BOOL,
                          VT_T_REAL64,
                          VT_T_ANSI,
                          VT_T_BINARY};
    const char *nc[] = {"EventID", "Computer"};
    const uint8_t tc[] = {VT_T_UINT32, VT_T_STRING};
    const char *nu[] = {"SubjectUserName", "SubjectLogonId"};
    const uint8_t tu[] = {VT_T_STRING, VT_T_HEX64};
    const char *ni[] = {"Inner", "Number"};
    const uint8_t ti[] = {VT_T_STRING, VT_T_UINT64};
    t->ev = vt_tmpl_event(&SEC);
    t->ev_ud = vt_tmpl_event(&UD);
    t->data_a = vt_tmpl_data(na, ta, 5, NULL, NULL);
    t->data_a2 = vt_tmpl_data(na2, ta, 5, NULL, NULL);
    t->data_b = vt_tmpl_data(nb, tb, 8, NULL, NULL);
    t->clash = vt_tmpl_data(nc, tc, 2, NULL, NULL);
    t->ud = vt_tmpl_data(nu, tu, 2, "LogFileCleared", "http://example/ns");
    t->nest_in = vt_tmpl_data(ni, ti, 2, NULL, NULL);
    vt_frag *f = vt_frag_new();
    assert_non_null(f);
    vt_open(f, "EventData");
    vt_open(f, "Data");
    vt_attr_subst(f, "Name", 0, VT_T_STRING, 0);
    vt_subst(f, 1, VT_T_STRING, 0);
    vt_close(f);
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Fixed");
    vt_subst(f, 2, VT_T_UINT16, 1);
    vt_close(f);
    vt_close(f);
    t->dyn = vt_tmpl_new(f, "plans-dyn");
    f = vt_frag_new();
    assert_non_null(f);
    vt_open(f, "EventData");
    vt_open(f, "Data");
    vt_attr_text(f, "Name", "Outer");
    vt_subst(f, 1, VT_T_STRING, 0);
    vt_close(f);
    vt_open(f, "Nested");
    vt_subst(f, 0, VT_T_BINXML, 1);
    vt_close(f);
    vt_close(f);
    t->nest_out = vt_tmpl_new(f, "plans-nest");
    assert_true(t->ev && t->ev_ud && t->data_a && t->data_a2 && t->data_b && t->clash && t->ud &&
                t->nest_in && t->dyn && t->nest_out);
}

static void free_shapes(shapes *t) {
    vt_tmpl *all[] = {t->ev,  t->ev_ud, t->data_a,   t->data_a2, t->data_b,
                      t->dyn, t->clash, t->nest_out, t->nest_in, t->ud};
    for (size_t i = 0; i < N(all); i++) vt_tmpl_free(all[i]);
}

/* The reason of a record diagnostic, without where it was (the two files lay records out
 * differently). */
static void reason(const char *msg, char *out, size_t n) {
    const char *c = strchr(msg, ':');
    snprintf(out, n, "%s", c ? c : msg);
    char *at = strstr(out, " (at chunk offset");
    if (at) *at = 0;
}

/* Records of every shape, many to a chunk and read with one parse context (so most are
 * flattened by a plan, made in that chunk or an earlier one), against the same records one to
 * a chunk, each chunk read with a new context (so every one is walked): the same events, the
 * same JSON, the same reasons for the damaged ones. */
static void test_plans_match_walker(void **state) {
    const char *dir = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s/shapes.evtx", dir);
    shapes t;
    make_shapes(&t);
    run x[2] = {{0}, {0}}, js = {0};
    for (int alone = 0; alone < 2; alone++) {
        vt_evtx *w = mem_writer();
        uint32_t seed = 99;
        for (uint32_t k = 0; k < 600; k++) {
            add_shaped(w, &t, k, &seed);
            if (alone) assert_int_equal(vt_evtx_end_chunk(w), 0);
        }
        va_evtx_opts o = {.want_event = 1, .want_json = 1, .threads = 1};
        uint8_t *img;
        size_t len;
        assert_int_equal(vt_evtx_finish(w, &img, &len), 0);
        vt_evtx_free(w);
        parse_img_ctx(&x[alone], img, len, &o, alone);
        assert_int_equal(x[alone].open_err, VA_OK);
        if (!alone) {
            /* JSON alone: written straight from the plans, without making events. */
            va_evtx_opts oj = {.want_json = 1, .threads = 1};
            parse_img(&js, img, len, &oj);
            assert_int_equal(js.n, x[0].n);
            for (size_t i = 0; i < js.n; i++)
                if (strcmp(js.r[i].json, x[0].r[i].json))
                    fail_msg("record %zu:\n  from plan: %s\n  from event: %s", i, js.r[i].json,
                             x[0].r[i].json);
            assert_int_equal(js.nd, x[0].nd);
            run_free(&js);
            FILE *fp = fopen(path, "wb");
            assert_non_null(fp);
            assert_int_equal(fwrite(img, 1, len, fp), len);
            assert_int_equal(fclose(fp), 0);
        }
        free(img);
    }
    assert_true(x[0].st.chunks < 20);
    assert_int_equal(x[1].st.chunks, 600);
    assert_int_equal(x[0].n, x[1].n);
    assert_true(x[0].n > 500);
    for (size_t i = 0; i < x[0].n; i++) {
        const rcopy *a = &x[0].r[i], *b = &x[1].r[i];
        if (strcmp(a->json, b->json))
            fail_msg("record %zu:\n  plan:   %s\n  walked: %s", i, a->json, b->json);
        assert_int_equal(a->nf, b->nf);
        for (uint32_t j = 0; j < a->nf; j++) {
            assert_string_equal(a->f[j].name, b->f[j].name);
            assert_string_equal(a->f[j].val, b->f[j].val);
            assert_int_equal(a->f[j].type, b->f[j].type);
        }
        assert_int_equal(a->event_id, b->event_id);
        assert_int_equal(a->time_ns, b->time_ns);
        assert_int_equal(a->record_id, b->record_id);
        const char *fa[] = {a->provider, a->channel, a->computer};
        const char *fb[] = {b->provider, b->channel, b->computer};
        for (int k = 0; k < 3; k++) {
            assert_true(!fa[k] == !fb[k]);
            if (fa[k]) assert_string_equal(fa[k], fb[k]);
        }
    }
    assert_int_equal(x[0].nd, x[1].nd);
    assert_true(x[0].nd > 20); /* the damaged payloads */
    for (size_t i = 0; i < x[0].nd; i++) {
        char ra[200], rb[200];
        reason(x[0].d[i].msg, ra, sizeof ra);
        reason(x[1].d[i].msg, rb, sizeof rb);
        assert_string_equal(ra, rb);
        assert_int_equal(x[0].d[i].code, x[1].d[i].code);
    }
    /* The file read by the multithreaded reader, whose events outlive the parse of their
     * chunk, with plans kept in so little memory that they are dropped again and again (each
     * worker's store replaced while slots it parsed still wait to be delivered). */
    for (int threads = 1; threads <= 4; threads++) {
        run y = {0};
        va_evtx_opts o = {.want_event = 1, .threads = threads, .plan_bytes = 3000};
        const char *paths[] = {path};
        va_evtx_read_files(paths, 1, &o, on_diag, &y, &y.st, on_rec, on_file, &y);
        assert_int_equal(y.n, x[1].n);
        for (size_t i = 0; i < y.n; i++) {
            const rcopy *a = &y.r[i], *b = &x[1].r[i];
            assert_int_equal(a->nf, b->nf);
            for (uint32_t j = 0; j < a->nf; j++) {
                assert_string_equal(a->f[j].name, b->f[j].name);
                assert_string_equal(a->f[j].val, b->f[j].val);
                assert_int_equal(a->f[j].type, b->f[j].type);
            }
        }
        run_free(&y);
    }
    run_free(&x[0]);
    run_free(&x[1]);
    free_shapes(&t);
}

/* Every .evtx under dir (recursively), appended to *v. */
static void find_evtx(const char *dir, char ***v, size_t *n, size_t *cap) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t l = strlen(path);
        if (l > 5 && !strcmp(path + l - 5, ".evtx")) {
            *v = grow(*v, cap, *n, sizeof **v);
            (*v)[(*n)++] = dups(path);
        } else {
            find_evtx(path, v, n, cap);
        }
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The shared EVTX files read with plans and with none (a plan bound too small for one): the
 * same events, JSON and diagnostics, record by record. */
static void test_plans_shared_data(void **state) {
    (void)state;
    const char *data = getenv("VAERN_SHARED_DATA");
    char **paths = NULL;
    size_t n = 0, cap = 0;
    static const char *const folders[] = {"evtx", "evtx-benign", "sigma/regression_data"};
    for (size_t i = 0; data && i < N(folders); i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", data, folders[i]);
        find_evtx(dir, &paths, &n, &cap);
    }
    if (!n) {
        print_message("shared data not found (VAERN_SHARED_DATA): skipped\n");
        skip();
    }
    qsort(paths, n, sizeof *paths, cmp_str);
    for (int mode = 0; mode < 2; mode++) {
        run x[2];
        for (int walked = 0; walked < 2; walked++) {
            memset(&x[walked], 0, sizeof x[walked]);
            va_evtx_opts o = {.ignore_crc = 1,
                              .want_json = mode == 0,
                              .want_event = mode == 1,
                              .threads = 2,
                              .plan_bytes = walked ? 1 : 0};
            va_evtx_read_files((const char *const *)paths, n, &o, on_diag, &x[walked],
                               &x[walked].st, on_rec, on_file, &x[walked]);
        }
        assert_int_equal(x[0].n, x[1].n);
        assert_true(x[0].n > 40000);
        for (size_t i = 0; i < x[0].n; i++) {
            const rcopy *a = &x[0].r[i], *b = &x[1].r[i];
            if (mode == 0 && strcmp(a->json, b->json))
                fail_msg("%s record %llu:\n  plans:  %s\n  walked: %s", b->path ? b->path : "",
                         (unsigned long long)b->id, a->json, b->json);
            assert_int_equal(a->nf, b->nf);
            for (uint32_t j = 0; j < a->nf; j++) {
                assert_string_equal(a->f[j].name, b->f[j].name);
                assert_string_equal(a->f[j].val, b->f[j].val);
                assert_int_equal(a->f[j].type, b->f[j].type);
            }
            assert_int_equal(a->event_id, b->event_id);
            assert_int_equal(a->time_ns, b->time_ns);
        }
        assert_int_equal(x[0].nd, x[1].nd);
        for (size_t i = 0; i < x[0].nd; i++) assert_string_equal(x[0].d[i].msg, x[1].d[i].msg);
        run_free(&x[0]);
        run_free(&x[1]);
    }
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

/* Flatten <Event><System>...</System><UserData><X>...</X></UserData></Event> by hand. */
static void flat_leaf(va_flat *fl, const char *name, const char *val) {
    va_flat_open(fl, name, strlen(name));
    va_flat_text(fl, val, strlen(val), VA_V_STR);
    va_flat_close(fl);
}

/* A data leaf named like a System identity field must not pass for it: the failed event's ID
 * inside an EventProcessingFailure (event 1108) is not the event's ID. */
static void test_flat_identity_clash(void **state) {
    (void)state;
    va_arena a;
    va_arena_init(&a, 4096);
    va_buf text;
    va_buf_init(&text);
    va_event ev;
    va_event_init(&ev, &a);
    va_flat fl;
    va_flat_begin(&fl, &ev, &text);
    va_flat_open(&fl, "Event", 5);
    va_flat_open(&fl, "System", 6);
    flat_leaf(&fl, "EventID", "1108");
    flat_leaf(&fl, "Channel", "Security");
    va_flat_close(&fl);
    va_flat_open(&fl, "UserData", 8);
    va_flat_open(&fl, "EventProcessingFailure", 22);
    flat_leaf(&fl, "EventID", "4647");
    flat_leaf(&fl, "Channel", "System");
    va_flat_close(&fl);
    va_flat_close(&fl);
    va_flat_open(&fl, "EventData", 9);
    va_flat_open(&fl, "Data", 4);
    va_flat_attr(&fl, "Name", 4, "Computer", 8, VA_V_STR);
    va_flat_text(&fl, "OTHER", 5, VA_V_STR);
    va_flat_close(&fl);
    va_flat_close(&fl);
    va_flat_close(&fl);
    assert_int_equal(va_flat_end(&fl), VA_OK);
    assert_int_equal(ev.event_id, 1108);
    int ids = 0;
    for (uint32_t i = 0; i < ev.n; i++) ids += !strcmp(ev.f[i].name, "EventID");
    assert_int_equal(ids, 1);
    const va_field *q = va_event_get(&ev, "EventProcessingFailure.EventID");
    assert_non_null(q);
    assert_string_equal(q->val, "4647");
    /* Computer had no System value here, so the data keeps the plain name. */
    assert_non_null(va_event_get(&ev, "Computer"));
    assert_string_equal(va_event_get(&ev, "Computer")->val, "OTHER");
    /* Channel is not an identity field: both values stay under the plain name. */
    int ch = 0;
    for (uint32_t i = 0; i < ev.n; i++) ch += !strcmp(ev.f[i].name, "Channel");
    assert_int_equal(ch, 2);
    va_buf_free(&text);
    va_arena_free(&a);
}

int main(void) {
    static const struct CMUnitTest head[] = {
        cmocka_unit_test(test_writer_layout),
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_flat_identity_clash),
        cmocka_unit_test_setup_teardown(test_plans_match_walker, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test(test_plans_shared_data),
        cmocka_unit_test(test_event_security),
        cmocka_unit_test(test_event_userdata_qualifiers),
        cmocka_unit_test(test_value_types),
        cmocka_unit_test(test_arrays_repeat_element),
        cmocka_unit_test(test_array_item_edges),
        cmocka_unit_test(test_optional_null),
        cmocka_unit_test(test_embedded_binxml),
        cmocka_unit_test(test_tokens_content),
        cmocka_unit_test(test_attr_pieces),
        cmocka_unit_test(test_tokens_attr_references),
        cmocka_unit_test(test_json_escaping_sources),
        cmocka_unit_test(test_tokens_pi),
    };
    static const struct CMUnitTest tail[] = {
        cmocka_unit_test(test_fixture_catalog),
        cmocka_unit_test(test_ignore_crc),
        cmocka_unit_test(test_many_chunks),
        cmocka_unit_test_setup_teardown(test_open_file, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_threads_same_output, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_threads_json, tmpdir_setup, tmpdir_teardown),
    };
    /* One test per damaged fixture, named after it. */
    struct CMUnitTest tests[N(head) + N(damaged) + N(tail)];
    memcpy(tests, head, sizeof head);
    for (size_t i = 0; i < N(damaged); i++)
        tests[N(head) + i] =
            (struct CMUnitTest){damaged[i].fixture, test_damaged, NULL, NULL, (void *)&damaged[i]};
    memcpy(tests + N(head) + N(damaged), tail, sizeof tail);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
