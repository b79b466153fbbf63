/*
 * value_fold.c - simple Unicode case folding for Sigma's case-insensitive matching (value.h).
 *
 * Written from the C and S entries of Unicode's CaseFolding.txt for the blocks that appear in
 * Windows logs: Latin-1, Latin Extended-A/B and Additional, Greek (not Greek Extended),
 * Cyrillic and its supplement, Armenian, letterlike symbols, Roman numerals, circled and
 * fullwidth Latin.  Simple folding maps one code point to one, so a `?` wildcard stays one
 * character.  The table is const and locale-independent on purpose: matching must not depend
 * on the environment the hunt runs in.
 */
#include "sigma/value.h"

#include "core/utf.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Code points lo..hi (every step-th from lo) fold to cp + delta. */
typedef struct fold_range {
    uint32_t lo, hi;
    int32_t delta;
    uint32_t step;
} fold_range;

static const fold_range fold_tab[] = {
    {0x00B5, 0x00B5, 775, 1},   {0x00C0, 0x00D6, 32, 1},    {0x00D8, 0x00DE, 32, 1},
    {0x0100, 0x012E, 1, 2},     {0x0132, 0x0136, 1, 2},     {0x0139, 0x0147, 1, 2},
    {0x014A, 0x0176, 1, 2},     {0x0178, 0x0178, -121, 1},  {0x0179, 0x017D, 1, 2},
    {0x017F, 0x017F, -268, 1},  {0x0181, 0x0181, 210, 1},   {0x0182, 0x0184, 1, 2},
    {0x0186, 0x0186, 206, 1},   {0x0187, 0x0187, 1, 1},     {0x0189, 0x018A, 205, 1},
    {0x018B, 0x018B, 1, 1},     {0x018E, 0x018E, 79, 1},    {0x018F, 0x018F, 202, 1},
    {0x0190, 0x0190, 203, 1},   {0x0191, 0x0191, 1, 1},     {0x0193, 0x0193, 205, 1},
    {0x0194, 0x0194, 207, 1},   {0x0196, 0x0196, 211, 1},   {0x0197, 0x0197, 209, 1},
    {0x0198, 0x0198, 1, 1},     {0x019C, 0x019C, 211, 1},   {0x019D, 0x019D, 213, 1},
    {0x019F, 0x019F, 214, 1},   {0x01A0, 0x01A4, 1, 2},     {0x01A6, 0x01A6, 218, 1},
    {0x01A7, 0x01A7, 1, 1},     {0x01A9, 0x01A9, 218, 1},   {0x01AC, 0x01AC, 1, 1},
    {0x01AE, 0x01AE, 218, 1},   {0x01AF, 0x01AF, 1, 1},     {0x01B1, 0x01B2, 217, 1},
    {0x01B3, 0x01B5, 1, 2},     {0x01B7, 0x01B7, 219, 1},   {0x01B8, 0x01B8, 1, 1},
    {0x01BC, 0x01BC, 1, 1},     {0x01C4, 0x01C4, 2, 1},     {0x01C5, 0x01C5, 1, 1},
    {0x01C7, 0x01C7, 2, 1},     {0x01C8, 0x01C8, 1, 1},     {0x01CA, 0x01CA, 2, 1},
    {0x01CB, 0x01DB, 1, 2},     {0x01DE, 0x01EE, 1, 2},     {0x01F1, 0x01F1, 2, 1},
    {0x01F2, 0x01F2, 1, 1},     {0x01F4, 0x01F4, 1, 1},     {0x01F6, 0x01F6, -97, 1},
    {0x01F7, 0x01F7, -56, 1},   {0x01F8, 0x021E, 1, 2},     {0x0220, 0x0220, -130, 1},
    {0x0222, 0x0232, 1, 2},     {0x023A, 0x023A, 10795, 1}, {0x023B, 0x023B, 1, 1},
    {0x023D, 0x023D, -163, 1},  {0x023E, 0x023E, 10792, 1}, {0x0241, 0x0241, 1, 1},
    {0x0243, 0x0243, -195, 1},  {0x0244, 0x0244, 69, 1},    {0x0245, 0x0245, 71, 1},
    {0x0246, 0x024E, 1, 2},     {0x0345, 0x0345, 116, 1},   {0x0370, 0x0372, 1, 2},
    {0x0376, 0x0376, 1, 1},     {0x037F, 0x037F, 116, 1},   {0x0386, 0x0386, 38, 1},
    {0x0388, 0x038A, 37, 1},    {0x038C, 0x038C, 64, 1},    {0x038E, 0x038F, 63, 1},
    {0x0391, 0x03A1, 32, 1},    {0x03A3, 0x03AB, 32, 1},    {0x03C2, 0x03C2, 1, 1},
    {0x03CF, 0x03CF, 8, 1},     {0x03D0, 0x03D0, -30, 1},   {0x03D1, 0x03D1, -25, 1},
    {0x03D5, 0x03D5, -15, 1},   {0x03D6, 0x03D6, -22, 1},   {0x03D8, 0x03EE, 1, 2},
    {0x03F0, 0x03F0, -54, 1},   {0x03F1, 0x03F1, -48, 1},   {0x03F4, 0x03F4, -60, 1},
    {0x03F5, 0x03F5, -64, 1},   {0x03F7, 0x03F7, 1, 1},     {0x03F9, 0x03F9, -7, 1},
    {0x03FA, 0x03FA, 1, 1},     {0x03FD, 0x03FF, -130, 1},  {0x0400, 0x040F, 80, 1},
    {0x0410, 0x042F, 32, 1},    {0x0460, 0x0480, 1, 2},     {0x048A, 0x04BE, 1, 2},
    {0x04C0, 0x04C0, 15, 1},    {0x04C1, 0x04CD, 1, 2},     {0x04D0, 0x052E, 1, 2},
    {0x0531, 0x0556, 48, 1},    {0x1E00, 0x1E94, 1, 2},     {0x1E9B, 0x1E9B, -58, 1},
    {0x1E9E, 0x1E9E, -7615, 1}, {0x1EA0, 0x1EFE, 1, 2},     {0x2126, 0x2126, -7517, 1},
    {0x212A, 0x212A, -8383, 1}, {0x212B, 0x212B, -8262, 1}, {0x2132, 0x2132, 28, 1},
    {0x2160, 0x216F, 16, 1},    {0x2183, 0x2183, 1, 1},     {0x24B6, 0x24CF, 26, 1},
    {0xFF21, 0xFF3A, 32, 1},
};

uint32_t va_value_fold_cp(uint32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    size_t lo = 0, hi = sizeof fold_tab / sizeof fold_tab[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const fold_range *r = &fold_tab[mid];
        if (cp < r->lo) {
            hi = mid;
        } else if (cp > r->hi) {
            lo = mid + 1;
        } else {
            if ((cp - r->lo) % r->step) return cp;
            return (uint32_t)((int32_t)cp + r->delta);
        }
    }
    return cp;
}

int va_value_fold_is_target(uint32_t cp) {
    if (cp == 'k' || cp == 's') return 1; /* from U+212A KELVIN SIGN and U+017F LONG S */
    for (size_t i = 0; i < sizeof fold_tab / sizeof fold_tab[0]; i++) {
        const fold_range *r = &fold_tab[i];
        int64_t c = (int64_t)cp - r->delta;
        if (r->delta && c >= r->lo && c <= r->hi && (uint32_t)(c - r->lo) % r->step == 0) return 1;
    }
    return 0;
}

size_t va_value_fold_class(uint32_t cp, uint32_t *out, size_t cap) {
    size_t n = 0;
    if (va_value_fold_cp(cp) == cp) {
        if (n < cap) out[n] = cp;
        n++;
    }
    if (cp == 'k' || cp == 's') { /* U+212A KELVIN SIGN and U+017F LONG S fold to ASCII */
        if (n < cap) out[n] = cp == 'k' ? 0x212A : 0x017F;
        n++;
    }
    for (size_t i = 0; i < sizeof fold_tab / sizeof fold_tab[0]; i++) {
        const fold_range *r = &fold_tab[i];
        int64_t c = (int64_t)cp - r->delta;
        if (r->delta && c >= r->lo && c <= r->hi && (uint32_t)(c - r->lo) % r->step == 0) {
            if (n < cap) out[n] = (uint32_t)c;
            n++;
        }
    }
    return n;
}

void va_value_fold(const char *s, size_t n, va_buf *out) {
    /* A 2-byte letter can fold to a 3-byte one (U+023A -> U+2C65): reserve 3/2 once so the
     * loop writes without bounds checks. */
    if (va_buf_reserve(out, n + n / 2 + 4)) return;
    unsigned char *o = (unsigned char *)out->p + out->len;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
#if defined(__SSE2__)
        /* Sixteen ASCII bytes at once (most of every log): A-Z, and only they, land on
         * -128..-103 once shifted by 0x80 - 'A', which one signed compare picks out. */
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            if (_mm_movemask_epi8(x)) break;
            __m128i t = _mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - 'A')));
            __m128i up = _mm_cmplt_epi8(t, _mm_set1_epi8((char)(-128 + 26)));
            _mm_storeu_si128((__m128i *)o, _mm_add_epi8(x, _mm_and_si128(up, _mm_set1_epi8(32))));
            p += 16, o += 16;
        }
        if (p == end) break;
#endif
        unsigned c = *p;
        if (c < 0x80) {
            *o++ = (unsigned char)(c - 'A' < 26u ? c + 32 : c);
            p++;
            continue;
        }
        uint32_t cp;
        size_t k = va_utf8_next(p, (size_t)(end - p), &cp);
        if (cp == 0xFFFD && k == 1) {
            /* Not UTF-8 (utf16/base64 patterns, damaged text): keep the byte as it is. */
            *o++ = (unsigned char)c;
            p++;
            continue;
        }
        uint32_t f = va_value_fold_cp(cp);
        if (f == cp) {
            for (size_t i = 0; i < k; i++) *o++ = p[i];
        } else {
            o += va_utf8_enc(f, (char *)o);
        }
        p += k;
    }
    out->len = (size_t)((char *)o - out->p);
    out->p[out->len] = 0;
}
