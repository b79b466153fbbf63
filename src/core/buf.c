/*
 * buf.c - growable byte buffer and its escaping appenders (see buf.h).
 */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/utf.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void va_buf_init(va_buf *b) {
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void va_buf_free(va_buf *b) {
    free(b->p);
    va_buf_init(b);
}

int va_buf_reserve(va_buf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + extra + 1; /* and the NUL */
    if (need <= b->cap) return 0;
    /* A buffer mostly holds a record, an event or a line: no steps of 8 to 128 bytes first. */
    if (!b->cap && need < 256) need = 256;
    if (VA_ARRAY_GROW(b->p, b->cap, need)) {
        b->oom = 1;
        return -1;
    }
    return 0;
}

void va_buf_put_slow(va_buf *b, const void *p, size_t n) {
    if (va_buf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

void va_buf_puts(va_buf *b, const char *s) {
    va_buf_put(b, s, strlen(s));
}

void va_buf_printf(va_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        va_buf_put(b, tmp, (size_t)n);
        return;
    }
    if (va_buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char va_digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                 "25262728293031323334353637383940414243444546474849"
                                 "50515253545556575859606162636465666768697071727374"
                                 "75767778798081828384858687888990919293949596979899";

void va_buf_u64(va_buf *b, uint64_t v) {
    /* Straight into the buffer, two digits a step from a table: event values are mostly
     * numbers.  The digit count comes from the bit length (log10 2 is about 1233/4096). */
    const char *pairs = va_digit_pairs;
    static const uint64_t pow10[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};
    if (b->len + 21 > b->cap && va_buf_reserve(b, 20)) return;
    unsigned n = ((unsigned)(64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    n += v >= pow10[n];
    if (!n) n = 1;
    char *e = b->p + b->len + n, *o = e;
    while (v >= 100) {
        unsigned k = (unsigned)(v % 100) * 2;
        v /= 100;
        *--o = pairs[k + 1], *--o = pairs[k];
    }
    if (v >= 10) {
        *--o = pairs[v * 2 + 1], *--o = pairs[v * 2];
    } else {
        *--o = (char)('0' + v);
    }
    b->len += n;
    *e = 0;
}

void va_buf_i64(va_buf *b, int64_t v) {
    if (v < 0) {
        va_buf_putc(b, '-');
        va_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        va_buf_u64(b, (uint64_t)v);
    }
}

#if defined(__SSE2__)
/* Bit k set where byte k of x needs JSON's attention: a control byte, '"' or '\\', and with
 * high also every byte from 0x80 (text not known to be valid UTF-8).  A signed compare with
 * 0x20 takes bytes from 0x80 as negatives; with 0x80 flipped on both sides it does not. */
static inline int json_special16(__m128i x, int high) {
    const __m128i top = _mm_set1_epi8((char)(high ? 0 : 0x80));
    __m128i ctl = _mm_cmplt_epi8(_mm_xor_si128(x, top), _mm_xor_si128(_mm_set1_epi8(0x20), top));
    __m128i q =
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
    return _mm_movemask_epi8(_mm_or_si128(ctl, q));
}
#endif

void va_buf_json_str(va_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (va_buf_reserve(b, n + 2)) return;
    va_buf_putc(b, '"');
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
#if defined(__SSE2__)
        /* Skip plain ASCII sixteen bytes at a time: a signed compare with 0x20 catches the
         * control bytes and, as negatives, every byte from 0x80 (to be checked as UTF-8). */
        while (n - i >= 16) {
            int m = json_special16(_mm_loadu_si128((const __m128i *)(const void *)(u + i)), 1);
            if (m) {
                size_t k = (size_t)__builtin_ctz((unsigned)m);
                i += k, run += k;
                break;
            }
            i += 16, run += 16;
        }
        if (i >= n) break;
#endif
        unsigned char c = u[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++, run++;
            continue;
        }
        va_buf_put(b, u + i - run, run);
        run = 0;
        if (c >= 0x80) {
            uint32_t cp;
            size_t k = va_utf8_next(u + i, n - i, &cp);
            if (cp == 0xFFFD && k == 1)
                va_buf_put(b, "\xEF\xBF\xBD", 3);
            else
                va_buf_put(b, u + i, k);
            i += k;
            continue;
        }
        char esc[7] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            el = 6;
        }
        va_buf_put(b, esc, el);
        i++;
    }
    va_buf_put(b, u + i - run, run);
    va_buf_putc(b, '"');
}

/* 1 for bytes that need a JSON escape (controls, '"', '\\'). */
static const unsigned char json_esc[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                            1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                            1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, ['\\'] = 1};

/* Nonzero if any byte of x is below 0x20, '"' or '\\' (SWAR: eight bytes per step). */
static inline uint64_t json_special8(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t lt20 = (x - ones * 0x20) & ~x;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    uint64_t eq = ((q - ones) & ~q) | ((bs - ones) & ~bs);
    return (lt20 | eq) & high;
}

/* The escape of a byte JSON escapes (json_esc), at o; returns the end. */
static inline char *json_esc_byte(char *o, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    *o++ = '\\';
    switch (c) {
    case '"':
        *o++ = '"';
        break;
    case '\\':
        *o++ = '\\';
        break;
    case '\n':
        *o++ = 'n';
        break;
    case '\r':
        *o++ = 'r';
        break;
    case '\t':
        *o++ = 't';
        break;
    case '\b':
        *o++ = 'b';
        break;
    case '\f':
        *o++ = 'f';
        break;
    default:
        *o++ = 'u', *o++ = '0', *o++ = '0';
        *o++ = hex[c >> 4], *o++ = hex[c & 15];
    }
    return o;
}

void va_buf_json_str_valid(va_buf *b, const char *s, size_t n) {
    /* Worst case: every byte becomes \u00XX.  Reserving once keeps the loop free of checks. */
    if (n > (SIZE_MAX - 2) / 6 || (b->len + 6 * n + 3 > b->cap && va_buf_reserve(b, 6 * n + 2))) {
        b->oom = 1;
        return;
    }
    char *o = b->p + b->len;
    *o++ = '"';
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
#if defined(__SSE2__)
    /* Sixteen bytes at a time: copied whole, then the first byte to escape (if any) escaped and
     * the scan resumed after it (the strings that get here are the ones not known to be
     * plain: long script blocks, paths full of backslashes). */
    while (i + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
        int m = json_special16(x, 0);
        _mm_storeu_si128((__m128i *)(void *)o, x);
        if (!m) {
            o += 16, i += 16;
            continue;
        }
        int k = __builtin_ctz((unsigned)m);
        o += k, i += (size_t)k;
        o = json_esc_byte(o, u[i++]);
    }
#endif
    while (i < n) {
        /* Copy clean runs eight bytes at a time. */
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, u + i, 8);
            if (json_special8(x)) break;
            memcpy(o, &x, 8);
            o += 8, i += 8;
        }
        if (i >= n) break;
        unsigned char c = u[i++];
        if (!json_esc[c])
            *o++ = (char)c;
        else
            o = json_esc_byte(o, c);
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = 0;
}

void va_buf_xml_esc(va_buf *b, const char *s, size_t n, int in_attr) {
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = in_attr ? "&quot;" : NULL;
            break;
        default:
            break;
        }
        if (!rep) {
            run++;
            continue;
        }
        va_buf_put(b, s + i - run, run);
        run = 0;
        va_buf_puts(b, rep);
    }
    va_buf_put(b, s + n - run, run);
}
