/* The native subprocess runner: vfork and exec into a process group of
 * its own (the child dies with the host), one poll() loop that feeds
 * stdin and drains stdout and stderr, and the kill sequence (SIGTERM,
 * then SIGKILL after a grace) for the group on timeout or cancel.
 *
 * The child stays unreaped until the runner is done with it: while it is
 * alive or a zombie its pid is also its process group's id, so kill(-pid)
 * can never reach a group that reused the number.  Exit is noticed with
 * waitid(WNOWAIT), woken by a pidfd where the kernel has one. */
#define _GNU_SOURCE /* pipe2, strchrnul, vfork */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

extern char **environ;

#define NS_PER_SEC INT64_C(1000000000)
#define NEVER INT64_MAX

/* A stream's buffer starts this big and always has this much room before
 * a read; it doubles when it has less. */
#define BUF_INITIAL 16384
#define READ_MIN 4096

/* Without a pidfd, how long the loop sleeps at most between checks for
 * the child's exit, in milliseconds. */
#define EXIT_CHECK_MAX_MS 64

/* The search path execvp uses when the environment has no PATH. */
#define DEFAULT_PATH "/bin:/usr/bin"

/* One of the child's output streams as the runner collects it. */
struct stream {
    int id;    /* RT_STDOUT or RT_STDERR */
    int fd;    /* the pipe's read end; -1 after EOF */
    char *buf; /* everything read, with room for a NUL */
    size_t len;
    size_t cap;
    size_t line_start; /* where the line not yet reported begins */
};

/* One run, from the pipes to the reaped child. */
struct run {
    const struct rt_spawn_opts *opts;
    pid_t pid; /* 0 until spawned */
    int pidfd; /* readable once the child has exited; -1 without one */
    int in_fd; /* stdin's write end; -1 when there is nothing to write */
    const char *in_next;
    size_t in_left;
    int cancel_fd; /* -1 when not watched (any more) */
    struct stream out;
    struct stream err;
    int64_t deadline;   /* when the timeout passes */
    int64_t kill_at;    /* when SIGKILL follows SIGTERM */
    int64_t abandon_at; /* when to stop waiting for EOF after SIGKILL */
    int64_t grace;
    int exit_check_ms;
    bool term_sent;
    bool kill_sent;
    bool exited;
    bool timed_out;
    bool cancelled;
};

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Seconds as nanoseconds; anything that does not fit is "never". */
static int64_t
seconds_to_ns(double s)
{
    if (!(s < (double)(NEVER / NS_PER_SEC / 2)))
        return NEVER;
    return (int64_t)(s * (double)NS_PER_SEC);
}

static int64_t
add_ns(int64_t t, int64_t d)
{
    return d == NEVER || t > NEVER - d ? NEVER : t + d;
}

static void
close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static bool
pipes_closed(const struct run *r)
{
    return r->out.fd < 0 && r->err.fd < 0;
}

/* ------------------------------------------------------------------ */
/* Starting the child                                                  */
/* ------------------------------------------------------------------ */

/* Moves *fd to a number above 2.  The file actions dup2 the child's ends
 * onto 0, 1 and 2 in turn; in a host started with fd 0, 1 or 2 closed,
 * pipe2 can hand out one of those numbers, and an end that sits on a
 * number an earlier dup2 overwrites would be lost. */
static int
keep_above_stdio(int *fd)
{
    int moved;

    if (*fd > 2)
        return 0;
    moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0)
        return -errno;
    close(*fd);
    *fd = moved;
    return 0;
}

/* Opens the runner's ends (r) and the child's (child_fds: stdin, stdout,
 * stderr), every one close-on-exec.  Only stdin's write end is
 * non-blocking: the flag belongs to the open file, and the child's ends
 * must stay blocking for the child. */
static int
open_pipes(struct run *r, int child_fds[3])
{
    int fds[2];

    if (r->opts->input != NULL) {
        if (pipe2(fds, O_CLOEXEC) < 0)
            return -errno;
        child_fds[0] = fds[0];
        r->in_fd = fds[1];
        if (fcntl(r->in_fd, F_SETFL, O_NONBLOCK) < 0)
            return -errno;
    } else {
        child_fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (child_fds[0] < 0)
            return -errno;
    }
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    r->out.fd = fds[0];
    child_fds[1] = fds[1];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    r->err.fd = fds[0];
    child_fds[2] = fds[1];
    for (int i = 0; i < 3; i++) {
        int rc = keep_above_stdio(&child_fds[i]);

        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Returns the value of PATH in envp, or NULL. */
static const char *
env_path(char *const *envp)
{
    for (; *envp != NULL; envp++)
        if (strncmp(*envp, "PATH=", 5) == 0)
            return *envp + 5;
    return NULL;
}

/* Writes dir/name to out (just name when dir_len is 0), under cwd when it
 * is relative and cwd is given: the child resolves it after its chdir. */
static int
make_candidate(char out[PATH_MAX], const char *cwd, const char *dir,
               size_t dir_len, const char *name)
{
    bool relative = (dir_len > 0 ? dir[0] : name[0]) != '/';
    const char *base = cwd != NULL && relative ? cwd : "";
    int n;

    if (dir_len > PATH_MAX)
        return -ENAMETOOLONG;
    n = snprintf(out, PATH_MAX, "%s%s%.*s%s%s", base, base[0] ? "/" : "",
                 (int)dir_len, dir, dir_len > 0 ? "/" : "", name);
    return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Returns 0 when path is a file the child can exec, -ENOENT (or another
 * stat error) when there is none, -EACCES when it is not an executable
 * regular file (execve's answer for a folder too). */
static int
check_program(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
        return -errno;
    return 0;
}

/* Finds the file to exec, into out, before anything is opened or started.
 * A name with a slash is used as it is; any other is looked up on the
 * PATH of the child's environment (envp's, or the caller's when envp is
 * NULL), as execvpe does: an empty entry is the working folder, an entry
 * without the program (or that is no folder) is skipped, EACCES counts
 * only when no later entry has it, and with no PATH at all the search
 * uses /bin:/usr/bin.  glibc's posix_spawnp would search the caller's
 * PATH even for another envp.
 *
 * Why not leave the checks to posix_spawn: glibc reports a failed exec
 * as posix_spawn's result only because its child shares the parent's
 * memory (CLONE_VFORK).  Under valgrind, which runs that clone as a plain
 * fork, and in C libraries that POSIX lets report it as exit status 127,
 * a missing program would "run" and exit 127.  posix_spawn's own result
 * still counts for what the checks cannot see. */
static int
resolve_program(const struct rt_spawn_opts *opts, char *const *envp,
                char out[PATH_MAX])
{
    const char *name = opts->argv[0];
    const char *path;
    bool denied = false;
    int rc;

    if (opts->cwd != NULL) {
        struct stat st;

        if (stat(opts->cwd, &st) < 0)
            return -errno;
        if (!S_ISDIR(st.st_mode))
            return -ENOTDIR;
    }
    if (name[0] == '\0')
        return -ENOENT;
    if (strchr(name, '/') != NULL) {
        rc = make_candidate(out, opts->cwd, "", 0, name);
        return rc < 0 ? rc : check_program(out);
    }
    path = env_path(envp);
    if (path == NULL)
        path = DEFAULT_PATH;
    for (const char *dir = path;;) {
        const char *end = strchrnul(dir, ':');
        size_t dir_len = (size_t)(end - dir);

        if (dir_len == 0) {
            dir = ".";
            dir_len = 1;
        }
        rc = make_candidate(out, opts->cwd, dir, dir_len, name);
        if (rc == 0)
            rc = check_program(out);
        if (rc == 0)
            return 0;
        if (rc == -EACCES)
            denied = true;
        else if (rc != -ENOENT && rc != -ENOTDIR && rc != -ENAMETOOLONG)
            return rc;
        if (*end == '\0')
            break;
        dir = end + 1;
    }
    return denied ? -EACCES : -ENOENT;
}

/* What the child does between vfork and exec, all prepared by the parent:
 * the child shares the parent's memory and may only make system calls. */
struct child_setup {
    const char *program;
    char *const *argv;
    char *const *envp;
    const int *child_fds; /* stdin, stdout, stderr; all above 2 */
    const char *cwd;      /* NULL: the host's */
    pid_t parent;         /* the host's pid, for the death signal's race */
    int err_fd;           /* close-on-exec; gets errno if exec fails */
};

/* Runs in the vforked child: never returns.  Handled signals go back to
 * their defaults before the mask (all blocked by the parent) is cleared,
 * so that no handler of the host runs in the child. */
static void __attribute__((noreturn))
child_exec(const struct child_setup *c)
{
    struct sigaction dfl;
    sigset_t none;
    int err;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction old;

        if (sig == SIGKILL || sig == SIGSTOP ||
            sigaction(sig, NULL, &old) < 0) /* EINVAL: libc's own */
            continue;
        if (old.sa_handler == SIG_DFL ||
            (old.sa_handler == SIG_IGN && sig != SIGPIPE && sig != SIGXFSZ))
            continue;
        sigaction(sig, &dfl, NULL);
    }
    if (setpgid(0, 0) < 0)
        goto fail;
    /* Killed when the thread that spawned it ends: the pool thread waits
     * for this child until it is reaped, so that is when the host dies,
     * even by SIGKILL.  A host that died before this line is no longer
     * the parent. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        goto fail;
    if (getppid() != c->parent)
        _exit(127);
    for (int i = 0; i < 3; i++)
        if (dup2(c->child_fds[i], i) < 0)
            goto fail;
#ifdef SYS_close_range
    /* Every fd the runner opens is close-on-exec already; this also
     * closes whatever the rest of the host opened without O_CLOEXEC. */
    if (c->err_fd > 3)
        syscall(SYS_close_range, 3U, (unsigned)c->err_fd - 1, 0U);
    syscall(SYS_close_range, (unsigned)c->err_fd + 1, ~0U, 0U);
#endif
    if (c->cwd != NULL && chdir(c->cwd) < 0)
        goto fail;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(c->program, c->argv, c->envp);
fail:
    err = errno;
    while (write(c->err_fd, &err, sizeof(err)) < 0 && errno == EINTR)
        ;
    _exit(127);
}

/* Spawns the child with child_fds as its 0, 1 and 2 and nothing else, in
 * a new process group, with no signal blocked (a pool thread may block
 * some), and with SIGPIPE and SIGXFSZ back to their defaults: CPython
 * ignores both in the host, and an ignored disposition survives exec
 * (subprocess's restore_signals does the same).  Other ignored signals
 * are the host's to pass on, as for any exec.  The child gets SIGKILL
 * when the host dies (PR_SET_PDEATHSIG), which posix_spawn cannot set up:
 * hence vfork, as glibc's posix_spawn does it (CLONE_VFORK; under
 * valgrind a plain fork), with a close-on-exec pipe that carries exec's
 * errno back.  Returns 0 or a negative errno. */
static int
start_child(const struct rt_spawn_opts *opts, const char *program,
            char *const *envp, const int child_fds[3], pid_t *pid)
{
    struct child_setup setup;
    sigset_t all, old;
    int errpipe[2], err = 0, rc, saved;
    ssize_t n;
    pid_t child;

    if (pipe2(errpipe, O_CLOEXEC) < 0)
        return -errno;
    rc = keep_above_stdio(&errpipe[0]);
    if (rc == 0)
        rc = keep_above_stdio(&errpipe[1]);
    if (rc < 0) {
        close(errpipe[0]);
        close(errpipe[1]);
        return rc;
    }
    setup.program = program;
    setup.argv = opts->argv;
    setup.envp = envp;
    setup.child_fds = child_fds;
    setup.cwd = opts->cwd;
    setup.parent = getpid();
    setup.err_fd = errpipe[1];

    /* No handler of the host may run in the child, which shares its
     * memory: every signal stays blocked until the child has reset them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    child = vfork();
    if (child == 0)
        child_exec(&setup);
    saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(errpipe[1]);
    if (child < 0) {
        close(errpipe[0]);
        return -saved;
    }
    do {
        n = read(errpipe[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(err)) {
        /* exec failed: the child has exited with 127; nobody else may
         * see it. */
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
        return -(err != 0 ? err : ENOEXEC);
    }
    /* Where vfork is a fork (valgrind), the parent may get here before
     * the child's own setpgid: kill(-pid) must find the group. */
    setpgid(child, child);
    *pid = child;
    return 0;
}

/* Returns a pidfd for pid, or -1 where the kernel (before 5.3) or a
 * sandbox has none; the loop then checks for the exit on a short timer.
 * pidfds are always close-on-exec. */
static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    return -1;
#endif
}

/* ------------------------------------------------------------------ */
/* The kill sequence                                                   */
/* ------------------------------------------------------------------ */

/* Sends sig to the child's process group, and to the child itself in
 * case it moved to another group.  The child is unreaped, so neither
 * number can belong to anyone else.  Errors are ignored: ESRCH means
 * nobody is left, EPERM that a member changed its credentials. */
static void
signal_group(const struct run *r, int sig)
{
    kill(-r->pid, sig);
    kill(r->pid, sig);
}

/* Starts the kill sequence once: SIGTERM now (and SIGCONT, so that a
 * stopped group can act on it), SIGKILL after the grace. */
static void
start_kill(struct run *r, int64_t now)
{
    if (r->term_sent)
        return;
    r->term_sent = true;
    r->kill_at = add_ns(now, r->grace);
    signal_group(r, SIGTERM);
    signal_group(r, SIGCONT);
}

/* Sends SIGKILL once.  A process outside the group (one that called
 * setsid) may still hold the pipes; after one more grace the runner stops
 * waiting for their EOF. */
static void
finish_kill(struct run *r, int64_t now)
{
    if (r->kill_sent)
        return;
    r->kill_sent = true;
    r->abandon_at = add_ns(now, r->grace);
    signal_group(r, SIGKILL);
}

/* Sets r->exited once the child has exited, without reaping it. */
static int
check_exited(struct run *r)
{
    siginfo_t info;
    const int flags = WEXITED | WNOHANG | WNOWAIT;

    memset(&info, 0, sizeof(info));
    while (waitid(P_PID, (id_t)r->pid, &info, flags) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    r->exited = info.si_pid == r->pid;
    return 0;
}

/* Reaps the child; *status as from waitpid. */
static int
reap(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Streams                                                             */
/* ------------------------------------------------------------------ */

static int
stream_init(struct stream *s, int id)
{
    s->id = id;
    s->fd = -1;
    s->buf = malloc(BUF_INITIAL);
    if (s->buf == NULL)
        return -ENOMEM;
    s->cap = BUF_INITIAL;
    return 0;
}

/* Makes room for READ_MIN bytes and the NUL, doubling the buffer. */
static int
stream_reserve(struct stream *s)
{
    size_t cap = s->cap;
    char *buf;

    while (cap - s->len - 1 < READ_MIN) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    if (cap == s->cap)
        return 0;
    buf = realloc(s->buf, cap);
    if (buf == NULL)
        return -ENOMEM;
    s->buf = buf;
    s->cap = cap;
    return 0;
}

/* Reports each complete line that the bytes from offset `from` ended,
 * and, at EOF, the partial line that is left. */
static void
report_lines(const struct run *r, struct stream *s, size_t from, bool eof)
{
    void (*on_line)(void *, int, const char *, size_t) = r->opts->on_line;
    const char *nl;

    if (on_line == NULL)
        return;
    while ((nl = memchr(s->buf + from, '\n', s->len - from)) != NULL) {
        size_t end = (size_t)(nl - s->buf);

        on_line(r->opts->ctx, s->id, s->buf + s->line_start,
                end - s->line_start);
        s->line_start = from = end + 1;
    }
    if (eof && s->line_start < s->len) {
        on_line(r->opts->ctx, s->id, s->buf + s->line_start,
                s->len - s->line_start);
        s->line_start = s->len;
    }
}

/* Reads what the pipe has (poll said it has something, or EOF). */
static int
stream_read(struct run *r, struct stream *s)
{
    size_t from = s->len;
    ssize_t n;
    int rc = stream_reserve(s);

    if (rc < 0)
        return rc;
    n = read(s->fd, s->buf + s->len, s->cap - s->len - 1);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    if (n == 0) {
        close_fd(&s->fd);
        report_lines(r, s, from, true);
        return 0;
    }
    s->len += (size_t)n;
    report_lines(r, s, from, false);
    return 0;
}

/* Hands the buffer to the result, NUL-terminated. */
static void
stream_give(struct stream *s, char **buf, size_t *len)
{
    s->buf[s->len] = '\0';
    *buf = s->buf;
    *len = s->len;
    s->buf = NULL;
}

/* ------------------------------------------------------------------ */
/* stdin                                                               */
/* ------------------------------------------------------------------ */

/* Writes what the pipe takes of the input; closes it when all is written
 * or the child closed its end (EPIPE: the child does not want the rest).
 * A pipe has no MSG_NOSIGNAL, and the host may not ignore SIGPIPE, so the
 * write runs with SIGPIPE blocked in this thread, and the SIGPIPE that an
 * EPIPE raised is taken off the thread's pending set before the mask is
 * restored, unless one was pending already. */
static int
write_input(struct run *r)
{
    static const struct timespec no_wait = {0, 0};
    sigset_t pipe_only, old, pending;
    bool was_pending;
    ssize_t n;
    int saved;

    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    n = write(r->in_fd, r->in_next, r->in_left);
    saved = errno;
    if (n < 0 && saved == EPIPE && !was_pending) {
        while (sigtimedwait(&pipe_only, NULL, &no_wait) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (n < 0) {
        if (saved == EINTR || saved == EAGAIN)
            return 0;
        close_fd(&r->in_fd);
        return saved == EPIPE ? 0 : -saved;
    }
    r->in_next += n;
    r->in_left -= (size_t)n;
    if (r->in_left == 0)
        close_fd(&r->in_fd);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

/* Milliseconds from now until t, rounded up, for poll; -1 for never. */
static int
ms_until(int64_t now, int64_t t)
{
    int64_t ms;

    if (t == NEVER)
        return -1;
    if (t <= now)
        return 0;
    ms = (t - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int
min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* Acts on the clock: the timeout starts the kill sequence, the grace
 * after SIGTERM ends it. */
static void
check_deadlines(struct run *r, int64_t now)
{
    if (!r->term_sent && now >= r->deadline) {
        r->timed_out = true;
        start_kill(r, now);
    }
    if (r->term_sent && !r->kill_sent && now >= r->kill_at)
        finish_kill(r, now);
}

/* Decides whether the loop is over: the child has exited and the pipes
 * are at EOF (or, after SIGKILL, waiting for EOF has run out). */
static int
check_done(struct run *r, int64_t now, bool *done)
{
    int rc;

    *done = false;
    if (!r->exited && (pipes_closed(r) || r->kill_sent)) {
        rc = check_exited(r);
        if (rc < 0)
            return rc;
    }
    if (!r->exited)
        return 0;
    if (pipes_closed(r)) {
        /* The leader is gone; what is left of a group that was told to
         * stop gets no more grace. */
        if (r->term_sent)
            finish_kill(r, now);
        *done = true;
    } else if (r->kill_sent && now >= r->abandon_at) {
        *done = true;
    }
    return 0;
}

/* Runs the poll loop until check_done says it is over. */
static int
drain(struct run *r)
{
    for (;;) {
        struct pollfd pfd[5];
        struct stream *streams[2] = {&r->out, &r->err};
        int nfds = 0, timeout, rc;
        int64_t now = now_ns();
        bool done, waiting_for_exit;

        check_deadlines(r, now);
        rc = check_done(r, now, &done);
        if (rc < 0 || done)
            return rc;

        for (int i = 0; i < 2; i++)
            if (streams[i]->fd >= 0)
                pfd[nfds++] = (struct pollfd){streams[i]->fd, POLLIN, 0};
        if (r->in_fd >= 0)
            pfd[nfds++] = (struct pollfd){r->in_fd, POLLOUT, 0};
        if (r->cancel_fd >= 0)
            pfd[nfds++] = (struct pollfd){r->cancel_fd, POLLIN, 0};
        /* The pidfd stays readable after the exit, so it is watched only
         * while the exit is what the loop waits for. */
        waiting_for_exit = !r->exited && (pipes_closed(r) || r->kill_sent);
        if (waiting_for_exit && r->pidfd >= 0)
            pfd[nfds++] = (struct pollfd){r->pidfd, POLLIN, 0};

        timeout = ms_until(now, r->term_sent ? NEVER : r->deadline);
        if (r->term_sent && !r->kill_sent)
            timeout = min_timeout(timeout, ms_until(now, r->kill_at));
        if (r->kill_sent)
            timeout = min_timeout(timeout, ms_until(now, r->abandon_at));
        if (waiting_for_exit && r->pidfd < 0) {
            timeout = min_timeout(timeout, r->exit_check_ms);
            if (r->exit_check_ms < EXIT_CHECK_MAX_MS)
                r->exit_check_ms *= 2;
        }

        if (poll(pfd, (nfds_t)nfds, timeout) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < nfds; i++) {
            short ev = pfd[i].revents;

            if (ev == 0)
                continue;
            if (ev & POLLNVAL)
                return -EBADF;
            if (pfd[i].fd == r->out.fd)
                rc = stream_read(r, &r->out);
            else if (pfd[i].fd == r->err.fd)
                rc = stream_read(r, &r->err);
            else if (pfd[i].fd == r->in_fd)
                rc = write_input(r);
            else if (pfd[i].fd == r->cancel_fd) {
                /* The first reason to stop wins; the fd is the caller's,
                 * so it is left readable and no longer watched. */
                r->cancel_fd = -1;
                if (!r->term_sent) {
                    r->cancelled = true;
                    start_kill(r, now_ns());
                }
            }
            if (rc < 0)
                return rc;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

int
rt_spawn_run(const struct rt_spawn_opts *opts, struct rt_spawn_result *res)
{
    struct run r;
    char *const *envp;
    char program[PATH_MAX];
    int child_fds[3] = {-1, -1, -1};
    int64_t start;
    int status = 0, reaped, rc;

    memset(res, 0, sizeof(*res));
    res->exit_code = -1;
    if (opts == NULL || opts->argv == NULL || opts->argv[0] == NULL ||
        (opts->input == NULL && opts->input_len > 0))
        return -EINVAL;

    envp = opts->envp != NULL ? opts->envp : environ;
    rc = resolve_program(opts, envp, program);
    if (rc < 0)
        return rc;

    memset(&r, 0, sizeof(r));
    r.opts = opts;
    r.pidfd = -1;
    r.in_fd = -1;
    r.in_next = opts->input;
    r.in_left = opts->input_len;
    r.cancel_fd = opts->cancel_fd;
    r.exit_check_ms = 1;
    r.grace = seconds_to_ns(opts->kill_grace > 0 ? opts->kill_grace : 2.0);
    r.kill_at = r.abandon_at = NEVER;
    rc = stream_init(&r.out, RT_STDOUT);
    if (rc == 0)
        rc = stream_init(&r.err, RT_STDERR);
    if (rc == 0)
        rc = open_pipes(&r, child_fds);
    if (rc < 0)
        goto cleanup;

    start = now_ns();
    rc = start_child(opts, program, envp, child_fds, &r.pid);
    for (int i = 0; i < 3; i++)
        close_fd(&child_fds[i]);
    if (rc < 0) {
        r.pid = 0;
        goto cleanup;
    }
    r.deadline = opts->timeout > 0
                     ? add_ns(start, seconds_to_ns(opts->timeout))
                     : NEVER;
    r.pidfd = open_pidfd(r.pid);
    /* Empty input: the child reads EOF at once. */
    if (r.in_fd >= 0 && r.in_left == 0)
        close_fd(&r.in_fd);

    rc = drain(&r);
    if (rc < 0 && rc != -ECHILD) {
        /* No child is left behind: SIGKILL cannot be ignored, so the
         * blocking reap below returns.  (ECHILD: someone else reaped the
         * child, and its number may be anyone's now.) */
        signal_group(&r, SIGKILL);
    }
    reaped = reap(r.pid, &status);
    if (rc == 0)
        rc = reaped;
    if (rc < 0)
        goto cleanup;

    res->pid = r.pid;
    res->duration = (double)(now_ns() - start) / (double)NS_PER_SEC;
    if (WIFEXITED(status)) {
        res->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->signal = WTERMSIG(status);
    }
    res->timed_out = r.timed_out;
    res->cancelled = r.cancelled;
    stream_give(&r.out, &res->out, &res->out_len);
    stream_give(&r.err, &res->err, &res->err_len);

cleanup:
    for (int i = 0; i < 3; i++)
        close_fd(&child_fds[i]);
    close_fd(&r.in_fd);
    close_fd(&r.out.fd);
    close_fd(&r.err.fd);
    close_fd(&r.pidfd);
    free(r.out.buf);
    free(r.err.buf);
    return rc;
}

void
rt_spawn_result_clear(struct rt_spawn_result *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof(*res));
    res->exit_code = -1;
}
