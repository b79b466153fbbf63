/*
 * hash.c - the hash function and the index table (see hash.h).
 *
 * The function reads 8 bytes at a time, multiplies each word in with a 64-bit odd constant and
 * folds the high half down; the tail is read as one partial word; a final avalanche spreads
 * every input bit over the 64 bits, so the low bits used for the slot and the high bits used
 * for the tag are both good.
 */
#include "core/hash.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define K1 0x9fb21c651e98df25ull
#define K2 0xc2b2ae3d27d4eb4full

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t tail64(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    memcpy(&v, p, n); /* n < 8 */
    return v;
}

static inline uint64_t step(uint64_t h, uint64_t w) {
    h ^= w * K1;
    h = (h << 27) | (h >> 37);
    return h * K2 + 0x52dce729;
}

static inline uint64_t final(uint64_t h, size_t n) {
    h ^= (uint64_t)n * K1;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

uint64_t va_hash_mem(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h = seed ^ K2;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) h = step(h, load64(s + i));
    if (i < n) h = step(h, tail64(s + i, n - i));
    return final(h, n);
}

uint64_t va_hash_sum(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h[4] = {seed ^ K2, seed ^ K1, ~seed ^ K2, ~seed ^ K1};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) h[k] = step(h[k], load64(s + i + 8 * k));
    uint64_t x = step(step(step(h[0], h[1]), h[2]), h[3]);
    for (; i + 8 <= n; i += 8) x = step(x, load64(s + i));
    if (i < n) x = step(x, tail64(s + i, n - i));
    return final(x, n);
}

/* Lower A-Z in all 8 bytes of w at once: set 0x20 where a byte is in 'A'..'Z'. */
static inline uint64_t lower64(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t ascii = ~w & high;                            /* bytes < 0x80 */
    uint64_t ge_a = (w & ~high) + ones * (0x80 - 'A');     /* high bit set where byte >= 'A' */
    uint64_t gt_z = (w & ~high) + ones * (0x80 - 'Z' - 1); /* high bit set where byte > 'Z' */
    uint64_t upper = ge_a & ~gt_z & ascii;
    return w | (upper >> 2); /* 0x80 >> 2 == 0x20 */
}

uint64_t va_hash_mem_lower(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h = seed ^ K2;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) h = step(h, lower64(load64(s + i)));
    if (i < n) h = step(h, lower64(tail64(s + i, n - i)));
    return final(h, n);
}

void va_hash_free(va_hash *t) {
    free(t->slot);
    va_hash_init(t);
}

void va_hash_clear(va_hash *t) {
    if (t->slot) memset(t->slot, 0, ((size_t)t->mask + 1) * sizeof *t->slot);
    t->n = 0;
}

static void put(va_hash_slot *slot, uint32_t mask, uint32_t tag, uint32_t idx1) {
    uint32_t j = tag & mask;
    while (slot[j].idx) j = (j + 1) & mask;
    slot[j].tag = tag, slot[j].idx = idx1;
}

int va_hash_reserve(va_hash *t, uint32_t n) {
    uint64_t cap = t->slot ? (uint64_t)t->mask + 1 : 0;
    if ((uint64_t)n * 4 <= cap * 3) return 0;
    uint64_t nc = cap ? cap : 16;
    while ((uint64_t)n * 4 > nc * 3) nc *= 2;
    if (nc > ((uint64_t)1 << 31)) return -1;
    va_hash_slot *s = calloc((size_t)nc, sizeof *s);
    if (!s) return -1;
    for (uint64_t i = 0; i < cap; i++)
        if (t->slot[i].idx) put(s, (uint32_t)(nc - 1), t->slot[i].tag, t->slot[i].idx);
    free(t->slot);
    t->slot = s, t->mask = (uint32_t)(nc - 1);
    return 0;
}

int va_hash_insert(va_hash *t, uint64_t h, uint32_t idx) {
    if (idx == VA_HASH_END) return -1;
    if ((!t->slot || (uint64_t)(t->n + 1) * 4 > ((uint64_t)t->mask + 1) * 3) &&
        va_hash_reserve(t, t->n + 1))
        return -1;
    put(t->slot, t->mask, va_hash_tag_(h), idx + 1);
    t->n++;
    /* At most 3/4 full, so every probe sequence ends at an empty slot. */
    assert((uint64_t)t->n * 4 <= ((uint64_t)t->mask + 1) * 3);
    return 0;
}

/* The slot holding idx under h, or -1. */
static int64_t find_slot(const va_hash *t, uint64_t h, uint32_t idx) {
    if (!t->slot) return -1;
    uint32_t tag = va_hash_tag_(h), j = tag & t->mask;
    for (; t->slot[j].idx; j = (j + 1) & t->mask)
        if (t->slot[j].idx == idx + 1 && t->slot[j].tag == tag) return j;
    return -1;
}

int va_hash_remove(va_hash *t, uint64_t h, uint32_t idx) {
    int64_t at = find_slot(t, h, idx);
    if (at < 0) return -1;
    /* Backward shift: pull later members of the probe run into the hole when their home slot
     * is not between the hole and them, so lookups never stop early at an empty slot. */
    uint32_t hole = (uint32_t)at, j = hole;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->slot[j].idx) break;
        uint32_t home = t->slot[j].tag & t->mask;
        if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
            t->slot[hole] = t->slot[j];
            hole = j;
        }
    }
    t->slot[hole].idx = 0, t->slot[hole].tag = 0;
    assert(t->n > 0);
    t->n--;
    return 0;
}

int va_hash_renumber(va_hash *t, uint64_t h, uint32_t idx, uint32_t to) {
    int64_t at = find_slot(t, h, idx);
    if (at < 0 || to == VA_HASH_END) return -1;
    t->slot[at].idx = to + 1;
    return 0;
}
