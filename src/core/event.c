/*
 * event.c - flat event construction, lookup and JSON serialisation (see event.h).
 */
#include "core/event.h"

#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/vtime.h"

void va_event_init(va_event *ev, va_arena *a) {
    memset(ev, 0, sizeof *ev);
    ev->arena = a;
    ev->time_ns = VA_TIME_NONE;
    ev->event_id = -1;
    ev->src.unit = ev->src.offset = -1;
}

/* Fields live in the event's arena, which cannot realloc: VA_ARRAY_GROW does not apply. */
int va_event_grow_(va_event *ev) {
    if (ev->cap > UINT32_MAX / 2) return -1;
    uint32_t cap = ev->cap ? ev->cap * 2 : 32;
    va_field *f = va_arena_alloc(ev->arena, cap * sizeof *f);
    if (!f) return -1;
    if (ev->n) memcpy(f, ev->f, ev->n * sizeof *f);
    ev->f = f, ev->cap = cap;
    return 0;
}

va_err va_event_add(va_event *ev, const char *name, size_t nlen, const char *val, size_t vlen,
                    va_vtype t) {
    if (nlen > UINT32_MAX || vlen > UINT32_MAX) return VA_ELIMIT;
    va_field *f = va_event_push(ev);
    if (!f) return VA_ENOMEM;
    f->name = name, f->nlen = (uint32_t)nlen;
    f->val = val ? val : "", f->vlen = val ? (uint32_t)vlen : 0;
    f->type = (uint8_t)t;
    f->flags = 0;
    return VA_OK;
}

va_err va_event_add_copy(va_event *ev, const char *name, size_t nlen, const char *val, size_t vlen,
                         va_vtype t) {
    char *n = va_arena_strndup(ev->arena, name, nlen);
    char *v = va_arena_strndup(ev->arena, val ? val : "", val ? vlen : 0);
    if (!n || !v) return VA_ENOMEM;
    return va_event_add(ev, n, nlen, v, val ? vlen : 0, t);
}

const va_field *va_event_get(const va_event *ev, const char *name) {
    size_t l = strlen(name);
    for (uint32_t i = 0; i < ev->n; i++)
        if (ev->f[i].nlen == l && memcmp(ev->f[i].name, name, l) == 0) return &ev->f[i];
    return NULL;
}

static int parse_i64(const char *s, size_t n, int64_t *out) {
    if (!n) return -1;
    int neg = 0;
    size_t i = 0;
    if (s[0] == '-') neg = 1, i = 1;
    if (i == n) return -1;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > INT64_MAX) return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* One field's part in the event's facts (see va_event_finish). */
static inline void finish_one(va_event *ev, const va_field *f) {
    int64_t v;
    switch (f->nlen) {
    case 7:
        if (!ev->channel && !memcmp(f->name, "Channel", 7)) ev->channel = f;
        if (ev->event_id < 0 && !memcmp(f->name, "EventID", 7) && !parse_i64(f->val, f->vlen, &v))
            ev->event_id = v;
        break;
    case 8:
        if (!ev->computer && !memcmp(f->name, "Computer", 8)) ev->computer = f;
        break;
    case 11:
        if (ev->time_ns == VA_TIME_NONE && !memcmp(f->name, "TimeCreated", 11)) {
            int64_t t;
            if (!va_time_parse_iso(f->val, f->vlen, &t)) ev->time_ns = t;
        }
        break;
    case 13:
        if (!ev->provider && !memcmp(f->name, "Provider_Name", 13)) ev->provider = f;
        if (!ev->record_id && !memcmp(f->name, "EventRecordID", 13) &&
            !parse_i64(f->val, f->vlen, &v) && v > 0)
            ev->record_id = (uint64_t)v;
        break;
    default:
        break;
    }
}

void va_event_finish(va_event *ev) {
    for (uint32_t i = 0; i < ev->n; i++) finish_one(ev, &ev->f[i]);
}

int va_event_fact_name(const char *name, size_t len) {
    switch (len) { /* the names finish_one reads */
    case 7:
        return !memcmp(name, "Channel", 7) || !memcmp(name, "EventID", 7);
    case 8:
        return !memcmp(name, "Computer", 8);
    case 11:
        return !memcmp(name, "TimeCreated", 11);
    case 13:
        return !memcmp(name, "Provider_Name", 13) || !memcmp(name, "EventRecordID", 13);
    default:
        return 0;
    }
}

void va_event_finish_only(va_event *ev, const uint32_t *idx, uint32_t n) {
    for (uint32_t k = 0; k < n; k++)
        if (idx[k] < ev->n) finish_one(ev, &ev->f[idx[k]]);
}

/* s[0..n) in quotes, for text known to need no escaping. */
static inline void json_plain(va_buf *out, const char *s, size_t n) {
    if (out->len + n + 3 > out->cap && va_buf_reserve(out, n + 2)) return;
    char *o = out->p + out->len;
    o[0] = '"';
    memcpy(o + 1, s, n);
    o[n + 1] = '"';
    out->len += n + 2;
    out->p[out->len] = 0;
}

static inline void json_val(va_buf *out, const char *val, size_t vlen, va_vtype t, int plain) {
    switch (t) {
    case VA_V_NULL:
        va_buf_puts(out, "null");
        return;
    case VA_V_INT:
    case VA_V_UINT:
    case VA_V_REAL:
    case VA_V_BOOL:
        /* Emit as a bare JSON token only if it is one (NaN/Inf reals are not). */
        if (vlen && (t != VA_V_REAL || (val[0] != 'n' && val[0] != 'i' && val[vlen - 1] != 'f'))) {
            va_buf_put(out, val, vlen);
            return;
        }
        break;
    default:
        break;
    }
    if (plain)
        json_plain(out, val, vlen);
    else
        va_buf_json_str_valid(out, val, vlen);
}

void va_json_value(va_buf *out, const char *val, size_t vlen, va_vtype t, int plain) {
    json_val(out, val, vlen, t, plain);
}

static inline void json_value(const va_field *f, va_buf *out) {
    json_val(out, f->val, f->vlen, (va_vtype)f->type, f->flags & VA_FIELD_VAL_PLAIN);
}

static inline void json_key(va_buf *out, const char *name, size_t nlen, int plain) {
    if (plain) {
        if (out->len + nlen + 4 > out->cap && va_buf_reserve(out, nlen + 3)) return;
        char *o = out->p + out->len;
        o[0] = '"';
        memcpy(o + 1, name, nlen);
        o[nlen + 1] = '"', o[nlen + 2] = ':';
        out->len += nlen + 3;
        out->p[out->len] = 0;
        return;
    }
    va_buf_json_str_valid(out, name, nlen);
    va_buf_putc(out, ':');
}

void va_json_key(va_buf *out, const char *name, size_t nlen, int plain) {
    json_key(out, name, nlen, plain);
}

static int same_name(const va_field *a, const va_field *b) {
    return a->nlen == b->nlen && memcmp(a->name, b->name, a->nlen) == 0;
}

/* Hash of a field name from its length and its first and last (up to) eight bytes: O(1) per
 * name, and names differing elsewhere only cost an exact comparison. */
static inline uint32_t quick_hash(const va_field *f) {
    uint64_t a = 0, b = 0;
    size_t k = f->nlen < 8 ? f->nlen : 8;
    memcpy(&a, f->name, k);
    memcpy(&b, f->name + f->nlen - k, k);
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ f->nlen;
    return (uint32_t)(h ^ h >> 29);
}

/* Does any name occur twice?  Nearly every event answers no, so this is the one test every
 * event pays: a private table on the stack, for up to 128 fields.  Measured against doing it
 * with core/hash.h (va_hash_mem or the quick key mixed by va_hash_u64, va_hash_insert):
 * `vaern evtx dump` over the 40 largest shared files took 924 M instructions this way, 971-974 M
 * that way (callgrind), 5% of the whole run for this one question.  Events that do repeat a
 * name (or are larger) go on to link_names, which uses core/hash.h. */
static int has_dup_names(const va_event *ev) {
    enum { MAXCAP = 256 };
    if (ev->n > MAXCAP / 2) return 1;
    uint32_t cap = 16;
    while (cap < 2 * ev->n) cap *= 2;
    uint32_t hash[MAXCAP];
    uint8_t slot[MAXCAP]; /* field index + 1; 0 = empty (n <= MAXCAP / 2 fits) */
    memset(slot, 0, cap);
    for (uint32_t i = 0; i < ev->n; i++) {
        uint32_t h = quick_hash(&ev->f[i]), j = h & (cap - 1);
        while (slot[j]) {
            if (hash[j] == h && same_name(&ev->f[slot[j] - 1], &ev->f[i])) return 1;
            j = (j + 1) & (cap - 1);
        }
        slot[j] = (uint8_t)(i + 1), hash[j] = h;
    }
    return 0;
}

#define NONE   UINT32_MAX
#define LATER  (UINT32_MAX - 1) /* link[2i+1] of a field whose name came before */
#define SHRINK 1024             /* table slots kept at most between events of usual size */

/* Link each field to the next one of the same name (link[2i]); for a first occurrence,
 * link[2i+1] is the last one so far, otherwise LATER.  Returns 1 if some name repeats, 0 if
 * none does, -1 out of memory. */
static int link_names(const va_event *ev, va_json_scratch *s) {
    /* A table grown by one huge event would make every later clear as costly: start over. */
    if (s->names.mask >= SHRINK && ev->n < SHRINK / 4) va_hash_free(&s->names);
    va_hash_clear(&s->names);
    if (va_hash_reserve(&s->names, ev->n) || VA_ARRAY_GROW(s->link, s->cap, 2 * (size_t)ev->n))
        return -1;
    int dup = 0;
    for (uint32_t i = 0; i < ev->n; i++) {
        const va_field *f = &ev->f[i];
        uint64_t h = va_hash_mem(f->name, f->nlen, 0);
        va_hash_iter it;
        uint32_t k = va_hash_first(&s->names, h, &it);
        while (k != VA_HASH_END && !same_name(&ev->f[k], f)) k = va_hash_next(&s->names, &it);
        s->link[2 * i] = NONE;
        if (k == VA_HASH_END) {
            va_hash_insert(&s->names, h, i); /* room was reserved */
            s->link[2 * i + 1] = i;
            continue;
        }
        s->link[2 * s->link[2 * k + 1]] = i;
        s->link[2 * k + 1] = i;
        s->link[2 * i + 1] = LATER;
        dup = 1;
    }
    return dup;
}

static inline void json_name(const va_field *f, va_buf *out, int first) {
    if (!first) va_buf_putc(out, ',');
    json_key(out, f->name, f->nlen, f->flags & VA_FIELD_NAME_PLAIN);
}

void va_event_json_with(const va_event *ev, va_buf *out, va_json_scratch *s) {
    int known = ev->names_distinct && ev->names_distinct == ev->n;
    int dup = !known && has_dup_names(ev) ? link_names(ev, s) : 0, first = 1;
    va_buf_putc(out, '{');
    for (uint32_t i = 0; i < ev->n; i++) {
        const va_field *f = &ev->f[i];
        if (dup < 0) {
            /* No memory for the table: look back and ahead instead (quadratic, still exact). */
            uint32_t j, more = 0;
            for (j = 0; j < i && !same_name(&ev->f[j], f); j++) {}
            if (j < i) continue; /* already written with its first occurrence */
            for (j = i + 1; j < ev->n; j++) more += same_name(&ev->f[j], f);
            json_name(f, out, first);
            first = 0;
            if (!more) {
                json_value(f, out);
                continue;
            }
            va_buf_putc(out, '[');
            json_value(f, out);
            for (j = i + 1; j < ev->n; j++) {
                if (!same_name(&ev->f[j], f)) continue;
                va_buf_putc(out, ',');
                json_value(&ev->f[j], out);
            }
            va_buf_putc(out, ']');
            continue;
        }
        if (dup && s->link[2 * i + 1] == LATER) continue; /* written with its first occurrence */
        json_name(f, out, first);
        first = 0;
        if (!dup || s->link[2 * i] == NONE) {
            json_value(f, out);
            continue;
        }
        va_buf_putc(out, '[');
        json_value(f, out);
        for (uint32_t j = s->link[2 * i]; j != NONE; j = s->link[2 * j]) {
            va_buf_putc(out, ',');
            json_value(&ev->f[j], out);
        }
        va_buf_putc(out, ']');
    }
    va_buf_putc(out, '}');
}

int va_event_names_repeat(const va_event *ev, va_json_scratch *s) {
    return has_dup_names(ev) ? link_names(ev, s) != 0 : 0;
}

void va_event_json(const va_event *ev, va_buf *out) {
    va_json_scratch s = {0};
    va_event_json_with(ev, out, &s);
    va_json_scratch_free(&s);
}

void va_json_scratch_free(va_json_scratch *s) {
    va_hash_free(&s->names);
    free(s->link);
    s->link = NULL, s->cap = 0;
}
