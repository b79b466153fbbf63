/*
 * evtx_int.h - internals shared by the EVTX reader's files (not a public API).
 *
 * binxml.c turns binary XML into op lists (one per template definition, cached per chunk, and
 * one per record), walk.c expands a record's ops with its substitution values and drives a
 * visitor, render_xml.c and flat.c are the two visitors, file.c owns files and chunks.
 */
#ifndef VA_EVTX_EVTX_INT_H
#define VA_EVTX_EVTX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/hash.h"
#include "evtx/evtx.h"

/* Binary XML value types (MS-EVEN6 / libevtx naming). */
enum {
    BX_T_NULL = 0x00,
    BX_T_STRING = 0x01,
    BX_T_ANSI = 0x02,
    BX_T_INT8 = 0x03,
    BX_T_UINT8 = 0x04,
    BX_T_INT16 = 0x05,
    BX_T_UINT16 = 0x06,
    BX_T_INT32 = 0x07,
    BX_T_UINT32 = 0x08,
    BX_T_INT64 = 0x09,
    BX_T_UINT64 = 0x0a,
    BX_T_REAL32 = 0x0b,
    BX_T_REAL64 = 0x0c,
    BX_T_BOOL = 0x0d,
    BX_T_BINARY = 0x0e,
    BX_T_GUID = 0x0f,
    BX_T_SIZET = 0x10,
    BX_T_FILETIME = 0x11,
    BX_T_SYSTIME = 0x12,
    BX_T_SID = 0x13,
    BX_T_HEX32 = 0x14,
    BX_T_HEX64 = 0x15,
    BX_T_EVTHANDLE = 0x20,
    BX_T_BINXML = 0x21,
    BX_T_EVTXML = 0x23,
    BX_T_ARRAY = 0x80,
    BX_T_UTF8 = 0xff, /* internal: already-converted text from the template itself */
};

/* Little-endian reads; callers check bounds first. */
static inline uint16_t bx_rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t bx_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t bx_rd64(const uint8_t *p) {
    return (uint64_t)bx_rd32(p) | (uint64_t)bx_rd32(p + 4) << 32;
}

/* Size of one item of value type t (array flag ignored); 0 for variable-size types.  size_t
 * is 4 or 8 bytes: total, the value's size, decides (a multiple of 8 means 8).  A table: it is
 * asked for nearly every value. */
static inline uint32_t bx_type_size(uint8_t t, uint32_t total) {
    static const uint8_t size[32] = {
        [BX_T_INT8] = 1,     [BX_T_UINT8] = 1,  [BX_T_INT16] = 2,  [BX_T_UINT16] = 2,
        [BX_T_INT32] = 4,    [BX_T_UINT32] = 4, [BX_T_REAL32] = 4, [BX_T_BOOL] = 4,
        [BX_T_HEX32] = 4,    [BX_T_INT64] = 8,  [BX_T_UINT64] = 8, [BX_T_REAL64] = 8,
        [BX_T_FILETIME] = 8, [BX_T_HEX64] = 8,  [BX_T_GUID] = 16,  [BX_T_SYSTIME] = 16};
    t &= 0x7f;
    if (t == BX_T_SIZET) return total && total % 8 == 0 ? 8 : 4;
    return t < 32 ? size[t] : 0;
}

/* Ops: binary XML tokens after parsing, with names resolved and text converted. */
enum {
    OP_OPEN = 1,    /* s = element name */
    OP_CLOSE_START, /* end of the attribute list */
    OP_CLOSE_EMPTY, /* element has no content and ends here */
    OP_END,         /* end element */
    OP_ATTR,        /* s = attribute name; its value is the next value op(s) */
    OP_TEXT,        /* s = text (UTF-8) */
    OP_VALUE,       /* inline typed value: vtype, raw p/size */
    OP_SUBST,       /* substitution: index, vtype, optional */
    OP_CDATA,       /* s = text */
    OP_CHARREF,     /* index = code unit */
    OP_ENTREF,      /* s = entity name */
    OP_PI,          /* s = target, s2 = data */
    OP_TINST,       /* template instance: tmpl, vals, nvals */
};

typedef struct bx_val {
    uint8_t type; /* BX_T_* (BX_T_UTF8 for template text) */
    uint8_t esc;  /* BX_T_UTF8: the text may need JSON escaping */
    uint32_t size;
    const uint8_t *p; /* raw little-endian bytes, or UTF-8 text for BX_T_UTF8 */
} bx_val;

struct bx_tmpl;

typedef struct bx_op {
    uint8_t kind;
    uint8_t vtype;    /* OP_SUBST, OP_VALUE */
    uint8_t optional; /* OP_SUBST: 0x0e token */
    uint8_t subst;    /* OP_OPEN: a substitution is a direct child or attribute value */
    uint8_t esc;      /* s may need JSON escaping (names, text) */
    uint16_t index;   /* OP_SUBST index, OP_CHARREF value */
    uint32_t
        match; /* OP_OPEN: distance to its OP_END / OP_CLOSE_EMPTY (past the end if unclosed) */
    uint32_t len, len2;
    const char *s, *s2;   /* names/text, NUL-terminated UTF-8 */
    const uint8_t *p;     /* OP_VALUE raw data (len bytes) */
    struct bx_tmpl *tmpl; /* OP_TINST */
    bx_val *vals;         /* OP_TINST */
    uint32_t nvals;       /* OP_TINST */
} bx_op;

typedef struct bx_frag {
    bx_op *ops;
    uint32_t n;
} bx_frag;

typedef struct bx_tmpl {
    uint32_t offset; /* of the definition in the chunk */
    int ok;          /* parsed without error */
    bx_frag frag;
    /* What the template is whatever the chunk: its ops with their names and text, as bytes,
     * and their hash (sig NULL: it holds a template instance, which is the chunk's own).
     * Chunks repeat the same templates, so plans (render_flat.c) are kept by it. */
    const uint8_t *sig;
    uint32_t sig_len;
    uint64_t sig_hash;
    const void *ident;  /* render_flat.c: the template's identity among its plans, */
    uint32_t ident_gen; /* valid while its plans are of this generation */
} bx_tmpl;

/* Chunk offset -> pointer (core/hash.h over an entry array), cleared per chunk. */
typedef struct bx_map_ent {
    uint32_t key;
    void *val;
} bx_map_ent;
typedef struct bx_map {
    va_hash index; /* hash of the offset -> e[] */
    bx_map_ent *e;
    size_t cap;
    uint32_t n;
} bx_map;

/* Plans: how records of each shape flatten (render_flat.c), kept across chunks. */
typedef struct bx_plans bx_plans;
/* A new chunk starts, whose plans may take up to limit bytes (NULL p: nothing to do). */
void bx_plans_chunk(bx_plans *p, size_t limit);
/* An empty plan store of generation gen (a store that replaces another takes a later one),
 * holding up to limit bytes (0: the default); NULL out of memory.  Free with bx_plans_free. */
bx_plans *bx_plans_new(size_t limit, uint32_t gen);
uint32_t bx_plans_gen(const bx_plans *p);
/* Whether p, bounded by limit bytes from now on, can serve another chunk as it is: if not, a
 * chunk given p would drop every plan in it (bx_plans_chunk). */
int bx_plans_reusable(bx_plans *p, size_t limit);
void bx_plans_free(bx_plans *p);

/* Per-slot parse context (see va_evtx_ctx in evtx.h). */
struct va_evtx_ctx {
    va_arena arena; /* everything parsed from the current chunk */
    bx_map names;   /* chunk offset -> bx_name */
    bx_map tmpls;   /* chunk offset -> bx_tmpl */
    const uint8_t *chunk;
    uint32_t chunk_len;
    uint8_t *chunk_buf; /* VA_EVTX_CHUNK_SIZE bytes: the chunk read from disk */
    char err[160];      /* reason of the last parse failure */
    va_err err_code;    /* its code: VA_EFORMAT, VA_ERANGE, VA_ELIMIT or VA_ENOMEM */
    uint32_t err_off;
    int depth;            /* nesting of embedded binary XML */
    va_buf scratch;       /* value formatting */
    va_buf text;          /* flattener text accumulation */
    va_buf sig;           /* a template's signature being made (binxml.c) */
    va_json_scratch json; /* for va_event_json_with */
    bx_plans *plans;      /* NULL until the first record is flattened; freed with the ctx
                             (read.c lends a worker's store for a chunk instead) */
    size_t plan_bytes;    /* their bound (va_evtx_opts.plan_bytes), set for each chunk */
};

/* Parse binary XML at chunk offset [off, end) into a fragment.  in_tmpl: inside a template
 * definition (elements carry a dependency identifier).  Stops after the EOF token; *next gets
 * the offset after it.  Returns 0, or -1 with c->err set. */
int bx_parse(va_evtx_ctx *c, uint32_t off, uint32_t end, int in_tmpl, bx_frag *out, uint32_t *next);
void bx_ctx_chunk_reset(va_evtx_ctx *c, const uint8_t *chunk, uint32_t len);
/* The template defined at chunk offset def if this chunk has parsed it without error, else
 * NULL (nothing is parsed). */
bx_tmpl *bx_template_known(va_evtx_ctx *c, uint32_t def);

/* Format value v as text into out.  xml_style: as evtxexport prints it (times with 9 digits);
 * otherwise the event style (7 digits).  Returns the vaern value type; sets *esc if the text
 * may need JSON escaping (numbers, GUIDs, SIDs, times and hex never do). */
va_vtype bx_val_fmt(const bx_val *v, int xml_style, va_buf *out, int *esc);

/* Visitor over an expanded record.  subst: the substitution a value came from (its index in
 * the template instance being walked), -1 for text of the template itself. */
typedef struct bx_visit {
    /* esc: the name may need JSON escaping */
    void (*open)(void *ud, const char *name, uint32_t len, int esc);
    void (*attr)(void *ud, const char *name, uint32_t len, int esc, const bx_val *v,
                 const int32_t *subst, uint32_t nv);
    void (*close_start)(void *ud);
    void (*end)(void *ud, int empty);
    void (*text)(void *ud, const bx_val *v, int32_t subst);
    void (*charref)(void *ud, uint32_t cp);
    void (*entref)(void *ud, const char *name, uint32_t len);
    void (*cdata)(void *ud, const char *s, uint32_t len);
    void (*pi)(void *ud, const char *t, uint32_t tl, const char *d, uint32_t dl);
    /* Optional (NULL: not told), for a visitor that learns a record's shape (render_flat.c):
     * entering (enter 1) and leaving (0) a template instance, the embedded binary XML held by
     * substitution subst, and the walk of an element for item `item` of the array held by
     * substitution subst (the element is repeated for each). */
    void (*tinst)(void *ud, const bx_op *op, int enter);
    void (*embedded)(void *ud, int32_t subst, int enter);
    void (*repeat)(void *ud, int32_t subst, uint32_t item, int enter);
} bx_visit;

/* The array item that starts at *pos (a byte offset into the value, 0 for the first) into out,
 * and *pos moved past it; 0 when there is none left.  String items are NUL-terminated; a final
 * unterminated item counts too.  Variable-size items (SIDs, binary) are not split: such an
 * array has no items here and is rendered as one value. */
int bx_array_next(const bx_val *a, uint32_t *pos, bx_val *out);
/* Number of items bx_array_next gives. */
uint32_t bx_array_count(const bx_val *a);

/* Walk a record's fragment, expanding templates and embedded binary XML.  0 or -1 (c->err). */
int bx_walk(va_evtx_ctx *c, const bx_frag *f, const bx_visit *v, void *ud);

/* The five predefined XML entities (amp, lt, gt, quot, apos) as text into out; 0 for other
 * names. */
int bx_entity_char(const char *name, uint32_t len, char out[8]);

/* The two visitors.  Render the record as evtxexport-style XML (appended to out). */
int bx_render_xml(va_evtx_ctx *c, const bx_frag *f, va_buf *out);
/* Build the flat event (fields in c's arena; with transient, in c->text until the next
 * record). */
int bx_flatten(va_evtx_ctx *c, const bx_frag *f, va_event *ev, int transient);
/* Same, for a caller that wants only the event's JSON (transient): where a plan of the record's
 * shape allows, the JSON va_event_json would write is appended to json instead and *wrote set
 * (ev is then not filled). */
int bx_flatten_json(va_evtx_ctx *c, const bx_frag *f, va_event *ev, int transient, va_buf *json,
                    int *wrote);

/* Parse chunk idx of f (file.c): diagnostics to diag, records to fn; if xml is given each
 * record's XML is appended to it and va_evtx_rec.xml holds its offset, not a pointer. */
int bx_parse_chunk(va_evtx_file *f, uint32_t idx, const va_evtx_opts *o, va_evtx_ctx *c,
                   va_evtx_stats *st, va_diag_fn diag, void *dud, va_evtx_rec_fn fn, void *ud,
                   va_buf *xml);
size_t bx_file_len(const va_evtx_file *f);

#endif
