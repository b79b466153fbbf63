/*
 * find.c - va_find (see find.h).
 */
#include "core/find.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>

const void *va_find(const void *hay, size_t hn, const void *needle, size_t nn) {
    const unsigned char *h = hay, *n = needle;
    if (nn == 0) return h;
    if (nn > hn) return NULL;
    if (nn == 1) return memchr(h, n[0], hn);
    const __m128i first = _mm_set1_epi8((char)n[0]), last = _mm_set1_epi8((char)n[nn - 1]);
    size_t i = 0, end = hn - nn + 1; /* candidate starts are [0, end) */
    for (; i + 16 <= end; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(h + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(h + i + nn - 1));
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last)));
        while (mask) {
            unsigned bit = (unsigned)__builtin_ctz(mask);
            if (!memcmp(h + i + bit + 1, n + 1, nn - 2)) return h + i + bit;
            mask &= mask - 1;
        }
    }
    for (; i < end; i++)
        if (h[i] == n[0] && h[i + nn - 1] == n[nn - 1] && !memcmp(h + i + 1, n + 1, nn - 2))
            return h + i;
    return NULL;
}

#else

const void *va_find(const void *hay, size_t hn, const void *needle, size_t nn) {
    return memmem(hay, hn, needle, nn);
}

#endif
