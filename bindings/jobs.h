/* The job machinery of bindings/ (jobs.c): the worker pool, the completion
 * channel of each loop, the job type, and shutdown.  offload.c (Python
 * callables), process.c (subprocesses) and ffi.c (foreign calls) make
 * jobs of this type.
 */
#pragma once

#include "scheduler.h"

#include "channel.h"
#include "pool.h"
#include "run_limits.h"

/* A job of bindings/: the runtime job, and where its outcome goes. */
typedef struct bnd_job {
    struct rt_job job;
    SchedulerObject *sched; /* strong: keeps the channel alive */
    OutputObject *out;      /* strong, or NULL: the Output to settle */
    PyObject *future;       /* strong, or NULL: the asyncio future */
    struct bnd_job_ref *ref; /* what a cancel callback holds, or NULL */
    PyObject *ref_owner;     /* strong: the capsule that owns ref */
    /* Settles out/future: status and the payload decide how.  Runs on the
     * loop thread with the GIL; then the job is freed.  On failure it
     * returns with the exception set (or calls bnd_job_fail): the job's
     * done rejects whatever is still unsettled with it, so every job
     * completes exactly once. */
    void (*finish)(struct bnd_job *job);
    void (*free_payload)(struct bnd_job *job);
} bnd_job;

/* Returns the pool, starting it on first use.  NULL with an exception set
 * when threads cannot be started, or after shutdown.
 * Thread: loop; GIL: held. */
struct rt_pool *
bnd_pool(bnd_state *st);

/* Predicate: does this pool thread have its Python thread state?  While a
 * batch of RT_JOB_NEEDS_GIL jobs runs, 1 means the thread holds the GIL;
 * 0 means it could not make a thread state (out of memory): the batch
 * runs without the GIL, and its jobs must not touch Python.
 * Thread: pool; GIL: held if it returns 1. */
int
bnd_pool_thread_has_python(void);

/* Makes sure s has a completion channel watched by its loop.  0 or -1.
 * Thread: loop; GIL: held. */
int
bnd_sched_channel(SchedulerObject *s);

/* Submits job (work set, job->finish set) for s: the pool runs it and the
 * loop settles it.  On failure the job is not submitted (the caller
 * frees it) and -1 is returned with an exception set.
 * Never waits: a full queue takes the job past its cap.
 * Thread: loop; GIL: held. */
int
bnd_job_submit(bnd_state *st, SchedulerObject *s, bnd_job *job);

/* Submits job for s with a new pending Output for it to settle.  Returns
 * the Output, or NULL with an exception set: then nothing was submitted,
 * job->out is NULL again, and the caller frees the job.
 * Thread: loop; GIL: held. */
OutputObject *
bnd_job_submit_output(bnd_state *st, SchedulerObject *s, bnd_job *job);

/* Settles job->out or job->future with value (stolen) / exc (borrowed).
 * Thread: loop; GIL: held. */
void
bnd_job_resolve(bnd_job *job, PyObject *value);
void
bnd_job_reject(bnd_job *job, PyObject *exc);

/* Rejects whatever of job is still unsettled (its Output if pending, its
 * future if not done) with the exception that is set, which it clears, or
 * with MemoryError when none is set; an exception nobody takes, or a
 * future that refuses it, is reported as unraisable.  For finish()'s
 * failure paths: building the result or the exception failed.
 * Thread: loop; GIL: held. */
void
bnd_job_fail(bnd_job *job);

/* Fault injection for tests: 1 with MemoryError set when
 * _outrun._testing_fail("result", n) asked this job's result to fail
 * to build, else 0.
 * Thread: loop; GIL: held. */
int
bnd_testing_fail_result(void);

/* Arranges that cancelling fut cancels job if it has not started.
 * Returns 0 or -1.
 * Thread: loop; GIL: held. */
int
bnd_job_cancel_with(bnd_state *st, bnd_job *job, PyObject *fut);

/* Cancels every process in flight (their groups are killed), for
 * shutdown.  Defined in process.c.  Returns how many.
 * Thread: loop; GIL: held. */
long
bnd_process_kill_all(bnd_state *st);
