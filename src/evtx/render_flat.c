/*
 * render_flat.c - a record as a flat event: the binary XML visitor that feeds flat.c.
 */
#include <string.h>

#include "core/utf.h"
#include "evtx/evtx_int.h"
#include "evtx/flat.h"

typedef struct fr {
    va_evtx_ctx *c;
    va_flat fl;
} fr;

static void f_open(void *ud, const char *name, uint32_t len, int esc) {
    va_flat_open_ex(&((fr *)ud)->fl, name, len, esc);
}

static void f_attr(void *ud, const char *name, uint32_t len, int esc, const bx_val *v,
                   uint32_t nv) {
    fr *x = ud;
    va_buf *s = &x->c->scratch;
    va_buf_clear(s);
    va_vtype t = nv ? VA_V_STR : VA_V_NULL;
    int vesc = 0;
    for (uint32_t i = 0; i < nv; i++) {
        va_vtype ti = bx_val_fmt(&v[i], 0, s, &vesc);
        t = nv == 1 ? ti : VA_V_STR;
    }
    va_flat_attr_ex(&x->fl, name, len, esc, s->p ? s->p : "", s->len, t, vesc);
}

static void f_close_start(void *ud) {
    (void)ud;
}

static void f_end(void *ud, int empty) {
    (void)empty;
    va_flat_close(&((fr *)ud)->fl);
}

static void f_text(void *ud, const bx_val *v) {
    fr *x = ud;
    size_t before = x->fl.text->len;
    int esc = 0;
    va_vtype t = bx_val_fmt(v, 0, x->fl.text, &esc); /* formatted in place: no copy */
    va_flat_text_appended(&x->fl, x->fl.text->len - before, t, esc);
}

static void f_charref(void *ud, uint32_t cp) {
    char tmp[4];
    va_flat_text_ex(&((fr *)ud)->fl, tmp, va_utf8_enc(cp, tmp), VA_V_STR,
                    cp < 0x20 || cp == '"' || cp == '\\');
}

static void f_entref(void *ud, const char *name, uint32_t len) {
    char ch[8];
    if (bx_entity_char(name, len, ch))
        va_flat_text_ex(&((fr *)ud)->fl, ch, strlen(ch), VA_V_STR, ch[0] == '"');
}

static void f_cdata(void *ud, const char *s, uint32_t len) {
    va_flat_text(&((fr *)ud)->fl, s, len, VA_V_STR); /* rare: let the output check it */
}

static void f_pi(void *ud, const char *t, uint32_t tl, const char *d, uint32_t dl) {
    (void)ud, (void)t, (void)tl, (void)d, (void)dl; /* not event data */
}

static const bx_visit flat_visit = {f_open,    f_attr,   f_close_start, f_end, f_text,
                                    f_charref, f_entref, f_cdata,       f_pi};

int bx_flatten(va_evtx_ctx *c, const bx_frag *f, va_event *ev, int transient) {
    fr x;
    x.c = c;
    va_flat_begin(&x.fl, ev, &c->text);
    x.fl.transient = transient;
    int r = bx_walk(c, f, &flat_visit, &x);
    if (va_flat_end(&x.fl) != VA_OK && !r) {
        strcpy(c->err, "out of memory");
        r = -1;
    }
    return r;
}
