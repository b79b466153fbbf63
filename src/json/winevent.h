/*
 * winevent.h - Windows events exported as JSON, read as flat events (core/event.h).
 *
 * The "map" step for JSON Windows sources.  Three shapes are recognised per object:
 *
 *   - evtx_dump (omerbenamram/evtx): {"Event": {"System": {...}, "EventData": {...}}}.  The
 *     object is walked as the XML it came from (objects are elements, "#attributes" members are
 *     attributes, "#text" is text, arrays are repeated elements, scalars are elements with text)
 *     and fed to the same flattener as EVTX (evtx/flat.h), so fields are named identically.
 *     Attributes written apart (evtx_dump --separate-json-attributes: "<name>_attributes"
 *     siblings) are attributes too.
 *     Two presentation differences of evtx_dump are undone so that values match EVTX: the
 *     System GUIDs (Provider Guid, Correlation ActivityID/RelatedActivityID) get back their
 *     braces, and TimeCreated is rewritten as vaern's "YYYY-MM-DDTHH:MM:SS.fffffffZ".
 *   - NXLog im_msvistalog (flat NDJSON): {"EventID": 4688, "Channel": ..., "Hostname": ...,
 *     "SourceName": ..., "CommandLine": ...}.  See winevent.c for the name table and the list
 *     of transport members that are dropped.
 *   - Winlogbeat / ECS: objects with a "winlog" object member; winlog.* gives the System
 *     fields, winlog.event_data and winlog.user_data the event's own fields.
 *
 * In every shape JSON numbers, booleans and null keep their type (VA_V_UINT/INT/REAL/BOOL/NULL)
 * and TimeCreated is normalised to ISO 8601 UTC ("...Z", 7 fractional digits).
 *
 * The event's time.  evtx_dump's SystemTime is UTC by definition (EVTX stores a FILETIME).
 * NXLog and Winlogbeat objects may carry several times, in this order of preference:
 * NXLog TimeCreated, EventTime, @timestamp; Winlogbeat @timestamp, winlog.time_created.  The
 * first that says its zone ("Z", "+02:00") is used; a time without a zone is used only when
 * no candidate has one, and is then read as UTC and noted (va_jsonev_notes), which the reader
 * reports once per input with a warning and counts (va_jsonev_stats.unzoned_times).  NXLog's
 * EventTime is the host's local time without a zone (to_json's default), so with it an event
 * is hours off unless the export also has a zoned time.  NXLog's @timestamp, when Logstash
 * adds it, is the time it received the event: seconds after the event (1 to 4 s in the
 * OTRF recordings), not hours.
 *
 * The reader takes a file of such objects in any of the usual layouts: NDJSON (one object per
 * line), objects concatenated with or without whitespace (pretty-printed, as in the Sigma
 * regression data), a top-level array of objects, and evtx_dump's text output with its
 * "Record N" lines between objects.  It reads in blocks and finds each object's extent by
 * string-aware bracket matching, then parses that one object into an arena that is reset for
 * the next: memory is bounded by max_object (VA_ELIMIT beyond it), never by the file.
 *
 * Problems (bad JSON, an object over the size limit, an unknown shape, stray text) are reported
 * through the va_diag_fn with the file, the record (unit "line" for NDJSON files, where objects
 * are one per line, "object" with the object's ordinal otherwise), the byte offset and, in
 * the message, the line and column; they are counted and reading goes on with the next object.
 * After damage that hides where objects end (a string left open at the end of a line, an object
 * left open when a line starts with a '{' no further right than the object's own start, stray
 * text) the reader skips to the next line whose first non-blank character is a '{' no further
 * right than where the damaged object began.
 */
#ifndef VA_JSON_WINEVENT_H
#define VA_JSON_WINEVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/event.h"
#include "json/json.h"

#define VA_JSONEV_DEFAULT_MAX_OBJECT ((size_t)64 << 20) /* bytes */
#define VA_JSONEV_DEFAULT_MAX_DEPTH  128                /* Windows events nest a few levels */
#define VA_JSONEV_BLOCK              ((size_t)1 << 20)  /* read size of va_jsonev_read_file */

typedef enum va_jsonev_format {
    VA_JSONEV_UNKNOWN = 0,
    VA_JSONEV_EVTX_DUMP,
    VA_JSONEV_NXLOG,
    VA_JSONEV_WINLOGBEAT,
    VA_JSONEV_NFORMATS_
} va_jsonev_format;

typedef struct va_jsonev_opts {
    size_t max_object; /* bytes per object; 0: VA_JSONEV_DEFAULT_MAX_OBJECT */
    int max_depth;     /* JSON nesting; 0: VA_JSONEV_DEFAULT_MAX_DEPTH */
    int strict_utf8;   /* invalid UTF-8 makes the object bad instead of becoming U+FFFD */
} va_jsonev_opts;

typedef struct va_jsonev_stats {
    uint64_t objects;       /* top-level values found (objects, or stray values inside an array) */
    uint64_t events;        /* events delivered to the callback */
    uint64_t bad;           /* objects or stretches of text skipped and reported as errors */
    uint64_t warnings;      /* problems reported that lost no event (array separators, ...) */
    uint64_t unzoned_times; /* events whose time had no zone and was read as UTC */
    uint64_t bytes;         /* input bytes */
    uint64_t by_format[VA_JSONEV_NFORMATS_]; /* events per shape */
} va_jsonev_stats;

/* Receives each event; ev and everything it points to are valid only during the call.  Return
 * nonzero to stop reading. */
typedef int (*va_jsonev_fn)(void *ud, const va_event *ev);

/* Shape of one parsed top-level value (VA_JSONEV_UNKNOWN if none fits). */
va_jsonev_format va_jsonev_detect(const va_json *v);
/* Static name of a shape: "unknown", "evtx_dump", "nxlog", "winlogbeat". */
const char *va_jsonev_format_name(va_jsonev_format f);

/* What mapping one object noticed that the reader reports (once per input). */
typedef struct va_jsonev_notes {
    const va_json *unzoned_time; /* the time used had no zone (read as UTC), or NULL */
} va_jsonev_notes;

/* Map parsed object v into ev, which the caller has set up with va_event_init(ev, a): field
 * names and values point into v's DOM and into a, so both must outlive the use of ev; nothing
 * to free beyond resetting those arenas.  text is a caller-owned scratch buffer; notes, if not
 * NULL, is filled (its pointers into v's DOM).  Returns VA_OK, VA_EFORMAT (no known shape;
 * *why, if why is not NULL, gets a static reason) or VA_ENOMEM. */
va_err va_jsonev_map(const va_json *v, va_event *ev, va_buf *text, const char **why,
                     va_jsonev_notes *notes);

/* Push-style reader: feed it the bytes of one input in pieces of any size. */
typedef struct va_jsonev_reader va_jsonev_reader;

/* New reader for the input called name (borrowed: must outlive the reader; used in events'
 * src.path and in diagnostics).  o may be NULL for the defaults; diag may be NULL to drop
 * reports.  NULL if out of memory.  Free with va_jsonev_free. */
va_jsonev_reader *va_jsonev_new(const char *name, const va_jsonev_opts *o, va_diag_fn diag,
                                void *diag_ud, va_jsonev_fn fn, void *ud);
/* Feed the next n bytes of input (copied as needed; p is only read during the call).
 * Returns VA_OK, VA_ENOMEM (fatal: stop feeding), or VA_OK with va_jsonev_stopped() set once
 * fn asked to stop (later input is ignored). */
va_err va_jsonev_feed(va_jsonev_reader *r, const void *p, size_t n);
/* End of input: reports an object or array left open.  Same returns as va_jsonev_feed. */
va_err va_jsonev_end(va_jsonev_reader *r);
/* Nonzero once the callback asked to stop. */
int va_jsonev_stopped(const va_jsonev_reader *r);
/* Counters so far; borrowed from the reader. */
const va_jsonev_stats *va_jsonev_get_stats(const va_jsonev_reader *r);
/* Free the reader and all its buffers (NULL is fine). */
void va_jsonev_free(va_jsonev_reader *r);

/* Read the file at path (read() in VA_JSONEV_BLOCK pieces) and deliver its events in order.
 * Counters are added to *st when st is not NULL.  Returns VA_OK when the file was read
 * (problems inside it go to diag), VA_EIO when it cannot be opened or read (also reported
 * through diag), VA_ENOMEM.  Stops early, returning VA_OK, when fn returns nonzero. */
va_err va_jsonev_read_file(const char *path, const va_jsonev_opts *o, va_diag_fn diag,
                           void *diag_ud, va_jsonev_stats *st, va_jsonev_fn fn, void *ud);

#endif
