/*
 * event.h - the flat event: the one model every source produces and every detector reads.
 *
 * An event is a list of (field, value) pairs plus the few facts every detector needs directly
 * (time, event ID, channel, provider, computer, record ID) and a reference to where it came
 * from.  Field names and values are borrowed: they point into the arena of the unit that was
 * parsed (or into static/template memory that outlives it).  A name may repeat (EVTX <Data>
 * without names, JSON arrays): detectors treat repeated fields as "any of".
 */
#ifndef VA_CORE_EVENT_H
#define VA_CORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"

typedef enum va_vtype {
    VA_V_NULL = 0, /* no value (JSON null, EVTX NullType) */
    VA_V_STR,      /* text */
    VA_V_INT,      /* signed decimal integer in text form */
    VA_V_UINT,     /* unsigned decimal integer in text form */
    VA_V_REAL,     /* floating point in text form */
    VA_V_BOOL,     /* "true" / "false" */
} va_vtype;

/* va_field.flags: what the source knows about the text, so that output need not look again. */
#define VA_FIELD_NAME_PLAIN 0x01 /* the name has nothing a JSON string escapes */
#define VA_FIELD_VAL_PLAIN  0x02 /* nor has the value */

typedef struct va_field {
    const char *name; /* NUL-terminated */
    const char *val;  /* NUL-terminated, UTF-8; "" for null */
    uint32_t nlen, vlen;
    uint8_t type;  /* va_vtype */
    uint8_t flags; /* VA_FIELD_*; 0 (nothing known) from va_event_add */
} va_field;

/* Where an event came from. */
typedef struct va_src {
    const char *path; /* input file (borrowed) */
    int64_t unit;     /* EVTX chunk index or line number; -1 if none */
    int64_t offset;   /* byte offset of the record in the file; -1 if unknown */
} va_src;

typedef struct va_event {
    va_field *f; /* fields, in document order */
    uint32_t n, cap;
    va_arena *arena; /* where f[] and added values live (borrowed) */
    /* Facts filled by va_event_finish() from the fields: */
    int64_t time_ns;                               /* VA_TIME_NONE if unknown */
    int64_t event_id;                              /* -1 if none */
    uint64_t record_id;                            /* 0 if none */
    const va_field *channel, *provider, *computer; /* NULL if absent */
    va_src src;
    /* Set by a source that knows no two of the first names_distinct fields share a name (0:
     * not known), so va_event_json need not look for repeats while n is still that. */
    uint32_t names_distinct;
} va_event;

/* Start an empty event whose storage comes from arena a (freed with the arena). */
void va_event_init(va_event *ev, va_arena *a);
/* Append a field; name and val must outlive the event and be NUL-terminated at nlen/vlen.
 * Returns VA_ENOMEM on failure. */
va_err va_event_add(va_event *ev, const char *name, size_t nlen, const char *val, size_t vlen,
                    va_vtype t);
/* Room for one more field, for a source that fills it itself (every member, flags included,
 * with the rules of va_event_add); NULL if out of memory.  The field is the event's. */
int va_event_grow_(va_event *ev);
static inline va_field *va_event_push(va_event *ev) {
    if (ev->n == ev->cap && va_event_grow_(ev)) return NULL;
    return &ev->f[ev->n++];
}
/* Same, copying name and value into the event's arena. */
va_err va_event_add_copy(va_event *ev, const char *name, size_t nlen, const char *val, size_t vlen,
                         va_vtype t);
/* First field called name (exact, case-sensitive), or NULL. */
const va_field *va_event_get(const va_event *ev, const char *name);
/* Fill the direct facts (time, IDs, channel, ...) from the fields. */
void va_event_finish(va_event *ev);
/* 1 if a field called name can give one of those facts. */
int va_event_fact_name(const char *name, size_t len);
/* va_event_finish looking only at the fields numbered idx[0..n) (in increasing order), for a
 * source that knows the others have no fact's name: the same facts, fewer fields read. */
void va_event_finish_only(va_event *ev, const uint32_t *idx, uint32_t n);
/* Append the event as one JSON object (no newline).  Integers and booleans are written as JSON
 * numbers/booleans, repeated names as arrays. */
void va_event_json(const va_event *ev, va_buf *out);

/* What va_event_json needs per call to find repeated names in linear time (a name table and a
 * chain per field).  A caller that writes many events keeps one and passes it to
 * va_event_json_with, so the memory is reused; zero-initialise it, free with
 * va_json_scratch_free. */
typedef struct va_json_scratch {
    va_hash names;  /* first occurrence of each name */
    uint32_t *link; /* per field: next field of the same name, and the last one so far */
    size_t cap;
} va_json_scratch;
void va_event_json_with(const va_event *ev, va_buf *out, va_json_scratch *s);
/* The two parts of a field in va_event_json's output, for a source that writes an event's
 * JSON itself: the name and its colon, and the value (t decides between a bare token, null
 * and a string); plain: the text needs no escaping.  Appended to out. */
void va_json_key(va_buf *out, const char *name, size_t nlen, int plain);
void va_json_value(va_buf *out, const char *val, size_t vlen, va_vtype t, int plain);
/* 1 if two fields of ev share a name (or memory ran out finding out), 0 if none do. */
int va_event_names_repeat(const va_event *ev, va_json_scratch *s);
void va_json_scratch_free(va_json_scratch *s);

#endif
