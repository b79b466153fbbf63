/*
 * arena.h - bump allocator for parse data.
 *
 * Everything parsed from one unit of input (an EVTX chunk, a JSON object, a batch of lines)
 * lives in one arena and is released at once with va_arena_reset() when the unit is done.
 * Blocks are kept across resets, so a worker that parses chunk after chunk allocates from the
 * system only while its working set grows: memory is bounded by the largest unit, not the file.
 */
#ifndef VA_CORE_ARENA_H
#define VA_CORE_ARENA_H

#include <stddef.h>

typedef struct va_arena_block va_arena_block;

typedef struct va_arena {
    va_arena_block *head;  /* block being filled */
    va_arena_block *spare; /* blocks kept by reset, reused before malloc */
    size_t block_size;     /* default size of a new block */
    size_t total;          /* bytes currently reserved from the system */
} va_arena;

/* Initialise an empty arena; no memory is taken until the first allocation. */
void va_arena_init(va_arena *a, size_t block_size);
/* Allocate n bytes aligned to 16, not zeroed (poisoned in Debug builds); NULL if out of
 * memory.  Freed by va_arena_reset/free. */
void *va_arena_alloc(va_arena *a, size_t n);
/* Copy n bytes into the arena and add a NUL; NULL if out of memory. */
char *va_arena_strndup(va_arena *a, const char *s, size_t n);
/* Arrays that live in an arena grow like core/array.h ones, by doubling from 4; the old copy
 * stays in the arena until it is reset (at most as much again as the final array).  Make
 * *(T **)pp, holding n elements of elem bytes in capacity *cap, hold need; 0 or -1 (OOM). */
int va_arena_grow(va_arena *a, void *pp, size_t *cap, size_t n, size_t need, size_t elem);
#define VA_ARENA_GROW(a, arr, cap, n, need)                                                        \
    ((size_t)(need) <= (cap) ? 0 : va_arena_grow((a), &(arr), &(cap), (n), (need), sizeof *(arr)))

/* Forget every allocation; keeps the blocks for reuse (one oversized block at most is freed). */
void va_arena_reset(va_arena *a);
/* Return all memory to the system.  The arena may be reused after va_arena_init. */
void va_arena_free(va_arena *a);

#endif
