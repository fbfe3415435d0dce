/* Benchmark of the pool's handoff: what a job costs from submit to the
 * loop thread's drain, with the idle workers' spin (RT_POOL_SPIN_NS in
 * runtime/pool.c) at the value this executable was built with.
 *
 * meson builds it twice, as bench-pool (the default spin) and
 * bench-pool-nospin (-DRT_POOL_SPIN_NS=0); `meson test -C build --benchmark
 * -v` runs both.  Timing lives here, never in the Check suites.
 *
 *   ping-pong: one job in flight.  The main thread (the loop) submits,
 *   waits in poll() on the channel's eventfd, drains, optionally works for
 *   a while without the pool ("think", the Python code between two
 *   offloads), and submits the next.  Reports the median and mean round
 *   trip.
 *
 *   burst: one submitter queues many empty jobs while a drain thread
 *   empties the channel.  Reports jobs per second and the process's CPU
 *   time per job, which is what spinning costs.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "pool.h"

#ifdef RT_POOL_SPIN_NS
#define STR(x) #x
#define XSTR(x) STR(x)
#define SPIN_NAME XSTR(RT_POOL_SPIN_NS) " ns"
#else
#define SPIN_NAME "the default of runtime/pool.c"
#endif

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double
cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

/* Pins the calling thread to one CPU, when there are at least two: the
 * ping-pong puts the loop on CPU 0 and the worker on CPU 1, so that every
 * wake-up it measures is one from the other core (what the spin is meant
 * to save), not a lucky one on the same core. */
static void
pin_to(int cpu)
{
    cpu_set_t set;

    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void
pin_worker(void *ctx)
{
    (void)ctx;
    pin_to(1);
}

static void
nothing(struct rt_job *job)
{
    (void)job;
}

static void
busy_for(double us)
{
    double end = now_us() + us;

    while (now_us() < end)
        ;
}

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void
wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

static void
ping_pong(struct rt_pool *pool, struct rt_channel *ch, double think_us,
          int rounds)
{
    struct rt_job job = {.work = nothing, .channel = ch};
    double *samples = malloc(rounds * sizeof(*samples));
    double total = 0;
    int i;

    for (i = -rounds / 10; i < rounds; i++) {
        double t0;

        busy_for(think_us);
        t0 = now_us();
        job.state = 0;
        rt_pool_submit(pool, &job);
        while (rt_channel_drain(ch) == NULL)
            wait_readable(rt_channel_fd(ch));
        if (i >= 0) {
            samples[i] = now_us() - t0;
            total += samples[i];
        }
    }
    qsort(samples, rounds, sizeof(*samples), compare_double);
    printf("ping-pong think %5.0f us: median %6.1f us, mean %6.1f us\n",
           think_us, samples[rounds / 2], total / rounds);
    free(samples);
}

struct burst {
    struct rt_channel *ch;
    long expected;
};

static void *
drain_main(void *arg)
{
    struct burst *b = arg;
    long seen = 0;

    while (seen < b->expected) {
        struct rt_job *job = rt_channel_drain(b->ch);

        if (job == NULL)
            wait_readable(rt_channel_fd(b->ch));
        for (; job != NULL; job = job->next)
            seen++;
    }
    return NULL;
}

static void
burst(unsigned nthreads, long n)
{
    struct rt_pool *pool;
    struct rt_channel *ch;
    struct rt_job *jobs = calloc(n, sizeof(*jobs));
    struct burst b;
    pthread_t drainer;
    double t0, c0, wall, cpu;
    long i;

    rt_channel_new(&ch);
    rt_pool_new(nthreads, 0, NULL, &pool);
    b.ch = ch;
    b.expected = n;
    pthread_create(&drainer, NULL, drain_main, &b);
    t0 = now_us();
    c0 = cpu_us();
    for (i = 0; i < n; i++) {
        jobs[i].work = nothing;
        jobs[i].channel = ch;
        rt_pool_submit(pool, &jobs[i]);
    }
    pthread_join(drainer, NULL);
    wall = now_us() - t0;
    cpu = cpu_us() - c0;
    rt_pool_stop(pool);
    rt_pool_join(pool);
    rt_pool_free(pool);
    rt_channel_free(ch);
    free(jobs);
    printf("burst %u threads: %8.0f jobs/s, %.2f us CPU per job\n", nthreads,
           n / (wall / 1e6), cpu / n);
}

int
main(void)
{
    static const double thinks[] = {0, 10, 30, 100, 1000};
    struct rt_pool *pool;
    struct rt_channel *ch;
    const struct rt_pool_hooks pinned = {.thread_start = pin_worker};
    cpu_set_t all;
    size_t i;

    printf("idle spin as built: %s\n", SPIN_NAME);
    sched_getaffinity(0, sizeof(all), &all);
    rt_channel_new(&ch);
    pin_to(0);
    for (i = 0; i < sizeof(thinks) / sizeof(thinks[0]); i++) {
        rt_pool_new(1, 0, &pinned, &pool);
        ping_pong(pool, ch, thinks[i], thinks[i] >= 1000 ? 2000 : 20000);
        rt_pool_stop(pool);
        rt_pool_join(pool);
        rt_pool_free(pool);
    }
    rt_channel_free(ch);
    pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
    burst(1, 1000000);
    burst(2, 1000000);
    burst(4, 1000000);
    return 0;
}
