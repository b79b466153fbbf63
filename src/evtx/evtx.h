/*
 * evtx.h - Windows XML Event Log (EVTX) reader.
 *
 * An EVTX file is a 4 KiB header followed by independent 64 KiB chunks; each chunk holds its
 * own string and template tables and a run of records whose payload is binary XML.  vaern maps
 * the file read-only, validates header and chunks (magic, sizes, CRC32), and parses each chunk
 * on its own, so chunks can go to different threads (see va_evtx_read_files()).  Parse data lives
 * in a per-worker va_evtx_ctx whose arena is reset after every chunk: memory stays flat whatever
 * the file size.
 *
 * A parsed record can be rendered two ways: as the flat event (core/event.h) that detectors
 * read, and as XML comparable to libevtx's `evtxexport -f xml`.
 */
#ifndef VA_EVTX_EVTX_H
#define VA_EVTX_EVTX_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/event.h"

#define VA_EVTX_CHUNK_SIZE  65536
#define VA_EVTX_HEADER_SIZE 4096

typedef struct va_evtx_rec va_evtx_rec;

/* Options for reading. */
typedef struct va_evtx_opts {
    int ignore_crc; /* parse chunks whose checksums do not match (the mismatch is still reported) */
    int want_xml;   /* render each record as XML into va_evtx_rec.xml */
    int want_event; /* build the flat event into va_evtx_rec.ev */
    int want_json;  /* also serialise the flat event as JSON into va_evtx_rec.json (on the
                       worker thread, so output formatting scales with cores) */
    int threads;    /* worker threads for va_evtx_read_files (0 = all cores) */
    /* Memory each worker may keep for flattening plans (how records of a shape flatten,
     * learnt from the first one): 0 means 8 MiB.  When full, they are dropped at the next chunk
     * and learnt again; a bound below one plan means none (every record is walked).  Only the
     * speed changes. */
    size_t plan_bytes;
    /* Optional, for va_evtx_read_files: receives the rendered text (XML and/or JSON) of each
     * chunk in one piece, in file order, every record followed by a newline, straight from
     * the worker's buffer.  Lets a consumer that only writes text skip per-record calls and
     * copies.  Return nonzero to stop. */
    int (*text_fn)(void *ud, const char *text, size_t len);
    /* Optional, for va_evtx_read_files: runs on the worker thread for each record as soon as
     * it is parsed (worker: 0..threads-1), so per-record work such as detection scales with
     * cores.  What it returns comes back with the record in va_evtx_rec.work; a is the
     * chunk's arena, for results that must live until the record is delivered. */
    uintptr_t (*work_fn)(void *work_ud, int worker, const va_evtx_rec *r, va_arena *a);
    void *work_ud;
} va_evtx_opts;

/* Counters for one file (or summed over files). */
typedef struct va_evtx_stats {
    uint64_t chunks;       /* chunk slots looked at */
    uint64_t chunks_bad;   /* chunks skipped: bad magic, bad header, bad CRC (without ignore_crc) */
    uint64_t chunks_crc;   /* chunks whose header or data CRC did not match */
    uint64_t chunks_empty; /* all-zero (never written) chunk slots */
    uint64_t records;      /* records parsed and delivered */
    uint64_t records_bad;  /* records that failed to parse (reported, skipped) */
    uint64_t bytes;        /* file bytes */
    uint64_t files_dirty;  /* files whose header marks them as not closed cleanly (in use) */
} va_evtx_stats;

typedef struct va_evtx_file va_evtx_file;

/* Open and map path, validate the file header (problems with it are reported via diag and are
 * not fatal when the chunks are usable).  "-" is standard input, which must then be a regular
 * file.  On success *out owns the mapping: va_evtx_close. */
va_err va_evtx_open(const char *path, va_diag_fn diag, void *diag_ud, va_evtx_file **out);
/* Open over caller-owned memory (fuzzing, tests); data must outlive the file. */
va_err va_evtx_open_mem(const char *name, const uint8_t *data, size_t len, va_diag_fn diag,
                        void *diag_ud, va_evtx_file **out);
void va_evtx_close(va_evtx_file *f);
/* Number of chunk slots that fit in the file (may exceed the header's count). */
uint32_t va_evtx_nchunks(const va_evtx_file *f);
const char *va_evtx_path(const va_evtx_file *f);
/* File header facts: whether the file was marked dirty (still in use) or full. */
int va_evtx_dirty(const va_evtx_file *f);

/* One parsed record, valid during the record callback. */
struct va_evtx_rec {
    uint64_t record_id;   /* from the record header */
    uint64_t written;     /* FILETIME from the record header */
    uint32_t chunk;       /* chunk index */
    uint64_t file_offset; /* of the record header */
    const char *xml;      /* rendered XML (want_xml); not NUL-terminated */
    size_t xml_len;
    const char *json; /* the flat event as one JSON object (want_json); not NUL-terminated */
    size_t json_len;
    const va_event *ev; /* flat event (want_event) */
    uintptr_t work;     /* what va_evtx_opts.work_fn returned, else 0 */
};

typedef int (*va_evtx_rec_fn)(void *ud, const va_evtx_rec *r);

/* Per-thread parse state: arena, template cache, scratch buffers.  One per worker. */
typedef struct va_evtx_ctx va_evtx_ctx;
va_evtx_ctx *va_evtx_ctx_new(void);
void va_evtx_ctx_free(va_evtx_ctx *c);

/* Parse chunk idx of f, calling fn for each good record in order; problems go to the file's
 * diag callback and into st.  Returns nonzero if fn asked to stop. */
int va_evtx_chunk_parse(va_evtx_file *f, uint32_t idx, const va_evtx_opts *o, va_evtx_ctx *c,
                        va_evtx_stats *st, va_evtx_rec_fn fn, void *ud);

/* Called once per file after its last record, with that file's counters. */
typedef void (*va_evtx_file_fn)(void *ud, const char *path, const va_evtx_stats *st,
                                va_err open_err);

/* Read many files in order, spreading their chunks over o->threads workers (0 = all cores);
 * fn gets every record in file order on the calling thread, file_fn (may be NULL) each file's
 * counters; totals are added to st.  Files that cannot be opened are reported and skipped.
 * Returns nonzero if fn asked to stop. */
int va_evtx_read_files(const char *const *paths, size_t npaths, const va_evtx_opts *o,
                       va_diag_fn diag, void *diag_ud, va_evtx_stats *st, va_evtx_rec_fn fn,
                       va_evtx_file_fn file_fn, void *ud);

/* CRC32 (IEEE, as used by EVTX) of data, continuing from crc (start with 0). */
uint32_t va_evtx_crc32(uint32_t crc, const void *data, size_t len);

#endif
