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
#ifndef VA_SIGMA_RULE_H
#define VA_SIGMA_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "sigma/cond.h"

/* A value's YAML type, resolved with the YAML 1.2 core schema (quoted scalars are strings). */
typedef enum va_rule_vtype {
    VA_RULE_STR = 1,
    VA_RULE_INT,
    VA_RULE_FLOAT,
    VA_RULE_BOOL,
    VA_RULE_NULL,
} va_rule_vtype;

typedef struct va_rule_value {
    va_rule_vtype type;
    const char *text; /* scalar text as written (unquoted), NUL-terminated */
    uint32_t len;
    uint32_t line, col;
    int64_t i; /* INT: value (saturated); BOOL: 0/1 */
    double f;  /* INT and FLOAT: numeric value */
} va_rule_value;

typedef struct va_rule_strs {
    const char **v;
    uint32_t n;
} va_rule_strs;

/* `name|mod1|mod2: value(s)`.  An empty name (key `|all`) is a keyword search. */
typedef struct va_rule_field {
    const char *name;
    va_rule_strs mods; /* in rule order, as written */
    va_rule_value *vals;
    uint32_t nvals;
    int is_list; /* the value was a YAML sequence (even of one item) */
    uint32_t line, col;
} va_rule_field;

/* One map: all fields must match (AND). */
typedef struct va_rule_map {
    va_rule_field *fields;
    uint32_t n;
    uint32_t line, col;
} va_rule_map;

typedef enum va_rule_skind {
    VA_RULE_SEARCH_MAP = 1, /* maps[0] */
    VA_RULE_SEARCH_MAPLIST, /* any of maps[0..nmaps) */
    VA_RULE_SEARCH_KEYWORDS /* any of keywords[] anywhere in the event */
} va_rule_skind;

typedef struct va_rule_search {
    const char *name;
    va_rule_skind kind;
    va_rule_map *maps;
    uint32_t nmaps;
    va_rule_value *keywords;
    uint32_t nkeywords;
    uint32_t line, col;
} va_rule_search;

typedef struct va_rule_cond {
    const char *text;
    va_cond_node *ast; /* resolved against the enclosing detection's searches */
    uint32_t line, col;
} va_rule_cond;

/* Search identifiers plus condition(s); several conditions are OR-ed (spec). */
typedef struct va_rule_detection {
    va_rule_search *searches;
    uint32_t nsearches;
    const char **names; /* searches[i].name, the array va_cond_resolve takes */
    va_rule_cond *conds;
    uint32_t nconds;
} va_rule_detection;

typedef struct va_rule_logsource {
    const char *product, *category, *service, *definition; /* NULL if absent */
} va_rule_logsource;

typedef struct va_rule_related {
    const char *type, *id;
} va_rule_related;

typedef enum va_rule_kind {
    VA_RULE_KIND_DETECTION = 1,
    VA_RULE_KIND_FILTER,
    VA_RULE_KIND_CORRELATION,
} va_rule_kind;

typedef enum va_rule_ctype {
    VA_RULE_EVENT_COUNT = 1,
    VA_RULE_VALUE_COUNT,
    VA_RULE_TEMPORAL,
    VA_RULE_TEMPORAL_ORDERED,
    VA_RULE_VALUE_SUM,
    VA_RULE_VALUE_AVG,
    VA_RULE_VALUE_PERCENTILE,
} va_rule_ctype;

typedef enum va_rule_cmpop {
    VA_RULE_GT = 1,
    VA_RULE_GTE,
    VA_RULE_LT,
    VA_RULE_LTE,
    VA_RULE_EQ,
    VA_RULE_NEQ
} va_rule_cmpop;

typedef struct va_rule_cmp {
    va_rule_cmpop op;
    va_rule_value v; /* INT or FLOAT */
} va_rule_cmp;

/* aliases: alias -> (rule name -> field) */
typedef struct va_rule_alias {
    const char *alias;
    const char **rule;
    const char **field;
    uint32_t n;
} va_rule_alias;

typedef struct va_rule_correlation {
    va_rule_ctype type;
    va_rule_strs rules;    /* ids or names of the correlated rules */
    va_rule_strs group_by; /* empty if absent */
    const char *timespan;
    int64_t timespan_s; /* timespan in seconds */
    va_rule_cmp *cmps;  /* condition criteria, AND-ed; none if absent (temporal) */
    uint32_t ncmps;
    va_rule_strs fields; /* condition `field` (string or list, AND-ed) */
    int generate;        /* -1 absent, else 0/1 */
    va_rule_alias *aliases;
    uint32_t naliases;
} va_rule_correlation;

typedef struct va_rule_filter {
    va_rule_strs rules; /* ids or names the filter applies to */
    va_rule_detection det;
} va_rule_filter;

typedef struct va_rule va_rule;
struct va_rule {
    va_rule_kind kind;
    const char *file;
    uint32_t doc; /* 0-based document index in the file */
    uint32_t line, col;
    const char *title, *id, *name, *status, *level, *description, *license, *author, *date,
        *modified, *taxonomy;
    va_rule_strs references, tags, falsepositives, fields, scope;
    va_rule_related *related;
    uint32_t nrelated;
    va_rule_logsource logsource;
    va_rule_detection detection; /* KIND_DETECTION */
    va_rule_filter filter;       /* KIND_FILTER */
    va_rule_correlation corr;    /* KIND_CORRELATION */
    va_rule *next;               /* in its va_rule_set */
};

/* Rules loaded so far, in load order.  All memory is in the arena given to the loader. */
typedef struct va_rule_set {
    va_rule *head, *tail;
    uint32_t n;
} va_rule_set;

/* One rejected document or file.  Pointers are borrowed for the callback only. */
typedef struct va_rule_diag {
    const char *file;
    uint32_t line, col; /* 1-based; 0 if unknown (e.g. file not readable) */
    va_err code;
    const char *msg;
} va_rule_diag;

typedef void (*va_rule_diag_fn)(void *ud, const va_rule_diag *d);

/* Totals kept by the loaders (callers zero it once and pass it to every call). */
typedef struct va_rule_stats {
    uint32_t files, files_failed;
    uint32_t docs_failed;
    uint32_t by_kind[4]; /* loaded rules by va_rule_kind */
    uint32_t cached;     /* files whose parsed YAML came from the cache (va_rule_load_paths) */
    uint32_t unread;     /* of those, files known unchanged by their stamp and not read */
} va_rule_stats;

/* Load every YAML document of text[0..len) (file names the source in rules and diagnostics
 * and must outlive the set).  Good documents are appended to set, bad ones reported via
 * diag (may be NULL).  Returns VA_OK if all loaded, else the first failure's code; VA_ENOMEM
 * stops loading.  Memory: arena a. */
va_err va_rule_load_mem(va_arena *a, const char *file, const char *text, size_t len,
                        va_rule_set *set, va_rule_diag_fn diag, void *ud, va_rule_stats *st);
/* Same for a file read from disk (path is copied into the arena). */
va_err va_rule_load_file(va_arena *a, const char *path, va_rule_set *set, va_rule_diag_fn diag,
                         void *ud, va_rule_stats *st);
/* Load path: a file, or a directory walked recursively for *.yml and *.yaml in byte-sorted
 * name order (core/walk.h: hidden entries skipped, each directory once; a folder that cannot
 * be read and a link loop are reported, with line 0).  Reports each failure and goes on;
 * returns VA_OK if everything loaded, VA_EFORMAT/VA_EIO/... for the first failure, VA_ENOMEM
 * if it stopped. */
va_err va_rule_load_path(va_arena *a, const char *path, va_rule_set *set, va_rule_diag_fn diag,
                         void *ud, va_rule_stats *st);

/* Most threads va_rule_load_paths uses. */
#define VA_RULE_MAX_THREADS 16

/* Load several paths (files, or directories walked as va_rule_load_path does) with up to
 * nthreads threads: the files are listed first, then split into contiguous runs of about equal
 * size, each loaded by one thread into its own arena, arenas[0..nthreads) (all must outlive
 * the set).  The runs are joined in order and diagnostics (the folder walk's among the files')
 * delivered in walk order on the calling thread, so the set, the stats, the reports and the
 * result are those of loading the paths one by one.  cache_dir (NULL or "": none) is a folder
 * (made if missing) where the parsed YAML of every file is kept, one pack per list of paths,
 * and taken from next time for a file with the same bytes instead of parsing it again (libyaml's
 * parse is most of the cost); the rules and reports are the same either way, and a pack that
 * is damaged or cannot be written only costs time.  Returns as va_rule_load_path. */
va_err va_rule_load_paths(va_arena *arenas, int nthreads, const char *const *paths, size_t npaths,
                          const char *cache_dir, va_rule_set *set, va_rule_diag_fn diag, void *ud,
                          va_rule_stats *st);

/* Static names for enums ("detection", "event_count", "gte", "string", ...). */
const char *va_rule_kind_name(va_rule_kind k);
const char *va_rule_ctype_name(va_rule_ctype t);
const char *va_rule_cmpop_name(va_rule_cmpop op);
const char *va_rule_vtype_name(va_rule_vtype t);

/* A rule whose id an earlier rule of the set already has (ids are UUIDs: compared ignoring
 * ASCII case).  Both rules are the set's (borrowed for the callback). */
typedef void (*va_rule_dup_fn)(void *ud, const va_rule *first, const va_rule *again);
/* Call fn (may be NULL) for each rule of set, in set order, whose id an earlier rule has,
 * with the first rule that had it; rules without an id are not compared.  The count goes to
 * *ndup (may be NULL).  VA_OK, or VA_ENOMEM (it stopped; what was reported stands).  Its memory is
 * freed before it returns. */
va_err va_rule_duplicate_ids(const va_rule_set *set, va_rule_dup_fn fn, void *ud, uint32_t *ndup);

#endif
