/*
 * render_xml.c - a record as indented XML, laid out like libevtx's `evtxexport -f xml`.
 *
 * The layout is what makes the differential test against evtxexport possible: two-space
 * indentation, text content on the element's line, empty elements self-closed.
 */
#include <stdio.h>
#include <string.h>

#include "evtx/evtx_int.h"

#define XML_MAX_DEPTH 256

typedef struct xr {
    va_evtx_ctx *c;
    va_buf *out;
    int depth;
    int pending; /* start tag written up to its attributes; '>' not yet written */
    uint8_t children[XML_MAX_DEPTH];
    const char *names[XML_MAX_DEPTH];
    uint32_t lens[XML_MAX_DEPTH];
} xr;

static void indent(va_buf *o, int d) {
    for (int i = 0; i < d; i++) va_buf_put(o, "  ", 2);
}

static void flush_pending(xr *x, int for_child) {
    if (!x->pending) return;
    x->pending = 0;
    va_buf_puts(x->out, for_child ? ">\n" : ">");
}

static void x_open(void *ud, const char *name, uint32_t len, int esc) {
    xr *x = ud;
    (void)esc;
    if (x->depth > 0 && x->depth <= XML_MAX_DEPTH) {
        if (x->pending)
            flush_pending(x, 1);
        else if (!x->children[x->depth - 1])
            va_buf_putc(x->out, '\n'); /* after mixed text */
        x->children[x->depth - 1] = 1;
    }
    indent(x->out, x->depth);
    va_buf_putc(x->out, '<');
    va_buf_put(x->out, name, len);
    if (x->depth < XML_MAX_DEPTH) {
        x->children[x->depth] = 0;
        x->names[x->depth] = name, x->lens[x->depth] = len;
    }
    x->depth++;
    x->pending = 1;
}

static void x_attr(void *ud, const char *name, uint32_t len, int esc, const bx_val *v,
                   const int32_t *from, uint32_t nv) {
    xr *x = ud;
    (void)from;
    va_buf *s = &x->c->scratch;
    va_buf_clear(s);
    int vesc = 0;
    (void)esc;
    for (uint32_t i = 0; i < nv; i++) bx_val_fmt(&v[i], 1, s, &vesc);
    va_buf_putc(x->out, ' ');
    va_buf_put(x->out, name, len);
    va_buf_puts(x->out, "=\"");
    va_buf_xml_esc(x->out, s->p ? s->p : "", s->len, 1);
    va_buf_putc(x->out, '"');
}

static void x_close_start(void *ud) {
    (void)ud; /* '>' is written once the content is known */
}

static void x_end(void *ud, int empty) {
    xr *x = ud;
    if (x->depth == 0) return;
    x->depth--;
    if (empty || x->pending) {
        x->pending = 0;
        va_buf_puts(x->out, "/>\n");
        return;
    }
    if (x->depth < XML_MAX_DEPTH) {
        if (x->children[x->depth]) indent(x->out, x->depth);
        va_buf_puts(x->out, "</");
        va_buf_put(x->out, x->names[x->depth], x->lens[x->depth]);
        va_buf_puts(x->out, ">\n");
    }
}

static void x_raw_text(xr *x, const char *s, size_t n, int esc) {
    if (!n) return;
    flush_pending(x, 0);
    if (esc)
        va_buf_xml_esc(x->out, s, n, 0);
    else
        va_buf_put(x->out, s, n);
}

static void x_text(void *ud, const bx_val *v, int32_t from) {
    xr *x = ud;
    (void)from;
    va_buf *s = &x->c->scratch;
    va_buf_clear(s);
    int esc = 0;
    bx_val_fmt(v, 1, s, &esc);
    x_raw_text(x, s->p, s->len, 1);
}

static void x_charref(void *ud, uint32_t cp) {
    xr *x = ud;
    char tmp[16];
    int n = snprintf(tmp, sizeof tmp, "&#%u;", cp);
    x_raw_text(x, tmp, (size_t)n, 0);
}

static void x_entref(void *ud, const char *name, uint32_t len) {
    xr *x = ud;
    flush_pending(x, 0);
    va_buf_putc(x->out, '&');
    va_buf_put(x->out, name, len);
    va_buf_putc(x->out, ';');
}

static void x_cdata(void *ud, const char *s, uint32_t len) {
    xr *x = ud;
    flush_pending(x, 0);
    va_buf_puts(x->out, "<![CDATA[");
    va_buf_put(x->out, s, len);
    va_buf_puts(x->out, "]]>");
}

static void x_pi(void *ud, const char *t, uint32_t tl, const char *d, uint32_t dl) {
    xr *x = ud;
    flush_pending(x, 1);
    if (x->depth > 0 && x->depth <= XML_MAX_DEPTH) x->children[x->depth - 1] = 1;
    indent(x->out, x->depth);
    va_buf_puts(x->out, "<?");
    va_buf_put(x->out, t, tl);
    if (dl) {
        va_buf_putc(x->out, ' ');
        va_buf_put(x->out, d, dl);
    }
    va_buf_puts(x->out, "?>\n");
}

static const bx_visit xml_visit = {x_open,   x_attr,  x_close_start, x_end, x_text, x_charref,
                                   x_entref, x_cdata, x_pi,          NULL,  NULL,   NULL};

int bx_render_xml(va_evtx_ctx *c, const bx_frag *f, va_buf *out) {
    xr x;
    memset(&x, 0, sizeof x);
    x.c = c, x.out = out;
    int r = bx_walk(c, f, &xml_visit, &x);
    while (r == 0 && x.depth > 0) x_end(&x, 0); /* close what a damaged record left open */
    return r;
}
