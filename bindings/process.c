/* Subprocesses on pool threads: _outrun.spawn(), which outrun.process.run
 * builds on.
 *
 * Arguments are copied into plain C on the loop thread; the pool thread
 * runs runtime/spawn.c without the GIL; lines for on_output travel to the
 * loop through the same completion channel as finished jobs, ahead of the
 * job itself, so they arrive in order and before the result.
 */
#include "offload.h"
#include "output_internal.h"

#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../runtime/spawn.h"

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
    int cancel_fd;
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

/* Pool thread, no GIL. */
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
        .cancel_fd = job->cancel_fd,
    };

    job->rc = rt_spawn_run(&opts, &job->res);
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
    if (job->cancel_fd >= 0)
        close(job->cancel_fd);
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
    job->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (job->cancel_fd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto error;
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

/* Asks a running process to end (its group gets SIGTERM, then SIGKILL). */
static void
cancel_spawn(spawn_job *job)
{
    uint64_t one = 1;
    ssize_t n;

    if (job->cancel_fd < 0)
        return;
    n = write(job->cancel_fd, &one, sizeof(one));
    (void)n;
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

static PyMethodDef process_functions[] = {
    {"spawn", (PyCFunction)(void (*)(void))module_spawn,
     METH_VARARGS | METH_KEYWORDS, spawn_doc},
    {"cancel", module_cancel, METH_O, cancel_doc},
    {"kill_processes", module_kill_processes, METH_NOARGS,
     kill_processes_doc},
    {NULL, NULL, 0, NULL},
};

int
bnd_process_init(PyObject *module, bnd_state *st)
{
    assert(PyGILState_Check());
    return PyModule_AddFunctions(module, process_functions);
}
