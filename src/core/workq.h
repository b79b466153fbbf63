/*
 * workq.h - bounded, ordered work queue over a small thread pool.
 *
 * Independent units of work (EVTX chunks, files, batches) run on worker threads; their results
 * are handed back on the submitting thread in submission order, so output is deterministic.
 * The queue holds at most `depth` items in flight: memory is bounded by depth x item size.
 * Items are caller-owned slots: the queue hands a free slot out with va_workq_acquire(), the
 * caller fills it and submits it, a worker runs work(), and done() is called on the caller's
 * thread (inside acquire/finish) after which the slot is free again.
 */
#ifndef VA_CORE_WORKQ_H
#define VA_CORE_WORKQ_H

#include <stddef.h>

typedef struct va_workq va_workq;

/* Runs on worker `worker` (0..nthreads-1; the caller, when it helps, is nthreads-1); must
 * not touch other items. */
typedef void (*va_work_fn)(void *ud, void *item, int worker);
/* Runs on the caller's thread, in submission order.  Return nonzero to request a stop: later
 * items still complete but are delivered with ->stopped set (see va_workq_stopped). */
typedef int (*va_done_fn)(void *ud, void *item);

/* Create a queue over slots[0..depth) running up to nthreads items at once: nthreads - 1
 * worker threads plus the caller, which runs queued items while it waits for results
 * (nthreads <= 1: everything runs inline on the caller's thread).  NULL on failure.  Free with
 * va_workq_free. */
va_workq *va_workq_new(int nthreads, void **slots, size_t depth, va_work_fn work, va_done_fn done,
                       void *ud);
/* A free slot to fill, delivering completed items as needed; NULL once stopped. */
void *va_workq_acquire(va_workq *q);
/* Queue the slot last returned by va_workq_acquire. */
void va_workq_submit(va_workq *q, void *slot);
/* Wait for all submitted items and deliver them.  Returns nonzero if a done() asked to stop. */
int va_workq_finish(va_workq *q);
/* Stop the workers and free the queue (after va_workq_finish). */
void va_workq_free(va_workq *q);

#endif
