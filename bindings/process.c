/* Subprocesses on pool threads: _outrun.spawn(), which outrun.process.run
 * builds on.
 *
 * Arguments are copied into plain C on the loop thread; the pool thread
 * runs runtime/spawn.c without the GIL; lines for on_output travel to the
 * loop through the same completion channel as finished jobs, ahead of the
 * job itself, so they arrive in order and before the result.
 */
#include "jobs.h"
#include "output_internal.h"

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

typedef struct spawn_job {
    bnd_job base;
    char **argv;
    char **envp;
    char *cwd;
    char *input;
    size_t input_len;
    int has_input;
    double timeout;
    double kill_grace;
    /* The eventfd that tells a running process to end: made on the pool
     * thread when the process is about to start and closed there when it
     * has ended (a call waiting in the queue, or finished, holds no
     * descriptor); -1 otherwise.  Written and read under fd_lock.
     * cancelled is set before cancel_spawn takes the lock, so that a job
     * that makes its fd after a cancel sees it. */
    int cancel_fd;
    atomic_bool cancelled;
    PyObject *on_output; /* callable or NULL */
    int rc;
    struct rt_spawn_result res;
    /* In-flight list (module state), for cancel and shutdown. */
    struct spawn_job *prev, *next;
    bnd_state *st;
} spawn_job;

/* One line for on_output, posted from the pool thread. */
typedef struct {
    struct rt_job job;
    spawn_job *owner; /* alive: its own completion comes after */
    int stream;
    size_t len;
    char text[];
} line_event;

static void
free_strv(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p != NULL; p++)
        free(*p);
    free(v);
}

/* Copies a sequence of str/bytes/PathLike into a NULL-terminated C array. */
static char **
strv_from(PyObject *seq, const char *what)
{
    PyObject *fast = PySequence_Fast(seq, what);
    char **v = NULL;
    Py_ssize_t n;

    if (fast == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(fast);
    v = calloc((size_t)n + 1, sizeof(char *));
    if (v == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = NULL;

        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(fast, i), &b))
            goto fail;
        v[i] = strdup(PyBytes_AS_STRING(b));
        Py_DECREF(b);
        if (v[i] == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
    }
    goto done;
fail:
    free_strv(v);
    v = NULL;
done:
    Py_DECREF(fast);
    return v;
}

/* Copies a mapping of names to values (str, bytes or PathLike) into a
 * NULL-terminated array of "NAME=value" strings.  items() may be anything
 * a mapping's items() can be (a dict subclass or a Mapping may override
 * it): each item must be a (name, value) pair. */
static char **
envp_from(PyObject *env)
{
    PyObject *items = PyMapping_Items(env), *lines = NULL;
    char **v = NULL;

    if (items == NULL)
        return NULL;
    lines = PyList_New(0);
    if (lines == NULL)
        goto done;
    /* items is a list of our own (PyMapping_Items copies what items()
     * gives): nothing else can change it while the loop runs Python. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        PyObject *k = NULL, *val = NULL, *line;

        if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "env: items() must give (name, value) pairs, "
                         "not %.100s%s",
                         Py_TYPE(kv)->tp_name,
                         PyTuple_Check(kv) ? " of another length" : "");
            goto done;
        }
        if (!PyUnicode_FSConverter(PyTuple_GET_ITEM(kv, 0), &k) ||
            !PyUnicode_FSConverter(PyTuple_GET_ITEM(kv, 1), &val)) {
            Py_XDECREF(k);
            goto done;
        }
        if (strchr(PyBytes_AS_STRING(k), '=') != NULL ||
            PyBytes_GET_SIZE(k) == 0) {
            PyErr_Format(PyExc_ValueError,
                         "environment variable names cannot be empty or "
                         "hold '=': %R",
                         PyTuple_GET_ITEM(kv, 0));
            Py_DECREF(k);
            Py_DECREF(val);
            goto done;
        }
        line = PyBytes_FromFormat("%s=%s", PyBytes_AS_STRING(k),
                                  PyBytes_AS_STRING(val));
        Py_DECREF(k);
        Py_DECREF(val);
        if (line == NULL || PyList_Append(lines, line) < 0) {
            Py_XDECREF(line);
            goto done;
        }
        Py_DECREF(line);
    }
    v = strv_from(lines, "env");
done:
    Py_XDECREF(lines);
    Py_DECREF(items);
    return v;
}

/* ------------------------------------------------------------------ */
/* Pool thread                                                         */
/* ------------------------------------------------------------------ */

static void
line_done(struct rt_job *rj)
{
    line_event *ev = (line_event *)rj;
    PyObject *owner_cb = ev->owner->on_output, *text, *r;

    text = PyBytes_FromStringAndSize(ev->text, (Py_ssize_t)ev->len);
    if (text != NULL) {
        r = PyObject_CallFunction(owner_cb, "sO",
                                  ev->stream == RT_STDERR ? "stderr"
                                                          : "stdout",
                                  text);
        Py_XDECREF(r);
        Py_DECREF(text);
    }
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(owner_cb);
    free(ev);
}

/* Pool thread, no GIL: hands one line to the loop. */
static void
on_line(void *ctx, int stream, const char *line, size_t len)
{
    spawn_job *job = ctx;
    line_event *ev = malloc(sizeof(*ev) + len);

    if (ev == NULL)
        return; /* out of memory: the line is still in the result */
    memset(&ev->job, 0, sizeof(ev->job));
    ev->job.done = line_done;
    ev->owner = job;
    ev->stream = stream;
    ev->len = len;
    memcpy(ev->text, line, len);
    rt_channel_post(job->base.job.channel, &ev->job);
}

/* ------------------------------------------------------------------ */
/* Waiting for file descriptors (pool threads)                         */
/* ------------------------------------------------------------------ */

/* A process takes about seven descriptors while it starts (three pipes,
 * /dev/null, a pidfd, the cancel eventfd) and keeps four or five while it
 * runs; 64 pool threads starting processes at once need more than a soft
 * limit of 256 allows.  Running out must not fail a call the program has
 * made already (issue 11, item 13: at ulimit -n 256 the 195th call
 * failed, and 177 calls started before it failed with EMFILE).
 *
 * So starting a process is admitted, as in TCP's congestion control: a
 * start that gets EMFILE or ENFILE before its process runs sets the limit
 * to the number of processes of ours that hold descriptors now, and waits
 * until one of them ends and it is admitted again; each process that
 * ends after starting well raises the limit by one.  Only admitted jobs
 * try, so a process that ends lets one waiter in instead of every waiter
 * retrying.  With none of ours holding descriptors, waiting cannot help
 * (they are held elsewhere): the call fails with the error. */
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fd_freed = PTHREAD_COND_INITIALIZER;
static unsigned fd_holders;                 /* admitted jobs */
static unsigned fd_limit;                   /* 0: no limit known */
static _Atomic unsigned long long fd_waits; /* for tests: waits, ever */

/* How long a waiting job sleeps at most before it looks at its cancel
 * flag again. */
#define FD_WAIT_MS 50

static bool
out_of_fds(int rc)
{
    return rc == -EMFILE || rc == -ENFILE;
}

/* Waits until the job may try to start its process, and counts it as
 * holding descriptors.  Returns false, not admitted, once the job is
 * cancelled. */
static bool
fd_admit(spawn_job *job)
{
    bool waited = false, admitted = false;

    pthread_mutex_lock(&fd_lock);
    for (;;) {
        struct timespec until;

        if (atomic_load(&job->cancelled))
            break;
        if (fd_limit == 0 || fd_holders < fd_limit) {
            fd_holders++;
            admitted = true;
            break;
        }
        waited = true;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += FD_WAIT_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&fd_freed, &fd_lock, &until);
    }
    pthread_mutex_unlock(&fd_lock);
    if (waited)
        fd_waits++;
    return admitted;
}

/* Gives the job its cancel eventfd (fd_lock held so that cancel_spawn
 * never writes to a number that has been closed and reused).  Returns 0
 * or a negative errno: -ECANCELED when it was cancelled already. */
static int
fd_open_cancel(spawn_job *job)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    if (fd < 0)
        return -errno;
    pthread_mutex_lock(&fd_lock);
    job->cancel_fd = fd;
    pthread_mutex_unlock(&fd_lock);
    return atomic_load(&job->cancelled) ? -ECANCELED : 0;
}

/* The job's attempt ended with rc: closes its cancel eventfd (its other
 * descriptors are closed already).  Returns true when it should try
 * again (it ran out, and another process of ours holds descriptors it
 * will give back). */
static bool
fd_release(spawn_job *job, int rc)
{
    bool again = false;

    pthread_mutex_lock(&fd_lock);
    if (job->cancel_fd >= 0) {
        close(job->cancel_fd);
        job->cancel_fd = -1;
    }
    fd_holders--;
    if (out_of_fds(rc)) {
        if (fd_holders > 0) {
            fd_limit = fd_holders;
            again = true;
        }
    } else if (rc == 0 && fd_limit != 0) {
        fd_limit++;
    }
    pthread_cond_broadcast(&fd_freed);
    pthread_mutex_unlock(&fd_lock);
    return again;
}

/* Pool thread, no GIL.  Runs the process; a job cancelled before its
 * process starts completes with -ECANCELED, as one still in the queue. */
static void
spawn_work(struct rt_job *rj)
{
    spawn_job *job = (spawn_job *)rt_container_of(rj, bnd_job, job);
    struct rt_spawn_opts opts = {
        .argv = job->argv,
        .envp = job->envp,
        .cwd = job->cwd,
        .input = job->has_input ? job->input : NULL,
        .input_len = job->input_len,
        .timeout = job->timeout,
        .kill_grace = job->kill_grace,
        .on_line = job->on_output != NULL ? on_line : NULL,
        .ctx = job,
    };

    for (;;) {
        if (!fd_admit(job)) {
            rj->status = -ECANCELED;
            return;
        }
        job->rc = fd_open_cancel(job);
        if (job->rc == 0) {
            opts.cancel_fd = job->cancel_fd;
            job->rc = rt_spawn_run(&opts, &job->res);
        }
        if (!fd_release(job, job->rc))
            break;
    }
    if (job->rc == -ECANCELED) {
        job->rc = 0;
        rj->status = -ECANCELED;
    }
}

/* ------------------------------------------------------------------ */
/* Loop thread                                                         */
/* ------------------------------------------------------------------ */

static void
unlink_job(spawn_job *job)
{
    bnd_state *st = job->st;

    if (job->prev != NULL)
        job->prev->next = job->next;
    else if (st->spawns == job)
        st->spawns = job->next;
    if (job->next != NULL)
        job->next->prev = job->prev;
    job->prev = job->next = NULL;
}

/* Settles the Output with the process's result, or rejects it with
 * CancelledError or OSError; if building any of these fails, with that
 * error (bnd_job_fail), so that the Output never stays pending. */
static void
spawn_finish(bnd_job *base)
{
    spawn_job *job = (spawn_job *)base;
    bnd_state *st = base->sched->st;
    PyObject *exc = NULL, *value;

    unlink_job(job);
    if (base->job.status == -ECANCELED) {
        exc = PyObject_CallNoArgs(st->cancelled_error);
    } else if (out_of_fds(job->rc)) {
        /* fd_wait found none of our processes running to give
         * descriptors back. */
        exc = PyObject_CallFunction(
            PyExc_OSError, "isN", -job->rc,
            "too many open files to start a process, and none of the "
            "program's processes is running to give some back; close "
            "files the program keeps open, or raise the limit (ulimit -n)",
            PyUnicode_DecodeFSDefault(job->argv[0]));
    } else if (job->rc < 0) {
        errno = -job->rc;
        exc = PyObject_CallFunction(PyExc_OSError, "isN", -job->rc,
                                    strerror(-job->rc),
                                    PyUnicode_DecodeFSDefault(job->argv[0]));
    } else {
        value = bnd_testing_fail_result()
                    ? NULL
                    : Py_BuildValue(
                          "{sisisy#sy#sdsOsOsi}", "returncode",
                          job->res.exit_code, "signal", job->res.signal,
                          "stdout", job->res.out,
                          (Py_ssize_t)job->res.out_len, "stderr",
                          job->res.err, (Py_ssize_t)job->res.err_len,
                          "duration", job->res.duration, "timed_out",
                          job->res.timed_out ? Py_True : Py_False,
                          "cancelled",
                          job->res.cancelled ? Py_True : Py_False, "pid",
                          job->res.pid);
        if (value == NULL) {
            bnd_job_fail(base);
            return;
        }
        bnd_job_resolve(base, value);
        return;
    }
    if (exc == NULL) {
        bnd_job_fail(base);
        return;
    }
    bnd_job_reject(base, exc);
    Py_DECREF(exc);
}

static void
spawn_free(bnd_job *base)
{
    spawn_job *job = (spawn_job *)base;

    free_strv(job->argv);
    free_strv(job->envp);
    free(job->cwd);
    free(job->input);
    rt_spawn_result_clear(&job->res);
    Py_XDECREF(job->on_output);
}

static void
spawn_discard(spawn_job *job)
{
    spawn_free(&job->base);
    Py_XDECREF(job->base.out);
    PyMem_RawFree(job);
}

PyDoc_STRVAR(spawn_doc,
             "spawn(argv, *, env=None, cwd=None, input=None, timeout=None, "
             "kill_grace=2.0, on_output=None)\n--\n\n"
             "Runs argv on a native worker thread and returns an Output of a "
             "dict:\nreturncode, signal, stdout and stderr (bytes), duration, "
             "timed_out,\ncancelled, pid.  A missing executable rejects it "
             "with FileNotFoundError.\non_output(stream, line) gets each line "
             "on the loop thread as it comes.\nUse outrun.process.run(), "
             "which builds on this.");

static PyObject *
module_spawn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"argv",    "env",        "cwd",       "input",
                             "timeout", "kill_grace", "on_output", NULL};
    bnd_state *st = bnd_get_state(module);
    PyObject *argv_obj, *env = Py_None, *cwd = Py_None, *input = Py_None;
    PyObject *timeout = Py_None, *on_output = Py_None, *cwd_b = NULL;
    double kill_grace = 2.0;
    SchedulerObject *s;
    spawn_job *job;
    OutputObject *out;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OOOOdO:spawn",
                                     kwlist, &argv_obj, &env, &cwd, &input,
                                     &timeout, &kill_grace, &on_output))
        return NULL;
    s = bnd_sched_current(st);
    if (s == NULL)
        return NULL;
    job = PyMem_RawCalloc(1, sizeof(*job));
    if (job == NULL)
        return PyErr_NoMemory();
    job->st = st;
    job->cancel_fd = -1;
    atomic_init(&job->cancelled, false);
    job->kill_grace = kill_grace;
    job->base.job.work = spawn_work;
    job->base.finish = spawn_finish;
    job->base.free_payload = spawn_free;
    job->argv = strv_from(argv_obj, "argv must be a sequence of strings");
    if (job->argv == NULL)
        goto error;
    if (job->argv[0] == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "argv is empty: name the program to run");
        goto error;
    }
    if (env != Py_None && (job->envp = envp_from(env)) == NULL)
        goto error;
    if (cwd != Py_None) {
        if (!PyUnicode_FSConverter(cwd, &cwd_b))
            goto error;
        job->cwd = strdup(PyBytes_AS_STRING(cwd_b));
        Py_CLEAR(cwd_b);
        if (job->cwd == NULL) {
            PyErr_NoMemory();
            goto error;
        }
    }
    if (input != Py_None) {
        Py_buffer view;

        if (PyUnicode_Check(input)) {
            PyErr_SetString(PyExc_TypeError,
                            "input must be bytes here (outrun.process.run "
                            "encodes text)");
            goto error;
        }
        if (PyObject_GetBuffer(input, &view, PyBUF_SIMPLE) < 0)
            goto error;
        job->input = malloc(view.len > 0 ? (size_t)view.len : 1);
        if (job->input != NULL)
            memcpy(job->input, view.buf, (size_t)view.len);
        job->input_len = (size_t)view.len;
        PyBuffer_Release(&view);
        if (job->input == NULL) {
            PyErr_NoMemory();
            goto error;
        }
        job->has_input = 1;
    }
    if (timeout != Py_None) {
        job->timeout = PyFloat_AsDouble(timeout);
        if (job->timeout == -1 && PyErr_Occurred())
            goto error;
        if (!(job->timeout > 0)) {
            PyErr_SetString(PyExc_ValueError,
                            "timeout must be a number of seconds above 0");
            goto error;
        }
    }
    if (on_output != Py_None) {
        if (!PyCallable_Check(on_output)) {
            PyErr_SetString(PyExc_TypeError,
                            "on_output must be a function of (stream, "
                            "line)");
            goto error;
        }
        job->on_output = Py_NewRef(on_output);
    }
    out = bnd_job_submit_output(st, s, &job->base);
    if (out == NULL)
        goto error;
    job->next = st->spawns;
    if (st->spawns != NULL)
        st->spawns->prev = job;
    st->spawns = job;
    return (PyObject *)out;
error:
    Py_XDECREF(cwd_b);
    spawn_discard(job);
    return NULL;
}

/* Asks a running process to end (its group gets SIGTERM, then SIGKILL);
 * one that has not started never starts. */
static void
cancel_spawn(spawn_job *job)
{
    uint64_t one = 1;
    ssize_t n;
    int fd;

    /* Set before the lock is taken: a pool thread that makes its fd
     * after this sees the flag (fd_open_cancel). */
    atomic_store(&job->cancelled, true);
    pthread_mutex_lock(&fd_lock);
    fd = job->cancel_fd;
    if (fd >= 0) {
        n = write(fd, &one, sizeof(one));
        (void)n;
    }
    pthread_mutex_unlock(&fd_lock);
    if (job->base.sched->st->pool != NULL)
        (void)rt_pool_cancel(job->base.sched->st->pool, &job->base.job);
}

PyDoc_STRVAR(cancel_doc,
             "cancel(output)\n--\n\n"
             "Cancels the job behind an Output from spawn(): a process not "
             "started yet\nnever starts, a running one's process group is "
             "killed.  Returns True\nif it found the job.");

static PyObject *
module_cancel(PyObject *module, PyObject *output)
{
    bnd_state *st = bnd_get_state(module);

    for (spawn_job *job = st->spawns; job != NULL; job = job->next) {
        if ((PyObject *)job->base.out == output) {
            cancel_spawn(job);
            Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

PyDoc_STRVAR(kill_processes_doc,
             "kill_processes()\n--\n\n"
             "Cancels every process still running (the host calls this at "
             "exit).\nReturns how many there were.");

long
bnd_process_kill_all(bnd_state *st)
{
    long n = 0;

    assert(PyGILState_Check());
    for (spawn_job *job = st->spawns; job != NULL; job = job->next) {
        cancel_spawn(job);
        n++;
    }
    return n;
}

static PyObject *
module_kill_processes(PyObject *module, PyObject *unused)
{
    return PyLong_FromLong(bnd_process_kill_all(bnd_get_state(module)));
}

PyDoc_STRVAR(fd_waits_doc,
             "_testing_fd_waits()\n--\n\n"
             "For tests: how many times a process waited for another to give "
             "file\ndescriptors back before it could start (in this process, "
             "ever).");

static PyObject *
module_fd_waits(PyObject *module, PyObject *unused)
{
    return PyLong_FromUnsignedLongLong(atomic_load(&fd_waits));
}

static PyMethodDef process_functions[] = {
    {"spawn", (PyCFunction)(void (*)(void))module_spawn,
     METH_VARARGS | METH_KEYWORDS, spawn_doc},
    {"cancel", module_cancel, METH_O, cancel_doc},
    {"kill_processes", module_kill_processes, METH_NOARGS,
     kill_processes_doc},
    {"_testing_fd_waits", module_fd_waits, METH_NOARGS, fd_waits_doc},
    {NULL, NULL, 0, NULL},
};

int
bnd_process_init(PyObject *module, bnd_state *st)
{
    assert(PyGILState_Check());
    return PyModule_AddFunctions(module, process_functions);
}
