/*
 * flat.h - Windows event XML to the flat event: the "map" step for Windows sources.
 *
 * A small SAX-style interface: a source describes one event as elements, attributes and text
 * (EVTX binary XML does, so does an evtx_dump-style JSON export), and the flattener names the
 * fields the way Sigma rules do: System fields flattened (Provider_Name, EventID, TimeCreated,
 * ProcessID, Security_UserID, ...), EventData <Data Name="X"> as X, UserData leaves by element
 * name.  The event's identity (EventID, Provider_Name, EventRecordID, Computer, TimeCreated)
 * always means the System value: a data leaf of the same name, such as the failed event's
 * EventID inside an EventProcessingFailure, is named Parent.Name (EventProcessingFailure.EventID).
 * Because every Windows source goes through this one mapping, rules see identical fields
 * whatever the source.
 */
#ifndef VA_EVTX_FLAT_H
#define VA_EVTX_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/event.h"

#define VA_FLAT_MAX_DEPTH 64

typedef struct va_flat_frame {
    const char *name;
    size_t len;
    size_t text_off;      /* start of this element's text in the text buffer */
    size_t data_name_off; /* EventData <Data Name="...">: offset in the text store */
    size_t data_name_len;
    int has_data_name;
    int children, pieces, attrs;
    va_vtype type;    /* of a single typed text piece */
    uint8_t name_esc; /* the name may need JSON escaping */
    uint8_t esc;      /* the text may */
    uint8_t data_name_esc;
} va_flat_frame;

/* Told about every field as it is made: its name (valid during the call), where its value is
 * in the text store, its type. */
typedef void (*va_flat_seen_fn)(void *ud, const char *name, size_t nlen, int name_esc, size_t voff,
                                size_t vlen, va_vtype t);

typedef struct va_flat {
    va_event *ev;
    va_buf *text;  /* borrowed: the store for this event's names and values */
    int transient; /* set after va_flat_begin: fields point into text itself, valid only until
                      the caller reuses text (saves a copy when the event is used at once) */
    uint32_t first_field;    /* first field of ev added by this flattening */
    uint32_t sys_end;        /* end of the System section's fields */
    int depth;               /* elements open */
    int section;             /* kind of the depth-1 element being read */
    int err;                 /* VA_ENOMEM once an allocation failed */
    va_flat_seen_fn seen;    /* optional, set after va_flat_begin (NULL there) */
    void (*named)(void *ud); /* optional too: the attribute being given is kept as the name
                                of the field its element makes (<Data Name="X">) */
    void *seen_ud;           /* for both */
    va_flat_frame st[VA_FLAT_MAX_DEPTH];
} va_flat;

/* Start flattening into ev.  Names and values are gathered in text (caller-owned) and, at
 * va_flat_end, copied in one piece into ev->arena, unless fl->transient is set. */
void va_flat_begin(va_flat *fl, va_event *ev, va_buf *text);

/* The calls below come in two forms.  The _ex form takes, for each name and value, whether it
 * may need JSON escaping (nonzero: it may, or the source does not know); the event keeps that
 * (VA_FIELD_NAME_PLAIN, VA_FIELD_VAL_PLAIN) so va_event_json copies plain text without looking
 * at it again.  The short form is for sources that do not know: everything is checked. */

/* Element names must stay valid until the event is done (they are used as field names). */
void va_flat_open_ex(va_flat *fl, const char *name, size_t len, int esc);
/* Attribute of the element just opened; the value is copied. */
void va_flat_attr_ex(va_flat *fl, const char *name, size_t nlen, int name_esc, const char *val,
                     size_t vlen, va_vtype t, int val_esc);
/* Text content of the current element; copied.  1 if it is the element's text, 0 if dropped
 * (a null value, or outside any element). */
int va_flat_text_ex(va_flat *fl, const char *val, size_t vlen, va_vtype t, int esc);
/* Same, for text the caller has just appended itself to the end of fl->text (added bytes):
 * saves a copy when text is formatted in place.  Dropped text is taken off fl->text again. */
int va_flat_text_appended(va_flat *fl, size_t added, va_vtype t, int esc);
void va_flat_close(va_flat *fl);
/* A field made by the caller: name (stable, as element names) and the value the caller put in
 * fl->text at [voff, voff + vlen), followed by a NUL. */
void va_flat_field(va_flat *fl, const char *name, size_t nlen, int name_esc, size_t voff,
                   size_t vlen, va_vtype t, int val_esc);
/* Room for n such fields at once, for the caller to fill: name a stable pointer, val the
 * offset of the value in fl->text cast to a pointer (va_flat_end makes it one), the rest as in
 * va_field.  The fields are the event's; NULL (and the flattening failed) if out of memory. */
va_field *va_flat_fields(va_flat *fl, uint32_t n);
/* Finish: closes open elements and fills the event's direct facts.  VA_OK or VA_ENOMEM. */
va_err va_flat_end(va_flat *fl);
/* Same, for a caller that knows which fields can give the facts: the numbers, in order, of
 * those whose names va_event_fact_name accepts (for an event that had no fields before). */
va_err va_flat_end_facts(va_flat *fl, const uint32_t *facts, uint32_t nfacts);

static inline void va_flat_open(va_flat *fl, const char *name, size_t len) {
    va_flat_open_ex(fl, name, len, 1);
}
static inline void va_flat_attr(va_flat *fl, const char *name, size_t nlen, const char *val,
                                size_t vlen, va_vtype t) {
    va_flat_attr_ex(fl, name, nlen, 1, val, vlen, t, 1);
}
static inline void va_flat_text(va_flat *fl, const char *val, size_t vlen, va_vtype t) {
    (void)va_flat_text_ex(fl, val, vlen, t, 1);
}

#endif
