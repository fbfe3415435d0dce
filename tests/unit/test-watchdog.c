/* Check suite for runtime/watchdog.c: on_stall once per stall, the stats,
 * and a prompt stop.
 *
 * The test's own thread plays the loop: it beats, then stops beating (the
 * stall) until on_stall has told it, through a condition variable, that
 * the warning happened.  The waits are bounded and generous; the tests
 * count calls and never assert on how long anything took.  The only
 * timing they rely on is the rule itself: a loop that beats more often
 * than the beat interval never stalls, which leaves the threshold (0.5 s)
 * as slack for a busy machine. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "watchdog.h"

/* The threshold of every test but the ones that say otherwise. */
#define THRESHOLD_MS 500.0
/* How long a test waits for something that should happen: only a hang
 * takes this long. */
#define GENEROUS_MS 30000.0

/* What on_stall saw, and a gate that can hold it (to stand for a watchdog
 * thread waiting for the GIL). */
struct observer {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int calls;
    double last_ms;
    double sum_ms;
    double max_ms;
    double min_ms;
    bool hold; /* on_stall waits while set */
};

static struct observer obs;

static void
on_stall(void *ctx, double stalled_ms)
{
    struct observer *o = ctx;

    pthread_mutex_lock(&o->mu);
    o->calls++;
    o->last_ms = stalled_ms;
    o->sum_ms += stalled_ms;
    if (stalled_ms > o->max_ms)
        o->max_ms = stalled_ms;
    if (o->calls == 1 || stalled_ms < o->min_ms)
        o->min_ms = stalled_ms;
    pthread_cond_broadcast(&o->cond);
    while (o->hold)
        pthread_cond_wait(&o->cond, &o->mu);
    pthread_mutex_unlock(&o->mu);
}

static void
observer_setup(void)
{
    pthread_condattr_t attr;

    ck_assert_int_eq(pthread_condattr_init(&attr), 0);
    ck_assert_int_eq(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), 0);
    ck_assert_int_eq(pthread_cond_init(&obs.cond, &attr), 0);
    pthread_condattr_destroy(&attr);
    ck_assert_int_eq(pthread_mutex_init(&obs.mu, NULL), 0);
    obs.calls = 0;
    obs.last_ms = obs.sum_ms = obs.max_ms = obs.min_ms = 0;
    obs.hold = false;
}

static void
observer_teardown(void)
{
    pthread_mutex_destroy(&obs.mu);
    pthread_cond_destroy(&obs.cond);
}

static struct timespec
after_ms(double ms)
{
    struct timespec ts;
    long long ns;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ns = (long long)ts.tv_nsec + (long long)(ms * 1e6);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

/* Waits until on_stall has been called n times or timeout_ms passed;
 * returns the number of calls. */
static int
wait_calls(int n, double timeout_ms)
{
    struct timespec deadline = after_ms(timeout_ms);
    int calls;

    pthread_mutex_lock(&obs.mu);
    while (obs.calls < n &&
           pthread_cond_timedwait(&obs.cond, &obs.mu, &deadline) !=
               ETIMEDOUT)
        ;
    calls = obs.calls;
    pthread_mutex_unlock(&obs.mu);
    return calls;
}

static int
calls_now(void)
{
    int calls;

    pthread_mutex_lock(&obs.mu);
    calls = obs.calls;
    pthread_mutex_unlock(&obs.mu);
    return calls;
}

static void
set_hold(bool hold)
{
    pthread_mutex_lock(&obs.mu);
    obs.hold = hold;
    pthread_cond_broadcast(&obs.cond);
    pthread_mutex_unlock(&obs.mu);
}

static void
sleep_ms(double ms)
{
    struct timespec ts = {
        .tv_sec = (time_t)(ms / 1000),
        .tv_nsec = (long)(fmod(ms, 1000) * 1e6),
    };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The loop at work: n beats, every_ms apart. */
static void
beat_steadily(struct rt_watchdog *wd, int n, double every_ms)
{
    for (int i = 0; i < n; i++) {
        rt_watchdog_beat(wd);
        sleep_ms(every_ms);
    }
    rt_watchdog_beat(wd);
}

/* One stall: stops beating until on_stall has been called for it, then
 * stays stuck for another threshold (no second call may come), and
 * beats again. */
static void
stall_once(struct rt_watchdog *wd, int calls_before)
{
    ck_assert_int_eq(wait_calls(calls_before + 1, GENEROUS_MS),
                     calls_before + 1);
    ck_assert_int_eq(wait_calls(calls_before + 2, THRESHOLD_MS),
                     calls_before + 1);
    rt_watchdog_beat(wd);
}

static struct rt_watchdog *
start(double threshold_ms)
{
    struct rt_watchdog *wd = NULL;

    ck_assert_int_eq(rt_watchdog_start(threshold_ms, on_stall, &obs, &wd),
                     0);
    ck_assert_ptr_nonnull(wd);
    return wd;
}

/* ------------------------------------------------------------------ */
/* Stalls                                                              */
/* ------------------------------------------------------------------ */

/* _i stalls (1, then 2): one call for each, and stats that add up. */
START_TEST(watchdog_reports_each_stall_once)
{
    struct rt_watchdog *wd = start(THRESHOLD_MS);
    struct rt_watchdog_stats stats;
    int n = _i;

    for (int i = 0; i < n; i++) {
        beat_steadily(wd, 10, 5);
        stall_once(wd, i);
    }
    beat_steadily(wd, 10, 5);
    rt_watchdog_stop(wd, &stats);

    ck_assert_int_eq(calls_now(), n);
    ck_assert_uint_eq(stats.stalls, (unsigned)n);
    /* What on_stall was told passed the threshold; each stretch, measured
     * when it ended, is at least that long. */
    ck_assert_double_gt(obs.min_ms, THRESHOLD_MS);
    ck_assert_double_ge(stats.worst_ms, obs.max_ms);
    ck_assert_double_ge(stats.total_ms, obs.sum_ms);
    ck_assert_double_le(stats.worst_ms, stats.total_ms);
    if (n == 1)
        ck_assert_double_eq(stats.total_ms, stats.worst_ms);
}
END_TEST

START_TEST(watchdog_quiet_while_the_loop_beats)
{
    struct rt_watchdog *wd = start(THRESHOLD_MS);
    struct rt_watchdog_stats stats;

    /* Beating at the beat interval itself, as the host does: idle gaps
     * are I plus jitter, never I + T. */
    beat_steadily(wd, 8, rt_watchdog_beat_interval_ms(THRESHOLD_MS));
    rt_watchdog_stop(wd, &stats);

    ck_assert_int_eq(calls_now(), 0);
    ck_assert_uint_eq(stats.stalls, 0);
    ck_assert_double_eq(stats.total_ms, 0);
    ck_assert_double_eq(stats.worst_ms, 0);
}
END_TEST

START_TEST(watchdog_stall_going_on_at_stop_counts)
{
    struct rt_watchdog *wd = start(THRESHOLD_MS);
    struct rt_watchdog_stats stats;

    ck_assert_int_eq(wait_calls(1, GENEROUS_MS), 1);
    rt_watchdog_stop(wd, &stats);

    ck_assert_int_eq(calls_now(), 1);
    ck_assert_uint_eq(stats.stalls, 1);
    ck_assert_double_ge(stats.worst_ms, obs.last_ms);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Stop                                                                */
/* ------------------------------------------------------------------ */

START_TEST(watchdog_stop_is_prompt)
{
    /* The thread sleeps until an hour from now; stop wakes it, or the
     * test times out. */
    struct rt_watchdog *wd = start(3600e3);
    struct rt_watchdog_stats stats;

    rt_watchdog_beat(wd);
    rt_watchdog_stop(wd, &stats);

    ck_assert_int_eq(calls_now(), 0);
    ck_assert_uint_eq(stats.stalls, 0);
}
END_TEST

struct stopper {
    struct rt_watchdog *wd;
    struct rt_watchdog_stats stats;
};

static void *
stop_on_thread(void *arg)
{
    struct stopper *s = arg;

    rt_watchdog_stop(s->wd, &s->stats);
    return NULL;
}

START_TEST(watchdog_stop_waits_for_on_stall)
{
    /* on_stall is held, as when it waits for the GIL; a stop from another
     * thread must wait for it and then join, without a deadlock. */
    struct stopper s = {.wd = start(THRESHOLD_MS)};
    pthread_t t;

    set_hold(true);
    ck_assert_int_eq(wait_calls(1, GENEROUS_MS), 1);
    ck_assert_int_eq(pthread_create(&t, NULL, stop_on_thread, &s), 0);
    set_hold(false);
    ck_assert_int_eq(pthread_join(t, NULL), 0);

    ck_assert_int_eq(calls_now(), 1);
    ck_assert_uint_eq(s.stats.stalls, 1);
}
END_TEST

START_TEST(watchdog_stop_null)
{
    struct rt_watchdog_stats stats = {.stalls = 7};

    rt_watchdog_stop(NULL, &stats);
    ck_assert_uint_eq(stats.stalls, 0);
    rt_watchdog_stop(start(THRESHOLD_MS), NULL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

START_TEST(watchdog_rejects_bad_arguments)
{
    struct rt_watchdog *wd = (struct rt_watchdog *)&obs;

    ck_assert_int_eq(rt_watchdog_start(0, on_stall, &obs, &wd), -EINVAL);
    ck_assert_ptr_null(wd);
    ck_assert_int_eq(rt_watchdog_start(-1, on_stall, &obs, &wd), -EINVAL);
    ck_assert_int_eq(rt_watchdog_start(NAN, on_stall, &obs, &wd), -EINVAL);
    ck_assert_int_eq(rt_watchdog_start(INFINITY, on_stall, &obs, &wd),
                     -EINVAL);
    ck_assert_int_eq(rt_watchdog_start(100, NULL, &obs, &wd), -EINVAL);
    ck_assert_ptr_null(wd);
}
END_TEST

START_TEST(watchdog_beat_interval_is_a_quarter)
{
    ck_assert_double_eq(rt_watchdog_beat_interval_ms(200), 50);
    ck_assert_double_eq(rt_watchdog_beat_interval_ms(100), 25);
}
END_TEST

static Suite *
watchdog_suite(void)
{
    Suite *s = suite_create("watchdog");
    TCase *tc;

    tc = tcase_create("stalls");
    tcase_add_checked_fixture(tc, observer_setup, observer_teardown);
    /* A few seconds of deliberate stalls per test; a busy machine may
     * need more than Check's default of 4 s. */
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, watchdog_reports_each_stall_once, 1, 3);
    tcase_add_test(tc, watchdog_quiet_while_the_loop_beats);
    tcase_add_test(tc, watchdog_stall_going_on_at_stop_counts);
    suite_add_tcase(s, tc);

    tc = tcase_create("stop");
    tcase_add_checked_fixture(tc, observer_setup, observer_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, watchdog_stop_is_prompt);
    tcase_add_test(tc, watchdog_stop_waits_for_on_stall);
    tcase_add_test(tc, watchdog_stop_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("arguments");
    tcase_add_checked_fixture(tc, observer_setup, observer_teardown);
    tcase_add_test(tc, watchdog_rejects_bad_arguments);
    tcase_add_test(tc, watchdog_beat_interval_is_a_quarter);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(watchdog_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
