/*
 * logsource.h - which events a Sigma rule's logsource selects (the "logsource mapping").
 *
 * A mapping is loaded from YAML (config/sigma/logsources.yml; a copy is built into vaern and
 * used unless another file is given).  For each product it lists categories and services,
 * each with routes: the channels and event IDs an event must have to be seen by a rule of
 * that logsource, and how rule fields read the event on that route (renames, e.g. Image is
 * NewProcessName in Security 4688, and value conversions).  The engine asks for a rule's routes
 * once, at compile time, and indexes rules by them, so a rule only ever sees events of its
 * logsource.
 */
#ifndef VA_SIGMA_LOGSOURCE_H
#define VA_SIGMA_LOGSOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"

/* How a rule's field reads an event on a route where the event names or writes it otherwise
 * (Security 4688's NewProcessName is Sysmon's Image; its MandatoryLabel SID is Sysmon's
 * IntegrityLevel word).  Conversions never fail: a value they do not recognise is read as it
 * is, so a mapping can only add matches that the event's meaning supports. */
typedef enum va_logsource_conv {
    VA_LOGSOURCE_RENAME = 0, /* event field `field`, as it is */
    VA_LOGSOURCE_HEX,        /* `field`'s 0x-hexadecimal value as a decimal number */
    VA_LOGSOURCE_MAP,        /* `field`'s value if it equals keys[i] (ASCII case-insensitively)
                                becomes values[i] */
    VA_LOGSOURCE_PREFIX,     /* a leading keys[i] (ASCII case-insensitively) becomes values[i] */
    VA_LOGSOURCE_JOIN,       /* items' values joined with sep; empty and "-" ones left out */
    VA_LOGSOURCE_DWORD,      /* `field`'s decimal value written as Sysmon writes a REG_DWORD:
                                "DWORD (0x000001a4)" */
    VA_LOGSOURCE_FIRST,      /* the first of items that recognises its value (see below) */
    VA_LOGSOURCE_COPY,       /* `field` as it is, but computed: it has conditions (when) */
    VA_LOGSOURCE_TEST,       /* a route's conditions: "1" when they hold, else absent */
} va_logsource_conv;

/* At most this many event fields feed one rule field (the engine reads them per event). */
#define VA_LOGSOURCE_MAX_PARTS 8

/* A condition: the event field parts[part] of the top entry has one of values (ASCII
 * case-insensitively; any value of a repeated field is enough for the engine's first one). */
typedef struct va_logsource_cond {
    uint32_t part;
    const char **values;
    uint32_t nvalues;
} va_logsource_cond;

/* One entry of a route's field map, or an item of a join or of `first`.
 *  - FIRST tries its items in order and takes the first one that recognises its value: a
 *    field whose value is not in skip (by default "" and "-"), a conversion that knows the
 *    value (a map key, a prefix, a hexadecimal or decimal number), a join none of whose items
 *    was left out, an item whose conditions hold.  The last item is the default: it is read
 *    as it would be on its own (so it should be the one the event always has).
 *  - when: the entry gives a value only if every condition holds; otherwise it is absent.
 * Every entry with a conversion lists in parts the event fields it reads, its items' and its
 * conditions' included (at most VA_LOGSOURCE_MAX_PARTS); items and conditions point into the
 * parts of the top entry (src, cond.part). */
typedef struct va_logsource_field {
    const char *name;  /* the rule's field name ("" for items and route tests) */
    const char *field; /* the event field it reads (JOIN, FIRST, TEST: parts[0]) */
    va_logsource_conv conv;
    const char **keys, **values; /* MAP, PREFIX */
    uint32_t nkeys;
    const char **parts; /* the event fields the top entry reads (non-RENAME) */
    uint32_t nparts;
    const char *sep;                  /* JOIN */
    struct va_logsource_field *items; /* JOIN, FIRST */
    uint32_t nitems;
    const char **skip; /* FIRST: values that mean "none" for a plain field item */
    uint32_t nskip;
    va_logsource_cond *when; /* all must hold (TEST: the route's conditions) */
    uint32_t nwhen;
    uint32_t src; /* position of `field` in the top entry's parts */
} va_logsource_field;

typedef struct va_logsource_route {
    const char **channels; /* any of these, compared case-insensitively; none: any channel */
    uint32_t nchannels;
    int64_t *event_ids; /* any of these; none: any event ID */
    uint32_t nevent_ids;
    va_logsource_field *fields; /* how rule fields read the event on this route */
    uint32_t nfields;
    /* The route's conditions on other event fields (`conditions`), or NULL.  The engine picks
     * a route by channel and event ID; an event that fails them shows the rule no field, so
     * the loader lets no other route of the source share a channel and event ID with it. */
    const va_logsource_field *test;
    const char *etw_provider; /* ETW-only source: no channel carries it, never matches */
    uint32_t line;            /* in the mapping file */
} va_logsource_route;

/* Routes of one logsource (a category or service of a product). */
typedef struct va_logsource_source {
    const char *product, *kind, *name; /* kind: "category" or "service" */
    va_logsource_route *routes;
    uint32_t nroutes;
} va_logsource_source;

typedef struct va_logsource_map {
    va_logsource_source *sources;
    uint32_t nsources;
} va_logsource_map;

/* Load a mapping from YAML text; everything is allocated from a (freed with it).  Errors name
 * the file, line and column in *err_msg (arena string) and return VA_EFORMAT / VA_ENOMEM. */
va_err va_logsource_load_mem(va_arena *a, const char *file, const char *text, size_t len,
                             va_logsource_map **out, const char **err_msg);
/* Same from a file on disk (VA_EIO if unreadable). */
va_err va_logsource_load_file(va_arena *a, const char *path, va_logsource_map **out,
                              const char **err_msg);
/* The built-in copy of config/sigma/logsources.yml (static, not NUL-terminated). */
const char *va_logsource_default_yaml(size_t *len);
/* path, or the built-in mapping when path is NULL, as va_logsource_load_file /
 * va_logsource_load_mem. */
va_err va_logsource_load(va_arena *a, const char *path, va_logsource_map **out,
                         const char **err_msg);

/* The routes selected by a rule's logsource (any of product/category/service may be NULL).
 *  - category and/or service: the routes of each named source; with both, the category's
 *    routes restricted to the service's channels;
 *  - product alone: one route with no constraint (every event of the product);
 *  - a name the mapping does not know: no routes (NULL), and *unknown names it (static or map
 *    string);
 *  - out of memory: NULL with *unknown NULL (an empty selection is a non-NULL array with *n 0).
 * The returned array is allocated from a; *n gets its length. */
va_logsource_route *va_logsource_routes(const va_logsource_map *m, va_arena *a, const char *product,
                                        const char *category, const char *service, uint32_t *n,
                                        const char **unknown);

/* The field map entry for the rule field name[0..len) on r, or NULL: the name is read as it is. */
const va_logsource_field *va_logsource_field_of(const va_logsource_route *r, const char *name,
                                                size_t len);
/* Compute a converted value (f->conv != VA_LOGSOURCE_RENAME) from the event values of f's
 * source fields: val[i]/len[i] for each of f->parts, NULL where the event lacks it.  Appends
 * the result to out and returns 1, or returns 0 (nothing appended) when the rule field is
 * absent: the event has none of the source fields, or a condition does not hold. */
int va_logsource_convert(const va_logsource_field *f, const char *const *val, const uint32_t *len,
                         va_buf *out);

/* Does an event with this channel (may be NULL) and event ID (-1 if none) take the route? */
int va_logsource_route_matches(const va_logsource_route *r, const char *channel, size_t channel_len,
                               int64_t event_id);

#endif
