/*
 * winevent.c - streaming reader of JSON Windows event files (see winevent.h).
 *
 * A push scanner finds the extent of each top-level object without parsing it: it tracks
 * strings (so braces inside them do not count), escapes and bracket depth, and copies the
 * object's bytes into one buffer that is reused.  Only a complete object is parsed
 * (json/json.h) and mapped (winevent_map.c), in an arena reset per object, so memory follows the
 * largest object, capped by max_object: beyond it the bytes are no longer kept, the scanner
 * still finds the end, and the object is reported as VA_ELIMIT.
 *
 * Damage that hides where objects end is bounded to the damaged object: a raw line break inside
 * a string (JSON forbids it) ends the object there, and so does a line whose first non-blank
 * character is a '{' no further right than the column where the current object began (the next
 * object of an NDJSON file, of a pretty-printed stream or of an indented array; nested objects
 * are indented further).  The first complete object only decides how reports name objects:
 * by line when it fits on its line (NDJSON), by ordinal otherwise.
 */
#include "json/winevent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { S_TOP, S_BOM, S_OBJ, S_RECLINE, S_RESYNC, S_END };
enum { M_UNKNOWN, M_LINES, M_PRETTY };

/* An object buffer grown past this is given back after use rather than kept. */
#define KEEP_BUF ((size_t)4 << 20)

struct va_jsonev_reader {
    const char *name;
    va_json_opts jo;
    size_t max_object;
    va_diag_fn diag;
    void *diag_ud;
    va_jsonev_fn fn;
    void *ud;
    va_jsonev_stats st;
    int state, mode, stopped;
    va_err fatal;
    /* Position: base is the file offset of the first byte of the current feed. */
    uint64_t base, line, line_start;
    uint64_t nonblank_line; /* line of the last non-blank byte seen, to spot line starts */
    /* Top-level array. */
    int in_array, expect_comma, array_damaged;
    uint64_t array_elems, array_line;
    /* Current object (or stray array value). */
    va_buf obj;
    uint64_t obj_off, obj_line, obj_col, obj_size, obj_no, depth;
    int in_str, esc, multiline, is_array_val;
    int pending_nl; /* a line break inside the object was the last non-blank byte */
    uint64_t nl_off, nl_line;
    /* Text outside objects: a "Record N" line, a byte order mark, or garbage. */
    uint64_t text_off, text_line, text_col;
    unsigned text_byte;
    size_t rec_pos;
    uint64_t resync_col;
    /* Parse and map. */
    va_arena arena;
    va_buf text;
    va_event ev;
};

__attribute__((format(printf, 7, 8))) static void report(va_jsonev_reader *r, va_severity sev,
                                                         va_err code, const char *unit,
                                                         uint64_t unit_no, uint64_t off,
                                                         const char *fmt, ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sev == VA_SEV_WARN)
        r->st.warnings++;
    else
        r->st.bad++;
    if (!r->diag) return;
    va_diag d = {sev, code, r->name, unit, (int64_t)unit_no, (int64_t)off, msg};
    r->diag(r->diag_ud, &d);
}

static void show(unsigned c, char out[8]) {
    if (c >= 0x20 && c < 0x7F)
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02X", c);
}

static uint64_t col_of(const va_jsonev_reader *r, uint64_t at) {
    return at - r->line_start;
}

static void newline(va_jsonev_reader *r, uint64_t at) {
    r->line++;
    r->line_start = at + 1;
}

/* How reports about the current object name it: by line in NDJSON, by ordinal otherwise. */
static const char *obj_unit(const va_jsonev_reader *r, uint64_t *no) {
    if (r->mode == M_LINES || (r->mode == M_UNKNOWN && !r->multiline)) {
        *no = r->obj_line;
        return "line";
    }
    *no = r->obj_no;
    return "object";
}

static void obj_reset(va_jsonev_reader *r) {
    if (r->obj.cap > KEEP_BUF) {
        va_buf_free(&r->obj);
        va_buf_init(&r->obj);
    }
    va_buf_clear(&r->obj);
    r->obj_size = r->depth = 0;
    r->in_str = r->esc = r->multiline = r->is_array_val = r->pending_nl = 0;
}

static void obj_store(va_jsonev_reader *r, const unsigned char *p, size_t n) {
    if (!n) return;
    int was_over = r->obj_size > r->max_object;
    r->obj_size += n;
    if (was_over) return;
    if (r->obj_size > r->max_object) {
        /* Over the limit: stop keeping bytes, but go on finding the end. */
        va_buf_free(&r->obj);
        va_buf_init(&r->obj);
        return;
    }
    va_buf_put(&r->obj, p, n);
    if (r->obj.oom) r->fatal = VA_ENOMEM;
}

static void start_value(va_jsonev_reader *r, uint64_t at, int is_array) {
    if (r->in_array) {
        if (r->expect_comma)
            report(r, VA_SEV_WARN, VA_EFORMAT, "line", r->line, at,
                   "missing ',' between array elements (line %" PRIu64 ")", r->line);
        r->expect_comma = 1;
        r->array_elems++;
    }
    obj_reset(r);
    r->is_array_val = is_array;
    r->obj_off = at, r->obj_line = r->line, r->obj_col = col_of(r, at);
    r->state = S_OBJ;
}

/* Stray text outside any object: report it and skip to where an object may start again. */
static void stray(va_jsonev_reader *r, uint64_t at, uint64_t line, uint64_t col, unsigned c) {
    char b[8];
    show(c, b);
    report(r, VA_SEV_ERROR, VA_EFORMAT, "line", line, at,
           "unexpected %s outside any object (line %" PRIu64 ", column %" PRIu64 ")", b, line,
           col + 1);
    if (r->in_array) r->array_damaged = 1;
    r->resync_col = col;
    r->state = S_RESYNC;
}

/* The object's extent is known to be damaged: report and resynchronise. */
static void abandon(va_jsonev_reader *r, uint64_t at, uint64_t line, const char *why) {
    uint64_t no;
    r->st.objects++;
    r->obj_no++;
    const char *unit = obj_unit(r, &no);
    report(r, VA_SEV_ERROR, VA_EFORMAT, unit, no, at,
           "line %" PRIu64 ": %s (object starting at line %" PRIu64 ", column %" PRIu64
           "); skipped",
           line, why, r->obj_line, r->obj_col + 1);
    if (r->in_array) r->array_damaged = 1;
    r->resync_col = r->obj_col;
    obj_reset(r);
    r->state = S_RESYNC;
}

/* Parse, map and deliver the object just completed. */
static void deliver(va_jsonev_reader *r) {
    uint64_t no;
    const char *unit = obj_unit(r, &no);
    if (r->obj_size > r->max_object) {
        report(r, VA_SEV_ERROR, VA_ELIMIT, unit, no, r->obj_off,
               "object of %" PRIu64 " bytes at line %" PRIu64
               " is larger than the limit of %zu bytes; skipped",
               r->obj_size, r->obj_line, r->max_object);
        return;
    }
    if (r->is_array_val) {
        report(r, VA_SEV_ERROR, VA_EFORMAT, unit, no, r->obj_off,
               "line %" PRIu64 ": an array where an event object was expected; skipped",
               r->obj_line);
        return;
    }
    va_arena_reset(&r->arena);
    va_json *root = NULL;
    va_json_error je;
    va_err e = va_json_parse(&r->arena, r->obj.p, r->obj.len, &r->jo, &root, &je);
    if (e == VA_ENOMEM) {
        r->fatal = e;
        return;
    }
    if (e) {
        uint64_t line = r->obj_line + je.line - 1;
        uint64_t col = je.line == 1 ? r->obj_col + je.col : je.col;
        report(r, VA_SEV_ERROR, e, unit, no, r->obj_off + je.offset,
               "line %" PRIu64 ", column %" PRIu64 ": %s; object skipped", line, col, je.reason);
        return;
    }
    va_event_init(&r->ev, &r->arena);
    const char *why = "unknown shape";
    va_jsonev_format f = va_jsonev_detect(root);
    va_jsonev_notes notes;
    e = va_jsonev_map(root, &r->ev, &r->text, &why, &notes);
    if (e == VA_ENOMEM || r->text.oom) {
        r->fatal = VA_ENOMEM;
        return;
    }
    if (e) {
        report(r, VA_SEV_ERROR, e, unit, no, r->obj_off, "line %" PRIu64 ": %s; object skipped",
               r->obj_line, why);
        return;
    }
    if (notes.unzoned_time && !r->st.unzoned_times++) {
        const va_json *t = notes.unzoned_time;
        report(r, VA_SEV_WARN, VA_EFORMAT, unit, no, r->obj_off + t->off,
               "line %" PRIu64 ": event time \"%.40s\" (%.*s) has no time zone and the event has "
               "no time with one: read as UTC (reported once per input)",
               r->obj_line, t->s, (int)(t->klen > 20 ? 20 : t->klen), t->key);
    }
    r->ev.src.path = r->name;
    r->ev.src.unit = (int64_t)no;
    r->ev.src.offset = (int64_t)r->obj_off;
    r->st.events++;
    r->st.by_format[f]++;
    if (r->fn && r->fn(r->ud, &r->ev)) r->stopped = 1;
}

static void complete(va_jsonev_reader *r) {
    r->st.objects++;
    r->obj_no++;
    r->nonblank_line = r->line;
    if (r->mode == M_UNKNOWN) r->mode = r->multiline ? M_PRETTY : M_LINES;
    deliver(r);
    obj_reset(r);
    if (r->state == S_OBJ) r->state = S_TOP;
}

static int blank(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

/* Bytes that matter to the extent scanner outside strings. */
static int special(unsigned char c) {
    return c == '"' || c == '{' || c == '}' || c == '[' || c == ']' || c == '\n';
}

static size_t scan_obj(va_jsonev_reader *r, const unsigned char *s, size_t n, size_t i) {
    size_t start = i;
    while (i < n) {
        if (r->in_str) {
            if (r->esc) {
                r->esc = 0;
                if (s[i] != '\n') {
                    i++;
                    continue;
                }
            } else {
                while (i < n && s[i] != '"' && s[i] != '\\' && s[i] != '\n') i++;
                if (i >= n) break;
                if (s[i] != '\n') {
                    if (s[i] == '"')
                        r->in_str = 0;
                    else
                        r->esc = 1;
                    i++;
                    continue;
                }
            }
            abandon(r, r->base + i, r->line, "string not closed at the end of the line");
            newline(r, r->base + i);
            return i + 1;
        }
        if (r->pending_nl) {
            /* First byte of a line inside an object: a '{' no further right than where this
             * object began starts the next object, so this one was cut short. */
            if (blank(s[i])) {
                i++;
                continue;
            }
            r->pending_nl = 0;
            if (s[i] == '{' && col_of(r, r->base + i) <= r->obj_col) {
                abandon(r, r->nl_off, r->nl_line, "object not closed at the end of the line");
                return i; /* the resync scanner starts the next object here */
            }
        }
        while (i < n && !special(s[i])) i++;
        if (i >= n) break;
        switch (s[i]) {
        case '"':
            r->in_str = 1;
            break;
        case '{':
        case '[':
            r->depth++;
            break;
        case '}':
        case ']':
            if (--r->depth == 0) {
                i++;
                obj_store(r, s + start, i - start);
                if (!r->fatal) complete(r);
                return i;
            }
            break;
        default: /* '\n' */
            r->multiline = 1;
            r->pending_nl = 1;
            r->nl_off = r->base + i, r->nl_line = r->line;
            newline(r, r->base + i);
            break;
        }
        i++;
    }
    obj_store(r, s + start, i - start);
    return i;
}

static size_t scan_top(va_jsonev_reader *r, const unsigned char *s, size_t n, size_t i) {
    for (; i < n; i++) {
        unsigned char c = s[i];
        uint64_t at = r->base + i;
        if (c == '\n') {
            newline(r, at);
            continue;
        }
        if (blank(c)) continue;
        int first = r->nonblank_line != r->line;
        r->nonblank_line = r->line;
        switch (c) {
        case '{':
            start_value(r, at, 0);
            return i;
        case '[':
            if (r->in_array) {
                start_value(r, at, 1);
                return i;
            }
            r->in_array = 1, r->expect_comma = 0, r->array_damaged = 0;
            r->array_elems = 0, r->array_line = r->line;
            continue;
        case ']':
            if (!r->in_array) break;
            if (!r->expect_comma && r->array_elems)
                report(r, VA_SEV_WARN, VA_EFORMAT, "line", r->line, at,
                       "',' before the end of the array (line %" PRIu64 ")", r->line);
            r->in_array = 0;
            continue;
        case ',':
            if (!r->in_array) break;
            if (!r->expect_comma)
                report(r, VA_SEV_WARN, VA_EFORMAT, "line", r->line, at,
                       "',' without an array element before it (line %" PRIu64 ")", r->line);
            r->expect_comma = 0;
            continue;
        case 'R':
            /* evtx_dump's default output puts "Record N" on a line before each object. */
            if (!first || r->in_array) break;
            r->state = S_RECLINE, r->rec_pos = 1;
            r->text_off = at, r->text_line = r->line, r->text_col = col_of(r, at);
            r->text_byte = c;
            return i + 1;
        case 0xEF:
            if (at != 0) break;
            r->state = S_BOM, r->rec_pos = 1;
            r->text_off = at, r->text_line = r->line, r->text_col = 0, r->text_byte = c;
            return i + 1;
        default:
            break;
        }
        stray(r, at, r->line, col_of(r, at), c);
        return i + 1;
    }
    return i;
}

static size_t scan_recline(va_jsonev_reader *r, const unsigned char *s, size_t n, size_t i) {
    static const char pfx[] = "Record ";
    for (; i < n; i++) {
        unsigned char c = s[i];
        if (r->rec_pos < 7 && c == (unsigned char)pfx[r->rec_pos]) {
            r->rec_pos++;
            continue;
        }
        if (r->rec_pos >= 7 && c >= '0' && c <= '9') {
            r->rec_pos = 8;
            continue;
        }
        if (r->rec_pos == 8 && blank(c)) continue;
        if (r->rec_pos == 8 && c == '\n') {
            newline(r, r->base + i);
            r->state = S_TOP;
            return i + 1;
        }
        stray(r, r->text_off, r->text_line, r->text_col, r->text_byte);
        return i; /* the resync scanner looks at this byte again */
    }
    return i;
}

static size_t scan_bom(va_jsonev_reader *r, const unsigned char *s, size_t n, size_t i) {
    static const unsigned char bom[] = {0xEF, 0xBB, 0xBF};
    for (; i < n; i++) {
        if (s[i] != bom[r->rec_pos]) {
            stray(r, r->text_off, r->text_line, r->text_col, r->text_byte);
            return i;
        }
        if (++r->rec_pos == 3) {
            r->nonblank_line = 0; /* a BOM does not make the line non-blank */
            r->state = S_TOP;
            return i + 1;
        }
    }
    return i;
}

static size_t scan_resync(va_jsonev_reader *r, const unsigned char *s, size_t n, size_t i) {
    for (; i < n; i++) {
        unsigned char c = s[i];
        uint64_t at = r->base + i;
        if (c == '\n') {
            newline(r, at);
            continue;
        }
        if (blank(c)) continue;
        int first = r->nonblank_line != r->line;
        r->nonblank_line = r->line;
        if (first && c == '{' && col_of(r, at) <= r->resync_col) {
            r->state = S_TOP;
            return i;
        }
    }
    return i;
}

va_jsonev_reader *va_jsonev_new(const char *name, const va_jsonev_opts *o, va_diag_fn diag,
                                void *diag_ud, va_jsonev_fn fn, void *ud) {
    va_jsonev_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->name = name;
    r->max_object = o && o->max_object ? o->max_object : VA_JSONEV_DEFAULT_MAX_OBJECT;
    r->jo.max_size = r->max_object;
    r->jo.max_depth = o && o->max_depth ? o->max_depth : VA_JSONEV_DEFAULT_MAX_DEPTH;
    r->jo.strict_utf8 = o ? o->strict_utf8 : 0;
    r->diag = diag, r->diag_ud = diag_ud;
    r->fn = fn, r->ud = ud;
    r->line = 1;
    va_buf_init(&r->obj);
    va_buf_init(&r->text);
    va_arena_init(&r->arena, 256 * 1024);
    return r;
}

va_err va_jsonev_feed(va_jsonev_reader *r, const void *p, size_t n) {
    const unsigned char *s = p;
    size_t i = 0;
    if (r->fatal || r->stopped || r->state == S_END) return r->fatal;
    while (i < n && !r->stopped && !r->fatal) {
        switch (r->state) {
        case S_OBJ:
            i = scan_obj(r, s, n, i);
            break;
        case S_RESYNC:
            i = scan_resync(r, s, n, i);
            break;
        case S_RECLINE:
            i = scan_recline(r, s, n, i);
            break;
        case S_BOM:
            i = scan_bom(r, s, n, i);
            break;
        default:
            i = scan_top(r, s, n, i);
            break;
        }
    }
    r->base += n;
    r->st.bytes += n;
    return r->fatal;
}

va_err va_jsonev_end(va_jsonev_reader *r) {
    if (r->fatal || r->stopped || r->state == S_END) return r->fatal;
    uint64_t no;
    const char *unit;
    switch (r->state) {
    case S_OBJ:
        r->st.objects++;
        r->obj_no++;
        unit = obj_unit(r, &no);
        report(r, VA_SEV_ERROR, r->obj_size > r->max_object ? VA_ELIMIT : VA_ETRUNC, unit, no,
               r->obj_off,
               "input ends inside the object starting at line %" PRIu64 ", column %" PRIu64
               " (%" PRIu64 " bytes); skipped",
               r->obj_line, r->obj_col + 1, r->obj_size);
        if (r->in_array) r->array_damaged = 1;
        break;
    case S_RECLINE:
        if (r->rec_pos != 8) stray(r, r->text_off, r->text_line, r->text_col, r->text_byte);
        break;
    case S_BOM:
        stray(r, r->text_off, r->text_line, r->text_col, r->text_byte);
        break;
    default:
        break;
    }
    if (r->in_array && !r->array_damaged)
        report(r, VA_SEV_WARN, VA_ETRUNC, "line", r->array_line, r->base,
               "input ends inside the array opened at line %" PRIu64, r->array_line);
    obj_reset(r);
    r->state = S_END;
    return r->fatal;
}

int va_jsonev_stopped(const va_jsonev_reader *r) {
    return r->stopped;
}

const va_jsonev_stats *va_jsonev_get_stats(const va_jsonev_reader *r) {
    return &r->st;
}

void va_jsonev_free(va_jsonev_reader *r) {
    if (!r) return;
    va_buf_free(&r->obj);
    va_buf_free(&r->text);
    va_arena_free(&r->arena);
    free(r);
}

static void add_stats(va_jsonev_stats *to, const va_jsonev_stats *from) {
    to->objects += from->objects;
    to->events += from->events;
    to->bad += from->bad;
    to->warnings += from->warnings;
    to->unzoned_times += from->unzoned_times;
    to->bytes += from->bytes;
    for (int i = 0; i < VA_JSONEV_NFORMATS_; i++) to->by_format[i] += from->by_format[i];
}

static va_err io_fail(const char *path, va_diag_fn diag, void *diag_ud, uint64_t off,
                      const char *what, int err) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
    va_diag d = {VA_SEV_ERROR, VA_EIO, path, NULL, -1, (int64_t)off, msg};
    if (diag) diag(diag_ud, &d);
    return VA_EIO;
}

va_err va_jsonev_read_file(const char *path, const va_jsonev_opts *o, va_diag_fn diag,
                           void *diag_ud, va_jsonev_stats *st, va_jsonev_fn fn, void *ud) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_fail(path, diag, diag_ud, 0, "cannot open", errno);
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd);
        return io_fail(path, diag, diag_ud, 0, "cannot read", EISDIR);
    }
    unsigned char *block = malloc(VA_JSONEV_BLOCK);
    va_jsonev_reader *r = va_jsonev_new(path, o, diag, diag_ud, fn, ud);
    if (!block || !r) {
        free(block);
        va_jsonev_free(r);
        close(fd);
        return VA_ENOMEM;
    }
    va_err e = VA_OK;
    for (;;) {
        ssize_t got = read(fd, block, VA_JSONEV_BLOCK);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            e = io_fail(path, diag, diag_ud, va_jsonev_get_stats(r)->bytes, "read failed", errno);
            break;
        }
        if (got == 0) {
            e = va_jsonev_end(r);
            break;
        }
        e = va_jsonev_feed(r, block, (size_t)got);
        if (e || va_jsonev_stopped(r)) break;
    }
    if (st) add_stats(st, va_jsonev_get_stats(r));
    va_jsonev_free(r);
    free(block);
    close(fd);
    return e;
}
