/* The stall watchdog: a thread that notices when the loop thread has not
 * got back to its event loop for longer than a threshold.
 *
 * Plain C: no Python.h.  The loop thread calls rt_watchdog_beat() each time
 * it is back in the loop (from a periodic loop callback); the watchdog
 * thread checks the time of the last beat.  When a stretch passes the
 * threshold it calls on_stall once for that stretch, on its own thread
 * (bindings/ takes the GIL there to name the Python line), and when the
 * loop comes back it records the stretch for the summary.
 */
#pragma once

struct rt_watchdog;

struct rt_watchdog_stats {
    unsigned long long stalls; /* stretches over the threshold */
    double total_ms;           /* their summed length */
    double worst_ms;
};

/* Starts the watchdog thread.  threshold_ms > 0.  on_stall(ctx, ms) is
 * called on the watchdog thread while a stall goes on, once per stall,
 * with how long it has lasted so far.  Returns 0 or a negative errno.
 * Thread: any; GIL: any; no Python API. */
int
rt_watchdog_start(double threshold_ms,
                  void (*on_stall)(void *ctx, double stalled_ms), void *ctx,
                  struct rt_watchdog **out);

/* How often the loop thread should beat for a threshold: a quarter of it.
 * A stretch is a stall when (time since the last beat) - this interval >
 * threshold_ms, so a loop that beats at this interval and is otherwise
 * idle never counts as stalled (watchdog.c explains the rule).
 * Thread: any; GIL: any; no Python API. */
double
rt_watchdog_beat_interval_ms(double threshold_ms);

/* The loop thread is back in its loop.
 * Thread: loop; GIL: any; no Python API. */
void
rt_watchdog_beat(struct rt_watchdog *wd);

/* Stops and joins the thread, then frees.  Call without the GIL if
 * on_stall may take it.  A stall reported and still going on ends here.
 * stats may be NULL; wd may be NULL (the stats are then zero).
 * Thread: any; GIL: not held; no Python API. */
void
rt_watchdog_stop(struct rt_watchdog *wd, struct rt_watchdog_stats *stats);
