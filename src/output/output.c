/*
 * output.c - the alert sink (see output.h): JSON lines, CSV, the sorted terminal timeline and
 * the summary counters.
 *
 * One va_out per run.  Every alert updates the summary (levels, time range, rule and host
 * counts, in their own arena); then jsonl and csv format it into a line buffer and write it at
 * once, while the table copies the few strings it shows into an arena, sorts them by event
 * time at close and prints them fitted to the terminal width.  The exact formats are in
 * docs/output.md: change them only together with that page.
 */
#include "output/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/array.h"
#include "core/hash.h"
#include "core/arena.h"
#include "core/utf.h"
#include "core/vtime.h"

#define SUM_MAX_KEYS  65536u /* distinct rules or hosts counted; host names come from logs */
#define SUM_KEY_CAP   512u   /* bytes of a rule title or host name kept for the summary */
#define SUM_TOP       10u    /* rules and hosts listed */
#define TAB_MIN_WIDTH 20u
#define TAB_MAX_WIDTH 4096u
#define TAB_CELL_CAP  256u /* bytes kept of a computer name, title or level (columns <= 48) */
#define TAB_W_TIME    19u  /* "YYYY-MM-DD HH:MM:SS" */
#define TAB_W_LEVEL   8u   /* "critical"; "informational" is shown as "info" */
#define TAB_SEP       2u   /* spaces between columns */

#define ELLIPSIS  "\xE2\x80\xA6"
#define SGR_RESET "\033[0m"
#define SGR_BOLD  "\033[1m"
#define SGR_DIM   "\033[2m"

static const char spaces64[] = "                                                                ";

/* ---- summary counters -------------------------------------------------------------------- */

typedef struct sum_ent {
    uint64_t count, seq;
    const char *a, *b, *level; /* rules: title, id, level; hosts: name, NULL, NULL */
    uint32_t alen, blen;
} sum_ent;

typedef struct sum_map {
    sum_ent *v; /* entries in first-seen order, found through h */
    size_t cap, n;
    va_hash h;
    uint64_t untracked; /* alerts whose key did not fit under SUM_MAX_KEYS */
} sum_map;

/* ---- table rows -------------------------------------------------------------------------- */

typedef struct trow {
    int64_t t, eid;
    uint64_t seq;
    const char *level, *comp, *rule, *det; /* terminal-safe text */
    uint32_t levlen, complen, rulelen, detlen;
    uint32_t levw, compw, rulew, detw; /* widths in columns */
    int rank;                          /* level rank, -1 if unknown */
} trow;

struct va_out {
    va_out_opts opt;
    FILE *f;
    va_err err;    /* first error, sticky */
    int err_errno; /* errno that went with a VA_EIO */
    uint64_t seq;  /* alerts seen: input order for stable sorting */
    va_buf line, tmp, tmp2;
    uint32_t *grp; /* field grouping scratch: 3 * grp_cap entries */
    size_t grp_cap;
    /* summary */
    va_out_stats st;
    va_arena sum_arena;
    sum_map rules, hosts;
    /* table */
    unsigned width;
    size_t max_sorted;
    va_arena rows_arena, row_tmp;
    trow **rows;
    size_t nrows, rows_cap;
    int streaming, header_done;
    size_t w_comp, w_eid, w_rule;
};

static const char *const level_names[] = {"informational", "low", "medium", "high", "critical"};

int va_out_level_rank(const char *level) {
    for (int i = 0; level && i < 5; i++)
        if (!strcasecmp(level, level_names[i])) return i;
    return -1;
}

int va_out_fmt_parse(const char *s, va_out_fmt *out) {
    static const struct {
        const char *name;
        va_out_fmt fmt;
    } f[] = {{"jsonl", VA_OUT_JSONL}, {"csv", VA_OUT_CSV}, {"table", VA_OUT_TABLE}};
    for (size_t i = 0; s && i < sizeof f / sizeof f[0]; i++) {
        if (!strcasecmp(s, f[i].name)) {
            *out = f[i].fmt;
            return 0;
        }
    }
    return -1;
}

/* ---- errors and writing ------------------------------------------------------------------ */

static va_err fail(va_out *o, va_err e, int sys_errno) {
    if (!o->err) {
        o->err = e;
        o->err_errno = sys_errno;
    }
    return o->err;
}

static va_err sticky(const va_out *o) {
    if (o->err == VA_EIO) errno = o->err_errno;
    return o->err;
}

static va_err write_buf(va_out *o, const va_buf *b) {
    if (b->oom) return fail(o, VA_ENOMEM, 0);
    errno = 0;
    if (b->len && fwrite(b->p, 1, b->len, o->f) != b->len) {
        fail(o, VA_EIO, errno ? errno : EIO);
        return sticky(o);
    }
    return VA_OK;
}

/* ---- shared helpers ---------------------------------------------------------------------- */

static const char *kv_name(const va_kv *k, size_t *n) {
    *n = k->name ? k->nlen : 0;
    return k->name ? k->name : "";
}

static const char *kv_val(const va_kv *k, size_t *n) {
    *n = k->val ? k->vlen : 0;
    return k->val ? k->val : "";
}

/* Length of the longest prefix of s[0..n) of at most cap bytes that does not split a UTF-8
 * sequence, so that capped text still decodes as it did. */
static size_t utf8_floor(const char *s, size_t n, size_t cap) {
    if (n <= cap) return n;
    size_t k = cap;
    while (k > 0 && cap - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    return k;
}

static size_t digits_u64(uint64_t v) {
    size_t d = 1;
    while (v >= 10) v /= 10, d++;
    return d;
}

/* "YYYY-MM-DD HH:MM:SS" (out >= 40 bytes), or "-" without a time. */
static size_t fmt_short_time(int64_t t, char *out) {
    if (t == VA_TIME_NONE) {
        memcpy(out, "-", 2);
        return 1;
    }
    size_t n = va_time_fmt_ns(t, 0, out);
    char *tp = memchr(out, 'T', n);
    if (tp) *tp = ' ';
    if (n && out[n - 1] == 'Z') out[--n] = 0;
    return n;
}

/* ---- summary ----------------------------------------------------------------------------- */

/* Count one alert under key (a, b); level is kept with a new key.  -1 if out of memory. */
static int sum_add(va_out *o, sum_map *m, const char *a, size_t alen, const char *b, size_t blen,
                   const char *level, uint64_t seq) {
    alen = utf8_floor(a, alen, SUM_KEY_CAP);
    blen = utf8_floor(b, blen, SUM_KEY_CAP);
    /* b's length is mixed in, so ("ab", "") and ("a", "b") differ; equality checks both. */
    uint64_t h = va_hash_mem(b, blen, va_hash_u64(va_hash_mem(a, alen, 0), blen));
    va_hash_iter it;
    for (uint32_t i = va_hash_first(&m->h, h, &it); i != VA_HASH_END;
         i = va_hash_next(&m->h, &it)) {
        sum_ent *e = &m->v[i];
        if (e->alen == alen && e->blen == blen && !memcmp(e->a, a, alen) &&
            !memcmp(e->b, b, blen)) {
            e->count++;
            return 0;
        }
    }
    if (m->n >= SUM_MAX_KEYS) {
        m->untracked++;
        return 0;
    }
    if (VA_ARRAY_GROW(m->v, m->cap, m->n + 1)) return -1;
    sum_ent e = {.count = 1, .seq = seq, .alen = (uint32_t)alen, .blen = (uint32_t)blen};
    e.a = va_arena_strndup(&o->sum_arena, a, alen);
    e.b = va_arena_strndup(&o->sum_arena, b, blen);
    if (level)
        e.level = va_arena_strndup(&o->sum_arena, level, utf8_floor(level, strlen(level), 64));
    if (!e.a || !e.b || (level && !e.level) || va_hash_insert(&m->h, h, (uint32_t)m->n)) return -1;
    m->v[m->n++] = e;
    return 0;
}

static va_err count_alert(va_out *o, const va_alert *a) {
    va_out_stats *st = &o->st;
    st->alerts++;
    if (a->kind == VA_ALERT_CORRELATION) st->correlations++;
    if (a->undecided) st->undecided++;
    int r = va_out_level_rank(a->level);
    st->by_level[r < 0 ? VA_OUT_OTHER : r]++;
    if (a->time_ns != VA_TIME_NONE) {
        if (st->first_ns == VA_TIME_NONE || a->time_ns < st->first_ns) st->first_ns = a->time_ns;
        if (st->last_ns == VA_TIME_NONE || a->time_ns > st->last_ns) st->last_ns = a->time_ns;
    }
    const char *title = a->title ? a->title : "", *id = a->id ? a->id : "";
    if (sum_add(o, &o->rules, title, strlen(title), id, strlen(id), a->level, o->seq))
        return fail(o, VA_ENOMEM, 0);
    if (a->computer && *a->computer &&
        sum_add(o, &o->hosts, a->computer, strlen(a->computer), "", 0, NULL, o->seq))
        return fail(o, VA_ENOMEM, 0);
    return VA_OK;
}

void va_out_get_stats(const va_out *o, va_out_stats *st) {
    *st = o->st;
}

static const char *level_sgr(int rank) {
    static const char *const sgr[] = {SGR_DIM, "\033[32m", "\033[33m", "\033[31m", "\033[1;91m"};
    return rank >= 0 && rank < 5 ? sgr[rank] : NULL;
}

static void put_sgr(va_buf *b, int color, const char *sgr) {
    if (color && sgr) va_buf_puts(b, sgr);
}

static int cmp_top(const void *x, const void *y) {
    const sum_ent *a = *(const sum_ent *const *)x, *b = *(const sum_ent *const *)y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Entries of m, most frequent first (ties: first seen first); caller frees.  NULL on OOM. */
static sum_ent **sum_sorted(const sum_map *m) {
    sum_ent **v = malloc((m->n ? m->n : 1) * sizeof *v);
    if (!v) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) v[k++] = &m->v[i];
    qsort(v, k, sizeof *v, cmp_top);
    return v;
}

static void sum_list(va_buf *b, const sum_map *m, sum_ent **top, int rules, int color) {
    size_t n = m->n < SUM_TOP ? m->n : SUM_TOP;
    size_t cw = 5;
    if (n && digits_u64(top[0]->count) > cw) cw = digits_u64(top[0]->count);
    va_buf tmp;
    va_buf_init(&tmp);
    put_sgr(b, color, SGR_BOLD);
    va_buf_printf(b, "Top %s (%zu in all):", rules ? "rules" : "hosts", m->n);
    put_sgr(b, color, SGR_RESET);
    va_buf_printf(b, "\n  %*s  %s\n", (int)cw, "count", rules ? "level          rule" : "host");
    for (size_t i = 0; i < n; i++) {
        const sum_ent *e = top[i];
        va_buf_printf(b, "  %*llu  ", (int)cw, (unsigned long long)e->count);
        if (rules) {
            int r = va_out_level_rank(e->level);
            if (r >= 0) {
                put_sgr(b, color, level_sgr(r));
                va_buf_puts(b, level_names[r]);
                put_sgr(b, color, SGR_RESET);
                va_buf_put(b, spaces64, 15 - strlen(level_names[r]));
            } else {
                va_buf_clear(&tmp);
                va_out_tty_esc(&tmp, e->level ? e->level : "-", e->level ? strlen(e->level) : 1);
                va_out_tty_fit(b, tmp.p ? tmp.p : "", tmp.len, 13, 1);
                va_buf_put(b, "  ", 2);
            }
        }
        va_buf_clear(&tmp);
        const char *name = e->alen ? e->a : (e->blen ? e->b : "-");
        size_t nlen = e->alen ? e->alen : (e->blen ? e->blen : 1);
        va_out_tty_esc(&tmp, name, nlen);
        va_out_tty_fit(b, tmp.p ? tmp.p : "", tmp.len, 72, 0);
        va_buf_putc(b, '\n');
        if (tmp.oom) b->oom = 1;
    }
    if (m->untracked)
        va_buf_printf(b, "  (%llu more alerts not listed: over %u distinct %s)\n",
                      (unsigned long long)m->untracked, SUM_MAX_KEYS, rules ? "rules" : "hosts");
    va_buf_free(&tmp);
}

va_err va_out_summary(const va_out *o, FILE *f, int color) {
    if (!o || !f) return VA_EUSAGE;
    const va_out_stats *st = &o->st;
    va_buf b;
    va_buf_init(&b);
    put_sgr(&b, color, SGR_BOLD);
    va_buf_printf(&b, "Alerts: %llu", (unsigned long long)st->alerts);
    put_sgr(&b, color, SGR_RESET);
    sum_ent **rules = NULL, **hosts = NULL;
    if (st->alerts) {
        va_buf_puts(&b, " (");
        for (int i = VA_OUT_CRITICAL; i >= VA_OUT_INFORMATIONAL; i--) {
            put_sgr(&b, color, level_sgr(i));
            va_buf_puts(&b, level_names[i]);
            put_sgr(&b, color, SGR_RESET);
            va_buf_printf(&b, " %llu%s", (unsigned long long)st->by_level[i], i ? ", " : "");
        }
        if (st->by_level[VA_OUT_OTHER])
            va_buf_printf(&b, ", other %llu", (unsigned long long)st->by_level[VA_OUT_OTHER]);
        if (st->correlations)
            va_buf_printf(&b, "; %llu correlation%s", (unsigned long long)st->correlations,
                          st->correlations == 1 ? "" : "s");
        if (st->undecided)
            va_buf_printf(&b, "; %llu undecided: a regular expression hit its match limit",
                          (unsigned long long)st->undecided);
        va_buf_putc(&b, ')');
    }
    va_buf_putc(&b, '\n');
    if (st->first_ns != VA_TIME_NONE) {
        char t1[48], t2[48];
        fmt_short_time(st->first_ns, t1);
        fmt_short_time(st->last_ns, t2);
        va_buf_printf(&b, "Time:   %s .. %s UTC\n", t1, t2);
    }
    if (st->alerts) {
        rules = sum_sorted(&o->rules);
        hosts = sum_sorted(&o->hosts);
        if (!rules || !hosts) {
            b.oom = 1;
        } else {
            sum_list(&b, &o->rules, rules, 1, color);
            if (o->hosts.n || o->hosts.untracked) sum_list(&b, &o->hosts, hosts, 0, color);
        }
    }
    free(rules);
    free(hosts);
    va_err e = VA_OK;
    errno = 0;
    if (b.oom) {
        e = VA_ENOMEM;
    } else if (fwrite(b.p, 1, b.len, f) != b.len || fflush(f)) {
        int saved = errno ? errno : EIO;
        e = VA_EIO;
        va_buf_free(&b);
        errno = saved;
        return e;
    }
    va_buf_free(&b);
    return e;
}

/* ---- JSON lines -------------------------------------------------------------------------- */

static void j_key(va_buf *b, int *nkeys, const char *k) {
    va_buf_putc(b, (*nkeys)++ ? ',' : '{');
    va_buf_putc(b, '"');
    va_buf_puts(b, k);
    va_buf_puts(b, "\":");
}

static void j_str(va_buf *b, int *nkeys, const char *k, const char *v) {
    if (!v) return;
    j_key(b, nkeys, k);
    va_buf_json_str(b, v, strlen(v));
}

static int cmp_field(const void *x, const void *y, void *ud) {
    const va_kv *f = *(const va_kv **)ud;
    uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
    size_t ni, nj;
    const char *a = kv_name(&f[i], &ni), *b = kv_name(&f[j], &nj);
    int c = memcmp(a, b, ni < nj ? ni : nj);
    if (c) return c;
    if (ni != nj) return ni < nj ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Link fields that share a name: next[i] is the following field of the same name or
 * UINT32_MAX, head[i] is 1 for the first of each name.  Sorting keeps this O(n log n) however
 * many fields a rule matches.  NULL if out of memory. */
static uint32_t *group_fields(va_out *o, const va_kv *f, uint32_t n, uint32_t **head) {
    if (n > o->grp_cap) {
        uint32_t *g = realloc(o->grp, 3 * (size_t)n * sizeof *g);
        if (!g) return NULL;
        o->grp = g;
        o->grp_cap = n;
    }
    uint32_t *order = o->grp, *next = o->grp + n, *hd = o->grp + 2 * (size_t)n;
    for (uint32_t i = 0; i < n; i++) order[i] = i, next[i] = UINT32_MAX, hd[i] = 0;
    qsort_r(order, n, sizeof *order, cmp_field, &f);
    for (uint32_t k = 0; k < n; k++) {
        size_t a, b;
        const char *pa = kv_name(&f[order[k]], &a);
        if (k == 0) {
            hd[order[k]] = 1;
            continue;
        }
        const char *pb = kv_name(&f[order[k - 1]], &b);
        if (a == b && !memcmp(pa, pb, a))
            next[order[k - 1]] = order[k];
        else
            hd[order[k]] = 1;
    }
    *head = hd;
    return next;
}

static void j_val(va_buf *b, const va_kv *k) {
    size_t n;
    const char *v = kv_val(k, &n);
    if (k->val)
        va_buf_json_str(b, v, n);
    else
        va_buf_puts(b, "null");
}

static va_err j_fields(va_out *o, va_buf *b, const va_kv *f, uint32_t n) {
    va_buf_puts(b, ",\"fields\":{");
    uint32_t *head = NULL, *next = NULL;
    if (n > 1 && !(next = group_fields(o, f, n, &head))) return fail(o, VA_ENOMEM, 0);
    int first = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (head && !head[i]) continue;
        if (!first) va_buf_putc(b, ',');
        first = 0;
        size_t nl;
        const char *name = kv_name(&f[i], &nl);
        va_buf_json_str(b, name, nl);
        va_buf_putc(b, ':');
        if (!next || next[i] == UINT32_MAX) {
            j_val(b, &f[i]);
            continue;
        }
        va_buf_putc(b, '[');
        for (uint32_t j = i; j != UINT32_MAX; j = next[j]) {
            if (j != i) va_buf_putc(b, ',');
            j_val(b, &f[j]);
        }
        va_buf_putc(b, ']');
    }
    va_buf_putc(b, '}');
    return VA_OK;
}

static va_err jsonl_alert(va_out *o, const va_alert *a) {
    va_buf *b = &o->line;
    va_buf_clear(b);
    int nk = 0;
    char t[48];
    if (a->time_ns != VA_TIME_NONE) {
        size_t tl = va_time_fmt_ns(a->time_ns, 7, t);
        j_key(b, &nk, "time");
        va_buf_json_str(b, t, tl);
    }
    j_str(b, &nk, "rule", a->title);
    j_str(b, &nk, "id", a->id);
    j_str(b, &nk, "level", a->level);
    j_str(b, &nk, "author", a->author);
    j_key(b, &nk, "tags");
    va_buf_putc(b, '[');
    for (uint32_t i = 0, n = 0; a->tags && i < a->ntags; i++) {
        if (!a->tags[i]) continue;
        if (n++) va_buf_putc(b, ',');
        va_buf_json_str(b, a->tags[i], strlen(a->tags[i]));
    }
    va_buf_putc(b, ']');
    j_str(b, &nk, "computer", a->computer);
    j_str(b, &nk, "channel", a->channel);
    if (a->event_id >= 0) {
        j_key(b, &nk, "event_id");
        va_buf_i64(b, a->event_id);
    }
    if (a->record_id) {
        j_key(b, &nk, "record_id");
        va_buf_u64(b, a->record_id);
    }
    j_str(b, &nk, "file", a->file);
    if (a->kind == VA_ALERT_CORRELATION) {
        j_str(b, &nk, "type", "correlation");
        j_key(b, &nk, "count");
        va_buf_u64(b, a->count);
        if (a->first_ns != VA_TIME_NONE) {
            size_t tl = va_time_fmt_ns(a->first_ns, 7, t);
            j_key(b, &nk, "first_time");
            va_buf_json_str(b, t, tl);
        }
    }
    j_str(b, &nk, "undecided", a->undecided);
    va_err e = j_fields(o, b, a->fields, a->fields ? a->nfields : 0);
    if (e) return e;
    va_buf_puts(b, "}\n");
    return write_buf(o, b);
}

/* ---- CSV --------------------------------------------------------------------------------- */

static const char csv_header[] = "time,level,rule,id,computer,channel,event_id,record_id,file,"
                                 "fields,author,tags,type,count,first_time,undecided\r\n";

/* Append s[0..n) as one RFC 4180 cell: valid UTF-8 (invalid bytes and NUL become U+FFFD, which
 * spreadsheet imports do not choke on), quoted when it holds a comma, quote, CR or LF, and
 * prefixed with ' when it starts like a formula (= + - @ TAB CR) so that a spreadsheet shows
 * it as text instead of evaluating attacker-supplied input. */
static void csv_cell(va_buf *b, va_buf *clean, const char *s, size_t n) {
    va_buf_clear(clean);
    const unsigned char *u = (const unsigned char *)s;
    int quote = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c && c < 0x80) {
            quote |= c == ',' || c == '"' || c == '\r' || c == '\n';
            va_buf_putc(clean, (char)c);
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = c ? va_utf8_next(u + i, n - i, &cp) : 1;
        if (k == 1)
            va_buf_put(clean, "\xEF\xBF\xBD", 3);
        else
            va_buf_put(clean, u + i, k);
        i += k;
    }
    const char *p = clean->len ? clean->p : "";
    int guard = clean->len && strchr("=+-@\t\r", p[0]) != NULL;
    if (quote) va_buf_putc(b, '"');
    if (guard) va_buf_putc(b, '\'');
    size_t start = 0;
    for (size_t i = 0; i < clean->len; i++) {
        if (p[i] != '"') continue;
        va_buf_put(b, p + start, i + 1 - start); /* through the quote, then double it */
        va_buf_putc(b, '"');
        start = i + 1;
    }
    va_buf_put(b, p + start, clean->len - start);
    if (quote) va_buf_putc(b, '"');
    if (clean->oom) b->oom = 1;
}

static void csv_str(va_out *o, const char *s) {
    if (s) csv_cell(&o->line, &o->tmp, s, strlen(s));
    va_buf_putc(&o->line, ',');
}

static va_err csv_alert(va_out *o, const va_alert *a) {
    va_buf *b = &o->line, *t2 = &o->tmp2;
    va_buf_clear(b);
    char t[48];
    if (a->time_ns != VA_TIME_NONE) va_buf_put(b, t, va_time_fmt_ns(a->time_ns, 7, t));
    va_buf_putc(b, ',');
    csv_str(o, a->level);
    csv_str(o, a->title);
    csv_str(o, a->id);
    csv_str(o, a->computer);
    csv_str(o, a->channel);
    if (a->event_id >= 0) va_buf_i64(b, a->event_id);
    va_buf_putc(b, ',');
    if (a->record_id) va_buf_u64(b, a->record_id);
    va_buf_putc(b, ',');
    csv_str(o, a->file);
    va_buf_clear(t2);
    for (uint32_t i = 0; a->fields && i < a->nfields; i++) {
        size_t nl, vl;
        const char *name = kv_name(&a->fields[i], &nl), *val = kv_val(&a->fields[i], &vl);
        if (i) va_buf_put(t2, "; ", 2);
        va_buf_put(t2, name, nl);
        va_buf_putc(t2, '=');
        va_buf_put(t2, val, vl);
    }
    if (t2->oom) return fail(o, VA_ENOMEM, 0);
    csv_cell(b, &o->tmp, t2->len ? t2->p : "", t2->len);
    va_buf_putc(b, ',');
    csv_str(o, a->author);
    va_buf_clear(t2);
    for (uint32_t i = 0, n = 0; a->tags && i < a->ntags; i++) {
        if (!a->tags[i]) continue;
        if (n++) va_buf_putc(t2, ' ');
        va_buf_puts(t2, a->tags[i]);
    }
    if (t2->oom) return fail(o, VA_ENOMEM, 0);
    csv_cell(b, &o->tmp, t2->len ? t2->p : "", t2->len);
    va_buf_putc(b, ',');
    int corr = a->kind == VA_ALERT_CORRELATION;
    va_buf_puts(b, corr ? "correlation," : "sigma,");
    if (corr) va_buf_u64(b, a->count);
    va_buf_putc(b, ',');
    if (corr && a->first_ns != VA_TIME_NONE) va_buf_put(b, t, va_time_fmt_ns(a->first_ns, 7, t));
    va_buf_putc(b, ',');
    if (a->undecided) csv_cell(b, &o->tmp, a->undecided, strlen(a->undecided));
    va_buf_puts(b, "\r\n");
    return write_buf(o, b);
}

/* ---- table ------------------------------------------------------------------------------- */

/* Copy s as terminal-safe text into a, reading at most cap bytes of it (an ellipsis marks the
 * cut); *len and *w get its length and width.  NULL if out of memory. */
static const char *tab_text(va_out *o, va_arena *a, const char *s, size_t n, size_t cap,
                            uint32_t *len, uint32_t *w) {
    va_buf *t = &o->tmp;
    va_buf_clear(t);
    size_t k = utf8_floor(s, n, cap);
    size_t cols = va_out_tty_esc(t, s, k);
    if (k < n) va_buf_put(t, ELLIPSIS, 3), cols++;
    if (t->oom) return NULL;
    *len = (uint32_t)t->len;
    *w = (uint32_t)cols;
    return va_arena_strndup(a, t->len ? t->p : "", t->len);
}

/* Details: "name: value" pairs joined by " ¦ ", after "count: N ¦ first: TIME" for a
 * correlation.  Each value and the whole are capped at cap bytes: the line never shows more
 * than the terminal width, and a huge field must not cost memory per kept alert. */
static const char *tab_details(va_out *o, va_arena *a, const va_alert *al, size_t cap,
                               uint32_t *len, uint32_t *w) {
    va_buf *t = &o->tmp2;
    va_buf_clear(t);
    int cut = 0;
    if (al->undecided) {
        va_buf_puts(t, "UNDECIDED (regex limit in ");
        va_out_tty_esc(t, al->undecided, utf8_floor(al->undecided, strlen(al->undecided), cap));
        va_buf_putc(t, ')');
    }
    if (al->kind == VA_ALERT_CORRELATION) {
        if (t->len) va_buf_puts(t, " \xC2\xA6 ");
        va_buf_printf(t, "count: %llu", (unsigned long long)al->count);
        if (al->first_ns != VA_TIME_NONE) {
            char ts[48];
            fmt_short_time(al->first_ns, ts);
            va_buf_printf(t, " \xC2\xA6 first: %s", ts);
        }
    }
    for (uint32_t i = 0; al->fields && i < al->nfields && !cut; i++) {
        size_t nl, vl;
        const char *name = kv_name(&al->fields[i], &nl), *val = kv_val(&al->fields[i], &vl);
        if (t->len) va_buf_puts(t, " \xC2\xA6 ");
        size_t k = utf8_floor(name, nl, cap);
        va_out_tty_esc(t, name, k);
        va_buf_put(t, ": ", 2);
        size_t kv = utf8_floor(val, vl, cap);
        va_out_tty_esc(t, val, kv);
        cut = k < nl || kv < vl || t->len > cap;
    }
    if (cut) {
        /* The text is valid UTF-8 now, so backing up over continuation bytes finds a start. */
        size_t k = t->len < cap ? t->len : cap;
        while (k > 0 && ((unsigned char)t->p[k] & 0xC0) == 0x80) k--;
        t->len = k;
        va_buf_put(t, ELLIPSIS, 3);
    }
    if (t->oom) return NULL;
    *len = (uint32_t)t->len;
    *w = (uint32_t)va_out_tty_width(t->len ? t->p : "", t->len);
    return va_arena_strndup(a, t->len ? t->p : "", t->len);
}

static trow *make_row(va_out *o, va_arena *ar, const va_alert *a) {
    trow *r = va_arena_alloc(ar, sizeof *r);
    if (!r) return NULL;
    r->t = a->time_ns;
    r->eid = a->event_id;
    r->seq = o->seq;
    r->rank = va_out_level_rank(a->level);
    static const char *const short_level[] = {"info", "low", "medium", "high", "critical"};
    const char *lv = r->rank >= 0 ? short_level[r->rank] : a->level ? a->level : "-";
    const char *comp = a->computer ? a->computer : "-";
    const char *rule = a->title ? a->title : a->id ? a->id : "-";
    size_t dcap = (size_t)o->width * 4 + 16;
    if (!(r->level = tab_text(o, ar, lv, strlen(lv), 64, &r->levlen, &r->levw)) ||
        !(r->comp = tab_text(o, ar, comp, strlen(comp), TAB_CELL_CAP, &r->complen, &r->compw)) ||
        !(r->rule = tab_text(o, ar, rule, strlen(rule), TAB_CELL_CAP, &r->rulelen, &r->rulew)) ||
        !(r->det = tab_details(o, ar, a, dcap, &r->detlen, &r->detw)))
        return NULL;
    return r;
}

typedef struct tcell {
    const char *s;
    size_t n, w;
    const char *sgr;
    size_t colw; /* 0: as wide as its text (the last column) */
    int right;   /* right-aligned */
} tcell;

typedef struct tline {
    va_buf *b;
    int color, full;
    size_t room; /* columns left before the cut */
} tline;

/* Append one piece of the line; when it does not fit, as much as fits and an ellipsis. */
static void piece(tline *L, const char *s, size_t n, size_t w, const char *sgr) {
    if (L->full || !n) return;
    int c = L->color && sgr;
    if (w <= L->room) {
        if (c) va_buf_puts(L->b, sgr);
        va_buf_put(L->b, s, n);
        if (c) va_buf_puts(L->b, SGR_RESET);
        L->room -= w;
        return;
    }
    if (L->room) {
        if (c) va_buf_puts(L->b, sgr);
        va_out_tty_cut(L->b, s, n, L->room);
        if (c) va_buf_puts(L->b, SGR_RESET);
    }
    va_buf_put(L->b, ELLIPSIS, 3);
    L->full = 1;
}

/* Print one line of cells: fixed columns fitted to their width, the last as wide as it is, and
 * the whole cut at the table width; trailing empty cells are dropped. */
static va_err emit_cells(va_out *o, tcell *c, size_t nc) {
    va_buf *t = &o->tmp, *b = &o->line;
    va_buf_clear(t);
    va_buf_clear(b);
    size_t off[8];
    for (size_t i = 0; i < nc; i++) {
        off[i] = t->len;
        if (c[i].colw)
            c[i].w = va_out_tty_fit(t, c[i].s, c[i].n, c[i].colw, 0);
        else
            va_buf_put(t, c[i].s, c[i].n);
        c[i].n = t->len - off[i];
    }
    if (t->oom) return fail(o, VA_ENOMEM, 0);
    for (size_t i = 0; i < nc; i++) c[i].s = t->p + off[i];
    while (nc > 1 && c[nc - 1].n == 0) nc--;
    size_t total = 0;
    for (size_t i = 0; i < nc; i++) total += i + 1 < nc ? c[i].colw + TAB_SEP : c[i].w;
    tline L = {b, o->opt.color, 0, total <= o->width ? total : o->width - 1};
    for (size_t i = 0; i < nc; i++) {
        size_t padw = c[i].colw > c[i].w ? c[i].colw - c[i].w : 0;
        int last = i + 1 == nc;
        if (c[i].right && !last) piece(&L, spaces64, padw, padw, NULL);
        piece(&L, c[i].s, c[i].n, c[i].w, c[i].sgr);
        if (last) break;
        if (!c[i].right) piece(&L, spaces64, padw, padw, NULL);
        piece(&L, spaces64, TAB_SEP, TAB_SEP, NULL);
    }
    va_buf_putc(b, '\n');
    return write_buf(o, b);
}

static va_err emit_header(va_out *o) {
    o->header_done = 1;
    tcell c[6] = {
        {"TIME", 4, 4, SGR_BOLD, TAB_W_TIME, 0},    {"LEVEL", 5, 5, SGR_BOLD, TAB_W_LEVEL, 0},
        {"COMPUTER", 8, 8, SGR_BOLD, o->w_comp, 0}, {"EID", 3, 3, SGR_BOLD, o->w_eid, 1},
        {"RULE", 4, 4, SGR_BOLD, o->w_rule, 0},     {"DETAILS", 7, 7, SGR_BOLD, 0, 0},
    };
    return emit_cells(o, c, 6);
}

static va_err emit_row(va_out *o, const trow *r) {
    if (!o->header_done) {
        va_err e = emit_header(o);
        if (e) return e;
    }
    char ts[48], eid[24];
    size_t tl = fmt_short_time(r->t, ts);
    size_t el = r->eid >= 0 ? (size_t)snprintf(eid, sizeof eid, "%lld", (long long)r->eid) : 1;
    if (r->eid < 0) memcpy(eid, "-", 2);
    tcell c[6] = {
        {ts, tl, tl, NULL, TAB_W_TIME, 0},
        {r->level, r->levlen, r->levw, level_sgr(r->rank), TAB_W_LEVEL, 0},
        {r->comp, r->complen, r->compw, NULL, o->w_comp, 0},
        {eid, el, el, NULL, o->w_eid, 1},
        {r->rule, r->rulelen, r->rulew, NULL, o->w_rule, 0},
        {r->det, r->detlen, r->detw, NULL, 0, 0},
    };
    return emit_cells(o, c, 6);
}

static size_t clampz(size_t v, size_t lo, size_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static int cmp_row(const void *x, const void *y) {
    const trow *a = *(const trow *const *)x, *b = *(const trow *const *)y;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Print the kept rows in time order and let them go.  Column widths come from these rows and
 * stay for anything streamed after them. */
static va_err flush_sorted(va_out *o) {
    size_t wc = 0, we = 0, wr = 0;
    for (size_t i = 0; i < o->nrows; i++) {
        const trow *r = o->rows[i];
        if (r->compw > wc) wc = r->compw;
        if (r->rulew > wr) wr = r->rulew;
        size_t d = r->eid >= 0 ? digits_u64((uint64_t)r->eid) : 1;
        if (d > we) we = d;
    }
    o->w_comp = clampz(wc, 8, 32);
    o->w_eid = clampz(we, 3, 20);
    o->w_rule = clampz(wr, 4, 48);
    if (o->nrows) qsort(o->rows, o->nrows, sizeof *o->rows, cmp_row);
    va_err e = VA_OK;
    for (size_t i = 0; i < o->nrows && !e; i++) e = emit_row(o, o->rows[i]);
    free(o->rows);
    o->rows = NULL;
    o->nrows = o->rows_cap = 0;
    va_arena_free(&o->rows_arena);
    return e;
}

/* Switch from sorting to streaming: print what is kept and a line that says why the rest is
 * not sorted. */
static va_err start_streaming(va_out *o, int oom) {
    size_t kept = o->nrows;
    o->streaming = 1;
    va_err e = flush_sorted(o);
    if (e) return e;
    va_buf *b = &o->tmp2;
    va_buf_clear(b);
    va_buf_printf(b,
                  "-- the %zu alerts above are sorted by time; %s: the rest follow in arrival "
                  "order --",
                  kept, oom ? "out of memory for sorting" : "sort limit reached");
    va_buf *l = &o->line;
    va_buf_clear(l);
    put_sgr(l, o->opt.color, SGR_DIM);
    va_out_tty_fit(l, b->p ? b->p : "", b->len, o->width, 0);
    put_sgr(l, o->opt.color, SGR_RESET);
    va_buf_putc(l, '\n');
    if (b->oom) l->oom = 1;
    return write_buf(o, l);
}

static va_err table_alert(va_out *o, const va_alert *a) {
    if (!o->streaming) {
        if (o->nrows < o->max_sorted) {
            trow *r = !VA_ARRAY_GROW(o->rows, o->rows_cap, o->nrows + 1)
                          ? make_row(o, &o->rows_arena, a)
                          : NULL;
            if (r) {
                o->rows[o->nrows++] = r;
                return VA_OK;
            }
            va_err e = start_streaming(o, 1);
            if (e) return e;
        } else {
            va_err e = start_streaming(o, 0);
            if (e) return e;
        }
    }
    va_arena_reset(&o->row_tmp);
    trow *r = make_row(o, &o->row_tmp, a);
    if (!r) return fail(o, VA_ENOMEM, 0);
    return emit_row(o, r);
}

/* ---- the sink ---------------------------------------------------------------------------- */

static void destroy(va_out *o);

static unsigned term_width(FILE *f) {
    int fd = fileno(f);
    struct winsize ws;
    if (fd >= 0 && isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return VA_OUT_DEFAULT_WIDTH;
}

va_err va_out_open(const va_out_opts *opt, FILE *f, va_out **out) {
    if (out) *out = NULL;
    if (!opt || !f || !out ||
        (opt->fmt != VA_OUT_JSONL && opt->fmt != VA_OUT_CSV && opt->fmt != VA_OUT_TABLE))
        return VA_EUSAGE;
    va_out *o = calloc(1, sizeof *o);
    if (!o) return VA_ENOMEM;
    o->opt = *opt;
    o->f = f;
    o->st.first_ns = o->st.last_ns = VA_TIME_NONE;
    va_buf_init(&o->line);
    va_buf_init(&o->tmp);
    va_buf_init(&o->tmp2);
    va_arena_init(&o->sum_arena, 64 * 1024);
    va_arena_init(&o->rows_arena, 1 << 20);
    va_arena_init(&o->row_tmp, 16 * 1024);
    unsigned w = opt->width ? opt->width : term_width(f);
    o->width = (unsigned)clampz(w, TAB_MIN_WIDTH, TAB_MAX_WIDTH);
    o->max_sorted = opt->max_sorted ? opt->max_sorted : VA_OUT_DEFAULT_MAX_SORTED;
    /* Scratch buffers always hold memory, so pointers into them are never NULL. */
    if (va_buf_reserve(&o->line, 1024) || va_buf_reserve(&o->tmp, 1024) ||
        va_buf_reserve(&o->tmp2, 1024)) {
        destroy(o);
        return VA_ENOMEM;
    }
    if (opt->fmt == VA_OUT_CSV) {
        va_buf_clear(&o->line);
        va_buf_puts(&o->line, csv_header);
        va_err e = write_buf(o, &o->line);
        if (e) {
            int saved = errno;
            destroy(o);
            errno = saved;
            return e;
        }
    }
    *out = o;
    return VA_OK;
}

va_err va_out_alert(va_out *o, const va_alert *a) {
    if (!o || !a) return VA_EUSAGE;
    if (o->err) return sticky(o);
    va_err e = count_alert(o, a);
    if (!e) {
        switch (o->opt.fmt) {
        case VA_OUT_JSONL:
            e = jsonl_alert(o, a);
            break;
        case VA_OUT_CSV:
            e = csv_alert(o, a);
            break;
        case VA_OUT_TABLE:
            e = table_alert(o, a);
            break;
        }
    }
    o->seq++;
    return e ? sticky(o) : VA_OK;
}

static void destroy(va_out *o) {
    free(o->rows);
    free(o->grp);
    free(o->rules.v);
    free(o->hosts.v);
    va_hash_free(&o->rules.h);
    va_hash_free(&o->hosts.h);
    va_arena_free(&o->rows_arena);
    va_arena_free(&o->row_tmp);
    va_arena_free(&o->sum_arena);
    va_buf_free(&o->line);
    va_buf_free(&o->tmp);
    va_buf_free(&o->tmp2);
    free(o);
}

va_err va_out_close(va_out *o) {
    if (!o) return VA_OK;
    if (o->opt.fmt == VA_OUT_TABLE && !o->err && o->nrows) flush_sorted(o);
    errno = 0;
    if ((fflush(o->f) || ferror(o->f)) && !o->err) fail(o, VA_EIO, errno ? errno : EIO);
    va_err e = o->err;
    int saved = o->err_errno;
    destroy(o);
    if (e == VA_EIO) errno = saved;
    return e;
}
