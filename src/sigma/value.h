/*
 * value.h - Sigma value matching: one field's value list plus its modifier chain, compiled once
 * and matched against event field values many times.
 *
 * The rule loader hands over the modifier chain text ("base64offset|contains") and the YAML
 * scalars of the field; va_value_compile applies the transforming modifiers (windash, base64,
 * utf16, expand, ...) to the pattern and builds a matcher.  The engine decides field presence
 * and repeated fields; this module answers "does this present value match" (va_value_match) and
 * "does an absent field satisfy the selection item" (va_value_absent).  Matching never allocates
 * except for growing a per-thread scratch fold buffer when the caller gives no folded subject.
 *
 * Case-insensitive matching compares simple-case-folded UTF-8 (va_value_fold): the pattern is
 * folded at compile time and the subject once per match, or once per field by the engine which
 * passes the folded text in va_value_subj.fold so that all rules share it.
 */
#ifndef VA_SIGMA_VALUE_H
#define VA_SIGMA_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/event.h"

/* The YAML type of a scalar as resolved by the loader (plain 4624 is INT, '4624' is STR). */
typedef enum va_value_kind {
    VA_VALUE_STR = 0,
    VA_VALUE_INT,   /* decimal, or 0x hexadecimal */
    VA_VALUE_FLOAT, /* decimal with fraction and/or exponent */
    VA_VALUE_BOOL,  /* "true" / "false" */
    VA_VALUE_NULL,  /* YAML null / ~ / empty plain scalar */
} va_value_kind;

/* One value of the rule, as written (escapes and wildcards still in the text). */
typedef struct va_value_lit {
    va_value_kind kind;
    const char *s; /* need not be NUL-terminated; may be NULL when n == 0 */
    size_t n;
} va_value_lit;

/* A placeholder for `expand`: %name% becomes any of vals (Sigma strings: wildcards allowed). */
typedef struct va_value_placeholder {
    const char *name; /* without the percent signs, NUL-terminated */
    const char *const *vals;
    size_t nvals;
} va_value_placeholder;

/* One present event value.  fold/fold_n: va_value_fold of s, or NULL to let the matcher fold it
 * (into the scratch buffer) when it needs to. */
typedef struct va_value_subj {
    const char *s;
    size_t n;
    va_vtype type;
    const char *fold;
    size_t fold_n;
} va_value_subj;

/* Flags of a compiled matcher, for the engine (va_value_flags). */
enum {
    VA_VALUE_F_ALL = 1u << 0,      /* `all`: every value must match (else any one) */
    VA_VALUE_F_NEQ = 1u << 1,      /* `neq`: va_value_match negates the list result */
    VA_VALUE_F_NULL = 1u << 2,     /* the value is null: matches absent or null-typed fields */
    VA_VALUE_F_EXISTS = 1u << 3,   /* `exists`: only presence counts (see va_value_absent) */
    VA_VALUE_F_FIELDREF = 1u << 4, /* `fieldref`: use va_value_match_ref with the named field */
    VA_VALUE_F_CASED = 1u << 5,    /* `cased` */
    VA_VALUE_F_NEEDFOLD = 1u << 6, /* some alternative compares folded text */
};

typedef struct va_value va_value;
typedef struct va_value_scratch va_value_scratch;

/* Compile the values vals[0..nvals) of one field with the modifier chain mods[0..mods_len)
 * (pipe-separated, without the field name; NULL or empty for none), applied in that order.
 * ph[0..nph) resolves `expand`.  mods, vals and ph are only read during the call. On success *out
 * lives in arena a; call va_value_free before the arena is reset or freed (it releases PCRE2 code).
 * On failure returns VA_EFORMAT (bad value or combination), VA_EUNSUPPORTED (modifier not
 * supported, named), VA_ELIMIT (expansion too large) or VA_ENOMEM, and *why gets a reason (static
 * or in a) naming the modifier or value. */
va_err va_value_compile(va_arena *a, const char *mods, size_t mods_len, const va_value_lit *vals,
                        size_t nvals, const va_value_placeholder *ph, size_t nph, va_value **out,
                        const char **why);
/* Release what the matcher holds outside its arena (regular expressions); NULL is fine. */
void va_value_free(va_value *m);

/* VA_VALUE_F_* flags. */
unsigned va_value_flags(const va_value *m);
/* Number of values as written in the rule (expansions stay inside their value). */
size_t va_value_nvalues(const va_value *m);
/* fieldref: the referenced field name of value i (owned by the matcher), or NULL. */
const char *va_value_ref_name(const va_value *m, size_t i, size_t *len);

/* Number of alternatives value i compiled to (windash, base64offset, expand... add some). */
size_t va_value_nalts(const va_value *m, size_t i);
/* Prefilter support: a byte string of at least minlen bytes that every subject matching
 * alternative k of value i contains, ASCII-case-insensitively (the longest run of the pattern's
 * folded literal text made of ASCII and of characters that case folding leaves alone).  Returns its
 * length and sets *lit (owned by the matcher), or 0 when there is none: numbers, regular
 * expressions, CIDR, field references, patterns without such a run.  Only the exactness caveat of
 * folding applies: U+212A and U+017F fold to ASCII 'k' and 's', so a subject holding them may match
 * without containing the run (the engine scans such events without the prefilter). */
size_t va_value_alt_literal(const va_value *m, size_t i, size_t k, size_t minlen, const char **lit);
/* The same run, but it may also hold non-ASCII characters that other characters fold to (the
 * Cyrillic а that А folds to): a scan must then look for every variant a subject may hold,
 * each such character replaced by each member of its fold class (va_value_fold_class). */
size_t va_value_alt_literal_folded(const va_value *m, size_t i, size_t k, size_t minlen,
                                   const char **lit);
/* The characters whose simple case folding is cp (cp itself first, if it folds to itself),
 * up to cap of them into out; returns how many there are. */
size_t va_value_fold_class(uint32_t cp, uint32_t *out, size_t cap);

/* Another prefilter fact: 1 and *out set if every subject matching alternative k of value i
 * that is a plain decimal integer (digits only) equals *out; 0 if the alternative is not such
 * an equality (ranges, text patterns, regular expressions...). */
int va_value_alt_int_eq(const va_value *m, size_t i, size_t k, int64_t *out);

/* What an absent field yields for this item: 1 for null and exists:false, else 0 (also with
 * neq: a field that is not there is not "different"). */
int va_value_absent(const va_value *m);
/* Match a present value: the OR (or AND with `all`) over the values, negated with `neq`.
 * 1 match, 0 no match.  A null-typed subject matches only the null value (and exists:true);
 * a fieldref matcher returns 0 here (use va_value_match_ref).  sc must not be NULL; nothing is
 * allocated except growth of sc's fold buffer when subj->fold is NULL. */
int va_value_match(const va_value *m, va_value_scratch *sc, const va_value_subj *subj);
/* Match value i alone, without `neq` (for engines combining repeated fields themselves). */
int va_value_match_value(const va_value *m, size_t i, va_value_scratch *sc,
                         const va_value_subj *subj);
/* fieldref: does subj relate to other (the referenced field's value) as value i demands
 * (equal, or contains/startswith/endswith; case-insensitive unless cased), without `neq`. */
int va_value_match_ref(const va_value *m, size_t i, va_value_scratch *sc, const va_value_subj *subj,
                       const va_value_subj *other);

/* Per-thread match state (PCRE2 match data and limits, fold buffer).  Free with
 * va_value_scratch_free; NULL if out of memory. */
va_value_scratch *va_value_scratch_new(void);
void va_value_scratch_free(va_value_scratch *sc);
/* Regular-expression matches that PCRE2 abandoned at a limit (match, depth or JIT stack) so
 * far, with sc.  Such a match returns 0 like a no-match; a caller that compares this count
 * before and after a match knows the answer was not decided (engine.c marks the alert). */
uint64_t va_value_scratch_limits(const va_value_scratch *sc);

/* Append the simple case folding of UTF-8 s[0..n) to out (bytes that are not valid UTF-8 are
 * copied unchanged).  out is caller-owned; check out->oom. */
void va_value_fold(const char *s, size_t n, va_buf *out);
/* 1 if some other code point folds to cp (so folded text may hold cp where the text did not). */
int va_value_fold_is_target(uint32_t cp);
/* Simple case folding of one code point (locale-independent; Latin, Greek, Cyrillic,
 * Armenian and a few symbol blocks). */
uint32_t va_value_fold_cp(uint32_t cp);

#endif
