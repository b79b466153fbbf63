/*
 * cond.c - Sigma condition parser (recursive descent), resolver and evaluator.
 *
 * Owns the condition grammar only; rule.c calls it for each `condition` string and binds the
 * result to the rule's search identifiers.  Grammar (least to most binding, per spec 2.1):
 *
 *   or_expr  := and_expr { "or" and_expr }
 *   and_expr := not_expr { "and" not_expr }
 *   not_expr := "not" not_expr | primary
 *   primary  := "(" or_expr ")" | quant "of" (pattern | "them") | identifier
 *   quant    := integer | "all" | "any"
 *
 * Keywords are case-insensitive.  `and`/`or` chains become one n-ary node, so only
 * parentheses and `not` add depth, and those are bounded by VA_COND_MAX_DEPTH.
 */
#include "sigma/cond.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef enum tok_kind { T_END, T_LP, T_RP, T_WORD, T_PIPE } tok_kind;

typedef struct parser {
    va_arena *a;
    const char *s;
    size_t len;
    size_t at;   /* next unread byte */
    tok_kind tk; /* current token */
    size_t tpos; /* its offset */
    size_t tlen; /* its length (T_WORD) */
    unsigned depth;
    va_cond_error *err;
} parser;

static va_err fail(parser *p, va_err code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Messages carry the offending text, so they are formatted into the arena; a static fallback
 * keeps the code and position meaningful if that allocation fails. */
static va_err fail(parser *p, va_err code, size_t pos, const char *fmt, ...) {
    if (!p->err) return code;
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    const char *m = va_arena_strndup(p->a, tmp, strlen(tmp));
    p->err->code = code;
    p->err->pos = (uint32_t)pos;
    p->err->msg = m ? m : "invalid condition";
    return code;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void next(parser *p) {
    while (p->at < p->len && is_space(p->s[p->at])) p->at++;
    p->tpos = p->at;
    p->tlen = 0;
    if (p->at >= p->len) {
        p->tk = T_END;
        return;
    }
    char c = p->s[p->at];
    if (c == '(' || c == ')' || c == '|') {
        p->tk = c == '(' ? T_LP : c == ')' ? T_RP : T_PIPE;
        p->at++;
        p->tlen = 1;
        return;
    }
    while (p->at < p->len) {
        c = p->s[p->at];
        if (is_space(c) || c == '(' || c == ')' || c == '|') break;
        p->at++;
    }
    p->tk = T_WORD;
    p->tlen = p->at - p->tpos;
}

static int word_is(const parser *p, const char *kw) {
    size_t n = strlen(kw);
    return p->tk == T_WORD && p->tlen == n && !strncasecmp(p->s + p->tpos, kw, n);
}

static int is_keyword(const parser *p) {
    static const char *const kws[] = {"and", "or", "not", "of", "them", "all", "any"};
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
        if (word_is(p, kws[i])) return 1;
    return 0;
}

static int is_number(const parser *p) {
    if (p->tk != T_WORD) return 0;
    for (size_t i = 0; i < p->tlen; i++)
        if (p->s[p->tpos + i] < '0' || p->s[p->tpos + i] > '9') return 0;
    return 1;
}

static va_cond_node *node(parser *p, va_cond_kind k, size_t pos) {
    va_cond_node *n = va_arena_alloc(p->a, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->kind = k;
    n->pos = (uint32_t)pos;
    return n;
}

static va_err unexpected(parser *p, const char *wanted) {
    if (p->tk == T_END) return fail(p, VA_EFORMAT, p->tpos, "%s expected, condition ends", wanted);
    if (p->tk == T_PIPE)
        return fail(p, VA_EUNSUPPORTED, p->tpos,
                    "'|' aggregation (Sigma 1.x) is not part of Sigma 2.1; use a correlation rule");
    int n = p->tlen > 64 ? 64 : (int)p->tlen;
    return fail(p, VA_EFORMAT, p->tpos, "%s expected, found '%.*s'", wanted, n, p->s + p->tpos);
}

static va_err parse_or(parser *p, va_cond_node **out);

/* Collect operands of one n-ary operator, in the arena (see VA_ARENA_GROW). */
static int push_kid(parser *p, va_cond_node *n, va_cond_node *kid, size_t *cap) {
    if (VA_ARENA_GROW(p->a, n->kids, *cap, n->nkids, (size_t)n->nkids + 1)) return -1;
    n->kids[n->nkids++] = kid;
    return 0;
}

static va_err parse_of(parser *p, va_cond_node **out) {
    size_t start = p->tpos;
    uint32_t count = 1;
    if (word_is(p, "all")) {
        count = 0;
    } else if (is_number(p)) {
        unsigned long long v = 0;
        for (size_t i = 0; i < p->tlen && v <= 0xFFFFFFFFull; i++)
            v = v * 10 + (unsigned)(p->s[p->tpos + i] - '0');
        if (v == 0 || v > 0xFFFFFFFFull)
            return fail(p, VA_EFORMAT, p->tpos, "count before 'of' must be 1 or more");
        count = (uint32_t)v;
    }
    next(p);
    if (!word_is(p, "of")) return unexpected(p, "'of'");
    next(p);
    if (p->tk != T_WORD) return unexpected(p, "search identifier pattern or 'them'");
    va_cond_node *n = node(p, VA_COND_OF, start);
    if (!n) return fail(p, VA_ENOMEM, start, "out of memory");
    n->count = count;
    if (!word_is(p, "them")) {
        if (is_keyword(p)) return unexpected(p, "search identifier pattern or 'them'");
        n->name = va_arena_strndup(p->a, p->s + p->tpos, p->tlen);
        if (!n->name) return fail(p, VA_ENOMEM, start, "out of memory");
    }
    next(p);
    *out = n;
    return VA_OK;
}

static va_err parse_primary(parser *p, va_cond_node **out) {
    if (p->tk == T_LP) {
        size_t open = p->tpos;
        if (++p->depth > VA_COND_MAX_DEPTH)
            return fail(p, VA_ELIMIT, p->tpos, "condition nested deeper than %d levels",
                        VA_COND_MAX_DEPTH);
        next(p);
        va_err e = parse_or(p, out);
        if (e) return e;
        if (p->tk != T_RP) {
            if (p->tk == T_END) return fail(p, VA_EFORMAT, open, "'(' is not closed");
            return unexpected(p, "')'");
        }
        p->depth--;
        next(p);
        return VA_OK;
    }
    if (word_is(p, "all") || word_is(p, "any") || is_number(p)) return parse_of(p, out);
    if (p->tk != T_WORD || is_keyword(p)) return unexpected(p, "search identifier");
    if (memchr(p->s + p->tpos, '*', p->tlen))
        return fail(p, VA_EFORMAT, p->tpos, "wildcard '%.*s' outside '1 of'/'all of'",
                    (int)(p->tlen > 64 ? 64 : p->tlen), p->s + p->tpos);
    va_cond_node *n = node(p, VA_COND_ID, p->tpos);
    if (!n) return fail(p, VA_ENOMEM, p->tpos, "out of memory");
    n->name = va_arena_strndup(p->a, p->s + p->tpos, p->tlen);
    if (!n->name) return fail(p, VA_ENOMEM, p->tpos, "out of memory");
    next(p);
    *out = n;
    return VA_OK;
}

static va_err parse_not(parser *p, va_cond_node **out) {
    if (!word_is(p, "not")) return parse_primary(p, out);
    size_t start = p->tpos;
    if (++p->depth > VA_COND_MAX_DEPTH)
        return fail(p, VA_ELIMIT, start, "condition nested deeper than %d levels",
                    VA_COND_MAX_DEPTH);
    next(p);
    va_cond_node *kid;
    va_err e = parse_not(p, &kid);
    if (e) return e;
    p->depth--;
    va_cond_node *n = node(p, VA_COND_NOT, start);
    va_cond_node **k = va_arena_alloc(p->a, sizeof *k);
    if (!n || !k) return fail(p, VA_ENOMEM, start, "out of memory");
    k[0] = kid;
    n->kids = k;
    n->nkids = 1;
    *out = n;
    return VA_OK;
}

/* One level of the n-ary binary operators: and_expr (lower = parse_not) or or_expr. */
static va_err parse_chain(parser *p, va_cond_node **out, const char *op, va_cond_kind kind,
                          va_err (*lower)(parser *, va_cond_node **)) {
    va_cond_node *first;
    va_err e = lower(p, &first);
    if (e) return e;
    if (!word_is(p, op)) {
        *out = first;
        return VA_OK;
    }
    va_cond_node *n = node(p, kind, first->pos);
    size_t cap = 0;
    if (!n || push_kid(p, n, first, &cap)) return fail(p, VA_ENOMEM, first->pos, "out of memory");
    while (word_is(p, op)) {
        next(p);
        va_cond_node *kid;
        e = lower(p, &kid);
        if (e) return e;
        if (push_kid(p, n, kid, &cap)) return fail(p, VA_ENOMEM, kid->pos, "out of memory");
    }
    *out = n;
    return VA_OK;
}

static va_err parse_and(parser *p, va_cond_node **out) {
    return parse_chain(p, out, "and", VA_COND_AND, parse_not);
}

static va_err parse_or(parser *p, va_cond_node **out) {
    return parse_chain(p, out, "or", VA_COND_OR, parse_and);
}

va_err va_cond_parse(va_arena *a, const char *text, size_t len, va_cond_node **out,
                     va_cond_error *err) {
    parser p = {.a = a, .s = text, .len = len, .err = err};
    *out = NULL;
    if (memchr(text, 0, len)) {
        size_t z = (size_t)((const char *)memchr(text, 0, len) - text);
        return fail(&p, VA_EFORMAT, z, "NUL byte in condition");
    }
    next(&p);
    if (p.tk == T_END) return fail(&p, VA_EFORMAT, 0, "empty condition");
    va_cond_node *root = NULL; /* set by parse_or on success */
    va_err e = parse_or(&p, &root);
    if (e) return e;
    if (p.tk != T_END) {
        if (p.tk == T_RP) return fail(&p, VA_EFORMAT, p.tpos, "')' without matching '('");
        return unexpected(&p, "'and', 'or' or end of condition");
    }
    *out = root;
    return VA_OK;
}

int va_cond_pattern_match(const char *pat, const char *name) {
    /* Greedy matching with one backtrack point: the classic linear-time glob for '*' only. */
    const char *star = NULL, *resume = NULL;
    while (*name) {
        if (*pat == '*') {
            star = pat++;
            resume = name;
        } else if (*pat == *name) {
            pat++;
            name++;
        } else if (star) {
            pat = star + 1;
            name = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*') pat++;
    return *pat == 0;
}

static va_err resolve(va_cond_node *n, const char *const *names, uint32_t cnt, va_arena *a,
                      va_cond_error *err) {
    parser p = {.a = a, .err = err}; /* only for fail() */
    if (n->kind == VA_COND_ID) {
        for (uint32_t i = 0; i < cnt; i++) {
            if (!strcmp(names[i], n->name)) {
                n->ids = va_arena_alloc(a, sizeof *n->ids);
                if (!n->ids) return fail(&p, VA_ENOMEM, n->pos, "out of memory");
                n->ids[0] = i;
                n->nids = 1;
                return VA_OK;
            }
        }
        return fail(&p, VA_EFORMAT, n->pos, "search identifier '%.64s' is not defined", n->name);
    }
    if (n->kind == VA_COND_OF) {
        uint32_t hits = 0;
        /* `them` leaves out identifiers starting with '_' (spec: excluded by convention);
         * an explicit pattern selects whatever it matches. */
        for (uint32_t pass = 0; pass < 2; pass++) {
            hits = 0;
            for (uint32_t i = 0; i < cnt; i++) {
                int m = n->name ? va_cond_pattern_match(n->name, names[i]) : names[i][0] != '_';
                if (!m) continue;
                if (pass) n->ids[hits] = i;
                hits++;
            }
            if (!hits) {
                if (n->name)
                    return fail(&p, VA_EFORMAT, n->pos,
                                "pattern '%.64s' matches no search identifier", n->name);
                return fail(&p, VA_EFORMAT, n->pos, "'them' matches no search identifier");
            }
            if (!pass) {
                n->ids = va_arena_alloc(a, hits * sizeof *n->ids);
                if (!n->ids) return fail(&p, VA_ENOMEM, n->pos, "out of memory");
            }
        }
        n->nids = hits;
        return VA_OK;
    }
    for (uint32_t i = 0; i < n->nkids; i++) {
        va_err e = resolve(n->kids[i], names, cnt, a, err);
        if (e) return e;
    }
    return VA_OK;
}

va_err va_cond_resolve(va_cond_node *root, const char *const *names, uint32_t n, va_arena *a,
                       va_cond_error *err) {
    return resolve(root, names, n, a, err);
}

int va_cond_eval(const va_cond_node *n, va_cond_match_fn fn, void *ud) {
    switch (n->kind) {
    case VA_COND_ID: {
        int r = n->nids ? fn(ud, n->ids[0]) : VA_COND_FALSE;
        assert(r == VA_COND_FALSE || r == VA_COND_TRUE || r == VA_COND_UNKNOWN);
        return r;
    }
    case VA_COND_NOT: {
        int r = va_cond_eval(n->kids[0], fn, ud);
        return r == VA_COND_UNKNOWN ? r : r == VA_COND_FALSE;
    }
    case VA_COND_AND: {
        int unknown = 0;
        for (uint32_t i = 0; i < n->nkids; i++) {
            int r = va_cond_eval(n->kids[i], fn, ud);
            if (r == VA_COND_FALSE) return VA_COND_FALSE;
            unknown |= r == VA_COND_UNKNOWN;
        }
        return unknown ? VA_COND_UNKNOWN : VA_COND_TRUE;
    }
    case VA_COND_OR: {
        int unknown = 0;
        for (uint32_t i = 0; i < n->nkids; i++) {
            int r = va_cond_eval(n->kids[i], fn, ud);
            if (r == VA_COND_TRUE) return VA_COND_TRUE;
            unknown |= r == VA_COND_UNKNOWN;
        }
        return unknown ? VA_COND_UNKNOWN : VA_COND_FALSE;
    }
    case VA_COND_OF: {
        if (!n->nids) return VA_COND_FALSE;
        uint32_t need = n->count ? n->count : n->nids;
        if (need > n->nids) return VA_COND_FALSE;
        uint32_t got = 0, unknown = 0;
        for (uint32_t i = 0; i < n->nids; i++) {
            int r = fn(ud, n->ids[i]);
            if (r == VA_COND_TRUE) {
                if (++got >= need) return VA_COND_TRUE;
            } else if (r == VA_COND_UNKNOWN) {
                unknown++;
            } else if (!n->count) {
                return VA_COND_FALSE; /* all of: one false decides */
            }
            if (got + unknown + (n->nids - 1 - i) < need) return VA_COND_FALSE;
        }
        return got + unknown >= need ? VA_COND_UNKNOWN : VA_COND_FALSE;
    }
    }
    return VA_COND_FALSE;
}

typedef struct fmt {
    char *out;
    size_t cap, len;
} fmt;

static void put(fmt *f, const char *s) {
    size_t n = strlen(s);
    if (f->cap && f->len < f->cap - 1) {
        size_t room = f->cap - 1 - f->len;
        memcpy(f->out + f->len, s, n < room ? n : room);
    }
    f->len += n;
}

static void format(fmt *f, const va_cond_node *n) {
    char num[16];
    switch (n->kind) {
    case VA_COND_ID:
        put(f, n->name);
        break;
    case VA_COND_NOT:
        put(f, "not ");
        format(f, n->kids[0]);
        break;
    case VA_COND_AND:
    case VA_COND_OR:
        put(f, "(");
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (i) put(f, n->kind == VA_COND_AND ? " and " : " or ");
            format(f, n->kids[i]);
        }
        put(f, ")");
        break;
    case VA_COND_OF:
        if (n->count) {
            snprintf(num, sizeof num, "%u", (unsigned)n->count);
            put(f, num);
        } else {
            put(f, "all");
        }
        put(f, " of ");
        put(f, n->name ? n->name : "them");
        break;
    }
}

size_t va_cond_format(const va_cond_node *root, char *out, size_t cap) {
    fmt f = {out, cap, 0};
    format(&f, root);
    if (cap) out[f.len < cap ? f.len : cap - 1] = 0;
    return f.len;
}
