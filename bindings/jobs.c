/* The job machinery of bindings/: the worker pool (started on first use,
 * with hooks that give pool threads the GIL), every loop's completion
 * channel, the job type that offload.c, process.c and ffi.c build on, and
 * shutdown.
 *
 * A job is {work, done, status, payload} (runtime/job.h): work runs on a
 * pool thread; the pool posts the finished job to its loop's channel,
 * which writes the loop's eventfd only if it was empty (no GIL for
 * delivery); the loop's reader callback drains up to DRAIN_BATCH jobs and
 * settles each job's Output (or asyncio future) through its finish(),
 * then frees it, coming back on the next turn of the loop for any left.
 *
 * Every job completes exactly once: cancelled jobs come back through the
 * channel too, with -ECANCELED, and a finish() that fails rejects what it
 * left unsettled (job_done).
 */
#include "jobs.h"
#include "output_internal.h"

#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each pool thread keeps its own thread state for its whole life, created
 * at its first Python job (about 80 ns per acquisition instead of 400).
 * NULL while a batch runs means the thread could not make one: the batch
 * runs without the GIL and each of its Python jobs fails (offload.c). */
static __thread PyThreadState *pool_tstate;

/* Fault injection for tests (_outrun._testing_fail): how many of the next
 * thread states / job results to fail to make, as if out of memory.
 * Process-wide rather than module state: the pool threads read the first
 * without the GIL, and nothing but a test ever sets them. */
static _Atomic int testing_fail_tstates, testing_fail_results;

static int
testing_take(_Atomic int *counter)
{
    int n = *counter;

    while (n > 0) {
        if (atomic_compare_exchange_weak(counter, &n, n - 1))
            return 1;
    }
    return 0;
}

int
bnd_testing_fail_result(void)
{
    assert(PyGILState_Check());
    if (!testing_take(&testing_fail_results))
        return 0;
    PyErr_SetString(PyExc_MemoryError,
                    "(injected by _outrun._testing_fail) cannot build the "
                    "job's result");
    return 1;
}

/* ------------------------------------------------------------------ */
/* Pool hooks: the GIL on pool threads                                 */
/* ------------------------------------------------------------------ */

static void
hook_gil_enter(void *ctx)
{
    bnd_state *st = ctx;

    if (pool_tstate == NULL) {
        /* The first Python job of this thread: a thread state of our own
         * (PyThreadState_New needs no GIL; it is attached below).  It
         * fails only when memory runs out: then this batch runs without
         * the GIL, its jobs fail, and the next batch tries again. */
        if (!testing_take(&testing_fail_tstates))
            pool_tstate = PyThreadState_New(st->interp);
        if (pool_tstate == NULL)
            return;
    }
    PyEval_RestoreThread(pool_tstate);
}

static void
hook_gil_leave(void *ctx)
{
    if (pool_tstate != NULL)
        PyEval_SaveThread();
}

static void
hook_thread_stop(void *ctx)
{
    if (pool_tstate == NULL)
        return;
    /* Only while the interpreter lives: the host joins the pool before
     * Py_FinalizeEx (rt_host_shutdown), and an abandoned thread never
     * gets here. */
    PyEval_RestoreThread(pool_tstate);
    PyThreadState_Clear(pool_tstate);
    PyThreadState_DeleteCurrent();
    pool_tstate = NULL;
}

/* The pool's size: configure_pool's (--threads), else OUTRUN_THREADS's,
 * else RT_THREADS_DEFAULT.  Blocking work in infrastructure programs is
 * mostly waiting (HTTP calls, cloud APIs, subprocesses), so threads are
 * cheap next to what they wait for; `outrun bench offload` measures 1,000
 * x 10 ms sleeps within a few percent of ideal at the default size. */
static unsigned
threads_wanted(bnd_state *st)
{
    const char *env;
    long n;

    if (st->pool_threads > 0)
        return st->pool_threads;
    env = getenv("OUTRUN_THREADS");
    if (env != NULL && env[0] != '\0') {
        char *end;

        n = strtol(env, &end, 10);
        if (*end == '\0' && n >= 1 && n <= RT_THREADS_MAX)
            return (unsigned)n;
    }
    return RT_THREADS_DEFAULT;
}

static PyObject *
error_from_errno(int r, const char *what)
{
    errno = -r;
    return PyErr_Format(PyExc_OSError, "%s: %s", what, strerror(-r));
}

struct rt_pool *
bnd_pool(bnd_state *st)
{
    struct rt_pool_hooks hooks = {
        .ctx = st,
        .thread_stop = hook_thread_stop,
        .gil_enter = hook_gil_enter,
        .gil_leave = hook_gil_leave,
    };
    int r;

    assert(PyGILState_Check());
    if (st->pool != NULL)
        return st->pool;
    if (st->pool_shut_down) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the worker pool has shut down: the interpreter is "
                        "exiting");
        return NULL;
    }
    r = rt_pool_new(threads_wanted(st), 0, &hooks, &st->pool);
    if (r < 0) {
        error_from_errno(r, "cannot start the worker pool");
        return NULL;
    }
    return st->pool;
}

int
bnd_pool_thread_has_python(void)
{
    return pool_tstate != NULL;
}

/* ------------------------------------------------------------------ */
/* The completion channel of a loop                                    */
/* ------------------------------------------------------------------ */

static PyObject *
Scheduler_drain_jobs(PyObject *self, PyObject *unused)
{
    SchedulerObject *s = (SchedulerObject *)self;
    struct rt_job *j = rt_channel_drain(s->channel);

    while (j != NULL) {
        struct rt_job *next = j->next;

        j->done(j);
        j = next;
    }
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* How many finished jobs one loop callback settles at most.  Jobs that
 * finish while the loop thread is busy elsewhere pile up in the channel
 * (10,000 processes started in one go, say), and settling them all in
 * one callback ran their continuations for a second and more with the
 * loop frozen (issue 11, item 13).  In batches, the loop's timers and
 * other callbacks (the stall watchdog's beat among them) run between
 * two; a batch costs one more turn of the loop, a few microseconds. */
#define DRAIN_BATCH 256

/* The most jobs one loop callback settled, for tests (pool_stats).  The
 * loop threads write it with the GIL held. */
static size_t drain_batch_peak;

static PyObject *
Scheduler_drain_some_jobs(PyObject *self, PyObject *unused)
{
    SchedulerObject *s = (SchedulerObject *)self;
    struct rt_job *j = rt_channel_drain_some(s->channel, DRAIN_BATCH);
    size_t n = 0;

    while (j != NULL) {
        struct rt_job *next = j->next;

        j->done(j);
        j = next;
        n++;
    }
    if (n > drain_batch_peak)
        drain_batch_peak = n;
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef drain_jobs_def = {
    "_drain_jobs", Scheduler_drain_some_jobs, METH_NOARGS,
    "Settles the oldest finished jobs of this loop, at most DRAIN_BATCH "
    "(256).\nThe loop calls this when its completion channel's eventfd is "
    "readable,\nwhich it stays while jobs are left."};

int
bnd_sched_channel(SchedulerObject *s)
{
    bnd_state *st = s->st;
    PyObject *loop, *fd = NULL, *cb = NULL, *r = NULL, *ref = NULL;
    int rc;

    assert(PyGILState_Check());
    if (s->channel != NULL)
        return 0;
    loop = bnd_sched_loop(s);
    if (loop == NULL)
        return -1;
    rc = rt_channel_new(&s->channel);
    if (rc < 0) {
        Py_DECREF(loop);
        error_from_errno(rc, "cannot make the completion channel");
        return -1;
    }
    fd = PyLong_FromLong(rt_channel_fd(s->channel));
    cb = PyCFunction_New(&drain_jobs_def, (PyObject *)s);
    if (fd == NULL || cb == NULL)
        goto error;
    r = PyObject_CallMethodObjArgs(loop, st->str_add_reader, fd, cb, NULL);
    if (r == NULL)
        goto error;
    /* Shutdown drains every channel once more. */
    ref = PyWeakref_NewRef((PyObject *)s, NULL);
    if (ref == NULL || PyList_Append(st->job_scheds, ref) < 0)
        goto error;
    Py_DECREF(ref);
    Py_DECREF(r);
    Py_DECREF(cb);
    Py_DECREF(fd);
    Py_DECREF(loop);
    return 0;
error:
    Py_XDECREF(ref);
    Py_XDECREF(r);
    Py_XDECREF(cb);
    Py_XDECREF(fd);
    Py_DECREF(loop);
    rt_channel_free(s->channel);
    s->channel = NULL;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                */
/* ------------------------------------------------------------------ */

/* What a cancel callback holds: the job while it lives, NULL after. */
struct bnd_job_ref {
    bnd_job *job;
};

static void
job_ref_destroy(PyObject *capsule)
{
    free(PyCapsule_GetPointer(capsule, "outrun.job_ref"));
}

/* The job's done: settle, release, free.  Loop thread, GIL held.
 *
 * The job completes exactly once whatever its finish() does: when finish
 * fails (it could not build the result or the exception, or the future
 * refused it) or returns with the Output still pending, the Output and
 * the future are rejected here with the error, so that nothing waits for
 * them forever. */
static void
job_done(struct rt_job *rj)
{
    bnd_job *job = rt_container_of(rj, bnd_job, job);
    bnd_exc_state saved = bnd_exc_save();

    assert(PyGILState_Check());
    if (job->ref != NULL) {
        /* The cancel callback may outlive the job, and the job the
         * callback: the capsule that owns ref lives until both let go. */
        job->ref->job = NULL;
        job->ref = NULL;
        Py_CLEAR(job->ref_owner);
    }
    job->finish(job);
    if (!PyErr_Occurred() && job->out != NULL &&
        job->out->state == OUT_PENDING)
        PyErr_SetString(PyExc_SystemError,
                        "a finished job left its Output pending");
    if (PyErr_Occurred())
        bnd_job_fail(job);
    bnd_exc_restore(saved);
    job->sched->jobs_in_flight--;
    if (job->free_payload != NULL)
        job->free_payload(job);
    Py_XDECREF(job->out);
    Py_XDECREF(job->future);
    Py_DECREF(job->sched);
    PyMem_RawFree(job);
}

int
bnd_job_submit(bnd_state *st, SchedulerObject *s, bnd_job *job)
{
    struct rt_pool *pool;
    int r;

    assert(PyGILState_Check());
    pool = bnd_pool(st);
    if (pool == NULL || bnd_sched_channel(s) < 0)
        return -1;
    job->sched = (SchedulerObject *)Py_NewRef((PyObject *)s);
    job->job.done = job_done;
    job->job.channel = s->channel;
    /* Never waits, even past the queue's cap: this is the loop thread,
     * and the job is in memory already (issue 11, item 13: waiting here
     * for room froze the loop for 1.0 s in 10,000 offloads of a 10 ms
     * call, and for seconds in 10,000 process.run calls). */
    r = rt_pool_submit_nowait(pool, &job->job);
    if (r < 0) {
        Py_CLEAR(job->sched);
        if (r == -ESHUTDOWN)
            PyErr_SetString(PyExc_RuntimeError,
                            "the worker pool has shut down: the "
                            "interpreter is exiting");
        else
            error_from_errno(r, "cannot queue the job");
        return -1;
    }
    s->jobs_in_flight++;
    return 0;
}

OutputObject *
bnd_job_submit_output(bnd_state *st, SchedulerObject *s, bnd_job *job)
{
    OutputObject *out;

    assert(PyGILState_Check());
    out = bnd_output_new_pending(st, s, OP_NONE);
    if (out == NULL)
        return NULL;
    job->out = (OutputObject *)Py_NewRef((PyObject *)out);
    if (bnd_job_submit(st, s, job) < 0) {
        bnd_output_abandon(out);
        Py_CLEAR(job->out);
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static int
future_done(bnd_state *st, PyObject *fut)
{
    PyObject *r = PyObject_CallMethodNoArgs(fut, st->str_done);
    int b;

    if (r == NULL)
        return -1;
    b = PyObject_IsTrue(r);
    Py_DECREF(r);
    return b;
}

/* A future of a loop that has closed cannot take a result any more (its
 * callbacks have nowhere to run): that is no error at shutdown. */
static void
forgive_closed_loop(bnd_job *job)
{
    PyObject *loop, *closed;
    bnd_exc_state exc;
    int alive, is_closed;

    if (!PyErr_ExceptionMatches(PyExc_RuntimeError))
        return;
    exc = bnd_exc_save();
    alive = bnd_weakref_get(job->sched->loop_ref, &loop);
    if (alive == 0) {
        is_closed = 1; /* the loop is gone */
    } else if (alive < 0) {
        is_closed = 0;
    } else {
        /* With the future's error put aside: Python called with an
         * exception set fails with SystemError. */
        closed = PyObject_CallMethod(loop, "is_closed", NULL);
        Py_DECREF(loop);
        is_closed = closed != NULL && PyObject_IsTrue(closed) == 1;
        Py_XDECREF(closed);
    }
    PyErr_Clear(); /* is_closed's own failure: the future's error stands */
    if (!is_closed) {
        bnd_exc_restore(exc);
        return;
    }
    bnd_exc_discard(exc);
}

/* Completes job->future with method(arg) (set_result or set_exception)
 * unless it is done (cancelled).  Returns 1 if it took arg, 0 if not (done
 * already, or its loop has closed), -1 with an exception set. */
static int
settle_future(bnd_job *job, PyObject *method, PyObject *arg)
{
    PyObject *r;
    int done;

    if (job->future == NULL)
        return 0;
    done = future_done(job->sched->st, job->future);
    if (done != 0)
        return done < 0 ? -1 : 0;
    r = PyObject_CallMethodOneArg(job->future, method, arg);
    if (r != NULL) {
        Py_DECREF(r);
        return 1;
    }
    forgive_closed_loop(job);
    return PyErr_Occurred() ? -1 : 0;
}

void
bnd_job_resolve(bnd_job *job, PyObject *value)
{
    assert(PyGILState_Check());
    if (job->out != NULL && job->out->state == OUT_PENDING)
        bnd_output_resolve(job->out, Py_NewRef(value), 1, 0, NULL);
    (void)settle_future(job, job->sched->st->str_set_result, value);
    Py_DECREF(value);
}

void
bnd_job_reject(bnd_job *job, PyObject *exc)
{
    assert(PyGILState_Check());
    if (job->out != NULL && job->out->state == OUT_PENDING)
        bnd_output_reject(job->out, exc, 1);
    (void)settle_future(job, job->sched->st->str_set_exception, exc);
}

/* Returns the exception that is set, normalized, its traceback attached,
 * and clears it; MemoryError when none is set or it cannot be made (the
 * class itself, as a last resort: an Output still settles with it). */
static PyObject *
take_exception(void)
{
    PyObject *type, *value, *tb;

    if (!PyErr_Occurred())
        PyErr_NoMemory();
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (value == NULL)
        value = Py_NewRef(PyExc_MemoryError);
    return value;
}

/* Reports exc (which nobody will see otherwise) as unraisable. */
static void
report_unraisable(PyObject *exc, PyObject *obj)
{
    if (PyExceptionInstance_Check(exc))
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    else
        PyErr_SetNone(exc);
    PyErr_WriteUnraisable(obj);
}

void
bnd_job_fail(bnd_job *job)
{
    PyObject *exc = take_exception();
    int taken = 0, r;

    assert(PyGILState_Check());
    if (job->out != NULL && job->out->state == OUT_PENDING) {
        bnd_output_reject(job->out, exc, 1);
        taken = 1;
    }
    r = settle_future(job, job->sched->st->str_set_exception, exc);
    if (r < 0)
        PyErr_WriteUnraisable(job->future); /* the future refused it */
    if (r > 0)
        taken = 1;
    if (!taken)
        report_unraisable(exc, job->future);
    Py_DECREF(exc);
}

static PyObject *
cancel_if_cancelled(PyObject *capsule, PyObject *fut)
{
    struct bnd_job_ref *ref = PyCapsule_GetPointer(capsule,
                                                   "outrun.job_ref");
    bnd_state *st;
    PyObject *r;
    int b;

    if (ref == NULL || ref->job == NULL)
        Py_RETURN_NONE; /* the job already completed */
    st = ref->job->sched->st;
    r = PyObject_CallMethodNoArgs(fut, st->str_cancelled);
    if (r == NULL)
        return NULL;
    b = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (b > 0 && st->pool != NULL) {
        /* -EBUSY: it is executing; it finishes and its result is dropped
         * (the future is cancelled already). */
        (void)rt_pool_cancel(st->pool, &ref->job->job);
    }
    Py_RETURN_NONE;
}

static PyMethodDef cancel_def = {
    "_cancel_job", cancel_if_cancelled, METH_O,
    "Cancels the job of a cancelled future if it has not started."};

int
bnd_job_cancel_with(bnd_state *st, bnd_job *job, PyObject *fut)
{
    struct bnd_job_ref *ref;
    PyObject *capsule, *cb, *r;

    assert(PyGILState_Check());
    ref = malloc(sizeof(*ref));
    if (ref == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ref->job = job;
    capsule = PyCapsule_New(ref, "outrun.job_ref", job_ref_destroy);
    if (capsule == NULL) {
        free(ref);
        return -1;
    }
    cb = PyCFunction_New(&cancel_def, capsule);
    if (cb == NULL) {
        Py_DECREF(capsule);
        return -1;
    }
    r = PyObject_CallMethodOneArg(fut, st->str_add_done_callback, cb);
    Py_DECREF(cb);
    if (r == NULL) {
        Py_DECREF(capsule);
        return -1;
    }
    Py_DECREF(r);
    job->ref = ref;
    job->ref_owner = capsule;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Pool control: size, shutdown, stats                                 */
/* ------------------------------------------------------------------ */

PyDoc_STRVAR(configure_pool_doc,
             "configure_pool(threads)\n--\n\n"
             "Sets the worker pool's size before it starts (the host passes "
             "--threads).");

static PyObject *
module_configure_pool(PyObject *module, PyObject *arg)
{
    bnd_state *st = bnd_get_state(module);
    long n = PyLong_AsLong(arg);

    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 1 || n > RT_THREADS_MAX) {
        PyErr_SetString(PyExc_ValueError,
                        "the pool takes from 1 to " RT_STR(
                            RT_THREADS_MAX) " threads");
        return NULL;
    }
    if (st->pool != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the worker pool is already running; set its size "
                        "before the first offload");
        return NULL;
    }
    st->pool_threads = (unsigned)n;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(pool_stats_doc,
             "pool_stats()\n--\n\n"
             "Returns a dict of the worker pool's counters (threads, "
             "queue_cap, queued,\nrunning, submitted, completed, cancelled, "
             "gil_batches, peak_running,\npeak_queued, over_cap: jobs queued "
             "past a full queue, submit_waits:\ntimes a submitter waited for "
             "room, drain_batch_peak: the most finished\njobs one loop "
             "callback settled), or None before it starts.");

static PyObject *
module_pool_stats(PyObject *module, PyObject *unused)
{
    bnd_state *st = bnd_get_state(module);
    struct rt_pool_stats s;

    if (st->pool == NULL)
        Py_RETURN_NONE;
    rt_pool_get_stats(st->pool, &s);
    return Py_BuildValue(
        "{sIsnsnsnsKsKsKsKsnsnsKsKsn}", "threads", s.threads, "queue_cap",
        (Py_ssize_t)s.queue_cap, "queued", (Py_ssize_t)s.queued, "running",
        (Py_ssize_t)s.running, "submitted", s.submitted, "completed",
        s.completed, "cancelled", s.cancelled, "gil_batches", s.gil_batches,
        "peak_running", (Py_ssize_t)s.peak_running, "peak_queued",
        (Py_ssize_t)s.peak_queued, "over_cap", s.over_cap, "submit_waits",
        s.submit_waits, "drain_batch_peak", (Py_ssize_t)drain_batch_peak);
}

/* Settles every job that reached a channel, on this thread. */
static void
drain_all_channels(bnd_state *st)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(st->job_scheds); i++) {
        PyObject *s, *r;
        int alive = bnd_weakref_get(PyList_GET_ITEM(st->job_scheds, i), &s);

        if (alive < 0)
            PyErr_WriteUnraisable(NULL);
        if (alive <= 0)
            continue; /* gone: every job holds its scheduler, so none of
                       * its jobs is in flight */
        r = Scheduler_drain_jobs(s, NULL);
        Py_XDECREF(r);
        if (r == NULL)
            PyErr_WriteUnraisable(s);
        Py_DECREF(s);
    }
}

PyDoc_STRVAR(shutdown_doc,
             "shutdown(grace=5.0)\n--\n\n"
             "Stops the worker pool: no new jobs, queued ones cancelled, "
             "running ones\ngiven grace seconds to finish; then settles "
             "every finished job.  A\nPython callable still running after "
             "that is abandoned, so that exit never\nhangs.  Returns the "
             "number abandoned.  Safe to call again: the grace is\ncounted "
             "from the first call, so a later call waits at most what is "
             "left\nof it (exit waits out one grace in all).");

/* CLOCK_MONOTONIC in seconds. */
static double
monotonic_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PyObject *
module_shutdown(PyObject *module, PyObject *args)
{
    bnd_state *st = bnd_get_state(module);
    double grace = 5.0, deadline;
    struct rt_pool_stats stats;
    struct rt_pool *pool = st->pool;

    if (!PyArg_ParseTuple(args, "|d:shutdown", &grace))
        return NULL;
    if (!(grace > 0))
        grace = 0; /* negative or NaN: no wait */
    /* Freed rejections that no loop could report: the last safe point. */
    bnd_output_flush_unreported(st);
    st->pool_shut_down = 1;
    if (pool == NULL)
        return PyLong_FromLong(0);
    /* One grace in all: the host calls this from Runtime.close, again in
     * rt_host_shutdown and once more from atexit (issue 11, item 4: each
     * call waited its own grace, 2 + 2 + 5 s with a callable still
     * running).  The first call fixes when the grace ends. */
    deadline = monotonic_s() + grace;
    if (st->shutdown_deadline == 0)
        st->shutdown_deadline = deadline;
    else if (st->shutdown_deadline < deadline)
        deadline = st->shutdown_deadline;
    /* 1-2. Stop taking jobs; queued ones complete with -ECANCELED, and
     * running processes are killed (their groups get SIGTERM). */
    rt_pool_stop(pool);
    bnd_process_kill_all(st);
    /* 3. Let running jobs finish, without the GIL they may need. */
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        struct timespec ts = {0, 5 * 1000 * 1000};

        rt_pool_get_stats(pool, &stats);
        if (stats.running == 0 || monotonic_s() >= deadline)
            break;
        nanosleep(&ts, NULL);
    }
    if (stats.running == 0)
        rt_pool_join(pool);
    Py_END_ALLOW_THREADS
    /* 4-5. Every finished or cancelled job completes exactly once. */
    drain_all_channels(st);
    if (stats.running == 0) {
        rt_pool_free(pool);
        st->pool = NULL;
        return PyLong_FromLong(0);
    }
    /* Still running after the grace period: leave the pool to the
     * process's exit.  Its threads never touch Python again once the
     * interpreter finalises (CPython ends a thread that asks for the GIL
     * then). */
    return PyLong_FromSsize_t((Py_ssize_t)stats.running);
}

PyDoc_STRVAR(testing_fail_doc,
             "_testing_fail(what, n)\n--\n\n"
             "For tests only: makes the next n of what fail as if memory ran "
             "out.\nwhat is 'thread_state' (a pool thread's first Python "
             "job cannot get a\nthread state) or 'result' (a finished "
             "spawn() or foreign call cannot\nbuild its result).  Returns "
             "None.");

static PyObject *
module_testing_fail(PyObject *module, PyObject *args)
{
    const char *what;
    int n;

    if (!PyArg_ParseTuple(args, "si:_testing_fail", &what, &n))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be 0 or more");
        return NULL;
    }
    if (strcmp(what, "thread_state") == 0)
        testing_fail_tstates = n;
    else if (strcmp(what, "result") == 0)
        testing_fail_results = n;
    else
        return PyErr_Format(PyExc_ValueError,
                            "_testing_fail: unknown fault %R; use "
                            "'thread_state' or 'result'",
                            PyTuple_GET_ITEM(args, 0));
    Py_RETURN_NONE;
}

static PyMethodDef jobs_functions[] = {
    {"configure_pool", module_configure_pool, METH_O, configure_pool_doc},
    {"pool_stats", module_pool_stats, METH_NOARGS, pool_stats_doc},
    {"shutdown", module_shutdown, METH_VARARGS, shutdown_doc},
    {"_testing_fail", module_testing_fail, METH_VARARGS, testing_fail_doc},
    {NULL, NULL, 0, NULL},
};

int
bnd_jobs_init(PyObject *module, bnd_state *st)
{
    assert(PyGILState_Check());
    st->interp = PyInterpreterState_Get();
    st->job_scheds = PyList_New(0);
    if (st->job_scheds == NULL)
        return -1;
    return PyModule_AddFunctions(module, jobs_functions);
}
