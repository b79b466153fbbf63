/*
 * crc32.c - the CRC32 of EVTX headers and records (IEEE polynomial, reflected), folded with
 * carry-less multiplication where the CPU has it.
 *
 * Every chunk's records are checksummed, so the CRC runs over nearly every byte read; zlib's
 * table-driven crc32 was about 9% of `vaern evtx dump`'s instructions.  With PCLMULQDQ the
 * data is folded 64 bytes at a time into four 128-bit accumulators, which are folded into one,
 * and the CRC of those last 16 bytes (and of a tail under 16 bytes) is zlib's again.
 *
 * Why the folding holds (in the bit-reflected order CRC32 uses, where bit k of a 128-bit block
 * loaded from memory is the coefficient of x^(127-k)): a block A followed by D bits of message
 * contributes A * x^D.  With A = Ahi * x^64 + Alo (Ahi the low quadword), A * x^D is congruent,
 * modulo P, to Ahi * (x^(D+64) mod P) + Alo * (x^D mod P), a polynomial of degree below 96 that
 * fits in one block and is added to the block D bits later.  A carry-less multiply of two
 * reflected quadwords gives their product times x, so the constants are x^(D+63) mod P and
 * x^(D-1) mod P, bit-reversed into a quadword.  The caller's CRC enters as the first 32 message
 * bits (the register, inverted as zlib keeps it), and what is left once everything is folded is
 * a 16-byte message with the same CRC from an inverted register of zero: zlib's crc32 with
 * 0xFFFFFFFF gives it.  The constants were computed with x^n mod P by repeated multiplication
 * by x; the tests compare the result with zlib for every length and alignment.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "evtx/evtx.h"

static uint32_t crc_zlib(uint32_t crc, const uint8_t *p, size_t len) {
    while (len > UINT32_MAX) {
        crc = (uint32_t)crc32(crc, p, UINT32_MAX);
        p += UINT32_MAX;
        len -= UINT32_MAX;
    }
    return (uint32_t)crc32(crc, p, (uInt)len);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define FOLD_512_LO 0x653d982200000000ull /* x^575 mod P, bit-reversed */
#define FOLD_512_HI 0xcad38e8f00000000ull /* x^511 mod P */
#define FOLD_128_LO 0x65673b4600000000ull /* x^191 mod P */
#define FOLD_128_HI 0x9ba54c6f00000000ull /* x^127 mod P */

__attribute__((target("pclmul,sse2"))) static inline __m128i fold(__m128i x, __m128i k) {
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul,sse2"))) static inline __m128i load(const uint8_t *p) {
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

__attribute__((target("pclmul,sse2"))) static uint32_t crc_clmul(uint32_t crc, const uint8_t *p,
                                                                 size_t len) {
    const __m128i k512 = _mm_set_epi64x((long long)FOLD_512_HI, (long long)FOLD_512_LO);
    const __m128i k128 = _mm_set_epi64x((long long)FOLD_128_HI, (long long)FOLD_128_LO);
    __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128((int)~crc));
    __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
    p += 64, len -= 64;
    for (; len >= 64; p += 64, len -= 64) {
        x0 = _mm_xor_si128(fold(x0, k512), load(p));
        x1 = _mm_xor_si128(fold(x1, k512), load(p + 16));
        x2 = _mm_xor_si128(fold(x2, k512), load(p + 32));
        x3 = _mm_xor_si128(fold(x3, k512), load(p + 48));
    }
    __m128i x = _mm_xor_si128(fold(x0, k128), x1);
    x = _mm_xor_si128(fold(x, k128), x2);
    x = _mm_xor_si128(fold(x, k128), x3);
    for (; len >= 16; p += 16, len -= 16) x = _mm_xor_si128(fold(x, k128), load(p));
    uint8_t last[16];
    _mm_storeu_si128((__m128i *)(void *)last, x);
    return crc_zlib(crc_zlib(0xFFFFFFFFu, last, 16), p, len);
}

static int have_clmul(void) {
    return __builtin_cpu_supports("pclmul");
}
#else
static uint32_t crc_clmul(uint32_t crc, const uint8_t *p, size_t len) {
    return crc_zlib(crc, p, len);
}
static int have_clmul(void) {
    return 0;
}
#endif

uint32_t va_evtx_crc32(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    /* Below four blocks the setup costs more than zlib's loop. */
    if (len < 64 || !have_clmul()) return crc_zlib(crc, p, len);
    return crc_clmul(crc, p, len);
}
