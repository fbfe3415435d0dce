/* The native subprocess runner: starts a process with posix_spawn, feeds
 * its stdin, drains stdout and stderr without deadlock, waits, and kills
 * its whole process group on timeout or cancel.
 *
 * Plain C: no Python.h.  Blocking: it runs on a pool thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Which stream a line came from. */
enum { RT_STDOUT = 1, RT_STDERR = 2 };

struct rt_spawn_opts {
    char *const *argv;  /* argv[0] is looked up on PATH (or envp's PATH) */
    char *const *envp;  /* NULL: inherit the caller's environment */
    const char *cwd;    /* NULL: inherit */
    const void *input;  /* bytes for stdin; NULL: stdin is /dev/null */
    size_t input_len;
    double timeout;     /* seconds; <= 0: none */
    double kill_grace;  /* seconds between SIGTERM and SIGKILL; <= 0: 2 s */
    /* Called on the runner's thread for each complete line (and a last
     * partial one), without the newline.  May be NULL. */
    void (*on_line)(void *ctx, int stream, const char *line, size_t len);
    void *ctx;
    /* When >= 0, an fd the runner also polls: once it is readable (an
     * eventfd written by rt_spawn_cancel's caller), the process group is
     * killed as on timeout, and the result says cancelled. */
    int cancel_fd;
};

struct rt_spawn_result {
    int exit_code;    /* when it exited; -1 otherwise */
    int signal;       /* the signal that ended it; 0 otherwise */
    char *out;        /* all of stdout (malloc'd, NUL-terminated) */
    size_t out_len;
    char *err;        /* all of stderr */
    size_t err_len;
    double duration;  /* seconds from spawn to reaped */
    bool timed_out;
    bool cancelled;
    int pid;
};

/* Runs one process to the end.  Returns 0 when it ran (whatever its exit
 * status), or a negative errno when it could not start: -ENOENT for a
 * missing executable, -EACCES, and so on.  The child is the leader of its
 * own process group, gets only fds 0-2, and stdin is /dev/null unless
 * input is given.  On timeout or cancel the group gets SIGTERM, then
 * SIGKILL after kill_grace, and its descendants die with it.
 * Thread: pool; GIL: not held; no Python API. */
int
rt_spawn_run(const struct rt_spawn_opts *opts, struct rt_spawn_result *res);

/* Frees what a result holds.
 * Thread: any; GIL: any; no Python API. */
void
rt_spawn_result_clear(struct rt_spawn_result *res);
