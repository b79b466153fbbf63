/*
 * json.c - recursive-descent JSON parser into an arena DOM (see json.h).
 *
 * Strings are decoded in two passes over the same code: the first measures the decoded length
 * and finds the closing quote, the second writes into an arena block of exactly that size, so
 * escapes and U+FFFD replacements never cost more memory than they produce.
 */
#include "json/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/utf.h"

typedef struct parser {
    const unsigned char *s;
    size_t n, i;
    va_arena *a;
    int depth, max_depth, strict_utf8;
    va_err code;   /* first error, VA_OK while none */
    size_t err_at; /* its offset */
    char why[96];
} parser;

/* Records the first error only: later ones are consequences of it. */
__attribute__((format(printf, 4, 5))) static int fail(parser *p, va_err code, size_t at,
                                                      const char *fmt, ...) {
    if (p->code) return -1;
    p->code = code;
    p->err_at = at;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* A byte as it can be shown in a message. */
static void show_byte(unsigned char c, char out[8]) {
    if (c >= 0x20 && c < 0x7F)
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02X", c);
}

static void skip_ws(parser *p) {
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static va_json *node(parser *p, va_json_type t, size_t off) {
    va_json *v = va_arena_alloc(p->a, sizeof *v);
    if (!v) {
        fail(p, VA_ENOMEM, off, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)t;
    v->s = "";
    v->off = off;
    return v;
}

static int hex4(const unsigned char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = s[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Decode the string whose opening quote is at p->i.  With out == NULL only measures: returns the
 * decoded length and stores the offset just past the closing quote in *end; *plain is set when
 * the content can be copied as it is.  With out set writes the decoded bytes.  -1 on error. */
static int64_t str_pass(parser *p, char *out, size_t *end, int *plain) {
    const unsigned char *s = p->s;
    size_t i = p->i + 1, n = p->n, o = 0;
    int clean = 1;
    for (;;) {
        size_t run = i;
        /* The common case: printable ASCII up to the next quote or backslash. */
        while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\') i++;
        if (out && i > run) memcpy(out + o, s + run, i - run);
        o += i - run;
        if (i >= n) return fail(p, VA_ETRUNC, p->i, "unterminated string");
        unsigned char c = s[i];
        if (c == '"') {
            if (end) *end = i + 1;
            if (plain) *plain = clean;
            return (int64_t)o;
        }
        if (c < 0x20) {
            char b[8];
            show_byte(c, b);
            return fail(p, VA_EFORMAT, i, "control character %s in string (must be escaped)", b);
        }
        if (c >= 0x80) {
            uint32_t cp;
            size_t k = va_utf8_next(s + i, n - i, &cp);
            if (cp == 0xFFFD && k == 1) {
                if (p->strict_utf8) return fail(p, VA_EFORMAT, i, "invalid UTF-8 in string");
                clean = 0;
                if (out) memcpy(out + o, "\xEF\xBF\xBD", 3);
                o += 3, i += 1;
            } else {
                if (out) memcpy(out + o, s + i, k);
                o += k, i += k;
            }
            continue;
        }
        /* Backslash escape. */
        clean = 0;
        if (i + 1 >= n) return fail(p, VA_ETRUNC, p->i, "unterminated string");
        unsigned char e = s[i + 1];
        char single = 0;
        switch (e) {
        case '"':
            single = '"';
            break;
        case '\\':
            single = '\\';
            break;
        case '/':
            single = '/';
            break;
        case 'b':
            single = '\b';
            break;
        case 'f':
            single = '\f';
            break;
        case 'n':
            single = '\n';
            break;
        case 'r':
            single = '\r';
            break;
        case 't':
            single = '\t';
            break;
        case 'u':
            break;
        default: {
            char b[8];
            show_byte(e, b);
            return fail(p, VA_EFORMAT, i, "invalid escape \\%s in string", b);
        }
        }
        if (e != 'u') {
            if (out) out[o] = single;
            o++, i += 2;
            continue;
        }
        uint32_t cp;
        if (i + 6 > n) return fail(p, VA_ETRUNC, i, "truncated \\u escape");
        if (hex4(s + i + 2, &cp)) return fail(p, VA_EFORMAT, i, "invalid \\u escape");
        i += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* A high surrogate counts only when a low one follows; otherwise U+FFFD and the
             * next escape is decoded on its own. */
            uint32_t lo;
            if (i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' && !hex4(s + i + 2, &lo) &&
                lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        char tmp[4];
        size_t k = va_utf8_enc(cp, tmp);
        if (out) memcpy(out + o, tmp, k);
        o += k;
    }
}

/* Parse a string at p->i into arena memory; leaves p->i after the closing quote. */
static int parse_str(parser *p, const char **out, size_t *len) {
    size_t end = 0;
    int plain = 0;
    int64_t m = str_pass(p, NULL, &end, &plain);
    if (m < 0) return -1;
    char *d = va_arena_alloc(p->a, (size_t)m + 1);
    if (!d) return fail(p, VA_ENOMEM, p->i, "out of memory");
    if (plain) {
        memcpy(d, p->s + p->i + 1, (size_t)m);
    } else if (str_pass(p, d, NULL, NULL) != m) {
        return fail(p, VA_EFORMAT, p->i, "string changed between passes");
    }
    d[m] = 0;
    *out = d, *len = (size_t)m;
    p->i = end;
    return 0;
}

static int is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static int parse_number(parser *p, va_json *v) {
    const unsigned char *s = p->s;
    size_t n = p->n, i = p->i, start = p->i;
    int neg = 0, real = 0;
    if (s[i] == '-') neg = 1, i++;
    if (i >= n) return fail(p, VA_ETRUNC, start, "number ends after '-'");
    if (s[i] == '0') {
        i++;
        if (i < n && is_digit(s[i]))
            return fail(p, VA_EFORMAT, start, "number with a leading zero");
    } else if (is_digit(s[i])) {
        while (i < n && is_digit(s[i])) i++;
    } else {
        return fail(p, VA_EFORMAT, start, "invalid number: no digit after '-'");
    }
    if (i < n && s[i] == '.') {
        real = 1, i++;
        if (i >= n || !is_digit(s[i]))
            return fail(p, i >= n ? VA_ETRUNC : VA_EFORMAT, start,
                        "invalid number: no digit after '.'");
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        real = 1, i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i]))
            return fail(p, i >= n ? VA_ETRUNC : VA_EFORMAT, start,
                        "invalid number: no digit in exponent");
        while (i < n && is_digit(s[i])) i++;
    }
    char *t = va_arena_strndup(p->a, (const char *)s + start, i - start);
    if (!t) return fail(p, VA_ENOMEM, start, "out of memory");
    v->s = t, v->len = i - start;
    v->num = (uint8_t)(real ? VA_JSON_REAL : neg ? VA_JSON_INT : VA_JSON_UINT);
    p->i = i;
    return 0;
}

static int parse_literal(parser *p, va_json *v) {
    static const struct {
        const char *w;
        va_json_type t;
        uint8_t b;
    } lits[] = {{"true", VA_JSON_BOOL, 1}, {"false", VA_JSON_BOOL, 0}, {"null", VA_JSON_NULL, 0}};
    for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
        size_t l = strlen(lits[k].w);
        if (lits[k].w[0] != (char)p->s[p->i]) continue;
        if (p->n - p->i < l) {
            if (!memcmp(p->s + p->i, lits[k].w, p->n - p->i))
                return fail(p, VA_ETRUNC, p->i, "input ends inside '%s'", lits[k].w);
            break;
        }
        if (memcmp(p->s + p->i, lits[k].w, l)) break;
        v->type = (uint8_t)lits[k].t;
        v->b = lits[k].b;
        v->s = lits[k].t == VA_JSON_NULL ? "" : lits[k].w;
        v->len = lits[k].t == VA_JSON_NULL ? 0 : l;
        p->i += l;
        return 0;
    }
    return fail(p, VA_EFORMAT, p->i, "invalid literal (expected true, false or null)");
}

static va_json *parse_value(parser *p);

/* Items or members of a container opened at p->i (the bracket); close is ']' or '}'. */
static int parse_container(parser *p, va_json *v, int is_obj) {
    unsigned char close = is_obj ? '}' : ']';
    if (++p->depth > p->max_depth)
        return fail(p, VA_ELIMIT, p->i, "nesting deeper than %d", p->max_depth);
    p->i++;
    va_json **tail = &v->child;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        p->depth--;
        return 0;
    }
    for (;;) {
        const char *key = NULL;
        size_t klen = 0;
        skip_ws(p);
        if (p->i >= p->n)
            return fail(p, VA_ETRUNC, p->i, "input ends inside an %s", is_obj ? "object" : "array");
        if (is_obj) {
            if (p->s[p->i] != '"') {
                char b[8];
                show_byte(p->s[p->i], b);
                return fail(p, VA_EFORMAT, p->i, "expected a member name in quotes, found %s", b);
            }
            if (parse_str(p, &key, &klen)) return -1;
            skip_ws(p);
            if (p->i >= p->n) return fail(p, VA_ETRUNC, p->i, "input ends inside an object");
            if (p->s[p->i] != ':') {
                char b[8];
                show_byte(p->s[p->i], b);
                return fail(p, VA_EFORMAT, p->i, "expected ':' after a member name, found %s", b);
            }
            p->i++;
        }
        va_json *c = parse_value(p);
        if (!c) return -1;
        c->key = key, c->klen = klen;
        *tail = c, tail = &c->next;
        if (v->n == UINT32_MAX) return fail(p, VA_ELIMIT, c->off, "too many members");
        v->n++;
        skip_ws(p);
        if (p->i >= p->n)
            return fail(p, VA_ETRUNC, p->i, "input ends inside an %s", is_obj ? "object" : "array");
        unsigned char ch = p->s[p->i];
        if (ch == ',') {
            p->i++;
            continue;
        }
        if (ch == close) {
            p->i++;
            p->depth--;
            return 0;
        }
        char b[8];
        show_byte(ch, b);
        return fail(p, VA_EFORMAT, p->i, "expected ',' or '%c' in %s, found %s", close,
                    is_obj ? "object" : "array", b);
    }
}

static va_json *parse_value(parser *p) {
    skip_ws(p);
    if (p->i >= p->n) {
        fail(p, VA_ETRUNC, p->i, "input ends where a value was expected");
        return NULL;
    }
    unsigned char c = p->s[p->i];
    va_json *v = node(p, VA_JSON_NULL, p->i);
    if (!v) return NULL;
    int r;
    switch (c) {
    case '{':
        v->type = VA_JSON_OBJECT;
        r = parse_container(p, v, 1);
        break;
    case '[':
        v->type = VA_JSON_ARRAY;
        r = parse_container(p, v, 0);
        break;
    case '"':
        v->type = VA_JSON_STRING;
        r = parse_str(p, &v->s, &v->len);
        break;
    case 't':
    case 'f':
    case 'n':
        r = parse_literal(p, v);
        break;
    default:
        if (c == '-' || is_digit(c)) {
            v->type = VA_JSON_NUMBER;
            r = parse_number(p, v);
        } else {
            char b[8];
            show_byte(c, b);
            r = fail(p, VA_EFORMAT, p->i, "unexpected %s where a value was expected", b);
        }
    }
    return r ? NULL : v;
}

/* Line and column (in characters) of offset off, counted only when an error is reported. */
static void locate(const unsigned char *s, size_t off, uint32_t *line, uint32_t *col) {
    uint32_t l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n')
            l++, c = 1;
        else if ((s[i] & 0xC0) != 0x80)
            c++;
    }
    *line = l, *col = c;
}

va_err va_json_parse(va_arena *a, const char *text, size_t len, const va_json_opts *o,
                     va_json **out, va_json_error *err) {
    parser p;
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)text;
    p.n = len;
    p.a = a;
    size_t max_size = o && o->max_size ? o->max_size : VA_JSON_DEFAULT_MAX_SIZE;
    p.max_depth = o && o->max_depth > 0 ? o->max_depth : VA_JSON_DEFAULT_MAX_DEPTH;
    if (p.max_depth > VA_JSON_HARD_MAX_DEPTH) p.max_depth = VA_JSON_HARD_MAX_DEPTH;
    p.strict_utf8 = o ? o->strict_utf8 : 0;
    *out = NULL;
    va_json *root = NULL;
    if (len > max_size) {
        fail(&p, VA_ELIMIT, max_size, "document of %zu bytes is larger than the limit of %zu", len,
             max_size);
    } else {
        root = parse_value(&p);
        if (root) {
            skip_ws(&p);
            if (p.i < p.n) {
                char b[8];
                show_byte(p.s[p.i], b);
                fail(&p, VA_EFORMAT, p.i, "unexpected %s after the end of the value", b);
            }
        }
    }
    if (p.code) {
        if (err) {
            err->code = p.code;
            err->offset = p.err_at;
            /* The size check fires before reading: do not walk a huge input to locate it. */
            if (p.err_at <= len && !(len > max_size))
                locate(p.s, p.err_at, &err->line, &err->col);
            else
                err->line = err->col = 0;
            memcpy(err->reason, p.why, sizeof err->reason);
        }
        return p.code;
    }
    *out = root;
    return VA_OK;
}

const va_json *va_json_getn(const va_json *v, const char *key, size_t klen) {
    if (!v || v->type != VA_JSON_OBJECT) return NULL;
    for (const va_json *c = v->child; c; c = c->next)
        if (c->klen == klen && memcmp(c->key, key, klen) == 0) return c;
    return NULL;
}

const va_json *va_json_get(const va_json *v, const char *key) {
    return va_json_getn(v, key, strlen(key));
}

int va_json_is_scalar(const va_json *v) {
    return v && v->type != VA_JSON_ARRAY && v->type != VA_JSON_OBJECT;
}

va_vtype va_json_vtype(const va_json *v) {
    switch (v->type) {
    case VA_JSON_NULL:
        return VA_V_NULL;
    case VA_JSON_BOOL:
        return VA_V_BOOL;
    case VA_JSON_NUMBER:
        return v->num == VA_JSON_REAL ? VA_V_REAL : v->num == VA_JSON_INT ? VA_V_INT : VA_V_UINT;
    default:
        return VA_V_STR;
    }
}

const char *va_json_type_name(va_json_type t) {
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}
