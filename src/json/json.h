/*
 * json.h - vaern's JSON parser (RFC 8259) into a DOM that lives in a va_arena.
 *
 * JSON sources (Windows event exports, Zeek, Suricata EVE, ...) are parsed one document at a
 * time into an arena that the caller resets per document, so memory is bounded by the largest
 * document, never by the file.  The parser is strict about structure and careful about text:
 *
 *   - UTF-8: invalid byte sequences in strings become U+FFFD (one per bad byte) so that parsing
 *     carries on and every string in the DOM is valid UTF-8; with opts.strict_utf8 they are an
 *     error instead.  Bytes outside strings must be JSON syntax, so stray non-ASCII is an error.
 *   - \u escapes are decoded, surrogate pairs combined; an unpaired surrogate becomes U+FFFD.
 *     \u0000 is kept: strings carry a length and may contain NUL.
 *   - numbers keep their source text (no precision lost) plus a kind: unsigned integer, signed
 *     integer (leading '-') or real (fraction or exponent).
 *   - limits: document size (max_size) and nesting depth (max_depth), both VA_ELIMIT.
 *   - duplicate object keys are kept in document order; va_json_get returns the first.
 *
 * Errors carry the code (VA_EFORMAT bad syntax, VA_ETRUNC input ends inside a value, VA_ELIMIT
 * a limit, VA_ENOMEM), byte offset, 1-based line and column (column counts characters) and a
 * reason.  The DOM never points into the input text: the input may be freed after parsing.
 */
#ifndef VA_JSON_JSON_H
#define VA_JSON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/event.h"

#define VA_JSON_DEFAULT_MAX_SIZE  ((size_t)64 << 20) /* bytes */
#define VA_JSON_DEFAULT_MAX_DEPTH 512
#define VA_JSON_HARD_MAX_DEPTH    4096 /* the parser recurses: this bounds its stack use */

typedef enum va_json_type {
    VA_JSON_NULL = 0,
    VA_JSON_BOOL,
    VA_JSON_NUMBER,
    VA_JSON_STRING,
    VA_JSON_ARRAY,
    VA_JSON_OBJECT,
} va_json_type;

typedef enum va_json_num {
    VA_JSON_UINT = 0, /* integer without sign */
    VA_JSON_INT,      /* integer with a leading '-' */
    VA_JSON_REAL,     /* has a fraction or an exponent */
} va_json_num;

typedef struct va_json va_json;
struct va_json {
    uint8_t type; /* va_json_type */
    uint8_t num;  /* va_json_num, for numbers */
    uint8_t b;    /* value of a boolean */
    /* Scalars: decoded string, number text, "true"/"false", or "" for null; NUL-terminated.
     * Containers: "". */
    const char *s;
    size_t len;
    const char *key; /* member name when the value is inside an object, else NULL */
    size_t klen;
    size_t off;     /* byte offset of the value in the input */
    uint32_t n;     /* number of items or members */
    va_json *child; /* first item or member, in document order */
    va_json *next;  /* next sibling */
};

typedef struct va_json_opts {
    size_t max_size; /* 0: VA_JSON_DEFAULT_MAX_SIZE */
    int max_depth;   /* 0: VA_JSON_DEFAULT_MAX_DEPTH; capped at VA_JSON_HARD_MAX_DEPTH */
    int strict_utf8; /* invalid UTF-8 in a string is an error rather than U+FFFD */
} va_json_opts;

typedef struct va_json_error {
    va_err code;
    size_t offset; /* byte offset of the problem in the input */
    uint32_t line; /* 1-based; 0 when the input was refused for its size before being read */
    uint32_t col;  /* 1-based, in characters; 0 likewise */
    char reason[96];
} va_json_error;

/* Parse text[0..len) (one JSON value, surrounding whitespace allowed).  On success *out is the
 * root, allocated from a: it is freed by va_arena_reset/va_arena_free of a, nothing else to
 * free.  On failure returns the code, fills *err when err is not NULL and leaves *out NULL;
 * what was allocated from a stays there until the caller resets it.  o may be NULL. */
va_err va_json_parse(va_arena *a, const char *text, size_t len, const va_json_opts *o,
                     va_json **out, va_json_error *err);

/* First member of object v named key (NUL-terminated), or NULL (also if v is not an object).
 * Borrowed from v's arena. */
const va_json *va_json_get(const va_json *v, const char *key);
/* Same with a key of klen bytes. */
const va_json *va_json_getn(const va_json *v, const char *key, size_t klen);
/* 1 for null, booleans, numbers and strings. */
int va_json_is_scalar(const va_json *v);
/* The flat-event type of a scalar: VA_V_NULL, VA_V_BOOL, VA_V_UINT/INT/REAL or VA_V_STR. */
va_vtype va_json_vtype(const va_json *v);
/* Static name of a type ("null", "boolean", "number", "string", "array", "object"). */
const char *va_json_type_name(va_json_type t);

#endif
