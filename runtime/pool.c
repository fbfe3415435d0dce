/* The worker pool: nthreads pthreads that take jobs from one FIFO queue
 * (bounded for submitters that can wait), run their work, and post each finished job to its channel.
 *
 * Plain C: no Python.h.  Python reaches these threads only through the
 * hooks (bindings/ attaches a thread state in thread_start and takes the
 * GIL in gil_enter) and through the work of RT_JOB_NEEDS_GIL jobs.
 *
 * A job's life, in job->state, always changed under pool->lock:
 *
 *   IDLE --submit--> QUEUED --worker--> RUNNING --work returns--> DONE
 *                       \--cancel or stop----------------------> DONE
 *
 * Whichever way a job reaches DONE, the thread that moved it there posts
 * it to its channel exactly once, after dropping the pool lock (the pool
 * lock and a channel lock are never held together, so the loop thread can
 * drain while a submitter waits here).  Once posted, the job belongs to
 * the loop thread: the pool never touches it again.  As in libuv, cancel
 * cannot stop a job that is executing: the worker marks a job RUNNING
 * under the lock before it calls work, which is what signals cancel() that
 * the job is executing.
 *
 * The queue is a doubly linked list through job->next and job->prev (the
 * channel reuses next once the job is DONE), so that cancel unlinks from
 * the middle in O(1): the loop thread may queue past the cap
 * (rt_pool_submit_nowait), and cancelling each of 10,000 queued calls
 * must not walk the queue each time.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "channel.h"
#include "pool.h"
#include "run_limits.h"

/* job->state.  IDLE is 0, so a zeroed job is idle. */
enum {
    JOB_IDLE = 0,
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_DONE,
};

/* How many consecutive RT_JOB_NEEDS_GIL jobs one gil_enter/gil_leave
 * covers at most, so that a long run of Python jobs lets the loop thread
 * at the GIL between batches (CPython's own switch interval still applies
 * inside a batch). */
#define GIL_BATCH_MAX 64

/* How long an idle worker spins for new work before it sleeps on the
 * condition variable, in nanoseconds.
 *
 * Waking a thread that sleeps in futex_wait costs tens of microseconds
 * (about 36 us from one core to the other on our machines), paid by the
 * job in latency.  A worker that has just finished a job is likely to get
 * another soon: the loop thread drains the completion and submits the
 * next step.  So a worker first watches the queue for RT_POOL_SPIN_NS,
 * with sched_yield between looks so that a spinning worker gives way to
 * the thread that would give it work when there are more threads than
 * cores, and only then counts itself idle and sleeps.  A submitter
 * signals the condition variable only when some worker is asleep, so a
 * handoff to a spinning worker costs no syscall on either side.
 *
 * Measured with tests/unit/bench-pool.c (`meson test -C build --benchmark
 * -v pool-handoff`): one job in flight, the loop thread on CPU 0 and the
 * worker on CPU 1 of a 2-core EPYC VM; the loop waits in poll() on the
 * channel, drains, "thinks" for a while, submits the next.  Median round
 * trips (the machine was shared, so means were noisy; medians held over
 * three runs):
 *
 *   spin       think 0   think 10   think 30   think 100 us
 *   0          55-90     50-90      60-90      60-90
 *   20 us      6-22      40-80      45-90      80-90
 *   50 us      6-26      7-19       6-32       75-90
 *   100 us     6-22      6-26       6-26       60-100
 *
 * A caught handoff is ~6 us and also spares the loop its own sleep: the
 * job is posted before the loop reaches poll().  20 us is bistable: once
 * one handoff misses, the loop sleeps in poll(), and its own ~36 us wake
 * then outlasts the worker's window on every later round.  50 us covers
 * that wake plus a short think, so a miss recovers; 100 us catches no
 * more in practice and burns twice the CPU per idle spell.  Throughput of
 * a burst of a million empty jobs did not move measurably (0.7-1.6 us of
 * CPU per job for every setting, within the noise).  So: 50 us.  It is
 * the compile-time default; bench-pool-nospin is built with
 * -DRT_POOL_SPIN_NS=0 for comparison. */
#ifndef RT_POOL_SPIN_NS
#define RT_POOL_SPIN_NS 50000
#endif

struct rt_pool {
    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* workers: a job was queued, or stop */
    pthread_cond_t room_cond; /* submitters: a slot freed, or stop */

    struct rt_job *head; /* oldest queued job */
    struct rt_job *tail; /* newest; meaningless when head is NULL */
    /* Written under the lock; read without it by spinning workers, hence
     * atomic. */
    atomic_size_t queued;
    atomic_bool stopping;
    size_t queue_cap;
    size_t running;
    unsigned idle;         /* workers asleep on work_cond */
    unsigned room_waiters; /* submitters asleep on room_cond */
    struct rt_pool_stats stats;

    struct rt_pool_hooks hooks;
    unsigned nthreads;
    unsigned started; /* threads created, for cleanup on failure */
    bool joined;
    pthread_t *threads;
};

/* ------------------------------------------------------------------ */
/* The queue (pool->lock held)                                         */
/* ------------------------------------------------------------------ */

/* queued changes only under the lock, so a load and a store make an exact
 * update; the atomic store lets spinning workers read it without the
 * lock. */
static void
add_queued_locked(struct rt_pool *pool, long delta)
{
    size_t n = atomic_load_explicit(&pool->queued, memory_order_relaxed);

    atomic_store_explicit(&pool->queued, n + delta, memory_order_relaxed);
}

static void
enqueue_locked(struct rt_pool *pool, struct rt_job *job)
{
    job->next = NULL;
    job->prev = pool->head == NULL ? NULL : pool->tail;
    job->pool = pool;
    job->state = JOB_QUEUED;
    if (pool->head == NULL)
        pool->head = job;
    else
        pool->tail->next = job;
    pool->tail = job;
    add_queued_locked(pool, 1);
}

/* Takes the oldest job and marks it RUNNING.  The queue is not empty. */
static struct rt_job *
dequeue_locked(struct rt_pool *pool)
{
    struct rt_job *job = pool->head;

    pool->head = job->next;
    if (pool->head != NULL)
        pool->head->prev = NULL;
    job->next = NULL;
    job->pool = NULL;
    add_queued_locked(pool, -1);
    job->state = JOB_RUNNING;
    pool->running++;
    if (pool->running > pool->stats.peak_running)
        pool->stats.peak_running = pool->running;
    return job;
}

/* A worker took a job.  Submitters that wait for room are woken together
 * once the queue is down to half its capacity, not one per freed slot:
 * under sustained back-pressure that is one wake-up per cap/2 jobs
 * instead of one per job.  (The exactly-once test, a million jobs from 4
 * submitters through a queue of 64: 4.5 million futex calls and 1.7-3.2 s
 * with a wake-up per slot, 1.2 million and 0.85-1.3 s this way.)  A
 * waiter sleeps only on a full queue, and workers keep taking jobs while
 * it is not empty, so it always gets down to half. */
static void
room_freed_locked(struct rt_pool *pool)
{
    if (pool->room_waiters > 0 &&
        atomic_load_explicit(&pool->queued, memory_order_relaxed) <=
            pool->queue_cap / 2)
        pthread_cond_broadcast(&pool->room_cond);
}

/* Takes the head of the queue for a worker, or returns NULL when it is
 * empty.  batch is how many RT_JOB_NEEDS_GIL jobs the worker has run
 * under its current gil_enter (0: it holds none); a job that needs the
 * GIL and cannot join that batch starts a new one, which is counted
 * here. */
static struct rt_job *
take_locked(struct rt_pool *pool, unsigned batch)
{
    struct rt_job *job;

    if (pool->head == NULL)
        return NULL;
    job = dequeue_locked(pool);
    room_freed_locked(pool);
    if ((job->flags & RT_JOB_NEEDS_GIL) &&
        (batch == 0 || batch >= GIL_BATCH_MAX))
        pool->stats.gil_batches++;
    return job;
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */
/* ------------------------------------------------------------------ */

static unsigned long long
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull +
           (unsigned long long)ts.tv_nsec;
}

/* Watches the queue without the lock for up to RT_POOL_SPIN_NS, and
 * returns as soon as there is a job or the pool is stopping.  The caller
 * looks again under the lock. */
static void
spin_for_work(struct rt_pool *pool)
{
    unsigned long long deadline;

    if (RT_POOL_SPIN_NS == 0)
        return;
    deadline = now_ns() + RT_POOL_SPIN_NS;
    do {
        if (atomic_load_explicit(&pool->queued, memory_order_relaxed) > 0 ||
            atomic_load_explicit(&pool->stopping, memory_order_relaxed))
            return;
        sched_yield();
    } while (now_ns() < deadline);
}

/* Waits for the next job and returns it RUNNING, or NULL when the pool is
 * stopping (stop empties the queue, so nothing is left behind). */
static struct rt_job *
next_job(struct rt_pool *pool)
{
    struct rt_job *job;

    pthread_mutex_lock(&pool->lock);
    if (pool->head == NULL && !pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        spin_for_work(pool);
        pthread_mutex_lock(&pool->lock);
    }
    while (pool->head == NULL && !pool->stopping) {
        pool->idle++;
        pthread_cond_wait(&pool->work_cond, &pool->lock);
        pool->idle--;
    }
    job = take_locked(pool, 0);
    pthread_mutex_unlock(&pool->lock);
    return job;
}

/* Marks a job that ran DONE and, under the same lock, takes the next one
 * without waiting (NULL when the queue is empty), then posts the finished
 * job.  One lock round trip per job while the queue has work.  batch is
 * as for take_locked. */
static struct rt_job *
finish(struct rt_pool *pool, struct rt_job *job, unsigned batch)
{
    struct rt_job *next;

    pthread_mutex_lock(&pool->lock);
    job->state = JOB_DONE;
    pool->running--;
    pool->stats.completed++;
    next = take_locked(pool, batch);
    pthread_mutex_unlock(&pool->lock);
    rt_channel_post(job->channel, job);
    return next;
}

/* Runs job, which needs the GIL, and the RT_JOB_NEEDS_GIL jobs that
 * follow it in the queue, up to GIL_BATCH_MAX in all, under one
 * gil_enter/gil_leave.  It never waits for work with the GIL held: the
 * batch ends as soon as the queue is empty or its head does not need the
 * GIL.  Returns the job taken after the batch (to run without the GIL, or
 * to start the next batch), or NULL. */
static struct rt_job *
run_gil_batch(struct rt_pool *pool, struct rt_job *job)
{
    unsigned n = 0;

    if (pool->hooks.gil_enter != NULL)
        pool->hooks.gil_enter(pool->hooks.ctx);
    do {
        job->work(job);
        n++;
        job = finish(pool, job, n);
    } while (job != NULL && (job->flags & RT_JOB_NEEDS_GIL) &&
             n < GIL_BATCH_MAX);
    if (pool->hooks.gil_leave != NULL)
        pool->hooks.gil_leave(pool->hooks.ctx);
    return job;
}

static void *
worker_main(void *arg)
{
    struct rt_pool *pool = arg;
    struct rt_job *job;

    pthread_setname_np(pthread_self(), "outrun-pool");
    if (pool->hooks.thread_start != NULL)
        pool->hooks.thread_start(pool->hooks.ctx);
    job = next_job(pool);
    while (job != NULL) {
        if (job->flags & RT_JOB_NEEDS_GIL) {
            job = run_gil_batch(pool, job);
        } else {
            job->work(job);
            job = finish(pool, job, 0);
        }
        if (job == NULL)
            job = next_job(pool);
    }
    if (pool->hooks.thread_stop != NULL)
        pool->hooks.thread_stop(pool->hooks.ctx);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

/* Completes a detached list of cancelled jobs (already DONE, status
 * -ECANCELED), oldest first.  No pool lock held. */
static void
post_cancelled(struct rt_job *list)
{
    while (list != NULL) {
        struct rt_job *job = list;

        /* Posting relinks job->next: read it first. */
        list = job->next;
        rt_channel_post(job->channel, job);
    }
}

void
rt_pool_stop(struct rt_pool *pool)
{
    struct rt_job *list, *job;

    pthread_mutex_lock(&pool->lock);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    atomic_store_explicit(&pool->stopping, true, memory_order_relaxed);
    list = pool->head;
    for (job = list; job != NULL; job = job->next) {
        job->prev = NULL;
        job->pool = NULL;
        job->state = JOB_DONE;
        job->status = -ECANCELED;
        pool->stats.cancelled++;
        pool->stats.completed++;
    }
    pool->head = NULL;
    pool->tail = NULL;
    atomic_store_explicit(&pool->queued, 0, memory_order_relaxed);
    pthread_cond_broadcast(&pool->work_cond);
    pthread_cond_broadcast(&pool->room_cond);
    pthread_mutex_unlock(&pool->lock);
    post_cancelled(list);
}

void
rt_pool_join(struct rt_pool *pool)
{
    unsigned i;

    /* Joining a running pool would wait for ever: stop it first. */
    rt_pool_stop(pool);
    if (pool->joined)
        return;
    for (i = 0; i < pool->started; i++) {
        assert(!pthread_equal(pthread_self(), pool->threads[i]));
        pthread_join(pool->threads[i], NULL);
    }
    pool->joined = true;
}

void
rt_pool_free(struct rt_pool *pool)
{
    if (pool == NULL)
        return;
    /* Its threads still use it until they are joined. */
    assert(pool->joined);
    pthread_cond_destroy(&pool->room_cond);
    pthread_cond_destroy(&pool->work_cond);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

int
rt_pool_new(unsigned nthreads, size_t queue_cap,
            const struct rt_pool_hooks *hooks, struct rt_pool **out)
{
    struct rt_pool *pool = NULL;
    int r;

    *out = NULL;
    if (nthreads < 1 || nthreads > RT_THREADS_MAX)
        return -EINVAL;
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return -ENOMEM;
    pool->threads = calloc(nthreads, sizeof(*pool->threads));
    if (pool->threads == NULL) {
        free(pool);
        return -ENOMEM;
    }
    pool->nthreads = nthreads;
    pool->queue_cap = queue_cap != 0 ? queue_cap : 64 * (size_t)nthreads;
    if (hooks != NULL)
        pool->hooks = *hooks;
    pool->stats.threads = nthreads;
    pool->stats.queue_cap = pool->queue_cap;
    atomic_init(&pool->queued, 0);
    atomic_init(&pool->stopping, false);

    r = -pthread_mutex_init(&pool->lock, NULL);
    if (r < 0)
        goto clean_threads;
    r = -pthread_cond_init(&pool->work_cond, NULL);
    if (r < 0)
        goto clean_lock;
    r = -pthread_cond_init(&pool->room_cond, NULL);
    if (r < 0)
        goto clean_work_cond;
    for (; pool->started < nthreads; pool->started++) {
        r = -pthread_create(&pool->threads[pool->started], NULL, worker_main,
                            pool);
        if (r < 0) {
            /* The threads that did start see an empty, stopping pool and
             * exit at once. */
            rt_pool_join(pool);
            rt_pool_free(pool);
            return r;
        }
    }
    *out = pool;
    return 0;

clean_work_cond:
    pthread_cond_destroy(&pool->work_cond);
clean_lock:
    pthread_mutex_destroy(&pool->lock);
clean_threads:
    free(pool->threads);
    free(pool);
    return r;
}

/* What submit does when the queue is full. */
enum when_full {
    FULL_WAIT,   /* wait for room (rt_pool_submit) */
    FULL_REFUSE, /* -EAGAIN (rt_pool_try_submit) */
    FULL_QUEUE,  /* queue past the cap (rt_pool_submit_nowait) */
};

/* Queues job.  Returns 0, -ESHUTDOWN, or -EAGAIN (only FULL_REFUSE). */
static int
submit(struct rt_pool *pool, struct rt_job *job, enum when_full full)
{
    size_t queued;
    bool wake;

    assert(job->work != NULL && job->channel != NULL);
    pthread_mutex_lock(&pool->lock);
    /* Submitting a job that is still queued or running would corrupt the
     * queue; a finished one may be submitted again. */
    assert(job->state == JOB_IDLE || job->state == JOB_DONE);
    for (;;) {
        if (pool->stopping) {
            pthread_mutex_unlock(&pool->lock);
            return -ESHUTDOWN;
        }
        if (atomic_load_explicit(&pool->queued, memory_order_relaxed) <
            pool->queue_cap)
            break;
        if (full == FULL_QUEUE) {
            pool->stats.over_cap++;
            break;
        }
        if (full == FULL_REFUSE) {
            pthread_mutex_unlock(&pool->lock);
            return -EAGAIN;
        }
        pool->stats.submit_waits++;
        pool->room_waiters++;
        pthread_cond_wait(&pool->room_cond, &pool->lock);
        pool->room_waiters--;
    }
    job->status = 0;
    enqueue_locked(pool, job);
    pool->stats.submitted++;
    queued = atomic_load_explicit(&pool->queued, memory_order_relaxed);
    if (queued > pool->stats.peak_queued)
        pool->stats.peak_queued = queued;
    /* A spinning worker sees the job without a signal. */
    wake = pool->idle > 0;
    pthread_mutex_unlock(&pool->lock);
    /* Signalled after unlocking, so that the woken worker does not at once
     * block on the lock we hold.  It re-checks the queue under the lock,
     * so a signal that finds the job already taken is harmless. */
    if (wake)
        pthread_cond_signal(&pool->work_cond);
    return 0;
}

int
rt_pool_submit(struct rt_pool *pool, struct rt_job *job)
{
    return submit(pool, job, FULL_WAIT);
}

int
rt_pool_try_submit(struct rt_pool *pool, struct rt_job *job)
{
    return submit(pool, job, FULL_REFUSE);
}

int
rt_pool_submit_nowait(struct rt_pool *pool, struct rt_job *job)
{
    return submit(pool, job, FULL_QUEUE);
}

int
rt_pool_cancel(struct rt_pool *pool, struct rt_job *job)
{
    pthread_mutex_lock(&pool->lock);
    /* A job that is not queued here is running, finished, queued in
     * another pool, or was never submitted: it is not ours to cancel. */
    if (job->state != JOB_QUEUED || job->pool != pool) {
        pthread_mutex_unlock(&pool->lock);
        return -EBUSY;
    }
    if (job->prev != NULL)
        job->prev->next = job->next;
    else
        pool->head = job->next;
    if (job->next != NULL)
        job->next->prev = job->prev;
    else
        pool->tail = job->prev;
    add_queued_locked(pool, -1);
    job->next = NULL;
    job->prev = NULL;
    job->pool = NULL;
    job->state = JOB_DONE;
    job->status = -ECANCELED;
    pool->stats.cancelled++;
    pool->stats.completed++;
    /* Not the half-full mark of room_freed_locked: the workers may all be
     * busy for a long time, and this slot is free now. */
    if (pool->room_waiters > 0)
        pthread_cond_signal(&pool->room_cond);
    pthread_mutex_unlock(&pool->lock);
    rt_channel_post(job->channel, job);
    return 0;
}

void
rt_pool_get_stats(struct rt_pool *pool, struct rt_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    *out = pool->stats;
    out->queued = atomic_load_explicit(&pool->queued, memory_order_relaxed);
    out->running = pool->running;
    pthread_mutex_unlock(&pool->lock);
}
