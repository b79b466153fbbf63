/*
 * file.c - EVTX files and chunks: mapping, validation, record iteration, parallel reading.
 *
 * Validation follows the format's own redundancy: file header magic and CRC32, chunk magic,
 * chunk header CRC32 (bytes 0-120 and 128-512), records CRC32 (512 to the free-space offset),
 * record signature and the size copy at each record's end.  Every problem is reported with
 * file, chunk and byte offset, counted, and skipped; the rest of the file is still read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/workq.h"
#include "evtx/evtx_int.h"

struct va_evtx_file {
    char *path;
    const uint8_t *data; /* whole file, for files opened over memory; else NULL */
    int fd;              /* for files on disk: chunks are read with pread into the caller's
                            buffer, so workers share no mapping (no page-fault or mmap-lock
                            contention) and resident memory stays flat */
    uint8_t *hdr;        /* the file header (first 4 KiB or less), for fd files */
    size_t len;
    uint32_t nchunks;
    int dirty, full;
    va_diag_fn diag;
    void *diag_ud;
};

static void report(va_diag_fn fn, void *ud, const char *path, va_severity sev, va_err code,
                   int64_t chunk, int64_t off, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static void report(va_diag_fn fn, void *ud, const char *path, va_severity sev, va_err code,
                   int64_t chunk, int64_t off, const char *fmt, ...) {
    if (!fn) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    va_diag d = {sev, code, path, chunk >= 0 ? "chunk" : NULL, chunk, off, msg};
    fn(ud, &d);
}

static va_err check_header(va_evtx_file *f) {
    const uint8_t *h = f->data ? f->data : f->hdr;
    if (f->len < 8 || memcmp(h, "ElfFile", 8) != 0) {
        /* A carved or damaged file may still hold chunks: read them if it does. */
        if (f->len >= VA_EVTX_HEADER_SIZE + 8 && !memcmp(h + VA_EVTX_HEADER_SIZE, "ElfChnk", 8)) {
            report(f->diag, f->diag_ud, f->path, VA_SEV_WARN, VA_EFORMAT, -1, 0,
                   "bad file header magic; reading the chunks anyway");
            return VA_OK;
        }
        report(f->diag, f->diag_ud, f->path, VA_SEV_ERROR, VA_EFORMAT, -1, 0,
               "not an EVTX file (no \"ElfFile\" signature)");
        return VA_EFORMAT;
    }
    if (f->len < 128) {
        report(f->diag, f->diag_ud, f->path, VA_SEV_ERROR, VA_ETRUNC, -1, (int64_t)f->len,
               "file header truncated at %zu bytes", f->len);
        return VA_ETRUNC;
    }
    uint32_t stored = bx_rd32(h + 124), crc = va_evtx_crc32(0, h, 120);
    if (stored != crc)
        report(f->diag, f->diag_ud, f->path, VA_SEV_WARN, VA_ECRC, -1, 124,
               "file header CRC32 0x%08" PRIx32 " does not match computed 0x%08" PRIx32, stored,
               crc);
    uint32_t flags = bx_rd32(h + 120);
    f->dirty = flags & 1, f->full = (flags >> 1) & 1;
    uint16_t hdr_chunks = bx_rd16(h + 42);
    if (f->len < VA_EVTX_HEADER_SIZE) {
        report(f->diag, f->diag_ud, f->path, VA_SEV_ERROR, VA_ETRUNC, -1, (int64_t)f->len,
               "file ends inside its 4096-byte header");
        return VA_ETRUNC;
    }
    if (f->nchunks < hdr_chunks)
        report(f->diag, f->diag_ud, f->path, VA_SEV_WARN, VA_ETRUNC, -1, (int64_t)f->len,
               "header counts %u chunks but the file holds %" PRIu32 " (truncated)", hdr_chunks,
               f->nchunks);
    return VA_OK;
}

static va_err file_init(va_evtx_file *f, const char *name, size_t len, va_diag_fn diag,
                        void *diag_ud) {
    if (!(f->path = strdup(name))) {
        report(diag, diag_ud, name, VA_SEV_ERROR, VA_ENOMEM, -1, -1, "out of memory: not read");
        return VA_ENOMEM;
    }
    f->len = len;
    f->diag = diag, f->diag_ud = diag_ud;
    f->nchunks =
        len > VA_EVTX_HEADER_SIZE
            ? (uint32_t)((len - VA_EVTX_HEADER_SIZE + VA_EVTX_CHUNK_SIZE - 1) / VA_EVTX_CHUNK_SIZE)
            : 0;
    return check_header(f);
}

va_err va_evtx_open_mem(const char *name, const uint8_t *data, size_t len, va_diag_fn diag,
                        void *diag_ud, va_evtx_file **out) {
    va_evtx_file *f = calloc(1, sizeof *f);
    if (!f) return VA_ENOMEM;
    f->fd = -1;
    f->data = data;
    va_err e = file_init(f, name, len, diag, diag_ud);
    if (e) {
        va_evtx_close(f);
        return e;
    }
    *out = f;
    return VA_OK;
}

/* Read n bytes at off (fewer only at the end of the file); -1 on error. */
static ssize_t pread_full(int fd, uint8_t *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

va_err va_evtx_open(const char *path, va_diag_fn diag, void *diag_ud, va_evtx_file **out) {
    /* "-" is standard input, which the caller has made a regular file (cli/stdin.h) */
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC)
                               : fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        report(diag, diag_ud, path, VA_SEV_ERROR, VA_EIO, -1, -1, "cannot open: %s",
               strerror(errno));
        return VA_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        report(diag, diag_ud, path, VA_SEV_ERROR, VA_EIO, -1, -1, "not a regular file");
        close(fd);
        return VA_EIO;
    }
    va_evtx_file *f = calloc(1, sizeof *f);
    /* The header plus the first 8 bytes of chunk 0 (to recognise carved files). */
    size_t hl = VA_EVTX_HEADER_SIZE + 8;
    if (f) f->hdr = calloc(1, hl);
    if (!f || !f->hdr) {
        free(f);
        close(fd);
        report(diag, diag_ud, path, VA_SEV_ERROR, VA_ENOMEM, -1, -1, "out of memory: not read");
        return VA_ENOMEM;
    }
    f->fd = fd;
    if (pread_full(fd, f->hdr, hl, 0) < 0) {
        report(diag, diag_ud, path, VA_SEV_ERROR, VA_EIO, -1, 0, "cannot read: %s",
               strerror(errno));
        va_evtx_close(f);
        return VA_EIO;
    }
    va_err e = file_init(f, path, (size_t)sb.st_size, diag, diag_ud);
    if (e) {
        va_evtx_close(f);
        return e;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = f;
    return VA_OK;
}

void va_evtx_close(va_evtx_file *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    free(f->hdr);
    free(f->path);
    free(f);
}

uint32_t va_evtx_nchunks(const va_evtx_file *f) {
    return f->nchunks;
}
const char *va_evtx_path(const va_evtx_file *f) {
    return f->path;
}
int va_evtx_dirty(const va_evtx_file *f) {
    return f->dirty;
}
size_t bx_file_len(const va_evtx_file *f) {
    return f->len;
}

/* ---- chunks ---- */

static int all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Next record signature at or after pos (8-byte aligned as records are), or end. */
static uint32_t resync(const uint8_t *ck, uint32_t pos, uint32_t end) {
    for (pos = (pos + 8) & ~7u; pos + 24 <= end; pos += 8)
        if (!memcmp(ck + pos, "**\0\0", 4)) return pos;
    return end;
}

int bx_parse_chunk(va_evtx_file *f, uint32_t idx, const va_evtx_opts *o, va_evtx_ctx *c,
                   va_evtx_stats *st, va_diag_fn diag, void *dud, va_evtx_rec_fn fn, void *ud,
                   va_buf *xml) {
    uint64_t base = VA_EVTX_HEADER_SIZE + (uint64_t)idx * VA_EVTX_CHUNK_SIZE;
    if (base >= f->len) return 0;
    uint32_t len =
        (uint32_t)(f->len - base < VA_EVTX_CHUNK_SIZE ? f->len - base : VA_EVTX_CHUNK_SIZE);
    const uint8_t *ck = f->data ? f->data + base : c->chunk_buf;
    uint32_t avail = len; /* bytes of the chunk at hand: what is parsed is bounded by this */
    if (!f->data) {
        /* Read the header and the first record signature, then only up to the free-space
         * offset: most chunks of real logs are far from full, and nothing past that offset
         * belongs to a record. */
        uint32_t want = len < 516 ? len : 516;
        ssize_t got = pread_full(f->fd, c->chunk_buf, want, base);
        if (got >= 52 && !memcmp(c->chunk_buf, "ElfChnk", 8)) {
            uint32_t fo = bx_rd32(c->chunk_buf + 48);
            uint32_t need = fo > (uint32_t)got && fo <= len ? fo : (uint32_t)got;
            ssize_t more = need > (uint32_t)got
                               ? pread_full(f->fd, c->chunk_buf + got, need - (uint32_t)got,
                                            base + (uint64_t)got)
                               : 0;
            got = more < 0 ? -1 : got + more;
        }
        if (got < 0) {
            st->chunks++, st->chunks_bad++;
            report(diag, dud, f->path, VA_SEV_ERROR, VA_EIO, idx, (int64_t)base,
                   "cannot read chunk: %s", strerror(errno));
            return 0;
        }
        avail = (uint32_t)got;
        if (avail < want) len = avail; /* the file shrank since it was opened */
        if (!len) return 0;
    }
    const char *path = f->path;
    st->chunks++;
    if (avail < 8 || all_zero(ck, 8)) {
        /* Unused slot, unless the header was wiped but records remain.  Only the first
         * record's signature is looked at: scanning 64 KiB of zeros per unused slot would
         * fault in every page of a preallocated file. */
        if (avail >= 512 + 4 && all_zero(ck, 512) && !memcmp(ck + 512, "**\0\0", 4)) {
            st->chunks_bad++;
            report(diag, dud, path, VA_SEV_ERROR, VA_EFORMAT, idx, (int64_t)base,
                   "chunk header is blank but the chunk holds records; chunk skipped");
            return 0;
        }
        st->chunks_empty++;
        return 0;
    }
    if (memcmp(ck, "ElfChnk", 8) != 0) {
        st->chunks_bad++;
        report(diag, dud, path, VA_SEV_ERROR, VA_EFORMAT, idx, (int64_t)base,
               "bad chunk signature; chunk skipped");
        return 0;
    }
    int truncated = len < VA_EVTX_CHUNK_SIZE;
    if (len < 512 || avail < 512) {
        st->chunks_bad++;
        report(diag, dud, path, VA_SEV_ERROR, VA_ETRUNC, idx, (int64_t)base,
               "chunk truncated inside its header (%" PRIu32 " bytes); chunk skipped", len);
        return 0;
    }
    uint32_t free_off = bx_rd32(ck + 48);
    if (free_off < 512 || free_off > VA_EVTX_CHUNK_SIZE) {
        st->chunks_bad++;
        report(diag, dud, path, VA_SEV_ERROR, VA_ERANGE, idx, (int64_t)base + 48,
               "free space offset 0x%" PRIx32 " outside the chunk; chunk skipped", free_off);
        return 0;
    }
    if (avail < free_off) truncated = 1; /* the file shrank under us */
    if (truncated) {
        report(diag, dud, path, VA_SEV_WARN, VA_ETRUNC, idx, (int64_t)f->len,
               "chunk truncated at %" PRIu32 " of 65536 bytes; reading the records that remain",
               len);
    } else {
        uint32_t hcrc = va_evtx_crc32(va_evtx_crc32(0, ck, 120), ck + 128, 384);
        uint32_t hstored = bx_rd32(ck + 124);
        uint32_t dcrc = va_evtx_crc32(0, ck + 512, free_off - 512);
        uint32_t dstored = bx_rd32(ck + 52);
        int bad = 0;
        if (hcrc != hstored) {
            bad = 1;
            report(diag, dud, path, o->ignore_crc ? VA_SEV_WARN : VA_SEV_ERROR, VA_ECRC, idx,
                   (int64_t)base + 124,
                   "chunk header CRC32 0x%08" PRIx32 " does not match computed 0x%08" PRIx32 "%s",
                   hstored, hcrc, o->ignore_crc ? "; reading anyway" : "; chunk skipped");
        }
        if (dcrc != dstored) {
            bad = 1;
            report(diag, dud, path, o->ignore_crc ? VA_SEV_WARN : VA_SEV_ERROR, VA_ECRC, idx,
                   (int64_t)base + 52,
                   "records CRC32 0x%08" PRIx32 " does not match computed 0x%08" PRIx32 "%s",
                   dstored, dcrc, o->ignore_crc ? "; reading anyway" : "; chunk skipped");
        }
        if (bad) {
            st->chunks_crc++;
            if (!o->ignore_crc) {
                st->chunks_bad++;
                return 0;
            }
        }
    }
    uint32_t end = free_off < avail ? free_off : avail;
    c->plan_bytes = o->plan_bytes;
    bx_ctx_chunk_reset(c, ck, avail);
    uint32_t pos = 512;
    while (pos + 24 <= end) {
        if (memcmp(ck + pos, "**\0\0", 4) != 0) {
            if (all_zero(ck + pos, end - pos)) break;
            report(diag, dud, path, VA_SEV_ERROR, VA_EFORMAT, idx, (int64_t)(base + pos),
                   "no record signature; skipping to the next record");
            st->records_bad++;
            pos = resync(ck, pos, end);
            continue;
        }
        uint32_t size = bx_rd32(ck + pos + 4);
        uint64_t rid = bx_rd64(ck + pos + 8);
        if (size < 28 || size > end - pos) {
            /* In a chunk cut short by the end of the file, a record that runs past the
             * remaining bytes is truncated rather than malformed. */
            va_err code =
                truncated && size >= 28 && pos + (uint64_t)size <= free_off ? VA_ETRUNC : VA_ERANGE;
            report(diag, dud, path, VA_SEV_ERROR, code, idx, (int64_t)(base + pos),
                   "record %" PRIu64 ": size %" PRIu32 " does not fit the chunk; skipped", rid,
                   size);
            st->records_bad++;
            pos = resync(ck, pos, end);
            continue;
        }
        if (bx_rd32(ck + pos + size - 4) != size) {
            /* The size copy at the end guards the record: without it the size (and so the
             * record) cannot be trusted, typically the half-written last record of a file
             * copied while in use. */
            report(diag, dud, path, VA_SEV_ERROR, VA_EFORMAT, idx, (int64_t)(base + pos),
                   "record %" PRIu64 ": size copy at its end does not match (damaged record); "
                   "skipped",
                   rid);
            st->records_bad++;
            pos = resync(ck, pos, end);
            continue;
        }
        bx_frag frag;
        va_evtx_rec r;
        va_event *ev = NULL;
        r.record_id = rid;
        r.written = bx_rd64(ck + pos + 16);
        r.chunk = idx;
        r.file_offset = base + pos;
        r.xml = r.json = NULL, r.xml_len = r.json_len = 0, r.ev = NULL, r.work = 0;
        size_t xml_start = xml ? xml->len : 0, json_start = xml_start;
        int json_done = 0;
        int bad = bx_parse(c, pos + 24, pos + size - 4, 0, &frag, NULL);
        if (!bad && o->want_xml && xml) {
            bad = bx_render_xml(c, &frag, xml);
            if (!bad && xml->oom) {
                strcpy(c->err, "out of memory");
                c->err_code = VA_ENOMEM;
                bad = 1;
            }
        }
        json_start = xml ? xml->len : 0;
        if (!bad && (o->want_event || o->want_json)) {
            ev = va_arena_alloc(&c->arena, sizeof *ev);
            if (!ev) {
                strcpy(c->err, "out of memory");
                c->err_code = VA_ENOMEM;
                bad = 1;
            } else {
                va_event_init(ev, &c->arena);
                ev->src.path = path, ev->src.unit = idx, ev->src.offset = (int64_t)(base + pos);
                /* Only the JSON wanted: a plan may write it without making the event. */
                bad = bx_flatten_json(c, &frag, ev, !o->want_event,
                                      o->want_json && !o->want_event ? xml : NULL, &json_done);
            }
        }
        if (!bad && o->want_json && xml) {
            if (!json_done) va_event_json_with(ev, xml, &c->json);
            if (xml->oom) {
                strcpy(c->err, "out of memory");
                c->err_code = VA_ENOMEM;
                bad = 1;
            }
        }
        if (bad) {
            if (xml) xml->len = xml_start;
            report(diag, dud, path, VA_SEV_ERROR, c->err_code ? c->err_code : VA_EFORMAT, idx,
                   (int64_t)(base + pos),
                   "record %" PRIu64 ": %s (at chunk offset 0x%" PRIx32 "); skipped", rid,
                   c->err[0] ? c->err : "parse error", c->err_off);
            st->records_bad++;
            pos += size;
            continue;
        }
        st->records++;
        if (xml) {
            /* Offsets into xml; the caller turns them into pointers once the buffer is
             * complete (it may move while it grows). */
            r.xml = (const char *)(uintptr_t)xml_start;
            r.xml_len = json_start - xml_start;
            r.json = (const char *)(uintptr_t)json_start;
            r.json_len = xml->len - json_start;
            if (o->text_fn) va_buf_putc(xml, '\n'); /* record separator for text_fn */
        }
        r.ev = o->want_event ? ev : NULL;
        if (fn(ud, &r)) return 1;
        pos += size;
    }
    return 0;
}

typedef struct direct {
    va_evtx_rec_fn fn;
    void *ud;
    va_buf *xml;
} direct;

/* Turn the xml offset into a pointer and pass the record on. */
static int direct_rec(void *ud, const va_evtx_rec *r) {
    direct *d = ud;
    va_evtx_rec x = *r;
    if (d->xml) {
        x.xml = d->xml->p + (uintptr_t)r->xml;
        x.json = d->xml->p + (uintptr_t)r->json;
    }
    int stop = d->fn(d->ud, &x);
    if (d->xml) va_buf_clear(d->xml);
    return stop;
}

int va_evtx_chunk_parse(va_evtx_file *f, uint32_t idx, const va_evtx_opts *o, va_evtx_ctx *c,
                        va_evtx_stats *st, va_evtx_rec_fn fn, void *ud) {
    va_buf xml;
    va_buf_init(&xml);
    direct d = {fn, ud, o->want_xml || o->want_json ? &xml : NULL};
    int stop = bx_parse_chunk(f, idx, o, c, st, f->diag, f->diag_ud, direct_rec, &d, d.xml);
    va_buf_free(&xml);
    return stop;
}
