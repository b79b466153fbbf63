/*
 * fuzz_evtx_chunk.c - libFuzzer target: one chunk behind a valid file header.
 *
 * The input is the chunk itself, so the fuzzer spends its effort on records, templates and
 * binary XML instead of rediscovering the file header.  CRCs are ignored for the same reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    if (size > VA_EVTX_CHUNK_SIZE) size = VA_EVTX_CHUNK_SIZE;
    uint8_t *buf = calloc(1, VA_EVTX_HEADER_SIZE + VA_EVTX_CHUNK_SIZE);
    if (!buf) return 0;
    memcpy(buf, "ElfFile", 8);
    buf[32] = 128;                      /* header size */
    buf[36] = 1, buf[38] = 3;           /* version 3.1 */
    buf[41] = VA_EVTX_HEADER_SIZE >> 8; /* header block size 4096 */
    buf[42] = 1;                        /* one chunk */
    uint32_t crc = va_evtx_crc32(0, buf, 120);
    memcpy(buf + 124, &crc, 4);
    memcpy(buf + VA_EVTX_HEADER_SIZE, data, size);
    va_evtx_file *f;
    if (va_evtx_open_mem("fuzz.evtx", buf, VA_EVTX_HEADER_SIZE + VA_EVTX_CHUNK_SIZE, no_diag, NULL,
                         &f) == VA_OK) {
        va_evtx_ctx *c = va_evtx_ctx_new();
        if (c) {
            va_evtx_opts o = {.ignore_crc = 1, .want_xml = 1, .want_event = 1, .threads = 1};
            va_evtx_stats st = {0};
            size_t n = 0;
            va_evtx_chunk_parse(f, 0, &o, c, &st, count, &n);
            va_evtx_ctx_free(c);
        }
        va_evtx_close(f);
    }
    free(buf);
    return 0;
}
