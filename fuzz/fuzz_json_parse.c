/*
 * fuzz_json_parse.c - libFuzzer target: the JSON parser on one document.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    va_arena a;
    va_arena_init(&a, 0);
    va_json *root = NULL;
    va_json_error err;
    va_json_opts o = {.max_depth = 256};
    va_json_parse(&a, (const char *)data, size, &o, &root, &err);
    va_arena_free(&a);
    return 0;
}
