/*
 * fuzz_evtx_file.c - libFuzzer target: a whole EVTX file, every chunk, both renderings.
 */
#include <stddef.h>
#include <stdint.h>

#include "evtx/evtx.h"

static void no_diag(void *ud, const va_diag *d) {
    (void)ud, (void)d;
}

static int count(void *ud, const va_evtx_rec *r) {
    (void)r;
    (*(size_t *)ud)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    va_evtx_file *f;
    if (va_evtx_open_mem("fuzz.evtx", data, size, no_diag, NULL, &f) != VA_OK) return 0;
    va_evtx_ctx *c = va_evtx_ctx_new();
    if (c) {
        va_evtx_opts o = {.ignore_crc = 1, .want_xml = 1, .want_event = 1, .threads = 1};
        va_evtx_stats st = {0};
        size_t n = 0;
        for (uint32_t i = 0; i < va_evtx_nchunks(f) && i < 64; i++)
            va_evtx_chunk_parse(f, i, &o, c, &st, count, &n);
        va_evtx_ctx_free(c);
    }
    va_evtx_close(f);
    return 0;
}
