/*
 * flat.c - Windows event flattening rules (see flat.h).
 */
#include "evtx/flat.h"

#include <string.h>

enum { SEC_NONE, SEC_SYSTEM, SEC_EVENTDATA, SEC_USERDATA, SEC_RENDERING, SEC_OTHER };

static int eq(const char *a, size_t al, const char *b) {
    size_t bl = strlen(b);
    return al == bl && memcmp(a, b, bl) == 0;
}

void va_flat_begin(va_flat *fl, va_event *ev, va_buf *text) {
    fl->ev = ev, fl->text = text;
    fl->depth = 0, fl->section = SEC_NONE, fl->err = 0;
    va_buf_clear(text);
}

static void add(va_flat *fl, const char *name, size_t nlen, int copy_name, const char *val,
                size_t vlen, va_vtype t) {
    va_err e;
    char *v = va_arena_strndup(fl->ev->arena, val ? val : "", val ? vlen : 0);
    const char *n = copy_name ? va_arena_strndup(fl->ev->arena, name, nlen) : name;
    if (!v || !n) {
        fl->err = VA_ENOMEM;
        return;
    }
    e = va_event_add(fl->ev, n, nlen, v, val ? vlen : 0, t);
    if (e) fl->err = e;
}

/* name + "_" + suffix, in the arena. */
static void add_joined(va_flat *fl, const char *a, size_t al, const char *b, size_t bl,
                       const char *val, size_t vlen, va_vtype t) {
    char *n = va_arena_alloc(fl->ev->arena, al + bl + 2);
    if (!n) {
        fl->err = VA_ENOMEM;
        return;
    }
    memcpy(n, a, al);
    n[al] = '_';
    memcpy(n + al + 1, b, bl);
    n[al + 1 + bl] = 0;
    add(fl, n, al + 1 + bl, 0, val, vlen, t);
}

void va_flat_open(va_flat *fl, const char *name, size_t len) {
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
    }
    fl->depth++;
}

void va_flat_attr(va_flat *fl, const char *name, size_t nlen, const char *val, size_t vlen,
                  va_vtype t) {
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
            add(fl, fixed, strlen(fixed), 0, val, vlen, t);
        else
            add_joined(fl, f->name, f->len, name, nlen, val, vlen, t);
        return;
    }
    if (fl->section == SEC_EVENTDATA && fl->depth == 3 && eq(f->name, f->len, "Data") &&
        eq(name, nlen, "Name")) {
        f->data_name = va_arena_strndup(fl->ev->arena, val, vlen);
        f->data_name_len = vlen;
        if (!f->data_name) fl->err = VA_ENOMEM;
        return;
    }
    if (fl->section == SEC_RENDERING) return;
    add_joined(fl, f->name, f->len, name, nlen, val, vlen, t);
}

void va_flat_text(va_flat *fl, const char *val, size_t vlen, va_vtype t) {
    if (fl->depth < 1 || fl->depth > VA_FLAT_MAX_DEPTH) return;
    va_flat_frame *f = &fl->st[fl->depth - 1];
    if (t == VA_V_NULL) return;
    f->pieces++;
    f->type = f->pieces == 1 ? t : VA_V_STR;
    va_buf_put(fl->text, val, vlen);
}

void va_flat_text_appended(va_flat *fl, size_t added, va_vtype t) {
    if (fl->depth < 1 || fl->depth > VA_FLAT_MAX_DEPTH || t == VA_V_NULL) {
        fl->text->len -= added; /* not element text after all */
        if (fl->text->cap) fl->text->p[fl->text->len] = 0;
        return;
    }
    va_flat_frame *f = &fl->st[fl->depth - 1];
    f->pieces++;
    f->type = f->pieces == 1 ? t : VA_V_STR;
}

void va_flat_close(va_flat *fl) {
    if (fl->depth <= 0) return;
    int d = --fl->depth; /* depth of the closing element: 0 = root */
    if (d >= VA_FLAT_MAX_DEPTH) return;
    va_flat_frame *f = &fl->st[d];
    const char *txt = fl->text->p ? fl->text->p + f->text_off : "";
    size_t tl = fl->text->len - f->text_off;
    va_vtype t = f->pieces ? f->type : VA_V_NULL;
    if (t != VA_V_NULL && f->children) t = VA_V_STR;
    if (d >= 1 && !f->children) {
        switch (fl->section) {
        case SEC_SYSTEM:
            if (d == 2 && (f->pieces || !f->attrs)) {
                if (f->pieces) add(fl, f->name, f->len, 0, txt, tl, t);
            } else if (d > 2 && f->pieces) {
                add(fl, f->name, f->len, 0, txt, tl, t);
            }
            break;
        case SEC_EVENTDATA:
            if (d == 1) {
                if (f->pieces) add(fl, f->name, f->len, 0, txt, tl, t);
            } else if (d == 2 && f->data_name) {
                add(fl, f->data_name, f->data_name_len, 0, txt, tl, f->pieces ? t : VA_V_NULL);
            } else {
                add(fl, f->name, f->len, 0, txt, tl, f->pieces ? t : VA_V_NULL);
            }
            break;
        case SEC_RENDERING:
            if (d >= 2 && f->pieces)
                add_joined(fl, "RenderingInfo", 13, f->name, f->len, txt, tl, t);
            break;
        default:
            if (d >= 2 || f->pieces)
                add(fl, f->name, f->len, 0, txt, tl, f->pieces ? t : VA_V_NULL);
            break;
        }
    }
    fl->text->len = f->text_off;
    if (fl->text->cap) fl->text->p[fl->text->len] = 0;
    if (d == 1) fl->section = SEC_NONE;
}

va_err va_flat_end(va_flat *fl) {
    while (fl->depth > 0) va_flat_close(fl);
    va_event_finish(fl->ev);
    return fl->err ? VA_ENOMEM : VA_OK;
}
