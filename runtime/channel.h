/* The completion channel of one event loop: finished jobs queue here, and
 * an eventfd wakes the loop, which drains the whole batch at once (or a
 * bounded part of it per turn, rt_channel_drain_some).
 *
 * Plain C: no Python.h.  Posting coalesces wake-ups: the eventfd is
 * written only when the queue goes from empty to not empty, so a burst of
 * completions costs one wake-up.
 */
#pragma once

#include <stddef.h>

#include "job.h"

struct rt_channel;

/* Creates a channel and its eventfd (non-blocking, close-on-exec).
 * Returns 0 or a negative errno.
 * Thread: any; GIL: any; no Python API. */
int
rt_channel_new(struct rt_channel **out);

/* The fd the loop watches for reading (loop.add_reader).
 * Thread: any; GIL: any; no Python API. */
int
rt_channel_fd(struct rt_channel *ch);

/* Appends a finished job.  Never blocks, never fails.
 * Thread: any (pool threads); GIL: any; no Python API. */
void
rt_channel_post(struct rt_channel *ch, struct rt_job *job);

/* Takes every posted job, oldest first, as a list linked through ->next
 * (NULL when none), and clears the eventfd.  The caller then runs each
 * job's done.
 * Thread: the loop's; GIL: any; no Python API. */
struct rt_job *
rt_channel_drain(struct rt_channel *ch);

/* As rt_channel_drain, but takes at most max jobs (max >= 1); the eventfd
 * stays readable while jobs are left, so a loop watching it comes back
 * for them on its next turn, after the callbacks that came due between.
 * Thread: the loop's; GIL: any; no Python API. */
struct rt_job *
rt_channel_drain_some(struct rt_channel *ch, size_t max);

/* Counters, for tests: posts, wake-ups written, drains. */
struct rt_channel_stats {
    unsigned long long posted, wakeups, drains;
};

/* Thread: any; GIL: any; no Python API. */
void
rt_channel_get_stats(struct rt_channel *ch, struct rt_channel_stats *out);

/* Frees the channel and closes its fd.  Nothing may post any more.
 * Thread: any; GIL: any; no Python API. */
void
rt_channel_free(struct rt_channel *ch);
