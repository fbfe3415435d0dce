/* The worker pool: native threads and a bounded queue of jobs.
 *
 * Plain C: no Python.h.  Returns 0 or a negative errno.
 *
 * Lifecycle (the host's shutdown order, ARCHITECTURE.md):
 *   rt_pool_new -> rt_pool_submit ... -> rt_pool_stop (no more jobs; queued
 *   ones complete with -ECANCELED) -> rt_pool_join (running ones finish) ->
 *   rt_pool_free.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "job.h"

/* Called on each pool thread, to let bindings/ attach interpreter state.
 * All may be NULL.  gil_enter/gil_leave bracket a batch of
 * RT_JOB_NEEDS_GIL jobs; thread_start/thread_stop run once per thread. */
struct rt_pool_hooks {
    void *ctx;
    void (*thread_start)(void *ctx);
    void (*thread_stop)(void *ctx);
    void (*gil_enter)(void *ctx);
    void (*gil_leave)(void *ctx);
};

struct rt_pool;

/* Starts nthreads threads (1..1024) with a queue of at most queue_cap jobs
 * (0 picks 64 per thread).  hooks may be NULL; it is copied.
 * Thread: any; GIL: not held; no Python API. */
int
rt_pool_new(unsigned nthreads, size_t queue_cap,
            const struct rt_pool_hooks *hooks, struct rt_pool **out);

/* Queues job (work, done, channel set; the rest zeroed).  When the queue
 * is full it waits for room: back-pressure, never failure, never growth.
 * Returns 0, or -ESHUTDOWN after rt_pool_stop (the job is not queued and
 * will not complete: the caller still owns it).
 * Thread: any; GIL: not held (it may wait); no Python API. */
int
rt_pool_submit(struct rt_pool *pool, struct rt_job *job);

/* As rt_pool_submit, but -EAGAIN instead of waiting when the queue is
 * full.
 * Thread: any; GIL: any; no Python API. */
int
rt_pool_try_submit(struct rt_pool *pool, struct rt_job *job);

/* As rt_pool_submit, but never waits: when the queue is full, the job
 * joins it anyway, past the cap.  For a submitter that must never block,
 * the event loop's thread, whose jobs are in memory already (linking one
 * more costs nothing); the cap still holds back rt_pool_submit's callers,
 * which wait until the queue is down to half of it.  Counted in
 * over_cap.  Returns 0, or -ESHUTDOWN after rt_pool_stop.
 * Thread: any; GIL: any; no Python API. */
int
rt_pool_submit_nowait(struct rt_pool *pool, struct rt_job *job);

/* Cancels a job that has not started: it completes with -ECANCELED
 * (posted to its channel; done runs as for any job).  Returns 0, or -EBUSY
 * when the job is executing or has finished (it completes normally).
 * Thread: any; GIL: any; no Python API. */
int
rt_pool_cancel(struct rt_pool *pool, struct rt_job *job);

/* Stops taking jobs and cancels every queued one (each completes with
 * -ECANCELED).  Running jobs go on.  Idempotent.
 * Thread: any; GIL: any; no Python API. */
void
rt_pool_stop(struct rt_pool *pool);

/* Waits for every thread to exit (after rt_pool_stop).  Must not be called
 * with the GIL held: a running Python job needs it to finish.
 * Thread: any but a pool thread; GIL: not held; no Python API. */
void
rt_pool_join(struct rt_pool *pool);

/* Frees a stopped and joined pool.
 * Thread: any; GIL: any; no Python API. */
void
rt_pool_free(struct rt_pool *pool);

/* Counters, for tests and benchmarks. */
struct rt_pool_stats {
    unsigned threads;
    size_t queue_cap;
    size_t queued;            /* now */
    size_t running;           /* now */
    unsigned long long submitted, completed, cancelled;
    unsigned long long gil_batches; /* gil_enter calls */
    size_t peak_running;
    /* Times a submitter found the queue full and waited for room (a test
     * waits for this to know rt_pool_submit is blocked, not just slow). */
    unsigned long long submit_waits;
    /* Jobs rt_pool_submit_nowait queued past a full queue, and the most
     * jobs ever queued at once. */
    unsigned long long over_cap;
    size_t peak_queued;
};

/* Thread: any; GIL: any; no Python API. */
void
rt_pool_get_stats(struct rt_pool *pool, struct rt_pool_stats *out);
