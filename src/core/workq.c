/*
 * workq.c - ordered work queue (see workq.h).
 *
 * A ring of `depth` entries: [head, tail) are in flight in submission order, `next` is the
 * first not yet taken by a worker.  One mutex guards the ring; per-item work is coarse
 * (a 64 KiB chunk is ~100 us), so the lock is cold.
 */
#include "core/workq.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

enum { ST_FREE, ST_FILLING, ST_QUEUED, ST_RUNNING, ST_DONE };

typedef struct entry {
    void *item;
    int state;
} entry;

struct va_workq {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    pthread_t *threads;
    int nthreads, quit, stopped;
    int idle;         /* workers waiting for work: submit signals only when there are some */
    int main_waiting; /* the caller waits for an item: workers signal only then (wake-ups
                         are system calls, and costly on virtual machines) */
    entry *ring;
    size_t depth, head, tail, next, count; /* count = entries in [head, tail) */
    va_work_fn work;
    va_done_fn done;
    void *ud;
};

static void *worker_main(void *arg);

typedef struct wstart {
    va_workq *q;
    int id;
} wstart;

va_workq *va_workq_new(int nthreads, void **slots, size_t depth, va_work_fn work, va_done_fn done,
                       void *ud) {
    if (!depth) return NULL;
    va_workq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->ring = calloc(depth, sizeof *q->ring);
    if (!q->ring) goto fail;
    for (size_t i = 0; i < depth; i++) q->ring[i].item = slots[i];
    q->depth = depth;
    q->work = work, q->done = done, q->ud = ud;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work_cv, NULL);
    pthread_cond_init(&q->done_cv, NULL);
    if (nthreads > 1) {
        /* nthreads is the parallelism: nthreads - 1 workers, and the caller helps while it
         * waits for results (see deliver_head). */
        nthreads--;
        q->threads = calloc((size_t)nthreads, sizeof *q->threads);
        wstart *ws = calloc((size_t)nthreads, sizeof *ws);
        if (!q->threads || !ws) {
            free(ws);
            goto fail_sync;
        }
        for (int i = 0; i < nthreads; i++) {
            ws[i].q = q, ws[i].id = i;
            if (pthread_create(&q->threads[i], NULL, worker_main, &ws[i])) break;
            q->nthreads++;
        }
        /* Workers copy their wstart before signalling; wait until all have. */
        pthread_mutex_lock(&q->mu);
        while (q->count < (size_t)q->nthreads) pthread_cond_wait(&q->done_cv, &q->mu);
        q->count = 0;
        pthread_mutex_unlock(&q->mu);
        free(ws);
        if (q->nthreads == 0) goto fail_sync;
    }
    return q;
fail_sync:
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->work_cv);
    pthread_cond_destroy(&q->done_cv);
fail:
    free(q->threads);
    free(q->ring);
    free(q);
    return NULL;
}

static void *worker_main(void *arg) {
    wstart *ws = arg;
    va_workq *q = ws->q;
    int id = ws->id;
    pthread_mutex_lock(&q->mu);
    q->count++;
    pthread_cond_broadcast(&q->done_cv);
    for (;;) {
        while (!q->quit && q->ring[q->next].state != ST_QUEUED) {
            q->idle++;
            pthread_cond_wait(&q->work_cv, &q->mu);
            q->idle--;
        }
        if (q->quit) break;
        entry *e = &q->ring[q->next];
        q->next = (q->next + 1) % q->depth;
        e->state = ST_RUNNING;
        pthread_mutex_unlock(&q->mu);
        q->work(q->ud, e->item, id);
        pthread_mutex_lock(&q->mu);
        e->state = ST_DONE;
        if (q->main_waiting) pthread_cond_signal(&q->done_cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Deliver the head entry once done; caller holds the lock; drops it around done(). */
static void deliver_head(va_workq *q) {
    entry *e = &q->ring[q->head];
    while (e->state != ST_DONE) {
        entry *w = &q->ring[q->next];
        if (w->state == ST_QUEUED) {
            /* Rather than sleep, the caller runs the next queued item itself: one thread
             * fewer competing for the cores, and fewer wake-ups. */
            q->next = (q->next + 1) % q->depth;
            w->state = ST_RUNNING;
            pthread_mutex_unlock(&q->mu);
            q->work(q->ud, w->item, q->nthreads);
            pthread_mutex_lock(&q->mu);
            w->state = ST_DONE;
            continue;
        }
        q->main_waiting = 1;
        pthread_cond_wait(&q->done_cv, &q->mu);
        q->main_waiting = 0;
    }
    pthread_mutex_unlock(&q->mu);
    int stop = q->done(q->ud, e->item);
    pthread_mutex_lock(&q->mu);
    if (stop) q->stopped = 1;
    e->state = ST_FREE;
    q->head = (q->head + 1) % q->depth;
    q->count--;
}

void *va_workq_acquire(va_workq *q) {
    if (q->stopped) return NULL;
    if (!q->threads) {
        entry *e = &q->ring[0];
        e->state = ST_FILLING;
        return e->item;
    }
    pthread_mutex_lock(&q->mu);
    if (q->count == q->depth) deliver_head(q);
    void *item = NULL;
    if (!q->stopped) {
        entry *e = &q->ring[q->tail];
        e->state = ST_FILLING;
        item = e->item;
    }
    pthread_mutex_unlock(&q->mu);
    return item;
}

void va_workq_submit(va_workq *q, void *slot) {
    (void)slot;
    if (!q->threads) {
        q->work(q->ud, q->ring[0].item, 0);
        if (q->done(q->ud, q->ring[0].item)) q->stopped = 1;
        q->ring[0].state = ST_FREE;
        return;
    }
    pthread_mutex_lock(&q->mu);
    assert(q->ring[q->tail].state == ST_FILLING && q->count < q->depth); /* acquired, in order */
    q->ring[q->tail].state = ST_QUEUED;
    q->tail = (q->tail + 1) % q->depth;
    q->count++;
    if (q->idle) pthread_cond_signal(&q->work_cv);
    pthread_mutex_unlock(&q->mu);
}

int va_workq_finish(va_workq *q) {
    if (q->threads) {
        pthread_mutex_lock(&q->mu);
        while (q->count) deliver_head(q);
        pthread_mutex_unlock(&q->mu);
    }
    return q->stopped;
}

void va_workq_free(va_workq *q) {
    if (!q) return;
    if (q->threads) {
        va_workq_finish(q);
        pthread_mutex_lock(&q->mu);
        q->quit = 1;
        pthread_cond_broadcast(&q->work_cv);
        pthread_mutex_unlock(&q->mu);
        for (int i = 0; i < q->nthreads; i++) pthread_join(q->threads[i], NULL);
        free(q->threads);
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->work_cv);
    pthread_cond_destroy(&q->done_cv);
    free(q->ring);
    free(q);
}
