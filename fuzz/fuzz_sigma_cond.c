/*
 * fuzz_sigma_cond.c - libFuzzer target: condition text through the parser, resolver and
 * evaluator (sigma/cond.h).
 *
 * The first input byte chooses which synthetic search identifiers match, the rest is the
 * condition; resolution runs against a fixed identifier set so `x of` patterns and unknown
 * names are both reached.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "sigma/cond.h"

static int bit(void *ud, uint32_t idx) {
    return (int)((*(const uint8_t *)ud >> (idx & 7)) & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[] = {"sel",         "sel1", "selection_x", "filter",
                                        "filter_main", "_aux", "keywords",    "a"};
    if (!size) return 0;
    uint8_t truth = data[0];
    va_arena a;
    va_arena_init(&a, 0);
    va_cond_node *root;
    va_cond_error err;
    if (!va_cond_parse(&a, (const char *)data + 1, size - 1, &root, &err)) {
        char out[128];
        va_cond_format(root, out, sizeof out);
        if (!va_cond_resolve(root, names, 8, &a, &err)) (void)va_cond_eval(root, bit, &truth);
    }
    va_arena_free(&a);
    return 0;
}
