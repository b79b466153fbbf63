/*
 * rule.h - Sigma 2.1 rule model and YAML loader (detection, filter and correlation rules).
 *
 * The loader reads YAML with libyaml into a faithful model of each document: metadata,
 * logsource, search identifiers (field maps with their modifier chains kept as strings, lists
 * of maps, keyword lists), conditions parsed and resolved by cond.h, filter and correlation
 * sections.  It does not interpret values or modifiers: the matcher (value.h) compiles them.
 * Everything a loaded rule points to lives in the caller's arena; a rule set is freed by
 * resetting or freeing that arena.  Problems are reported per document with file, line and
 * column (1-based) through a callback, and loading carries on with the next document or file.
 */
#ifndef VA_SR_RULE_H
#define VA_SR_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "sigma/cond.h"

/* A value's YAML type, resolved with the YAML 1.2 core schema (quoted scalars are strings). */
typedef enum va_sr_vtype {
    VA_SR_STR = 1,
    VA_SR_INT,
    VA_SR_FLOAT,
    VA_SR_BOOL,
    VA_SR_NULL,
} va_sr_vtype;

typedef struct va_sr_value {
    va_sr_vtype type;
    const char *text; /* scalar text as written (unquoted), NUL-terminated */
    uint32_t len;
    uint32_t line, col;
    int64_t i; /* INT: value (saturated); BOOL: 0/1 */
    double f;  /* INT and FLOAT: numeric value */
} va_sr_value;

typedef struct va_sr_strs {
    const char **v;
    uint32_t n;
} va_sr_strs;

/* `name|mod1|mod2: value(s)`.  An empty name (key `|all`) is a keyword search. */
typedef struct va_sr_field {
    const char *name;
    va_sr_strs mods; /* in rule order, as written */
    va_sr_value *vals;
    uint32_t nvals;
    int is_list; /* the value was a YAML sequence (even of one item) */
    uint32_t line, col;
} va_sr_field;

/* One map: all fields must match (AND). */
typedef struct va_sr_map {
    va_sr_field *fields;
    uint32_t n;
    uint32_t line, col;
} va_sr_map;

typedef enum va_sr_skind {
    VA_SR_SEARCH_MAP = 1, /* maps[0] */
    VA_SR_SEARCH_MAPLIST, /* any of maps[0..nmaps) */
    VA_SR_SEARCH_KEYWORDS /* any of keywords[] anywhere in the event */
} va_sr_skind;

typedef struct va_sr_search {
    const char *name;
    va_sr_skind kind;
    va_sr_map *maps;
    uint32_t nmaps;
    va_sr_value *keywords;
    uint32_t nkeywords;
    uint32_t line, col;
} va_sr_search;

typedef struct va_sr_cond {
    const char *text;
    va_sc_node *ast; /* resolved against the enclosing detection's searches */
    uint32_t line, col;
} va_sr_cond;

/* Search identifiers plus condition(s); several conditions are OR-ed (spec). */
typedef struct va_sr_detection {
    va_sr_search *searches;
    uint32_t nsearches;
    const char **names; /* searches[i].name, the array va_sc_resolve takes */
    va_sr_cond *conds;
    uint32_t nconds;
} va_sr_detection;

typedef struct va_sr_logsource {
    const char *product, *category, *service, *definition; /* NULL if absent */
} va_sr_logsource;

typedef struct va_sr_related {
    const char *type, *id;
} va_sr_related;

typedef enum va_sr_kind {
    VA_SR_KIND_DETECTION = 1,
    VA_SR_KIND_FILTER,
    VA_SR_KIND_CORRELATION,
} va_sr_kind;

typedef enum va_sr_ctype {
    VA_SR_EVENT_COUNT = 1,
    VA_SR_VALUE_COUNT,
    VA_SR_TEMPORAL,
    VA_SR_TEMPORAL_ORDERED,
    VA_SR_VALUE_SUM,
    VA_SR_VALUE_AVG,
    VA_SR_VALUE_PERCENTILE,
} va_sr_ctype;

typedef enum va_sr_cmpop {
    VA_SR_GT = 1,
    VA_SR_GTE,
    VA_SR_LT,
    VA_SR_LTE,
    VA_SR_EQ,
    VA_SR_NEQ
} va_sr_cmpop;

typedef struct va_sr_cmp {
    va_sr_cmpop op;
    va_sr_value v; /* INT or FLOAT */
} va_sr_cmp;

/* aliases: alias -> (rule name -> field) */
typedef struct va_sr_alias {
    const char *alias;
    const char **rule;
    const char **field;
    uint32_t n;
} va_sr_alias;

typedef struct va_sr_correlation {
    va_sr_ctype type;
    va_sr_strs rules;    /* ids or names of the correlated rules */
    va_sr_strs group_by; /* empty if absent */
    const char *timespan;
    int64_t timespan_s; /* timespan in seconds */
    va_sr_cmp *cmps;    /* condition criteria, AND-ed; none if absent (temporal) */
    uint32_t ncmps;
    va_sr_strs fields; /* condition `field` (string or list, AND-ed) */
    int generate;      /* -1 absent, else 0/1 */
    va_sr_alias *aliases;
    uint32_t naliases;
} va_sr_correlation;

typedef struct va_sr_filter {
    va_sr_strs rules; /* ids or names the filter applies to */
    va_sr_detection det;
} va_sr_filter;

typedef struct va_sr_rule va_sr_rule;
struct va_sr_rule {
    va_sr_kind kind;
    const char *file;
    uint32_t doc; /* 0-based document index in the file */
    uint32_t line, col;
    const char *title, *id, *name, *status, *level, *description, *license, *author, *date,
        *modified, *taxonomy;
    va_sr_strs references, tags, falsepositives, fields, scope;
    va_sr_related *related;
    uint32_t nrelated;
    va_sr_logsource logsource;
    va_sr_detection detection; /* KIND_DETECTION */
    va_sr_filter filter;       /* KIND_FILTER */
    va_sr_correlation corr;    /* KIND_CORRELATION */
    va_sr_rule *next;          /* in its va_sr_set */
};

/* Rules loaded so far, in load order.  All memory is in the arena given to the loader. */
typedef struct va_sr_set {
    va_sr_rule *head, *tail;
    uint32_t n;
} va_sr_set;

/* One rejected document or file.  Pointers are borrowed for the callback only. */
typedef struct va_sr_diag {
    const char *file;
    uint32_t line, col; /* 1-based; 0 if unknown (e.g. file not readable) */
    va_err code;
    const char *msg;
} va_sr_diag;

typedef void (*va_sr_diag_fn)(void *ud, const va_sr_diag *d);

/* Totals kept by the loaders (callers zero it once and pass it to every call). */
typedef struct va_sr_stats {
    uint32_t files, files_failed;
    uint32_t docs_failed;
    uint32_t by_kind[4]; /* loaded rules by va_sr_kind */
} va_sr_stats;

/* Load every YAML document of text[0..len) (file names the source in rules and diagnostics
 * and must outlive the set).  Good documents are appended to set, bad ones reported via
 * diag (may be NULL).  Returns VA_OK if all loaded, else the first failure's code; VA_ENOMEM
 * stops loading.  Memory: arena a. */
va_err va_sr_load_mem(va_arena *a, const char *file, const char *text, size_t len, va_sr_set *set,
                      va_sr_diag_fn diag, void *ud, va_sr_stats *st);
/* Same for a file read from disk (path is copied into the arena). */
va_err va_sr_load_file(va_arena *a, const char *path, va_sr_set *set, va_sr_diag_fn diag, void *ud,
                       va_sr_stats *st);
/* Load path: a file, or a directory walked recursively for *.yml and *.yaml in byte-sorted
 * name order (hidden entries skipped).  Reports each failure and goes on; returns VA_OK if
 * everything loaded, VA_EFORMAT/VA_EIO/... for the first failure, VA_ENOMEM if it stopped. */
va_err va_sr_load_path(va_arena *a, const char *path, va_sr_set *set, va_sr_diag_fn diag, void *ud,
                       va_sr_stats *st);

/* Most threads va_sr_load_paths uses. */
#define VA_SR_MAX_THREADS 16

/* Load several paths (files, or directories walked as va_sr_load_path does) with up to
 * nthreads threads: the files are listed first, then split into contiguous runs of about equal
 * size, each loaded by one thread into its own arena, arenas[0..nthreads) (all must outlive
 * the set).  The runs are joined in order and diagnostics delivered in file order on the
 * calling thread, so the set, the stats and the reports are those of loading the paths one by
 * one.  Returns as va_sr_load_path. */
va_err va_sr_load_paths(va_arena *arenas, int nthreads, const char *const *paths, size_t npaths,
                        va_sr_set *set, va_sr_diag_fn diag, void *ud, va_sr_stats *st);

/* Static names for enums ("detection", "event_count", "gte", "string", ...). */
const char *va_sr_kind_name(va_sr_kind k);
const char *va_sr_ctype_name(va_sr_ctype t);
const char *va_sr_cmpop_name(va_sr_cmpop op);
const char *va_sr_vtype_name(va_sr_vtype t);

#endif
