/*
 * err.c - names and descriptions of va_err codes, and the default diagnostic printer.
 */
#include "core/err.h"

#include <inttypes.h>
#include <stdio.h>

static const struct {
    const char *name, *str;
} va_err_tab[VA_ECOUNT_] = {
    [VA_OK] = {"VA_OK", "success"},
    [VA_ENOMEM] = {"VA_ENOMEM", "out of memory"},
    [VA_EIO] = {"VA_EIO", "input/output error"},
    [VA_EFORMAT] = {"VA_EFORMAT", "malformed input"},
    [VA_ECRC] = {"VA_ECRC", "checksum mismatch"},
    [VA_ETRUNC] = {"VA_ETRUNC", "truncated input"},
    [VA_EUNSUPPORTED] = {"VA_EUNSUPPORTED", "unsupported construct"},
    [VA_EUSAGE] = {"VA_EUSAGE", "invalid usage"},
    [VA_ELIMIT] = {"VA_ELIMIT", "limit exceeded"},
    [VA_ERANGE] = {"VA_ERANGE", "offset or count out of range"},
};

const char *va_err_name(va_err e) {
    return (unsigned)e < VA_ECOUNT_ ? va_err_tab[e].name : "VA_E?";
}

const char *va_err_str(va_err e) {
    return (unsigned)e < VA_ECOUNT_ ? va_err_tab[e].str : "unknown error";
}

void va_diag_print(void *ud, const va_diag *d) {
    (void)ud;
    char where[96] = "";
    int n = 0;
    if (d->unit && d->unit_no >= 0)
        n = snprintf(where, sizeof where, " %s %" PRId64 ":", d->unit, d->unit_no);
    if (d->offset >= 0 && n >= 0 && (size_t)n < sizeof where)
        snprintf(where + n, sizeof where - (size_t)n, " offset 0x%" PRIx64 ":",
                 (uint64_t)d->offset);
    fprintf(stderr, "vaern: %s: %s:%s %s: %s\n", d->sev == VA_SEV_ERROR ? "error" : "warning",
            d->file ? d->file : "-", where, va_err_name(d->code),
            d->msg ? d->msg : va_err_str(d->code));
}
