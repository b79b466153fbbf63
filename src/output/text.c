/*
 * text.c - terminal-safe text for the output layer (see output.h, va_out_tty_*).
 *
 * Everything vaern prints to a terminal from a log (host names, field values) or a rule file
 * (titles) goes through va_out_tty_esc first: an attacker who controls an event's text must
 * not be able to move the cursor, retitle the window, hide text with bidi overrides or break
 * the table's alignment.  The escaping itself is va_diag_escape (core/err.h), the same for
 * diagnostics; this file adds the widths the table needs.  The width rules are a locale-free
 * approximation of wcwidth() so that the table lines up the same way whatever LC_CTYPE says.
 */
#include <string.h>

#include "core/utf.h"
#include "output/output.h"

typedef struct cp_range {
    uint32_t lo, hi;
} cp_range;

/* Combining marks and zero-width characters. */
static const cp_range zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD},   {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A},   {0x064B, 0x065F}, {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x0E31, 0x0E31},   {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E},
    {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200D},   {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
    {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
};

/* East Asian wide and fullwidth characters, and the common emoji blocks. */
static const cp_range wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x26AA, 0x26AB},
    {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x2753, 0x2755},   {0x2795, 0x2797},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4},
    {0x17000, 0x18AFF}, {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF},
    {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F64F},
    {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F900, 0x1F9FF}, {0x1FA70, 0x1FAFF},
    {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static int in_ranges(uint32_t cp, const cp_range *r, size_t n) {
    if (cp < r[0].lo || cp > r[n - 1].hi) return 0;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static size_t cp_width(uint32_t cp) {
    if (cp < 0x300) return 1;
    if (in_ranges(cp, zero_width, sizeof zero_width / sizeof zero_width[0])) return 0;
    if (in_ranges(cp, wide, sizeof wide / sizeof wide[0])) return 2;
    return 1;
}

size_t va_out_tty_esc(va_buf *b, const char *s, size_t n) {
    /* The escaping is core/err.c's, shared with every diagnostic; escapes are ASCII, so the
     * width of what was appended is the width of the text shown. */
    size_t at = b->len;
    va_diag_escape(b, s, n);
    return b->oom || b->len == at ? 0 : va_out_tty_width(b->p + at, b->len - at);
}

size_t va_out_tty_width(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            w++, i++;
            continue;
        }
        uint32_t cp;
        i += va_utf8_next(u + i, n - i, &cp);
        w += cp_width(cp);
    }
    return w;
}

/* Bytes of the longest prefix of s that fits in cols columns; its width in *w. */
static size_t prefix_fitting(const char *s, size_t n, size_t cols, size_t *w) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, used = 0;
    while (i < n) {
        uint32_t cp = u[i];
        size_t k = 1;
        if (cp >= 0x80) k = va_utf8_next(u + i, n - i, &cp);
        size_t cw = cp < 0x80 ? 1 : cp_width(cp);
        if (used + cw > cols) break;
        used += cw;
        i += k;
    }
    *w = used;
    return i;
}

size_t va_out_tty_cut(va_buf *b, const char *s, size_t n, size_t cols) {
    size_t w;
    va_buf_put(b, s, prefix_fitting(s, n, cols, &w));
    return w;
}

size_t va_out_tty_fit(va_buf *b, const char *s, size_t n, size_t cols, int pad) {
    static const char spaces[] = "                                ";
    size_t w;
    size_t k = prefix_fitting(s, n, cols, &w);
    if (k < n && cols > 0) { /* does not fit: make room for the ellipsis */
        k = prefix_fitting(s, n, cols - 1, &w);
        va_buf_put(b, s, k);
        va_buf_put(b, "\xE2\x80\xA6", 3);
        w++;
    } else {
        va_buf_put(b, s, k);
    }
    while (pad && w < cols) {
        size_t m = cols - w < sizeof spaces - 1 ? cols - w : sizeof spaces - 1;
        va_buf_put(b, spaces, m);
        w += m;
    }
    return w;
}
