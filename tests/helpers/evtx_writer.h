/*
 * evtx_writer.h - a small EVTX writer: the source of every EVTX fixture, fuzz seed, sample
 * log and benchmark input of the project (shared data is never copied into the repo).
 *
 * Three layers.  A vt_frag is a binary XML token list built with element/attribute/value calls
 * (it becomes a template body, a record body or an embedded fragment).  A vt_tmpl pairs a frag
 * with a GUID.  A vt_evtx writer lays records out in 64 KiB chunks the way Windows does: names
 * and template definitions inline on first use in a chunk and referenced by offset afterwards,
 * chunk string/template tables, CRC32s, and the file header last.  Chunks are streamed to a
 * FILE or kept in memory.  Damaged files are made from good ones with the vt_img_* helpers,
 * and vt_fixture_list() names every fixture the tests and the fuzzers start from.
 *
 * Nothing here shares code with the reader under src/evtx: the writer follows the format on
 * its own (own CRC32, own UTF-16 encoder), so a test that round-trips through both checks two
 * independent readings of the format.
 */
#ifndef VA_TESTS_HELPERS_EVTX_WRITER_H
#define VA_TESTS_HELPERS_EVTX_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VT_HEADER_SIZE 4096
#define VT_CHUNK_SIZE  65536

/* Substitution value types, numbered as in the format. */
enum {
    VT_T_NULL = 0x00,
    VT_T_STRING = 0x01,
    VT_T_ANSI = 0x02,
    VT_T_INT8 = 0x03,
    VT_T_UINT8 = 0x04,
    VT_T_INT16 = 0x05,
    VT_T_UINT16 = 0x06,
    VT_T_INT32 = 0x07,
    VT_T_UINT32 = 0x08,
    VT_T_INT64 = 0x09,
    VT_T_UINT64 = 0x0a,
    VT_T_REAL32 = 0x0b,
    VT_T_REAL64 = 0x0c,
    VT_T_BOOL = 0x0d,
    VT_T_BINARY = 0x0e,
    VT_T_GUID = 0x0f,
    VT_T_SIZET = 0x10,
    VT_T_FILETIME = 0x11,
    VT_T_SYSTIME = 0x12,
    VT_T_SID = 0x13,
    VT_T_HEX32 = 0x14,
    VT_T_HEX64 = 0x15,
    VT_T_BINXML = 0x21,
    VT_T_ARRAY = 0x80,
};

/* File header flags. */
#define VT_FLAG_DIRTY 1u
#define VT_FLAG_FULL  2u

/* ---- values ---- */

typedef struct vt_frag vt_frag;

/* How a value's bytes are produced when the record is written. */
enum { VT_ENC_INLINE, VT_ENC_RAW, VT_ENC_UTF8, VT_ENC_UTF8_LIST, VT_ENC_FRAG };

/* A substitution value.  Built by the vt_v_* constructors; small values are held inline, the
 * rest borrow the caller's memory, which must stay valid until the record has been added. */
typedef struct vt_val {
    uint8_t type;    /* as written in the value descriptor (may include VT_T_ARRAY) */
    uint8_t enc;     /* VT_ENC_* */
    uint32_t n;      /* bytes (INLINE, RAW, UTF8) or item count (UTF8_LIST) */
    const void *p;   /* RAW bytes, UTF8 text, array of UTF-8 strings, or a vt_frag */
    uint8_t inl[68]; /* INLINE bytes: room for a SID with 15 sub-authorities */
} vt_val;

vt_val vt_v_null(void);
vt_val vt_v_str(const char *utf8); /* UTF-16LE, no terminator */
/* Raw code units (lone surrogates), at most 34 of them: more give a null value. */
vt_val vt_v_str16(const uint16_t *units, size_t nunits);
vt_val vt_v_ansi(const char *bytes);
vt_val vt_v_i8(int8_t v);
vt_val vt_v_u8(uint8_t v);
vt_val vt_v_i16(int16_t v);
vt_val vt_v_u16(uint16_t v);
vt_val vt_v_i32(int32_t v);
vt_val vt_v_u32(uint32_t v);
vt_val vt_v_i64(int64_t v);
vt_val vt_v_u64(uint64_t v);
vt_val vt_v_r32(float v);
vt_val vt_v_r64(double v);
vt_val vt_v_bool(uint32_t v); /* stored as u32: any nonzero value is true */
vt_val vt_v_bin(const void *p, size_t n);
/* "{01234567-89AB-CDEF-0123-456789ABCDEF}" (braces optional); a malformed text gives zeros. */
vt_val vt_v_guid(const char *text);
vt_val vt_v_sizet32(uint32_t v);
vt_val vt_v_sizet64(uint64_t v);
vt_val vt_v_filetime(uint64_t ft);
vt_val vt_v_systime(uint16_t year, uint16_t month, uint16_t weekday, uint16_t day, uint16_t hour,
                    uint16_t minute, uint16_t second, uint16_t ms);
/* "S-1-5-21-1-2-3-500"; a malformed text gives a null value. */
vt_val vt_v_sid(const char *text);
vt_val vt_v_hex32(uint32_t v);
vt_val vt_v_hex64(uint64_t v);
/* Embedded binary XML: frag is written as a nested fragment (header, tokens, EOF). */
vt_val vt_v_binxml(const vt_frag *frag);
/* String array: items written as NUL-terminated UTF-16 strings one after the other. */
vt_val vt_v_strarr(const char *const *items, size_t n);
/* Any other value: type and bytes as given (arrays of fixed-size items, odd sizes). */
vt_val vt_v_raw(uint8_t type, const void *p, size_t n);

/* ---- fragments ---- */

/* Empty token list; free with vt_frag_free.  NULL if out of memory. */
vt_frag *vt_frag_new(void);
void vt_frag_free(vt_frag *f);
/* 0 if every call so far succeeded, -1 after an allocation failure or a misplaced token. */
int vt_frag_err(const vt_frag *f);

/* Builder calls.  The frag inserts "close start tag" (0x02) before an element's first content
 * and chooses close-empty (0x03) or end (0x04) in vt_close; names and text are copied. */
void vt_open(vt_frag *f, const char *name);
/* Attribute: its value is the value calls that follow (text, substitutions, references) up to
 * the next vt_attr/vt_open/vt_close/vt_content. */
void vt_attr(vt_frag *f, const char *name);
void vt_attr_text(vt_frag *f, const char *name, const char *utf8);
void vt_attr_subst(vt_frag *f, const char *name, uint16_t idx, uint8_t type, int optional);
/* End the attribute list now (0x02), so that vt_close writes end element even without content. */
void vt_content(vt_frag *f);
void vt_close(vt_frag *f);
/* Value text (0x05, string type). */
void vt_text(vt_frag *f, const char *utf8);
void vt_text16(vt_frag *f, const uint16_t *units, size_t nunits);
/* Substitution: 0x0d, or 0x0e when optional. */
void vt_subst(vt_frag *f, uint16_t idx, uint8_t type, int optional);
void vt_cdata(vt_frag *f, const char *utf8);
void vt_charref(vt_frag *f, uint16_t unit);
void vt_entref(vt_frag *f, const char *name);
/* Processing instruction: target (0x0a) and, unless data is NULL, data (0x0b). */
void vt_pi(vt_frag *f, const char *target, const char *data);
/* Template instance with its values (the array is copied; what values borrow is not). */
struct vt_tmpl;
void vt_tinst(vt_frag *f, const struct vt_tmpl *t, const vt_val *vals, size_t n);
/* Bytes written as they are, for damaged records. */
void vt_raw(vt_frag *f, const void *p, size_t n);

/* ---- templates ---- */

typedef struct vt_tmpl {
    uint8_t guid[16]; /* the instance's template id is its first four bytes */
    vt_frag *body;    /* owned */
} vt_tmpl;

/* Template whose body is f (taken over: freed with the template, or at once on failure) and
 * whose GUID is derived from seed, so fixtures are reproducible.  NULL if f is NULL, has
 * unclosed elements or failed calls, or memory runs out. */
vt_tmpl *vt_tmpl_new(vt_frag *f, const char *seed);
void vt_tmpl_free(vt_tmpl *t);

/* ---- Windows-shaped events ---- */

/* Constant parts of an <Event> template: text written in the template itself. */
typedef struct vt_sysdef {
    const char *provider, *guid; /* guid may be NULL (classic providers have none) */
    const char *channel, *computer;
    int user_data; /* payload is <UserData> (1) or <EventData> (0) */
} vt_sysdef;

/* Number of values an <Event> template instance takes, and their indices.  The layout is the
 * one Windows uses for manifest-based events: 0 Level, 1 Opcode, 2 Task, 3 EventID, 4 EventID
 * Qualifiers, 5 Keywords, 6 TimeCreated, 7 ActivityID, 8 ProcessID, 9 ThreadID,
 * 10 EventRecordID, 11 Version, 12 UserID, 18 RelatedActivityID, 19 the payload (binary XML). */
#define VT_SYS_NVALS   20
#define VT_SYS_PAYLOAD 19

/* The <Event> template for def: System with substitutions, then <EventData> or <UserData>
 * holding value 19.  Caller frees with vt_tmpl_free; NULL if out of memory. */
vt_tmpl *vt_tmpl_event(const vt_sysdef *def);
/* A payload template: <EventData> with one <Data Name="names[i]"> per field, value i of type
 * types[i].  If wrapper is not NULL the payload is for <UserData>: <wrapper xmlns="ns"> with
 * one child element per name instead.  Caller frees; NULL if out of memory. */
vt_tmpl *vt_tmpl_data(const char *const *names, const uint8_t *types, size_t n, const char *wrapper,
                      const char *ns);

/* Per-record System values. */
typedef struct vt_sysvals {
    uint16_t event_id;
    uint8_t version, level, opcode;
    uint16_t task;
    uint64_t keywords;
    uint64_t time; /* FILETIME */
    uint64_t record_id;
    uint32_t pid, tid;
    const char *user_sid;    /* NULL: no Security UserID */
    const char *activity_id; /* NULL: no Correlation ActivityID */
} vt_sysvals;

/* Fill vals[VT_SYS_NVALS] for an <Event> instance; payload goes to value 19 (borrowed). */
void vt_sysvals_fill(vt_val vals[VT_SYS_NVALS], const vt_sysvals *s, vt_val payload);

/* ---- files ---- */

typedef struct vt_evtx vt_evtx;

typedef struct vt_evtx_opts {
    FILE *out;          /* stream chunks here (the header is rewritten at the end); NULL:
                           build the file in memory and hand it over in vt_evtx_finish */
    uint32_t flags;     /* file header flags: VT_FLAG_DIRTY, VT_FLAG_FULL */
    int32_t hdr_chunks; /* chunk count written in the header; < 0: the real count */
    uint64_t first_id;  /* first record id; 0 means 1 */
} vt_evtx_opts;

/* Where a record landed: enough to damage it precisely. */
typedef struct vt_rec_info {
    uint64_t id;
    uint32_t chunk;           /* chunk index */
    uint32_t off;             /* chunk offset of the record header */
    uint64_t file_off;        /* file offset of the record header */
    uint32_t size;            /* record size */
    uint32_t subst_count_off; /* chunk offset of the outermost substitution count, 0 if none */
    uint32_t name_off;        /* chunk offset of the first name written inline, 0 if none */
} vt_rec_info;

/* New writer; NULL if out of memory.  Free with vt_evtx_free (after vt_evtx_finish). */
vt_evtx *vt_evtx_new(const vt_evtx_opts *o);
void vt_evtx_free(vt_evtx *w);
/* Id the next record will get. */
uint64_t vt_evtx_next_id(const vt_evtx *w);
/* Add a record whose body is a fragment (template instances, elements, anything); a record
 * that does not fit goes to a new chunk.  info may be NULL.  0, or -1 (too big for an empty
 * chunk, out of memory, write error, or a misplaced token in body). */
int vt_evtx_add(vt_evtx *w, uint64_t written, const vt_frag *body, vt_rec_info *info);
/* Add a record made of one template instance. */
int vt_evtx_add_tinst(vt_evtx *w, uint64_t written, const vt_tmpl *t, const vt_val *vals, size_t n,
                      vt_rec_info *info);
/* Close the current chunk (if it holds records); the next record starts a new one. */
int vt_evtx_end_chunk(vt_evtx *w);
/* Append an all-zero chunk slot (a chunk never written). */
int vt_evtx_add_empty_chunk(vt_evtx *w);
/* Chunks written or started so far. */
uint32_t vt_evtx_nchunks(const vt_evtx *w);
/* Close the last chunk and write the file header.  In memory mode *data (malloc'd, the caller
 * frees it) and *len get the file; data/len may be NULL in FILE mode.  0 or -1. */
int vt_evtx_finish(vt_evtx *w, uint8_t **data, size_t *len);

/* ---- damaging and repairing images in memory ---- */

/* CRC32 (IEEE 802.3) as EVTX uses it, continuing from crc (start with 0). */
uint32_t vt_crc32(uint32_t crc, const void *p, size_t n);
/* Recompute the chunk header and records CRC32 of chunk idx, so a deliberate change to it
 * stays the only damage.  No-op if the chunk is not in the image. */
void vt_img_fix_chunk(uint8_t *img, size_t len, uint32_t idx);
/* Recompute only the chunk header CRC32 (e.g. after changing the stored records CRC32). */
void vt_img_fix_chunk_header(uint8_t *img, size_t len, uint32_t idx);
/* Recompute the file header CRC32. */
void vt_img_fix_header(uint8_t *img, size_t len);
static inline void vt_put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}
static inline void vt_put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}
static inline void vt_put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i);
}
static inline uint32_t vt_get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* FILETIME of a UTC civil time (plus 100 ns ticks). */
uint64_t vt_filetime(int year, int month, int day, int hour, int minute, int second,
                     uint32_t ticks);

/* ---- the fixture catalog ---- */

/* What a fixture builder reports about the damage it made (fields it does not use are -1). */
typedef struct vt_fixinfo {
    int64_t records; /* records written */
    int64_t chunk;   /* chunk holding the damage */
    int64_t rec_off; /* file offset of the damaged record */
    int64_t bad_id;  /* id of the damaged record */
} vt_fixinfo;

/* Build a fixture in memory: *data (malloc'd, caller frees) and *len.  0 or -1. */
typedef int (*vt_fixture_fn)(uint8_t **data, size_t *len, vt_fixinfo *info);

typedef struct vt_fixture {
    const char *name; /* file name without .evtx */
    const char *what;
    vt_fixture_fn build;
} vt_fixture;

/* Every fixture, valid and damaged (static table, *n gets its length). */
const vt_fixture *vt_fixture_list(size_t *n);
/* The fixture called name, or NULL. */
const vt_fixture *vt_fixture_find(const char *name);

#endif
