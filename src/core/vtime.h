/*
 * vtime.h - event time: conversion and ISO 8601 formatting/parsing.
 *
 * vaern keeps event time as int64 nanoseconds since 1970-01-01 UTC (va_time_ns), which spans
 * 1677..2262; Windows FILETIME (100 ns ticks since 1601) converts to it exactly.
 */
#ifndef VA_CORE_VTIME_H
#define VA_CORE_VTIME_H

#include <stddef.h>
#include <stdint.h>

#define VA_TIME_NONE INT64_MIN /* "no time known" */

/* FILETIME ticks to ns since the Unix epoch; VA_TIME_NONE when out of range. */
int64_t va_time_from_filetime(uint64_t ft);
/* Civil date to days since 1970-01-01 (proleptic Gregorian). */
int64_t va_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Format FILETIME as "YYYY-MM-DDTHH:MM:SS.fffffffZ" with frac_digits (0..9) fractional digits
 * (the value has 7; 8 and 9 pad with zeros).  out needs 40 bytes; returns length.  Works for
 * every 64-bit FILETIME, far beyond the ns range. */
size_t va_time_fmt_filetime(uint64_t ft, int frac_digits, char *out);
/* Format ns since epoch the same way (frac_digits 0..9).  out needs 40 bytes. */
size_t va_time_fmt_ns(int64_t ns, int frac_digits, char *out);
/* Parse ISO 8601 / RFC 3339 ("2020-10-23T02:36:40.671Z", "2020-10-23 02:36:40.671",
 * offsets "+02:00"); 0 on success. */
int va_time_parse_iso(const char *s, size_t n, int64_t *ns);

#endif
