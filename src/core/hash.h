/*
 * hash.h - vaern's one hash function and one hash table.
 *
 * The table is an index, not a container: the caller keeps its entries in its own array (or
 * arena) and the table maps a 64-bit hash to entry numbers.  So one table type serves every
 * key shape (strings, case-folded names, (channel, event ID) pairs, offsets), entries keep
 * their own types, and lookups compare keys in the caller's code without a callback:
 *
 *     for (uint32_t i = va_hash_first(&t, h, &it); i != VA_HASH_END; i = va_hash_next(&t, &it))
 *         if (key_equal(&entries[i], key)) return &entries[i];
 *
 * Linear probing over 8-byte slots (32 bits of the hash and the entry number), growing at 3/4
 * load, with backward-shift deletion (no tombstones), so a table that sees many inserts and
 * removals (correlation windows) does not degrade.  Entry numbers are below 2^32 - 1.
 *
 * va_hash_mem() is the hash every module uses (strings, byte keys), va_hash_mem_lower() the
 * same over ASCII-lowercased bytes (case-insensitive names), va_hash_u64() mixes an integer
 * in (composite keys), and va_hash_sum() checksums big blocks (cache files) four lanes at a
 * time, where va_hash_mem's one chain of multiplies would be the cost of reading them.  Seeded per
 * process they are not: keys come from rules and logs, and the tables degrade gracefully (probing),
 * never into a wrong answer.
 */
#ifndef VA_CORE_HASH_H
#define VA_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define VA_HASH_END UINT32_MAX

/* Hash n bytes at p, continuing from seed (0 to start). */
uint64_t va_hash_mem(const void *p, size_t n, uint64_t seed);
/* The same over the bytes with A-Z lowered: va_hash_mem_lower("Ab") == va_hash_mem("ab"). */
uint64_t va_hash_mem_lower(const void *p, size_t n, uint64_t seed);
/* Checksum of n bytes at p for telling a damaged block from a sound one: four independent
 * lanes of va_hash_mem's step over 32-byte strides, joined at the end (about 4x its speed).
 * Not the same value as va_hash_mem. */
uint64_t va_hash_sum(const void *p, size_t n, uint64_t seed);
/* Mix v into h (for composite keys: hash a string, then mix an ID in). */
static inline uint64_t va_hash_u64(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

typedef struct va_hash_slot {
    uint32_t tag; /* 32 bits of the hash */
    uint32_t idx; /* entry number + 1; 0: empty */
} va_hash_slot;

typedef struct va_hash {
    va_hash_slot *slot; /* NULL until the first insert */
    uint32_t mask;      /* slots - 1 */
    uint32_t n;         /* entries in the table */
} va_hash;

typedef struct va_hash_iter {
    uint32_t pos, tag;
} va_hash_iter;

/* An empty table; no memory until the first insert.  Free with va_hash_free. */
static inline void va_hash_init(va_hash *t) {
    t->slot = NULL, t->mask = 0, t->n = 0;
}
void va_hash_free(va_hash *t);
/* Forget every entry, keep the memory. */
void va_hash_clear(va_hash *t);
/* Make room for n entries in all without growing again; 0, or -1 out of memory. */
int va_hash_reserve(va_hash *t, uint32_t n);
/* Add entry idx under hash h (the caller has checked that its key is absent, or wants
 * duplicates); 0, or -1 out of memory (the table is unchanged). */
int va_hash_insert(va_hash *t, uint64_t h, uint32_t idx);
/* Remove entry idx stored under h; 0, or -1 if it is not there. */
int va_hash_remove(va_hash *t, uint64_t h, uint32_t idx);
/* Entry idx (under h) is now entry to (the caller moved it in its array); 0, or -1. */
int va_hash_renumber(va_hash *t, uint64_t h, uint32_t idx, uint32_t to);

static inline uint32_t va_hash_tag_(uint64_t h) {
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

/* The next entry stored under it's hash, or VA_HASH_END. */
static inline uint32_t va_hash_next(const va_hash *t, va_hash_iter *it) {
    if (!t->slot) return VA_HASH_END;
    for (;;) {
        const va_hash_slot *s = &t->slot[it->pos];
        if (!s->idx) return VA_HASH_END;
        it->pos = (it->pos + 1) & t->mask;
        if (s->tag == it->tag) return s->idx - 1;
    }
}

/* The first entry stored under h (candidates: compare the key), or VA_HASH_END. */
static inline uint32_t va_hash_first(const va_hash *t, uint64_t h, va_hash_iter *it) {
    it->tag = va_hash_tag_(h);
    it->pos = it->tag & t->mask;
    return va_hash_next(t, it);
}

#endif
