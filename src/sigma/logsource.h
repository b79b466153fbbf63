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
    VA_LOGSOURCE_JOIN,       /* parts' values joined with sep; empty and "-" parts left out */
} va_logsource_conv;

typedef struct va_logsource_field {
    const char *name;  /* the rule's field name */
    const char *field; /* the event field it reads (JOIN: parts[0]) */
    va_logsource_conv conv;
    const char **keys, **values; /* MAP, PREFIX */
    uint32_t nkeys;
    const char **parts; /* JOIN */
    uint32_t nparts;
    const char *sep; /* JOIN */
} va_logsource_field;

typedef struct va_logsource_route {
    const char **channels; /* any of these, compared case-insensitively; none: any channel */
    uint32_t nchannels;
    int64_t *event_ids; /* any of these; none: any event ID */
    uint32_t nevent_ids;
    va_logsource_field *fields; /* how rule fields read the event on this route */
    uint32_t nfields;
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
 * source fields: val[i]/len[i] for f->field (i = 0) or for each of f->parts, NULL where the
 * event lacks it.  Appends the result to out and returns 1, or returns 0 (nothing appended)
 * when the event has none of the source fields, so the rule field is absent. */
int va_logsource_convert(const va_logsource_field *f, const char *const *val, const uint32_t *len,
                         va_buf *out);

/* Does an event with this channel (may be NULL) and event ID (-1 if none) take the route? */
int va_logsource_route_matches(const va_logsource_route *r, const char *channel, size_t channel_len,
                               int64_t event_id);

#endif
