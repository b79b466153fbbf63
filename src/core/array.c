/*
 * array.c - va_array_grow (see array.h).
 */
#include "core/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int va_array_grow(void *pp, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return -1;
        nc *= 2;
    }
    if (!elem || nc > SIZE_MAX / elem) return -1;
    void *p;
    memcpy(&p, pp, sizeof p); /* pp is a T **: read and write it without type punning */
    void *np = realloc(p, nc * elem);
    if (!np) return -1;
    memcpy(pp, &np, sizeof np);
    *cap = nc;
    return 0;
}
