/*
 * buf.h - growable byte buffer (vaern's "sds"): output assembly for JSON, XML and reports.
 *
 * A va_buf owns its memory (free with va_buf_free).  Appends never fail loudly: on allocation
 * failure the buffer sets ->oom, keeps what it had and ignores further appends, so an emitter
 * can write a whole record and check once at the end.
 */
#ifndef VA_CORE_BUF_H
#define VA_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct va_buf {
    char *p;    /* NUL-terminated when cap > 0 */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
    int oom;    /* an append failed */
} va_buf;

void va_buf_init(va_buf *b);
void va_buf_free(va_buf *b);
/* Make room for extra more bytes; 0 on success, -1 (and oom set) on failure. */
int va_buf_reserve(va_buf *b, size_t extra);
/* Empty b for the next unit of output; also forgets an earlier failed append (the caller has
 * checked ->oom for what it wrote before), so a reused buffer recovers once memory is back. */
static inline void va_buf_clear(va_buf *b) {
    b->len = 0;
    b->oom = 0;
    if (b->cap) b->p[0] = 0;
}
void va_buf_put_slow(va_buf *b, const void *p, size_t n);
/* Append n bytes (the common case, room available, stays inline). */
static inline void va_buf_put(va_buf *b, const void *p, size_t n) {
    if (!n) return; /* nothing to copy (p may then be NULL) */
    if (b->len + n + 1 <= b->cap) {
        __builtin_memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = 0;
        return;
    }
    va_buf_put_slow(b, p, n);
}
static inline void va_buf_putc(va_buf *b, char c) {
    va_buf_put(b, &c, 1);
}
void va_buf_puts(va_buf *b, const char *s);
void va_buf_printf(va_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void va_buf_u64(va_buf *b, uint64_t v);
/* "00" "01" ... "99": the two digits of n at va_digit_pairs + 2 * n (n < 100), for formatting
 * decimals two digits a step. */
extern const char va_digit_pairs[201];
void va_buf_i64(va_buf *b, int64_t v);
/* Append s (UTF-8, n bytes) as a quoted JSON string; invalid UTF-8 becomes U+FFFD. */
void va_buf_json_str(va_buf *b, const char *s, size_t n);
/* Same for text already known to be valid UTF-8 (event values are, by construction): only
 * quotes, backslashes and control characters are escaped, bytes >= 0x80 copied as they are. */
void va_buf_json_str_valid(va_buf *b, const char *s, size_t n);
/* Append s escaped as XML character data (&, <, > and, in attributes, quotes). */
void va_buf_xml_esc(va_buf *b, const char *s, size_t n, int in_attr);

#endif
