/* The stall watchdog (watchdog.h).
 *
 * The rule.  The loop thread beats from a loop callback that reschedules
 * itself every beat interval I (rt_watchdog_beat_interval_ms: a quarter of
 * the threshold T).  A loop that is idle, or busy with short callbacks,
 * beats about every I, so a gap between beats is "I plus how long the loop
 * thread was kept from its loop".  The watchdog therefore counts
 *
 *     stalled = (now - last beat) - I
 *
 * and a stretch is a stall when stalled > T.  An idle loop never passes
 * (its gaps are I plus timer jitter), and what is reported is a lower
 * bound: the loop thread may have got stuck up to I before the beat that
 * never came was due.  A stall of at least T + I is always caught; one
 * between T and T + I is caught when it starts close enough to a beat.
 *
 * The watchdog thread does not poll: it sleeps on a condition variable
 * until the moment the last beat would turn into a stall (last + I + T),
 * and wakes early only to stop.  When that moment passes without a beat
 * it marks the stretch as reported and calls on_stall, once, outside the
 * lock; then it sleeps until the beat that ends the stretch (which signals
 * it) or until stop.  The beat that ends a reported stretch records it in
 * the stats, so the stats count exactly the stretches on_stall was called
 * for.
 *
 * The beat takes the mutex rather than storing an atomic timestamp: it
 * must see "this stretch was reported" and the timestamp together, and an
 * uncontended lock costs a few tens of nanoseconds at most every I.  The
 * watchdog never holds the lock while on_stall runs (on_stall takes the
 * GIL, which the beating loop thread holds).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watchdog.h"

#define NS_PER_MS 1000000.0
#define NS_PER_S 1000000000LL

struct rt_watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC: stop, or a reported stall ends */

    void (*on_stall)(void *ctx, double stalled_ms);
    void *ctx;
    int64_t interval_ns;  /* I */
    int64_t threshold_ns; /* T */

    /* Under mu. */
    int64_t last_beat_ns;
    bool reported; /* on_stall was called for the stretch since last_beat */
    bool stopping;
    struct rt_watchdog_stats stats;
};

static int64_t
now_ns(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static struct timespec
timespec_of(int64_t ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(ns / NS_PER_S),
        .tv_nsec = (long)(ns % NS_PER_S),
    };

    return ts;
}

/* How long the loop thread has been kept from its loop at now, in ns. */
static int64_t
stalled_ns(const struct rt_watchdog *wd, int64_t now)
{
    return now - wd->last_beat_ns - wd->interval_ns;
}

/* Ends the reported stretch at now and adds it to the stats.  Under mu. */
static void
record_stretch(struct rt_watchdog *wd, int64_t now)
{
    double ms = (double)stalled_ns(wd, now) / NS_PER_MS;

    wd->stats.stalls++;
    wd->stats.total_ms += ms;
    if (ms > wd->stats.worst_ms)
        wd->stats.worst_ms = ms;
    wd->reported = false;
}

static void *
watch(void *arg)
{
    struct rt_watchdog *wd = arg;

    pthread_mutex_lock(&wd->mu);
    while (!wd->stopping) {
        int64_t now = now_ns();
        int64_t stalled = stalled_ns(wd, now);

        if (wd->reported) {
            /* The beat that ends the stretch signals. */
            pthread_cond_wait(&wd->cond, &wd->mu);
            continue;
        }
        if (stalled > wd->threshold_ns) {
            wd->reported = true;
            pthread_mutex_unlock(&wd->mu);
            wd->on_stall(wd->ctx, (double)stalled / NS_PER_MS);
            pthread_mutex_lock(&wd->mu);
            continue;
        }
        /* Sleep until this beat turns into a stall: the first instant at
         * which stalled > T.  A beat meanwhile moves the deadline, which
         * the next turn computes. */
        struct timespec deadline = timespec_of(
            wd->last_beat_ns + wd->interval_ns + wd->threshold_ns + 1);

        pthread_cond_timedwait(&wd->cond, &wd->mu, &deadline);
    }
    pthread_mutex_unlock(&wd->mu);
    return NULL;
}

double
rt_watchdog_beat_interval_ms(double threshold_ms)
{
    return threshold_ms / 4;
}

int
rt_watchdog_start(double threshold_ms,
                  void (*on_stall)(void *ctx, double stalled_ms), void *ctx,
                  struct rt_watchdog **out)
{
    struct rt_watchdog *wd;
    pthread_condattr_t attr;
    int r;

    *out = NULL;
    /* Up to a year: far below where int64 nanoseconds overflow. */
    if (on_stall == NULL || !isfinite(threshold_ms) || threshold_ms <= 0 ||
        threshold_ms > 365 * 86400e3)
        return -EINVAL;
    wd = calloc(1, sizeof(*wd));
    if (wd == NULL)
        return -ENOMEM;
    wd->on_stall = on_stall;
    wd->ctx = ctx;
    wd->threshold_ns = (int64_t)(threshold_ms * NS_PER_MS);
    wd->interval_ns =
        (int64_t)(rt_watchdog_beat_interval_ms(threshold_ms) * NS_PER_MS);

    r = pthread_condattr_init(&attr);
    if (r != 0)
        goto free_wd;
    r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (r == 0)
        r = pthread_cond_init(&wd->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (r != 0)
        goto free_wd;
    r = pthread_mutex_init(&wd->mu, NULL);
    if (r != 0)
        goto destroy_cond;

    wd->last_beat_ns = now_ns();
    r = pthread_create(&wd->thread, NULL, watch, wd);
    if (r != 0)
        goto destroy_mutex;
    *out = wd;
    return 0;

destroy_mutex:
    pthread_mutex_destroy(&wd->mu);
destroy_cond:
    pthread_cond_destroy(&wd->cond);
free_wd:
    free(wd);
    return -r;
}

void
rt_watchdog_beat(struct rt_watchdog *wd)
{
    int64_t now = now_ns();

    pthread_mutex_lock(&wd->mu);
    if (wd->reported) {
        record_stretch(wd, now);
        pthread_cond_signal(&wd->cond);
    }
    wd->last_beat_ns = now;
    pthread_mutex_unlock(&wd->mu);
}

void
rt_watchdog_stop(struct rt_watchdog *wd, struct rt_watchdog_stats *stats)
{
    if (wd == NULL) {
        if (stats != NULL)
            memset(stats, 0, sizeof(*stats));
        return;
    }
    pthread_mutex_lock(&wd->mu);
    wd->stopping = true;
    pthread_cond_signal(&wd->cond);
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->thread, NULL);

    /* A stall that was reported and still goes on ends here: whoever stops
     * the watchdog is no longer stuck. */
    if (wd->reported)
        record_stretch(wd, now_ns());
    if (stats != NULL)
        *stats = wd->stats;
    pthread_mutex_destroy(&wd->mu);
    pthread_cond_destroy(&wd->cond);
    free(wd);
}
