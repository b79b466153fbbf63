/*
 * correlate_spill.c - the waiting room of correlation inputs (see correlate_spill.h).
 *
 * In memory a record is its payload, prefixed by its length, appended to one byte array, and a
 * reference (time, sequence, offset) in a second array; reading sorts the references.  A run
 * file is the same records in (time, sequence) order, each as time (8 bytes), sequence and
 * length (varints) and the payload.  Runs are read through one buffer each, refilled with
 * pread, so a merge of any number of records needs one buffer per run and no more.
 */
#include "sigma/correlate_spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/array.h"

#define RBUF         (64u * 1024) /* read buffer of a run (grows for a bigger record) */
#define WBUF         (256u * 1024)
#define HDR_MAX      (8 + 10 + 10) /* time, sequence and length of a run record at most */
#define NONE         (-2)
#define MEM          (-1)
#define SPILL_LEVELS 48 /* FANIN^47 runs: more than any disk holds */

enum { REP_SPILL = 1, REP_MERGE = 2, REP_READ = 4 };

typedef struct sref {
    int64_t t;
    uint64_t seq;
    uint64_t off; /* in mb: length varint, then the payload */
} sref;

typedef struct run {
    int fd;
    uint32_t level;
    uint64_t size, nrec; /* bytes in the file; records not yet popped */
    uint64_t off;        /* file offset of buf[0] */
    unsigned char *buf;
    size_t bcap, blen, bpos; /* the next record starts at bpos */
    int broken;              /* cannot be read back (reported) */
    int have;                /* the head record is decoded: */
    int64_t t;
    uint64_t seq;
    size_t ppos, pn, rlen; /* payload at buf + ppos, n bytes; record rlen bytes */
} run;

struct va_correlate_spill {
    uint64_t budget, next_try; /* spill when memory would pass next_try (budget, or more after
                                  a failure) */
    char *dir;
    va_diag_fn diag;
    void *ud;
    unsigned reported;
    unsigned char *mb; /* records in memory */
    size_t mlen, mcap;
    sref *rv; /* their references; [rhead, nr) are waiting */
    size_t nr, rcap, rhead;
    run *runs;
    size_t nruns, capruns;
    int cur;                       /* source of the last peek: MEM, a run index, or NONE */
    size_t merge_at[SPILL_LEVELS]; /* runs a level waits for after a failed merge; 0: FANIN */
    unsigned char *wb;
    va_correlate_spill_stats st;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static uint64_t mem_used(const va_correlate_spill *s) {
    return (uint64_t)s->mlen + (uint64_t)s->nr * sizeof(sref);
}

static void note_memory(va_correlate_spill *s) {
    s->st.memory = mem_used(s);
    if (s->st.memory > s->st.memory_peak) s->st.memory_peak = s->st.memory;
}

static void report(va_correlate_spill *s, unsigned bit, va_severity sev, const char *msg) {
    if (s->reported & bit) return;
    s->reported |= bit;
    if (!s->diag) return;
    va_diag d = {sev, VA_EIO, s->dir, NULL, -1, -1, msg};
    s->diag(s->ud, &d);
}

static int ref_cmp(const void *a, const void *b) {
    const sref *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int before(int64_t t, uint64_t seq, int64_t bt, uint64_t bseq) {
    return t < bt || (t == bt && seq < bseq);
}

/* ---- writing runs ------------------------------------------------------------------------ */

typedef struct writer {
    va_correlate_spill *s;
    int fd;
    size_t len;
    uint64_t total;
    int err; /* errno of the first failure */
} writer;

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static void w_put(writer *w, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n && !w->err) {
        if (w->len == WBUF) {
            w->err = write_all(w->fd, w->s->wb, w->len);
            w->len = 0;
            continue;
        }
        size_t k = WBUF - w->len < n ? WBUF - w->len : n;
        memcpy(w->s->wb + w->len, b, k);
        w->len += k, w->total += k, b += k, n -= k;
    }
}

static void w_uv(writer *w, uint64_t v) {
    unsigned char t[10];
    w_put(w, t, va_correlate_spill_uv_encode(t, v));
}

static void w_rec(writer *w, int64_t t, uint64_t seq, const unsigned char *p, size_t n) {
    w_put(w, &t, sizeof t);
    w_uv(w, seq);
    w_uv(w, n);
    w_put(w, p, n);
}

/* A new run file, unlinked at once: it lives as long as its descriptor.  0, or an errno. */
static int w_open(va_correlate_spill *s, writer *w) {
    memset(w, 0, sizeof *w);
    w->s = s, w->fd = -1;
    if (!s->wb && !(s->wb = malloc(WBUF))) return ENOMEM;
    size_t n = strlen(s->dir) + 32;
    char *path = malloc(n);
    if (!path) return ENOMEM;
    snprintf(path, n, "%s/vaern-correlate-XXXXXX", s->dir);
    w->fd = mkostemp(path, O_CLOEXEC);
    int err = w->fd < 0 ? errno : 0;
    if (w->fd >= 0) unlink(path);
    free(path);
    return err;
}

static int w_close(writer *w) {
    if (!w->err && w->len) w->err = write_all(w->fd, w->s->wb, w->len);
    w->len = 0;
    return w->err;
}

/* A run could not be written: merge says whether it was a merge of runs (they stay as they
 * are) or a spill of memory (the records stay in memory). */
static void write_failed(va_correlate_spill *s, writer *w, int err, int merge) {
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    s->st.failed++;
    char msg[600];
    if (merge)
        snprintf(msg, sizeof msg,
                 "cannot merge spilled correlation inputs in %.300s: %s; the runs stay as they "
                 "are (more open files; counted; reported once)",
                 s->dir, strerror(err));
    else
        snprintf(msg, sizeof msg,
                 "cannot spill correlation inputs in %.300s: %s; they stay in memory above the "
                 "budget of %llu bytes (counted; reported once)",
                 s->dir, strerror(err), (unsigned long long)s->budget);
    report(s, merge ? REP_MERGE : REP_SPILL, VA_SEV_WARN, msg);
}

static va_err add_run(va_correlate_spill *s, writer *w, uint32_t level, uint64_t nrec) {
    if (VA_ARRAY_GROW(s->runs, s->capruns, s->nruns + 1)) return VA_ENOMEM;
    run *r = &s->runs[s->nruns++];
    memset(r, 0, sizeof *r);
    r->fd = w->fd, r->level = level, r->size = w->total, r->nrec = nrec;
    s->st.bytes += w->total;
    s->st.open_runs = (uint32_t)s->nruns;
    return VA_OK;
}

static void run_close(va_correlate_spill *s, size_t i) {
    run *r = &s->runs[i];
    close(r->fd);
    free(r->buf);
    s->runs[i] = s->runs[--s->nruns];
    s->st.open_runs = (uint32_t)s->nruns;
}

/* ---- reading runs ------------------------------------------------------------------------ */

/* The run is marked broken; its owner closes it with broken_close (indices of the others
 * must not move under a merge). */
static va_err read_failed(va_correlate_spill *s, size_t i, const char *why) {
    char msg[600];
    snprintf(msg, sizeof msg,
             "cannot read back spilled correlation inputs in %.300s: %s; the rest of that run is "
             "lost (counted in spill_lost)",
             s->dir, why);
    report(s, REP_READ, VA_SEV_ERROR, msg);
    s->runs[i].broken = 1;
    return VA_EIO;
}

static void broken_close(va_correlate_spill *s, size_t i) {
    s->st.lost += s->runs[i].nrec;
    run_close(s, i);
}

/* Decode run i's next record into its head; at the end of the file have stays 0. */
static va_err run_head(va_correlate_spill *s, size_t i) {
    run *r = &s->runs[i];
    if (r->broken) return VA_EIO;
    while (!r->have) {
        uint64_t left = r->size - (r->off + r->bpos);
        if (!left) return VA_OK;
        size_t avail = r->blen - r->bpos;
        size_t want = left < HDR_MAX ? (size_t)left : HDR_MAX;
        if (avail >= want) {
            const unsigned char *b = r->buf + r->bpos, *p = b + 8, *end = r->buf + r->blen;
            uint64_t seq, n;
            if (avail < 8 || va_correlate_spill_get_uv(&p, end, &seq) ||
                va_correlate_spill_get_uv(&p, end, &n) || n > left - (uint64_t)(p - b))
                return read_failed(s, i, "a record is damaged");
            size_t hdr = (size_t)(p - b);
            if (avail >= hdr + n) {
                memcpy(&r->t, b, 8);
                r->seq = seq, r->ppos = r->bpos + hdr, r->pn = (size_t)n, r->rlen = hdr + n;
                r->have = 1;
                return VA_OK;
            }
            want = hdr + (size_t)n;
        }
        if (r->bpos) {
            memmove(r->buf, r->buf + r->bpos, avail);
            r->off += r->bpos, r->blen = avail, r->bpos = 0;
        }
        size_t need = want > RBUF ? want : RBUF;
        if (VA_ARRAY_GROW(r->buf, r->bcap, need)) return VA_ENOMEM;
        size_t room = r->bcap - r->blen;
        uint64_t rest = r->size - (r->off + r->blen);
        if (room > rest) room = (size_t)rest;
        ssize_t got;
        do got = pread(r->fd, r->buf + r->blen, room, (off_t)(r->off + r->blen));
        while (got < 0 && errno == EINTR);
        if (got <= 0) return read_failed(s, i, got < 0 ? strerror(errno) : "the file is short");
        r->blen += (size_t)got;
    }
    return VA_OK;
}

static void run_pop(run *r) {
    r->bpos += r->rlen;
    r->have = 0;
    r->nrec--;
}

/* ---- merging runs ------------------------------------------------------------------------ */

/* Where a merge input stood, to put it back if the merge fails. */
typedef struct mpos {
    size_t id;
    uint64_t pos, nrec;
} mpos;

/* Merge the n runs of level (FANIN of them, or more after failures) into one run of the next
 * level; *merged says whether it happened.  A failure puts every input back where it stood. */
static va_err merge_level(va_correlate_spill *s, uint32_t level, size_t n, int *merged) {
    *merged = 0;
    /* Room for the output first: once the inputs are closed, adding it must not fail. */
    if (VA_ARRAY_GROW(s->runs, s->capruns, s->nruns + 1)) return VA_ENOMEM;
    mpos *in = malloc(n * sizeof *in);
    if (!in) return VA_ENOMEM;
    size_t k = 0;
    uint64_t nrec = 0;
    for (size_t i = 0; i < s->nruns && k < n; i++) {
        if (s->runs[i].level != level) continue;
        in[k] = (mpos){i, s->runs[i].off + s->runs[i].bpos, s->runs[i].nrec};
        nrec += in[k++].nrec;
    }
    writer w;
    int err = w_open(s, &w);
    if (err == ENOMEM) {
        free(in);
        return VA_ENOMEM;
    }
    va_err e = VA_OK;
    int broken = 0;
    while (!err) {
        size_t best = k;
        for (size_t j = 0; j < k && !e; j++) {
            if ((e = run_head(s, in[j].id))) break;
            const run *r = &s->runs[in[j].id], *b = best < k ? &s->runs[in[best].id] : NULL;
            if (r->have && (!b || before(r->t, r->seq, b->t, b->seq))) best = j;
        }
        if (e || best == k) break;
        run *r = &s->runs[in[best].id];
        w_rec(&w, r->t, r->seq, r->buf + r->ppos, r->pn);
        if ((err = w.err)) break;
        run_pop(r);
    }
    if (e == VA_EIO) broken = 1, e = VA_OK;
    if (!err && !e && !broken) err = w_close(&w);
    if (err || e || broken) {
        for (size_t j = 0; j < k; j++) {
            run *r = &s->runs[in[j].id];
            r->off = in[j].pos, r->nrec = in[j].nrec;
            r->blen = r->bpos = 0, r->have = 0;
        }
        if (err)
            write_failed(s, &w, err, 1);
        else if (w.fd >= 0)
            close(w.fd);
        /* Highest index first, so closing one does not move another input. */
        for (size_t j = k; j-- > 0;)
            if (s->runs[in[j].id].broken) broken_close(s, in[j].id);
        free(in);
        return e;
    }
    for (size_t j = k; j-- > 0;) run_close(s, in[j].id);
    free(in);
    s->st.merges++;
    *merged = 1;
    return add_run(s, &w, level + 1, nrec); /* room made above: cannot fail */
}

/* Keep fewer than FANIN runs per level (open files and read buffers stay bounded).  After a
 * failed merge the level waits until it has twice as many runs. */
static va_err maybe_merge(va_correlate_spill *s) {
    for (uint32_t level = 0; level < SPILL_LEVELS - 1; level++) {
        size_t n = 0;
        for (size_t i = 0; i < s->nruns; i++) n += s->runs[i].level == level;
        if (!n) break;
        size_t at = s->merge_at[level] ? s->merge_at[level] : VA_CORRELATE_SPILL_FANIN;
        if (n < at) continue;
        int merged;
        va_err e = merge_level(s, level, n, &merged);
        if (e) return e;
        s->merge_at[level] = merged ? 0 : 2 * n;
        if (!merged) break;
    }
    return VA_OK;
}

/* ---- spilling memory --------------------------------------------------------------------- */

static void mem_reset(va_correlate_spill *s) {
    s->mlen = 0;
    s->nr = s->rhead = 0;
    note_memory(s);
}

/* Write the waiting in-memory records as one sorted run.  A failure keeps them (reported),
 * and the next attempt waits until memory has doubled. */
static va_err spill(va_correlate_spill *s) {
    size_t n = s->nr - s->rhead;
    qsort(s->rv + s->rhead, n, sizeof *s->rv, ref_cmp);
    writer w;
    int err = w_open(s, &w);
    if (err == ENOMEM) return VA_ENOMEM;
    for (size_t i = s->rhead; !err && i < s->nr && !w.err; i++) {
        const unsigned char *p = s->mb + s->rv[i].off, *end = s->mb + s->mlen;
        uint64_t len = 0;
        (void)va_correlate_spill_get_uv(&p, end, &len); /* written by put: cannot fail */
        w_rec(&w, s->rv[i].t, s->rv[i].seq, p, (size_t)len);
    }
    if (!err) err = w_close(&w);
    if (err) {
        write_failed(s, &w, err, 0);
        uint64_t m = mem_used(s);
        s->next_try = m > UINT64_MAX / 2 ? UINT64_MAX : 2 * m;
        return VA_OK;
    }
    va_err e = add_run(s, &w, 0, n);
    if (e) {
        close(w.fd);
        return e;
    }
    s->st.runs++;
    s->next_try = s->budget;
    mem_reset(s);
    return maybe_merge(s);
}

/* ---- the API ----------------------------------------------------------------------------- */

va_err va_correlate_spill_new(uint64_t budget, const char *dir, va_diag_fn diag, void *ud,
                              va_correlate_spill **out) {
    *out = NULL;
    va_correlate_spill *s = calloc(1, sizeof *s);
    if (!s) return VA_ENOMEM;
    if (!dir || !*dir) dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    if (!(s->dir = strdup(dir))) {
        free(s);
        return VA_ENOMEM;
    }
    s->budget = s->next_try = budget;
    s->diag = diag, s->ud = ud;
    s->cur = NONE;
    *out = s;
    return VA_OK;
}

void va_correlate_spill_free(va_correlate_spill *s) {
    if (!s) return;
    while (s->nruns) run_close(s, s->nruns - 1);
    free(s->runs);
    free(s->mb);
    free(s->rv);
    free(s->wb);
    free(s->dir);
    free(s);
}

va_err va_correlate_spill_put(va_correlate_spill *s, int64_t t, uint64_t seq, const void *p,
                              size_t n) {
    if (s->rhead == s->nr && s->nr) mem_reset(s);
    size_t need = n + 10;
    if (s->budget && s->nr > s->rhead && mem_used(s) + need + sizeof(sref) > s->next_try) {
        va_err e = spill(s);
        if (e) return e;
    }
    if (n > SIZE_MAX - 32 || VA_ARRAY_GROW(s->mb, s->mcap, s->mlen + need) ||
        VA_ARRAY_GROW(s->rv, s->rcap, s->nr + 1))
        return VA_ENOMEM;
    sref *r = &s->rv[s->nr++];
    r->t = t, r->seq = seq, r->off = s->mlen;
    s->mlen += va_correlate_spill_uv_encode(s->mb + s->mlen, n);
    if (n) memcpy(s->mb + s->mlen, p, n);
    s->mlen += n;
    note_memory(s);
    return VA_OK;
}

void va_correlate_spill_sort(va_correlate_spill *s) {
    if (s->nr > s->rhead) qsort(s->rv + s->rhead, s->nr - s->rhead, sizeof *s->rv, ref_cmp);
    s->cur = NONE;
}

va_err va_correlate_spill_peek(va_correlate_spill *s, va_correlate_spill_rec *rec, int *have) {
    *have = 0;
    s->cur = NONE;
    int64_t bt = 0;
    uint64_t bseq = 0;
    if (s->rhead < s->nr) {
        s->cur = MEM, bt = s->rv[s->rhead].t, bseq = s->rv[s->rhead].seq;
    }
    for (size_t i = 0; i < s->nruns;) {
        va_err e = run_head(s, i);
        if (e == VA_ENOMEM) return e;
        run *r = &s->runs[i];
        if (e || !r->have) { /* read to its end, or broken (reported, counted as lost) */
            if (e)
                broken_close(s, i);
            else
                run_close(s, i);
            if (s->cur == (int)s->nruns) s->cur = (int)i; /* the moved run was the best */
            continue;
        }
        if (s->cur == NONE || before(r->t, r->seq, bt, bseq))
            s->cur = (int)i, bt = r->t, bseq = r->seq;
        i++;
    }
    if (s->cur == NONE) return VA_OK;
    if (s->cur == MEM) {
        const sref *r = &s->rv[s->rhead];
        const unsigned char *p = s->mb + r->off, *end = s->mb + s->mlen;
        uint64_t len = 0;
        (void)va_correlate_spill_get_uv(&p, end, &len);
        *rec = (va_correlate_spill_rec){r->t, r->seq, p, (size_t)len};
    } else {
        const run *r = &s->runs[s->cur];
        *rec = (va_correlate_spill_rec){r->t, r->seq, r->buf + r->ppos, r->pn};
    }
    *have = 1;
    return VA_OK;
}

void va_correlate_spill_pop(va_correlate_spill *s) {
    if (s->cur == MEM) {
        s->rhead++;
    } else if (s->cur >= 0) {
        run_pop(&s->runs[s->cur]);
    }
    s->cur = NONE;
}

void va_correlate_spill_compact(va_correlate_spill *s, int release) {
    s->cur = NONE;
    if (s->rhead == s->nr) {
        mem_reset(s);
    } else if (s->rhead > (s->nr - s->rhead)) {
        /* More consumed than waiting: copy the waiting records to the front, in order. */
        size_t w = 0, mlen = 0;
        unsigned char *nb = malloc(s->mlen ? s->mlen : 1);
        if (nb) {
            for (size_t i = s->rhead; i < s->nr; i++, w++) {
                const unsigned char *p = s->mb + s->rv[i].off, *end = s->mb + s->mlen;
                uint64_t len = 0;
                (void)va_correlate_spill_get_uv(&p, end, &len);
                size_t rl = (size_t)(p - (s->mb + s->rv[i].off)) + (size_t)len;
                memcpy(nb + mlen, s->mb + s->rv[i].off, rl);
                s->rv[w] = s->rv[i];
                s->rv[w].off = mlen;
                mlen += rl;
            }
            size_t cap = s->mlen ? s->mlen : 1;
            free(s->mb);
            s->mb = nb, s->mcap = cap, s->mlen = mlen;
            s->nr = w, s->rhead = 0;
            note_memory(s);
        } /* else: keep it as it is; the memory is only given back later */
    }
    if (release && s->rhead == s->nr) {
        free(s->mb);
        free(s->rv);
        free(s->wb);
        s->mb = NULL, s->rv = NULL, s->wb = NULL;
        s->mcap = s->rcap = 0;
        mem_reset(s);
        for (size_t i = 0; i < s->nruns; i++) {
            if (s->runs[i].nrec) continue;
            run_close(s, i--);
        }
    }
}

void va_correlate_spill_stats_get(const va_correlate_spill *s, va_correlate_spill_stats *st) {
    *st = s->st;
    st->pending = s->nr - s->rhead;
    for (size_t i = 0; i < s->nruns; i++) st->pending += s->runs[i].nrec;
    st->memory = mem_used(s);
    st->open_runs = (uint32_t)s->nruns;
}
