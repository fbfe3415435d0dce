/* Check suite for runtime/pool.c: every job completes exactly once,
 * cancellation, shutdown, back-pressure, GIL batches, concurrency and the
 * thread hooks.
 *
 * The tests count things and wait on gates and the channel's fd; none
 * sleeps or times anything.  A "gate" job blocks its worker until the test
 * opens the gate, so that the test knows which jobs are running and which
 * are still queued. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "pool.h"

/* How long a test waits for the fd before it fails: generous, since it
 * only turns a hang into a failure. */
#define POLL_TIMEOUT_MS 30000

static bool
using_valgrind(void)
{
    return getenv("USING_VALGRIND") != NULL;
}

/* ------------------------------------------------------------------ */
/* Gates and test jobs                                                 */
/* ------------------------------------------------------------------ */

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    unsigned entered; /* jobs that reached the gate */
};

static void
gate_init(struct gate *g)
{
    ck_assert_int_eq(pthread_mutex_init(&g->lock, NULL), 0);
    ck_assert_int_eq(pthread_cond_init(&g->cond, NULL), 0);
    g->open = false;
    g->entered = 0;
}

static void
gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

/* On a pool thread: says it is here, then waits for the gate to open. */
static void
gate_pass(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->entered++;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

/* Waits until n jobs are at the gate: they are running, not queued. */
static void
gate_wait_entered(struct gate *g, unsigned n)
{
    pthread_mutex_lock(&g->lock);
    while (g->entered < n)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void
gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

struct test_job {
    struct rt_job job;
    struct gate *gate; /* NULL: no waiting */
    int set_status;    /* what work sets */
    atomic_int ran;    /* work calls */
    int done;          /* done calls, on the draining thread */
    /* Where the job was when work ran: under gil_enter or not. */
    bool ran_with_gil;
    atomic_uint *order; /* NULL, or a counter that numbers the runs */
    unsigned ran_as;
};

static void
test_work(struct rt_job *job)
{
    struct test_job *t = rt_container_of(job, struct test_job, job);

    atomic_fetch_add(&t->ran, 1);
    if (t->order != NULL)
        t->ran_as = atomic_fetch_add(t->order, 1);
    if (t->gate != NULL)
        gate_pass(t->gate);
    job->status = t->set_status;
}

static void
test_done(struct rt_job *job)
{
    rt_container_of(job, struct test_job, job)->done++;
}

static void
test_job_init(struct test_job *t, struct rt_channel *ch, struct gate *gate,
              int set_status)
{
    memset(t, 0, sizeof(*t));
    t->job.work = test_work;
    t->job.done = test_done;
    t->job.channel = ch;
    t->gate = gate;
    t->set_status = set_status;
}

/* Drains ch until n jobs have completed, running each done as the loop
 * does.  Fails instead of hanging. */
static void
complete_n(struct rt_channel *ch, unsigned n)
{
    unsigned got = 0;

    while (got < n) {
        struct rt_job *list = rt_channel_drain(ch);

        if (list == NULL) {
            struct pollfd p = {.fd = rt_channel_fd(ch), .events = POLLIN};

            ck_assert_int_eq(poll(&p, 1, POLL_TIMEOUT_MS), 1);
            continue;
        }
        while (list != NULL) {
            struct rt_job *job = list;

            /* done may reuse the job: read the link first. */
            list = job->next;
            job->done(job);
            got++;
        }
    }
    ck_assert_uint_eq(got, n);
}

/* A pool and a channel for one test, torn down by fixture_teardown. */
static struct rt_pool *pool;
static struct rt_channel *ch;
static struct gate gate;

static void
fixture_setup(void)
{
    pool = NULL;
    ck_assert_int_eq(rt_channel_new(&ch), 0);
    gate_init(&gate);
}

static void
fixture_teardown(void)
{
    if (pool != NULL) {
        /* Opening the gate first lets a test that failed half way end. */
        gate_open(&gate);
        rt_pool_stop(pool);
        rt_pool_join(pool);
        rt_pool_free(pool);
        pool = NULL;
    }
    gate_destroy(&gate);
    rt_channel_free(ch);
    ch = NULL;
}

static struct rt_pool_stats
stats(void)
{
    struct rt_pool_stats st;

    rt_pool_get_stats(pool, &st);
    return st;
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */
/* ------------------------------------------------------------------ */

START_TEST(pool_new_rejects_bad_thread_counts)
{
    /* Not NULL, to see that a failure clears it. */
    struct rt_pool *p = (struct rt_pool *)&p;

    ck_assert_int_eq(rt_pool_new(0, 0, NULL, &p), -EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(rt_pool_new(1025, 0, NULL, &p), -EINVAL);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(pool_new_default_queue_cap)
{
    struct rt_pool_stats st;

    ck_assert_int_eq(rt_pool_new(3, 0, NULL, &pool), 0);
    st = stats();
    ck_assert_uint_eq(st.threads, 3);
    ck_assert_uint_eq(st.queue_cap, 3 * 64);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.running, 0);
}
END_TEST

START_TEST(pool_runs_job_and_posts_it)
{
    struct test_job a;
    struct rt_pool_stats st;

    ck_assert_int_eq(rt_pool_new(2, 0, NULL, &pool), 0);
    test_job_init(&a, ch, NULL, -EIO);
    ck_assert_int_eq(rt_pool_submit(pool, &a.job), 0);
    complete_n(ch, 1);
    ck_assert_int_eq(atomic_load(&a.ran), 1);
    ck_assert_int_eq(a.done, 1);
    ck_assert_int_eq(a.job.status, -EIO);
    st = stats();
    ck_assert_uint_eq(st.submitted, 1);
    ck_assert_uint_eq(st.completed, 1);
    ck_assert_uint_eq(st.cancelled, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Exactly once, under stress                                          */
/* ------------------------------------------------------------------ */

/* Submitters recycle a few job slots each (as bindings/ would free and
 * allocate), so that a million jobs need little memory: the drain thread
 * hands each finished slot back to its submitter. */
enum { SUBMITTERS = 4, SLOTS = 256 };

struct stress;
struct submitter;

struct stress_job {
    struct rt_job job;
    struct submitter *owner;
    unsigned index;
    struct stress_job *free_next;
};

struct submitter {
    pthread_t thread;
    struct stress *st;
    unsigned first, count; /* the job indexes it submits */
    struct stress_job slots[SLOTS];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct stress_job *free_list;
};

struct stress {
    unsigned n;
    unsigned char *ran;  /* work calls per job index */
    unsigned char *done; /* completions per job index */
    unsigned bad_status;
    atomic_uint failures; /* failed submits, or a drain that timed out */
};

static void
stress_work(struct rt_job *job)
{
    struct stress_job *j = rt_container_of(job, struct stress_job, job);

    /* Distinct indexes on distinct threads; the drain thread reads it
     * after the channel's lock, which orders it. */
    j->owner->st->ran[j->index]++;
    job->status = 0;
}

static void *
submitter_main(void *arg)
{
    struct submitter *s = arg;
    unsigned i;

    for (i = 0; i < s->count; i++) {
        struct stress_job *j;

        pthread_mutex_lock(&s->lock);
        while (s->free_list == NULL)
            pthread_cond_wait(&s->cond, &s->lock);
        j = s->free_list;
        s->free_list = j->free_next;
        pthread_mutex_unlock(&s->lock);

        memset(&j->job, 0, sizeof(j->job));
        j->job.work = stress_work;
        j->job.channel = ch;
        j->index = s->first + i;
        /* Check's assertions belong to the test's own thread: count. */
        if (rt_pool_submit(pool, &j->job) != 0)
            atomic_fetch_add(&s->st->failures, 1);
    }
    return NULL;
}

static void *
drainer_main(void *arg)
{
    struct stress *st = arg;
    unsigned seen = 0;

    while (seen < st->n) {
        struct rt_job *list = rt_channel_drain(ch);

        if (list == NULL) {
            struct pollfd p = {.fd = rt_channel_fd(ch), .events = POLLIN};

            if (poll(&p, 1, POLL_TIMEOUT_MS) != 1) {
                /* Lost completions: the main thread reports them. */
                atomic_fetch_add(&st->failures, 1);
                return NULL;
            }
            continue;
        }
        while (list != NULL) {
            struct stress_job *j =
                rt_container_of(list, struct stress_job, job);
            struct submitter *s = j->owner;

            list = list->next;
            if (j->job.status != 0)
                st->bad_status++;
            st->done[j->index]++;
            seen++;
            pthread_mutex_lock(&s->lock);
            j->free_next = s->free_list;
            s->free_list = j;
            pthread_cond_signal(&s->cond);
            pthread_mutex_unlock(&s->lock);
        }
    }
    return NULL;
}

START_TEST(pool_completes_every_job_exactly_once)
{
    /* A million jobs; 20,000 under valgrind, which runs one thread at a
     * time and would take minutes; 200,000 under ThreadSanitizer, for the
     * same reason. */
#if defined(__SANITIZE_THREAD__)
    unsigned n = using_valgrind() ? 20000 : 200000;
#else
    unsigned n = using_valgrind() ? 20000 : 1000000;
#endif
    static struct submitter subs[SUBMITTERS];
    struct stress st = {.n = n};
    struct rt_pool_stats ps;
    struct rt_channel_stats cs;
    pthread_t drainer;
    unsigned i, k;

    st.ran = calloc(n, 1);
    st.done = calloc(n, 1);
    ck_assert_ptr_nonnull(st.ran);
    ck_assert_ptr_nonnull(st.done);
    /* A small pool with a short queue, so that submitters also wait for
     * room.  (16 slots took four times as long as 64, all in futex calls
     * of the four submitters fighting for the lock.) */
    ck_assert_int_eq(rt_pool_new(2, 64, NULL, &pool), 0);

    for (i = 0; i < SUBMITTERS; i++) {
        struct submitter *s = &subs[i];

        memset(s, 0, sizeof(*s));
        s->st = &st;
        s->first = i * (n / SUBMITTERS);
        s->count = i == SUBMITTERS - 1 ? n - s->first : n / SUBMITTERS;
        ck_assert_int_eq(pthread_mutex_init(&s->lock, NULL), 0);
        ck_assert_int_eq(pthread_cond_init(&s->cond, NULL), 0);
        for (k = 0; k < SLOTS; k++) {
            s->slots[k].owner = s;
            s->slots[k].free_next = s->free_list;
            s->free_list = &s->slots[k];
        }
    }
    ck_assert_int_eq(pthread_create(&drainer, NULL, drainer_main, &st), 0);
    for (i = 0; i < SUBMITTERS; i++)
        ck_assert_int_eq(
            pthread_create(&subs[i].thread, NULL, submitter_main, &subs[i]),
            0);
    for (i = 0; i < SUBMITTERS; i++)
        pthread_join(subs[i].thread, NULL);
    pthread_join(drainer, NULL);

    ck_assert_uint_eq(atomic_load(&st.failures), 0);
    for (i = 0; i < n; i++) {
        if (st.ran[i] != 1 || st.done[i] != 1)
            ck_abort_msg("job %u ran %u times, completed %u times", i,
                         st.ran[i], st.done[i]);
    }
    ck_assert_uint_eq(st.bad_status, 0);
    ps = stats();
    ck_assert_uint_eq(ps.submitted, n);
    ck_assert_uint_eq(ps.completed, n);
    ck_assert_uint_eq(ps.cancelled, 0);
    ck_assert_uint_eq(ps.queued, 0);
    ck_assert_uint_eq(ps.running, 0);
    ck_assert_uint_le(ps.peak_running, 2);
    rt_channel_get_stats(ch, &cs);
    ck_assert_uint_eq(cs.posted, n);
    ck_assert_ptr_null(rt_channel_drain(ch));

    for (i = 0; i < SUBMITTERS; i++) {
        pthread_cond_destroy(&subs[i].cond);
        pthread_mutex_destroy(&subs[i].lock);
    }
    free(st.ran);
    free(st.done);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Cancellation and shutdown                                           */
/* ------------------------------------------------------------------ */

START_TEST(pool_cancel_before_start)
{
    struct test_job blocker, a, b, c, d;
    atomic_uint order = 0;
    struct rt_pool_stats st;

    ck_assert_int_eq(rt_pool_new(1, 0, NULL, &pool), 0);
    test_job_init(&blocker, ch, &gate, 7);
    ck_assert_int_eq(rt_pool_submit(pool, &blocker.job), 0);
    gate_wait_entered(&gate, 1);

    /* The only worker is busy: these stay queued. */
    test_job_init(&a, ch, NULL, 0);
    test_job_init(&b, ch, NULL, 0);
    test_job_init(&c, ch, NULL, 0);
    test_job_init(&d, ch, NULL, 0);
    a.order = &order;
    d.order = &order;
    ck_assert_int_eq(rt_pool_submit(pool, &a.job), 0);
    ck_assert_int_eq(rt_pool_submit(pool, &b.job), 0);
    ck_assert_int_eq(rt_pool_submit(pool, &c.job), 0);

    /* From the middle of the queue and from its tail; the job completes
     * at once, before cancel returns. */
    ck_assert_int_eq(rt_pool_cancel(pool, &b.job), 0);
    ck_assert_int_eq(rt_pool_cancel(pool, &c.job), 0);
    ck_assert_int_eq(b.job.status, -ECANCELED);
    ck_assert_int_eq(c.job.status, -ECANCELED);
    complete_n(ch, 2);
    ck_assert_int_eq(b.done, 1);
    ck_assert_int_eq(c.done, 1);
    /* Finished: cancelling again changes nothing. */
    ck_assert_int_eq(rt_pool_cancel(pool, &b.job), -EBUSY);
    /* Executing: cancel cannot stop it. */
    ck_assert_int_eq(rt_pool_cancel(pool, &blocker.job), -EBUSY);
    st = stats();
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_uint_eq(st.cancelled, 2);

    /* The queue is whole after unlinking its tail: d goes after a. */
    ck_assert_int_eq(rt_pool_submit(pool, &d.job), 0);
    gate_open(&gate);
    complete_n(ch, 3);

    ck_assert_int_eq(atomic_load(&b.ran), 0);
    ck_assert_int_eq(atomic_load(&c.ran), 0);
    ck_assert_int_eq(b.done, 1);
    ck_assert_int_eq(c.done, 1);
    ck_assert_int_eq(blocker.job.status, 7);
    ck_assert_int_eq(blocker.done, 1);
    ck_assert_int_eq(atomic_load(&a.ran), 1);
    ck_assert_int_eq(atomic_load(&d.ran), 1);
    ck_assert_uint_eq(a.ran_as, 0);
    ck_assert_uint_eq(d.ran_as, 1);
    ck_assert_int_eq(a.done, 1);
    ck_assert_int_eq(d.done, 1);
    st = stats();
    ck_assert_uint_eq(st.submitted, 5);
    ck_assert_uint_eq(st.completed, 5);
    ck_assert_uint_eq(st.cancelled, 2);
}
END_TEST

START_TEST(pool_cancel_never_submitted_is_busy)
{
    struct test_job a;

    ck_assert_int_eq(rt_pool_new(1, 0, NULL, &pool), 0);
    test_job_init(&a, ch, NULL, 0);
    ck_assert_int_eq(rt_pool_cancel(pool, &a.job), -EBUSY);
    ck_assert_ptr_null(rt_channel_drain(ch));
}
END_TEST

START_TEST(pool_stop_cancels_queued_and_finishes_running)
{
    enum { RUNNING = 2, QUEUED = 5 };
    struct test_job running[RUNNING], queued[QUEUED], late;
    struct rt_pool_stats st;
    unsigned i;

    ck_assert_int_eq(rt_pool_new(RUNNING, 0, NULL, &pool), 0);
    for (i = 0; i < RUNNING; i++) {
        test_job_init(&running[i], ch, &gate, i == 0 ? 0 : -EIO);
        ck_assert_int_eq(rt_pool_submit(pool, &running[i].job), 0);
    }
    gate_wait_entered(&gate, RUNNING);
    for (i = 0; i < QUEUED; i++) {
        test_job_init(&queued[i], ch, NULL, 0);
        ck_assert_int_eq(rt_pool_submit(pool, &queued[i].job), 0);
    }

    /* Stop completes the queued jobs before it returns... */
    rt_pool_stop(pool);
    complete_n(ch, QUEUED);
    for (i = 0; i < QUEUED; i++) {
        ck_assert_int_eq(queued[i].job.status, -ECANCELED);
        ck_assert_int_eq(atomic_load(&queued[i].ran), 0);
        ck_assert_int_eq(queued[i].done, 1);
    }
    /* ...and takes no more: the caller keeps the job. */
    test_job_init(&late, ch, NULL, 0);
    ck_assert_int_eq(rt_pool_submit(pool, &late.job), -ESHUTDOWN);
    ck_assert_int_eq(rt_pool_try_submit(pool, &late.job), -ESHUTDOWN);
    rt_pool_stop(pool);

    /* The running jobs go on, and finish with their own status. */
    st = stats();
    ck_assert_uint_eq(st.running, RUNNING);
    ck_assert_uint_eq(st.queued, 0);
    gate_open(&gate);
    rt_pool_join(pool);
    complete_n(ch, RUNNING);
    ck_assert_ptr_null(rt_channel_drain(ch));
    for (i = 0; i < RUNNING; i++) {
        ck_assert_int_eq(atomic_load(&running[i].ran), 1);
        ck_assert_int_eq(running[i].done, 1);
    }
    ck_assert_int_eq(running[0].job.status, 0);
    ck_assert_int_eq(running[1].job.status, -EIO);
    ck_assert_int_eq(late.done, 0);
    ck_assert_int_eq(atomic_load(&late.ran), 0);
    st = stats();
    ck_assert_uint_eq(st.submitted, RUNNING + QUEUED);
    ck_assert_uint_eq(st.completed, RUNNING + QUEUED);
    ck_assert_uint_eq(st.cancelled, QUEUED);
    ck_assert_uint_eq(st.running, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Back-pressure                                                       */
/* ------------------------------------------------------------------ */

struct blocked_submit {
    struct test_job *job;
    int result;
    atomic_bool returned;
};

static void *
blocked_submit_main(void *arg)
{
    struct blocked_submit *b = arg;

    b->result = rt_pool_submit(pool, &b->job->job);
    atomic_store(&b->returned, true);
    return NULL;
}

START_TEST(pool_submit_waits_for_room)
{
    struct test_job blocker, q[2], extra;
    struct blocked_submit b = {.job = &extra};
    pthread_t thread;
    unsigned i;

    ck_assert_int_eq(rt_pool_new(1, 2, NULL, &pool), 0);
    test_job_init(&blocker, ch, &gate, 0);
    ck_assert_int_eq(rt_pool_submit(pool, &blocker.job), 0);
    gate_wait_entered(&gate, 1);
    for (i = 0; i < 2; i++) {
        test_job_init(&q[i], ch, NULL, 0);
        ck_assert_int_eq(rt_pool_submit(pool, &q[i].job), 0);
    }
    test_job_init(&extra, ch, NULL, 0);
    /* Full: try_submit says so instead of waiting. */
    ck_assert_int_eq(rt_pool_try_submit(pool, &extra.job), -EAGAIN);

    ck_assert_int_eq(pthread_create(&thread, NULL, blocked_submit_main, &b),
                     0);
    /* Wait until the submitter is inside rt_pool_submit, waiting for
     * room (the pool counts it under its lock before it sleeps). */
    while (stats().submit_waits == 0)
        sched_yield();
    /* The queue cannot grow past its cap, and the gate is closed: no slot
     * can free, so the submit must not have returned. */
    ck_assert(!atomic_load(&b.returned));
    ck_assert_uint_eq(stats().queued, 2);

    gate_open(&gate);
    pthread_join(thread, NULL);
    ck_assert(atomic_load(&b.returned));
    ck_assert_int_eq(b.result, 0);
    complete_n(ch, 4);
    ck_assert_int_eq(extra.done, 1);
    ck_assert_int_eq(atomic_load(&extra.ran), 1);
}
END_TEST

START_TEST(pool_stop_releases_waiting_submitter)
{
    struct test_job blocker, q, extra;
    struct blocked_submit b = {.job = &extra};
    pthread_t thread;

    ck_assert_int_eq(rt_pool_new(1, 1, NULL, &pool), 0);
    test_job_init(&blocker, ch, &gate, 0);
    ck_assert_int_eq(rt_pool_submit(pool, &blocker.job), 0);
    gate_wait_entered(&gate, 1);
    test_job_init(&q, ch, NULL, 0);
    ck_assert_int_eq(rt_pool_submit(pool, &q.job), 0);
    test_job_init(&extra, ch, NULL, 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, blocked_submit_main, &b),
                     0);
    while (stats().submit_waits == 0)
        sched_yield();

    /* Stop wakes it with -ESHUTDOWN; the queued job is cancelled. */
    rt_pool_stop(pool);
    pthread_join(thread, NULL);
    ck_assert_int_eq(b.result, -ESHUTDOWN);
    complete_n(ch, 1);
    ck_assert_int_eq(q.job.status, -ECANCELED);
    gate_open(&gate);
    rt_pool_join(pool);
    complete_n(ch, 1);
    ck_assert_int_eq(blocker.done, 1);
    ck_assert_int_eq(extra.done, 0);
    ck_assert_int_eq(atomic_load(&extra.ran), 0);
}
END_TEST

/* The loop thread's submit: with the only worker held at the gate and
 * the queue at its cap, rt_pool_submit_nowait queues past the cap at once
 * instead of waiting (issue 11, item 13: the loop froze while it waited
 * for room); cancel unlinks from the head, the middle and the tail of
 * that long queue; every job completes exactly once, in order. */
START_TEST(pool_submit_nowait_queues_past_the_cap)
{
    enum { CAP = 4, N = 40 };
    struct test_job blocker, extra, jobs[N];
    atomic_uint order = 0;
    struct rt_pool_stats st;
    unsigned i, ran = 0;

    ck_assert_int_eq(rt_pool_new(1, CAP, NULL, &pool), 0);
    test_job_init(&blocker, ch, &gate, 0);
    ck_assert_int_eq(rt_pool_submit(pool, &blocker.job), 0);
    gate_wait_entered(&gate, 1);
    for (i = 0; i < N; i++) {
        test_job_init(&jobs[i], ch, NULL, 0);
        jobs[i].order = &order;
        /* The gate is closed: a submit that waited for room would never
         * return. */
        ck_assert_int_eq(rt_pool_submit_nowait(pool, &jobs[i].job), 0);
    }
    st = stats();
    ck_assert_uint_eq(st.queued, N);
    ck_assert_uint_eq(st.peak_queued, N);
    ck_assert_uint_eq(st.over_cap, N - CAP);
    ck_assert_uint_eq(st.submit_waits, 0);
    /* A submitter that can wait is still held back. */
    test_job_init(&extra, ch, NULL, 0);
    ck_assert_int_eq(rt_pool_try_submit(pool, &extra.job), -EAGAIN);

    ck_assert_int_eq(rt_pool_cancel(pool, &jobs[0].job), 0);
    ck_assert_int_eq(rt_pool_cancel(pool, &jobs[N / 2].job), 0);
    ck_assert_int_eq(rt_pool_cancel(pool, &jobs[N - 1].job), 0);
    complete_n(ch, 3);
    ck_assert_uint_eq(stats().queued, N - 3);

    gate_open(&gate);
    complete_n(ch, 1 + N - 3);
    for (i = 0; i < N; i++) {
        bool cancelled = i == 0 || i == N / 2 || i == N - 1;

        ck_assert_int_eq(jobs[i].done, 1);
        ck_assert_int_eq(atomic_load(&jobs[i].ran), cancelled ? 0 : 1);
        if (!cancelled)
            ck_assert_uint_eq(jobs[i].ran_as, ran++);
    }
    st = stats();
    ck_assert_uint_eq(st.completed, N + 1);
    ck_assert_uint_eq(st.cancelled, 3);
    ck_assert_uint_eq(st.submit_waits, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Hooks, GIL batches, concurrency                                     */
/* ------------------------------------------------------------------ */

enum { MAX_HOOK_THREADS = 8 };

/* What the hooks saw.  The GIL hooks run on the one worker of the GIL
 * tests; the thread hooks on every worker, hence the lock. */
struct hook_log {
    pthread_mutex_t lock;
    unsigned thread_starts, thread_stops;
    pthread_t started[MAX_HOOK_THREADS];
    unsigned gil_enters, gil_leaves;
    bool gil_held;
    bool nested; /* gil_enter while held, or gil_leave while not */
};

static struct hook_log hook_log;

static void
log_thread_start(void *ctx)
{
    struct hook_log *l = ctx;

    pthread_mutex_lock(&l->lock);
    if (l->thread_starts < MAX_HOOK_THREADS)
        l->started[l->thread_starts] = pthread_self();
    l->thread_starts++;
    pthread_mutex_unlock(&l->lock);
}

static void
log_thread_stop(void *ctx)
{
    struct hook_log *l = ctx;

    pthread_mutex_lock(&l->lock);
    l->thread_stops++;
    pthread_mutex_unlock(&l->lock);
}

static void
log_gil_enter(void *ctx)
{
    struct hook_log *l = ctx;

    pthread_mutex_lock(&l->lock);
    l->nested |= l->gil_held;
    l->gil_held = true;
    l->gil_enters++;
    pthread_mutex_unlock(&l->lock);
}

static void
log_gil_leave(void *ctx)
{
    struct hook_log *l = ctx;

    pthread_mutex_lock(&l->lock);
    l->nested |= !l->gil_held;
    l->gil_held = false;
    l->gil_leaves++;
    pthread_mutex_unlock(&l->lock);
}

static const struct rt_pool_hooks logging_hooks = {
    .ctx = &hook_log,
    .thread_start = log_thread_start,
    .thread_stop = log_thread_stop,
    .gil_enter = log_gil_enter,
    .gil_leave = log_gil_leave,
};

static void
hooks_setup(void)
{
    fixture_setup();
    memset(&hook_log, 0, sizeof(hook_log));
    ck_assert_int_eq(pthread_mutex_init(&hook_log.lock, NULL), 0);
}

static void
hooks_teardown(void)
{
    fixture_teardown();
    pthread_mutex_destroy(&hook_log.lock);
}

/* Waits until the pool's threads have exited, so that everything they did,
 * hooks included, is visible to the test.  A job is posted to its channel
 * inside its GIL batch: the worker calls gil_leave only after posting the
 * batch's last job, so draining the channel alone says nothing about
 * gil_leave.  Joining does.  fixture_teardown's own stop and join are then
 * no-ops. */
static void
quiesce(void)
{
    rt_pool_stop(pool);
    rt_pool_join(pool);
}

/* Work that records whether the GIL hooks had it "held" when it ran. */
static void
gil_logging_work(struct rt_job *job)
{
    struct test_job *t = rt_container_of(job, struct test_job, job);

    pthread_mutex_lock(&hook_log.lock);
    t->ran_with_gil = hook_log.gil_held;
    pthread_mutex_unlock(&hook_log.lock);
    test_work(job);
}

START_TEST(pool_gil_jobs_run_in_batches)
{
    /* Queued behind a gate: 10 that need the GIL, 1 that does not, 5
     * that do.  Two batches: the plain job ends the first. */
    enum { N = 16 };
    struct test_job blocker, jobs[N];
    struct rt_pool_stats st;
    unsigned i;

    ck_assert_int_eq(rt_pool_new(1, 0, &logging_hooks, &pool), 0);
    test_job_init(&blocker, ch, &gate, 0);
    blocker.job.work = gil_logging_work;
    ck_assert_int_eq(rt_pool_submit(pool, &blocker.job), 0);
    gate_wait_entered(&gate, 1);
    for (i = 0; i < N; i++) {
        test_job_init(&jobs[i], ch, NULL, 0);
        jobs[i].job.work = gil_logging_work;
        if (i != 10)
            jobs[i].job.flags = RT_JOB_NEEDS_GIL;
        ck_assert_int_eq(rt_pool_submit(pool, &jobs[i].job), 0);
    }
    gate_open(&gate);
    complete_n(ch, N + 1);
    quiesce();

    ck_assert(!blocker.ran_with_gil);
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(atomic_load(&jobs[i].ran), 1);
        ck_assert_int_eq(jobs[i].ran_with_gil, i != 10);
    }
    pthread_mutex_lock(&hook_log.lock);
    ck_assert_uint_eq(hook_log.gil_enters, 2);
    ck_assert_uint_eq(hook_log.gil_leaves, 2);
    ck_assert(!hook_log.nested);
    ck_assert(!hook_log.gil_held);
    pthread_mutex_unlock(&hook_log.lock);
    st = stats();
    ck_assert_uint_eq(st.gil_batches, 2);
}
END_TEST

START_TEST(pool_gil_batch_limit)
{
    /* 100 jobs that need the GIL, queued behind a gate: a batch stops at
     * 64, so two gil_enter calls. */
    enum { N = 100 };
    struct test_job blocker, *jobs = calloc(N, sizeof(*jobs));
    unsigned i;

    ck_assert_ptr_nonnull(jobs);
    ck_assert_int_eq(rt_pool_new(1, 128, &logging_hooks, &pool), 0);
    test_job_init(&blocker, ch, &gate, 0);
    ck_assert_int_eq(rt_pool_submit(pool, &blocker.job), 0);
    gate_wait_entered(&gate, 1);
    for (i = 0; i < N; i++) {
        test_job_init(&jobs[i], ch, NULL, 0);
        jobs[i].job.work = gil_logging_work;
        jobs[i].job.flags = RT_JOB_NEEDS_GIL;
        ck_assert_int_eq(rt_pool_submit(pool, &jobs[i].job), 0);
    }
    gate_open(&gate);
    complete_n(ch, N + 1);
    quiesce();
    for (i = 0; i < N; i++)
        ck_assert(jobs[i].ran_with_gil);
    pthread_mutex_lock(&hook_log.lock);
    ck_assert_uint_eq(hook_log.gil_enters, 2);
    ck_assert_uint_eq(hook_log.gil_leaves, 2);
    ck_assert(!hook_log.nested);
    pthread_mutex_unlock(&hook_log.lock);
    ck_assert_uint_eq(stats().gil_batches, 2);
    free(jobs);
}
END_TEST

START_TEST(pool_thread_hooks_once_per_thread)
{
    enum { THREADS = 3 };
    unsigned i, k;

    ck_assert_int_eq(rt_pool_new(THREADS, 0, &logging_hooks, &pool), 0);
    rt_pool_stop(pool);
    rt_pool_join(pool);
    pthread_mutex_lock(&hook_log.lock);
    ck_assert_uint_eq(hook_log.thread_starts, THREADS);
    ck_assert_uint_eq(hook_log.thread_stops, THREADS);
    /* Each on its own pool thread. */
    for (i = 0; i < THREADS; i++) {
        ck_assert(!pthread_equal(hook_log.started[i], pthread_self()));
        for (k = 0; k < i; k++)
            ck_assert(
                !pthread_equal(hook_log.started[i], hook_log.started[k]));
    }
    ck_assert_uint_eq(hook_log.gil_enters, 0);
    pthread_mutex_unlock(&hook_log.lock);
    /* A second join is harmless. */
    rt_pool_join(pool);
}
END_TEST

START_TEST(pool_peak_running_equals_threads)
{
    enum { THREADS = 4, JOBS = 12 };
    struct test_job jobs[JOBS];
    struct rt_pool_stats st;
    unsigned i;

    ck_assert_int_eq(rt_pool_new(THREADS, 0, NULL, &pool), 0);
    for (i = 0; i < JOBS; i++) {
        test_job_init(&jobs[i], ch, &gate, 0);
        ck_assert_int_eq(rt_pool_submit(pool, &jobs[i].job), 0);
    }
    /* Every thread is inside a blocking job at once. */
    gate_wait_entered(&gate, THREADS);
    st = stats();
    ck_assert_uint_eq(st.running, THREADS);
    ck_assert_uint_eq(st.queued, JOBS - THREADS);
    gate_open(&gate);
    complete_n(ch, JOBS);
    st = stats();
    ck_assert_uint_eq(st.peak_running, THREADS);
    ck_assert_uint_eq(st.running, 0);
    ck_assert_uint_eq(st.completed, JOBS);
}
END_TEST

static Suite *
pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc;

    tc = tcase_create("basics");
    tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
    tcase_add_test(tc, pool_new_rejects_bad_thread_counts);
    tcase_add_test(tc, pool_new_default_queue_cap);
    tcase_add_test(tc, pool_runs_job_and_posts_it);
    suite_add_tcase(s, tc);

    tc = tcase_create("exactly-once");
    tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
    tcase_add_test(tc, pool_completes_every_job_exactly_once);
    /* A deadline for a hang, not a timing goal. */
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel-and-stop");
    tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
    tcase_add_test(tc, pool_cancel_before_start);
    tcase_add_test(tc, pool_cancel_never_submitted_is_busy);
    tcase_add_test(tc, pool_stop_cancels_queued_and_finishes_running);
    suite_add_tcase(s, tc);

    tc = tcase_create("back-pressure");
    tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
    tcase_add_test(tc, pool_submit_waits_for_room);
    tcase_add_test(tc, pool_stop_releases_waiting_submitter);
    tcase_add_test(tc, pool_submit_nowait_queues_past_the_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("hooks");
    tcase_add_checked_fixture(tc, hooks_setup, hooks_teardown);
    tcase_add_test(tc, pool_gil_jobs_run_in_batches);
    tcase_add_test(tc, pool_gil_batch_limit);
    tcase_add_test(tc, pool_thread_hooks_once_per_thread);
    tcase_add_test(tc, pool_peak_running_equals_threads);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
