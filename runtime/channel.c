/* The completion channel: a mutex-protected FIFO of finished jobs, linked
 * through job->next, and an eventfd that tells the loop there is
 * something to drain.
 *
 * The invariant, at every point where the lock is free: the eventfd is
 * readable exactly when the list is not empty.  rt_channel_post writes the
 * eventfd only on the empty -> not empty transition, and rt_channel_drain
 * reads it while it empties the list, both under the lock.  So a burst of
 * posts costs one write and one wake-up of the loop (libuv's uv_async_send
 * coalesces the same way with a pending flag), and a drain never leaves a
 * stale wake-up behind.  The write happens under the lock to keep that
 * invariant exact; it is one syscall per batch, not per post.
 *
 * Plain C: no Python.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "channel.h"

struct rt_channel {
    pthread_mutex_t lock;
    struct rt_job *head; /* oldest */
    struct rt_job *tail; /* newest; meaningless when head is NULL */
    int fd;
    struct rt_channel_stats stats;
};

int
rt_channel_new(struct rt_channel **out)
{
    struct rt_channel *ch = NULL;
    int r;

    *out = NULL;
    ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return -ENOMEM;
    ch->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ch->fd < 0) {
        r = -errno;
        goto error;
    }
    r = -pthread_mutex_init(&ch->lock, NULL);
    if (r < 0)
        goto error;
    *out = ch;
    return 0;

error:
    if (ch->fd >= 0)
        close(ch->fd);
    free(ch);
    return r;
}

int
rt_channel_fd(struct rt_channel *ch)
{
    return ch->fd;
}

/* Adds one to the eventfd's counter.  The counter is 0 here (the list was
 * empty, so the last drain read it), so EAGAIN, which needs a counter near
 * 2^64, cannot happen; EINTR is retried.  Nothing else can fail on a valid
 * eventfd, and post has no way to report it anyway. */
static void
signal_fd(int fd)
{
    uint64_t one = 1;
    ssize_t n;

    do {
        n = write(fd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
}

/* Resets the eventfd's counter to 0.  EAGAIN (already 0) is fine. */
static void
clear_fd(int fd)
{
    uint64_t value;
    ssize_t n;

    do {
        n = read(fd, &value, sizeof(value));
    } while (n < 0 && errno == EINTR);
}

void
rt_channel_post(struct rt_channel *ch, struct rt_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&ch->lock);
    ch->stats.posted++;
    if (ch->head == NULL) {
        ch->head = job;
        ch->stats.wakeups++;
        signal_fd(ch->fd);
    } else {
        ch->tail->next = job;
    }
    ch->tail = job;
    pthread_mutex_unlock(&ch->lock);
}

struct rt_job *
rt_channel_drain(struct rt_channel *ch)
{
    struct rt_job *list;

    pthread_mutex_lock(&ch->lock);
    ch->stats.drains++;
    list = ch->head;
    /* An empty list means the counter is already 0: no syscall. */
    if (list != NULL) {
        clear_fd(ch->fd);
        ch->head = NULL;
        ch->tail = NULL;
    }
    pthread_mutex_unlock(&ch->lock);
    return list;
}

struct rt_job *
rt_channel_drain_some(struct rt_channel *ch, size_t max)
{
    struct rt_job *list, *last;
    size_t n;

    pthread_mutex_lock(&ch->lock);
    ch->stats.drains++;
    list = last = ch->head;
    if (list == NULL) {
        pthread_mutex_unlock(&ch->lock);
        return NULL;
    }
    for (n = 1; n < max && last->next != NULL; n++)
        last = last->next;
    ch->head = last->next;
    last->next = NULL;
    /* Readable exactly while the list is not empty. */
    if (ch->head == NULL) {
        clear_fd(ch->fd);
        ch->tail = NULL;
    }
    pthread_mutex_unlock(&ch->lock);
    return list;
}

void
rt_channel_get_stats(struct rt_channel *ch, struct rt_channel_stats *out)
{
    pthread_mutex_lock(&ch->lock);
    *out = ch->stats;
    pthread_mutex_unlock(&ch->lock);
}

void
rt_channel_free(struct rt_channel *ch)
{
    if (ch == NULL)
        return;
    close(ch->fd);
    pthread_mutex_destroy(&ch->lock);
    free(ch);
}
