/*
 * cond.h - Sigma detection conditions: parse, resolve against search identifiers, evaluate.
 *
 * A condition string ("sel and not 1 of filter_*") becomes an AST in the caller's arena.  The
 * rule loader resolves every identifier and `x of` pattern to indices into the rule's search
 * identifiers once, so that the engine evaluates with integer lookups only: it supplies a
 * callback that says whether search identifier i matched the event.  Precedence, least to
 * most binding (Sigma rules specification 2.1): or, and, not, x of, parentheses.
 */
#ifndef VA_SIGMA_COND_H
#define VA_SIGMA_COND_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"

/* Nesting bound (parentheses and `not`): deeper conditions fail with VA_ELIMIT, so that
 * parsing and evaluation recursion stay bounded whatever the input. */
#define VA_COND_MAX_DEPTH 256

typedef enum va_cond_kind {
    VA_COND_ID = 1, /* one search identifier */
    VA_COND_NOT,    /* kids[0] negated */
    VA_COND_AND,    /* all kids (n-ary, so long chains do not deepen the tree) */
    VA_COND_OR,     /* any kid */
    VA_COND_OF,     /* `N of pattern`, `all of pattern`, `1 of them`... */
} va_cond_kind;

typedef struct va_cond_node va_cond_node;
struct va_cond_node {
    va_cond_kind kind;
    uint32_t pos;     /* byte offset of the node's first token in the condition text */
    const char *name; /* ID: identifier; OF: pattern, NULL for `them` */
    uint32_t count;   /* OF: how many must match; 0 means all */
    va_cond_node **kids;
    uint32_t nkids;
    /* Filled by va_cond_resolve: ID has one index, OF the indices its pattern selects. */
    uint32_t *ids;
    uint32_t nids;
};

/* Where and why a condition is wrong.  msg is static or arena text. */
typedef struct va_cond_error {
    va_err code;  /* VA_EFORMAT syntax, VA_ELIMIT nesting, VA_EUNSUPPORTED, VA_ENOMEM */
    uint32_t pos; /* byte offset into the condition text */
    const char *msg;
} va_cond_error;

/* Parse text[0..len) into *out; nodes and names live in arena a (freed with it).  On failure
 * returns the code and fills *err (err may be NULL). */
va_err va_cond_parse(va_arena *a, const char *text, size_t len, va_cond_node **out,
                     va_cond_error *err);

/* Bind identifiers and patterns to indices into names[0..n) (the rule's search identifiers).
 * An unknown identifier or a pattern that selects nothing is VA_EFORMAT with the node's pos.
 * Index arrays are allocated from a. */
va_err va_cond_resolve(va_cond_node *root, const char *const *names, uint32_t n, va_arena *a,
                       va_cond_error *err);

/* Truth values of evaluation.  UNKNOWN is a search identifier the engine could not decide
 * (a regular expression stopped by its match limit): it propagates by three-valued logic
 * (not UNKNOWN is UNKNOWN, false and UNKNOWN is false, true or UNKNOWN is true), so that a
 * limit never silently turns into "no match" and the engine can decide in favour of the
 * alert, marked as undecided. */
enum { VA_COND_FALSE = 0, VA_COND_TRUE = 1, VA_COND_UNKNOWN = 2 };

/* VA_COND_TRUE, _FALSE or _UNKNOWN for search identifier idx; the engine's hook. */
typedef int (*va_cond_match_fn)(void *ud, uint32_t idx);

/* Evaluate a resolved AST to VA_COND_TRUE, _FALSE or _UNKNOWN (see above).  Short-circuits on
 * decided values, so fn is not called for every identifier. */
int va_cond_eval(const va_cond_node *root, va_cond_match_fn fn, void *ud);

/* 1 if name matches pattern, where `*` stands for any run of characters (case-sensitive, as
 * identifiers are YAML keys). */
int va_cond_pattern_match(const char *pattern, const char *name);

/* Append a fully parenthesised rendering of the AST to out[0..cap) (truncating, always
 * NUL-terminated when cap > 0); returns the length it would need.  For tests and --verbose. */
size_t va_cond_format(const va_cond_node *root, char *out, size_t cap);

#endif
