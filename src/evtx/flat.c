/*
 * flat.c - Windows event flattening rules (see flat.h).
 */
#include "evtx/flat.h"

#include <stdint.h>
#include <string.h>

enum { SEC_NONE, SEC_SYSTEM, SEC_EVENTDATA, SEC_USERDATA, SEC_RENDERING, SEC_OTHER };

static int eq(const char *a, size_t al, const char *b) {
    size_t bl = strlen(b);
    return al == bl && memcmp(a, b, bl) == 0;
}

/* While an event is being flattened, names and values are offsets into the text store (it
 * may move as it grows); va_flat_end turns them into pointers.  NAME_OFF marks, in
 * va_field.type, a name that is such an offset (names taken from the source are pointers). */
#define NAME_OFF 0x80

void va_flat_begin(va_flat *fl, va_event *ev, va_buf *text) {
    fl->ev = ev, fl->text = text;
    fl->depth = 0, fl->section = SEC_NONE, fl->err = 0;
    fl->transient = 0;
    fl->seen = NULL, fl->named = NULL, fl->seen_ud = NULL;
    fl->first_field = fl->sys_end = ev->n;
    va_buf_clear(text);
    va_buf_putc(text, 0); /* offset 0 is never a string, so no offset is a NULL pointer */
}

/* Store s[0..n) and a NUL in the text store; returns its offset. */
static size_t store(va_flat *fl, const char *s, size_t n) {
    size_t off = fl->text->len;
    va_buf_put(fl->text, s, n);
    va_buf_putc(fl->text, 0);
    return off;
}

/* A field: name is a pointer, or (name NULL) the offset name_off in the store; the value is at
 * offset voff.  name_esc, val_esc: may need JSON escaping (see flat.h). */
static inline void add_field(va_flat *fl, const char *name, size_t name_off, size_t nlen,
                             int name_esc, size_t voff, size_t vlen, va_vtype t, int val_esc) {
    /* A failed append left the store short: its offsets name nothing (the record fails). */
    va_field *f =
        nlen <= UINT32_MAX && vlen <= UINT32_MAX && !fl->text->oom ? va_event_push(fl->ev) : NULL;
    if (!f) {
        fl->err = VA_ENOMEM;
        return;
    }
    f->name = name ? name : (const char *)(uintptr_t)name_off;
    f->val = (const char *)(uintptr_t)voff;
    f->nlen = (uint32_t)nlen, f->vlen = (uint32_t)vlen;
    f->type = (uint8_t)(t | (name ? 0 : NAME_OFF));
    f->flags = (uint8_t)((name_esc ? 0 : VA_FIELD_NAME_PLAIN) | (val_esc ? 0 : VA_FIELD_VAL_PLAIN));
    if (fl->seen)
        fl->seen(fl->seen_ud, name ? name : fl->text->p + name_off, nlen, name_esc, voff, vlen, t);
}

void va_flat_field(va_flat *fl, const char *name, size_t nlen, int name_esc, size_t voff,
                   size_t vlen, va_vtype t, int val_esc) {
    add_field(fl, name, 0, nlen, name_esc, voff, vlen, t, val_esc);
}

va_field *va_flat_fields(va_flat *fl, uint32_t n) {
    va_event *ev = fl->ev;
    while (ev->cap - ev->n < n)
        if (va_event_grow_(ev)) {
            fl->err = VA_ENOMEM;
            return NULL;
        }
    ev->n += n;
    return ev->f + ev->n - n;
}

/* A field whose name is a stable pointer (plain) and whose value is copied into the store. */
static void add(va_flat *fl, const char *name, size_t nlen, const char *val, size_t vlen,
                va_vtype t, int val_esc) {
    add_field(fl, name, 0, nlen, 0, store(fl, val ? val : "", val ? vlen : 0), val ? vlen : 0, t,
              val_esc);
}

/* A field named a + "_" + b, both name and value copied into the store. */
static void add_joined(va_flat *fl, const char *a, size_t al, const char *b, size_t bl,
                       int name_esc, const char *val, size_t vlen, va_vtype t, int val_esc) {
    size_t noff = fl->text->len;
    va_buf_put(fl->text, a, al);
    va_buf_putc(fl->text, '_');
    va_buf_put(fl->text, b, bl);
    va_buf_putc(fl->text, 0);
    add_field(fl, NULL, noff, al + 1 + bl, name_esc, store(fl, val, vlen), vlen, t, val_esc);
}

void va_flat_open_ex(va_flat *fl, const char *name, size_t len, int esc) {
    if (fl->depth > 0 && fl->depth <= VA_FLAT_MAX_DEPTH) fl->st[fl->depth - 1].children++;
    if (fl->depth == 1) {
        if (eq(name, len, "System"))
            fl->section = SEC_SYSTEM;
        else if (eq(name, len, "EventData"))
            fl->section = SEC_EVENTDATA;
        else if (eq(name, len, "UserData"))
            fl->section = SEC_USERDATA;
        else if (eq(name, len, "RenderingInfo"))
            fl->section = SEC_RENDERING;
        else
            fl->section = SEC_OTHER;
    }
    if (fl->depth < VA_FLAT_MAX_DEPTH) {
        va_flat_frame *f = &fl->st[fl->depth];
        memset(f, 0, sizeof *f);
        f->name = name, f->len = len;
        f->text_off = fl->text->len;
        f->type = VA_V_NULL;
        f->name_esc = esc != 0;
    }
    fl->depth++;
}

void va_flat_attr_ex(va_flat *fl, const char *name, size_t nlen, int name_esc, const char *val,
                     size_t vlen, va_vtype t, int val_esc) {
    if (fl->depth < 1 || fl->depth > VA_FLAT_MAX_DEPTH) return;
    va_flat_frame *f = &fl->st[fl->depth - 1];
    f->attrs++;
    if (fl->depth == 1) return; /* attributes of <Event> (xmlns) */
    if (nlen >= 5 && memcmp(name, "xmlns", 5) == 0) return;
    if (fl->section == SEC_SYSTEM && fl->depth == 3) {
        const char *fixed = NULL;
        if (eq(f->name, f->len, "TimeCreated") && eq(name, nlen, "SystemTime"))
            fixed = "TimeCreated";
        else if (eq(f->name, f->len, "Execution") && eq(name, nlen, "ProcessID"))
            fixed = "ProcessID";
        else if (eq(f->name, f->len, "Execution") && eq(name, nlen, "ThreadID"))
            fixed = "ThreadID";
        if (fixed)
            add(fl, fixed, strlen(fixed), val, vlen, t, val_esc);
        else
            add_joined(fl, f->name, f->len, name, nlen, f->name_esc | name_esc, val, vlen, t,
                       val_esc);
    } else if (fl->section == SEC_EVENTDATA && fl->depth == 3 && eq(f->name, f->len, "Data") &&
               eq(name, nlen, "Name")) {
        f->data_name_off = store(fl, val, vlen);
        f->data_name_len = vlen;
        f->data_name_esc = val_esc != 0;
        f->has_data_name = 1;
        if (fl->named) fl->named(fl->seen_ud);
    } else if (fl->section != SEC_RENDERING) {
        add_joined(fl, f->name, f->len, name, nlen, f->name_esc | name_esc, val, vlen, t, val_esc);
    }
    /* Attributes come before content: the element's text starts after what they stored. */
    f->text_off = fl->text->len;
}

int va_flat_text_ex(va_flat *fl, const char *val, size_t vlen, va_vtype t, int esc) {
    if (fl->depth < 1 || fl->depth > VA_FLAT_MAX_DEPTH) return 0;
    va_flat_frame *f = &fl->st[fl->depth - 1];
    if (t == VA_V_NULL) return 0;
    f->pieces++;
    f->type = f->pieces == 1 ? t : VA_V_STR;
    f->esc |= esc != 0;
    va_buf_put(fl->text, val, vlen);
    return 1;
}

int va_flat_text_appended(va_flat *fl, size_t added, va_vtype t, int esc) {
    if (fl->depth < 1 || fl->depth > VA_FLAT_MAX_DEPTH || t == VA_V_NULL) {
        fl->text->len -= added; /* not element text after all */
        if (fl->text->cap) fl->text->p[fl->text->len] = 0;
        return 0;
    }
    va_flat_frame *f = &fl->st[fl->depth - 1];
    f->pieces++;
    f->type = f->pieces == 1 ? t : VA_V_STR;
    f->esc |= esc != 0;
    return 1;
}

/* Names that identify the event: rules mean the System value by them (see flat.h). */
static int identity_name(const char *n, size_t l) {
    return eq(n, l, "EventID") || eq(n, l, "Provider_Name") || eq(n, l, "EventRecordID") ||
           eq(n, l, "Computer") || eq(n, l, "TimeCreated");
}

static int sys_has(const va_flat *fl, const char *n, size_t l) {
    for (uint32_t i = fl->first_field; i < fl->sys_end && i < fl->ev->n; i++) {
        const va_field *f = &fl->ev->f[i];
        const char *nm = (f->type & NAME_OFF) ? fl->text->p + (uintptr_t)f->name : f->name;
        if (f->nlen == l && !memcmp(nm, n, l)) return 1;
    }
    return 0;
}

/* A data leaf named like a System identity field is named Parent.Name instead. */
static void add_data(va_flat *fl, int d, const char *name, size_t name_off, size_t nlen,
                     int name_esc, size_t toff, size_t tl, va_vtype t, int val_esc) {
    char nb[128];
    const char *n = name ? name : fl->text->p + name_off;
    if (nlen >= sizeof nb || !identity_name(n, nlen) || !sys_has(fl, n, nlen)) {
        add_field(fl, name, name_off, nlen, name_esc, toff, tl, t, val_esc);
        return;
    }
    memcpy(nb, n, nlen); /* the store may move while the new name is appended */
    const va_flat_frame *p = &fl->st[d - 1];
    size_t noff = fl->text->len;
    va_buf_put(fl->text, p->name, p->len);
    va_buf_putc(fl->text, '.');
    va_buf_put(fl->text, nb, nlen);
    va_buf_putc(fl->text, 0);
    add_field(fl, NULL, noff, p->len + 1 + nlen, p->name_esc | name_esc, toff, tl, t, val_esc);
}

void va_flat_close(va_flat *fl) {
    if (fl->depth <= 0) return;
    int d = --fl->depth; /* depth of the closing element: 0 = root */
    if (d >= VA_FLAT_MAX_DEPTH) return;
    va_flat_frame *f = &fl->st[d];
    if (d == 1 && fl->section == SEC_SYSTEM) fl->sys_end = fl->ev->n;
    if (d < 1 || f->children) { /* only leaves become fields */
        if (d == 1) fl->section = SEC_NONE;
        return;
    }
    size_t toff = f->text_off, tl = fl->text->len - toff;
    va_buf_putc(fl->text, 0); /* the leaf's text, in place, is the value */
    va_vtype t = f->pieces ? f->type : VA_V_NULL;
    int ne = f->name_esc, ve = f->esc;
    switch (fl->section) {
    case SEC_SYSTEM:
        if (f->pieces && (d > 2 || d == 2)) add_field(fl, f->name, 0, f->len, ne, toff, tl, t, ve);
        break;
    case SEC_EVENTDATA:
        if (d == 1) {
            if (f->pieces) add_field(fl, f->name, 0, f->len, ne, toff, tl, t, ve);
        } else if (d == 2 && f->has_data_name) {
            add_data(fl, d, NULL, f->data_name_off, f->data_name_len, f->data_name_esc, toff, tl, t,
                     ve);
        } else {
            add_data(fl, d, f->name, 0, f->len, ne, toff, tl, t, ve);
        }
        break;
    case SEC_RENDERING:
        if (d >= 2 && f->pieces) {
            size_t noff = fl->text->len;
            va_buf_put(fl->text, "RenderingInfo_", 14);
            va_buf_put(fl->text, f->name, f->len);
            va_buf_putc(fl->text, 0);
            add_field(fl, NULL, noff, 14 + f->len, ne, toff, tl, t, ve);
        }
        break;
    default:
        if (d >= 2)
            add_data(fl, d, f->name, 0, f->len, ne, toff, tl, t, ve);
        else if (f->pieces)
            add_field(fl, f->name, 0, f->len, ne, toff, tl, t, ve);
        break;
    }
    if (d == 1) fl->section = SEC_NONE;
}

static va_err end(va_flat *fl, const uint32_t *facts, uint32_t nfacts);

va_err va_flat_end(va_flat *fl) {
    return end(fl, NULL, 0);
}

va_err va_flat_end_facts(va_flat *fl, const uint32_t *facts, uint32_t nfacts) {
    return end(fl, facts, nfacts);
}

static va_err end(va_flat *fl, const uint32_t *facts, uint32_t nfacts) {
    while (fl->depth > 0) va_flat_close(fl);
    if (fl->text->oom) fl->err = VA_ENOMEM;
    const char *base = fl->text->p;
    if (!fl->transient && !fl->err) {
        /* One copy of the whole store into the event's arena, instead of one per field. */
        char *copy = va_arena_alloc(fl->ev->arena, fl->text->len);
        if (copy)
            memcpy(copy, fl->text->p, fl->text->len);
        else
            fl->err = VA_ENOMEM;
        base = copy;
    }
    for (uint32_t i = fl->first_field; i < fl->ev->n; i++) {
        va_field *f = &fl->ev->f[i];
        if (fl->err) { /* leave no offsets behind */
            f->val = "", f->vlen = 0;
            if (f->type & NAME_OFF) f->name = "?", f->nlen = 1;
            f->type &= (uint8_t)~NAME_OFF;
            continue;
        }
        f->val = base + (uintptr_t)f->val;
        if (f->type & NAME_OFF) f->name = base + (uintptr_t)f->name;
        f->type &= (uint8_t)~NAME_OFF;
    }
    if (facts && !fl->first_field)
        va_event_finish_only(fl->ev, facts, nfacts);
    else
        va_event_finish(fl->ev);
    return fl->err ? VA_ENOMEM : VA_OK;
}
