/*
 * utf.c - UTF-8 / UTF-16LE conversion (see utf.h).
 */
#include "core/utf.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>

/* Nonzero if no bit of mask is set in v (what SSE4.1 ptest does, in SSE2). */
static inline int no_bits(__m128i v, __m128i mask) {
    return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, mask), _mm_setzero_si128())) == 0xFFFF;
}
#endif

size_t va_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return len;
}

size_t va_utf8_enc(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Would JSON escape ASCII character u? */
/* 1 for the ASCII characters a JSON string escapes (controls, '"', '\\'). */
static const unsigned char json_esc_tab[128] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, ['\\'] = 1};

static inline unsigned json_esc_ascii(uint32_t u) {
    return json_esc_tab[u & 0x7f];
}

/* The one converter behind every variant.  Most Windows event text is ASCII: blocks of eight
 * code units with nothing to encode go through SSE2 (one compare for "all ASCII" and three for
 * what JSON escapes) and are packed to bytes; the rest is converted one unit at a time. */
/* Inlined into each caller: the one for values (va_utf16le_buf_ex) runs for most fields, where
 * a call more per value shows. */
static inline __attribute__((always_inline)) size_t conv(const uint8_t *p, size_t n, char *out,
                                                         unsigned opts, unsigned *found) {
    char *o = out;
    size_t i = 0;
    unsigned esc = 0;
    int stop_nul = (opts & VA_UTF16_STOP_NUL) != 0;
    while (i < n) {
#if defined(__SSE2__)
        const __m128i hi_bits = _mm_set1_epi16((short)0xFF80), zero = _mm_setzero_si128();
        const __m128i sp = _mm_set1_epi16(0x20), quote = _mm_set1_epi16('"');
        const __m128i bslash = _mm_set1_epi16('\\');
        const __m128i sp8 = _mm_set1_epi8(0x20), quote8 = _mm_set1_epi8('"');
        const __m128i bslash8 = _mm_set1_epi8('\\');
        /* Sixteen units a step while they are ASCII: one test that all are below 0x80, then
         * the checks on the sixteen bytes they pack to (a NUL ends the text there). */
        while (i + 16 <= n) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i + 16));
            if (!no_bits(_mm_or_si128(a, b), hi_bits)) break;
            __m128i x = _mm_packus_epi16(a, b);
            __m128i special =
                _mm_or_si128(_mm_cmplt_epi8(x, sp8),
                             _mm_or_si128(_mm_cmpeq_epi8(x, quote8), _mm_cmpeq_epi8(x, bslash8)));
            int sm = _mm_movemask_epi8(special);
            _mm_storeu_si128((__m128i *)(void *)o, x);
            if (sm) {
                int z = stop_nul ? _mm_movemask_epi8(_mm_cmpeq_epi8(x, zero)) : 0;
                if (z) {
                    int k = __builtin_ctz((unsigned)z);
                    esc |= (sm & ((1 << k) - 1)) != 0;
                    o += k;
                    n = i; /* ends the outer loop */
                    break;
                }
                esc = 1;
            }
            o += 16, i += 16;
        }
        while (i + 8 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
            __m128i ascii = _mm_cmpeq_epi16(_mm_and_si128(v, hi_bits), zero);
            if (_mm_movemask_epi8(ascii) != 0xFFFF) break;
            /* Every unit is below 0x80, so the signed compare is exact. */
            __m128i special =
                _mm_or_si128(_mm_cmplt_epi16(v, sp),
                             _mm_or_si128(_mm_cmpeq_epi16(v, quote), _mm_cmpeq_epi16(v, bslash)));
            int sm = _mm_movemask_epi8(special);
            if (sm) {
                /* A NUL is below 0x20 too: only then is it worth looking for one.  The text
                 * ends there: what comes before it is written from the block. */
                int z = stop_nul ? _mm_movemask_epi8(_mm_cmpeq_epi16(v, zero)) : 0;
                if (z) {
                    int k = __builtin_ctz((unsigned)z); /* byte offset of the NUL unit */
                    esc |= (sm & ((1 << k) - 1)) != 0;
                    _mm_storel_epi64((__m128i *)(void *)o, _mm_packus_epi16(v, v));
                    o += k / 2;
                    n = i; /* ends the outer loop */
                    break;
                }
                esc = 1;
            }
            _mm_storel_epi64((__m128i *)(void *)o, _mm_packus_epi16(v, v));
            o += 8, i += 8;
        }
#else
        /* Four code units per step without SSE2. */
        while (i + 4 <= n) {
            uint64_t x;
            memcpy(&x, p + 2 * i, 8);
            if (x & 0xFF80FF80FF80FF80ull) break;
            if (stop_nul &&
                (!(x & 0xFFFF) || !(x & 0xFFFF0000ull) || !(x & 0xFFFF00000000ull) || !(x >> 48)))
                break;
            for (int k = 0; k < 4; k++) {
                o[k] = (char)p[2 * i + 2 * k];
                esc |= json_esc_ascii((uint8_t)o[k]);
            }
            o += 4, i += 4;
        }
#endif
        /* One block (up to the next multiple of eight units) one unit at a time, so text that
         * is not ASCII does not retry the block test at every unit. */
        size_t stop = (i | 7) + 1 < n ? (i | 7) + 1 : n;
        while (i < stop) {
            uint32_t u = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
            if (u < 0x80) {
                if (!u && stop_nul) {
                    n = i; /* the text ends here */
                    break;
                }
                esc |= json_esc_ascii(u);
                *o++ = (char)u;
                i++;
                continue;
            }
            i++;
            if (u >= 0xD800 && u <= 0xDBFF && i < n) {
                uint32_t u2 = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
                if (u2 >= 0xDC00 && u2 <= 0xDFFF) {
                    /* A pair takes 2 units and 4 output bytes, within the 3-per-unit bound. */
                    o += va_utf8_enc(0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00), o);
                    i++;
                    continue;
                }
            }
            if (u >= 0xD800 && u <= 0xDFFF) u = 0xFFFD;
            o += va_utf8_enc(u, o);
        }
    }
    if (esc) *found |= VA_UTF16_JSON_ESC;
    return (size_t)(o - out);
}

size_t va_utf16le_conv(const uint8_t *p, size_t n, char *out) {
    unsigned found = 0;
    return conv(p, n, out, 0, &found);
}

size_t va_utf16le_conv_ex(const uint8_t *p, size_t n, char *out, unsigned opts, unsigned *found) {
    return conv(p, n, out, opts, found);
}

char *va_utf16le_dup_ex(va_arena *a, const uint8_t *p, size_t n, size_t *len, unsigned *found) {
    char *s = va_arena_alloc(a, va_utf16_max_utf8(n) + 1);
    if (!s) return NULL;
    size_t l = conv(p, n, s, 0, found);
    s[l] = 0;
    if (len) *len = l;
    return s;
}

char *va_utf16le_dup(va_arena *a, const uint8_t *p, size_t n, size_t *len) {
    unsigned found = 0;
    return va_utf16le_dup_ex(a, p, n, len, &found);
}

void va_utf16le_buf_ex(va_buf *b, const uint8_t *p, size_t n, unsigned opts, unsigned *found) {
    if (b->len + va_utf16_max_utf8(n) + 2 > b->cap && va_buf_reserve(b, va_utf16_max_utf8(n) + 1))
        return;
    b->len += conv(p, n, b->p + b->len, opts, found);
    b->p[b->len] = 0;
}

void va_utf16le_buf(va_buf *b, const uint8_t *p, size_t n) {
    unsigned found = 0;
    va_utf16le_buf_ex(b, p, n, 0, &found);
}

int va_utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = va_utf8_next(u + i, n - i, &cp);
        if (cp == 0xFFFD && !(k == 3 && u[i] == 0xEF && u[i + 1] == 0xBF && u[i + 2] == 0xBD))
            return 0;
        i += k;
    }
    return 1;
}
