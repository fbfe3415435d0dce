/* A job: blocking work for a pool thread, and what to do with its result
 * on the loop thread.
 *
 * Plain C: no Python.h.  Embed struct rt_job in a larger struct that holds
 * the payload and find it again with rt_container_of().
 *
 * Every job completes exactly once: its work ran (status 0 or a negative
 * errno the work set), or it was cancelled before it started (status
 * -ECANCELED, work never called).  Either way the pool posts it to its
 * channel, and the loop thread calls done.  The comments use libuv's
 * wording: cancel() cannot stop a job that is executing.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define rt_container_of(ptr, type, member)                                  \
    ((type *)((char *)(ptr)-offsetof(type, member)))

struct rt_job;
struct rt_channel;
struct rt_pool;

typedef void (*rt_job_fn)(struct rt_job *job);

/* The job calls into Python: the pool runs it with the pool thread's own
 * interpreter state attached (through rt_pool_hooks), and runs queued jobs
 * with this flag back to back under one acquisition. */
#define RT_JOB_NEEDS_GIL 0x01

struct rt_job {
    rt_job_fn work;             /* pool thread; see RT_JOB_NEEDS_GIL */
    rt_job_fn done;             /* loop thread, after the channel drains */
    struct rt_channel *channel; /* where the finished job is posted */
    int status;                 /* 0, a negative errno, or -ECANCELED */
    uint32_t flags;             /* RT_JOB_* */
    /* Owned by the pool and the channel; zero them before submitting. */
    struct rt_job *next;
    struct rt_job *prev;  /* the pool's queue only */
    struct rt_pool *pool; /* the pool whose queue holds it, while queued */
    int state;
};
