/*
 * walk.c - expand a record: template instances, substitutions, embedded binary XML.
 *
 * The walker is the single place that knows how a record's ops combine with its
 * substitution values; the XML renderer and the flattener are visitors that only see
 * elements, attributes and values.  Windows semantics kept here: an attribute whose value
 * is only optional substitutions that are null is left out.
 */
#include <string.h>

#include "core/utf.h"
#include "evtx/evtx_int.h"

#define WALK_MAX_DEPTH 16
#define ATTR_MAX_VALS  16

#define OVR_MAX 4

/* Array items standing in for their array substitution while an element is repeated. */
typedef struct ovr {
    uint32_t n;
    uint16_t index[OVR_MAX];
    bx_val val[OVR_MAX];
} ovr;

static int walk_ops(va_evtx_ctx *c, const bx_op *ops, uint32_t n, const bx_val *vals,
                    uint32_t nvals, const ovr *ov, const bx_visit *v, void *ud);

static const bx_val null_val = {BX_T_NULL, 0, 0, NULL};

static const bx_val *subst(const bx_op *op, const bx_val *vals, uint32_t nvals, const ovr *ov) {
    for (uint32_t k = 0; ov && k < ov->n; k++)
        if (ov->index[k] == op->index) return &ov->val[k];
    return op->index < nvals ? &vals[op->index] : &null_val;
}

int bx_array_next(const bx_val *a, uint32_t *pos, bx_val *out) {
    uint8_t et = a->type & 0x7f;
    out->type = et, out->esc = 0;
    if (et == BX_T_STRING || et == BX_T_ANSI) {
        uint32_t unit = et == BX_T_STRING ? 2 : 1, end = a->size / unit * unit, i = *pos;
        if (i >= end) return 0;
        while (i < end && (a->p[i] | (unit == 2 ? a->p[i + 1] : 0))) i += unit;
        out->p = a->p + *pos, out->size = i - *pos;
        *pos = i < end ? i + unit : end;
        return 1;
    }
    uint32_t es = bx_type_size(et, a->size);
    if (!es || a->size - *pos < es || *pos > a->size) return 0;
    out->p = a->p + *pos, out->size = es;
    *pos += es;
    return 1;
}

uint32_t bx_array_count(const bx_val *a) {
    bx_val item;
    uint32_t pos = 0, n = 0;
    uint8_t et = a->type & 0x7f;
    if (et != BX_T_STRING && et != BX_T_ANSI) {
        uint32_t es = bx_type_size(et, a->size);
        return es ? a->size / es : 0;
    }
    while (bx_array_next(a, &pos, &item)) n++;
    return n;
}

/* Element at ops[0] (an OP_OPEN with direct substitutions): does an array substitution repeat
 * it (returns the op index of that substitution), or is its content only optional
 * substitutions that are null (returns -2: Windows leaves such an element out)? -1: neither. */
static long element_plan(const bx_op *ops, const bx_val *vals, uint32_t nvals, const ovr *ov,
                         uint32_t *count) {
    uint32_t end = ops[0].match, content = 0, optnull = 0;
    int in_attrs = 1;
    for (uint32_t j = 1; j < end; j++) {
        const bx_op *o = &ops[j];
        if (o->kind == OP_CLOSE_START) {
            in_attrs = 0;
            continue;
        }
        if (o->kind == OP_OPEN) {
            content++;
            j += o->match;
            continue;
        }
        if (o->kind == OP_ATTR) continue;
        if (!in_attrs) content++;
        if (o->kind != OP_SUBST) continue;
        const bx_val *sv = subst(o, vals, nvals, ov);
        if (!in_attrs && o->optional && sv->type == BX_T_NULL) optnull++;
        if ((sv->type & BX_T_ARRAY) && sv->type != (BX_T_ARRAY | BX_T_NULL)) {
            uint32_t cnt = bx_array_count(sv);
            if (cnt > 1 && (!ov || ov->n < OVR_MAX)) {
                *count = cnt;
                return (long)j;
            }
        }
    }
    if (content && optnull == content) return -2;
    return -1;
}

/* Embedded binary XML (a substitution of type 0x21) walked in place. */
static int walk_embedded(va_evtx_ctx *c, const bx_val *val, int32_t idx, const bx_visit *v,
                         void *ud) {
    if (c->depth >= WALK_MAX_DEPTH) {
        strcpy(c->err, "embedded binary XML nested too deep");
        c->err_code = VA_ELIMIT;
        return -1;
    }
    uint32_t off = (uint32_t)(val->p - c->chunk);
    bx_frag f;
    c->depth++;
    if (v->embedded) v->embedded(ud, idx, 1);
    int r = bx_parse(c, off, off + val->size, 0, &f, NULL);
    if (!r) r = walk_ops(c, f.ops, f.n, NULL, 0, NULL, v, ud);
    if (v->embedded) v->embedded(ud, idx, 0);
    c->depth--;
    return r;
}

/* The five predefined XML entities as text; 0 for any other name. */
int bx_entity_char(const char *name, uint32_t len, char out[8]) {
    static const struct {
        const char *n, *v;
    } ents[] = {{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
    for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
        if (strlen(ents[i].n) == len && !memcmp(ents[i].n, name, len)) {
            strcpy(out, ents[i].v);
            return 1;
        }
    }
    return 0;
}

static int is_value_op(uint8_t k) {
    return k == OP_TEXT || k == OP_VALUE || k == OP_SUBST || k == OP_CHARREF || k == OP_ENTREF;
}

static void op_text_val(const bx_op *op, bx_val *out) {
    out->type = BX_T_UTF8, out->esc = op->esc, out->p = (const uint8_t *)op->s;
    out->size = op->len;
}

static int walk_ops(va_evtx_ctx *c, const bx_op *ops, uint32_t n, const bx_val *vals,
                    uint32_t nvals, const ovr *ov, const bx_visit *v, void *ud) {
    for (uint32_t i = 0; i < n; i++) {
        const bx_op *op = &ops[i];
        bx_val tv;
        switch (op->kind) {
        case OP_OPEN:
            if (op->subst && op->match < n - i) {
                uint32_t count = 0;
                long plan = element_plan(op, vals, nvals, ov, &count);
                if (plan == -2) { /* optional and null: left out */
                    i += op->match;
                    break;
                }
                if (plan >= 0) { /* array: the element once per item */
                    const bx_op *ao = &op[plan];
                    const bx_val *arr = subst(ao, vals, nvals, ov);
                    ovr o2 = ov ? *ov : (ovr){0};
                    o2.index[o2.n] = ao->index;
                    o2.n++;
                    uint32_t pos = 0;
                    for (uint32_t k = 0; k < count && bx_array_next(arr, &pos, &o2.val[o2.n - 1]);
                         k++) {
                        if (v->repeat) v->repeat(ud, ao->index, k, 1);
                        if (walk_ops(c, op, op->match + 1, vals, nvals, &o2, v, ud)) return -1;
                        if (v->repeat) v->repeat(ud, ao->index, k, 0);
                    }
                    i += op->match;
                    break;
                }
            }
            v->open(ud, op->s, op->len, op->esc);
            break;
        case OP_CLOSE_START:
            v->close_start(ud);
            break;
        case OP_CLOSE_EMPTY:
            v->end(ud, 1);
            break;
        case OP_END:
            v->end(ud, 0);
            break;
        case OP_ATTR: {
            bx_val av[ATTR_MAX_VALS];
            int32_t from[ATTR_MAX_VALS];
            uint32_t na = 0, pieces = 0, optional_null = 0;
            char ref[ATTR_MAX_VALS][8];
            while (i + 1 < n && is_value_op(ops[i + 1].kind)) {
                const bx_op *vo = &ops[++i];
                pieces++;
                bx_val x;
                int32_t xi = -1;
                switch (vo->kind) {
                case OP_TEXT:
                    op_text_val(vo, &x);
                    break;
                case OP_VALUE:
                    x.type = vo->vtype, x.esc = 0, x.p = vo->p, x.size = vo->len;
                    break;
                case OP_SUBST:
                    x = *subst(vo, vals, nvals, ov);
                    if (x.type == BX_T_NULL) {
                        optional_null += vo->optional;
                        continue;
                    }
                    xi = vo->index;
                    break;
                case OP_CHARREF:
                    /* Rare in attributes; keep the character itself. */
                    if (na == ATTR_MAX_VALS) continue;
                    x.type = BX_T_UTF8, x.p = (const uint8_t *)ref[na];
                    x.size = (uint32_t)va_utf8_enc(vo->index, ref[na]);
                    x.esc = vo->index < 0x20 || vo->index == '"' || vo->index == '\\';
                    break;
                default: /* entity reference: the character it stands for */
                    if (na == ATTR_MAX_VALS) continue;
                    if (!bx_entity_char(vo->s, vo->len, ref[na])) {
                        op_text_val(vo, &x); /* unknown entity: keep its name */
                        break;
                    }
                    x.type = BX_T_UTF8, x.p = (const uint8_t *)ref[na];
                    x.size = (uint32_t)strlen(ref[na]);
                    x.esc = ref[na][0] == '"';
                    break;
                }
                if (na < ATTR_MAX_VALS) from[na] = xi, av[na++] = x;
            }
            if (pieces && optional_null == pieces) break; /* optional and null: omitted */
            v->attr(ud, op->s, op->len, op->esc, av, from, na);
            break;
        }
        case OP_TEXT:
            op_text_val(op, &tv);
            v->text(ud, &tv, -1);
            break;
        case OP_VALUE:
            tv.type = op->vtype, tv.esc = 0, tv.p = op->p, tv.size = op->len;
            v->text(ud, &tv, -1);
            break;
        case OP_SUBST: {
            const bx_val *sv = subst(op, vals, nvals, ov);
            if (sv->type == BX_T_NULL) break;
            if (sv->type == BX_T_BINXML) {
                if (walk_embedded(c, sv, op->index, v, ud)) return -1;
                break;
            }
            v->text(ud, sv, op->index);
            break;
        }
        case OP_CHARREF:
            v->charref(ud, op->index);
            break;
        case OP_ENTREF:
            v->entref(ud, op->s, op->len);
            break;
        case OP_CDATA:
            v->cdata(ud, op->s, op->len);
            break;
        case OP_PI:
            v->pi(ud, op->s, op->len, op->s2, op->len2);
            break;
        case OP_TINST:
            if (c->depth >= WALK_MAX_DEPTH) {
                strcpy(c->err, "template instances nested too deep");
                c->err_code = VA_ELIMIT;
                return -1;
            }
            c->depth++;
            if (v->tinst) v->tinst(ud, op, 1);
            int r =
                walk_ops(c, op->tmpl->frag.ops, op->tmpl->frag.n, op->vals, op->nvals, NULL, v, ud);
            if (v->tinst) v->tinst(ud, op, 0);
            c->depth--;
            if (r) return -1;
            break;
        default:
            break;
        }
    }
    return 0;
}

int bx_walk(va_evtx_ctx *c, const bx_frag *f, const bx_visit *v, void *ud) {
    c->depth = 0;
    return walk_ops(c, f->ops, f->n, NULL, 0, NULL, v, ud);
}
