/*
 * array.h - growing a typed array: the one place vaern doubles a capacity.
 *
 * Arrays stay typed pointers with a size_t capacity beside them, held by whoever owns them;
 * this only makes room:
 *
 *     if (VA_ARRAY_GROW(x->rules, x->cap, x->n + 1)) return VA_ENOMEM;
 *     x->rules[x->n++] = r;
 *
 * The capacity doubles from 8 (or jumps to what is needed), sizes are checked for overflow,
 * and on failure the array and its capacity are left as they were, so the caller's error path
 * frees what it had.  The memory is the caller's: free(array) when done.
 */
#ifndef VA_CORE_ARRAY_H
#define VA_CORE_ARRAY_H

#include <stddef.h>

/* Make the array at *(T **)pp, of capacity *cap elements of elem bytes, hold at least need
 * elements; 0, or -1 when out of memory or the size would overflow (nothing changed). */
int va_array_grow(void *pp, size_t *cap, size_t need, size_t elem);

#define VA_ARRAY_GROW(arr, cap, need)                                                              \
    ((size_t)(need) <= (cap) ? 0 : va_array_grow(&(arr), &(cap), (need), sizeof *(arr)))

#endif
