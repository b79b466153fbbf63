/*
 * fuzz_json_events.c - libFuzzer target: the JSON Windows-event reader over arbitrary input.
 *
 * The input is fed in pieces whose sizes come from its first byte, so the object scanner's
 * handling of values split across reads is exercised as well as the parser and the mapping.
 */
#include <stddef.h>
#include <stdint.h>

#include "json/winevent.h"

static void no_diag(void *ud, const va_diag *d) {
    (void)ud, (void)d;
}

static int on_event(void *ud, const va_event *ev) {
    va_buf *b = ud;
    va_buf_clear(b);
    va_event_json(ev, b); /* touch every field */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t piece = (size_t)data[0] % 64 + 1;
    data++, size--;
    va_buf b;
    va_buf_init(&b);
    va_jsonev_opts o = {.max_object = 1 << 16, .max_depth = 64};
    va_jsonev_reader *r = va_jsonev_new("fuzz.json", &o, no_diag, NULL, on_event, &b);
    if (r) {
        for (size_t off = 0; off < size; off += piece) {
            size_t n = size - off < piece ? size - off : piece;
            if (va_jsonev_feed(r, data + off, n) != VA_OK) break;
        }
        va_jsonev_end(r);
        va_jsonev_free(r);
    }
    va_buf_free(&b);
    return 0;
}
