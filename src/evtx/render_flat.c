/*
 * render_flat.c - a record as a flat event: the binary XML visitor that feeds flat.c, and plans.
 *
 * Most records of a chunk are instances of a few templates, and a record's fields depend on
 * its values only through their text, as long as the values have the same shape (type, and
 * whether they are null, short or arrays of several items).  So the first record of each shape
 * is flattened by walking it, as any other record, while a recorder notes what each field was
 * made of: its name, its type, and its value as pieces of template text and substitutions.
 * That is the shape's plan.  A later record of the same shape (the same templates, found the
 * same way, with values of the same shapes) is flattened by the plan: each field's pieces are
 * formatted into the text store and the field added, with no walk, no element stack and no
 * naming rules to apply again; or, when only the JSON is wanted, written as JSON straight away.
 * An element the walker repeats for the items of an array is a group of fields, replayed once
 * per item.
 *
 * The plan is exact by construction rather than by a second copy of the rules: it is what the
 * walker and flat.c did for that shape, and everything they decide on is part of the shape.  A
 * record the recorder cannot describe (a field name taken from a value, an array inside a
 * repeated element, embedded binary XML that is not one template instance, deep nesting) is
 * left to the walker and gets no plan.  Chunks define the same templates again and again, so
 * plans know templates by their signature (bx_tmpl.sig) and are kept by the parse context from
 * chunk to chunk, in memory of their own, within a bound (see struct bx_plans).
 */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/array.h"
#include "core/utf.h"
#include "evtx/evtx_int.h"
#include "evtx/flat.h"

#define PLAN_MAX_FRAMES 8         /* template instances in one record */
#define PLAN_MAX_VALS   512       /* substitutions of one instance */
#define PLAN_MAX_GROUPS 8         /* elements repeated for array items, in one record */
#define PLAN_MAX_PLANS  4096      /* kept at most; then they are all forgotten and made again */
#define PLAN_MAX_BYTES  (8 << 20) /* the same for their memory, unless told (plan_bytes) */
#define PIECE_STATIC    (-1)
#define KEY_PAD         32 /* see put_key */

/* Part of a field's value: a substitution of one of the record's template instances, or text
 * of the template itself (kept in the plan). */
typedef struct pl_piece {
    int32_t frame;  /* instance number, or PIECE_STATIC */
    uint32_t index; /* substitution index, or offset of the text in the plan's text */
    uint32_t len;   /* text length */
    uint8_t esc;    /* the text may need JSON escaping */
} pl_piece;

typedef struct pl_field {
    uint32_t name_off, nlen;   /* in the plan's text */
    uint32_t key_off, key_len; /* ,"name": as JSON, in the plan's keys (see plan_keys) */
    uint8_t json;              /* how its value is written straight to JSON: see plan_keys */
    uint32_t piece, npieces;
    uint8_t name_esc, type;
} pl_field;

/* Fields made once per item of an array: an element the walker repeats for the items of
 * substitution subst of instance frame.  Their pieces of that substitution are the item. */
typedef struct pl_group {
    uint32_t field, nfields; /* the fields of the first item */
    int32_t frame;
    uint32_t subst;
} pl_group;

/* A template as plans know it: by its signature (bx_tmpl.sig), so that the same template in
 * another chunk is the same one.  A template without a signature is its own, in its chunk. */
typedef struct pl_ident {
    uint64_t hash;
    uint32_t len;
    const uint8_t *sig;
} pl_ident;

/* A template instance of the record: the record's own (parent -1) or one held as embedded
 * binary XML by substitution subst of instance parent. */
typedef struct pl_frame {
    const bx_tmpl *tmpl;   /* while recording */
    const pl_ident *ident; /* in a plan */
    uint32_t nvals;
    int32_t parent;
    uint32_t subst;
    uint32_t level; /* nesting: 0 for the record's own */
    uint32_t shape; /* offset of its nvals shape codes in the plan's shapes */
} pl_frame;

typedef struct bx_plan {
    pl_frame frame[PLAN_MAX_FRAMES];
    uint32_t nframes, nfields;
    pl_field *fields;
    const pl_piece *pieces;
    const char *keys; /* JSON names, made the first time the plan writes JSON (NULL before) */
    const uint16_t *shapes;
    const char *text;
    const uint32_t *facts; /* fields whose names can give the event's facts */
    uint32_t nfacts;
    int distinct; /* no two fields share a name */
    int none;     /* no plan for this shape: walk (see BY_SHAPE) */
    pl_group group[PLAN_MAX_GROUPS];
    uint32_t ngroups;
} bx_plan;

/* What the recorder knows about the text store: a piece of the value being built. */
typedef struct pl_logged {
    size_t start;
    pl_piece piece;
} pl_logged;

/* The recorder, while a record is walked.  ctx[] is the nesting of instances and embedded
 * fragments: FRAME_BASE + instance number, or EMBEDDED (inside embedded binary XML but not yet,
 * or no longer, inside its one template instance). */
enum { EMBEDDED = -1, FRAME_BASE = 0 };

/* Why a record has no plan.  BY_SHAPE: something its templates and value shapes decide (an
 * element repeated for array items, a field name from a substitution), so every record of
 * that shape is the same: worth remembering, so they are walked without recording. */
enum { REC_OK, BY_SHAPE, BY_OTHER };

typedef struct pl_rec {
    int bad; /* REC_OK, or why the record cannot be described */
    pl_frame frame[PLAN_MAX_FRAMES];
    const bx_val *vals[PLAN_MAX_FRAMES];
    uint32_t nframes;
    int32_t ctx[2 * PLAN_MAX_FRAMES + 2];
    uint32_t nctx;
    int32_t embed_subst; /* substitution holding the embedded fragment being entered */
    int in_attr;
    int attr_dynamic; /* the attribute being given holds a substitution */
    pl_group group[PLAN_MAX_GROUPS];
    uint32_t ngroups;
    int in_item;        /* walking an element for an array item */
    uint32_t item;      /* which */
    uint32_t item_seen; /* fields made for it (items after the first) */
    pl_piece *attr;     /* pieces of the attribute being given to flat.c */
    size_t nattr, capattr;
    pl_logged *log; /* pieces appended to the text store */
    size_t nlog, caplog;
    pl_field *fields;
    size_t nfields, capfields;
    pl_piece *pieces;
    size_t npieces, cappieces;
    va_buf text; /* names and template text */
} pl_rec;

/* The plans of one parse context, kept from chunk to chunk and file to file, with the
 * templates they know.  Bounded: past PLAN_MAX_PLANS or limit bytes no plan is added, and
 * at the next chunk everything is dropped (a new generation) and plans are made again as
 * records come.  Never within a chunk: the chunk's events name their fields with the plans'
 * text, until the chunk's records are delivered. */
struct bx_plans {
    va_arena mem;  /* plans, identities, signatures */
    size_t bytes;  /* allocated from mem in this generation */
    size_t limit;  /* the bound on bytes */
    int refused;   /* a plan did not fit under it */
    uint32_t gen;  /* bumped when everything is dropped: bx_tmpl.ident is stale then */
    va_hash index; /* hash of the record's own instance (template, shapes) -> plan[] */
    bx_plan **plan;
    size_t n, cap;
    va_hash idents; /* signature hash -> ident[] */
    pl_ident **ident;
    size_t nident, capident;
    pl_rec rec;
    va_json_scratch names;
};

typedef struct fr {
    va_evtx_ctx *c;
    va_flat fl;
    pl_rec *rec; /* NULL when not recording */
} fr;

/* ---- shapes ---- */

/* shape_of for arrays: whether there is more than one item. */
/* Whether one of the n UTF-16 units at p is NUL: eight units a step with SSE2. */
static int has_nul_unit(const uint8_t *p, uint32_t n) {
    uint32_t i = 0;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    for (; i + 8 <= n; i += 8) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
        if (_mm_movemask_epi8(_mm_cmpeq_epi16(x, zero))) return 1;
    }
#endif
    for (; i < n; i++)
        if (!(p[2 * i] | p[2 * i + 1])) return 1;
    return 0;
}

static uint16_t shape_of_array(const bx_val *v) {
    uint16_t code = v->type;
    uint8_t et = v->type & 0x7f;
    int multi = 0;
    if (et == BX_T_STRING || et == BX_T_ANSI) {
        /* Items end at a NUL, the last one also at the end: there are two or more when a NUL
         * comes before the last unit. */
        uint32_t unit = et == BX_T_STRING ? 2 : 1, end = v->size / unit * unit;
        if (end > unit)
            multi =
                unit == 1 ? memchr(v->p, 0, end - 1) != NULL : has_nul_unit(v->p, (end - unit) / 2);
    } else {
        uint32_t es = bx_type_size(et, v->size);
        multi = es && v->size / es > 1;
    }
    if (multi) code |= 0x200;
    return code;
}

/* Everything about a value that the walker and flat.c decide on, besides its text: its type,
 * whether a fixed-size value is too short for its type (it is then shown as hex, as text), and
 * whether an array has more than one item (the element is then repeated). */
static inline uint16_t shape_of(const bx_val *v) {
    if (v->type & BX_T_ARRAY) return shape_of_array(v);
    uint32_t es = bx_type_size(v->type, v->size);
    return (uint16_t)(v->type | (v->size < es ? 0x100 : 0));
}

static uint64_t shape_hash(const pl_ident *t, const uint16_t *codes, uint32_t n) {
    return va_hash_u64(va_hash_mem(codes, 2 * (size_t)n, 0), (uint64_t)(uintptr_t)t);
}

/* The one binary XML value among n values of these shapes, or n if there is none or several. */
static uint32_t single_binxml(const uint16_t *codes, uint32_t n) {
    uint32_t at = n;
    for (uint32_t i = 0; i < n; i++)
        if (codes[i] == BX_T_BINXML) {
            if (at != n) return n;
            at = i;
        }
    return at;
}

/* Plans are found by the record's own template and shapes; most records (all of a channel)
 * share those and differ by the template their one embedded fragment instantiates, so that
 * template is in the key too when it is known: the key of plans whose instance holds it. */
static uint64_t embed_key(uint64_t h, const pl_ident *embedded) {
    return va_hash_u64(h, (uint64_t)(uintptr_t)embedded);
}

/* That template for a record, from the fragment's first bytes (fragment header, template
 * instance token, then the definition's offset at +5) if this chunk has parsed it already: a
 * hint, with no parsing, that plan_fits confirms.  NULL if not known. */
static const pl_ident *embed_hint(va_evtx_ctx *c, bx_plans *ps, const bx_val *v);

/* ---- recording ---- */

static void rec_start(pl_rec *r) {
    r->bad = REC_OK;
    r->nframes = r->nctx = 0;
    r->embed_subst = -1;
    r->in_attr = 0;
    r->ngroups = 0, r->in_item = 0;
    r->nattr = r->nlog = r->nfields = r->npieces = 0;
    va_buf_clear(&r->text);
}

static void rec_free(pl_rec *r) {
    free(r->attr), free(r->log), free(r->fields), free(r->pieces);
    va_buf_free(&r->text);
}

/* The instance the current content belongs to, or -1 (and the record is unplannable) when it
 * is not directly inside one. */
static int32_t rec_frame(pl_rec *r) {
    if (!r->nctx || r->ctx[r->nctx - 1] == EMBEDDED) {
        r->bad = BY_OTHER;
        return -1;
    }
    return r->ctx[r->nctx - 1] - FRAME_BASE;
}

/* A piece of template text: its bytes go into the plan. */
static pl_piece rec_static(pl_rec *r, const char *s, size_t n, int esc) {
    rec_frame(r);
    pl_piece p = {PIECE_STATIC, (uint32_t)r->text.len, (uint32_t)n, (uint8_t)(esc != 0)};
    va_buf_put(&r->text, s, n);
    if (r->text.oom || n > UINT32_MAX) r->bad = BY_OTHER;
    return p;
}

static pl_piece rec_subst(pl_rec *r, int32_t index) {
    pl_piece p = {rec_frame(r), (uint32_t)index, 0, 0};
    return p;
}

/* Text of the current element appended to the store at start (len bytes). */
static void rec_log(pl_rec *r, size_t start, pl_piece p) {
    if (VA_ARRAY_GROW(r->log, r->caplog, r->nlog + 1)) {
        r->bad = BY_OTHER;
        return;
    }
    r->log[r->nlog].start = start;
    r->log[r->nlog++].piece = p;
}

static void rec_push_piece(pl_rec *r, pl_piece p) {
    if (VA_ARRAY_GROW(r->pieces, r->cappieces, r->npieces + 1)) {
        r->bad = BY_OTHER;
        return;
    }
    r->pieces[r->npieces++] = p;
}

/* flat.c made a field: note its name and type, and which pieces its value is. */
static void rec_seen(void *ud, const char *name, size_t nlen, int name_esc, size_t voff,
                     size_t vlen, va_vtype t) {
    fr *x = ud;
    pl_rec *r = x->rec;
    if (r->bad) return;
    if (r->in_item && r->item > 0) {
        /* Items after the first make the first one's fields again: check, do not record. */
        const pl_group *g = &r->group[r->ngroups - 1];
        const pl_field *f = r->item_seen < g->nfields ? &r->fields[g->field + r->item_seen] : NULL;
        if (!f || f->nlen != nlen || f->type != (uint8_t)t ||
            memcmp(r->text.p + f->name_off, name, nlen))
            r->bad = BY_OTHER;
        r->item_seen++;
        return;
    }
    if (VA_ARRAY_GROW(r->fields, r->capfields, r->nfields + 1)) {
        r->bad = BY_OTHER;
        return;
    }
    pl_field *f = &r->fields[r->nfields++];
    f->name_off = (uint32_t)r->text.len, f->nlen = (uint32_t)nlen;
    va_buf_put(&r->text, name, nlen);
    va_buf_putc(&r->text, 0);
    f->name_esc = (uint8_t)(name_esc != 0), f->type = (uint8_t)t;
    f->piece = (uint32_t)r->npieces;
    if (r->in_attr) {
        /* An attribute's value is the whole of the attribute. */
        for (size_t i = 0; i < r->nattr; i++) rec_push_piece(r, r->attr[i]);
    } else {
        /* An element's value is what was appended since its text began: the logged pieces
         * from voff on, which must cover [voff, voff + vlen) exactly. */
        size_t k = r->nlog;
        while (k > 0 && r->log[k - 1].start >= voff) k--;
        size_t at = voff;
        for (size_t i = k; i < r->nlog; i++) {
            const pl_logged *l = &r->log[i];
            if (l->start != at) r->bad = BY_OTHER;
            at = l->start + l->piece.len;
            rec_push_piece(r, l->piece);
        }
        if (at != voff + vlen) r->bad = BY_OTHER;
    }
    f->npieces = (uint32_t)(r->npieces - f->piece);
    if (r->text.oom) r->bad = BY_OTHER;
}

/* flat.c keeps the attribute's value as a field name: a plan holds only if it is fixed text. */
static void rec_named(void *ud) {
    pl_rec *r = ((fr *)ud)->rec;
    if (r->attr_dynamic && !r->bad) r->bad = BY_SHAPE;
}

/* ---- the visitor ---- */

static void f_open(void *ud, const char *name, uint32_t len, int esc) {
    fr *x = ud;
    if (x->rec) rec_frame(x->rec);
    va_flat_open_ex(&x->fl, name, len, esc);
}

static void f_attr(void *ud, const char *name, uint32_t len, int esc, const bx_val *v,
                   const int32_t *from, uint32_t nv) {
    fr *x = ud;
    pl_rec *r = x->rec;
    va_buf *s = &x->c->scratch;
    va_buf_clear(s);
    va_vtype t = nv ? VA_V_STR : VA_V_NULL;
    int vesc = 0, dynamic = 0;
    if (r) r->nattr = 0;
    for (uint32_t i = 0; i < nv; i++) {
        size_t before = s->len;
        int pesc = 0;
        va_vtype ti = bx_val_fmt(&v[i], 0, s, &pesc);
        vesc |= pesc;
        t = nv == 1 ? ti : VA_V_STR;
        if (!r) continue;
        pl_piece p = from[i] >= 0 ? rec_subst(r, from[i])
                                  : rec_static(r, s->p + before, s->len - before, pesc);
        dynamic |= from[i] >= 0;
        if (VA_ARRAY_GROW(r->attr, r->capattr, r->nattr + 1))
            r->bad = BY_OTHER;
        else
            r->attr[r->nattr++] = p;
    }
    if (s->oom) x->fl.err = VA_ENOMEM; /* a cut value must not pass as the value */
    if (r) {
        rec_frame(r);
        r->in_attr = 1;
        r->attr_dynamic = dynamic;
    }
    va_flat_attr_ex(&x->fl, name, len, esc, s->p ? s->p : "", s->len, t, vesc);
    if (r) r->in_attr = 0;
}

static void f_close_start(void *ud) {
    (void)ud;
}

static void f_end(void *ud, int empty) {
    (void)empty;
    va_flat_close(&((fr *)ud)->fl);
}

static void f_text(void *ud, const bx_val *v, int32_t from) {
    fr *x = ud;
    size_t before = x->fl.text->len;
    int esc = 0;
    va_vtype t = bx_val_fmt(v, 0, x->fl.text, &esc); /* formatted in place: no copy */
    size_t added = x->fl.text->len - before;
    if (!va_flat_text_appended(&x->fl, added, t, esc) || !x->rec) return;
    pl_rec *r = x->rec;
    pl_piece p = from >= 0 ? rec_subst(r, from) : rec_static(r, x->fl.text->p + before, added, esc);
    p.len = (uint32_t)added; /* a substitution's length is only for the tiling check */
    rec_log(r, before, p);
}

/* Template text given to flat.c as a piece of the current element. */
static void f_piece(fr *x, const char *s, size_t n, int esc) {
    size_t before = x->fl.text->len;
    if (va_flat_text_ex(&x->fl, s, n, VA_V_STR, esc) && x->rec)
        rec_log(x->rec, before, rec_static(x->rec, s, n, esc));
}

static void f_charref(void *ud, uint32_t cp) {
    char tmp[4];
    f_piece(ud, tmp, va_utf8_enc(cp, tmp), cp < 0x20 || cp == '"' || cp == '\\');
}

static void f_entref(void *ud, const char *name, uint32_t len) {
    char ch[8];
    if (bx_entity_char(name, len, ch)) f_piece(ud, ch, strlen(ch), ch[0] == '"');
}

static void f_cdata(void *ud, const char *s, uint32_t len) {
    f_piece(ud, s, len, 1); /* rare: let the output check it */
}

static void f_pi(void *ud, const char *t, uint32_t tl, const char *d, uint32_t dl) {
    (void)ud, (void)t, (void)tl, (void)d, (void)dl; /* not event data */
}

static void f_tinst(void *ud, const bx_op *op, int enter) {
    pl_rec *r = ((fr *)ud)->rec;
    if (!r || r->bad) return;
    if (!enter) {
        r->nctx--;
        if (r->nctx && r->ctx[r->nctx - 1] == EMBEDDED) r->embed_subst = -2; /* used up */
        return;
    }
    /* The record's own instance, or the one instance of an embedded fragment. */
    int first = r->nctx == 0 && r->nframes == 0;
    int embedded = r->nctx && r->ctx[r->nctx - 1] == EMBEDDED && r->embed_subst >= 0;
    if ((!first && !embedded) || r->nframes == PLAN_MAX_FRAMES || op->nvals > PLAN_MAX_VALS ||
        r->nctx >= sizeof r->ctx / sizeof r->ctx[0]) {
        r->bad = BY_OTHER;
        return;
    }
    pl_frame *f = &r->frame[r->nframes];
    f->tmpl = op->tmpl, f->nvals = op->nvals;
    f->parent = first ? -1 : r->ctx[r->nctx - 2] - FRAME_BASE;
    f->subst = first ? 0 : (uint32_t)r->embed_subst;
    f->level = first ? 0 : r->frame[f->parent].level + 1;
    r->vals[r->nframes] = op->vals;
    r->ctx[r->nctx++] = FRAME_BASE + (int32_t)r->nframes++;
    r->embed_subst = -1;
}

static void f_embedded(void *ud, int32_t subst, int enter) {
    pl_rec *r = ((fr *)ud)->rec;
    if (!r || r->bad) return;
    if (!enter) {
        /* A fragment without its one instance would make fields no plan knows of. */
        if (r->embed_subst != -2) r->bad = BY_OTHER;
        r->nctx--;
        r->embed_subst = -1;
        return;
    }
    rec_frame(r); /* embedded binary XML is only plannable directly inside an instance */
    if (r->bad || r->nctx >= sizeof r->ctx / sizeof r->ctx[0]) {
        r->bad = BY_OTHER;
        return;
    }
    r->ctx[r->nctx++] = EMBEDDED;
    r->embed_subst = subst;
}

static void f_repeat(void *ud, int32_t subst, uint32_t item, int enter) {
    pl_rec *r = ((fr *)ud)->rec;
    if (!r || r->bad) return;
    if (!enter) {
        pl_group *g = &r->group[r->ngroups - 1];
        if (item == 0)
            g->nfields = (uint32_t)r->nfields - g->field;
        else if (r->item_seen != g->nfields)
            r->bad = BY_OTHER;
        r->in_item = 0;
        return;
    }
    if (r->in_item || (item == 0 && r->ngroups == PLAN_MAX_GROUPS)) {
        r->bad = BY_SHAPE; /* an array inside an array's element: walked */
        return;
    }
    int32_t frame = rec_frame(r);
    if (r->bad) return;
    r->in_item = 1, r->item = item, r->item_seen = 0;
    if (item == 0) {
        pl_group *g = &r->group[r->ngroups++];
        g->field = (uint32_t)r->nfields, g->nfields = 0, g->frame = frame,
        g->subst = (uint32_t)subst;
    }
}

static const bx_visit flat_visit = {f_open, f_attr,    f_close_start, f_end,
                                    f_text, f_charref, f_entref,      f_cdata,
                                    f_pi,   f_tinst,   f_embedded,    f_repeat};

/* ---- plans ---- */

bx_plans *bx_plans_new(size_t limit, uint32_t gen) {
    bx_plans *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    va_arena_init(&p->mem, 256 * 1024);
    va_hash_init(&p->index);
    va_hash_init(&p->idents);
    va_buf_init(&p->rec.text);
    p->gen = gen ? gen : 1;
    p->limit = limit ? limit : PLAN_MAX_BYTES;
    return p;
}

uint32_t bx_plans_gen(const bx_plans *p) {
    return p->gen;
}

static bx_plans *plans_get(va_evtx_ctx *c) {
    if (!c->plans) c->plans = bx_plans_new(c->plan_bytes, 1);
    return c->plans;
}

void bx_plans_free(bx_plans *p) {
    if (!p) return;
    va_arena_free(&p->mem);
    va_hash_free(&p->index);
    va_hash_free(&p->idents);
    free(p->plan);
    free(p->ident);
    rec_free(&p->rec);
    va_json_scratch_free(&p->names);
    free(p);
}

static void *plans_alloc(bx_plans *ps, size_t n) {
    ps->bytes += n + 16;
    return va_arena_alloc(&ps->mem, n);
}

/* Forget every plan and identity: the bound was reached. */
static int plans_full(const bx_plans *ps) {
    return ps->n >= PLAN_MAX_PLANS || ps->bytes >= ps->limit || ps->refused;
}

static void plans_drop(bx_plans *ps) {
    va_arena_reset(&ps->mem);
    va_hash_clear(&ps->index);
    va_hash_clear(&ps->idents);
    ps->n = ps->nident = 0;
    ps->bytes = 0, ps->refused = 0;
    ps->gen++;
}

void bx_plans_chunk(bx_plans *p, size_t limit) {
    if (!p) return;
    p->limit = limit ? limit : PLAN_MAX_BYTES;
    if (plans_full(p)) plans_drop(p);
}

int bx_plans_reusable(bx_plans *p, size_t limit) {
    p->limit = limit ? limit : PLAN_MAX_BYTES;
    return !plans_full(p);
}

/* The identity of template t among the plans; NULL if out of memory. */
static const pl_ident *ident_of(bx_plans *ps, bx_tmpl *t) {
    if (t->ident && t->ident_gen == ps->gen) return t->ident;
    pl_ident *id = NULL;
    if (t->sig) {
        va_hash_iter it;
        for (uint32_t k = va_hash_first(&ps->idents, t->sig_hash, &it); k != VA_HASH_END;
             k = va_hash_next(&ps->idents, &it)) {
            pl_ident *x = ps->ident[k];
            if (x->sig && x->len == t->sig_len && !memcmp(x->sig, t->sig, t->sig_len)) {
                id = x;
                break;
            }
        }
    }
    if (!id) {
        uint8_t *sig = t->sig ? plans_alloc(ps, t->sig_len + 1) : NULL;
        id = plans_alloc(ps, sizeof *id);
        if (!id || (t->sig && !sig) || VA_ARRAY_GROW(ps->ident, ps->capident, ps->nident + 1))
            return NULL;
        id->hash = t->sig_hash, id->len = t->sig_len, id->sig = NULL;
        if (t->sig) {
            memcpy(sig, t->sig, t->sig_len);
            id->sig = sig;
            if (va_hash_insert(&ps->idents, t->sig_hash, (uint32_t)ps->nident)) return NULL;
        }
        ps->ident[ps->nident++] = id;
    }
    t->ident = id, t->ident_gen = ps->gen;
    return id;
}

static const pl_ident *embed_hint(va_evtx_ctx *c, bx_plans *ps, const bx_val *v) {
    const uint8_t *p = v->p;
    uint32_t n = v->size, at = 0;
    if (n >= 4 && p[0] == 0x0f) at = 4;
    if (n < at + 10 || p[at] != 0x0c) return NULL;
    bx_tmpl *t = bx_template_known(c, bx_rd32(p + at + 6));
    return t ? ident_of(ps, t) : NULL;
}

/* Keep what the recorder saw as a plan. */
static void plan_store(bx_plans *ps, const va_event *ev) {
    pl_rec *r = &ps->rec;
    if (r->bad == BY_OTHER || !r->nframes) return;
    size_t nshapes = 0, sigs = 0;
    for (uint32_t k = 0; k < r->nframes; k++)
        nshapes += r->frame[k].nvals, sigs += r->frame[k].tmpl->sig_len + sizeof(pl_ident);
    /* Never past the bound, even by one plan (a bound below one plan means no plans). */
    size_t need = sizeof(bx_plan) + (r->nfields + 1) * (sizeof(pl_field) + 8) +
                  (r->npieces + 1) * sizeof(pl_piece) + (nshapes + 1) * 2 + r->text.len + sigs;
    if (plans_full(ps)) return;
    if (ps->bytes + need > ps->limit) {
        ps->refused = 1; /* full: dropped at the next chunk */
        return;
    }
    for (uint32_t k = 0; k < r->nframes; k++)
        if (!(r->frame[k].ident = ident_of(ps, (bx_tmpl *)r->frame[k].tmpl))) return;
    bx_plan *p = plans_alloc(ps, sizeof *p);
    pl_field *fields = plans_alloc(ps, (r->nfields + 1) * sizeof *fields);
    pl_piece *pieces = plans_alloc(ps, (r->npieces + 1) * sizeof *pieces);
    uint16_t *shapes = plans_alloc(ps, (nshapes + 1) * sizeof *shapes);
    char *text = plans_alloc(ps, r->text.len + 1);
    uint32_t *facts = plans_alloc(ps, (r->nfields + 1) * sizeof *facts);
    if (!p || !fields || !pieces || !shapes || !text || !facts ||
        VA_ARRAY_GROW(ps->plan, ps->cap, ps->n + 1))
        return; /* no plan: the next record of this shape is walked again */
    memcpy(p->frame, r->frame, sizeof r->frame);
    for (uint32_t k = 0; k < r->nframes; k++) p->frame[k].tmpl = NULL; /* the chunk's */
    memcpy(p->group, r->group, sizeof r->group);
    p->ngroups = r->ngroups;
    p->nframes = r->nframes, p->nfields = (uint32_t)r->nfields;
    if (r->nfields) memcpy(fields, r->fields, r->nfields * sizeof *fields);
    if (r->npieces) memcpy(pieces, r->pieces, r->npieces * sizeof *pieces);
    if (r->text.len) memcpy(text, r->text.p, r->text.len);
    size_t at = 0;
    for (uint32_t k = 0; k < r->nframes; k++) {
        p->frame[k].shape = (uint32_t)at;
        for (uint32_t i = 0; i < r->frame[k].nvals; i++) shapes[at++] = shape_of(&r->vals[k][i]);
    }
    p->fields = fields, p->pieces = pieces, p->shapes = shapes, p->text = text;
    p->keys = NULL;
    p->facts = facts, p->nfacts = 0;
    for (size_t i = 0; i < r->nfields; i++)
        if (va_event_fact_name(r->text.p + r->fields[i].name_off, r->fields[i].nlen))
            facts[p->nfacts++] = (uint32_t)i;
    p->none = r->bad == BY_SHAPE;
    if (p->none) p->nfields = 0;
    p->distinct = !p->none && !va_event_names_repeat(ev, &ps->names);
    uint64_t h = shape_hash(p->frame[0].ident, shapes, p->frame[0].nvals);
    if (va_hash_insert(&ps->index, h, (uint32_t)ps->n)) return;
    /* Under the embedded template too, when the instance holds one fragment (see embed_key). */
    uint32_t one = single_binxml(shapes, p->frame[0].nvals);
    for (uint32_t k = 1; k < p->nframes && one < p->frame[0].nvals; k++)
        if (p->frame[k].parent == 0 && p->frame[k].subst == one) {
            if (va_hash_insert(&ps->index, embed_key(h, p->frame[k].ident), (uint32_t)ps->n)) {
                /* in the index once: still found, by the slower way */
            }
            break;
        }
    ps->plan[ps->n++] = p;
}

/* The template instance an embedded fragment holds, parsed as the walker would parse it (at
 * the nesting depth it would be at); NULL if it is anything else.  -1 in *failed: the parse
 * failed, and so would the walk. */
static const bx_op *embedded_tinst(va_evtx_ctx *c, const bx_val *v, uint32_t level, int *failed) {
    uint32_t off = (uint32_t)(v->p - c->chunk);
    bx_frag f;
    c->depth = (int)(2 * level + 2);
    int r = bx_parse(c, off, off + v->size, 0, &f, NULL);
    c->depth = 0;
    if (r) {
        *failed = 1;
        return NULL;
    }
    return f.n == 1 && f.ops[0].kind == OP_TINST ? &f.ops[0] : NULL;
}

/* Embedded fragments parsed while trying plans, so that a second candidate does not parse
 * the same value again (each parse allocates its ops). */
typedef struct parsed {
    const bx_val *holder[2 * PLAN_MAX_FRAMES];
    const bx_op *op[2 * PLAN_MAX_FRAMES];
    uint32_t n;
} parsed;

/* Does the record's instance (and what it embeds) have the shape of plan p?  Fills vals[] with
 * the substitutions of each instance. */
static int plan_fits(va_evtx_ctx *c, bx_plans *ps, const bx_plan *p, const bx_op *top,
                     const pl_ident *top_id, const uint16_t *codes, const bx_val **vals,
                     parsed *got, int *failed) {
    const pl_frame *f0 = &p->frame[0];
    if (f0->ident != top_id || f0->nvals != top->nvals ||
        memcmp(p->shapes, codes, 2 * (size_t)top->nvals))
        return 0;
    vals[0] = top->vals;
    for (uint32_t k = 1; k < p->nframes; k++) {
        const pl_frame *f = &p->frame[k];
        const bx_val *holder = &vals[f->parent][f->subst];
        const bx_op *op = NULL;
        uint32_t j = 0;
        while (j < got->n && got->holder[j] != holder) j++;
        if (j < got->n) {
            op = got->op[j];
        } else {
            op = embedded_tinst(c, holder, p->frame[f->parent].level, failed);
            if (got->n < 2 * PLAN_MAX_FRAMES) got->holder[got->n] = holder, got->op[got->n++] = op;
        }
        if (!op) return 0;
        if (ident_of(ps, op->tmpl) != f->ident || op->nvals != f->nvals) return 0;
        for (uint32_t i = 0; i < f->nvals; i++)
            if (shape_of(&op->vals[i]) != p->shapes[f->shape + i]) return 0;
        vals[k] = op->vals;
    }
    return 1;
}

/* Field i of p into o, its value formatted into the text store; item stands for substitution
 * (frame, subst) of a repeated element's array (frame -1: none). */
static inline void replay_field(const bx_plan *p, uint32_t i, const bx_val *const *vals,
                                va_buf *text, va_field *o, int32_t frame, uint32_t subst,
                                const bx_val *item) {
    const pl_field *f = &p->fields[i];
    size_t voff = text->len;
    int esc = 0;
    for (uint32_t k = 0; k < f->npieces; k++) {
        const pl_piece *pc = &p->pieces[f->piece + k];
        if (pc->frame == PIECE_STATIC) {
            va_buf_put(text, p->text + pc->index, pc->len);
            esc |= pc->esc;
        } else {
            const bx_val *v =
                pc->frame == frame && pc->index == subst ? item : &vals[pc->frame][pc->index];
            bx_val_fmt(v, 0, text, &esc);
        }
    }
    o->name = p->text + f->name_off, o->nlen = f->nlen;
    /* A value from a 64 KiB chunk is far below 4 GiB. */
    o->val = (const char *)(uintptr_t)voff, o->vlen = (uint32_t)(text->len - voff);
    o->type = f->type;
    o->flags = (uint8_t)((f->name_esc ? 0 : VA_FIELD_NAME_PLAIN) | (esc ? 0 : VA_FIELD_VAL_PLAIN));
    va_buf_putc(text, 0);
}

/* Flatten by p: every field's pieces formatted into the text store, then the field; a repeated
 * element's fields once per item of its array. */
static void plan_replay(const bx_plan *p, const bx_val *const *vals, va_flat *fl) {
    va_buf *text = fl->text;
    uint32_t n = p->nfields;
    for (uint32_t g = 0; g < p->ngroups; g++) {
        const pl_group *gr = &p->group[g];
        n += (bx_array_count(&vals[gr->frame][gr->subst]) - 1) * gr->nfields;
    }
    va_field *out = va_flat_fields(fl, n);
    if (!out) return;
    uint32_t g = 0;
    for (uint32_t i = 0; i < p->nfields;) {
        if (g < p->ngroups && p->group[g].field == i) {
            const pl_group *gr = &p->group[g++];
            const bx_val *arr = &vals[gr->frame][gr->subst];
            bx_val item;
            uint32_t pos = 0;
            while (bx_array_next(arr, &pos, &item))
                for (uint32_t j = 0; j < gr->nfields; j++)
                    replay_field(p, gr->field + j, vals, text, out++, gr->frame, gr->subst, &item);
            i = gr->field + gr->nfields;
            continue;
        }
        replay_field(p, i++, vals, text, out++, -1, 0, NULL);
    }
}

/* How plan_json writes a field's value.  Most are one substitution whose JSON form is known
 * from its shape: a number or a boolean is a bare token (never empty), a GUID, SID, time or
 * hex is a string with nothing to escape, text is a string escaped if the conversion finds it
 * must be; those are formatted straight into the output, as va_json_value would write them.
 * The rest go through va_json_value, which decides from the text. */
enum { VIA_TEXT, BARE, QUOTED, STRING };

static uint8_t json_way(const bx_plan *p, const pl_field *f) {
    if (f->npieces != 1) return VIA_TEXT;
    const pl_piece *pc = &p->pieces[f->piece];
    if (pc->frame == PIECE_STATIC) return VIA_TEXT;
    uint16_t code = p->shapes[p->frame[pc->frame].shape + pc->index];
    if (code & 0x180) return VIA_TEXT; /* arrays, short values: text or hex, decided there */
    switch (code) {
    case BX_T_INT8:
    case BX_T_UINT8:
    case BX_T_INT16:
    case BX_T_UINT16:
    case BX_T_INT32:
    case BX_T_UINT32:
    case BX_T_INT64:
    case BX_T_UINT64:
    case BX_T_SIZET:
    case BX_T_BOOL:
        return f->type == VA_V_INT || f->type == VA_V_UINT || f->type == VA_V_BOOL ? BARE
                                                                                   : VIA_TEXT;
    case BX_T_STRING:
        return f->type == VA_V_STR ? STRING : VIA_TEXT;
    case BX_T_GUID:
    case BX_T_FILETIME:
    case BX_T_SYSTIME:
    case BX_T_SID:
    case BX_T_HEX32:
    case BX_T_HEX64:
    case BX_T_BINARY:
        return f->type == VA_V_STR ? QUOTED : VIA_TEXT;
    default:
        return VIA_TEXT;
    }
}

/* Each name as va_event_json writes it ("name":), once per plan; and how each value is
 * written. */
static int plan_keys(va_evtx_ctx *c, bx_plans *ps, bx_plan *p) {
    va_buf *tmp = &c->scratch;
    va_buf_clear(tmp);
    for (uint32_t i = 0; i < p->nfields; i++) {
        pl_field *f = &p->fields[i];
        f->json = json_way(p, f);
        f->key_off = (uint32_t)tmp->len;
        /* With what comes around it: the comma before, a string value's opening quote. */
        if (i) va_buf_putc(tmp, ',');
        va_json_key(tmp, p->text + f->name_off, f->nlen, !f->name_esc);
        if (f->json == STRING || f->json == QUOTED) va_buf_putc(tmp, '"');
        f->key_len = (uint32_t)(tmp->len - f->key_off);
    }
    /* KEY_PAD more bytes after the last key: put_key may read that far. */
    char *keys = tmp->oom ? NULL : plans_alloc(ps, tmp->len + KEY_PAD);
    if (!keys) return -1;
    memset(keys + tmp->len, 0, KEY_PAD);
    if (tmp->len) memcpy(keys, tmp->p, tmp->len);
    p->keys = keys;
    return 0;
}

/* A key of p into out: keys are short, so they are moved 32 bytes at a time (the keys are
 * padded, and room is made in out) rather than by a call to memcpy for each. */
static inline void put_key(va_buf *out, const bx_plan *p, const pl_field *f) {
    if (f->key_len > KEY_PAD ||
        (out->len + KEY_PAD + 1 > out->cap && va_buf_reserve(out, KEY_PAD))) {
        va_buf_put(out, p->keys + f->key_off, f->key_len);
        return;
    }
    char *o = out->p + out->len;
    const char *k = p->keys + f->key_off;
    memcpy(o, k, 16);
    memcpy(o + 16, k + 16, 16);
    out->len += f->key_len;
    out->p[out->len] = 0;
}

/* The record's JSON straight from p, as va_event_json would write the event p makes: each
 * value formatted into tmp, then written as JSON (names do not repeat in such a plan). */
static void plan_json(const bx_plan *p, const bx_val *const *vals, va_buf *out, va_buf *tmp) {
    va_buf_putc(out, '{');
    for (uint32_t i = 0; i < p->nfields; i++) {
        const pl_field *f = &p->fields[i];
        put_key(out, p, f);
        int esc = 0;
        if (f->json == STRING) {
            /* Text: written in quotes as it is converted; escaped from a copy if it must be. */
            const pl_piece *pc = &p->pieces[f->piece];
            size_t start = out->len;
            bx_val_fmt(&vals[pc->frame][pc->index], 0, out, &esc);
            if (!esc) {
                va_buf_putc(out, '"');
                continue;
            }
            va_buf_clear(tmp);
            va_buf_put(tmp, out->p + start, out->len - start);
            if (out->oom || tmp->oom) {
                out->oom = 1;
                break;
            }
            out->len = start - 1;
            va_buf_json_str_valid(out, tmp->p, tmp->len);
            continue;
        }
        if (f->json != VIA_TEXT) {
            const pl_piece *pc = &p->pieces[f->piece];
            bx_val_fmt(&vals[pc->frame][pc->index], 0, out, &esc);
            if (f->json == QUOTED) va_buf_putc(out, '"');
            continue;
        }
        va_buf_clear(tmp);
        for (uint32_t k = 0; k < f->npieces; k++) {
            const pl_piece *pc = &p->pieces[f->piece + k];
            if (pc->frame == PIECE_STATIC) {
                va_buf_put(tmp, p->text + pc->index, pc->len);
                esc |= pc->esc;
            } else {
                bx_val_fmt(&vals[pc->frame][pc->index], 0, tmp, &esc);
            }
        }
        va_json_value(out, tmp->len ? tmp->p : "", tmp->len, (va_vtype)f->type, !esc);
    }
    va_buf_putc(out, '}');
    if (tmp->oom) out->oom = 1;
}

/* What a candidate plan did for the record: did not fit it; or fitted, and the record is done
 * (flattened, or its JSON written); or fitted, and is a shape without plan (walk). */
enum { NO_FIT, DONE, WALK };

static int use_plan(va_evtx_ctx *c, bx_plans *ps, bx_plan *p, const bx_op *top,
                    const pl_ident *top_id, const uint16_t *codes, parsed *got, va_event *ev,
                    int transient, va_buf *json, int *wrote, int *result) {
    const bx_val *vals[PLAN_MAX_FRAMES];
    int failed = 0;
    if (!plan_fits(c, ps, p, top, top_id, codes, vals, got, &failed)) {
        if (!failed) return NO_FIT;
        /* The walker would fail on the same fragment with the same reason (c->err). */
        *result = -1;
        return DONE;
    }
    if (p->none) return WALK;
    *result = 0;
    if (json && p->distinct && (p->keys || !plan_keys(c, ps, p))) {
        plan_json(p, vals, json, &c->scratch);
        *wrote = 1;
        return DONE;
    }
    va_flat fl;
    va_flat_begin(&fl, ev, &c->text);
    fl.transient = transient;
    plan_replay(p, vals, &fl);
    /* Repeated elements move the fields after them: then every field is looked at. */
    va_err e = p->ngroups ? va_flat_end(&fl) : va_flat_end_facts(&fl, p->facts, p->nfacts);
    if (e != VA_OK) {
        strcpy(c->err, "out of memory");
        c->err_code = VA_ENOMEM;
        *result = -1;
    } else if (p->distinct) {
        ev->names_distinct = ev->n;
    }
    return DONE;
}

/* A plan for the record, if one fits: 1 (and *result) when the record was flattened by it,
 * or, with json given, when its JSON was written there instead (*wrote); 0 otherwise, with
 * *walk set when its shape is known to have no plan. */
static int try_plan(va_evtx_ctx *c, bx_plans *ps, const bx_frag *frag, va_event *ev, int transient,
                    va_buf *json, int *wrote, int *result, int *walk) {
    const bx_op *top = &frag->ops[0];
    uint16_t codes[PLAN_MAX_VALS];
    for (uint32_t i = 0; i < top->nvals; i++) codes[i] = shape_of(&top->vals[i]);
    const pl_ident *top_id = ident_of(ps, top->tmpl);
    if (!top_id) return 0;
    uint64_t h = shape_hash(top_id, codes, top->nvals);
    parsed got;
    got.n = 0;
    /* First the plans for the embedded template the record names, if known (one, mostly);
     * then all the plans of its own template and shapes. */
    uint32_t one = single_binxml(codes, top->nvals);
    const pl_ident *hint = one < top->nvals ? embed_hint(c, ps, &top->vals[one]) : NULL;
    for (int pass = hint ? 0 : 1; pass < 2; pass++) {
        va_hash_iter it;
        for (uint32_t k = va_hash_first(&ps->index, pass ? h : embed_key(h, hint), &it);
             k != VA_HASH_END; k = va_hash_next(&ps->index, &it)) {
            int u = use_plan(c, ps, ps->plan[k], top, top_id, codes, &got, ev, transient, json,
                             wrote, result);
            if (u == DONE) return 1;
            if (u == WALK) {
                *walk = 1;
                return 0;
            }
        }
    }
    return 0;
}

int bx_flatten_json(va_evtx_ctx *c, const bx_frag *f, va_event *ev, int transient, va_buf *json,
                    int *wrote) {
    bx_plans *ps = plans_get(c);
    int plannable =
        ps && f->n == 1 && f->ops[0].kind == OP_TINST && f->ops[0].nvals <= PLAN_MAX_VALS;
    int r, walk = 0;
    *wrote = 0;
    if (plannable && try_plan(c, ps, f, ev, transient, json, wrote, &r, &walk)) return r;
    fr x;
    x.c = c;
    x.rec = plannable && !walk && !plans_full(ps) ? &ps->rec : NULL;
    va_flat_begin(&x.fl, ev, &c->text);
    x.fl.transient = transient;
    if (x.rec) {
        rec_start(x.rec);
        x.fl.seen = rec_seen, x.fl.named = rec_named, x.fl.seen_ud = &x;
    }
    r = bx_walk(c, f, &flat_visit, &x);
    if (va_flat_end(&x.fl) != VA_OK && !r) {
        strcpy(c->err, "out of memory");
        r = -1;
    }
    if (x.rec && !r) plan_store(ps, ev);
    return r;
}

int bx_flatten(va_evtx_ctx *c, const bx_frag *f, va_event *ev, int transient) {
    int wrote;
    return bx_flatten_json(c, f, ev, transient, NULL, &wrote);
}
