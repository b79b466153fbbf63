/*
 * utf.h - UTF-8 and UTF-16 helpers.
 *
 * Windows stores text as UTF-16LE, possibly with unpaired surrogates; everything inside vaern
 * is valid UTF-8.  Conversion happens once, at parse time, and replaces anything invalid with
 * U+FFFD so that output (JSON, XML, terminal) never carries broken text.
 */
#ifndef VA_CORE_UTF_H
#define VA_CORE_UTF_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"

/* Decode one code point from s[0..n) (n > 0).  Returns bytes consumed (1..4); on invalid or
 * overlong input sets *cp = 0xFFFD and consumes 1 byte. */
size_t va_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* Encode cp as UTF-8 into out (>= 4 bytes); returns bytes written. */
size_t va_utf8_enc(uint32_t cp, char *out);
/* Bytes of UTF-8 needed at most for n UTF-16 code units. */
static inline size_t va_utf16_max_utf8(size_t n) {
    return n * 3;
}
/* Convert n UTF-16LE code units at p to UTF-8 in out (>= va_utf16_max_utf8(n) bytes).  Unpaired
 * surrogates become U+FFFD.  Returns bytes written (no NUL added). */
size_t va_utf16le_conv(const uint8_t *p, size_t n, char *out);

/* Option of va_utf16le_conv_ex: the text ends at the first NUL code unit (Windows' rule). */
#define VA_UTF16_STOP_NUL 1u
/* Its finding (a bit of *found): the text holds a character that a JSON string escapes (a
 * control character, '"' or '\\'), so it cannot be copied as is. */
#define VA_UTF16_JSON_ESC 1u
/* va_utf16le_conv with options; ORs its findings into *found, so that a caller can learn in the
 * same pass whether the text needs escaping later. */
size_t va_utf16le_conv_ex(const uint8_t *p, size_t n, char *out, unsigned opts, unsigned *found);
/* Same, into arena memory with a terminating NUL; *len gets the length.  NULL if OOM. */
char *va_utf16le_dup(va_arena *a, const uint8_t *p, size_t n, size_t *len);
char *va_utf16le_dup_ex(va_arena *a, const uint8_t *p, size_t n, size_t *len, unsigned *found);
/* Append the conversion to a buffer. */
void va_utf16le_buf(va_buf *b, const uint8_t *p, size_t n);
void va_utf16le_buf_ex(va_buf *b, const uint8_t *p, size_t n, unsigned opts, unsigned *found);
/* 1 if s[0..n) is valid UTF-8. */
int va_utf8_valid(const char *s, size_t n);

#endif
