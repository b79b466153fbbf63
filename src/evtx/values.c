/*
 * values.c - binary XML value types to text.
 *
 * One formatter serves both renderings: the XML style follows libevtx's evtxexport so the
 * two can be compared field by field; the event style differs only where evtxexport pads
 * (FILETIME gets the 7 digits it really has).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/utf.h"
#include "core/vtime.h"
#include "evtx/evtx_int.h"

/* Windows-1252 code points for 0x80..0x9f (0 where undefined: kept as the C1 control). */
static const uint16_t cp1252[32] = {0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
                                    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

static void put_utf16(va_buf *out, const uint8_t *p, uint32_t nunits, int *esc) {
    /* Text ends at the first NUL, as Windows renders it. */
    unsigned found = 0;
    va_utf16le_buf_ex(out, p, nunits, VA_UTF16_STOP_NUL, &found);
    if (found & VA_UTF16_JSON_ESC) *esc = 1;
}

/* An ANSI string (code page 1252) up to its NUL, as UTF-8: at most 3 bytes for each (its code
 * points are in the BMP), room made once; ASCII 16 bytes a step with SSE2. */
static void put_ansi(va_buf *out, const uint8_t *p, uint32_t n, int *esc) {
    if (out->len + (size_t)n * 3 + 1 > out->cap && va_buf_reserve(out, (size_t)n * 3)) return;
    char *o = out->p + out->len;
    uint32_t i = 0;
    while (i < n) {
#if defined(__SSE2__)
        const __m128i zero = _mm_setzero_si128(), sp = _mm_set1_epi8(0x20);
        while (i + 16 <= n) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            /* a byte from 0x80 or a NUL: one at a time below */
            if (_mm_movemask_epi8(_mm_or_si128(x, _mm_cmpeq_epi8(x, zero)))) break;
            __m128i special = _mm_or_si128(_mm_cmplt_epi8(x, sp),
                                           _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                                        _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
            if (_mm_movemask_epi8(special)) *esc = 1;
            _mm_storeu_si128((__m128i *)(void *)o, x);
            o += 16, i += 16;
        }
#endif
        uint32_t stop = i + 16 < n ? i + 16 : n;
        for (; i < stop; i++) {
            uint32_t cp = p[i];
            if (!cp) {
                n = i; /* the string ends here */
                break;
            }
            if (cp < 0x20 || cp == '"' || cp == '\\') *esc = 1;
            if (cp >= 0x80 && cp < 0xa0 && cp1252[cp - 0x80]) cp = cp1252[cp - 0x80];
            o += va_utf8_enc(cp, o);
        }
    }
    out->len = (size_t)(o - out->p);
    out->p[out->len] = 0;
}

/* Fixed-width hex without printf: these run for most fields of most records. */
static char *hex_fixed(char *o, uint64_t v, int digits, const char *digs) {
#if defined(__SSE2__)
    /* All sixteen nibbles at once: spread to bytes, most significant first, and mapped to
     * digits by one compare (a..f or A..F is '0' + n + 39 or + 7). */
    uint64_t be = __builtin_bswap64(digits < 16 ? v << (64 - 4 * digits) : v);
    const __m128i low = _mm_set1_epi8(0x0F);
    __m128i x = _mm_cvtsi64_si128((long long)be);
    __m128i n = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(x, 4), low), _mm_and_si128(x, low));
    __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)),
                                    _mm_set1_epi8((char)(digs[10] == 'a' ? 39 : 7)));
    char t[16];
    _mm_storeu_si128((__m128i *)(void *)t,
                     _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8('0')), letters));
    memcpy(o, t, (size_t)digits);
#else
    for (int i = digits - 1; i >= 0; i--, v >>= 4) o[i] = digs[v & 15];
#endif
    return o + digits;
}

static const char HEX_UP[] = "0123456789ABCDEF";
static const char HEX_LO[] = "0123456789abcdef";

/* XML style pads to the type's width as evtxexport does; the event keeps Windows' own form
 * ("0x3e7"), which is what Sigma rules and other exports write. */
static void put_hexnum(va_buf *out, uint64_t v, int digits, int xml) {
    char tmp[20] = {'0', 'x'};
    if (!xml) digits = v ? (67 - __builtin_clzll(v)) / 4 : 1;
    char *e = hex_fixed(tmp + 2, v, digits, HEX_LO);
    va_buf_put(out, tmp, (size_t)(e - tmp));
}

static void put_guid(va_buf *out, const uint8_t *g) {
    char t[38], *o = t;
    *o++ = '{';
    o = hex_fixed(o, bx_rd32(g), 8, HEX_UP);
    *o++ = '-';
    o = hex_fixed(o, bx_rd16(g + 4), 4, HEX_UP);
    *o++ = '-';
    o = hex_fixed(o, bx_rd16(g + 6), 4, HEX_UP);
    *o++ = '-';
    for (int i = 8; i < 16; i++) {
        if (i == 10) *o++ = '-';
        o = hex_fixed(o, g[i], 2, HEX_UP);
    }
    *o++ = '}';
    va_buf_put(out, t, (size_t)(o - t));
}

/* SID: revision, count, 48-bit big-endian authority, count x u32 sub-authorities. */
static uint32_t put_sid(va_buf *out, const uint8_t *p, uint32_t size) {
    if (size < 8) return 0;
    uint32_t cnt = p[1];
    uint32_t need = 8 + 4 * cnt;
    if (need > size) return 0;
    uint64_t auth = 0;
    for (int i = 2; i < 8; i++) auth = auth << 8 | p[i];
    va_buf_put(out, "S-", 2);
    va_buf_u64(out, p[0]);
    va_buf_putc(out, '-');
    va_buf_u64(out, auth);
    for (uint32_t i = 0; i < cnt; i++) {
        va_buf_putc(out, '-');
        va_buf_u64(out, bx_rd32(p + 8 + 4 * i));
    }
    return need;
}

static void put_hex(va_buf *out, const uint8_t *p, uint32_t n) {
    if (va_buf_reserve(out, 2 * (size_t)n)) return;
    for (uint32_t i = 0; i < n; i++) {
        out->p[out->len++] = HEX_UP[p[i] >> 4];
        out->p[out->len++] = HEX_UP[p[i] & 15];
    }
    out->p[out->len] = 0;
}

/* XML style: Windows' "%e" with a three-digit exponent, as evtxexport prints it.  Event
 * style: the shortest text that reads back as the same number (float32: as a float). */
static void put_real(va_buf *out, double d, int is_float, int xml) {
    if (isnan(d)) {
        va_buf_puts(out, "nan");
        return;
    }
    if (isinf(d)) {
        va_buf_puts(out, d < 0 ? "-inf" : "inf");
        return;
    }
    char tmp[40];
    if (xml) {
        int n = snprintf(tmp, sizeof tmp, "%.6e", d);
        char *e = strchr(tmp, 'e');
        if (n > 0 && e && strlen(e + 2) == 2) {
            /* e+03 -> e+003 */
            memmove(e + 3, e + 2, 3);
            e[2] = '0';
        }
        va_buf_puts(out, tmp);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        double back = strtod(tmp, NULL);
        if (is_float ? (float)back == (float)d : back == d) break;
    }
    va_buf_puts(out, tmp);
}

/* One scalar of type t (size sz) at p; returns the vaern type. */
static va_vtype put_scalar(va_buf *out, uint8_t t, const uint8_t *p, uint32_t sz, int xml) {
    char tmp[48];
    switch (t) {
    case BX_T_INT8:
        va_buf_i64(out, (int8_t)p[0]);
        return VA_V_INT;
    case BX_T_UINT8:
        va_buf_u64(out, p[0]);
        return VA_V_UINT;
    case BX_T_INT16:
        va_buf_i64(out, (int16_t)bx_rd16(p));
        return VA_V_INT;
    case BX_T_UINT16:
        va_buf_u64(out, bx_rd16(p));
        return VA_V_UINT;
    case BX_T_INT32:
        va_buf_i64(out, (int32_t)bx_rd32(p));
        return VA_V_INT;
    case BX_T_UINT32:
        va_buf_u64(out, bx_rd32(p));
        return VA_V_UINT;
    case BX_T_INT64:
        va_buf_i64(out, (int64_t)bx_rd64(p));
        return VA_V_INT;
    case BX_T_UINT64:
        va_buf_u64(out, bx_rd64(p));
        return VA_V_UINT;
    case BX_T_REAL32: {
        float f;
        memcpy(&f, p, 4);
        put_real(out, f, 1, xml);
        return VA_V_REAL;
    }
    case BX_T_REAL64: {
        double d;
        memcpy(&d, p, 8);
        put_real(out, d, 0, xml);
        return VA_V_REAL;
    }
    case BX_T_BOOL:
        va_buf_puts(out, bx_rd32(p) ? "true" : "false");
        return VA_V_BOOL;
    case BX_T_GUID:
        put_guid(out, p);
        return VA_V_STR;
    case BX_T_SIZET: /* a count, printed in decimal as evtxexport does */
        va_buf_u64(out, sz == 4 ? bx_rd32(p) : bx_rd64(p));
        return VA_V_UINT;
    case BX_T_FILETIME:
        va_buf_put(out, tmp, va_time_fmt_filetime(bx_rd64(p), xml ? 9 : 7, tmp));
        return VA_V_STR;
    case BX_T_SYSTIME: {
        /* year, month, weekday, day, hour, minute, second, milliseconds */
        va_buf_printf(out, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", bx_rd16(p), bx_rd16(p + 2),
                      bx_rd16(p + 6), bx_rd16(p + 8), bx_rd16(p + 10), bx_rd16(p + 12),
                      bx_rd16(p + 14));
        return VA_V_STR;
    }
    case BX_T_HEX32:
        put_hexnum(out, bx_rd32(p), 8, xml);
        return VA_V_STR;
    case BX_T_HEX64:
        put_hexnum(out, bx_rd64(p), 16, xml);
        return VA_V_STR;
    default:
        return VA_V_NULL;
    }
}

va_vtype bx_val_fmt(const bx_val *v, int xml, va_buf *out, int *esc) {
    uint8_t t = v->type;
    const uint8_t *p = v->p;
    uint32_t sz = v->size;
    /* The unsigned integers most fields are, first and without the general dispatch (the same
     * text as put_scalar gives them). */
    switch (t) {
    case BX_T_UINT8:
        if (sz < 1) break;
        va_buf_u64(out, p[0]);
        return VA_V_UINT;
    case BX_T_UINT16:
        if (sz < 2) break;
        va_buf_u64(out, bx_rd16(p));
        return VA_V_UINT;
    case BX_T_UINT32:
        if (sz < 4) break;
        va_buf_u64(out, bx_rd32(p));
        return VA_V_UINT;
    case BX_T_UINT64:
        if (sz < 8) break;
        va_buf_u64(out, bx_rd64(p));
        return VA_V_UINT;
    default:
        break;
    }
    switch (t) {
    case BX_T_NULL:
        return VA_V_NULL;
    case BX_T_UTF8:
        va_buf_put(out, p, sz);
        if (v->esc) *esc = 1;
        return VA_V_STR;
    case BX_T_STRING:
        put_utf16(out, p, sz / 2, esc);
        return VA_V_STR;
    case BX_T_ANSI:
        put_ansi(out, p, sz, esc);
        return VA_V_STR;
    case BX_T_BINARY:
        put_hex(out, p, sz);
        return VA_V_STR;
    case BX_T_SID:
        if (!put_sid(out, p, sz)) put_hex(out, p, sz);
        return VA_V_STR;
    case BX_T_EVTHANDLE:
    case BX_T_EVTXML:
    case BX_T_BINXML:
        put_hex(out, p, sz);
        return VA_V_STR;
    case BX_T_ARRAY | BX_T_STRING: {
        /* NUL-separated strings; rendered comma-separated in one value. */
        uint32_t n = sz / 2, start = 0, first = 1;
        for (uint32_t i = 0; i <= n; i++) {
            if (i < n && (p[2 * i] | p[2 * i + 1])) continue;
            if (i == n && start == n) break;
            if (!first) va_buf_putc(out, ',');
            unsigned found = 0;
            va_utf16le_buf_ex(out, p + 2 * start, i - start, 0, &found);
            if (found & VA_UTF16_JSON_ESC) *esc = 1;
            first = 0;
            start = i + 1;
        }
        return VA_V_STR;
    }
    case BX_T_ARRAY | BX_T_ANSI: {
        uint32_t start = 0, first = 1;
        for (uint32_t i = 0; i <= sz; i++) {
            if (i < sz && p[i]) continue;
            if (i == sz && start == sz) break;
            if (!first) va_buf_putc(out, ',');
            put_ansi(out, p + start, i - start, esc);
            first = 0;
            start = i + 1;
        }
        return VA_V_STR;
    }
    default:
        break;
    }
    if (t & BX_T_ARRAY) {
        uint8_t et = t & 0x7f;
        uint32_t es = bx_type_size(et, sz);
        if (et == BX_T_SID) {
            for (uint32_t off = 0, k = 0; off < sz; k++) {
                if (k) va_buf_putc(out, ',');
                uint32_t used = put_sid(out, p + off, sz - off);
                if (!used) break;
                off += used;
            }
            return VA_V_STR;
        }
        if (!es) {
            put_hex(out, p, sz);
            return VA_V_STR;
        }
        for (uint32_t off = 0; off + es <= sz; off += es) {
            if (off) va_buf_putc(out, ',');
            put_scalar(out, et, p + off, es, xml);
        }
        return VA_V_STR;
    }
    uint32_t es = bx_type_size(t, sz);
    if (!es) {
        put_hex(out, p, sz);
        return VA_V_STR;
    }
    if (sz < es) {
        /* Short value from a damaged record: show the bytes rather than guess. */
        put_hex(out, p, sz);
        return VA_V_STR;
    }
    return put_scalar(out, t, p, es, xml);
}
