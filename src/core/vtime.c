/*
 * vtime.c - time conversion and formatting (see vtime.h).
 */
#include "core/vtime.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"

#define FT_UNIX_EPOCH 116444736000000000ULL /* FILETIME ticks at 1970-01-01 */

int64_t va_time_from_filetime(uint64_t ft) {
    /* ns range: roughly FILETIME 0x... from 1677 to 2262. */
    int64_t ticks = (int64_t)(ft - FT_UNIX_EPOCH);
    if (ft >= FT_UNIX_EPOCH) {
        if (ft - FT_UNIX_EPOCH > (uint64_t)(INT64_MAX / 100)) return VA_TIME_NONE;
    } else if (FT_UNIX_EPOCH - ft > (uint64_t)(INT64_MAX / 100)) {
        return VA_TIME_NONE;
    }
    return ticks * 100;
}

int64_t va_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* The two digits of v (< 100). */
static inline char *dec2(char *o, unsigned v) {
    memcpy(o, va_digit_pairs + 2 * v, 2);
    return o + 2;
}

/* secs since epoch (may be negative) + 9-digit fraction.  Hand-formatted, two digits a step:
 * it runs for every event. */
static size_t fmt_parts(int64_t secs, uint32_t frac9, int digits, char *out) {
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) rem += 86400, days--;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char *o = out;
    if (y >= 0 && y <= 9999) {
        o = dec2(o, (unsigned)y / 100);
        o = dec2(o, (unsigned)y % 100);
    } else {
        int n = snprintf(o, 24, "%04lld", (long long)y);
        o += n > 0 ? n : 0;
    }
    unsigned r = (unsigned)rem;
    *o++ = '-';
    o = dec2(o, m);
    *o++ = '-';
    o = dec2(o, d);
    *o++ = 'T';
    o = dec2(o, r / 3600);
    *o++ = ':';
    o = dec2(o, r / 60 % 60);
    *o++ = ':';
    o = dec2(o, r % 60);
    if (digits > 0) {
        if (digits > 9) digits = 9;
        char f[9];
        unsigned x = frac9 % 1000000000u;
        f[0] = (char)('0' + x / 100000000u);
        x %= 100000000u;
        dec2(f + 1, x / 1000000u);
        dec2(f + 3, x / 10000u % 100u);
        dec2(f + 5, x / 100u % 100u);
        dec2(f + 7, x % 100u);
        *o++ = '.';
        memcpy(o, f, (size_t)digits);
        o += digits;
    }
    *o++ = 'Z';
    *o = 0;
    return (size_t)(o - out);
}

size_t va_time_fmt_filetime(uint64_t ft, int digits, char *out) {
    /* Seconds relative to 1970, computed without overflow for any u64. */
    uint64_t s1601 = ft / 10000000ULL;
    int64_t secs = (int64_t)s1601 - (int64_t)(FT_UNIX_EPOCH / 10000000ULL);
    return fmt_parts(secs, (uint32_t)(ft % 10000000ULL) * 100, digits, out);
}

size_t va_time_fmt_ns(int64_t ns, int digits, char *out) {
    int64_t secs = ns / 1000000000LL, frac = ns % 1000000000LL;
    if (frac < 0) frac += 1000000000LL, secs--;
    return fmt_parts(secs, (uint32_t)frac, digits, out);
}

static int num(const char *s, size_t n, size_t *i, int width, int *out) {
    int v = 0;
    for (int k = 0; k < width; k++, (*i)++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return -1;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return 0;
}

int va_time_parse_iso(const char *s, size_t n, int64_t *ns) {
    size_t i = 0;
    int Y, M, D, h = 0, mi = 0, sec = 0;
    if (num(s, n, &i, 4, &Y) || i >= n || s[i++] != '-' || num(s, n, &i, 2, &M) || i >= n ||
        s[i++] != '-' || num(s, n, &i, 2, &D))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31) return -1;
    int64_t frac = 0;
    int64_t off = 0;
    if (i < n && (s[i] == 'T' || s[i] == ' ')) {
        i++;
        if (num(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || num(s, n, &i, 2, &mi)) return -1;
        if (i < n && s[i] == ':') {
            i++;
            if (num(s, n, &i, 2, &sec)) return -1;
        }
        if (h > 23 || mi > 59 || sec > 60) return -1;
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            i++;
            int digits = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (digits < 9) frac = frac * 10 + (s[i] - '0'), digits++;
                i++;
            }
            if (!digits) return -1;
            while (digits++ < 9) frac *= 10;
        }
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
            if (num(s, n, &i, 2, &oh)) return -1;
            if (i < n && s[i] == ':') i++;
            if (i < n && num(s, n, &i, 2, &om)) return -1;
            off = sign * (oh * 3600LL + om * 60LL);
        }
    }
    if (i != n) return -1;
    int64_t days = va_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600LL + mi * 60LL + sec - off;
    /* ns since 1970 cover 1677..2262; later or earlier times are not representable. */
    if (secs > INT64_MAX / 1000000000LL - 1 || secs < INT64_MIN / 1000000000LL + 1) return -1;
    *ns = secs * 1000000000LL + frac;
    return 0;
}
