/*
 * value.c - compile and match Sigma values with their modifier chains (see value.h).
 *
 * Compilation runs the rule's values through the chain in the order written, on "unit
 * strings": arrays of uint16 where 0..255 are literal bytes and higher values stand for the
 * wildcards, the windash class and expand placeholders, so that escaping is resolved exactly
 * once, at parse time.  Each source value ends as a list of alternatives (OR); the kinds are
 * glob (literal/wildcard), number, regex, CIDR and field reference.  All compile-time memory
 * comes from the caller's arena; only PCRE2 code lives outside it (va_value_free).
 *
 * Globs are split at `*` into segments of atoms (literal run, `?`, dash class).  A match
 * anchors the first and last segment when the pattern does not start/end with `*` and places
 * the middle segments leftmost with memmem, which is exact because a segment always spans a
 * fixed number of characters.
 */
#include "sigma/value.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/find.h"
#include "core/utf.h"
#include "core/vtime.h"

/* Bounds: alternatives one value may expand to (windash, expand), modifiers in a chain, and
 * PCRE2's backtracking budget per match (a pathological regex gives up, counted as an error,
 * rather than stalling the hunt). */
#define SV_MAX_ALTS      4096
#define SV_MAX_MODS      32
#define SV_RE_MATCHLIMIT 1000000
#define SV_RE_DEPTHLIMIT 100000

/* ---- modifiers ------------------------------------------------------------------------- */

enum {
    M_ALL,
    M_STARTS,
    M_ENDS,
    M_CONTAINS,
    M_EXISTS,
    M_CASED,
    M_NEQ,
    M_WINDASH,
    M_RE,
    M_RE_I,
    M_RE_M,
    M_RE_S,
    M_B64,
    M_B64OFF,
    M_U16LE,
    M_U16BE,
    M_U16,
    M_WIDE,
    M_LT,
    M_LTE,
    M_GT,
    M_GTE,
    M_CIDR,
    M_EXPAND,
    M_FIELDREF,
    M_MINUTE,
    M_HOUR,
    M_DAY,
    M_WEEK,
    M_MONTH,
    M_YEAR,
    M_COUNT_
};

#define B(m) (1u << (m))

static const char *const mod_names[M_COUNT_] = {
    "all",     "startswith", "endswith", "contains", "exists", "cased",  "neq",
    "windash", "re",         "i",        "m",        "s",      "base64", "base64offset",
    "utf16le", "utf16be",    "utf16",    "wide",     "lt",     "lte",    "gt",
    "gte",     "cidr",       "expand",   "fieldref", "minute", "hour",   "day",
    "week",    "month",      "year",
};

#define M_POS    (B(M_STARTS) | B(M_ENDS) | B(M_CONTAINS))
#define M_NUMCMP (B(M_LT) | B(M_LTE) | B(M_GT) | B(M_GTE))
#define M_REFLAG (B(M_RE_I) | B(M_RE_M) | B(M_RE_S))
#define M_UTF16  (B(M_U16LE) | B(M_U16BE) | B(M_U16) | B(M_WIDE))
#define M_TIME   (B(M_MINUTE) | B(M_HOUR) | B(M_DAY) | B(M_WEEK) | B(M_MONTH) | B(M_YEAR))

/* ---- unit strings ------------------------------------------------------------------------ */

enum { U_STAR = 256, U_QM, U_DASH, U_PH, U_PHE };

typedef struct ustr {
    uint16_t *u;
    size_t n;
} ustr;

typedef struct ulist {
    ustr *v;
    size_t n;
} ulist;

/* The five characters windash makes interchangeable (specification, String Modifiers). */
static const char *const dash_alts[5] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"};

/* ---- compiled form ----------------------------------------------------------------------- */

enum { AT_LIT, AT_QM, AT_DASH };
typedef struct atom {
    uint8_t t;
    uint32_t off, len; /* AT_LIT: bytes in glob.lit */
} atom;

typedef struct seg {
    uint32_t a0, na;
} seg;

typedef struct glob {
    const char *lit;
    atom *atoms;
    seg *segs;
    uint32_t nseg;
    uint8_t star;         /* at least one `*` */
    uint8_t anc_s, anc_e; /* first/last segment pinned to the subject's start/end */
} glob;

typedef struct num {
    int isint;
    int64_t i;
    double d;
} num;

enum { ALT_GLOB, ALT_NUM, ALT_RE, ALT_CIDR, ALT_REF };
enum { OP_EQ, OP_LT, OP_LTE, OP_GT, OP_GTE };
enum { REF_EQ, REF_CONTAINS, REF_STARTS, REF_ENDS };

typedef struct alt {
    uint8_t kind, cased, op;
    uint8_t tpart; /* ALT_NUM: M_MINUTE.. to compare a part of the field's time, or 0 */
    glob g;        /* ALT_GLOB; ALT_NUM with OP_EQ: the text form, also accepted */
    num v;         /* ALT_NUM */
    pcre2_code *re;
    uint8_t fam, bits; /* ALT_CIDR: 4 or 6, prefix length */
    uint8_t re_lit_n;
    char re_lit[48]; /* ALT_RE: a run every match contains (prefilter) */
    /* ALT_RE: characters every match holds at least re_need_n[k] times (0: no more), the two
     * most repeated; a subject with fewer cannot match, so PCRE2 is not run.  Patterns such as
     * "\\+.*\\+.*\\+..." backtrack through every way to place their repeats when a line
     * has a few too few, which costs more than all other regular expressions together. */
    uint8_t re_need_c[2], re_need_n[2];
    const struct re_seq *seq; /* ALT_RE: matched without PCRE2 when not NULL (re_sequence) */
    uint8_t addr[16];
    const char *ref; /* ALT_REF: field name */
    size_t ref_n;
} alt;

typedef struct sval {
    alt *alts;
    uint32_t nalts;
} sval;

struct va_value {
    unsigned flags;
    int exists_val;
    sval *v;
    size_t nv;
};

struct va_value_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    va_buf fold, fold2;
    uint64_t limits; /* regex matches stopped by a PCRE2 limit */
};

/* ---- compile context --------------------------------------------------------------------- */

typedef struct cctx {
    va_arena *a;
    const char **why;
    const va_value_placeholder *ph;
    size_t nph;
    int cased;
} cctx;

static va_err fail(cctx *c, va_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static va_err fail(cctx *c, va_err e, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) k = 0;
    if ((size_t)k >= sizeof tmp) k = sizeof tmp - 1;
    char *s = va_arena_strndup(c->a, tmp, (size_t)k);
    /* Under memory pressure the reason degrades to the code's description, never to NULL. */
    *c->why = s ? s : va_err_str(e);
    return e;
}

static va_err oom(cctx *c) {
    *c->why = "out of memory";
    return VA_ENOMEM;
}

static ustr *list_push(cctx *c, ulist *l, size_t *cap) {
    if (VA_ARENA_GROW(c->a, l->v, *cap, l->n, l->n + 1)) return NULL;
    return &l->v[l->n++];
}

static uint16_t *ualloc(cctx *c, size_t n) {
    return va_arena_alloc(c->a, (n ? n : 1) * sizeof(uint16_t));
}

/* Parse Sigma string syntax.  Escapes (rules specification, Escape Character): `\*`, `\?` and
 * `\\` stand for the character; a backslash before anything else, or at the end, is itself.
 * With expand, `%name%` is a placeholder and `\%` a plain percent sign. */
static va_err parse_sigma_str(cctx *c, const char *s, size_t n, int expand, ustr *out) {
    uint16_t *u = ualloc(c, n + 2);
    if (!u) return oom(c);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\\' && i + 1 < n &&
            (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\' ||
             (expand && s[i + 1] == '%'))) {
            u[k++] = (unsigned char)s[++i];
        } else if (ch == '*') {
            u[k++] = U_STAR;
        } else if (ch == '?') {
            u[k++] = U_QM;
        } else if (ch == '%' && expand) {
            const char *e = memchr(s + i + 1, '%', n - i - 1);
            if (!e || e == s + i + 1) {
                u[k++] = ch; /* no closing percent (or "%%"): a plain percent sign */
                continue;
            }
            u[k++] = U_PH;
            for (const char *p = s + i + 1; p < e; p++) u[k++] = (unsigned char)*p;
            u[k++] = U_PHE;
            i = (size_t)(e - s);
        } else {
            u[k++] = ch;
        }
    }
    out->u = u;
    out->n = k;
    return VA_OK;
}

static int has_unit(const ustr *s, uint16_t v) {
    for (size_t i = 0; i < s->n; i++)
        if (s->u[i] == v) return 1;
    return 0;
}

static int has_wild(const ustr *s) {
    for (size_t i = 0; i < s->n; i++)
        if (s->u[i] == U_STAR || s->u[i] == U_QM) return 1;
    return 0;
}

/* Copy of s with units [from, to) replaced by the Sigma string text (no expand). */
static va_err splice(cctx *c, const ustr *s, size_t from, size_t to, const ustr *ins, ustr *out) {
    size_t n = s->n - (to - from) + ins->n;
    uint16_t *u = ualloc(c, n);
    if (!u) return oom(c);
    memcpy(u, s->u, from * sizeof *u);
    if (ins->n) memcpy(u + from, ins->u, ins->n * sizeof *u);
    memcpy(u + from + ins->n, s->u + to, (s->n - to) * sizeof *u);
    out->u = u;
    out->n = n;
    return VA_OK;
}

/* Replace the first dash class of every string by each of the five dashes until none is left:
 * the permutations the specification asks for, needed before a byte encoding. */
static va_err expand_dashes(cctx *c, ulist *l) {
    for (;;) {
        ulist out = {0};
        size_t cap = 0;
        int any = 0;
        for (size_t i = 0; i < l->n; i++) {
            const ustr *s = &l->v[i];
            size_t at = 0;
            while (at < s->n && s->u[at] != U_DASH) at++;
            if (at == s->n) {
                ustr *d = list_push(c, &out, &cap);
                if (!d) return oom(c);
                *d = *s;
                continue;
            }
            any = 1;
            for (int k = 0; k < 5; k++) {
                ustr ins;
                size_t dl = strlen(dash_alts[k]);
                uint16_t tmp[3];
                for (size_t j = 0; j < dl; j++) tmp[j] = (unsigned char)dash_alts[k][j];
                ins.u = tmp;
                ins.n = dl;
                ustr *d = list_push(c, &out, &cap);
                if (!d) return oom(c);
                va_err e = splice(c, s, at, at + 1, &ins, d);
                if (e) return e;
            }
            if (out.n > SV_MAX_ALTS)
                return fail(c, VA_ELIMIT, "windash: more than %d variants before encoding",
                            SV_MAX_ALTS);
        }
        *l = out;
        if (!any) return VA_OK;
    }
}

static const va_value_placeholder *find_ph(cctx *c, const uint16_t *name, size_t n) {
    for (size_t i = 0; i < c->nph; i++) {
        const char *pn = c->ph[i].name;
        if (!pn || strlen(pn) != n) continue;
        size_t j = 0;
        while (j < n && (unsigned char)pn[j] == name[j]) j++;
        if (j == n) return &c->ph[i];
    }
    return NULL;
}

static va_err resolve_placeholders(cctx *c, ulist *l) {
    for (;;) {
        ulist out = {0};
        size_t cap = 0;
        int any = 0;
        for (size_t i = 0; i < l->n; i++) {
            const ustr *s = &l->v[i];
            size_t at = 0, end;
            while (at < s->n && s->u[at] != U_PH) at++;
            if (at == s->n) {
                ustr *d = list_push(c, &out, &cap);
                if (!d) return oom(c);
                *d = *s;
                continue;
            }
            any = 1;
            for (end = at + 1; s->u[end] != U_PHE; end++) {}
            const va_value_placeholder *ph = find_ph(c, s->u + at + 1, end - at - 1);
            if (!ph || ph->nvals == 0) {
                char name[128];
                size_t k = 0;
                for (size_t j = at + 1; j < end && k + 1 < sizeof name; j++)
                    name[k++] = (char)s->u[j];
                name[k] = 0;
                return fail(c, VA_EFORMAT, "expand: placeholder %%%s%% is %s", name,
                            ph ? "empty" : "not defined");
            }
            for (size_t k = 0; k < ph->nvals; k++) {
                ustr ins;
                const char *pv = ph->vals[k] ? ph->vals[k] : "";
                va_err e = parse_sigma_str(c, pv, strlen(pv), 0, &ins);
                if (e) return e;
                ustr *d = list_push(c, &out, &cap);
                if (!d) return oom(c);
                if ((e = splice(c, s, at, end + 1, &ins, d))) return e;
            }
            if (out.n > SV_MAX_ALTS)
                return fail(c, VA_ELIMIT, "expand: more than %d values", SV_MAX_ALTS);
        }
        *l = out;
        if (!any) return VA_OK;
    }
}

static va_err need_plain(cctx *c, const ulist *l, int mod, int wild_ok) {
    for (size_t i = 0; i < l->n; i++) {
        if (has_unit(&l->v[i], U_PH))
            return fail(c, VA_EFORMAT,
                        "%s: value has a placeholder not yet expanded (put expand "
                        "before %s)",
                        mod_names[mod], mod_names[mod]);
        if (!wild_ok && has_wild(&l->v[i]))
            return fail(c, VA_EFORMAT,
                        "%s: cannot encode a wildcard (escape it, or put contains/"
                        "startswith/endswith after %s)",
                        mod_names[mod], mod_names[mod]);
    }
    return VA_OK;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 (RFC 4648, padded) of `pad` spaces followed by the bytes of s, kept between the
 * characters skip and len - cut. */
static va_err b64_variant(cctx *c, const ustr *s, size_t pad, size_t skip, size_t cut, ustr *out) {
    size_t n = pad + s->n, en = (n + 2) / 3 * 4;
    uint16_t *u = ualloc(c, en);
    if (!u) return oom(c);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned b[3] = {0, 0, 0};
        size_t take = n - i < 3 ? n - i : 3;
        for (size_t j = 0; j < take; j++) b[j] = i + j < pad ? ' ' : s->u[i + j - pad];
        unsigned v = b[0] << 16 | b[1] << 8 | b[2];
        u[k++] = (unsigned char)b64chars[v >> 18 & 63];
        u[k++] = (unsigned char)b64chars[v >> 12 & 63];
        u[k++] = take > 1 ? (unsigned char)b64chars[v >> 6 & 63] : '=';
        u[k++] = take > 2 ? (unsigned char)b64chars[v & 63] : '=';
    }
    if (skip + cut >= k) {
        out->u = u;
        out->n = 0;
        return VA_OK;
    }
    out->u = u + skip;
    out->n = k - skip - cut;
    return VA_OK;
}

static va_err do_base64(cctx *c, ulist *l, int offset) {
    va_err e = need_plain(c, l, offset ? M_B64OFF : M_B64, 0);
    if (e) return e;
    ulist out = {0};
    size_t cap = 0;
    for (size_t i = 0; i < l->n; i++) {
        const ustr *s = &l->v[i];
        if (!offset) {
            ustr *d = list_push(c, &out, &cap);
            if (!d) return oom(c);
            if ((e = b64_variant(c, s, 0, 0, 0, d))) return e;
            continue;
        }
        /* Shift by 0, 1, 2 bytes; the first characters depend on the preceding byte and the
         * last ones on the following byte, so they are cut: 0/2/3 from the start by shift,
         * and from the end 0/3/2 by (length + shift) mod 3. */
        static const size_t skip[3] = {0, 2, 3}, cut[3] = {0, 3, 2};
        for (size_t sh = 0; sh < 3; sh++) {
            ustr v;
            if ((e = b64_variant(c, s, sh, skip[sh], cut[(s->n + sh) % 3], &v))) return e;
            if (!v.n) continue; /* too short to leave a stable part at this shift */
            ustr *d = list_push(c, &out, &cap);
            if (!d) return oom(c);
            *d = v;
        }
    }
    if (!out.n)
        return fail(c, VA_EFORMAT, "base64offset: value too short to have a stable encoding");
    *l = out;
    return VA_OK;
}

/* UTF-8 literal units to UTF-16 bytes; wildcards are kept as wildcards (between characters). */
static va_err do_utf16(cctx *c, ulist *l, int mod) {
    va_err e = need_plain(c, l, mod, 1);
    if (e) return e;
    int be = mod == M_U16BE, bom = mod == M_U16;
    for (size_t i = 0; i < l->n; i++) {
        ustr *s = &l->v[i];
        uint16_t *u = ualloc(c, s->n * 4 + 2);
        if (!u) return oom(c);
        size_t k = 0, j = 0;
        if (bom) u[k++] = 0xFF, u[k++] = 0xFE;
        while (j < s->n) {
            if (s->u[j] > 255) {
                u[k++] = s->u[j++];
                continue;
            }
            unsigned char tmp[4];
            size_t m = 0;
            while (m < 4 && j + m < s->n && s->u[j + m] <= 255) {
                tmp[m] = (unsigned char)s->u[j + m];
                m++;
            }
            uint32_t cp;
            size_t used = va_utf8_next(tmp, m, &cp);
            j += used;
            uint16_t cu[2];
            size_t ncu = 1;
            if (cp >= 0x10000) {
                cu[0] = (uint16_t)(0xD800 + ((cp - 0x10000) >> 10));
                cu[1] = (uint16_t)(0xDC00 + ((cp - 0x10000) & 0x3FF));
                ncu = 2;
            } else {
                cu[0] = (uint16_t)cp;
            }
            for (size_t q = 0; q < ncu; q++) {
                u[k++] = be ? cu[q] >> 8 : cu[q] & 0xFF;
                u[k++] = be ? cu[q] & 0xFF : cu[q] >> 8;
            }
        }
        s->u = u;
        s->n = k;
    }
    return VA_OK;
}

static va_err do_windash(cctx *c, ulist *l) {
    for (size_t i = 0; i < l->n; i++) {
        ustr *s = &l->v[i];
        uint16_t *u = ualloc(c, s->n);
        if (!u) return oom(c);
        size_t k = 0;
        int in_ph = 0; /* a placeholder's name is not text to permute */
        for (size_t j = 0; j < s->n; j++) {
            if (s->u[j] == U_PH || s->u[j] == U_PHE) in_ph = s->u[j] == U_PH;
            if (in_ph) {
                u[k++] = s->u[j];
            } else if (s->u[j] == '-' || s->u[j] == '/') {
                u[k++] = U_DASH;
            } else if (j + 2 < s->n && s->u[j] == 0xE2 && s->u[j + 1] == 0x80 &&
                       s->u[j + 2] >= 0x93 && s->u[j + 2] <= 0x95) {
                u[k++] = U_DASH;
                j += 2;
            } else {
                u[k++] = s->u[j];
            }
        }
        s->u = u;
        s->n = k;
    }
    return VA_OK;
}

static va_err do_pos(cctx *c, ulist *l, int lead, int trail) {
    for (size_t i = 0; i < l->n; i++) {
        ustr *s = &l->v[i];
        int addl = lead && !(s->n && s->u[0] == U_STAR);
        int addt = trail && !(s->n && s->u[s->n - 1] == U_STAR);
        if (s->n == 0 && lead && trail) addt = 0;
        uint16_t *u = ualloc(c, s->n + 2);
        if (!u) return oom(c);
        size_t k = 0;
        if (addl) u[k++] = U_STAR;
        memcpy(u + k, s->u, s->n * sizeof *u);
        k += s->n;
        if (addt) u[k++] = U_STAR;
        s->u = u;
        s->n = k;
    }
    return VA_OK;
}

/* Build the matching form of a unit string; literals are folded unless cased. */
static va_err build_glob(cctx *c, const ustr *s, int cased, glob *g) {
    /* Count first: atoms and segments are few (a literal run is one atom), and the rule set
     * has tens of thousands of patterns, so exact sizes keep the arena (and page faults)
     * small. */
    uint32_t na = 0, ns = 0;
    size_t maxrun = 0;
    for (size_t i = 0, run = 0, inseg = 0; i <= s->n; i++) {
        if (i == s->n || s->u[i] == U_STAR) {
            if (run) na++;
            if (run || inseg) ns++;
            run = inseg = 0;
        } else if (s->u[i] == U_QM || s->u[i] == U_DASH) {
            if (run) na++;
            run = 0, inseg = 1;
            na++;
        } else {
            run++, inseg = 1;
            if (run > maxrun) maxrun = run;
        }
    }
    atom *at = va_arena_alloc(c->a, (na ? na : 1) * sizeof *at);
    seg *sg = va_arena_alloc(c->a, (ns ? ns : 1) * sizeof *sg);
    if (!at || !sg) return oom(c);
    char stack[512];
    char *tmp = maxrun < sizeof stack ? stack : malloc(maxrun + 1);
    if (!tmp) return oom(c);
    va_buf lit;
    va_buf_init(&lit);
    uint32_t ia = 0, is = 0, segstart = 0;
    memset(g, 0, sizeof *g);
    size_t i = 0;
    while (i <= s->n) {
        if (i == s->n || s->u[i] == U_STAR) {
            if (ia > segstart) sg[is++] = (seg){segstart, ia - segstart};
            segstart = ia;
            if (i < s->n) g->star = 1;
            i++;
            continue;
        }
        if (s->u[i] == U_QM || s->u[i] == U_DASH) {
            at[ia++] = (atom){s->u[i] == U_QM ? AT_QM : AT_DASH, 0, 0};
            i++;
            continue;
        }
        size_t m = 0;
        while (i < s->n && s->u[i] <= 255) tmp[m++] = (char)s->u[i++];
        size_t off = lit.len;
        if (cased) {
            va_buf_put(&lit, tmp, m);
        } else {
            va_value_fold(tmp, m, &lit);
        }
        at[ia++] = (atom){AT_LIT, (uint32_t)off, (uint32_t)(lit.len - off)};
    }
    if (tmp != stack) free(tmp);
    if (lit.oom) {
        va_buf_free(&lit);
        return oom(c);
    }
    char *pool = va_arena_strndup(c->a, lit.p ? lit.p : "", lit.len);
    va_buf_free(&lit);
    if (!pool) return oom(c);
    g->lit = pool;
    g->atoms = at;
    g->segs = sg;
    g->nseg = is;
    g->anc_s = !(s->n && s->u[0] == U_STAR);
    g->anc_e = !(s->n && s->u[s->n - 1] == U_STAR);
    return VA_OK;
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* Decimal (with fraction/exponent) or 0x hexadecimal, optional sign, nothing else.  Written
 * out rather than strtod so that the decimal point does not depend on the locale. */
static int parse_num(const char *s, size_t n, num *out) {
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        uint64_t v = 0;
        size_t d = 0;
        for (i += 2; i < n; i++, d++) {
            int h = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
                    : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                    : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
                                                 : -1;
            if (h < 0 || v >> 60) return -1;
            v = v << 4 | (unsigned)h;
        }
        if (!d || v > (uint64_t)INT64_MAX) return -1;
        out->isint = 1;
        out->i = neg ? -(int64_t)v : (int64_t)v;
        out->d = (double)out->i;
        return 0;
    }
    uint64_t mant = 0;
    int exp10 = 0, digits = 0, frac = 0, sig = 0, overflow = 0;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            digits++;
            if (sig < 19) {
                mant = mant * 10 + (unsigned)(s[i] - '0');
                if (mant) sig++;
                if (frac) exp10--;
            } else {
                overflow = 1;
                if (!frac) exp10++;
            }
        } else if (s[i] == '.' && !frac) {
            frac = 1;
        } else {
            break;
        }
    }
    if (!digits) return -1;
    int isint = !frac;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        isint = 0;
        i++;
        int eneg = 0, ed = 0;
        long ev = 0;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, ed++)
            if (ev < 100000) ev = ev * 10 + (s[i] - '0');
        if (!ed) return -1;
        exp10 += (int)(eneg ? -ev : ev);
    }
    if (i != n) return -1;
    if (isint && !overflow && exp10 == 0 && mant <= (uint64_t)INT64_MAX) {
        out->isint = 1;
        out->i = neg ? -(int64_t)mant : (int64_t)mant;
        out->d = (double)out->i;
        return 0;
    }
    double d = (double)mant;
    if (!mant) exp10 = 0; /* 0e999 is zero, not 0 * inf */
    if (exp10 > 0) d *= pow(10.0, exp10);
    if (exp10 < 0) d /= pow(10.0, -exp10); /* exact powers up to 1e22: correctly rounded */
    out->isint = 0;
    out->d = neg ? -d : d;
    return 0;
}

/* -1, 0, 1; 2 when unordered (cannot happen for parsed text, which has no NaN). */
static int num_cmp(const num *a, const num *b) {
    if (a->isint && b->isint) return (a->i > b->i) - (a->i < b->i);
    if (a->d < b->d) return -1;
    if (a->d > b->d) return 1;
    return a->d == b->d ? 0 : 2;
}

/* ---- time parts ------------------------------------------------------------------------- */

static int64_t iso_weeks(int64_t y) {
    int64_t jan1 = va_days_from_civil(y, 1, 1);
    int64_t wd = ((jan1 % 7) + 7 + 3) % 7; /* Monday 0 */
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return wd == 3 || (leap && wd == 2) ? 53 : 52;
}

/* The requested part of the field's time as an integer.  The field is ISO 8601 text; an
 * explicit UTC offset is applied, so parts are those of the UTC time (the appendix says the
 * modifiers do no time zone handling of their own).  week is the ISO 8601 week (1..53). */
static int time_part(const char *s, size_t n, int part, num *out) {
    int64_t ns;
    if (va_time_parse_iso(s, n, &ns)) return -1;
    int64_t secs = ns / 1000000000LL - (ns % 1000000000LL < 0);
    int64_t days = secs / 86400 - (secs % 86400 < 0), sod = secs - days * 86400;
    /* Civil date from days since 1970-01-01 over 400-year eras of 146097 days, counting
     * years from March so that the leap day is the last day of a year. */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    int64_t v;
    switch (part) {
    case M_MINUTE:
        v = sod / 60 % 60;
        break;
    case M_HOUR:
        v = sod / 3600;
        break;
    case M_DAY:
        v = d;
        break;
    case M_MONTH:
        v = m;
        break;
    case M_YEAR:
        v = y;
        break;
    default: {
        /* ISO week: weeks start on Monday, week 1 holds the year's first Thursday. */
        int64_t wd = ((days % 7) + 7 + 3) % 7 + 1; /* 1970-01-01 was a Thursday; Monday 1 */
        int64_t ord = days - va_days_from_civil(y, 1, 1) + 1;
        v = (ord - wd + 10) / 7;
        if (v < 1) {
            v = iso_weeks(y - 1);
        } else if (v > iso_weeks(y)) {
            v = 1;
        }
    }
    }
    out->isint = 1;
    out->i = v;
    out->d = (double)v;
    return 0;
}

/* ---- CIDR -------------------------------------------------------------------------------- */

/* Address text to 16 bytes (IPv4 as ::ffff:a.b.c.d) ; 4 or 6, 0 if not an address.  An IPv6
 * zone (%eth0) is ignored. */
static int parse_ip(const char *s, size_t n, uint8_t out[16]) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return 0;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    uint8_t v4[4];
    if (inet_pton(AF_INET, tmp, v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xFF;
        memcpy(out + 12, v4, 4);
        return 4;
    }
    char *pct = strchr(tmp, '%');
    if (pct) *pct = 0;
    if (inet_pton(AF_INET6, tmp, out) == 1) return 6;
    return 0;
}

static int is_mapped(const uint8_t a[16]) {
    static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    return memcmp(a, pre, 12) == 0;
}

static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits) {
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full)) return 0;
    if (!rest) return 1;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

static va_err build_cidr(cctx *c, const char *s, size_t n, alt *al) {
    const char *sl = memchr(s, '/', n);
    size_t an = sl ? (size_t)(sl - s) : n;
    int fam = parse_ip(s, an, al->addr);
    if (!fam || (fam == 6 && memchr(s, '%', an)))
        return fail(c, VA_EFORMAT, "cidr: '%.*s' is not an IPv4 or IPv6 network",
                    (int)(n > 64 ? 64 : n), s);
    unsigned max = fam == 4 ? 32 : 128, bits = max;
    if (sl) {
        size_t i = an + 1;
        bits = 0;
        if (i == n || n - i > 3) goto bad;
        for (; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') goto bad;
            bits = bits * 10 + (unsigned)(s[i] - '0');
        }
        if (bits > max) goto bad;
    }
    al->kind = ALT_CIDR;
    al->fam = (uint8_t)fam;
    al->bits = (uint8_t)bits;
    return VA_OK;
bad:
    return fail(c, VA_EFORMAT, "cidr: bad prefix length in '%.*s'", (int)(n > 64 ? 64 : n), s);
}

static int cidr_match(const alt *al, const char *s, size_t n) {
    uint8_t a[16];
    int fam = parse_ip(s, n, a);
    if (!fam) return 0;
    if (al->fam == 4) {
        /* An IPv4 network also covers IPv4-mapped IPv6 text (Windows logs ::ffff:10.1.2.3). */
        if (fam == 6 && !is_mapped(a)) return 0;
        return prefix_eq(a + 12, al->addr + 12, al->bits);
    }
    return prefix_eq(a, al->addr, al->bits);
}

/* ---- compile ----------------------------------------------------------------------------- */

static int lookup_mod(const char *s, size_t n) {
    for (int i = 0; i < M_COUNT_; i++)
        if (strlen(mod_names[i]) == n && memcmp(mod_names[i], s, n) == 0) return i;
    return -1;
}

static int first_bit(unsigned m) {
    for (int i = 0; i < M_COUNT_; i++)
        if (m & B(i)) return i;
    return 0;
}

/* Modifiers a type modifier tolerates next to it. */
static va_err check_combo(cctx *c, unsigned set, int self, unsigned allowed) {
    unsigned bad = set & ~allowed & ~B(self);
    if (!bad) return VA_OK;
    return fail(c, VA_EFORMAT, "modifier '%s' cannot be combined with '%s'",
                mod_names[first_bit(bad)], mod_names[self]);
}

static va_err compile_str_value(cctx *c, const va_value_lit *lit, const int *chain, int nchain,
                                unsigned set, sval *out) {
    va_err e;
    ustr first;
    if ((e = parse_sigma_str(c, lit->s ? lit->s : "", lit->n, (set & B(M_EXPAND)) != 0, &first)))
        return e;
    ulist l = {&first, 1};
    int encoded = 0;
    for (int k = 0; k < nchain; k++) {
        switch (chain[k]) {
        case M_WINDASH:
            e = do_windash(c, &l);
            break;
        case M_EXPAND:
            e = resolve_placeholders(c, &l);
            break;
        case M_B64:
        case M_B64OFF:
            if (!(e = expand_dashes(c, &l))) e = do_base64(c, &l, chain[k] == M_B64OFF);
            encoded = 1;
            break;
        case M_U16LE:
        case M_U16BE:
        case M_U16:
        case M_WIDE:
            if (!(e = expand_dashes(c, &l)))
                e = do_utf16(c, &l, chain[k] == M_WIDE ? M_U16LE : chain[k]);
            break;
        case M_CONTAINS:
            e = do_pos(c, &l, 1, 1);
            break;
        case M_STARTS:
            e = do_pos(c, &l, 0, 1);
            break;
        case M_ENDS:
            e = do_pos(c, &l, 1, 0);
            break;
        default:
            e = VA_OK;
        }
        if (e) return e;
    }
    out->alts = va_arena_alloc(c->a, l.n * sizeof *out->alts);
    if (!out->alts) return oom(c);
    memset(out->alts, 0, l.n * sizeof *out->alts);
    out->nalts = (uint32_t)l.n;
    for (size_t i = 0; i < l.n; i++) {
        alt *al = &out->alts[i];
        al->kind = ALT_GLOB;
        /* Base64 text carries information in letter case: compare it exactly. */
        al->cased = (uint8_t)(c->cased || encoded);
        if ((e = build_glob(c, &l.v[i], al->cased, &al->g))) return e;
    }
    return VA_OK;
}

static va_err one_alt(cctx *c, sval *out, alt **al) {
    *al = va_arena_alloc(c->a, sizeof **al);
    if (!*al) return oom(c);
    memset(*al, 0, sizeof **al);
    out->alts = *al;
    out->nalts = 1;
    return VA_OK;
}

/* YAML writes booleans as true, True or TRUE. */
static int ascii_ieq(const char *s, size_t n, const char *lit) {
    if (!s || n != strlen(lit)) return 0;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != lit[i]) return 0;
    return 1;
}

static const char *kind_name(va_value_kind k) {
    static const char *const n[] = {"string", "integer", "float", "boolean", "null"};
    return (unsigned)k <= VA_VALUE_NULL ? n[k] : "unknown";
}

/* Skip a quantifier at s[*i] ({n}, {n,}, {n,m}, *, +, ? and a lazy/possessive suffix).
 * Returns -1 if there is none, else its minimum count (capped at 1). */
static int re_quant(const char *s, size_t n, size_t *i) {
    size_t j = *i;
    int min;
    if (j >= n) return -1;
    if (s[j] == '*' || s[j] == '?') {
        min = 0, j++;
    } else if (s[j] == '+') {
        min = 1, j++;
    } else if (s[j] == '{') {
        size_t k = j + 1;
        unsigned long lo = 0;
        int digits = 0;
        while (k < n && s[k] >= '0' && s[k] <= '9')
            lo = lo * 10 + (unsigned long)(s[k++] - '0'), digits++;
        if (!digits) return -1; /* a literal brace */
        if (k < n && s[k] == ',') {
            k++;
            while (k < n && s[k] >= '0' && s[k] <= '9') k++;
        }
        if (k >= n || s[k] != '}') return -1;
        min = lo ? 1 : 0, j = k + 1;
    } else {
        return -1;
    }
    if (j < n && (s[j] == '?' || s[j] == '+')) j++;
    *i = j;
    return min;
}

/* A regular expression that is only runs of ASCII characters joined by ".*", such as
 * "\\+.*\\+.*\\+" or "(?i)set.*&&": it matches where one line (the whole subject under dotall)
 * holds the runs in order, and finding each run's first place after the one before answers
 * that in one pass.  PCRE2 backtracks instead: on a 2,400-byte command line with 30 '+' the
 * fourteen-'+' rule of SigmaHQ took it 4.6 M cycles, and a padded line would reach its match
 * limit.  Only the simplest shapes are taken (no classes, groups, anchors or quantifiers but
 * ".*"; inline options i and s at the start only), under PCRE2's default newline (LF) alone. */
typedef struct re_seq {
    const char *runs; /* each run followed by a NUL; lower case when caseless */
    uint8_t nruns, caseless, dotall;
} re_seq;

/* The sequence form of s[0..n) in a, or NULL if s is not one (or out of memory: PCRE2 then
 * matches, as for any other expression). */
static const re_seq *re_sequence(va_arena *a, const char *s, size_t n, int caseless, int dotall) {
    uint32_t nl = 0;
    if (pcre2_config(PCRE2_CONFIG_NEWLINE, &nl) < 0 || nl != PCRE2_NEWLINE_LF) return NULL;
    size_t i = 0;
    if (n >= 2 && s[0] == '(' && s[1] == '?') {
        size_t j = 2;
        for (; j < n && (s[j] == 'i' || s[j] == 's'); j++) {
            if (s[j] == 'i')
                caseless = 1;
            else
                dotall = 1;
        }
        if (j == 2 || j >= n || s[j] != ')') return NULL;
        i = j + 1;
    }
    /* runs and their NULs take at most n + 1 bytes: each NUL stands for a ".*" or the end */
    char *out = va_arena_alloc(a, n + 2);
    if (!out) return NULL;
    size_t o = 0, start = 0;
    unsigned nruns = 0, seps = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.' && i + 1 < n && s[i + 1] == '*') {
            i += 2;
            if (i < n && s[i] == '?') i++; /* lazy: the same answer to "does it match" */
            seps++;
            if (o > start) out[o++] = 0, start = o, nruns++;
            continue;
        }
        if (ch == '\\') {
            if (i + 1 >= n) return NULL;
            ch = (unsigned char)s[i + 1];
            if (ch >= 0x80 || (ch >= '0' && ch <= '9') ||
                ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
                return NULL; /* \d, \x41, \n...: not a plain character */
            i += 2;
        } else if (ch >= 0x80 || !ch || strchr(".*+?()[]{}|^$", ch)) {
            return NULL;
        } else {
            i++;
        }
        if (ch == '\n' || !ch) return NULL; /* the match would span lines; NUL ends a run */
        if (caseless) {
            /* caseless UTF matching maps 'k' and 's' to characters beyond ASCII as well */
            if ((ch | 0x20) == 'k' || (ch | 0x20) == 's') return NULL;
            if (ch >= 'A' && ch <= 'Z') ch = (unsigned char)(ch + 32);
        }
        out[o++] = (char)ch;
    }
    if (o > start) out[o++] = 0, nruns++;
    if (!seps || !nruns || nruns > 255) return NULL;
    re_seq *q = va_arena_alloc(a, sizeof *q);
    if (!q) return NULL;
    *q = (re_seq){out, (uint8_t)nruns, (uint8_t)caseless, (uint8_t)dotall};
    return q;
}

/* The longest run of ASCII characters that every match of regular expression s[0..n) must
 * contain, read conservatively: runs break at anything but plain characters, groups and
 * classes are skipped whole, and a top-level alternation, an unknown escape or extended mode
 * give up (0).  Writes the run to out (cap bytes).  cnt[c] (128 entries, zeroed first) gets how
 * many times every match holds ASCII character c outside groups and classes, counted for
 * characters that are not letters only: under caseless UTF matching 'k' and 's' also match
 * characters beyond ASCII (U+212A, U+017F), so a letter's bytes prove nothing.  On giving up,
 * cnt is all zeros. */
#define RE_GIVE_UP() return memset(cnt, 0, 128), (size_t)0

/* Whether s[0..n) may switch on extended mode, where spaces and '#' comments are not literal:
 * an option setting "(?" whose letters (before ')' or ':') hold an 'x', as in "(?x)", "(?ix)",
 * "(?^x:".  Read loosely: a "(?" inside a class also counts, which only costs a literal. */
static int re_extended(const char *s, size_t n) {
    for (const char *p = s, *e = s + n; (p = memmem(p, (size_t)(e - p), "(?", 2)); p += 2)
        for (const char *q = p + 2; q < e && *q != ')' && *q != ':'; q++) {
            if (*q == 'x') return 1;
            if (!((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z') && *q != '^' && *q != '-') break;
        }
    return 0;
}
static size_t re_literal(const char *s, size_t n, char *out, size_t cap, uint8_t cnt[128]) {
    char run[256];
    size_t rl = 0, best = 0;
    size_t i = 0;
    memset(cnt, 0, 128);
    if (re_extended(s, n) || memmem(s, n, "\\Q", 2)) RE_GIVE_UP();
    while (i < n) {
        char c = s[i];
        int lit = -1;
        if (c == '\\') {
            if (i + 1 >= n) RE_GIVE_UP();
            char d = s[i + 1];
            if ((d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z')) {
                if (!strchr("sSdDwWbBAzZhHvVR", d)) RE_GIVE_UP(); /* escapes with arguments */
                i += 2;
                rl = 0;
                if (re_quant(s, n, &i) < -1) RE_GIVE_UP();
                continue;
            }
            lit = (unsigned char)d;
            i += 2;
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < n && s[j] == '^') j++;
            if (j < n && s[j] == ']') j++;
            while (j < n && s[j] != ']') j += (s[j] == '\\') ? 2 : 1;
            if (j >= n) RE_GIVE_UP();
            i = j + 1;
            rl = 0;
            re_quant(s, n, &i);
            continue;
        } else if (c == '(') {
            int depth = 0;
            size_t j = i;
            for (; j < n; j++) {
                if (s[j] == '\\') {
                    j++;
                } else if (s[j] == '[') {
                    j++;
                    if (j < n && s[j] == '^') j++;
                    if (j < n && s[j] == ']') j++;
                    while (j < n && s[j] != ']') j += (s[j] == '\\') ? 2 : 1;
                } else if (s[j] == '(') {
                    depth++;
                } else if (s[j] == ')' && --depth == 0) {
                    break;
                }
            }
            if (j >= n) RE_GIVE_UP();
            i = j + 1;
            rl = 0;
            re_quant(s, n, &i);
            continue;
        } else if (c == '|' || c == ')') {
            RE_GIVE_UP(); /* top-level alternation: no single literal */
        } else if (c == '.' || c == '^' || c == '$') {
            i++;
            rl = 0;
            re_quant(s, n, &i);
            continue;
        } else if (c == '*' || c == '+' || c == '?') {
            RE_GIVE_UP(); /* a quantifier with nothing before it: not understood */
        } else {
            lit = (unsigned char)c;
            i++;
        }
        if (lit >= 0x80) { /* case folding beyond ASCII: not scanned for */
            rl = 0;
            re_quant(s, n, &i);
            continue;
        }
        int q = re_quant(s, n, &i);
        if (q == 0) { /* optional: not part of any run */
            rl = 0;
            continue;
        }
        if (!((lit | 0x20) >= 'a' && (lit | 0x20) <= 'z') && cnt[lit] < 255) cnt[lit]++;
        if (rl < sizeof run) run[rl++] = (char)lit;
        if (rl > best && rl <= cap) best = rl, memcpy(out, run, rl);
        if (q == 1) rl = 0; /* repeated: the run cannot go on past it */
    }
    return best;
}
#undef RE_GIVE_UP

va_err va_value_compile(va_arena *a, const char *mods, size_t mods_len, const va_value_lit *vals,
                        size_t nvals, const va_value_placeholder *ph, size_t nph, va_value **out,
                        const char **why) {
    const char *ignored;
    cctx cc = {a, why ? why : &ignored, ph, nph, 0}, *c = &cc;
    *c->why = NULL;
    *out = NULL;
    int chain[SV_MAX_MODS], nchain = 0;
    unsigned set = 0;
    if (!mods) mods_len = 0;
    if (mods_len && mods[mods_len - 1] == '|')
        return fail(c, VA_EFORMAT, "empty modifier in '%.*s'", (int)mods_len, mods);
    for (size_t i = 0; i < mods_len;) {
        const char *p = mods + i, *bar = memchr(p, '|', mods_len - i);
        size_t n = bar ? (size_t)(bar - p) : mods_len - i;
        i += n + 1;
        if (n == 0) return fail(c, VA_EFORMAT, "empty modifier in '%.*s'", (int)mods_len, mods);
        int m = lookup_mod(p, n);
        if (m < 0) {
            return fail(c, VA_EUNSUPPORTED, "unknown modifier '%.*s'", (int)(n > 64 ? 64 : n), p);
        }
        if (set & B(m)) return fail(c, VA_EFORMAT, "modifier '%s' given twice", mod_names[m]);
        if (nchain == SV_MAX_MODS) return fail(c, VA_EFORMAT, "too many modifiers");
        if ((m == M_RE_I || m == M_RE_M || m == M_RE_S) && !(set & B(M_RE)))
            return fail(c, VA_EFORMAT, "modifier '%s' is a sub-modifier of 're' and must follow it",
                        mod_names[m]);
        set |= B(m);
        chain[nchain++] = m;
    }
    unsigned pos = set & M_POS, cmp = set & M_NUMCMP, u16 = set & M_UTF16, tm = set & M_TIME;
    if (pos & (pos - 1)) {
        int f = first_bit(pos);
        return fail(c, VA_EFORMAT, "modifiers '%s' and '%s' conflict", mod_names[f],
                    mod_names[first_bit(pos & ~B(f))]);
    }
    if (cmp & (cmp - 1)) return fail(c, VA_EFORMAT, "only one of lt, lte, gt, gte is allowed");
    if (tm & (tm - 1)) return fail(c, VA_EFORMAT, "only one time part modifier is allowed");
    if (u16 & (u16 - 1))
        return fail(c, VA_EFORMAT, "only one of utf16le, utf16be, utf16, wide is allowed");
    if ((set & B(M_B64)) && (set & B(M_B64OFF)))
        return fail(c, VA_EFORMAT, "modifiers 'base64' and 'base64offset' conflict");
    unsigned types = set & (B(M_RE) | B(M_CIDR) | B(M_EXISTS) | B(M_FIELDREF));
    if (cmp | tm) types |= B(first_bit(cmp ? cmp : tm));
    if (types & (types - 1)) {
        int f = first_bit(types);
        int g = first_bit(types & ~B(f));
        return fail(c, VA_EFORMAT, "modifiers '%s' and '%s' conflict", mod_names[f], mod_names[g]);
    }
    va_err e = VA_OK;
    if (set & B(M_RE))
        e = check_combo(c, set, M_RE, M_REFLAG | B(M_ALL) | B(M_NEQ) | B(M_CASED));
    else if (set & B(M_CIDR))
        e = check_combo(c, set, M_CIDR, B(M_ALL) | B(M_NEQ));
    else if (set & B(M_EXISTS))
        e = check_combo(c, set, M_EXISTS, 0);
    else if (set & B(M_FIELDREF))
        e = check_combo(c, set, M_FIELDREF, M_POS | B(M_CASED) | B(M_NEQ) | B(M_ALL));
    else if (cmp | tm)
        e = check_combo(c, set, first_bit(cmp | tm), M_NUMCMP | M_TIME | B(M_ALL) | B(M_NEQ));
    if (e) return e;

    if (nvals == 0 || !vals) return fail(c, VA_EFORMAT, "no value given");
    for (size_t i = 0; i < nvals; i++) {
        if (vals[i].kind != VA_VALUE_NULL) continue;
        if (nvals > 1) return fail(c, VA_EFORMAT, "null cannot be part of a list of values");
        if (set)
            return fail(c, VA_EFORMAT, "null cannot take modifier '%s'", mod_names[first_bit(set)]);
    }
    if ((set & B(M_ALL)) && nvals < 2)
        return fail(c, VA_EFORMAT, "modifier 'all' needs a list of at least two values");

    va_value *m = va_arena_alloc(a, sizeof *m);
    sval *sv = va_arena_alloc(a, nvals * sizeof *sv);
    if (!m || !sv) return oom(c);
    memset(m, 0, sizeof *m);
    memset(sv, 0, nvals * sizeof *sv);
    m->v = sv;
    m->nv = nvals;
    c->cased = (set & B(M_CASED)) != 0;
    if (set & B(M_ALL)) m->flags |= VA_VALUE_F_ALL;
    if (set & B(M_NEQ)) m->flags |= VA_VALUE_F_NEQ;
    if (c->cased) m->flags |= VA_VALUE_F_CASED;

    if (nvals == 1 && vals[0].kind == VA_VALUE_NULL) {
        m->flags |= VA_VALUE_F_NULL;
        *out = m;
        return VA_OK;
    }
    if (set & B(M_EXISTS)) {
        if (nvals != 1 || vals[0].kind != VA_VALUE_BOOL)
            return fail(c, VA_EFORMAT, "exists: the value must be one boolean (true or false)");
        m->flags |= VA_VALUE_F_EXISTS;
        m->exists_val = ascii_ieq(vals[0].s, vals[0].n, "true");
        if (!m->exists_val && !ascii_ieq(vals[0].s, vals[0].n, "false"))
            return fail(c, VA_EFORMAT, "exists: '%.*s' is not true or false",
                        (int)(vals[0].n > 64 ? 64 : vals[0].n), vals[0].s ? vals[0].s : "");
        *out = m;
        return VA_OK;
    }
    for (size_t i = 0; i < nvals; i++) {
        const va_value_lit *v = &vals[i];
        const char *vs = v->s ? v->s : "";
        alt *al;
        if ((unsigned)v->kind > VA_VALUE_NULL) {
            e = fail(c, VA_EFORMAT, "value %zu: bad kind", i);
            goto out;
        }
        if (cmp | tm) {
            num x;
            if ((v->kind != VA_VALUE_INT && v->kind != VA_VALUE_FLOAT) || parse_num(vs, v->n, &x)) {
                e = fail(c, VA_EFORMAT, "%s: value '%.*s' is a %s, not a number",
                         mod_names[first_bit(cmp | tm)], (int)(v->n > 64 ? 64 : v->n), vs,
                         kind_name(v->kind));
                goto out;
            }
            if ((e = one_alt(c, &sv[i], &al))) goto out;
            al->kind = ALT_NUM;
            al->v = x;
            al->tpart = (uint8_t)(tm ? first_bit(tm) : 0);
            al->op = !cmp              ? OP_EQ
                     : cmp == B(M_LT)  ? OP_LT
                     : cmp == B(M_LTE) ? OP_LTE
                     : cmp == B(M_GT)  ? OP_GT
                                       : OP_GTE;
        } else if (set & B(M_RE)) {
            if ((e = one_alt(c, &sv[i], &al))) goto out;
            /* NO_DOTSTAR_ANCHOR: with the optimisation, a pattern opening with ".*" is tried
             * at line starts only, and PCRE2 10.42's JIT then misses a match that follows a
             * byte of invalid UTF-8 ("(?s).*A" on "\xC3A"; the interpreter finds it): one
             * such byte would hide a command line from the rule. */
            uint32_t opt = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NO_DOTSTAR_ANCHOR;
            if (set & B(M_RE_I)) opt |= PCRE2_CASELESS;
            if (set & B(M_RE_M)) opt |= PCRE2_MULTILINE;
            if (set & B(M_RE_S)) opt |= PCRE2_DOTALL;
            int ec;
            PCRE2_SIZE eo;
            al->kind = ALT_RE;
            al->re = pcre2_compile((PCRE2_SPTR)vs, v->n, opt, &ec, &eo, NULL);
            if (!al->re) {
                PCRE2_UCHAR msg[160];
                if (pcre2_get_error_message(ec, msg, sizeof msg) < 0) strcpy((char *)msg, "error");
                e = fail(c, VA_EFORMAT, "re: %s at offset %zu of '%.*s'", (char *)msg, (size_t)eo,
                         (int)(v->n > 64 ? 64 : v->n), vs);
                goto out;
            }
            /* JIT is an optimisation: without it (unsupported CPU) the interpreter matches. */
            (void)pcre2_jit_compile(al->re, PCRE2_JIT_COMPLETE);
            uint8_t cnt[128];
            al->re_lit_n = (uint8_t)re_literal(vs, v->n, al->re_lit, sizeof al->re_lit, cnt);
            al->seq = re_sequence(c->a, vs, v->n, !!(set & B(M_RE_I)), !!(set & B(M_RE_S)));
            for (int k = 0; k < 2; k++) { /* the two most repeated, if repeated at all */
                int best = -1;
                for (int ch = 0; ch < 128; ch++)
                    if (cnt[ch] >= 2 && (best < 0 || cnt[ch] > cnt[best])) best = ch;
                if (best < 0) break;
                al->re_need_c[k] = (uint8_t)best, al->re_need_n[k] = cnt[best];
                cnt[best] = 0;
            }
        } else if (set & B(M_CIDR)) {
            if ((e = one_alt(c, &sv[i], &al))) goto out;
            if ((e = build_cidr(c, vs, v->n, al))) goto out;
        } else if (set & B(M_FIELDREF)) {
            if (v->kind != VA_VALUE_STR || v->n == 0) {
                e = fail(c, VA_EFORMAT, "fieldref: the value must be a field name");
                goto out;
            }
            if ((e = one_alt(c, &sv[i], &al))) goto out;
            al->kind = ALT_REF;
            al->cased = (uint8_t)c->cased;
            al->op = set & B(M_CONTAINS) ? REF_CONTAINS
                     : set & B(M_STARTS) ? REF_STARTS
                     : set & B(M_ENDS)   ? REF_ENDS
                                         : REF_EQ;
            if (!(al->ref = va_arena_strndup(a, vs, v->n))) {
                e = oom(c);
                goto out;
            }
            al->ref_n = v->n;
            m->flags |= VA_VALUE_F_FIELDREF;
        } else if ((v->kind == VA_VALUE_INT || v->kind == VA_VALUE_FLOAT) &&
                   !(set & ~(B(M_ALL) | B(M_NEQ) | B(M_CASED)))) {
            /* A YAML number matches the same number in any notation, and its own text. */
            num x;
            if (parse_num(vs, v->n, &x)) {
                e = fail(c, VA_EFORMAT, "value '%.*s' is not a number",
                         (int)(v->n > 64 ? 64 : v->n), vs);
                goto out;
            }
            if ((e = one_alt(c, &sv[i], &al))) goto out;
            ustr u;
            if ((e = parse_sigma_str(c, vs, v->n, 0, &u))) goto out;
            if ((e = build_glob(c, &u, 0, &al->g))) goto out;
            al->kind = ALT_NUM;
            al->op = OP_EQ;
            al->v = x;
        } else {
            if ((e = compile_str_value(c, v, chain, nchain, set, &sv[i]))) goto out;
        }
        for (uint32_t k = 0; k < sv[i].nalts; k++)
            if (!sv[i].alts[k].cased && sv[i].alts[k].kind != ALT_RE &&
                sv[i].alts[k].kind != ALT_CIDR)
                m->flags |= VA_VALUE_F_NEEDFOLD;
    }
    *out = m;
    return VA_OK;
out:
    va_value_free(m);
    return e;
}

void va_value_free(va_value *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nv; i++)
        for (uint32_t k = 0; k < m->v[i].nalts; k++)
            if (m->v[i].alts[k].re) {
                pcre2_code_free(m->v[i].alts[k].re);
                m->v[i].alts[k].re = NULL;
            }
}

unsigned va_value_flags(const va_value *m) {
    return m->flags;
}

size_t va_value_nvalues(const va_value *m) {
    return m->nv;
}

const char *va_value_ref_name(const va_value *m, size_t i, size_t *len) {
    if (i >= m->nv || !m->v[i].nalts || m->v[i].alts[0].kind != ALT_REF) return NULL;
    if (len) *len = m->v[i].alts[0].ref_n;
    return m->v[i].alts[0].ref;
}

size_t va_value_nalts(const va_value *m, size_t i) {
    return i < m->nv ? m->v[i].nalts : 0;
}

/* Length of the character at p if a scan of raw event text can look for it: ASCII (scanned
 * ASCII-caselessly), or, in a folded pattern, a code point that no other code point folds to
 * (so the folded subject holds it only where the raw subject does); any character of a cased
 * pattern, which is compared raw.  0 if not, and for bytes that are not UTF-8 (they could be
 * part of a folded character's encoding). */
/* Bytes of the character at p that a literal run may take, or 0; targets: non-ASCII fold
 * targets are taken too (the caller scans for their variants). */
static size_t scan_safe(const unsigned char *p, size_t n, int cased, int targets) {
    if (*p < 0x80) return 1;
    uint32_t cp;
    size_t l = va_utf8_next(p, n, &cp);
    if (!l || (cp == 0xFFFD && l == 1)) return 0;
    if (!cased && !targets && va_value_fold_is_target(cp)) return 0;
    return l;
}

/* Bytes to step over an unsafe character (at least 1). */
static size_t scan_safe_skip(const unsigned char *p, size_t n) {
    uint32_t cp;
    size_t l = va_utf8_next(p, n, &cp);
    return l ? l : 1;
}

static size_t alt_literal(const va_value *m, size_t i, size_t k, size_t minlen, int targets,
                          const char **lit) {
    if (i >= m->nv || k >= m->v[i].nalts) return 0;
    const alt *al = &m->v[i].alts[k];
    if (al->kind == ALT_RE) {
        if (al->re_lit_n < minlen || !al->re_lit_n) return 0;
        *lit = al->re_lit;
        return al->re_lit_n;
    }
    if (al->kind != ALT_GLOB) return 0;
    const glob *g = &al->g;
    size_t best = 0;
    const char *bp = NULL;
    for (uint32_t s = 0; s < g->nseg; s++)
        for (uint32_t a = g->segs[s].a0; a < g->segs[s].a0 + g->segs[s].na; a++) {
            const atom *at = &g->atoms[a];
            if (at->t != AT_LIT) continue;
            const unsigned char *p = (const unsigned char *)g->lit + at->off, *end = p + at->len;
            while (p < end) { /* runs of characters the event side can be scanned for */
                const unsigned char *r = p;
                size_t l;
                while (p < end && (l = scan_safe(p, (size_t)(end - p), al->cased, targets))) p += l;
                if ((size_t)(p - r) > best) best = (size_t)(p - r), bp = (const char *)r;
                if (p < end) p += scan_safe_skip(p, (size_t)(end - p));
            }
        }
    if (best < minlen || !best) return 0;
    *lit = bp;
    return best;
}

size_t va_value_alt_literal(const va_value *m, size_t i, size_t k, size_t minlen,
                            const char **lit) {
    return alt_literal(m, i, k, minlen, 0, lit);
}

size_t va_value_alt_literal_folded(const va_value *m, size_t i, size_t k, size_t minlen,
                                   const char **lit) {
    return alt_literal(m, i, k, minlen, 1, lit);
}

int va_value_alt_int_eq(const va_value *m, size_t i, size_t k, int64_t *out) {
    if (i >= m->nv || k >= m->v[i].nalts) return 0;
    const alt *al = &m->v[i].alts[k];
    if (al->kind == ALT_NUM) {
        if (al->op != OP_EQ || al->tpart || al->v.isint != 1) return 0;
        *out = al->v.i;
        return 1;
    }
    if (al->kind != ALT_GLOB) return 0;
    /* A pattern of digits alone, anchored at both ends, equals only that number's text. */
    const glob *g = &al->g;
    if (g->star || g->nseg != 1 || g->segs[0].na != 1) return 0;
    const atom *at = &g->atoms[g->segs[0].a0];
    if (at->t != AT_LIT || !at->len || at->len > 18) return 0;
    int64_t v = 0;
    for (uint32_t j = 0; j < at->len; j++) {
        char c = g->lit[at->off + j];
        if (c < '0' || c > '9') return 0;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 1;
}

/* ---- glob matching ----------------------------------------------------------------------- */

static size_t cp_len_fwd(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    size_t want = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (want > avail) return 1;
    for (size_t i = 1; i < want; i++)
        if ((s[i] & 0xC0) != 0x80) return 1;
    return want;
}

static size_t dash_at(const unsigned char *s, size_t avail) {
    if (avail >= 1 && (s[0] == '-' || s[0] == '/')) return 1;
    if (avail >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x93 && s[2] <= 0x95) return 3;
    return 0;
}

/* Match segment sg at pos, forward; end position or -1. */
static long seg_fwd(const glob *g, const seg *sg, const unsigned char *s, size_t pos, size_t lim) {
    for (uint32_t k = 0; k < sg->na; k++) {
        const atom *a = &g->atoms[sg->a0 + k];
        if (a->t == AT_LIT) {
            if (lim - pos < a->len || memcmp(s + pos, g->lit + a->off, a->len)) return -1;
            pos += a->len;
        } else if (a->t == AT_QM) {
            if (pos >= lim) return -1;
            pos += cp_len_fwd(s + pos, lim - pos);
        } else {
            size_t d = dash_at(s + pos, lim - pos);
            if (!d) return -1;
            pos += d;
        }
    }
    return (long)pos;
}

/* Match segment sg ending at pos, backward, not below lo; start position or -1. */
static long seg_bwd(const glob *g, const seg *sg, const unsigned char *s, size_t lo, size_t pos) {
    for (uint32_t k = sg->na; k-- > 0;) {
        const atom *a = &g->atoms[sg->a0 + k];
        if (a->t == AT_LIT) {
            if (pos - lo < a->len || memcmp(s + pos - a->len, g->lit + a->off, a->len)) return -1;
            pos -= a->len;
        } else if (a->t == AT_QM) {
            if (pos <= lo) return -1;
            size_t p = pos - 1;
            while (p > lo && pos - p < 4 && (s[p] & 0xC0) == 0x80) p--;
            if (cp_len_fwd(s + p, pos - p) != pos - p) p = pos - 1;
            pos = p;
        } else {
            if (pos - lo >= 1 && (s[pos - 1] == '-' || s[pos - 1] == '/')) {
                pos -= 1;
            } else if (pos - lo >= 3 && dash_at(s + pos - 3, 3) == 3) {
                pos -= 3;
            } else {
                return -1;
            }
        }
    }
    return (long)pos;
}

/* Leftmost occurrence of sg in [lo, hi); its end or -1. */
static long seg_find(const glob *g, const seg *sg, const unsigned char *s, size_t lo, size_t hi) {
    const atom *a0 = &g->atoms[sg->a0];
    size_t p = lo;
    if (sg->na == 1 && a0->t == AT_LIT) { /* a plain substring (contains): found is matched */
        const unsigned char *f = va_find(s + lo, hi - lo, g->lit + a0->off, a0->len);
        return f ? (long)(f - s) + (long)a0->len : -1;
    }
    while (p < hi) {
        if (a0->t == AT_LIT) {
            const unsigned char *f = va_find(s + p, hi - p, g->lit + a0->off, a0->len);
            if (!f) return -1;
            p = (size_t)(f - s);
        }
        long e = seg_fwd(g, sg, s, p, hi);
        if (e >= 0) return e;
        p++;
        while (a0->t != AT_LIT && p < hi && (s[p] & 0xC0) == 0x80) p++;
    }
    return -1;
}

static int glob_match(const glob *g, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    if (!g->star) {
        if (!g->nseg) return n == 0;
        return seg_fwd(g, &g->segs[0], s, 0, n) == (long)n;
    }
    size_t lo = 0, hi = n;
    uint32_t first = 0, last = g->nseg;
    if (g->anc_s && first < last) {
        long e = seg_fwd(g, &g->segs[first++], s, 0, n);
        if (e < 0) return 0;
        lo = (size_t)e;
    }
    if (g->anc_e && first < last) {
        long b = seg_bwd(g, &g->segs[--last], s, lo, n);
        if (b < 0) return 0;
        hi = (size_t)b;
    }
    for (uint32_t k = first; k < last; k++) {
        long e = seg_find(g, &g->segs[k], s, lo, hi);
        if (e < 0) return 0;
        lo = (size_t)e;
    }
    return 1;
}

/* ---- matching ---------------------------------------------------------------------------- */

/* The folded text of subj, computed into buf at most once per top-level call. */
static int ensure_fold(va_value_subj *subj, va_buf *buf) {
    if (subj->fold) return 0;
    va_buf_clear(buf);
    va_value_fold(subj->s, subj->n, buf);
    if (buf->oom) {
        /* Start afresh next time: the flag would otherwise refuse every later append. */
        va_buf_free(buf);
        va_buf_init(buf);
        return -1;
    }
    subj->fold = buf->p ? buf->p : "";
    subj->fold_n = buf->len;
    return 0;
}

/* Whether subject matches sequence q: 1 or 0, or -1 when PCRE2 must say (a byte beyond ASCII:
 * '.' does not cross invalid UTF-8, and folding may change lengths there). */
static int seq_match(const re_seq *q, va_value_scratch *sc, va_value_subj *subj) {
    unsigned char any = 0;
    for (size_t i = 0; i < subj->n; i++) any |= (unsigned char)subj->s[i];
    if (any & 0x80) return -1;
    const char *s = subj->s;
    if (q->caseless) {
        if (ensure_fold(subj, &sc->fold) || subj->fold_n != subj->n) return -1;
        s = subj->fold;
    }
    const char *end = s + subj->n;
    for (const char *line = s;;) {
        const char *le = q->dotall ? NULL : memchr(line, '\n', (size_t)(end - line));
        if (!le) le = end;
        const char *p = line, *r = q->runs;
        unsigned k = 0;
        for (; k < q->nruns; k++) {
            size_t rn = strlen(r);
            const char *f = va_find(p, (size_t)(le - p), r, rn);
            if (!f) break;
            p = f + rn, r += rn + 1;
        }
        if (k == q->nruns) return 1;
        if (le == end) return 0;
        line = le + 1;
    }
}

/* Whether s[0..n) holds each of al's repeated characters as often as a match needs. */
static int re_needs_met(const alt *al, const char *s, size_t n) {
    for (int k = 0; k < 2 && al->re_need_n[k]; k++) {
        unsigned need = al->re_need_n[k];
        for (const char *p = s, *e = s + n;
             need && (p = memchr(p, al->re_need_c[k], (size_t)(e - p))); p++)
            need--;
        if (need) return 0;
    }
    return 1;
}

static int alt_match(const alt *al, va_value_scratch *sc, va_value_subj *subj) {
    switch (al->kind) {
    case ALT_GLOB:
        if (al->cased) return glob_match(&al->g, subj->s, subj->n);
        if (ensure_fold(subj, &sc->fold)) return 0;
        return glob_match(&al->g, subj->fold, subj->fold_n);
    case ALT_NUM: {
        num x;
        if (al->tpart) {
            if (time_part(subj->s, subj->n, al->tpart, &x)) return 0;
        } else if (parse_num(subj->s, subj->n, &x)) {
            x.isint = -1;
        }
        if (x.isint >= 0) {
            int r = num_cmp(&x, &al->v);
            switch (al->op) {
            case OP_EQ:
                if (r == 0) return 1;
                break;
            case OP_LT:
                return r == -1;
            case OP_LTE:
                return r == -1 || r == 0;
            case OP_GT:
                return r == 1;
            default:
                return r == 1 || r == 0;
            }
        }
        if (al->op != OP_EQ || al->tpart) return 0;
        if (ensure_fold(subj, &sc->fold)) return 0;
        return glob_match(&al->g, subj->fold, subj->fold_n);
    }
    case ALT_RE: {
        if (!re_needs_met(al, subj->s, subj->n)) return 0;
        if (al->seq) {
            int r = seq_match(al->seq, sc, subj);
            if (r >= 0) return r;
        }
        int rc = pcre2_match(al->re, (PCRE2_SPTR)subj->s, subj->n, 0, 0, sc->md, sc->mctx);
        if (rc >= 0) return 1;
        if (rc != PCRE2_ERROR_NOMATCH) sc->limits++;
        return 0;
    }
    case ALT_CIDR:
        return cidr_match(al, subj->s, subj->n);
    default:
        return 0;
    }
}

int va_value_match_value(const va_value *m, size_t i, va_value_scratch *sc,
                         const va_value_subj *subj) {
    if (i >= m->nv || subj->type == VA_V_NULL) return 0;
    va_value_subj s = *subj;
    if (!s.s) s.s = "", s.n = 0;
    const sval *v = &m->v[i];
    for (uint32_t k = 0; k < v->nalts; k++)
        if (alt_match(&v->alts[k], sc, &s)) return 1;
    return 0;
}

int va_value_match(const va_value *m, va_value_scratch *sc, const va_value_subj *subj) {
    if (m->flags & VA_VALUE_F_NULL) return subj->type == VA_V_NULL;
    if (m->flags & VA_VALUE_F_EXISTS) return m->exists_val;
    if (m->flags & VA_VALUE_F_FIELDREF) return 0;
    va_value_subj s = *subj;
    if (!s.s) s.s = "", s.n = 0;
    int all = (m->flags & VA_VALUE_F_ALL) != 0, r = all;
    if (s.type != VA_V_NULL) {
        for (size_t i = 0; i < m->nv; i++) {
            int hit = 0;
            const sval *v = &m->v[i];
            for (uint32_t k = 0; k < v->nalts && !hit; k++) hit = alt_match(&v->alts[k], sc, &s);
            if (all && !hit) {
                r = 0;
                break;
            }
            if (!all && hit) {
                r = 1;
                break;
            }
        }
    } else {
        r = 0; /* a null value equals no pattern, only the null value */
    }
    return (m->flags & VA_VALUE_F_NEQ) ? !r : r;
}

int va_value_absent(const va_value *m) {
    if (m->flags & VA_VALUE_F_NULL) return 1;
    if (m->flags & VA_VALUE_F_EXISTS) return !m->exists_val;
    return 0;
}

int va_value_match_ref(const va_value *m, size_t i, va_value_scratch *sc, const va_value_subj *subj,
                       const va_value_subj *other) {
    if (i >= m->nv || !m->v[i].nalts || m->v[i].alts[0].kind != ALT_REF) return 0;
    const alt *al = &m->v[i].alts[0];
    va_value_subj a = *subj, b = *other;
    if (!a.s) a.s = "", a.n = 0;
    if (!b.s) b.s = "", b.n = 0;
    const char *x = a.s, *y = b.s;
    size_t xn = a.n, yn = b.n;
    if (!al->cased) {
        if (ensure_fold(&a, &sc->fold) || ensure_fold(&b, &sc->fold2)) return 0;
        x = a.fold, xn = a.fold_n, y = b.fold, yn = b.fold_n;
    }
    switch (al->op) {
    case REF_EQ:
        return xn == yn && !memcmp(x, y, xn);
    case REF_STARTS:
        return xn >= yn && !memcmp(x, y, yn);
    case REF_ENDS:
        return xn >= yn && !memcmp(x + xn - yn, y, yn);
    default:
        return yn == 0 || memmem(x, xn, y, yn) != NULL;
    }
}

/* ---- scratch ----------------------------------------------------------------------------- */

va_value_scratch *va_value_scratch_new(void) {
    va_value_scratch *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    va_buf_init(&sc->fold);
    va_buf_init(&sc->fold2);
    /* One ovector pair is enough: only "did it match" is asked. */
    sc->md = pcre2_match_data_create(1, NULL);
    sc->mctx = pcre2_match_context_create(NULL);
    if (!sc->md || !sc->mctx) {
        va_value_scratch_free(sc);
        return NULL;
    }
    pcre2_set_match_limit(sc->mctx, SV_RE_MATCHLIMIT);
    pcre2_set_depth_limit(sc->mctx, SV_RE_DEPTHLIMIT);
    /* A larger JIT stack than the 32K default lets ordinary patterns run on long command
     * lines; failing to get one only means the default. */
    sc->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (sc->jit) pcre2_jit_stack_assign(sc->mctx, NULL, sc->jit);
    return sc;
}

void va_value_scratch_free(va_value_scratch *sc) {
    if (!sc) return;
    pcre2_match_data_free(sc->md);
    pcre2_match_context_free(sc->mctx);
    if (sc->jit) pcre2_jit_stack_free(sc->jit);
    va_buf_free(&sc->fold);
    va_buf_free(&sc->fold2);
    free(sc);
}

uint64_t va_value_scratch_limits(const va_value_scratch *sc) {
    return sc->limits;
}
