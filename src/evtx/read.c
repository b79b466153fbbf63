/*
 * read.c - read many EVTX files with all cores, records delivered in file order.
 *
 * The unit of work is one chunk.  Chunks of all files flow through one ordered work queue, so
 * a folder of small files keeps both cores busy as well as one large file does.  Each queue
 * slot owns a parse context (arena, template cache), the records and the diagnostics of its
 * chunk; the slot is handed back to the calling thread in order and only then reused, so
 * memory is bounded by the queue depth, never by file size.
 *
 * The flattening plans (render_flat.c) are kept per worker, not per slot: a slot's context
 * borrows the store of the worker that parses its chunk.  With a store per slot every plan
 * was learnt again for each of the 2 x threads slots (half as much CPU again on a folder of
 * small files with 2 threads).  The events of a chunk name their fields with its store's text
 * until the chunk is delivered, so a store is counted by the slots that used it: one that is
 * full is replaced, not emptied, and freed when the last of them is delivered.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/array.h"
#include "core/workq.h"
#include "evtx/evtx_int.h"

#define NO_CHUNK UINT32_MAX

typedef struct ofile {
    va_evtx_file *f; /* NULL if it failed to open */
    const char *path;
    va_err open_err;
    va_evtx_stats st;
    size_t refs;       /* slots submitted and not yet delivered */
    int all_submitted; /* no more slots will be submitted */
} ofile;

/* A worker's plan store, counted: one for the worker while it is its current store, one for
 * each slot parsed with it and not yet delivered. */
typedef struct pstore {
    bx_plans *p;
    _Atomic uint32_t refs;
} pstore;

static pstore *pstore_new(size_t limit, uint32_t gen) {
    pstore *ps = malloc(sizeof *ps);
    if (!ps) return NULL;
    if (!(ps->p = bx_plans_new(limit, gen))) {
        free(ps);
        return NULL;
    }
    atomic_init(&ps->refs, 1);
    return ps;
}

/* Drop one count (the last frees the store); any thread. */
static void pstore_release(pstore *ps) {
    if (ps && atomic_fetch_sub(&ps->refs, 1) == 1) {
        bx_plans_free(ps->p);
        free(ps);
    }
}

typedef struct sdiag {
    va_diag d;
    size_t msg_off, file_off;
} sdiag;

typedef struct slot {
    ofile *of;
    uint32_t idx;
    int worker;            /* running it, for work_fn */
    const va_evtx_opts *o; /* for work_fn */
    va_evtx_ctx *ctx;
    va_buf xml;
    va_evtx_rec *recs;
    size_t nrecs, caprecs;
    sdiag *diags;
    size_t ndiags, capdiags;
    va_buf dtext; /* diagnostic strings */
    va_evtx_stats st;
    int oom;
    pstore *plans; /* the store its chunk was parsed with, until delivered (NULL: the ctx's) */
} slot;

typedef struct reader {
    const va_evtx_opts *o;
    va_diag_fn diag;
    void *diag_ud;
    va_evtx_stats *total;
    va_evtx_rec_fn fn;
    va_evtx_file_fn file_fn;
    void *ud;
    int stop;
    pstore **plans; /* per worker id (workq.h: 0 to threads - 1): its current store */
    uint32_t *gen;  /* per worker id: generation of its last store */
    int nplans;
} reader;

static void slot_diag(void *ud, const va_diag *d) {
    slot *s = ud;
    if (VA_ARRAY_GROW(s->diags, s->capdiags, s->ndiags + 1)) {
        s->oom = 1;
        return;
    }
    sdiag *x = &s->diags[s->ndiags++];
    x->d = *d;
    x->msg_off = s->dtext.len;
    va_buf_put(&s->dtext, d->msg, strlen(d->msg) + 1);
    x->file_off = s->dtext.len;
    va_buf_put(&s->dtext, d->file ? d->file : "", strlen(d->file ? d->file : "") + 1);
}

static int slot_rec(void *ud, const va_evtx_rec *r) {
    slot *s = ud;
    if (VA_ARRAY_GROW(s->recs, s->caprecs, s->nrecs + 1)) {
        s->oom = 1;
        return 1;
    }
    va_evtx_rec *x = &s->recs[s->nrecs++];
    *x = *r;
    if (s->o->work_fn) x->work = s->o->work_fn(s->o->work_ud, s->worker, r, &s->ctx->arena);
    return 0;
}

static int skip_rec(void *ud, const va_evtx_rec *r) {
    (void)ud, (void)r;
    return 0;
}

static void slot_reset(slot *s) {
    s->of = NULL, s->idx = NO_CHUNK;
    s->nrecs = s->ndiags = 0;
    va_buf_clear(&s->xml);
    va_buf_clear(&s->dtext);
    memset(&s->st, 0, sizeof s->st);
    s->oom = 0;
}

static void work(void *ud, void *item, int worker) {
    reader *rd = ud;
    slot *s = item;
    if (s->idx == NO_CHUNK || !s->of->f) return;
    s->worker = worker, s->o = rd->o;
    pstore *ps = NULL;
    if (worker >= 0 && worker < rd->nplans) { /* else (never): the slot's own store */
        ps = rd->plans[worker];
        if (ps && !bx_plans_reusable(ps->p, rd->o->plan_bytes)) {
            rd->gen[worker] = bx_plans_gen(ps->p);
            pstore_release(ps); /* full: a new one; the old one lives while slots use it */
            ps = rd->plans[worker] = NULL;
        }
        if (!ps) ps = rd->plans[worker] = pstore_new(rd->o->plan_bytes, rd->gen[worker] + 1);
    }
    bx_plans *own = s->ctx->plans; /* a store of its own, made when none could be lent */
    if (ps) {
        atomic_fetch_add(&ps->refs, 1);
        s->plans = ps;
        s->ctx->plans = ps->p;
    }
    bx_parse_chunk(s->of->f, s->idx, rd->o, s->ctx, &s->st, slot_diag, s,
                   rd->fn ? slot_rec : skip_rec, s,
                   rd->o->want_xml || rd->o->want_json ? &s->xml : NULL);
    if (ps) s->ctx->plans = own; /* lent for this chunk only */
}

static void add_stats(va_evtx_stats *a, const va_evtx_stats *b) {
    a->chunks += b->chunks, a->chunks_bad += b->chunks_bad, a->chunks_crc += b->chunks_crc;
    a->chunks_empty += b->chunks_empty, a->records += b->records;
    a->records_bad += b->records_bad, a->bytes += b->bytes;
    a->files_dirty += b->files_dirty;
}

static void file_done(reader *rd, ofile *of) {
    if (of->f) of->st.bytes = bx_file_len(of->f), of->st.files_dirty = va_evtx_dirty(of->f) != 0;
    if (rd->file_fn) rd->file_fn(rd->ud, of->path, &of->st, of->open_err);
    add_stats(rd->total, &of->st);
    va_evtx_close(of->f);
    free(of);
}

static int done(void *ud, void *item) {
    reader *rd = ud;
    slot *s = item;
    for (size_t i = 0; i < s->ndiags; i++) {
        va_diag d = s->diags[i].d;
        d.msg = s->dtext.p + s->diags[i].msg_off;
        d.file = s->dtext.p + s->diags[i].file_off;
        if (rd->diag) rd->diag(rd->diag_ud, &d);
    }
    if (s->oom && rd->diag) {
        va_diag d = {VA_SEV_ERROR,
                     VA_ENOMEM,
                     s->of->path,
                     "chunk",
                     s->idx,
                     -1,
                     "out of memory: records of this chunk may be missing"};
        rd->diag(rd->diag_ud, &d);
    }
    if (rd->o->text_fn && s->xml.len && !rd->stop && rd->o->text_fn(rd->ud, s->xml.p, s->xml.len))
        rd->stop = 1;
    for (size_t i = 0; rd->fn && i < s->nrecs && !rd->stop; i++) {
        va_evtx_rec r = s->recs[i];
        if (rd->o->want_xml || rd->o->want_json) {
            r.xml = s->xml.p + (uintptr_t)r.xml;
            r.json = s->xml.p + (uintptr_t)r.json;
        }
        if (rd->fn(rd->ud, &r)) rd->stop = 1;
    }
    pstore_release(s->plans); /* its events are delivered: their names are not read again */
    s->plans = NULL;
    ofile *of = s->of;
    add_stats(&of->st, &s->st);
    of->refs--;
    if (of->all_submitted && !of->refs) file_done(rd, of);
    return rd->stop;
}

int va_evtx_read_files(const char *const *paths, size_t npaths, const va_evtx_opts *o,
                       va_diag_fn diag, void *diag_ud, va_evtx_stats *st, va_evtx_rec_fn fn,
                       va_evtx_file_fn file_fn, void *ud) {
    int threads = o->threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads > 64) threads = 64;
    size_t depth = threads > 1 ? (size_t)threads * 2 : 1;
    slot *slots = calloc(depth, sizeof *slots);
    void **ptrs = calloc(depth, sizeof *ptrs);
    reader rd = {o, diag, diag_ud, st, fn, file_fn, ud, 0, NULL, NULL, 0};
    rd.plans = calloc((size_t)threads, sizeof *rd.plans);
    rd.gen = calloc((size_t)threads, sizeof *rd.gen);
    if (rd.plans && rd.gen) rd.nplans = threads; /* else each slot keeps its own, as before */
    va_workq *q = NULL;
    int ok = slots && ptrs;
    for (size_t i = 0; ok && i < depth; i++) {
        ptrs[i] = &slots[i];
        va_buf_init(&slots[i].xml);
        va_buf_init(&slots[i].dtext);
        if (!(slots[i].ctx = va_evtx_ctx_new())) ok = 0;
    }
    if (ok) q = va_workq_new(threads, ptrs, depth, work, done, &rd);
    if (!q) {
        if (diag) {
            va_diag d = {VA_SEV_ERROR, VA_ENOMEM, NULL, NULL, -1, -1, "cannot start the reader"};
            diag(diag_ud, &d);
        }
        rd.stop = 1;
    }
    for (size_t p = 0; q && p < npaths && !rd.stop; p++) {
        slot *s = va_workq_acquire(q);
        if (!s) break;
        slot_reset(s);
        ofile *of = calloc(1, sizeof *of);
        if (!of) {
            if (diag) {
                va_diag d = {VA_SEV_ERROR,
                             VA_ENOMEM,
                             paths[p],
                             NULL,
                             -1,
                             -1,
                             "out of memory: this file and the rest are not read"};
                diag(diag_ud, &d);
            }
            rd.stop = 1;
            break;
        }
        of->path = paths[p];
        /* Header problems are collected into the file's first slot, so they come out in order. */
        of->open_err = va_evtx_open(paths[p], slot_diag, s, &of->f);
        uint32_t n = of->f ? va_evtx_nchunks(of->f) : 0;
        /* A file without chunks still passes through the queue so its report stays in order. */
        for (uint32_t i = 0; i < (n ? n : 1); i++) {
            if (i > 0 && !(s = va_workq_acquire(q))) break;
            if (i > 0) slot_reset(s);
            s->of = of, s->idx = n ? i : NO_CHUNK;
            of->refs++;
            va_workq_submit(q, s);
            if (rd.stop) break;
        }
        of->all_submitted = 1;
        if (!of->refs) file_done(&rd, of);
    }
    int stopped = rd.stop;
    if (q) {
        va_workq_finish(q);
        va_workq_free(q);
    }
    for (int i = 0; i < rd.nplans; i++) pstore_release(rd.plans[i]);
    free(rd.plans);
    free(rd.gen);
    for (size_t i = 0; slots && i < depth; i++) {
        pstore_release(slots[i].plans); /* none after a normal finish: delivery released it */
        va_evtx_ctx_free(slots[i].ctx);
        va_buf_free(&slots[i].xml);
        va_buf_free(&slots[i].dtext);
        free(slots[i].recs);
        free(slots[i].diags);
    }
    free(slots);
    free(ptrs);
    return stopped || rd.stop;
}
