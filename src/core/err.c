/*
 * err.c - names and descriptions of va_err codes, the default diagnostic printer, and the one
 * terminal-safe escaping (va_diag_escape) that every diagnostic and the output layer's terminal
 * text go through.
 *
 * Everything vaern prints to a terminal from a log or a rule file (file names, host names,
 * field values, titles, parser messages quoting input) is escaped: an attacker who controls
 * that text must not be able to move the cursor, retitle the window, hide text with bidi
 * overrides or forge lines with a carriage return.
 */
#include "core/err.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/utf.h"

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

/* Code points that are valid UTF-8 but act on the terminal or reorder what it shows: the C1
 * controls (U+009B is CSI on terminals that honour 8-bit controls), bidi embeddings, overrides
 * and isolates ("Trojan Source"), and the line and paragraph separators. */
static int cp_unsafe(uint32_t cp) {
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void va_diag_escape(va_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: printable bytes before i not yet copied */
    while (i < n) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x7F) {
            i++, run++;
            continue;
        }
        va_buf_put(b, u + i - run, run);
        run = 0;
        char esc[8];
        size_t el = 0;
        if (c < 0x80) {
            esc[el++] = '\\';
            if (c == '\n')
                esc[el++] = 'n';
            else if (c == '\r')
                esc[el++] = 'r';
            else if (c == '\t')
                esc[el++] = 't';
            else
                esc[el++] = 'x', esc[el++] = hex[c >> 4], esc[el++] = hex[c & 15];
            va_buf_put(b, esc, el);
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = va_utf8_next(u + i, n - i, &cp);
        if (k == 1) { /* a real U+FFFD takes 3 bytes: this is a byte that is not UTF-8 */
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15];
            va_buf_put(b, esc, 4);
        } else if (cp_unsafe(cp)) {
            esc[0] = '\\', esc[1] = 'u';
            for (int d = 0; d < 4; d++) esc[2 + d] = hex[(cp >> (12 - 4 * d)) & 15];
            va_buf_put(b, esc, 6);
        } else {
            va_buf_put(b, u + i, k);
        }
        i += k;
    }
    va_buf_put(b, u + i - run, run);
}

void va_diag_printf(FILE *f, const char *fmt, ...) {
    char small[1024], *text = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof small) {
        if (!(text = malloc((size_t)n + 1))) {
            text = small; /* out of memory: the line cut short, still escaped */
            n = (int)sizeof small - 1;
        } else {
            va_start(ap, fmt);
            vsnprintf(text, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
    }
    va_buf b;
    va_buf_init(&b);
    va_diag_escape(&b, text, (size_t)n);
    va_buf_putc(&b, '\n');
    if (!b.oom) {
        fwrite(b.p, 1, b.len, f);
    } else { /* no memory to escape into: blank out what would need escaping */
        for (int i = 0; i < n; i++)
            if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] >= 0x7F) text[i] = '?';
        fprintf(f, "%.*s\n", n, text);
    }
    va_buf_free(&b);
    if (text != small) free(text);
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
    va_diag_printf(stderr, "vaern: %s: %s:%s %s: %s", d->sev == VA_SEV_ERROR ? "error" : "warning",
                   d->file ? d->file : "-", where, va_err_name(d->code),
                   d->msg ? d->msg : va_err_str(d->code));
}
