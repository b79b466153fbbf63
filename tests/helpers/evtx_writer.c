/*
 * evtx_writer.c - the EVTX writer behind fixtures, fuzz seeds, samples and benchmark inputs
 * (see evtx_writer.h).
 *
 * Records are serialised straight into a 64 KiB chunk buffer because binary XML refers to
 * names and template definitions by chunk offset: a record is written at the chunk's free
 * offset, and if it does not fit, everything it added (bytes, names, templates) is rolled back
 * and the record goes to a fresh chunk.  Sizes that precede their data (element and template
 * sizes, value sizes) are written as placeholders and patched once the data is out.
 */
#include "evtx_writer.h"

#include <stdlib.h>
#include <string.h>

#define VT_FRAG_DEPTH 64 /* element nesting a frag may build */
#define VT_NEST_MAX   16 /* templates / embedded fragments inside each other */

/* ---- UTF-8 input ---- */

/* Next code point of s[0..n); invalid input gives U+FFFD for one byte. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *used) {
    uint32_t c = s[0], cp, min;
    size_t len;
    if (c < 0x80) {
        *used = 1;
        return c;
    }
    if ((c & 0xe0) == 0xc0)
        len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        len = 0, cp = 0, min = 0;
    *used = 1;
    if (!len || len > n) return 0xfffd;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0xfffd;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0xfffd;
    *used = len;
    return cp;
}

/* ---- CRC32 ---- */

typedef struct vt_crc {
    uint32_t t[256];
} vt_crc;

static void crc_init(vt_crc *c) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t v = i;
        for (int k = 0; k < 8; k++) v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
        c->t[i] = v;
    }
}

static uint32_t crc_run(const vt_crc *c, uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = c->t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t vt_crc32(uint32_t crc, const void *p, size_t n) {
    vt_crc c;
    crc_init(&c);
    return crc_run(&c, crc, p, n);
}

/* ---- values ---- */

static vt_val inline_val(uint8_t type, const void *p, size_t n) {
    vt_val v;
    memset(&v, 0, sizeof v);
    v.type = type, v.enc = VT_ENC_INLINE, v.n = (uint32_t)n;
    memcpy(v.inl, p, n);
    return v;
}

static vt_val le_val(uint8_t type, uint64_t x, size_t n) {
    uint8_t b[8];
    vt_put64(b, x);
    return inline_val(type, b, n);
}

vt_val vt_v_null(void) {
    return inline_val(VT_T_NULL, "", 0);
}

vt_val vt_v_str(const char *utf8) {
    vt_val v = vt_v_null();
    v.type = VT_T_STRING, v.enc = VT_ENC_UTF8, v.p = utf8, v.n = (uint32_t)strlen(utf8);
    return v;
}

vt_val vt_v_str16(const uint16_t *units, size_t nunits) {
    vt_val v = vt_v_null();
    /* Units are stored little-endian whatever the host: copy them out byte by byte. */
    if (2 * nunits <= sizeof v.inl) {
        v.type = VT_T_STRING, v.n = (uint32_t)(2 * nunits);
        for (size_t i = 0; i < nunits; i++) vt_put16(v.inl + 2 * i, units[i]);
    }
    return v;
}

vt_val vt_v_ansi(const char *bytes) {
    return vt_v_raw(VT_T_ANSI, bytes, strlen(bytes));
}

vt_val vt_v_i8(int8_t v) {
    return le_val(VT_T_INT8, (uint64_t)(uint8_t)v, 1);
}
vt_val vt_v_u8(uint8_t v) {
    return le_val(VT_T_UINT8, v, 1);
}
vt_val vt_v_i16(int16_t v) {
    return le_val(VT_T_INT16, (uint64_t)(uint16_t)v, 2);
}
vt_val vt_v_u16(uint16_t v) {
    return le_val(VT_T_UINT16, v, 2);
}
vt_val vt_v_i32(int32_t v) {
    return le_val(VT_T_INT32, (uint64_t)(uint32_t)v, 4);
}
vt_val vt_v_u32(uint32_t v) {
    return le_val(VT_T_UINT32, v, 4);
}
vt_val vt_v_i64(int64_t v) {
    return le_val(VT_T_INT64, (uint64_t)v, 8);
}
vt_val vt_v_u64(uint64_t v) {
    return le_val(VT_T_UINT64, v, 8);
}

vt_val vt_v_r32(float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    return le_val(VT_T_REAL32, bits, 4);
}

vt_val vt_v_r64(double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return le_val(VT_T_REAL64, bits, 8);
}

vt_val vt_v_bool(uint32_t v) {
    return le_val(VT_T_BOOL, v, 4);
}

vt_val vt_v_bin(const void *p, size_t n) {
    return vt_v_raw(VT_T_BINARY, p, n);
}

static int hexdig(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* GUID text to its 16 on-disk bytes (three little-endian fields, then 8 bytes in order). */
static int guid_parse(const char *s, uint8_t g[16]) {
    uint8_t raw[16];
    int k = 0;
    if (*s == '{') s++;
    for (int i = 0; i < 36; i++, s++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (*s != '-') return -1;
            continue;
        }
        int hi = hexdig(*s);
        if (hi < 0) return -1;
        s++;
        i++;
        int lo = hexdig(*s);
        if (lo < 0) return -1;
        raw[k++] = (uint8_t)(hi << 4 | lo);
    }
    if (*s == '}') s++;
    if (*s) return -1;
    static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++) g[i] = raw[order[i]];
    return 0;
}

vt_val vt_v_guid(const char *text) {
    uint8_t g[16] = {0};
    if (guid_parse(text, g)) memset(g, 0, sizeof g);
    return inline_val(VT_T_GUID, g, 16);
}

vt_val vt_v_sizet32(uint32_t v) {
    return le_val(VT_T_SIZET, v, 4);
}
vt_val vt_v_sizet64(uint64_t v) {
    return le_val(VT_T_SIZET, v, 8);
}
vt_val vt_v_filetime(uint64_t ft) {
    return le_val(VT_T_FILETIME, ft, 8);
}

vt_val vt_v_systime(uint16_t year, uint16_t month, uint16_t weekday, uint16_t day, uint16_t hour,
                    uint16_t minute, uint16_t second, uint16_t ms) {
    const uint16_t f[8] = {year, month, weekday, day, hour, minute, second, ms};
    uint8_t b[16];
    for (int i = 0; i < 8; i++) vt_put16(b + 2 * i, f[i]);
    return inline_val(VT_T_SYSTIME, b, 16);
}

/* "S-R-A-S1-S2...": revision, sub-authority count, 48-bit big-endian authority, u32 LE subs. */
static size_t sid_parse(const char *s, uint8_t out[68]) {
    if (s[0] != 'S' || s[1] != '-') return 0;
    s += 2;
    uint64_t part[17];
    int np = 0;
    while (np < 17) {
        if (*s < '0' || *s > '9') return 0;
        uint64_t v = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (uint64_t)(*s++ - '0');
            if (v > 0xffffffffffffull) return 0;
        }
        part[np++] = v;
        if (!*s) break;
        if (*s++ != '-') return 0;
    }
    if (*s || np < 2 || part[0] > 255) return 0;
    int nsub = np - 2;
    out[0] = (uint8_t)part[0];
    out[1] = (uint8_t)nsub;
    for (int i = 0; i < 6; i++) out[2 + i] = (uint8_t)(part[1] >> (8 * (5 - i)));
    for (int i = 0; i < nsub; i++) {
        if (part[2 + i] > 0xffffffffu) return 0;
        vt_put32(out + 8 + 4 * i, (uint32_t)part[2 + i]);
    }
    return 8 + 4 * (size_t)nsub;
}

vt_val vt_v_sid(const char *text) {
    uint8_t b[68];
    size_t n = sid_parse(text, b);
    return n ? inline_val(VT_T_SID, b, n) : vt_v_null();
}

vt_val vt_v_hex32(uint32_t v) {
    return le_val(VT_T_HEX32, v, 4);
}
vt_val vt_v_hex64(uint64_t v) {
    return le_val(VT_T_HEX64, v, 8);
}

vt_val vt_v_binxml(const vt_frag *frag) {
    vt_val v = vt_v_null();
    v.type = VT_T_BINXML, v.enc = VT_ENC_FRAG, v.p = frag;
    return v;
}

vt_val vt_v_strarr(const char *const *items, size_t n) {
    vt_val v = vt_v_null();
    v.type = VT_T_ARRAY | VT_T_STRING, v.enc = VT_ENC_UTF8_LIST, v.p = items, v.n = (uint32_t)n;
    return v;
}

vt_val vt_v_raw(uint8_t type, const void *p, size_t n) {
    vt_val v = vt_v_null();
    v.type = type, v.enc = VT_ENC_RAW, v.p = p, v.n = (uint32_t)n;
    return v;
}

/* ---- fragments ---- */

enum {
    K_OPEN = 1,
    K_ATTR,
    K_CLOSE_START,
    K_CLOSE_EMPTY,
    K_END,
    K_TEXT,
    K_TEXT16,
    K_CDATA,
    K_CHARREF,
    K_ENTREF,
    K_PI,
    K_SUBST,
    K_TINST,
    K_RAW,
};

typedef struct vt_tok {
    uint8_t kind;
    uint8_t type;     /* K_SUBST */
    uint8_t optional; /* K_SUBST */
    uint16_t idx;     /* K_SUBST index, K_CHARREF code unit */
    char *s, *s2;     /* owned: name or text; K_PI data (NULL: none) */
    void *bytes;      /* owned: K_TEXT16 units (LE), K_RAW bytes, K_TINST values */
    size_t n;         /* units, bytes or values */
    const vt_tmpl *tmpl;
} vt_tok;

struct vt_frag {
    vt_tok *t;
    size_t n, cap;
    int err;
    int depth;                      /* elements open */
    int in_attr;                    /* value calls go to the last attribute */
    uint8_t started[VT_FRAG_DEPTH]; /* element i has had its start tag closed */
};

vt_frag *vt_frag_new(void) {
    return calloc(1, sizeof(vt_frag));
}

void vt_frag_free(vt_frag *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->t[i].s);
        free(f->t[i].s2);
        free(f->t[i].bytes);
    }
    free(f->t);
    free(f);
}

int vt_frag_err(const vt_frag *f) {
    return !f || f->err || f->depth ? -1 : 0;
}

static vt_tok *push(vt_frag *f, uint8_t kind) {
    if (f->err) return NULL;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        vt_tok *t = realloc(f->t, cap * sizeof *t);
        if (!t) {
            f->err = 1;
            return NULL;
        }
        f->t = t, f->cap = cap;
    }
    vt_tok *t = &f->t[f->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    return t;
}

static char *dup_str(vt_frag *f, const char *s) {
    char *d = strdup(s ? s : "");
    if (!d) f->err = 1;
    return d;
}

/* The element's content starts: the start tag must be closed first. */
static void begin_content(vt_frag *f) {
    f->in_attr = 0;
    if (f->depth > 0 && !f->started[f->depth - 1]) {
        push(f, K_CLOSE_START);
        f->started[f->depth - 1] = 1;
    }
}

static void begin_value(vt_frag *f) {
    if (!f->in_attr) begin_content(f);
}

void vt_open(vt_frag *f, const char *name) {
    begin_content(f);
    if (f->depth >= VT_FRAG_DEPTH) {
        f->err = 1;
        return;
    }
    vt_tok *t = push(f, K_OPEN);
    if (t) t->s = dup_str(f, name);
    f->started[f->depth++] = 0;
}

void vt_attr(vt_frag *f, const char *name) {
    if (f->depth == 0 || f->started[f->depth - 1]) {
        f->err = 1; /* attributes belong in a start tag */
        return;
    }
    vt_tok *t = push(f, K_ATTR);
    if (t) t->s = dup_str(f, name);
    f->in_attr = 1;
}

void vt_attr_text(vt_frag *f, const char *name, const char *utf8) {
    vt_attr(f, name);
    vt_text(f, utf8);
    f->in_attr = 0;
}

void vt_attr_subst(vt_frag *f, const char *name, uint16_t idx, uint8_t type, int optional) {
    vt_attr(f, name);
    vt_subst(f, idx, type, optional);
    f->in_attr = 0;
}

void vt_content(vt_frag *f) {
    begin_content(f);
}

void vt_close(vt_frag *f) {
    if (f->depth == 0) {
        f->err = 1;
        return;
    }
    f->in_attr = 0;
    f->depth--;
    push(f, f->started[f->depth] ? K_END : K_CLOSE_EMPTY);
}

void vt_text(vt_frag *f, const char *utf8) {
    begin_value(f);
    vt_tok *t = push(f, K_TEXT);
    if (t) t->s = dup_str(f, utf8);
}

void vt_text16(vt_frag *f, const uint16_t *units, size_t nunits) {
    begin_value(f);
    vt_tok *t = push(f, K_TEXT16);
    if (!t) return;
    uint8_t *b = malloc(2 * nunits + 1);
    if (!b) {
        f->err = 1;
        return;
    }
    for (size_t i = 0; i < nunits; i++) vt_put16(b + 2 * i, units[i]);
    t->bytes = b, t->n = nunits;
}

void vt_subst(vt_frag *f, uint16_t idx, uint8_t type, int optional) {
    begin_value(f);
    vt_tok *t = push(f, K_SUBST);
    if (t) t->idx = idx, t->type = type, t->optional = optional != 0;
}

void vt_cdata(vt_frag *f, const char *utf8) {
    begin_content(f);
    vt_tok *t = push(f, K_CDATA);
    if (t) t->s = dup_str(f, utf8);
}

void vt_charref(vt_frag *f, uint16_t unit) {
    begin_value(f);
    vt_tok *t = push(f, K_CHARREF);
    if (t) t->idx = unit;
}

void vt_entref(vt_frag *f, const char *name) {
    begin_value(f);
    vt_tok *t = push(f, K_ENTREF);
    if (t) t->s = dup_str(f, name);
}

void vt_pi(vt_frag *f, const char *target, const char *data) {
    begin_content(f);
    vt_tok *t = push(f, K_PI);
    if (!t) return;
    t->s = dup_str(f, target);
    if (data) t->s2 = dup_str(f, data);
}

void vt_tinst(vt_frag *f, const vt_tmpl *tm, const vt_val *vals, size_t n) {
    begin_content(f);
    vt_tok *t = push(f, K_TINST);
    if (!t) return;
    t->tmpl = tm;
    if (!tm) f->err = 1;
    if (n) {
        t->bytes = malloc(n * sizeof *vals);
        if (!t->bytes) {
            f->err = 1;
            return;
        }
        memcpy(t->bytes, vals, n * sizeof *vals);
    }
    t->n = n;
}

void vt_raw(vt_frag *f, const void *p, size_t n) {
    vt_tok *t = push(f, K_RAW);
    if (!t) return;
    t->bytes = malloc(n ? n : 1);
    if (!t->bytes) {
        f->err = 1;
        return;
    }
    if (n) memcpy(t->bytes, p, n);
    t->n = n;
}

/* ---- templates ---- */

vt_tmpl *vt_tmpl_new(vt_frag *f, const char *seed) {
    if (!f) return NULL;
    vt_tmpl *t = vt_frag_err(f) ? NULL : calloc(1, sizeof *t);
    if (!t) {
        vt_frag_free(f);
        return NULL;
    }
    /* Two differently seeded FNV-1a passes give 16 bytes that stay the same run to run. */
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (const char *s = seed ? seed : ""; *s; s++) {
        h1 = (h1 ^ (uint8_t)*s) * 0x100000001b3ull;
        h2 = (h2 ^ (uint8_t)*s) * 0x100000001b3ull + 1;
    }
    vt_put64(t->guid, h1);
    vt_put64(t->guid + 8, h2);
    t->body = f;
    return t;
}

void vt_tmpl_free(vt_tmpl *t) {
    if (!t) return;
    vt_frag_free(t->body);
    free(t);
}

vt_tmpl *vt_tmpl_event(const vt_sysdef *d) {
    vt_frag *f = vt_frag_new();
    if (!f) return NULL;
    vt_open(f, "Event");
    vt_attr_text(f, "xmlns", "http://schemas.microsoft.com/win/2004/08/events/event");
    vt_open(f, "System");
    vt_open(f, "Provider");
    vt_attr_text(f, "Name", d->provider);
    if (d->guid) vt_attr_text(f, "Guid", d->guid);
    vt_close(f);
    vt_open(f, "EventID");
    vt_attr_subst(f, "Qualifiers", 4, VT_T_UINT16, 1);
    vt_subst(f, 3, VT_T_UINT16, 1);
    vt_close(f);
    static const struct {
        const char *name;
        uint16_t idx;
        uint8_t type;
    } simple[] = {{"Version", 11, VT_T_UINT8},
                  {"Level", 0, VT_T_UINT8},
                  {"Task", 2, VT_T_UINT16},
                  {"Opcode", 1, VT_T_UINT8},
                  {"Keywords", 5, VT_T_HEX64}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        vt_open(f, simple[i].name);
        vt_subst(f, simple[i].idx, simple[i].type, 1);
        vt_close(f);
    }
    vt_open(f, "TimeCreated");
    vt_attr_subst(f, "SystemTime", 6, VT_T_FILETIME, 1);
    vt_close(f);
    vt_open(f, "EventRecordID");
    vt_subst(f, 10, VT_T_UINT64, 1);
    vt_close(f);
    vt_open(f, "Correlation");
    vt_attr_subst(f, "ActivityID", 7, VT_T_GUID, 1);
    vt_attr_subst(f, "RelatedActivityID", 18, VT_T_GUID, 1);
    vt_close(f);
    vt_open(f, "Execution");
    vt_attr_subst(f, "ProcessID", 8, VT_T_UINT32, 1);
    vt_attr_subst(f, "ThreadID", 9, VT_T_UINT32, 1);
    vt_close(f);
    vt_open(f, "Channel");
    vt_text(f, d->channel);
    vt_close(f);
    vt_open(f, "Computer");
    vt_text(f, d->computer);
    vt_close(f);
    vt_open(f, "Security");
    vt_attr_subst(f, "UserID", 12, VT_T_SID, 1);
    vt_close(f);
    vt_close(f); /* System */
    /* As Windows does it: an EventData payload brings its own <EventData> element, a UserData
     * payload sits inside the template's <UserData>. */
    if (d->user_data) vt_open(f, "UserData");
    vt_subst(f, VT_SYS_PAYLOAD, VT_T_BINXML, 1);
    if (d->user_data) vt_close(f);
    vt_close(f); /* Event */
    char seed[512];
    snprintf(seed, sizeof seed, "event|%s|%s|%s|%s|%d", d->provider, d->guid ? d->guid : "",
             d->channel, d->computer, d->user_data);
    if (vt_frag_err(f)) {
        vt_frag_free(f);
        return NULL;
    }
    return vt_tmpl_new(f, seed);
}

vt_tmpl *vt_tmpl_data(const char *const *names, const uint8_t *types, size_t n, const char *wrapper,
                      const char *ns) {
    vt_frag *f = vt_frag_new();
    if (!f) return NULL;
    uint64_t h = 0xcbf29ce484222325ull;
    vt_open(f, wrapper ? wrapper : "EventData");
    if (wrapper && ns) vt_attr_text(f, "xmlns", ns);
    for (size_t i = 0; i < n; i++) {
        if (wrapper) {
            vt_open(f, names[i]);
        } else {
            vt_open(f, "Data");
            vt_attr_text(f, "Name", names[i]);
        }
        vt_subst(f, (uint16_t)i, types[i], 0);
        vt_close(f);
        for (const char *s = names[i]; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
        h = (h ^ types[i]) * 0x100000001b3ull;
    }
    vt_close(f);
    if (vt_frag_err(f)) {
        vt_frag_free(f);
        return NULL;
    }
    char seed[300];
    snprintf(seed, sizeof seed, "data|%s|%s|%016llx", wrapper ? wrapper : "", ns ? ns : "",
             (unsigned long long)h);
    return vt_tmpl_new(f, seed);
}

void vt_sysvals_fill(vt_val v[VT_SYS_NVALS], const vt_sysvals *s, vt_val payload) {
    for (int i = 0; i < VT_SYS_NVALS; i++) v[i] = vt_v_null();
    v[0] = vt_v_u8(s->level);
    v[1] = vt_v_u8(s->opcode);
    v[2] = vt_v_u16(s->task);
    v[3] = vt_v_u16(s->event_id);
    v[5] = vt_v_hex64(s->keywords);
    v[6] = vt_v_filetime(s->time);
    if (s->activity_id) v[7] = vt_v_guid(s->activity_id);
    v[8] = vt_v_u32(s->pid);
    v[9] = vt_v_u32(s->tid);
    v[10] = vt_v_u64(s->record_id);
    v[11] = vt_v_u8(s->version);
    if (s->user_sid) v[12] = vt_v_sid(s->user_sid);
    v[VT_SYS_PAYLOAD] = payload;
}

/* ---- chunk serialisation ---- */

typedef struct vt_name {
    size_t str; /* offset of the UTF-8 text in the chunk's name pool */
    size_t len;
    uint32_t off; /* chunk offset of the name structure */
    uint16_t hash;
} vt_name;

typedef struct vt_tdef {
    const vt_tmpl *t;
    uint32_t off; /* chunk offset of the definition */
} vt_tdef;

typedef struct vt_chunk {
    uint8_t *b; /* VT_CHUNK_SIZE bytes */
    uint32_t pos;
    int over; /* a write went past the chunk */
    int bad;  /* the record cannot be written at all */
    vt_name *names;
    size_t nnames, capnames;
    char *pool;
    size_t plen, pcap;
    vt_tdef *tdefs;
    size_t ntdefs, captdefs;
    uint64_t first_id, last_id;
    uint32_t last_off, nrecs;
    uint32_t rec_name, rec_subst; /* for vt_rec_info */
} vt_chunk;

static void w8(vt_chunk *c, uint8_t v) {
    if (c->pos < VT_CHUNK_SIZE)
        c->b[c->pos] = v;
    else
        c->over = 1;
    if (c->pos < UINT32_MAX) c->pos++;
}

static void wbytes(vt_chunk *c, const void *p, size_t n) {
    const uint8_t *s = p;
    if (c->pos <= VT_CHUNK_SIZE && n <= VT_CHUNK_SIZE - c->pos) {
        memcpy(c->b + c->pos, s, n);
        c->pos += (uint32_t)n;
        return;
    }
    c->over = 1;
    c->pos = n > UINT32_MAX - c->pos ? UINT32_MAX : c->pos + (uint32_t)n;
}

static void w16(vt_chunk *c, uint16_t v) {
    uint8_t b[2];
    vt_put16(b, v);
    wbytes(c, b, 2);
}

static void w32(vt_chunk *c, uint32_t v) {
    uint8_t b[4];
    vt_put32(b, v);
    wbytes(c, b, 4);
}

static void w64(vt_chunk *c, uint64_t v) {
    uint8_t b[8];
    vt_put64(b, v);
    wbytes(c, b, 8);
}

static void patch16(vt_chunk *c, uint32_t at, uint16_t v) {
    if (at <= VT_CHUNK_SIZE - 2) vt_put16(c->b + at, v);
}

static void patch32(vt_chunk *c, uint32_t at, uint32_t v) {
    if (at <= VT_CHUNK_SIZE - 4) vt_put32(c->b + at, v);
}

/* UTF-8 text as UTF-16LE units; returns the unit count, *hash (if given) gets the name hash
 * (h = h * 65599 + unit over every unit, low 16 bits kept). */
static uint32_t put_utf16(vt_chunk *c, const char *s, size_t n, uint32_t *hash) {
    const unsigned char *u = (const unsigned char *)s;
    uint32_t units = 0, h = 0;
    for (size_t i = 0; i < n;) {
        size_t used;
        uint32_t cp = utf8_next(u + i, n - i, &used);
        i += used;
        uint16_t out[2];
        int k = 1;
        if (cp >= 0x10000) {
            out[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
            out[1] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
            k = 2;
        } else {
            out[0] = (uint16_t)cp;
        }
        for (int j = 0; j < k; j++) {
            w16(c, out[j]);
            h = h * 65599u + out[j];
            units++;
        }
    }
    if (hash) *hash = h;
    return units;
}

/* Length-prefixed UTF-16 string (u16 count, units): text, CDATA, PI data. */
static void put_lstr(vt_chunk *c, const char *s) {
    uint32_t at = c->pos;
    w16(c, 0);
    uint32_t units = put_utf16(c, s, strlen(s), NULL);
    if (units > 0xffff) c->bad = 1;
    patch16(c, at, (uint16_t)units);
}

/* Name reference: the offset of the chunk's copy of the name, written inline on first use. */
static void put_name(vt_chunk *c, const char *s) {
    size_t len = strlen(s);
    for (size_t i = 0; i < c->nnames; i++) {
        const vt_name *n = &c->names[i];
        if (n->len == len && !memcmp(c->pool + n->str, s, len)) {
            w32(c, n->off);
            return;
        }
    }
    uint32_t off = c->pos + 4;
    w32(c, off);
    w32(c, 0); /* next name in the same hash bucket: linked when the chunk is closed */
    uint32_t hpos = c->pos;
    w16(c, 0);
    w16(c, 0);
    uint32_t hash;
    uint32_t units = put_utf16(c, s, len, &hash);
    w16(c, 0);
    if (units > 0xffff) c->bad = 1;
    patch16(c, hpos, (uint16_t)hash);
    patch16(c, hpos + 2, (uint16_t)units);
    if (c->nnames == c->capnames) {
        size_t cap = c->capnames ? c->capnames * 2 : 64;
        vt_name *nn = realloc(c->names, cap * sizeof *nn);
        if (!nn) {
            c->bad = 1;
            return;
        }
        c->names = nn, c->capnames = cap;
    }
    if (c->plen + len + 1 > c->pcap) {
        size_t cap = c->pcap ? c->pcap : 1024;
        while (cap < c->plen + len + 1) cap *= 2;
        char *np = realloc(c->pool, cap);
        if (!np) {
            c->bad = 1;
            return;
        }
        c->pool = np, c->pcap = cap;
    }
    memcpy(c->pool + c->plen, s, len + 1);
    c->names[c->nnames++] = (vt_name){c->plen, len, off, (uint16_t)hash};
    c->plen += len + 1;
    if (!c->rec_name) c->rec_name = off;
}

static void put_frag(vt_chunk *c, const vt_frag *f, int in_tmpl, int nest);
static void put_tinst(vt_chunk *c, const vt_tmpl *t, const vt_val *vals, size_t n, int nest);

static void put_val(vt_chunk *c, const vt_val *v, int nest) {
    switch (v->enc) {
    case VT_ENC_INLINE:
        wbytes(c, v->inl, v->n);
        break;
    case VT_ENC_RAW:
        wbytes(c, v->p, v->n);
        break;
    case VT_ENC_UTF8:
        put_utf16(c, v->p, v->n, NULL);
        break;
    case VT_ENC_UTF8_LIST: {
        const char *const *items = v->p;
        for (uint32_t i = 0; i < v->n; i++) {
            put_utf16(c, items[i], strlen(items[i]), NULL);
            w16(c, 0);
        }
        break;
    }
    case VT_ENC_FRAG:
        put_frag(c, v->p, 0, nest + 1);
        break;
    default:
        c->bad = 1;
        break;
    }
}

static void put_tinst(vt_chunk *c, const vt_tmpl *t, const vt_val *vals, size_t n, int nest) {
    if (!t || nest > VT_NEST_MAX || n > 0xffff) {
        c->bad = 1;
        return;
    }
    w8(c, 0x0c);
    w8(c, 0x01);
    wbytes(c, t->guid, 4);
    size_t k;
    for (k = 0; k < c->ntdefs && c->tdefs[k].t != t; k++) {}
    if (k < c->ntdefs) {
        w32(c, c->tdefs[k].off);
    } else {
        uint32_t def = c->pos + 4;
        w32(c, def);
        if (c->ntdefs == c->captdefs) {
            size_t cap = c->captdefs ? c->captdefs * 2 : 16;
            vt_tdef *nt = realloc(c->tdefs, cap * sizeof *nt);
            if (!nt) {
                c->bad = 1;
                return;
            }
            c->tdefs = nt, c->captdefs = cap;
        }
        c->tdefs[c->ntdefs++] = (vt_tdef){t, def};
        w32(c, 0); /* next template in the same bucket: linked when the chunk is closed */
        wbytes(c, t->guid, 16);
        uint32_t szpos = c->pos;
        w32(c, 0);
        put_frag(c, t->body, 1, nest + 1);
        patch32(c, szpos, c->pos - szpos - 4);
    }
    if (!c->rec_subst) c->rec_subst = c->pos;
    w32(c, (uint32_t)n);
    uint32_t desc = c->pos;
    for (size_t i = 0; i < n; i++) {
        w16(c, 0); /* size: known once the value is written */
        w8(c, vals[i].type);
        w8(c, 0);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t start = c->pos;
        put_val(c, &vals[i], nest);
        uint32_t sz = c->pos - start;
        if (sz > 0xffff) c->bad = 1;
        patch16(c, desc + 4 * (uint32_t)i, (uint16_t)sz);
    }
}

typedef struct vt_elem {
    uint32_t size_pos; /* of the element's data size */
    uint32_t attr_pos; /* of the attribute list size, 0 if none */
    uint32_t attr_start;
} vt_elem;

/* Is another attribute of the same element coming after token i? */
static int more_attrs(const vt_tok *t, size_t n, size_t i) {
    for (size_t j = i + 1; j < n; j++) {
        switch (t[j].kind) {
        case K_ATTR:
            return 1;
        case K_TEXT:
        case K_TEXT16:
        case K_SUBST:
        case K_CHARREF:
        case K_ENTREF:
        case K_RAW:
            continue;
        default:
            return 0;
        }
    }
    return 0;
}

static void close_attrs(vt_chunk *c, vt_elem *e) {
    if (e->attr_pos) patch32(c, e->attr_pos, c->pos - e->attr_start);
}

static void put_frag(vt_chunk *c, const vt_frag *f, int in_tmpl, int nest) {
    if (!f || f->err || nest > VT_NEST_MAX) {
        c->bad = 1;
        return;
    }
    vt_elem st[VT_FRAG_DEPTH];
    int sp = 0;
    w8(c, 0x0f);
    w8(c, 0x01);
    w8(c, 0x01);
    w8(c, 0x00);
    for (size_t i = 0; i < f->n; i++) {
        const vt_tok *t = &f->t[i];
        switch (t->kind) {
        case K_OPEN: {
            int attrs = i + 1 < f->n && f->t[i + 1].kind == K_ATTR;
            w8(c, attrs ? 0x41 : 0x01);
            if (in_tmpl) w16(c, 0xffff); /* dependency identifier: none */
            if (sp == VT_FRAG_DEPTH) {
                c->bad = 1;
                return;
            }
            vt_elem *e = &st[sp++];
            e->size_pos = c->pos;
            w32(c, 0);
            put_name(c, t->s);
            e->attr_pos = 0;
            if (attrs) {
                e->attr_pos = c->pos;
                w32(c, 0);
                e->attr_start = c->pos;
            }
            break;
        }
        case K_ATTR:
            w8(c, more_attrs(f->t, f->n, i) ? 0x46 : 0x06);
            put_name(c, t->s);
            break;
        case K_CLOSE_START:
            if (sp) close_attrs(c, &st[sp - 1]);
            w8(c, 0x02);
            break;
        case K_CLOSE_EMPTY:
        case K_END:
            if (t->kind == K_CLOSE_EMPTY && sp) close_attrs(c, &st[sp - 1]);
            w8(c, t->kind == K_END ? 0x04 : 0x03);
            if (sp) {
                sp--;
                patch32(c, st[sp].size_pos, c->pos - st[sp].size_pos - 4);
            }
            break;
        case K_TEXT:
            w8(c, 0x05);
            w8(c, VT_T_STRING);
            put_lstr(c, t->s);
            break;
        case K_TEXT16:
            w8(c, 0x05);
            w8(c, VT_T_STRING);
            w16(c, (uint16_t)t->n);
            wbytes(c, t->bytes, 2 * t->n);
            break;
        case K_CDATA:
            w8(c, 0x07);
            put_lstr(c, t->s);
            break;
        case K_CHARREF:
            w8(c, 0x08);
            w16(c, t->idx);
            break;
        case K_ENTREF:
            w8(c, 0x09);
            put_name(c, t->s);
            break;
        case K_PI:
            w8(c, 0x0a);
            put_name(c, t->s);
            if (t->s2) {
                w8(c, 0x0b);
                put_lstr(c, t->s2);
            }
            break;
        case K_SUBST:
            w8(c, t->optional ? 0x0e : 0x0d);
            w16(c, t->idx);
            w8(c, t->type);
            break;
        case K_TINST:
            put_tinst(c, t->tmpl, t->bytes, t->n, nest);
            break;
        case K_RAW:
            wbytes(c, t->bytes, t->n);
            break;
        default:
            c->bad = 1;
            break;
        }
    }
    w8(c, 0x00);
}

/* Link names and templates into the header's hash tables, then checksum the chunk. */
static void chunk_close(vt_chunk *c, const vt_crc *crc) {
    uint8_t *b = c->b;
    memcpy(b, "ElfChnk", 8);
    vt_put64(b + 8, c->first_id);
    vt_put64(b + 16, c->last_id);
    vt_put64(b + 24, c->first_id);
    vt_put64(b + 32, c->last_id);
    vt_put32(b + 40, 128);
    vt_put32(b + 44, c->last_off);
    vt_put32(b + 48, c->pos);
    memset(b + 128, 0, 384);
    for (size_t i = 0; i < c->nnames; i++) {
        uint8_t *bucket = b + 128 + 4 * (c->names[i].hash % 64);
        vt_put32(b + c->names[i].off, vt_get32(bucket));
        vt_put32(bucket, c->names[i].off);
    }
    for (size_t i = 0; i < c->ntdefs; i++) {
        uint8_t *bucket = b + 384 + 4 * (vt_get32(c->tdefs[i].t->guid) % 32);
        vt_put32(b + c->tdefs[i].off, vt_get32(bucket));
        vt_put32(bucket, c->tdefs[i].off);
    }
    vt_put32(b + 52, crc_run(crc, 0, b + 512, c->pos - 512));
    vt_put32(b + 124, crc_run(crc, crc_run(crc, 0, b, 120), b + 128, 384));
}

static void chunk_reset(vt_chunk *c) {
    memset(c->b, 0, VT_CHUNK_SIZE);
    c->pos = 512;
    c->over = c->bad = 0;
    c->nnames = c->plen = c->ntdefs = 0;
    c->nrecs = 0;
    c->first_id = c->last_id = 0;
    c->last_off = 0;
}

/* ---- files ---- */

struct vt_evtx {
    vt_evtx_opts o;
    vt_crc crc;
    vt_chunk c;
    int active;       /* c holds a chunk being filled */
    uint32_t nchunks; /* chunk slots written */
    uint64_t next_id;
    long hdr_pos; /* FILE mode: where the header goes */
    uint8_t *mem; /* memory mode: the file so far */
    size_t len, cap;
    int err;
};

static int sink(vt_evtx *w, const void *p, size_t n) {
    if (w->o.out) {
        if (fwrite(p, 1, n, w->o.out) != n) w->err = 1;
        return w->err ? -1 : 0;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4 * VT_CHUNK_SIZE;
        while (cap < w->len + n) cap *= 2;
        uint8_t *m = realloc(w->mem, cap);
        if (!m) {
            w->err = 1;
            return -1;
        }
        w->mem = m, w->cap = cap;
    }
    memcpy(w->mem + w->len, p, n);
    w->len += n;
    return 0;
}

vt_evtx *vt_evtx_new(const vt_evtx_opts *o) {
    vt_evtx *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    if (o)
        w->o = *o;
    else
        w->o.hdr_chunks = -1;
    crc_init(&w->crc);
    w->next_id = w->o.first_id ? w->o.first_id : 1;
    w->c.b = malloc(VT_CHUNK_SIZE);
    if (!w->c.b) {
        free(w);
        return NULL;
    }
    /* The header is written last, once the chunk count is known: reserve its place. */
    static const uint8_t zero[VT_HEADER_SIZE];
    if (w->o.out) w->hdr_pos = ftell(w->o.out);
    if (sink(w, zero, sizeof zero) || w->hdr_pos < 0) {
        vt_evtx_free(w);
        return NULL;
    }
    return w;
}

void vt_evtx_free(vt_evtx *w) {
    if (!w) return;
    free(w->c.b);
    free(w->c.names);
    free(w->c.pool);
    free(w->c.tdefs);
    free(w->mem);
    free(w);
}

uint64_t vt_evtx_next_id(const vt_evtx *w) {
    return w->next_id;
}

uint32_t vt_evtx_nchunks(const vt_evtx *w) {
    return w->nchunks + (w->active ? 1 : 0);
}

int vt_evtx_end_chunk(vt_evtx *w) {
    if (!w->active) return w->err ? -1 : 0;
    w->active = 0;
    if (!w->c.nrecs) return 0;
    chunk_close(&w->c, &w->crc);
    w->nchunks++;
    return sink(w, w->c.b, VT_CHUNK_SIZE);
}

int vt_evtx_add_empty_chunk(vt_evtx *w) {
    if (vt_evtx_end_chunk(w)) return -1;
    memset(w->c.b, 0, VT_CHUNK_SIZE);
    w->nchunks++;
    return sink(w, w->c.b, VT_CHUNK_SIZE);
}

/* Write one record into the current chunk.  0 written, 1 does not fit, -1 cannot be written. */
static int try_record(vt_evtx *w, uint64_t written, const vt_frag *body, const vt_tmpl *t,
                      const vt_val *vals, size_t n, vt_rec_info *info) {
    vt_chunk *c = &w->c;
    if (!w->active) {
        chunk_reset(c);
        w->active = 1;
    }
    uint32_t start = c->pos;
    size_t nnames = c->nnames, plen = c->plen, ntdefs = c->ntdefs;
    c->over = c->bad = 0;
    c->rec_name = c->rec_subst = 0;
    wbytes(c, "**\0\0", 4);
    w32(c, 0);
    w64(c, w->next_id);
    w64(c, written);
    if (body) {
        put_frag(c, body, 0, 0);
    } else {
        w8(c, 0x0f);
        w8(c, 0x01);
        w8(c, 0x01);
        w8(c, 0x00);
        put_tinst(c, t, vals, n, 0);
        w8(c, 0x00);
    }
    /* Records keep 8-byte alignment, which readers rely on to resynchronise. */
    while ((c->pos - start + 4) % 8) w8(c, 0);
    uint32_t size = c->pos - start + 4;
    w32(c, size);
    patch32(c, start + 4, size);
    if (c->over || c->bad) {
        uint32_t end = c->pos < VT_CHUNK_SIZE ? c->pos : VT_CHUNK_SIZE;
        if (end > start) memset(c->b + start, 0, end - start);
        c->pos = start;
        c->nnames = nnames, c->plen = plen, c->ntdefs = ntdefs;
        return c->bad ? -1 : 1;
    }
    if (!c->nrecs) c->first_id = w->next_id;
    c->last_id = w->next_id;
    c->last_off = start;
    c->nrecs++;
    if (info) {
        info->id = w->next_id;
        info->chunk = w->nchunks;
        info->off = start;
        info->file_off = VT_HEADER_SIZE + (uint64_t)w->nchunks * VT_CHUNK_SIZE + start;
        info->size = size;
        info->subst_count_off = c->rec_subst;
        info->name_off = c->rec_name;
    }
    w->next_id++;
    return 0;
}

static int add_record(vt_evtx *w, uint64_t written, const vt_frag *body, const vt_tmpl *t,
                      const vt_val *vals, size_t n, vt_rec_info *info) {
    if (w->err || (body && vt_frag_err(body))) return -1;
    int r = try_record(w, written, body, t, vals, n, info);
    if (r != 1) return r;
    if (!w->c.nrecs) return -1; /* does not fit an empty chunk */
    if (vt_evtx_end_chunk(w)) return -1;
    r = try_record(w, written, body, t, vals, n, info);
    return r ? -1 : 0;
}

int vt_evtx_add(vt_evtx *w, uint64_t written, const vt_frag *body, vt_rec_info *info) {
    return body ? add_record(w, written, body, NULL, NULL, 0, info) : -1;
}

int vt_evtx_add_tinst(vt_evtx *w, uint64_t written, const vt_tmpl *t, const vt_val *vals, size_t n,
                      vt_rec_info *info) {
    return t ? add_record(w, written, NULL, t, vals, n, info) : -1;
}

int vt_evtx_finish(vt_evtx *w, uint8_t **data, size_t *len) {
    if (vt_evtx_end_chunk(w)) return -1;
    uint8_t h[VT_HEADER_SIZE];
    memset(h, 0, sizeof h);
    memcpy(h, "ElfFile", 8);
    vt_put64(h + 8, 0);
    vt_put64(h + 16, w->nchunks ? w->nchunks - 1 : 0);
    vt_put64(h + 24, w->next_id);
    vt_put32(h + 32, 128);
    vt_put16(h + 36, 1); /* minor version */
    vt_put16(h + 38, 3); /* major version */
    vt_put16(h + 40, VT_HEADER_SIZE);
    uint32_t count = w->o.hdr_chunks >= 0 ? (uint32_t)w->o.hdr_chunks : w->nchunks;
    vt_put16(h + 42, (uint16_t)count); /* 16 bits on disk: files past 4 GiB wrap, as in Windows */
    vt_put32(h + 120, w->o.flags);
    vt_put32(h + 124, crc_run(&w->crc, 0, h, 120));
    if (w->o.out) {
        if (fseek(w->o.out, w->hdr_pos, SEEK_SET) || fwrite(h, 1, sizeof h, w->o.out) != sizeof h ||
            fseek(w->o.out, 0, SEEK_END) || fflush(w->o.out))
            w->err = 1;
        if (data) *data = NULL;
        if (len) *len = 0;
        return w->err ? -1 : 0;
    }
    if (w->err || !data || !len) return -1;
    memcpy(w->mem, h, sizeof h);
    *data = w->mem, *len = w->len;
    w->mem = NULL, w->len = w->cap = 0;
    return 0;
}

/* ---- images ---- */

void vt_img_fix_chunk(uint8_t *img, size_t len, uint32_t idx) {
    size_t base = VT_HEADER_SIZE + (size_t)idx * VT_CHUNK_SIZE;
    if (base > len || len - base < VT_CHUNK_SIZE) return;
    uint8_t *b = img + base;
    uint32_t free_off = vt_get32(b + 48);
    if (free_off >= 512 && free_off <= VT_CHUNK_SIZE)
        vt_put32(b + 52, vt_crc32(0, b + 512, free_off - 512));
    vt_put32(b + 124, vt_crc32(vt_crc32(0, b, 120), b + 128, 384));
}

void vt_img_fix_chunk_header(uint8_t *img, size_t len, uint32_t idx) {
    size_t base = VT_HEADER_SIZE + (size_t)idx * VT_CHUNK_SIZE;
    if (base > len || len - base < 512) return;
    uint8_t *b = img + base;
    vt_put32(b + 124, vt_crc32(vt_crc32(0, b, 120), b + 128, 384));
}

void vt_img_fix_header(uint8_t *img, size_t len) {
    if (len >= 128) vt_put32(img + 124, vt_crc32(0, img, 120));
}

uint64_t vt_filetime(int year, int month, int day, int hour, int minute, int second,
                     uint32_t ticks) {
    /* Days from 1601-01-01 by the proleptic Gregorian calendar, counted from March so that
     * the leap day comes last. */
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = month > 2 ? month - 3 : month + 9;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468; /* since 1970-01-01 */
    days += 134774;                             /* 1601-01-01 .. 1970-01-01 */
    int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second;
    return (uint64_t)secs * 10000000u + ticks;
}

/* ---- fixtures ---- */

/* One writer session for a fixture: templates for a Security-like event shape. */
typedef struct fx {
    vt_evtx *w;
    vt_tmpl *ev, *data, *ud_ev, *ud_data;
    uint64_t t0;
} fx;

static const char *const fx_names[] = {"SubjectUserSid", "TargetUserName", "LogonType", "IpAddress",
                                       "ProcessId"};
static const uint8_t fx_types[] = {VT_T_SID, VT_T_STRING, VT_T_UINT32, VT_T_STRING, VT_T_HEX64};

static void fx_free(fx *x) {
    vt_evtx_free(x->w);
    vt_tmpl_free(x->ev);
    vt_tmpl_free(x->data);
    vt_tmpl_free(x->ud_ev);
    vt_tmpl_free(x->ud_data);
}

static int fx_init(fx *x, const vt_evtx_opts *o) {
    memset(x, 0, sizeof *x);
    static const vt_sysdef sec = {"Microsoft-Windows-Security-Auditing",
                                  "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Security",
                                  "dc01.corp.example", 0};
    static const vt_sysdef log = {"Microsoft-Windows-Eventlog",
                                  "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}", "Security",
                                  "dc01.corp.example", 1};
    static const char *const ud_names[] = {"SubjectUserName", "SubjectLogonId"};
    static const uint8_t ud_types[] = {VT_T_STRING, VT_T_HEX64};
    vt_evtx_opts def = {NULL, 0, -1, 0};
    x->w = vt_evtx_new(o ? o : &def);
    x->ev = vt_tmpl_event(&sec);
    x->data = vt_tmpl_data(fx_names, fx_types, 5, NULL, NULL);
    x->ud_ev = vt_tmpl_event(&log);
    x->ud_data = vt_tmpl_data(ud_names, ud_types, 2, "LogFileCleared",
                              "http://manifests.microsoft.com/win/2004/08/windows/eventlog");
    x->t0 = vt_filetime(2024, 3, 1, 8, 0, 0, 1234567);
    if (!x->w || !x->ev || !x->data || !x->ud_ev || !x->ud_data) {
        fx_free(x);
        return -1;
    }
    return 0;
}

/* A 4624-shaped record; k varies the values.  Record k is written k seconds after t0. */
static int fx_logon(fx *x, uint32_t k, vt_rec_info *info) {
    char user[32], ip[32];
    snprintf(user, sizeof user, "user%u", (unsigned)k);
    snprintf(ip, sizeof ip, "10.0.%u.%u", (unsigned)(k / 250), (unsigned)(k % 250 + 1));
    vt_val dv[5] = {vt_v_sid("S-1-5-18"), vt_v_str(user), vt_v_u32(k % 2 ? 3 : 10), vt_v_str(ip),
                    vt_v_hex64(0x3e7 + k)};
    vt_frag *pl = vt_frag_new();
    if (!pl) return -1;
    vt_tinst(pl, x->data, dv, 5);
    uint64_t t = x->t0 + (uint64_t)k * 10000000u;
    vt_sysvals s = {
        4624, 2,        0,    0,   12544, 0x8020000000000000ull, t, vt_evtx_next_id(x->w),
        612,  1000 + k, NULL, NULL};
    vt_val v[VT_SYS_NVALS];
    vt_sysvals_fill(v, &s, vt_v_binxml(pl));
    int r = vt_evtx_add_tinst(x->w, t, x->ev, v, VT_SYS_NVALS, info);
    vt_frag_free(pl);
    return r;
}

/* A 1102-shaped record (UserData payload). */
static int fx_cleared(fx *x, uint32_t k, vt_rec_info *info) {
    vt_val dv[2] = {vt_v_str("admin"), vt_v_hex64(0x1f4c65full)};
    vt_frag *pl = vt_frag_new();
    if (!pl) return -1;
    vt_tinst(pl, x->ud_data, dv, 2);
    uint64_t t = x->t0 + (uint64_t)k * 10000000u;
    vt_sysvals s = {1102, 0,    4,    0,   104, 0x4020000000000000ull, t, vt_evtx_next_id(x->w),
                    732,  3728, NULL, NULL};
    vt_val v[VT_SYS_NVALS];
    vt_sysvals_fill(v, &s, vt_v_binxml(pl));
    int r = vt_evtx_add_tinst(x->w, t, x->ud_ev, v, VT_SYS_NVALS, info);
    vt_frag_free(pl);
    return r;
}

/* n logon records, then the image. */
static int fx_run(fx *x, uint32_t n, uint8_t **data, size_t *len, vt_fixinfo *info) {
    for (uint32_t k = 0; k < n; k++)
        if (fx_logon(x, k, NULL)) return -1;
    if (info) info->records = n;
    return vt_evtx_finish(x->w, data, len);
}

static void info_init(vt_fixinfo *i) {
    if (i) i->records = i->chunk = i->rec_off = i->bad_id = -1;
}

/* Records enough to fill most of two chunks and start a third. */
#define FX_MULTI 600

static int fix_basic(uint8_t **d, size_t *l, vt_fixinfo *i) {
    fx x;
    info_init(i);
    if (fx_init(&x, NULL)) return -1;
    int r = fx_logon(&x, 0, NULL) || fx_logon(&x, 1, NULL) || fx_cleared(&x, 2, NULL) ||
            fx_logon(&x, 3, NULL) || vt_evtx_finish(x.w, d, l);
    if (i) i->records = 4;
    fx_free(&x);
    return r ? -1 : 0;
}

/* Every value type in one EventData. */
static int fix_values(uint8_t **d, size_t *l, vt_fixinfo *i) {
    static const uint16_t lone[] = {'a', 0xd800, 'b', 0xdc00};
    static const uint8_t bin[] = {0xde, 0xad, 0xbe, 0xef};
    static const char *const strs[] = {"one", "two", "three"};
    uint8_t u32s[12];
    for (int k = 0; k < 3; k++) vt_put32(u32s + 4 * k, (uint32_t)(k + 1) * 100);
    vt_val v[] = {vt_v_null(),
                  vt_v_str("text \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
                  vt_v_str16(lone, 4),
                  vt_v_ansi("ansi \x80"),
                  vt_v_i8(-5),
                  vt_v_u8(250),
                  vt_v_i16(-300),
                  vt_v_u16(65000),
                  vt_v_i32(-70000),
                  vt_v_u32(4000000000u),
                  vt_v_i64(-5000000000ll),
                  vt_v_u64(18000000000000000000ull),
                  vt_v_r32(1.5f),
                  vt_v_r64(-0.25),
                  vt_v_bool(1),
                  vt_v_bin(bin, sizeof bin),
                  vt_v_guid("{01234567-89AB-CDEF-0123-456789ABCDEF}"),
                  vt_v_sizet32(0x1234),
                  vt_v_sizet64(0x123456789ull),
                  vt_v_filetime(vt_filetime(2021, 10, 20, 13, 39, 12, 7319042)),
                  vt_v_systime(2020, 2, 6, 29, 23, 59, 58, 999),
                  vt_v_sid("S-1-5-21-1004336348-1177238915-682003330-512"),
                  vt_v_hex32(0xbeef),
                  vt_v_hex64(0xfeedface),
                  vt_v_strarr(strs, 3),
                  vt_v_raw(VT_T_ARRAY | VT_T_UINT32, u32s, sizeof u32s)};
    enum { N = sizeof v / sizeof v[0] };
    const char *names[N];
    uint8_t types[N];
    char nb[N][8];
    for (int k = 0; k < N; k++) {
        snprintf(nb[k], sizeof nb[k], "v%02d", k);
        names[k] = nb[k], types[k] = v[k].type;
    }
    fx x;
    info_init(i);
    if (fx_init(&x, NULL)) return -1;
    vt_tmpl *t = vt_tmpl_data(names, types, N, NULL, NULL);
    vt_frag *pl = vt_frag_new();
    int r = -1;
    if (t && pl) {
        vt_tinst(pl, t, v, N);
        vt_sysvals s = {4688, 0, 0, 0, 0, 0, x.t0, 1, 4, 8, NULL, NULL};
        vt_val sv[VT_SYS_NVALS];
        vt_sysvals_fill(sv, &s, vt_v_binxml(pl));
        r = vt_evtx_add_tinst(x.w, x.t0, x.ev, sv, VT_SYS_NVALS, NULL) || vt_evtx_finish(x.w, d, l);
    }
    if (i) i->records = 1;
    vt_frag_free(pl);
    vt_tmpl_free(t);
    fx_free(&x);
    return r ? -1 : 0;
}

/* Elements outside templates and every token: attributes of several pieces, CDATA, character
 * and entity references, processing instructions. */
static int fix_tokens(uint8_t **d, size_t *l, vt_fixinfo *i) {
    vt_evtx_opts o = {NULL, 0, -1, 0};
    vt_evtx *w = vt_evtx_new(&o);
    vt_frag *f = vt_frag_new();
    int r = -1;
    info_init(i);
    if (w && f) {
        vt_open(f, "Event");
        vt_pi(f, "xml-stylesheet", "href=\"s.xsl\"");
        vt_open(f, "Item");
        vt_attr(f, "Mixed");
        vt_text(f, "a");
        vt_charref(f, '<');
        vt_entref(f, "amp");
        vt_text(f, "b");
        vt_close(f);
        vt_open(f, "Body");
        vt_text(f, "x < y");
        vt_cdata(f, "raw <b>");
        vt_charref(f, 0x263a);
        vt_close(f);
        vt_close(f);
        r = vt_evtx_add(w, vt_filetime(2024, 1, 1, 0, 0, 0, 0), f, NULL) || vt_evtx_finish(w, d, l);
    }
    if (i) i->records = 1;
    vt_frag_free(f);
    vt_evtx_free(w);
    return r ? -1 : 0;
}

/* Embedded binary XML two levels deep, an embedded fragment without a template, string and
 * integer arrays, optional substitutions left null. */
static int fix_nested(uint8_t **d, size_t *l, vt_fixinfo *i) {
    static const char *const files[] = {"a.txt", "b.txt", "c.txt"};
    uint8_t pids[8];
    vt_put32(pids, 4), vt_put32(pids + 4, 1234);
    vt_frag *inner = vt_frag_new(), *leaf = vt_frag_new(), *tf = vt_frag_new();
    fx x;
    int r = -1;
    info_init(i);
    if (fx_init(&x, NULL)) {
        vt_frag_free(inner), vt_frag_free(leaf), vt_frag_free(tf);
        return -1;
    }
    vt_tmpl *t = NULL;
    if (inner && leaf && tf) {
        /* <EventData><Data Name="File">%0</Data><Data Name="Pid">%1</Data>
         * <Data Name="Opt">%2?</Data><Detail>%3</Detail></EventData> */
        vt_open(tf, "EventData");
        vt_open(tf, "Data");
        vt_attr_text(tf, "Name", "File");
        vt_subst(tf, 0, VT_T_ARRAY | VT_T_STRING, 0);
        vt_close(tf);
        vt_open(tf, "Data");
        vt_attr_text(tf, "Name", "Pid");
        vt_subst(tf, 1, VT_T_ARRAY | VT_T_UINT32, 0);
        vt_close(tf);
        vt_open(tf, "Data");
        vt_attr_text(tf, "Name", "Opt");
        vt_subst(tf, 2, VT_T_STRING, 1);
        vt_close(tf);
        vt_open(tf, "Detail");
        vt_subst(tf, 3, VT_T_BINXML, 0);
        vt_close(tf);
        vt_close(tf);
        t = vt_tmpl_new(tf, "nested");
        tf = NULL;
    }
    if (t) {
        vt_open(leaf, "Leaf");
        vt_attr_text(leaf, "Kind", "plain");
        vt_text(leaf, "deep");
        vt_close(leaf);
        vt_val iv[4] = {vt_v_strarr(files, 3), vt_v_raw(VT_T_ARRAY | VT_T_UINT32, pids, 8),
                        vt_v_null(), vt_v_binxml(leaf)};
        vt_tinst(inner, t, iv, 4);
        vt_sysvals s = {4663, 1, 0, 0, 12800, 0x8020000000000000ull, x.t0, 1, 4, 88, NULL, NULL};
        vt_val v[VT_SYS_NVALS];
        vt_sysvals_fill(v, &s, vt_v_binxml(inner));
        r = vt_evtx_add_tinst(x.w, x.t0, x.ev, v, VT_SYS_NVALS, NULL) || vt_evtx_finish(x.w, d, l);
    }
    if (i) i->records = 1;
    vt_tmpl_free(t);
    vt_frag_free(tf), vt_frag_free(inner), vt_frag_free(leaf);
    fx_free(&x);
    return r ? -1 : 0;
}

/* Damage helpers: build FX_MULTI records (three chunks), then change one thing. */
static int fx_multi(uint8_t **d, size_t *l, vt_fixinfo *i) {
    fx x;
    info_init(i);
    if (fx_init(&x, NULL)) return -1;
    int r = fx_run(&x, FX_MULTI, d, l, i);
    fx_free(&x);
    return r;
}

static int fix_bad_records_crc(uint8_t **d, size_t *l, vt_fixinfo *i) {
    if (fx_multi(d, l, i)) return -1;
    /* The stored records CRC is covered by the header CRC: fix that one so only the records
     * CRC is wrong. */
    (*d)[VT_HEADER_SIZE + VT_CHUNK_SIZE + 52] ^= 0x01;
    vt_img_fix_chunk_header(*d, *l, 1);
    if (i) i->chunk = 1;
    return 0;
}

static int fix_bad_chunk_header_crc(uint8_t **d, size_t *l, vt_fixinfo *i) {
    if (fx_multi(d, l, i)) return -1;
    (*d)[VT_HEADER_SIZE + VT_CHUNK_SIZE + 124] ^= 0x80;
    if (i) i->chunk = 1;
    return 0;
}

static int fix_bad_file_crc(uint8_t **d, size_t *l, vt_fixinfo *i) {
    if (fx_multi(d, l, i)) return -1;
    (*d)[124] ^= 0x01;
    return 0;
}

static int fix_trunc_chunk(uint8_t **d, size_t *l, vt_fixinfo *i) {
    if (fx_multi(d, l, i)) return -1;
    /* Cut 20000 bytes into chunk 1, which is inside a record: find that one. */
    const uint32_t cut = 20000;
    const uint8_t *ck = *d + VT_HEADER_SIZE + VT_CHUNK_SIZE;
    uint32_t pos = 512, end = vt_get32(ck + 48);
    while (pos < end && pos + vt_get32(ck + pos + 4) <= cut) pos += vt_get32(ck + pos + 4);
    if (pos >= cut || pos >= end) return -1; /* the layout changed: the cut is between records */
    *l = VT_HEADER_SIZE + VT_CHUNK_SIZE + cut;
    if (i) {
        i->chunk = 1;
        i->rec_off = VT_HEADER_SIZE + VT_CHUNK_SIZE + pos;
        i->bad_id = (int64_t)(vt_get32(ck + pos + 8) | (uint64_t)vt_get32(ck + pos + 12) << 32);
    }
    return 0;
}

static int fix_trunc_header(uint8_t **d, size_t *l, vt_fixinfo *i) {
    if (fx_multi(d, l, i)) return -1;
    *l = 2000;
    return 0;
}

static int fix_bad_file_magic(uint8_t **d, size_t *l, vt_fixinfo *i) {
    if (fx_multi(d, l, i)) return -1;
    memcpy(*d, "ElfFilx", 8);
    vt_img_fix_header(*d, *l);
    return 0;
}

static int fix_not_evtx(uint8_t **d, size_t *l, vt_fixinfo *i) {
    if (fx_multi(d, l, i)) return -1;
    /* No file signature and no chunk signature where the first chunk should be. */
    memcpy(*d, "NotEvtx", 8);
    memcpy(*d + VT_HEADER_SIZE, "NotChnk", 8);
    return 0;
}

static int fix_bad_chunk_magic(uint8_t **d, size_t *l, vt_fixinfo *i) {
    if (fx_multi(d, l, i)) return -1;
    memcpy(*d + VT_HEADER_SIZE + VT_CHUNK_SIZE, "ElfChnX", 8);
    vt_img_fix_chunk(*d, *l, 1);
    if (i) i->chunk = 1;
    return 0;
}

/* One chunk of five records; record 2 (index 1) is damaged by dmg, CRCs fixed afterwards. */
static int fx_five(uint8_t **d, size_t *l, vt_fixinfo *i, vt_rec_info *ri) {
    fx x;
    info_init(i);
    if (fx_init(&x, NULL)) return -1;
    int r = 0;
    for (uint32_t k = 0; k < 5 && !r; k++) r = fx_logon(&x, k, k == 1 ? ri : NULL);
    if (!r) r = vt_evtx_finish(x.w, d, l);
    fx_free(&x);
    if (r) return -1;
    if (i) i->records = 5, i->chunk = 0, i->rec_off = (int64_t)ri->file_off, i->bad_id = 2;
    return 0;
}

static int fix_record_too_big(uint8_t **d, size_t *l, vt_fixinfo *i) {
    vt_rec_info ri;
    if (fx_five(d, l, i, &ri)) return -1;
    vt_put32(*d + ri.file_off + 4, 0x20000);
    vt_img_fix_chunk(*d, *l, 0);
    return 0;
}

static int fix_bad_record_magic(uint8_t **d, size_t *l, vt_fixinfo *i) {
    vt_rec_info ri;
    if (fx_five(d, l, i, &ri)) return -1;
    memcpy(*d + ri.file_off, "*#\0\0", 4);
    vt_img_fix_chunk(*d, *l, 0);
    return 0;
}

static int fix_subst_count(uint8_t **d, size_t *l, vt_fixinfo *i) {
    vt_rec_info ri;
    if (fx_five(d, l, i, &ri)) return -1;
    vt_put32(*d + VT_HEADER_SIZE + ri.subst_count_off, 0x00ffffff);
    vt_img_fix_chunk(*d, *l, 0);
    return 0;
}

static int fix_bad_token(uint8_t **d, size_t *l, vt_fixinfo *i) {
    vt_rec_info ri;
    if (fx_five(d, l, i, &ri)) return -1;
    /* The template instance token of record 2 becomes a token that does not exist. */
    (*d)[ri.file_off + 24 + 4] = 0xff;
    vt_img_fix_chunk(*d, *l, 0);
    return 0;
}

/* A record of its own elements whose first (inline) name claims 65535 characters. */
static int fix_name_overrun(uint8_t **d, size_t *l, vt_fixinfo *i) {
    fx x;
    info_init(i);
    if (fx_init(&x, NULL)) return -1;
    vt_frag *f = vt_frag_new();
    vt_rec_info ri;
    int r = -1;
    if (f) {
        vt_open(f, "Unique");
        vt_text(f, "only here");
        vt_close(f);
        r = fx_logon(&x, 0, NULL) || vt_evtx_add(x.w, x.t0, f, &ri) || fx_logon(&x, 2, NULL) ||
            vt_evtx_finish(x.w, d, l);
    }
    vt_frag_free(f);
    fx_free(&x);
    if (r) return -1;
    vt_put16(*d + VT_HEADER_SIZE + ri.name_off + 6, 0xffff);
    vt_img_fix_chunk(*d, *l, 0);
    if (i) i->records = 3, i->chunk = 0, i->rec_off = (int64_t)ri.file_off, i->bad_id = 2;
    return 0;
}

static int fix_extra_chunks(uint8_t **d, size_t *l, vt_fixinfo *i) {
    fx x;
    vt_evtx_opts o = {NULL, 0, 1, 0};
    info_init(i);
    if (fx_init(&x, &o)) return -1;
    int r = fx_run(&x, FX_MULTI, d, l, i);
    fx_free(&x);
    return r;
}

static int fix_empty_slots(uint8_t **d, size_t *l, vt_fixinfo *i) {
    fx x;
    vt_evtx_opts o = {NULL, 0, 1, 0};
    info_init(i);
    if (fx_init(&x, &o)) return -1;
    int r = 0;
    for (uint32_t k = 0; k < 10 && !r; k++) r = fx_logon(&x, k, NULL);
    if (!r)
        r = vt_evtx_end_chunk(x.w) || vt_evtx_add_empty_chunk(x.w) ||
            vt_evtx_add_empty_chunk(x.w) || vt_evtx_finish(x.w, d, l);
    if (i) i->records = 10;
    fx_free(&x);
    return r ? -1 : 0;
}

static int fix_dirty(uint8_t **d, size_t *l, vt_fixinfo *i) {
    fx x;
    vt_evtx_opts o = {NULL, VT_FLAG_DIRTY, -1, 0};
    info_init(i);
    if (fx_init(&x, &o)) return -1;
    int r = fx_run(&x, 3, d, l, i);
    fx_free(&x);
    return r;
}

static const vt_fixture fixtures[] = {
    {"basic", "four Security events, template reuse, one UserData event", fix_basic},
    {"multichunk", "600 events over three chunks", fx_multi},
    {"values", "one event with every substitution value type", fix_values},
    {"tokens", "elements outside templates, CDATA, references, PI", fix_tokens},
    {"nested", "embedded binary XML two deep, arrays, optional null", fix_nested},
    {"bad_records_crc", "chunk 1: records CRC32 mismatch", fix_bad_records_crc},
    {"bad_chunk_header_crc", "chunk 1: header CRC32 mismatch", fix_bad_chunk_header_crc},
    {"bad_file_crc", "file header CRC32 mismatch", fix_bad_file_crc},
    {"trunc_chunk", "file cut inside chunk 1", fix_trunc_chunk},
    {"trunc_header", "file cut inside its header", fix_trunc_header},
    {"bad_file_magic", "bad file signature, chunks intact", fix_bad_file_magic},
    {"not_evtx", "neither file nor chunk signature", fix_not_evtx},
    {"bad_chunk_magic", "chunk 1: bad signature", fix_bad_chunk_magic},
    {"record_too_big", "record 2: size larger than the chunk", fix_record_too_big},
    {"bad_record_magic", "record 2: bad record signature", fix_bad_record_magic},
    {"subst_count", "record 2: substitution count too large", fix_subst_count},
    {"bad_token", "record 2: unknown binary XML token", fix_bad_token},
    {"name_overrun", "record 2: name length runs past the chunk", fix_name_overrun},
    {"extra_chunks", "three chunks, header counts one", fix_extra_chunks},
    {"empty_slots", "one chunk and two all-zero chunk slots", fix_empty_slots},
    {"dirty", "dirty flag set in the file header", fix_dirty},
};

const vt_fixture *vt_fixture_list(size_t *n) {
    *n = sizeof fixtures / sizeof fixtures[0];
    return fixtures;
}

const vt_fixture *vt_fixture_find(const char *name) {
    for (size_t k = 0; k < sizeof fixtures / sizeof fixtures[0]; k++)
        if (!strcmp(fixtures[k].name, name)) return &fixtures[k];
    return NULL;
}
