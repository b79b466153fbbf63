/*
 * binxml.c - binary XML tokens to op lists; names and templates cached per chunk.
 *
 * Every offset here is relative to the chunk, every read is bounds-checked against the region
 * being parsed, and every failure leaves a reason in c->err: a damaged record costs that record,
 * never the process.  Template definitions are parsed once per chunk and shared by all the
 * records that instantiate them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/hash.h"
#include "core/utf.h"
#include "evtx/evtx_int.h"

#define BX_MAX_OPS   (1u << 20) /* per fragment: a 64 KiB chunk cannot hold more tokens */
#define BX_MAX_VALS  65535u
#define BX_MAX_DEPTH 16 /* nested binary XML / template instances */

static int fail_code(va_evtx_ctx *c, va_err code, uint32_t off, const char *fmt, unsigned a) {
    snprintf(c->err, sizeof c->err, fmt, a);
    c->err_off = off;
    c->err_code = code;
    return -1;
}

/* Malformed structure. */
static int fail(va_evtx_ctx *c, uint32_t off, const char *fmt, unsigned a) {
    return fail_code(c, VA_EFORMAT, off, fmt, a);
}

/* A size, count or offset that points outside its container. */
static int fail_range(va_evtx_ctx *c, uint32_t off, const char *fmt, unsigned a) {
    return fail_code(c, VA_ERANGE, off, fmt, a);
}

/* ---- offset map ---- */

static void map_clear(bx_map *m) {
    va_hash_clear(&m->index);
    m->n = 0;
}

static uint64_t map_hash(uint32_t key) {
    return va_hash_u64(0, key);
}

/* The value under chunk offset key, NULL if none (!create) or out of memory (create: added,
 * NULL).  Valid until the next map_slot that adds to m. */
static void **map_slot(bx_map *m, uint32_t key, int create) {
    uint64_t h = map_hash(key);
    va_hash_iter it;
    for (uint32_t k = va_hash_first(&m->index, h, &it); k != VA_HASH_END;
         k = va_hash_next(&m->index, &it))
        if (m->e[k].key == key) return &m->e[k].val;
    if (!create || VA_ARRAY_GROW(m->e, m->cap, (size_t)m->n + 1) ||
        va_hash_insert(&m->index, h, m->n))
        return NULL;
    m->e[m->n].key = key, m->e[m->n].val = NULL;
    return &m->e[m->n++].val;
}

static void map_free(bx_map *m) {
    va_hash_free(&m->index);
    free(m->e);
}

void bx_ctx_chunk_reset(va_evtx_ctx *c, const uint8_t *chunk, uint32_t len) {
    va_arena_reset(&c->arena);
    map_clear(&c->names);
    map_clear(&c->tmpls);
    bx_plans_chunk(c->plans, c->plan_bytes);
    c->chunk = chunk;
    c->chunk_len = len;
    c->depth = 0;
    c->err[0] = 0;
    c->err_code = VA_EFORMAT;
}

va_evtx_ctx *va_evtx_ctx_new(void) {
    va_evtx_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (!(c->chunk_buf = malloc(VA_EVTX_CHUNK_SIZE))) {
        free(c);
        return NULL;
    }
    va_arena_init(&c->arena, 256 * 1024);
    va_buf_init(&c->scratch);
    va_buf_init(&c->text);
    va_buf_init(&c->sig);
    return c;
}

void va_evtx_ctx_free(va_evtx_ctx *c) {
    if (!c) return;
    va_arena_free(&c->arena);
    free(c->chunk_buf);
    map_free(&c->names);
    map_free(&c->tmpls);
    va_buf_free(&c->scratch);
    va_buf_free(&c->text);
    va_buf_free(&c->sig);
    va_json_scratch_free(&c->json);
    bx_plans_free(c->plans);
    free(c);
}

/* ---- names ---- */

typedef struct bx_name {
    const char *s;
    uint32_t len;
    uint8_t esc; /* may need JSON escaping: found once per chunk, not per use */
} bx_name;

/* Resolve the name at chunk offset noff.  Name layout: u32 next, u16 hash, u16 nchars,
 * UTF-16 chars, u16 NUL.  *size gets the on-disk size (for skipping inline names). */
static const bx_name *name_at(va_evtx_ctx *c, uint32_t noff, uint32_t *size) {
    if (noff < 8 || noff > c->chunk_len || c->chunk_len - noff < 8) {
        fail_range(c, noff, "name offset 0x%x outside the chunk", noff);
        return NULL;
    }
    uint32_t nch = bx_rd16(c->chunk + noff + 6);
    uint32_t sz = 8 + 2 * nch + 2;
    if (sz > c->chunk_len - noff) {
        fail_range(c, noff, "name of %u characters runs past the chunk", nch);
        return NULL;
    }
    if (size) *size = sz;
    void **slot = map_slot(&c->names, noff, 1);
    if (!slot) {
        fail_code(c, VA_ENOMEM, noff, "out of memory%.0u", 0);
        return NULL;
    }
    if (*slot) return *slot;
    bx_name *n = va_arena_alloc(&c->arena, sizeof *n);
    size_t l;
    unsigned found = 0;
    char *s = n ? va_utf16le_dup_ex(&c->arena, c->chunk + noff + 8, nch, &l, &found) : NULL;
    if (!s) {
        fail_code(c, VA_ENOMEM, noff, "out of memory%.0u", 0);
        return NULL;
    }
    n->s = s, n->len = (uint32_t)l, n->esc = (found & VA_UTF16_JSON_ESC) != 0;
    *slot = n;
    return n;
}

/* ---- op lists ---- */

typedef struct oplist {
    bx_op *ops;
    uint32_t n, cap;
} oplist;

static bx_op *op_push(va_evtx_ctx *c, oplist *l, uint8_t kind, uint32_t off) {
    if (l->n == l->cap) {
        if (l->cap >= BX_MAX_OPS) {
            fail_code(c, VA_ELIMIT, off, "more than %u tokens in one fragment", BX_MAX_OPS);
            return NULL;
        }
        /* Ops live in the chunk's arena, which cannot realloc: VA_ARRAY_GROW does not apply.
         * Most fragments are one template instance: one op; then room for a template. */
        uint32_t cap = l->cap ? (l->cap == 1 ? 256 : l->cap * 2) : 1;
        bx_op *o = va_arena_alloc(&c->arena, cap * sizeof *o);
        if (!o) {
            fail_code(c, VA_ENOMEM, off, "out of memory%.0u", 0);
            return NULL;
        }
        if (l->n) memcpy(o, l->ops, l->n * sizeof *o);
        l->ops = o, l->cap = cap;
    }
    bx_op *op = &l->ops[l->n++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    return op;
}

/* Read a name reference (u32 offset) at *pos; skip the name if it is stored inline. */
static const bx_name *read_name_ref(va_evtx_ctx *c, uint32_t *pos, uint32_t end) {
    if (end - *pos < 4) {
        fail_range(c, *pos, "name reference truncated%.0u", 0);
        return NULL;
    }
    uint32_t noff = bx_rd32(c->chunk + *pos);
    *pos += 4;
    uint32_t sz = 0;
    const bx_name *n = name_at(c, noff, &sz);
    if (!n) return NULL;
    if (noff == *pos) {
        if (sz > end - *pos) {
            fail_range(c, *pos, "inline name runs past its fragment%.0u", 0);
            return NULL;
        }
        *pos += sz;
    }
    return n;
}

/* Is a name reference at p plausible (inline at p+4, or an earlier name in the chunk)? */
static int name_ref_plausible(va_evtx_ctx *c, uint32_t p, uint32_t end) {
    if (end < 4 || p > end - 4) return 0;
    uint32_t noff = bx_rd32(c->chunk + p);
    if (noff == p + 4) return 1;
    return noff >= 512 && noff < p && c->chunk_len - noff >= 10;
}

/* Length-prefixed UTF-16 text (u16 count + chars) at *pos; *esc: it may need JSON escaping. */
static const char *read_lstr(va_evtx_ctx *c, uint32_t *pos, uint32_t end, uint32_t *len,
                             uint8_t *esc) {
    if (end - *pos < 2) {
        fail_range(c, *pos, "string length truncated%.0u", 0);
        return NULL;
    }
    uint32_t nch = bx_rd16(c->chunk + *pos);
    *pos += 2;
    if (2 * nch > end - *pos) {
        fail_range(c, *pos, "string of %u characters runs past its fragment", nch);
        return NULL;
    }
    size_t l;
    unsigned found = 0;
    char *s = va_utf16le_dup_ex(&c->arena, c->chunk + *pos, nch, &l, &found);
    if (!s) {
        fail_code(c, VA_ENOMEM, *pos, "out of memory%.0u", 0);
        return NULL;
    }
    *pos += 2 * nch;
    *len = (uint32_t)l;
    *esc = (found & VA_UTF16_JSON_ESC) != 0;
    return s;
}

static bx_tmpl *template_at(va_evtx_ctx *c, uint32_t def);

/* Template instance at *pos (after the 0x0c token). */
static int parse_tinst(va_evtx_ctx *c, uint32_t *pos, uint32_t end, oplist *l) {
    uint32_t p = *pos;
    if (end - p < 9) return fail_range(c, p, "template instance truncated%.0u", 0);
    uint32_t def = bx_rd32(c->chunk + p + 5);
    p += 9;
    if (def == p) {
        /* Definition stored inline: next(4) guid(16) size(4) data(size). */
        if (end - p < 24) return fail_range(c, p, "inline template header truncated%.0u", 0);
        uint32_t dsz = bx_rd32(c->chunk + p + 20);
        if (dsz > end - p - 24)
            return fail_range(c, p, "inline template of %u bytes runs past", dsz);
        p += 24 + dsz;
    }
    bx_tmpl *t = template_at(c, def);
    if (!t) return -1;
    /* The instance names its template by the first 32 bits of the definition's GUID.  A
     * mismatch means the record is a leftover whose template has since been overwritten. */
    uint32_t tid = bx_rd32(c->chunk + *pos + 1);
    if (tid != bx_rd32(c->chunk + def + 4))
        return fail(c, *pos, "template id does not match the definition at 0x%x (stale record)",
                    def);
    if (end - p < 4) return fail_range(c, p, "substitution count truncated%.0u", 0);
    uint32_t nv = bx_rd32(c->chunk + p);
    p += 4;
    if (nv > BX_MAX_VALS || (uint64_t)nv * 4 > end - p)
        return fail_range(c, p, "substitution count %u does not fit the record", nv);
    bx_val *vals = va_arena_alloc(&c->arena, (nv ? nv : 1) * sizeof *vals);
    if (!vals) return fail_code(c, VA_ENOMEM, p, "out of memory%.0u", 0);
    uint32_t data = p + 4 * nv;
    for (uint32_t i = 0; i < nv; i++) {
        const uint8_t *d = c->chunk + p + 4 * i;
        vals[i].size = bx_rd16(d);
        vals[i].type = d[2];
        vals[i].esc = 0;
        if (vals[i].size > end - data)
            return fail_range(c, data, "substitution value %u runs past the record", i);
        vals[i].p = c->chunk + data;
        data += vals[i].size;
    }
    bx_op *op = op_push(c, l, OP_TINST, *pos);
    if (!op) return -1;
    op->tmpl = t, op->vals = vals, op->nvals = nv;
    *pos = data;
    return 0;
}

/* Link each OP_OPEN to its end and mark elements with direct substitutions, so the walker can
 * repeat (arrays) or drop (optional null) an element without searching for its end. */
static void link_elements(bx_op *ops, uint32_t n) {
    uint32_t stack[256], sp = 0, lost = 0;
    for (uint32_t i = 0; i < n; i++) {
        switch (ops[i].kind) {
        case OP_OPEN:
            ops[i].match = n - i;
            if (sp < 256)
                stack[sp++] = i;
            else
                lost++;
            break;
        case OP_END:
        case OP_CLOSE_EMPTY:
            if (lost)
                lost--;
            else if (sp) {
                sp--;
                ops[stack[sp]].match = i - stack[sp];
            }
            break;
        case OP_SUBST:
            if (sp && !lost) ops[stack[sp - 1]].subst = 1;
            break;
        default:
            break;
        }
    }
}

int bx_parse(va_evtx_ctx *c, uint32_t off, uint32_t end, int in_tmpl, bx_frag *out,
             uint32_t *next) {
    oplist l = {0};
    uint32_t pos = off;
    int open_depth = 0;
    if (end > c->chunk_len) end = c->chunk_len;
    while (pos < end) {
        uint32_t tokpos = pos;
        uint8_t tok = c->chunk[pos++];
        bx_op *op;
        switch (tok) {
        case 0x00: /* EOF */
            link_elements(l.ops, l.n);
            out->ops = l.ops, out->n = l.n;
            if (next) *next = pos;
            return 0;
        case 0x0f: /* fragment header: major, minor, flags */
            if (end - pos < 3) return fail_range(c, tokpos, "fragment header truncated%.0u", 0);
            pos += 3;
            break;
        case 0x01:
        case 0x41: {
            /* Open start element.  Template definitions carry a u16 dependency identifier
             * before the data size; elements outside templates usually do not.  Choose by
             * context and fall back to the other layout if the name reference does not fit. */
            int dep = in_tmpl;
            if (!name_ref_plausible(c, pos + (dep ? 6 : 4), end) &&
                name_ref_plausible(c, pos + (dep ? 4 : 6), end))
                dep = !dep;
            uint32_t hdr = (dep ? 2 : 0) + 4;
            if (end - pos < hdr) return fail_range(c, tokpos, "element header truncated%.0u", 0);
            pos += hdr;
            const bx_name *n = read_name_ref(c, &pos, end);
            if (!n) return -1;
            if (tok & 0x40) {
                if (end - pos < 4)
                    return fail_range(c, pos, "attribute list size truncated%.0u", 0);
                pos += 4;
            }
            if (!(op = op_push(c, &l, OP_OPEN, tokpos))) return -1;
            op->s = n->s, op->len = n->len, op->esc = n->esc;
            open_depth++;
            break;
        }
        case 0x02:
            if (!(op = op_push(c, &l, OP_CLOSE_START, tokpos))) return -1;
            break;
        case 0x03:
        case 0x04:
            if (open_depth == 0)
                return fail(c, tokpos, "end of element 0x%02x without a start", tok);
            open_depth--;
            if (!(op = op_push(c, &l, tok == 3 ? OP_CLOSE_EMPTY : OP_END, tokpos))) return -1;
            break;
        case 0x05:
        case 0x45: {
            if (end - pos < 1) return fail_range(c, tokpos, "value token truncated%.0u", 0);
            uint8_t vt = c->chunk[pos++];
            if (vt == BX_T_STRING) {
                uint32_t len;
                uint8_t esc;
                const char *s = read_lstr(c, &pos, end, &len, &esc);
                if (!s || !(op = op_push(c, &l, OP_TEXT, tokpos))) return -1;
                op->s = s, op->len = len, op->esc = esc;
            } else {
                uint32_t sz = vt == BX_T_SIZET ? 0 : bx_type_size(vt, 0);
                if (vt == BX_T_ANSI || vt == BX_T_BINARY || !sz) {
                    /* Variable-size inline value: u16 byte count. */
                    if (end - pos < 2) return fail_range(c, pos, "value size truncated%.0u", 0);
                    sz = bx_rd16(c->chunk + pos);
                    pos += 2;
                }
                if (sz > end - pos) return fail_range(c, pos, "value of %u bytes runs past", sz);
                if (!(op = op_push(c, &l, OP_VALUE, tokpos))) return -1;
                op->vtype = vt, op->p = c->chunk + pos, op->len = sz;
                pos += sz;
            }
            break;
        }
        case 0x06:
        case 0x46: {
            const bx_name *n = read_name_ref(c, &pos, end);
            if (!n || !(op = op_push(c, &l, OP_ATTR, tokpos))) return -1;
            op->s = n->s, op->len = n->len, op->esc = n->esc;
            break;
        }
        case 0x07:
        case 0x47: {
            uint32_t len;
            uint8_t esc;
            const char *s = read_lstr(c, &pos, end, &len, &esc);
            if (!s || !(op = op_push(c, &l, OP_CDATA, tokpos))) return -1;
            op->s = s, op->len = len, op->esc = esc;
            break;
        }
        case 0x08:
        case 0x48:
            if (end - pos < 2) return fail_range(c, tokpos, "character reference truncated%.0u", 0);
            if (!(op = op_push(c, &l, OP_CHARREF, tokpos))) return -1;
            op->index = bx_rd16(c->chunk + pos);
            pos += 2;
            break;
        case 0x09:
        case 0x49: {
            const bx_name *n = read_name_ref(c, &pos, end);
            if (!n || !(op = op_push(c, &l, OP_ENTREF, tokpos))) return -1;
            op->s = n->s, op->len = n->len, op->esc = n->esc;
            break;
        }
        case 0x0a: {
            const bx_name *n = read_name_ref(c, &pos, end);
            if (!n) return -1;
            uint32_t dl = 0;
            uint8_t esc;
            const char *d = "";
            if (pos < end && c->chunk[pos] == 0x0b) {
                pos++;
                if (!(d = read_lstr(c, &pos, end, &dl, &esc))) return -1;
            }
            if (!(op = op_push(c, &l, OP_PI, tokpos))) return -1;
            op->s = n->s, op->len = n->len, op->s2 = d, op->len2 = dl;
            break;
        }
        case 0x0b: { /* PI data without a target */
            uint32_t dl;
            uint8_t esc;
            const char *d = read_lstr(c, &pos, end, &dl, &esc);
            if (!d || !(op = op_push(c, &l, OP_PI, tokpos))) return -1;
            op->s = "", op->s2 = d, op->len2 = dl;
            break;
        }
        case 0x0c:
            if (parse_tinst(c, &pos, end, &l)) return -1;
            break;
        case 0x0d:
        case 0x0e:
            if (end - pos < 3) return fail_range(c, tokpos, "substitution truncated%.0u", 0);
            if (!(op = op_push(c, &l, OP_SUBST, tokpos))) return -1;
            op->index = bx_rd16(c->chunk + pos);
            op->vtype = c->chunk[pos + 2];
            op->optional = tok == 0x0e;
            pos += 3;
            break;
        default:
            return fail(c, tokpos, "unknown binary XML token 0x%02x", tok);
        }
    }
    /* Ran to the end of the region without an EOF token: accept what we have if it is
     * complete (some writers omit the EOF of embedded fragments). */
    if (open_depth)
        return fail(c, pos, "fragment ends inside %u open element(s)", (unsigned)open_depth);
    link_elements(l.ops, l.n);
    out->ops = l.ops, out->n = l.n;
    if (next) *next = pos;
    return 0;
}

/* The template's signature (see bx_tmpl): every op's kind, type, flags, index and lengths, and
 * the text and bytes it carries.  Two templates with the same signature walk the same way. */
static void template_sig(va_evtx_ctx *c, bx_tmpl *t) {
    va_buf *b = &c->sig;
    va_buf_clear(b);
    t->sig = NULL, t->sig_len = 0, t->sig_hash = 0;
    for (uint32_t i = 0; i < t->frag.n; i++) {
        const bx_op *op = &t->frag.ops[i];
        if (op->kind == OP_TINST) return; /* its values are bytes of this chunk */
        uint8_t head[13] = {op->kind, op->vtype, op->optional, (uint8_t)op->index,
                            (uint8_t)(op->index >> 8)};
        memcpy(head + 5, &op->len, 4);
        memcpy(head + 9, &op->len2, 4);
        va_buf_put(b, head, sizeof head);
        if (op->kind == OP_VALUE)
            va_buf_put(b, op->p, op->len);
        else if (op->s)
            va_buf_put(b, op->s, op->len);
        if (op->s2) va_buf_put(b, op->s2, op->len2);
    }
    uint8_t *sig = b->oom || b->len > UINT32_MAX ? NULL : va_arena_alloc(&c->arena, b->len + 1);
    if (!sig) return; /* not shareable: plans only within this chunk */
    if (b->len) memcpy(sig, b->p, b->len);
    t->sig = sig, t->sig_len = (uint32_t)b->len;
    t->sig_hash = va_hash_mem(sig, b->len, t->frag.n);
}

bx_tmpl *bx_template_known(va_evtx_ctx *c, uint32_t def) {
    void **slot = map_slot(&c->tmpls, def, 0);
    bx_tmpl *t = slot ? *slot : NULL;
    return t && t->ok ? t : NULL;
}

/* Template definition at chunk offset def: next(4) guid(16) size(4) fragment(size). */
static bx_tmpl *template_at(va_evtx_ctx *c, uint32_t def) {
    void **slot = map_slot(&c->tmpls, def, 1);
    if (!slot) {
        fail_code(c, VA_ENOMEM, def, "out of memory%.0u", 0);
        return NULL;
    }
    if (*slot) {
        bx_tmpl *t = *slot;
        if (!t->ok) fail(c, def, "template at 0x%x did not parse", def);
        return t->ok ? t : NULL;
    }
    bx_tmpl *t = va_arena_alloc(&c->arena, sizeof *t);
    if (!t) {
        fail_code(c, VA_ENOMEM, def, "out of memory%.0u", 0);
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->offset = def;
    *slot = t;
    if (def < 512 || def > c->chunk_len || c->chunk_len - def < 24) {
        fail_range(c, def, "template offset 0x%x outside the chunk", def);
        return NULL;
    }
    uint32_t dsz = bx_rd32(c->chunk + def + 20);
    uint32_t start = def + 24;
    if (dsz > c->chunk_len - start) {
        fail_range(c, def, "template of %u bytes runs past the chunk", dsz);
        return NULL;
    }
    if (c->depth >= BX_MAX_DEPTH) {
        fail_code(c, VA_ELIMIT, def, "templates nested deeper than %u", BX_MAX_DEPTH);
        return NULL;
    }
    c->depth++;
    int r = bx_parse(c, start, start + dsz, 1, &t->frag, NULL);
    c->depth--;
    if (r) return NULL;
    t->ok = 1;
    template_sig(c, t);
    return t;
}
