/*
 * fuzz_sigma_placeholders.c - libFuzzer target: the `expand` placeholder file
 * (src/sigma/placeholders.h).  Any input either loads or fails with a reason; every loaded
 * entry has a name and as many values as it says.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sigma/placeholders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    va_arena a;
    va_arena_init(&a, 0);
    va_value_placeholder *ph = NULL;
    size_t n = 0;
    char err[256] = "";
    va_err e = va_placeholders_load_mem(&a, "fuzz.yml", (const char *)data, size, &ph, &n, err,
                                        sizeof err);
    if (e == VA_OK) {
        for (size_t i = 0; i < n; i++) {
            if (!ph[i].name) __builtin_trap();
            for (size_t k = 0; k < ph[i].nvals; k++)
                if (!ph[i].vals[k]) __builtin_trap();
        }
    } else if (!err[0]) {
        __builtin_trap(); /* every failure says why */
    }
    va_arena_free(&a);
    return 0;
}
