/*
 * alert.h - one alert as every detector hands it to the output layer.
 *
 * Detectors (the Sigma engine, correlations, later indicator lists and vaern's own pack) fill a
 * va_alert with borrowed pointers and pass it to an output sink (output.h) on one thread; the
 * sink copies whatever it keeps, so the alert and everything it points to need only live for
 * the call.  Strings are NUL-terminated UTF-8; absent ones are NULL.
 */
#ifndef VA_OUTPUT_ALERT_H
#define VA_OUTPUT_ALERT_H

#include <stdint.h>

/* A (name, value) pair: a matched field, or a correlation's group-by value. */
typedef struct va_kv {
    const char *name, *val;
    uint32_t nlen, vlen;
} va_kv;

typedef enum va_alert_kind {
    VA_ALERT_SIGMA = 1,   /* one event matched a Sigma detection rule */
    VA_ALERT_CORRELATION, /* a Sigma correlation rule fired over several events */
} va_alert_kind;

typedef struct va_alert {
    va_alert_kind kind;
    int64_t time_ns; /* event time (correlation: the event that completed it); VA_TIME_NONE */
    /* The rule. */
    const char *title, *id, *level, *author;
    const char *const *tags;
    uint32_t ntags;
    /* The event (correlation: the event that completed it). */
    const char *computer, *channel;
    int64_t event_id;   /* -1 if none */
    uint64_t record_id; /* 0 if none */
    const char *file;   /* input file, or NULL */
    /* Matched fields (sigma) or group-by values (correlation), in rule order. */
    const va_kv *fields;
    uint32_t nfields;
    /* Correlation only: events (or distinct values) counted and the window's first event
     * time; 0 and VA_TIME_NONE otherwise. */
    uint64_t count;
    int64_t first_ns;
    /* Not NULL when the rule could not be decided: the field whose regular expression PCRE2
     * gave up on at a limit.  The alert is raised (a limit must not hide a match) and marked. */
    const char *undecided;
} va_alert;

#endif
