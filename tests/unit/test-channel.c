/* Check suite for runtime/channel.c: the completion channel's FIFO, its
 * coalesced eventfd wake-ups, and posts from several threads. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "channel.h"

/* How long a test waits for the fd before it fails: generous, since it
 * only turns a hang into a failure. */
#define POLL_TIMEOUT_MS 10000

/* A job that knows its place: who posted it and in which order. */
struct seq_job {
    struct rt_job job;
    unsigned poster;
    unsigned seq;
};

static bool
fd_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);

    ck_assert_int_ge(n, 0);
    return n == 1 && (p.revents & POLLIN);
}

START_TEST(channel_new_fd_is_nonblocking_cloexec)
{
    struct rt_channel *ch;
    int fd;

    ck_assert_int_eq(rt_channel_new(&ch), 0);
    fd = rt_channel_fd(ch);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    rt_channel_free(ch);
}
END_TEST

START_TEST(channel_drain_empty_returns_null)
{
    struct rt_channel *ch;
    struct rt_channel_stats st;

    ck_assert_int_eq(rt_channel_new(&ch), 0);
    ck_assert_ptr_null(rt_channel_drain(ch));
    ck_assert(!fd_readable(rt_channel_fd(ch), 0));
    rt_channel_get_stats(ch, &st);
    ck_assert_uint_eq(st.posted, 0);
    ck_assert_uint_eq(st.wakeups, 0);
    ck_assert_uint_eq(st.drains, 1);
    rt_channel_free(ch);
}
END_TEST

START_TEST(channel_coalesces_wakeups)
{
    enum { N = 1000 };
    struct seq_job *jobs = calloc(N, sizeof(*jobs));
    struct rt_channel *ch;
    struct rt_channel_stats st;
    struct rt_job *list;
    unsigned i;

    ck_assert_ptr_nonnull(jobs);
    ck_assert_int_eq(rt_channel_new(&ch), 0);
    for (i = 0; i < N; i++) {
        jobs[i].seq = i;
        rt_channel_post(ch, &jobs[i].job);
    }
    rt_channel_get_stats(ch, &st);
    ck_assert_uint_eq(st.posted, N);
    ck_assert_uint_eq(st.wakeups, 1);

    /* One drain takes all of them, oldest first. */
    list = rt_channel_drain(ch);
    for (i = 0; i < N; i++) {
        ck_assert_ptr_eq(list, &jobs[i].job);
        list = list->next;
    }
    ck_assert_ptr_null(list);
    ck_assert_ptr_null(rt_channel_drain(ch));

    /* The next post after a drain wakes the loop again. */
    rt_channel_post(ch, &jobs[0].job);
    rt_channel_get_stats(ch, &st);
    ck_assert_uint_eq(st.posted, N + 1);
    ck_assert_uint_eq(st.wakeups, 2);
    list = rt_channel_drain(ch);
    ck_assert_ptr_eq(list, &jobs[0].job);
    ck_assert_ptr_null(list->next);
    rt_channel_get_stats(ch, &st);
    ck_assert_uint_eq(st.drains, 3);

    rt_channel_free(ch);
    free(jobs);
}
END_TEST

START_TEST(channel_fd_readable_after_post_until_drain)
{
    struct rt_channel *ch;
    struct rt_job a = {0}, b = {0};
    int fd;

    ck_assert_int_eq(rt_channel_new(&ch), 0);
    fd = rt_channel_fd(ch);
    ck_assert(!fd_readable(fd, 0));
    rt_channel_post(ch, &a);
    ck_assert(fd_readable(fd, POLL_TIMEOUT_MS));
    /* A second post keeps it readable, and a drain clears it for both. */
    rt_channel_post(ch, &b);
    ck_assert(fd_readable(fd, 0));
    ck_assert_ptr_eq(rt_channel_drain(ch), &a);
    ck_assert(!fd_readable(fd, 0));
    /* And it becomes readable again with the next post. */
    rt_channel_post(ch, &a);
    ck_assert(fd_readable(fd, POLL_TIMEOUT_MS));
    ck_assert_ptr_eq(rt_channel_drain(ch), &a);
    ck_assert(!fd_readable(fd, 0));
    rt_channel_free(ch);
}
END_TEST

/* A bounded drain takes the oldest jobs, at most max of them, and leaves
 * the fd readable while any are left, so that the loop comes back for
 * them on its next turn instead of running every finished job in one
 * callback. */
START_TEST(channel_drain_some_takes_at_most_max)
{
    struct rt_channel *ch;
    struct rt_job j[5] = {{0}};
    struct rt_job *list;
    int fd;

    ck_assert_int_eq(rt_channel_new(&ch), 0);
    fd = rt_channel_fd(ch);
    ck_assert_ptr_null(rt_channel_drain_some(ch, 2));
    for (int i = 0; i < 5; i++)
        rt_channel_post(ch, &j[i]);

    list = rt_channel_drain_some(ch, 2);
    ck_assert_ptr_eq(list, &j[0]);
    ck_assert_ptr_eq(list->next, &j[1]);
    ck_assert_ptr_null(j[1].next);
    ck_assert(fd_readable(fd, 0));

    list = rt_channel_drain_some(ch, 2);
    ck_assert_ptr_eq(list, &j[2]);
    ck_assert_ptr_eq(list->next, &j[3]);
    ck_assert_ptr_null(j[3].next);
    ck_assert(fd_readable(fd, 0));

    /* The last one: fewer than max, and the fd is clear. */
    list = rt_channel_drain_some(ch, 2);
    ck_assert_ptr_eq(list, &j[4]);
    ck_assert_ptr_null(j[4].next);
    ck_assert(!fd_readable(fd, 0));

    /* A post after that wakes the loop again, and is the next taken. */
    rt_channel_post(ch, &j[0]);
    ck_assert(fd_readable(fd, POLL_TIMEOUT_MS));
    ck_assert_ptr_eq(rt_channel_drain_some(ch, 1), &j[0]);
    ck_assert(!fd_readable(fd, 0));
    rt_channel_free(ch);
}
END_TEST

/* Several posters at once; the main thread drains as the loop does. */

enum { POSTERS = 4 };

struct poster {
    pthread_t thread;
    struct rt_channel *ch;
    struct seq_job *jobs;
    unsigned n;
};

static void *
poster_main(void *arg)
{
    struct poster *p = arg;
    unsigned i;

    for (i = 0; i < p->n; i++)
        rt_channel_post(p->ch, &p->jobs[i].job);
    return NULL;
}

START_TEST(channel_posts_from_threads_arrive_once)
{
    /* Fewer under valgrind, which runs one thread at a time. */
    unsigned per = getenv("USING_VALGRIND") != NULL ? 2000 : 25000;
    struct poster posters[POSTERS];
    unsigned next_seq[POSTERS] = {0};
    unsigned char *seen[POSTERS];
    struct rt_channel *ch;
    struct rt_channel_stats st;
    unsigned long long total = 0, drains = 0, batches = 0;
    unsigned p, i;

    ck_assert_int_eq(rt_channel_new(&ch), 0);
    for (p = 0; p < POSTERS; p++) {
        posters[p].ch = ch;
        posters[p].n = per;
        posters[p].jobs = calloc(per, sizeof(struct seq_job));
        seen[p] = calloc(per, 1);
        ck_assert_ptr_nonnull(posters[p].jobs);
        ck_assert_ptr_nonnull(seen[p]);
        for (i = 0; i < per; i++) {
            posters[p].jobs[i].poster = p;
            posters[p].jobs[i].seq = i;
        }
    }
    for (p = 0; p < POSTERS; p++)
        ck_assert_int_eq(
            pthread_create(&posters[p].thread, NULL, poster_main, &posters[p]),
            0);

    while (total < (unsigned long long)per * POSTERS) {
        struct rt_job *list = rt_channel_drain(ch);

        drains++;
        if (list == NULL) {
            ck_assert(fd_readable(rt_channel_fd(ch), POLL_TIMEOUT_MS));
            continue;
        }
        batches++;
        while (list != NULL) {
            struct seq_job *j = rt_container_of(list, struct seq_job, job);

            list = list->next;
            /* Each poster's jobs arrive in its own order. */
            ck_assert_uint_eq(j->seq, next_seq[j->poster]);
            next_seq[j->poster]++;
            ck_assert_uint_eq(seen[j->poster][j->seq], 0);
            seen[j->poster][j->seq] = 1;
            total++;
        }
    }
    for (p = 0; p < POSTERS; p++)
        pthread_join(posters[p].thread, NULL);

    ck_assert_ptr_null(rt_channel_drain(ch));
    drains++;
    ck_assert(!fd_readable(rt_channel_fd(ch), 0));
    for (p = 0; p < POSTERS; p++) {
        ck_assert_uint_eq(next_seq[p], per);
        for (i = 0; i < per; i++)
            ck_assert_uint_eq(seen[p][i], 1);
    }
    rt_channel_get_stats(ch, &st);
    ck_assert_uint_eq(st.posted, (unsigned long long)per * POSTERS);
    ck_assert_uint_eq(st.drains, drains);
    /* Coalescing: one wake-up per batch, whatever its size. */
    ck_assert_uint_eq(st.wakeups, batches);

    for (p = 0; p < POSTERS; p++) {
        free(posters[p].jobs);
        free(seen[p]);
    }
    rt_channel_free(ch);
}
END_TEST

static Suite *
channel_suite(void)
{
    Suite *s = suite_create("channel");
    TCase *tc;

    tc = tcase_create("fifo");
    tcase_add_test(tc, channel_new_fd_is_nonblocking_cloexec);
    tcase_add_test(tc, channel_drain_empty_returns_null);
    tcase_add_test(tc, channel_coalesces_wakeups);
    tcase_add_test(tc, channel_fd_readable_after_post_until_drain);
    tcase_add_test(tc, channel_drain_some_takes_at_most_max);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_test(tc, channel_posts_from_threads_arrive_once);
    /* A deadline for a hang, not a timing goal. */
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(channel_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
