/*
 * utf.c - UTF-8 / UTF-16LE conversion (see utf.h).
 */
#include "core/utf.h"

#include <string.h>

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

size_t va_utf16le_conv(const uint8_t *p, size_t n, char *out) {
    char *o = out;
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, four code units per step: most Windows event text is ASCII. */
        while (i + 4 <= n) {
            uint64_t x;
            memcpy(&x, p + 2 * i, 8);
            if (x & 0xFF80FF80FF80FF80ull) break;
            o[0] = (char)p[2 * i], o[1] = (char)p[2 * i + 2];
            o[2] = (char)p[2 * i + 4], o[3] = (char)p[2 * i + 6];
            o += 4, i += 4;
        }
        if (i >= n) break;
        uint32_t u = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
        i++;
        if (u < 0x80) {
            *o++ = (char)u;
            continue;
        }
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
    return (size_t)(o - out);
}

char *va_utf16le_dup(va_arena *a, const uint8_t *p, size_t n, size_t *len) {
    char *s = va_arena_alloc(a, va_utf16_max_utf8(n) + 1);
    if (!s) return NULL;
    size_t l = va_utf16le_conv(p, n, s);
    s[l] = 0;
    if (len) *len = l;
    return s;
}

void va_utf16le_buf(va_buf *b, const uint8_t *p, size_t n) {
    if (va_buf_reserve(b, va_utf16_max_utf8(n) + 1)) return;
    b->len += va_utf16le_conv(p, n, b->p + b->len);
    b->p[b->len] = 0;
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
