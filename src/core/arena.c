/*
 * arena.c - block list bump allocator (see arena.h).
 */
#include "core/arena.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct va_arena_block {
    va_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void va_arena_init(va_arena *a, size_t block_size) {
    a->head = a->spare = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->total = 0;
}

static va_arena_block *va_arena_grab(va_arena *a, size_t need) {
    /* Reuse a spare block if it fits; oversized requests get their own block. */
    va_arena_block **pp = &a->spare;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->size >= need) {
            va_arena_block *b = *pp;
            *pp = b->next;
            b->used = 0;
            return b;
        }
    }
    size_t size = need > a->block_size ? need : a->block_size;
    if (size > SIZE_MAX - sizeof(va_arena_block)) return NULL;
    va_arena_block *b = malloc(sizeof *b + size);
    if (!b) return NULL;
    b->size = size;
    b->used = 0;
    a->total += size;
    return b;
}

void *va_arena_alloc(va_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    va_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        b = va_arena_grab(a, n);
        if (!b) return NULL;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    assert(((uintptr_t)p & 15) == 0 && b->used <= b->size); /* aligned, inside its block */
#ifdef VA_ARENA_POISON
    /* Debug builds: fresh memory is garbage, not the zeros malloc often gives, so code that
     * reads a field it never set fails in tests instead of working by luck. */
    memset(p, 0xA5, n);
#endif
    return p;
}

int va_arena_grow(va_arena *a, void *pp, size_t *cap, size_t n, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 4;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return -1;
        nc *= 2;
    }
    if (!elem || nc > SIZE_MAX / elem) return -1;
    void *old, *p = va_arena_alloc(a, nc * elem);
    if (!p) return -1;
    memcpy(&old, pp, sizeof old);
    if (n) memcpy(p, old, n * elem);
    memcpy(pp, &p, sizeof p);
    *cap = nc;
    return 0;
}

char *va_arena_strndup(va_arena *a, const char *s, size_t n) {
    char *p = va_arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void va_arena_reset(va_arena *a) {
    /* Move all blocks to the spare list; free blocks bigger than the default size beyond the
     * first, so one huge unit does not pin memory forever. */
    int kept_big = 0;
    while (a->head) {
        va_arena_block *b = a->head;
        a->head = b->next;
        if (b->size > a->block_size && kept_big++) {
            a->total -= b->size;
            free(b);
            continue;
        }
        b->next = a->spare;
        a->spare = b;
    }
}

void va_arena_free(va_arena *a) {
    va_arena_reset(a);
    while (a->spare) {
        va_arena_block *b = a->spare;
        a->spare = b->next;
        free(b);
    }
    a->total = 0;
}
