/* Check suite for runtime/spawn.c: real processes (sh, cat, sleep, head,
 * tee) started, fed, drained, killed and reaped.
 *
 * No test measures time.  A timeout is behaviour here ("timed_out is
 * true"), and every run has a generous one (BOUND) so that a runner bug
 * fails its test instead of hanging the suite.  A test that must act
 * while the child runs waits for a line from it (on_line) rather than for
 * a while. */
#define _GNU_SOURCE /* strndup, pthread_sigmask */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"
#include "unit.h"

/* The timeout of every run that is not about timeouts: long enough that
 * only a hang reaches it. */
#define BOUND 20.0

#define TEN_MIB 10485760

#define MAX_LINES 16

/* A line as on_line reported it. */
struct line {
    int stream;
    size_t len;
    char *text;
};

static struct rt_spawn_opts opts;
static struct rt_spawn_result res;
static struct line lines[MAX_LINES];
static int nlines;
static int cancel_fd = -1;
static int extra_fd = -1;
static sigset_t saved_mask;
static struct sigaction saved_term, saved_pipe;

/* What on_line does besides recording the line, for the tests that act
 * while the child runs. */
static enum {
    ON_LINE_RECORD,
    ON_LINE_CANCEL,     /* write cancel_fd */
    ON_LINE_POST,       /* post `started` for a thread */
    ON_LINE_LIST_FDS,   /* list the child's fds, then cancel */
    ON_LINE_NOTE_START, /* note the start time of the pid, then cancel */
} on_line_action;
static sem_t started;
static char child_fds[256];
static unsigned long long noted_start;

static void record_line(void *ctx, int stream, const char *line, size_t len);

static void
spawn_setup(void)
{
    tmp_setup();
    memset(&opts, 0, sizeof(opts));
    opts.cancel_fd = -1;
    opts.timeout = BOUND;
    memset(&res, 0, sizeof(res));
    nlines = 0;
    on_line_action = ON_LINE_RECORD;
    child_fds[0] = '\0';
    noted_start = 0;
    ck_assert_int_eq(sem_init(&started, 0, 0), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &saved_mask), 0);
    ck_assert_int_eq(sigaction(SIGTERM, NULL, &saved_term), 0);
    ck_assert_int_eq(sigaction(SIGPIPE, NULL, &saved_pipe), 0);
}

static void
spawn_teardown(void)
{
    rt_spawn_result_clear(&res);
    for (int i = 0; i < nlines; i++)
        free(lines[i].text);
    nlines = 0;
    if (cancel_fd >= 0) {
        close(cancel_fd);
        cancel_fd = -1;
    }
    if (extra_fd >= 0) {
        close(extra_fd);
        extra_fd = -1;
    }
    sem_destroy(&started);
    unsetenv("OUTRUN_SPAWN_TEST");
    sigaction(SIGTERM, &saved_term, NULL);
    sigaction(SIGPIPE, &saved_pipe, NULL);
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
    tmp_teardown();
}

static int
run(char *const *argv)
{
    opts.argv = argv;
    return rt_spawn_run(&opts, &res);
}

/* Watches a fresh eventfd; the tests write it from on_line, once the
 * child has said it runs. */
static void
watch_cancel(void)
{
    opts.on_line = record_line;
    cancel_fd = eventfd(0, EFD_CLOEXEC);
    ck_assert_int_ge(cancel_fd, 0);
    opts.cancel_fd = cancel_fd;
}

static void
cancel_now(void)
{
    uint64_t one = 1;

    ck_assert_int_eq(write(cancel_fd, &one, sizeof(one)), sizeof(one));
}

/* Appends the names in /proc/PID/fd to child_fds, sorted by number as
 * "0 1 2 ". */
static void
list_fds(const char *pid_text)
{
    char path[64];
    bool seen[64] = {false};
    struct dirent *d;
    DIR *dir;

    snprintf(path, sizeof(path), "/proc/%s/fd", pid_text);
    dir = opendir(path);
    ck_assert_msg(dir != NULL, "opendir %s: %s", path, strerror(errno));
    while ((d = readdir(dir)) != NULL) {
        int fd = atoi(d->d_name);

        if (d->d_name[0] == '.')
            continue;
        if (fd >= 0 && fd < 64)
            seen[fd] = true;
        else
            strcat(child_fds, "high ");
    }
    closedir(dir);
    for (int fd = 0; fd < 64; fd++) {
        char link[64], target[96];
        ssize_t n;

        if (!seen[fd])
            continue;
        snprintf(child_fds + strlen(child_fds),
                 sizeof(child_fds) - strlen(child_fds), "%d ", fd);
        if (fd < 3)
            continue;
        /* What a leaked fd is, for the failure message. */
        snprintf(link, sizeof(link), "/proc/%s/fd/%d", pid_text, fd);
        n = readlink(link, target, sizeof(target) - 1);
        target[n < 0 ? 0 : n] = '\0';
        snprintf(child_fds + strlen(child_fds),
                 sizeof(child_fds) - strlen(child_fds), "(%s) ", target);
    }
}

/* Reads the state and the start time (in clock ticks since boot) of
 * process pid from /proc/PID/stat.  Returns false when there is no such
 * process. */
static bool
read_stat(long pid, char *state, unsigned long long *start)
{
    char path[64], buf[1024];
    char *paren;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        ck_assert_int_eq(errno, ENOENT);
        return false;
    }
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    /* "pid (comm) state ppid ... starttime" with starttime the 22nd
     * field; comm may hold spaces and parentheses. */
    paren = strrchr(buf, ')');
    ck_assert_ptr_nonnull(paren);
    ck_assert_int_eq(sscanf(paren + 1,
                            " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%*u %*u %*d %*d %*d %*d %*d %*d %llu",
                            state, start),
                     2);
    return true;
}

static void
note_start(const char *pid_text)
{
    char state;

    ck_assert(read_stat(atol(pid_text), &state, &noted_start));
}

/* Asserts that the process pid, started at noted_start, is gone: no
 * /proc entry, a zombie that waits for init to reap it, or a number now
 * reused by a process started later.  It was killed before this is
 * called, so the wait is bounded by the kernel's delivery of SIGKILL or
 * SIGTERM to a sleep, not by anything the process does. */
static void
assert_gone(long pid)
{
    for (int tries = 0; tries < 1000; tries++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        unsigned long long start;
        char state;

        if (!read_stat(pid, &state, &start) || state == 'Z' ||
            start != noted_start)
            return;
        nanosleep(&pause, NULL);
    }
    ck_abort_msg("process %ld is still alive", pid);
}

static void
record_line(void *ctx, int stream, const char *line, size_t len)
{
    ck_assert_int_lt(nlines, MAX_LINES);
    lines[nlines].stream = stream;
    lines[nlines].len = len;
    lines[nlines].text = strndup(line, len);
    ck_assert_ptr_nonnull(lines[nlines].text);
    nlines++;

    switch (on_line_action) {
    case ON_LINE_RECORD:
        break;
    case ON_LINE_CANCEL:
        cancel_now();
        break;
    case ON_LINE_POST:
        sem_post(&started);
        break;
    case ON_LINE_LIST_FDS:
        list_fds(lines[nlines - 1].text);
        cancel_now();
        break;
    case ON_LINE_NOTE_START:
        note_start(lines[nlines - 1].text);
        cancel_now();
        break;
    }
    on_line_action = ON_LINE_RECORD;
}

/* ------------------------------------------------------------------ */
/* Exit status                                                         */
/* ------------------------------------------------------------------ */

START_TEST(spawn_exit_zero)
{
    ck_assert_int_eq(run((char *[]){"true", NULL}), 0);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_int_eq(res.signal, 0);
    ck_assert(!res.timed_out);
    ck_assert(!res.cancelled);
    ck_assert_int_gt(res.pid, 0);
    ck_assert_ptr_nonnull(res.out);
    ck_assert_ptr_nonnull(res.err);
    ck_assert_str_eq(res.out, "");
    ck_assert_uint_eq(res.out_len, 0);
    ck_assert_uint_eq(res.err_len, 0);
    ck_assert(res.duration >= 0);
}
END_TEST

START_TEST(spawn_exit_code)
{
    ck_assert_int_eq(run((char *[]){"sh", "-c",
                                    "echo out; echo err >&2; "
                                    "exit 3",
                                    NULL}),
                     0);
    ck_assert_int_eq(res.exit_code, 3);
    ck_assert_int_eq(res.signal, 0);
    ck_assert_str_eq(res.out, "out\n");
    ck_assert_str_eq(res.err, "err\n");
}
END_TEST

START_TEST(spawn_killed_by_signal)
{
    ck_assert_int_eq(run((char *[]){"sh", "-c", "kill -TERM $$", NULL}), 0);
    ck_assert_int_eq(res.signal, SIGTERM);
    ck_assert_int_eq(res.exit_code, -1);
    ck_assert(!res.timed_out);
    ck_assert(!res.cancelled);
}
END_TEST

START_TEST(spawn_sigpipe_default)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};

    /* CPython ignores SIGPIPE in the host; the child must not inherit
     * that, or `producer | head` would never stop. */
    ck_assert_int_eq(sigaction(SIGPIPE, &ign, NULL), 0);
    ck_assert_int_eq(run((char *[]){"sh", "-c", "kill -PIPE $$", NULL}), 0);
    ck_assert_int_eq(res.signal, SIGPIPE);
}
END_TEST

START_TEST(spawn_signal_mask_cleared)
{
    sigset_t term;

    /* A pool thread may block signals; its children must not.  (A shell
     * may unblock them itself, so the child reads its own mask.) */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &term, NULL), 0);
    ck_assert_int_eq(
        run((char *[]){"grep", "SigBlk", "/proc/self/status", NULL}), 0);
    ck_assert_str_eq(res.out, "SigBlk:\t0000000000000000\n");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Timeout and cancel                                                  */
/* ------------------------------------------------------------------ */

START_TEST(spawn_timeout)
{
    opts.timeout = 0.2;
    ck_assert_int_eq(run((char *[]){"sleep", "100", NULL}), 0);
    ck_assert(res.timed_out);
    ck_assert(!res.cancelled);
    ck_assert_int_eq(res.signal, SIGTERM);
    ck_assert_int_eq(res.exit_code, -1);
}
END_TEST

START_TEST(spawn_timeout_term_ignored)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};

    /* An ignored disposition survives exec, so sleep ignores SIGTERM from
     * its first instruction: no race with a trap being set. */
    ck_assert_int_eq(sigaction(SIGTERM, &ign, NULL), 0);
    opts.timeout = 0.2;
    opts.kill_grace = 0.2;
    ck_assert_int_eq(run((char *[]){"sleep", "100", NULL}), 0);
    ck_assert(res.timed_out);
    ck_assert_int_eq(res.signal, SIGKILL);
}
END_TEST

static void *
cancel_when_started(void *arg)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    if (sem_timedwait(&started, &until) == 0)
        cancel_now();
    return NULL;
}

START_TEST(spawn_cancel)
{
    pthread_t thread;

    watch_cancel();
    on_line_action = ON_LINE_POST;
    ck_assert_int_eq(pthread_create(&thread, NULL, cancel_when_started, NULL),
                     0);
    ck_assert_int_eq(
        run((char *[]){"sh", "-c", "echo started; exec sleep 100", NULL}), 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert(res.cancelled);
    ck_assert(!res.timed_out);
    ck_assert_int_eq(res.signal, SIGTERM);
    ck_assert_str_eq(res.out, "started\n");
}
END_TEST

START_TEST(spawn_cancel_term_trapped)
{
    watch_cancel();
    on_line_action = ON_LINE_CANCEL;
    opts.kill_grace = 0.2;
    ck_assert_int_eq(
        run((char *[]){"sh", "-c", "trap '' TERM; echo ready; sleep 100",
                       NULL}),
        0);
    ck_assert(res.cancelled);
    ck_assert_int_eq(res.signal, SIGKILL);
}
END_TEST

/* Runs `sh -c script`, where script prints the pid of a process it
 * started in the background; cancels the run as soon as that line is
 * there, after noting the process's start time.  Returns the pid. */
static long
run_cancelled_on_pid(const char *script)
{
    long pid;

    watch_cancel();
    on_line_action = ON_LINE_NOTE_START;
    ck_assert_int_eq(run((char *[]){"sh", "-c", (char *)script, NULL}), 0);
    ck_assert(res.cancelled);
    ck_assert_int_eq(sscanf(res.out, "%ld", &pid), 1);
    return pid;
}

START_TEST(spawn_grandchild_killed)
{
    assert_gone(run_cancelled_on_pid("sleep 100 & echo $!; wait"));
}
END_TEST

START_TEST(spawn_grandchild_ignoring_term_killed)
{
    long grandchild;

    opts.kill_grace = 0.2;
    grandchild =
        run_cancelled_on_pid("trap '' TERM; sleep 100 & echo $!; wait");
    ck_assert_int_eq(res.signal, SIGKILL);
    assert_gone(grandchild);
}
END_TEST

START_TEST(spawn_escaped_process_does_not_hang)
{
    long escaped;
    unsigned long long start;
    char state;
    bool alive;

    /* setsid takes the sleep out of the group, with the pipes: after
     * SIGKILL to the group the runner stops waiting for their EOF.  The
     * line comes from inside the new session, so the cancel cannot catch
     * it still in the group. */
    opts.kill_grace = 0.2;
    escaped =
        run_cancelled_on_pid("setsid sh -c 'echo $$; exec sleep 100' & wait");
    /* It did escape (or the test proves nothing); now it goes too. */
    alive = read_stat(escaped, &state, &start) && start == noted_start &&
            state != 'Z';
    if (alive)
        kill((pid_t)escaped, SIGKILL);
    ck_assert(alive);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Pipes                                                               */
/* ------------------------------------------------------------------ */

START_TEST(spawn_large_output_both_streams)
{
    /* Both at once: a runner that drained one stream to EOF before the
     * other would deadlock on the full pipe of the other. */
    ck_assert_int_eq(run((char *[]){"sh", "-c",
                                    "head -c 10485760 /dev/zero & "
                                    "head -c 10485760 /dev/zero >&2; wait",
                                    NULL}),
                     0);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert(!res.timed_out);
    ck_assert_uint_eq(res.out_len, TEN_MIB);
    ck_assert_uint_eq(res.err_len, TEN_MIB);
    for (size_t i = 0; i < TEN_MIB; i++) {
        if (res.out[i] != 0 || res.err[i] != 0)
            ck_abort_msg("byte %zu is not zero", i);
    }
    ck_assert_int_eq(res.out[TEN_MIB], '\0');
}
END_TEST

START_TEST(spawn_input)
{
    opts.input = "hello\n";
    opts.input_len = 6;
    ck_assert_int_eq(run((char *[]){"cat", NULL}), 0);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_str_eq(res.out, "hello\n");
}
END_TEST

START_TEST(spawn_input_empty)
{
    opts.input = "";
    opts.input_len = 0;
    ck_assert_int_eq(run((char *[]){"cat", NULL}), 0);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_uint_eq(res.out_len, 0);
}
END_TEST

START_TEST(spawn_input_through_both_streams)
{
    size_t len = 4 * 1024 * 1024;
    char *input = malloc(len);

    /* stdin, stdout and stderr all busy at once, in a pattern that shows
     * a lost or reordered chunk. */
    ck_assert_ptr_nonnull(input);
    for (size_t i = 0; i < len; i++)
        input[i] = (char)(i % 251);
    opts.input = input;
    opts.input_len = len;
    ck_assert_int_eq(run((char *[]){"tee", "/dev/stderr", NULL}), 0);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_uint_eq(res.out_len, len);
    ck_assert_uint_eq(res.err_len, len);
    ck_assert(memcmp(res.out, input, len) == 0);
    ck_assert(memcmp(res.err, input, len) == 0);
    free(input);
}
END_TEST

START_TEST(spawn_input_not_read)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    size_t len = 1024 * 1024;
    char *input = calloc(1, len);
    sigset_t pending;

    /* More than a pipe holds, to a child that never reads it: the write
     * fails with EPIPE, and with SIGPIPE at its default a SIGPIPE that
     * reached this thread would end the test's process. */
    ck_assert_ptr_nonnull(input);
    ck_assert_int_eq(sigaction(SIGPIPE, &dfl, NULL), 0);
    opts.input = input;
    opts.input_len = len;
    ck_assert_int_eq(run((char *[]){"true", NULL}), 0);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert(!sigismember(&pending, SIGPIPE));
    free(input);
}
END_TEST

START_TEST(spawn_stdin_dev_null)
{
    ck_assert_int_eq(
        run((char *[]){"sh", "-c", "cat; readlink /proc/$$/fd/0", NULL}), 0);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_str_eq(res.out, "/dev/null\n");
}
END_TEST

START_TEST(spawn_on_line)
{
    opts.on_line = record_line;
    ck_assert_int_eq(
        run((char *[]){"sh", "-c",
                       "printf 'a\\n\\nb\\n'; printf 'x\\ny' >&2; printf c",
                       NULL}),
        0);
    ck_assert_int_eq(nlines, 6);

    /* In order within each stream; the streams interleave freely. */
    {
        const char *want_out[] = {"a", "", "b", "c"};
        const char *want_err[] = {"x", "y"};
        int n_out = 0, n_err = 0;

        for (int i = 0; i < nlines; i++) {
            if (lines[i].stream == RT_STDOUT) {
                ck_assert_int_lt(n_out, 4);
                ck_assert_str_eq(lines[i].text, want_out[n_out++]);
            } else {
                ck_assert_int_eq(lines[i].stream, RT_STDERR);
                ck_assert_int_lt(n_err, 2);
                ck_assert_str_eq(lines[i].text, want_err[n_err++]);
            }
        }
        ck_assert_int_eq(n_out, 4);
        ck_assert_int_eq(n_err, 2);
    }
    ck_assert_str_eq(res.out, "a\n\nb\nc");
    ck_assert_str_eq(res.err, "x\ny");
}
END_TEST

START_TEST(spawn_on_line_long_line)
{
    /* A line longer than any one read arrives as one line, NUL bytes and
     * all.  (Not `tr`: under the sanitizer setup's LD_PRELOAD of libasan,
     * Debian's tr aborts.) */
    opts.on_line = record_line;
    ck_assert_int_eq(
        run((char *[]){"sh", "-c", "head -c 200000 /dev/zero; echo; echo end",
                       NULL}),
        0);
    ck_assert_int_eq(nlines, 2);
    ck_assert_int_eq(lines[0].stream, RT_STDOUT);
    ck_assert_uint_eq(lines[0].len, 200000);
    ck_assert_str_eq(lines[1].text, "end");
}
END_TEST

START_TEST(spawn_no_leaked_fds)
{
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
    /* An fd the rest of the host opened without O_CLOEXEC. */
    extra_fd = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(extra_fd, 3);
#endif
    watch_cancel();
    on_line_action = ON_LINE_LIST_FDS;
    opts.input = "x";
    opts.input_len = 1;
    /* The runner lists /proc/PID/fd itself, from on_line, while the child
     * waits: a child listing its own fds would see the one it lists
     * with.  The shell waits in its `wait` builtin, which opens nothing:
     * `exec sleep` in its place raced with sleep's start-up, which opens
     * locale files for a moment (fd 3, 1 run in 30 under valgrind). */
    ck_assert_int_eq(
        run((char *[]){"sh", "-c", "sleep 100 & echo $$; wait", NULL}), 0);
    ck_assert(res.cancelled);
    ck_assert_str_eq(child_fds, "0 1 2 ");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Environment, working folder, process group                          */
/* ------------------------------------------------------------------ */

START_TEST(spawn_env)
{
    char *envp[] = {"FOO=bar", "PATH=/usr/bin:/bin", NULL};

    ck_assert_int_eq(setenv("OUTRUN_SPAWN_TEST", "leak", 1), 0);
    opts.envp = envp;
    ck_assert_int_eq(
        run((char *[]){"sh", "-c", "echo $FOO ${OUTRUN_SPAWN_TEST-unset}",
                       NULL}),
        0);
    ck_assert_str_eq(res.out, "bar unset\n");
}
END_TEST

START_TEST(spawn_env_inherited)
{
    ck_assert_int_eq(setenv("OUTRUN_SPAWN_TEST", "yes", 1), 0);
    ck_assert_int_eq(
        run((char *[]){"sh", "-c", "echo $OUTRUN_SPAWN_TEST", NULL}), 0);
    ck_assert_str_eq(res.out, "yes\n");
}
END_TEST

START_TEST(spawn_env_path_searched)
{
    char missing[PATH_MAX], bin[PATH_MAX], tool[PATH_MAX];
    char path_var[PATH_MAX * 2 + 16], want[PATH_MAX + 16];
    char *envp[] = {path_var, NULL};

    tmp_write("bin/outrun-spawn-tool", "#!/bin/sh\necho found $0\n");
    ck_assert_int_eq(chmod(tmp_path(tool, "bin/outrun-spawn-tool"), 0755), 0);
    snprintf(path_var, sizeof(path_var), "PATH=%s:%s",
             tmp_path(missing, "missing"), tmp_path(bin, "bin"));
    opts.envp = envp;
    ck_assert_int_eq(run((char *[]){"outrun-spawn-tool", NULL}), 0);
    ck_assert_int_eq(res.exit_code, 0);
    snprintf(want, sizeof(want), "found %s\n", tool);
    ck_assert_str_eq(res.out, want);
    rt_spawn_result_clear(&res);

    /* The caller's own PATH does not have it. */
    opts.envp = NULL;
    ck_assert_int_eq(run((char *[]){"outrun-spawn-tool", NULL}), -ENOENT);
}
END_TEST

START_TEST(spawn_env_without_path)
{
    char *envp[] = {"FOO=bar", NULL};

    /* No PATH: execvp's default, /bin:/usr/bin. */
    opts.envp = envp;
    ck_assert_int_eq(run((char *[]){"sh", "-c", "echo $FOO", NULL}), 0);
    ck_assert_str_eq(res.out, "bar\n");
}
END_TEST

START_TEST(spawn_cwd)
{
    char want[PATH_MAX + 1];

    opts.cwd = tmp_dir;
    ck_assert_int_eq(run((char *[]){"pwd", "-P", NULL}), 0);
    snprintf(want, sizeof(want), "%s\n", tmp_dir);
    ck_assert_str_eq(res.out, want);
}
END_TEST

START_TEST(spawn_cwd_missing)
{
    char path[PATH_MAX];

    opts.cwd = tmp_path(path, "missing");
    ck_assert_int_eq(run((char *[]){"true", NULL}), -ENOENT);
    ck_assert_int_eq(res.pid, 0);
}
END_TEST

START_TEST(spawn_own_process_group)
{
    char want[64];

    /* $$ is the child itself; field 5 of its stat is its group. */
    ck_assert_int_eq(
        run((char *[]){"sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat",
                       NULL}),
        0);
    snprintf(want, sizeof(want), "%d\n%d\n", res.pid, res.pid);
    ck_assert_str_eq(res.out, want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Failing to start                                                    */
/* ------------------------------------------------------------------ */

START_TEST(spawn_missing_executable)
{
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};

    ck_assert_int_eq(run((char *[]){"outrun-no-such-program", NULL}), -ENOENT);
    ck_assert_int_eq(res.pid, 0);
    ck_assert_ptr_null(res.out);
    ck_assert_int_eq(run((char *[]){"/nonexistent/outrun-prog", NULL}),
                     -ENOENT);
    opts.envp = envp;
    ck_assert_int_eq(run((char *[]){"outrun-no-such-program", NULL}), -ENOENT);
}
END_TEST

START_TEST(spawn_not_executable)
{
    char file[PATH_MAX], path_var[PATH_MAX + 8];
    char *envp[] = {path_var, NULL};

    /* Even root cannot exec a file without an execute bit. */
    tmp_write("bin/plain", "#!/bin/sh\n");
    ck_assert_int_eq(chmod(tmp_path(file, "bin/plain"), 0644), 0);
    ck_assert_int_eq(run((char *[]){file, NULL}), -EACCES);

    /* Found on the path but not executable, and nowhere else. */
    snprintf(path_var, sizeof(path_var), "PATH=%s", tmp_dir);
    strcat(path_var, "/bin:/usr/bin");
    opts.envp = envp;
    ck_assert_int_eq(run((char *[]){"plain", NULL}), -EACCES);
}
END_TEST

START_TEST(spawn_invalid_argv)
{
    ck_assert_int_eq(run((char *[]){NULL}), -EINVAL);
    ck_assert_int_eq(run(NULL), -EINVAL);
}
END_TEST

static Suite *
spawn_suite(void)
{
    Suite *s = suite_create("spawn");
    TCase *tc;

    tc = tmp_tcase_create("status", spawn_setup, spawn_teardown);
    tcase_add_test(tc, spawn_exit_zero);
    tcase_add_test(tc, spawn_exit_code);
    tcase_add_test(tc, spawn_killed_by_signal);
    tcase_add_test(tc, spawn_sigpipe_default);
    tcase_add_test(tc, spawn_signal_mask_cleared);
    suite_add_tcase(s, tc);

    tc = tmp_tcase_create("kill", spawn_setup, spawn_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, spawn_timeout);
    tcase_add_test(tc, spawn_timeout_term_ignored);
    tcase_add_test(tc, spawn_cancel);
    tcase_add_test(tc, spawn_cancel_term_trapped);
    tcase_add_test(tc, spawn_grandchild_killed);
    tcase_add_test(tc, spawn_grandchild_ignoring_term_killed);
    tcase_add_test(tc, spawn_escaped_process_does_not_hang);
    suite_add_tcase(s, tc);

    tc = tmp_tcase_create("pipes", spawn_setup, spawn_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, spawn_large_output_both_streams);
    tcase_add_test(tc, spawn_input);
    tcase_add_test(tc, spawn_input_empty);
    tcase_add_test(tc, spawn_input_through_both_streams);
    tcase_add_test(tc, spawn_input_not_read);
    tcase_add_test(tc, spawn_stdin_dev_null);
    tcase_add_test(tc, spawn_on_line);
    tcase_add_test(tc, spawn_on_line_long_line);
    tcase_add_test(tc, spawn_no_leaked_fds);
    suite_add_tcase(s, tc);

    tc = tmp_tcase_create("context", spawn_setup, spawn_teardown);
    tcase_add_test(tc, spawn_env);
    tcase_add_test(tc, spawn_env_inherited);
    tcase_add_test(tc, spawn_env_path_searched);
    tcase_add_test(tc, spawn_env_without_path);
    tcase_add_test(tc, spawn_cwd);
    tcase_add_test(tc, spawn_cwd_missing);
    tcase_add_test(tc, spawn_own_process_group);
    suite_add_tcase(s, tc);

    tc = tmp_tcase_create("errors", spawn_setup, spawn_teardown);
    tcase_add_test(tc, spawn_missing_executable);
    tcase_add_test(tc, spawn_not_executable);
    tcase_add_test(tc, spawn_invalid_argv);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(spawn_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
