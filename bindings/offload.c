/* Native offload: Python callables on pool threads, results back through
 * each loop's completion channel (the job machinery is jobs.c).
 *
 * The data path of one outrun.offload(fn, *args) (ARCHITECTURE.md):
 *
 *   1. loop thread: a pending Output and a job {fn, args, kwargs, the
 *      caller's context} are made; the job goes into the pool's queue,
 *      past its cap if need be: the loop thread never waits there;
 *   2. pool thread: the pool runs queued Python jobs in batches under one
 *      acquisition of the GIL, with the thread state the pool thread keeps
 *      for its whole life; the call's result or exception (with its
 *      traceback) is stored in the job;
 *   3. the pool posts the finished job to the loop's channel, which writes
 *      the loop's eventfd only if it was empty: no GIL for delivery;
 *   4. loop thread: the reader callback drains up to DRAIN_BATCH jobs and
 *      settles each job's Output (or asyncio future), then frees the job;
 *      it comes back on the next turn of the loop for any left.
 *
 * Every job completes exactly once: cancelled jobs come back through the
 * channel too, with -ECANCELED.
 */
#include "jobs.h"
#include "output_internal.h"

#include <errno.h>

typedef struct {
    bnd_job base;
    PyObject *fn, *args, *kwargs, *context;
    PyObject *result; /* set on the pool thread, with the GIL */
    PyObject *exc;    /* likewise: the exception, traceback attached */
    int no_tstate;    /* the pool thread had no thread state: not run */
} py_job;

/* Pool thread, GIL held (RT_JOB_NEEDS_GIL), unless the thread could not
 * make a thread state (jobs.c): then no Python API at all. */
static void
py_job_work(struct rt_job *rj)
{
    py_job *job = (py_job *)rt_container_of(rj, bnd_job, job);

    if (!bnd_pool_thread_has_python()) {
        job->no_tstate = 1;
        return;
    }
    if (PyContext_Enter(job->context) < 0)
        goto fail;
    job->result = PyObject_Call(job->fn, job->args, job->kwargs);
    if (PyContext_Exit(job->context) < 0) {
        Py_CLEAR(job->result);
        goto fail;
    }
    if (job->result != NULL)
        return;
fail: {
    PyObject *type, *value, *tb;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL)
        PyException_SetTraceback(value, tb);
    job->exc = value;
    Py_XDECREF(type);
    Py_XDECREF(tb);
}
}

static void
py_job_finish(bnd_job *base)
{
    py_job *job = (py_job *)base;
    bnd_state *st = base->sched->st;

    if (base->job.status == -ECANCELED) {
        PyObject *exc = PyObject_CallNoArgs(st->cancelled_error);

        if (exc == NULL) {
            bnd_job_fail(base);
            return;
        }
        bnd_job_reject(base, exc);
        Py_DECREF(exc);
        return;
    }
    if (job->exc != NULL) {
        bnd_job_reject(base, job->exc);
        return;
    }
    if (job->result != NULL) {
        bnd_job_resolve(base, Py_NewRef(job->result));
        return;
    }
    /* No outcome: the call never ran, or its exception was lost. */
    if (job->no_tstate)
        PyErr_SetString(PyExc_MemoryError,
                        "offload: a worker thread could not make a Python "
                        "thread state (out of memory); the call did not "
                        "run");
    else
        PyErr_SetString(PyExc_SystemError,
                        "offload: the call ended with neither a result nor "
                        "an exception");
    bnd_job_fail(base);
}

static void
py_job_free(bnd_job *base)
{
    py_job *job = (py_job *)base;

    Py_XDECREF(job->fn);
    Py_XDECREF(job->args);
    Py_XDECREF(job->kwargs);
    Py_XDECREF(job->context);
    Py_XDECREF(job->result);
    Py_XDECREF(job->exc);
}

/* Makes a job that calls fn(*args, **kwargs) in the caller's context. */
static py_job *
py_job_new(PyObject *fn, PyObject *args, PyObject *kwargs)
{
    py_job *job;

    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError,
                     "offload needs a function to call, not %.100s",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    job = PyMem_RawCalloc(1, sizeof(*job));
    if (job == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    job->context = PyContext_CopyCurrent();
    if (job->context == NULL) {
        PyMem_RawFree(job);
        return NULL;
    }
    job->fn = Py_NewRef(fn);
    job->args = Py_NewRef(args);
    job->kwargs = Py_XNewRef(kwargs);
    job->base.job.work = py_job_work;
    job->base.job.flags = RT_JOB_NEEDS_GIL;
    job->base.finish = py_job_finish;
    job->base.free_payload = py_job_free;
    return job;
}

static void
py_job_discard(py_job *job)
{
    py_job_free(&job->base);
    Py_XDECREF(job->base.out);
    Py_XDECREF(job->base.future);
    PyMem_RawFree(job);
}

/* Splits (fn, *args) into fn and the args tuple. */
static int
split_call(PyObject *args, const char *name, PyObject **fn,
           PyObject **rest)
{
    if (PyTuple_GET_SIZE(args) < 1) {
        PyErr_Format(PyExc_TypeError,
                     "%s() needs the function to call: %s(fn, *args, "
                     "**kwargs)",
                     name, name);
        return -1;
    }
    *fn = PyTuple_GET_ITEM(args, 0);
    *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
    return *rest == NULL ? -1 : 0;
}

PyDoc_STRVAR(offload_doc,
             "offload(fn, /, *args, **kwargs)\n--\n\n"
             "Runs fn(*args, **kwargs) on a native worker thread, with the "
             "caller's\ncontext variables, and returns an Output of its "
             "result.  An exception\nrejects the Output with its original "
             "traceback.");

static PyObject *
module_offload(PyObject *module, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state(module);
    SchedulerObject *s;
    PyObject *fn, *rest;
    py_job *job;
    OutputObject *out;

    if (split_call(args, "offload", &fn, &rest) < 0)
        return NULL;
    s = bnd_sched_current(st);
    job = s == NULL ? NULL : py_job_new(fn, rest, kwargs);
    Py_DECREF(rest);
    if (job == NULL)
        return NULL;
    out = bnd_job_submit_output(st, s, &job->base);
    if (out == NULL)
        py_job_discard(job);
    return (PyObject *)out;
}

/* Runs fn(*args, **kwargs) on the pool and settles fut (a loop future) with
 * its outcome; cancelling fut cancels the call if it has not started. */
static int
call_into_future(bnd_state *st, SchedulerObject *s, PyObject *fut,
                 PyObject *fn, PyObject *args, PyObject *kwargs)
{
    py_job *job = py_job_new(fn, args, kwargs);

    if (job == NULL)
        return -1;
    job->base.future = Py_NewRef(fut);
    if (bnd_job_submit(st, s, &job->base) < 0) {
        py_job_discard(job);
        return -1;
    }
    if (bnd_job_cancel_with(st, &job->base, fut) < 0) {
        /* The job runs anyway; only early cancellation is lost. */
        PyErr_WriteUnraisable(fut);
    }
    return 0;
}

PyDoc_STRVAR(to_thread_doc,
             "to_thread(fn, /, *args, **kwargs)\n--\n\n"
             "Returns a loop future of fn(*args, **kwargs), run on a worker "
             "thread with\nthe caller's context variables.  Cancelling it "
             "cancels the call if it\nhas not started; a call already "
             "running finishes and its result is\ndropped.  "
             "outrun.to_thread() is the asyncio.to_thread drop-in.");

static PyObject *
module_to_thread(PyObject *module, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state(module);
    SchedulerObject *s;
    PyObject *fn, *rest, *loop, *fut = NULL;

    if (split_call(args, "to_thread", &fn, &rest) < 0)
        return NULL;
    s = bnd_sched_current(st);
    loop = s == NULL ? NULL : bnd_sched_loop(s);
    if (loop != NULL) {
        fut = PyObject_CallMethodNoArgs(loop, st->str_create_future);
        Py_DECREF(loop);
    }
    if (fut != NULL && call_into_future(st, s, fut, fn, rest, kwargs) < 0)
        Py_CLEAR(fut);
    Py_DECREF(rest);
    return fut;
}

PyDoc_STRVAR(call_into_doc,
             "call_into(future, fn, /, *args, **kwargs)\n--\n\n"
             "As to_thread(), but settles the future given (a future of the "
             "running\nloop, which may be a subclass).");

static PyObject *
module_call_into(PyObject *module, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state(module);
    SchedulerObject *s;
    PyObject *fut, *fn, *rest;
    int r;

    if (PyTuple_GET_SIZE(args) < 2) {
        PyErr_SetString(PyExc_TypeError,
                        "call_into() needs a future and a function: "
                        "call_into(future, fn, *args, **kwargs)");
        return NULL;
    }
    fut = PyTuple_GET_ITEM(args, 0);
    fn = PyTuple_GET_ITEM(args, 1);
    s = bnd_sched_current(st);
    if (s == NULL)
        return NULL;
    rest = PyTuple_GetSlice(args, 2, PyTuple_GET_SIZE(args));
    if (rest == NULL)
        return NULL;
    r = call_into_future(st, s, fut, fn, rest, kwargs);
    Py_DECREF(rest);
    if (r < 0)
        return NULL;
    return Py_NewRef(fut);
}

static PyMethodDef offload_functions[] = {
    {"offload", (PyCFunction)(void (*)(void))module_offload,
     METH_VARARGS | METH_KEYWORDS, offload_doc},
    {"to_thread", (PyCFunction)(void (*)(void))module_to_thread,
     METH_VARARGS | METH_KEYWORDS, to_thread_doc},
    {"call_into", (PyCFunction)(void (*)(void))module_call_into,
     METH_VARARGS | METH_KEYWORDS, call_into_doc},
    {NULL, NULL, 0, NULL},
};

int
bnd_offload_init(PyObject *module, bnd_state *st)
{
    assert(PyGILState_Check());
    return PyModule_AddFunctions(module, offload_functions);
}
