/* The scheduler: one per event loop, it owns the ready queue that runs
 * Output continuations, the list of pending Outputs, and the failures the
 * host reports at the end of a run.
 *
 * The loop calls drain() (scheduled with call_soon when the queue goes
 * from empty to not empty); drain() runs entries until the queue is empty,
 * including the ones that running entries add, so a chain settles in one
 * drain, iteratively.
 */
#include "scheduler.h"
#include "compat.h"

#include "channel.h"

#include "config.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Ready queue                                                         */
/* ------------------------------------------------------------------ */

static int
ring_grow(SchedulerObject *s)
{
    size_t cap = s->ring_cap ? s->ring_cap * 2 : 64;
    bnd_ready_entry *ring = PyMem_Malloc(cap * sizeof(*ring));

    if (ring == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < s->ring_count; i++)
        ring[i] = s->ring[(s->ring_head + i) % s->ring_cap];
    PyMem_Free(s->ring);
    s->ring = ring;
    s->ring_cap = cap;
    s->ring_head = 0;
    return 0;
}

PyObject *
bnd_sched_loop(SchedulerObject *s)
{
    PyObject *loop;
    int r;

    assert(PyGILState_Check());
    r = bnd_weakref_get(s->loop_ref, &loop);
    if (r == 0)
        PyErr_SetString(PyExc_RuntimeError,
                        "the event loop this Output belongs to is gone");
    return loop;
}

static int
schedule_drain(SchedulerObject *s)
{
    PyObject *loop, *handle, *closed;
    bnd_exc_state exc;
    int r, is_closed;

    if (s->draining)
        return 0;
    /* Strong: call_soon runs Python, which may drop the last other
     * reference to the loop before is_closed() below. */
    r = bnd_weakref_get(s->loop_ref, &loop);
    if (r <= 0)
        return r; /* 0: the loop is gone: nothing will ever run these */
    handle = PyObject_CallMethodOneArg(loop, s->st->str_call_soon, s->drain);
    if (handle != NULL) {
        Py_DECREF(handle);
        Py_DECREF(loop);
        s->draining = 1;
        return 0;
    }
    /* A closed loop runs nothing more either: the continuations of work
     * that finished after the run ended (the pool's last completions at
     * shutdown) are dropped with the scheduler, not reported. */
    if (!PyErr_ExceptionMatches(PyExc_RuntimeError)) {
        Py_DECREF(loop);
        return -1;
    }
    /* is_closed() runs with call_soon's error put aside: Python called
     * with an exception set fails with SystemError. */
    exc = bnd_exc_save();
    closed = PyObject_CallMethod(loop, "is_closed", NULL);
    Py_DECREF(loop);
    is_closed = closed != NULL && PyObject_IsTrue(closed) == 1;
    Py_XDECREF(closed);
    PyErr_Clear(); /* is_closed's own failure: call_soon's error stands */
    if (!is_closed) {
        bnd_exc_restore(exc);
        return -1;
    }
    bnd_exc_discard(exc);
    return 0;
}

int
bnd_sched_enqueue(SchedulerObject *s, PyObject *target,
                  OutputObject *source)
{
    bnd_ready_entry *e;

    assert(PyGILState_Check());
    if (s->ring_count == s->ring_cap && ring_grow(s) < 0) {
        Py_DECREF(target);
        return -1;
    }
    e = &s->ring[(s->ring_head + s->ring_count) % s->ring_cap];
    e->target = target;
    e->source = (OutputObject *)Py_XNewRef((PyObject *)source);
    s->ring_count++;
    if (schedule_drain(s) < 0) {
        /* The entry stays queued; the next successful enqueue or the
         * loop's next drain runs it. */
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(drain_doc,
             "_drain()\n--\n\n"
             "Runs every ready continuation.  The event loop calls this.");

static PyObject *
Scheduler_drain(SchedulerObject *s, PyObject *unused)
{
    /* A safe point: freed rejections no loop could report go out here. */
    bnd_output_flush_unreported(s->st);
    s->draining = 1;
    while (s->ring_count > 0) {
        bnd_ready_entry e = s->ring[s->ring_head];

        int r;

        s->ring_head = (s->ring_head + 1) % s->ring_cap;
        s->ring_count--;
        r = bnd_output_step(s->st, e.target, e.source);
        Py_DECREF(e.target);
        Py_XDECREF(e.source);
        if (r < 0) {
            /* sys.exit() or Ctrl-C in a continuation: it leaves the loop
             * as from any callback; what is still queued runs on the
             * loop's next turn if the loop goes on. */
            bnd_exc_state exc = bnd_exc_save();

            s->draining = 0;
            if (s->ring_count > 0 && schedule_drain(s) < 0)
                PyErr_Clear();
            bnd_exc_restore(exc);
            return NULL;
        }
    }
    s->draining = 0;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* Pending Outputs                                                     */
/* ------------------------------------------------------------------ */

static void
notify_idle(SchedulerObject *s)
{
    PyObject *waiters = s->idle_waiters;
    bnd_exc_state exc = bnd_exc_save();

    s->idle_waiters = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(waiters); i++) {
        PyObject *fut = PyList_GET_ITEM(waiters, i);
        PyObject *done = PyObject_CallMethodNoArgs(fut, s->st->str_done);
        int is_done = done == NULL ? -1 : PyObject_IsTrue(done);

        Py_XDECREF(done);
        if (is_done == 0) {
            PyObject *r = PyObject_CallMethodOneArg(
                fut, s->st->str_set_result, Py_None);
            Py_XDECREF(r);
        }
        if (PyErr_Occurred())
            PyErr_WriteUnraisable(fut);
    }
    Py_DECREF(waiters);
    bnd_exc_restore(exc);
}

void
bnd_sched_link(SchedulerObject *s, OutputObject *o)
{
    assert(PyGILState_Check());
    assert(!(o->flags & OUT_F_LINKED));
    o->pend_prev = NULL;
    o->pend_next = s->pending_first;
    if (s->pending_first != NULL)
        s->pending_first->pend_prev = o;
    s->pending_first = o;
    s->npending++;
    o->flags |= OUT_F_LINKED;
}

void
bnd_sched_unlink(OutputObject *o)
{
    SchedulerObject *s = o->sched;

    assert(PyGILState_Check());
    if (!(o->flags & OUT_F_LINKED))
        return;
    o->flags &= ~OUT_F_LINKED;
    if (o->pend_prev != NULL)
        o->pend_prev->pend_next = o->pend_next;
    else
        s->pending_first = o->pend_next;
    if (o->pend_next != NULL)
        o->pend_next->pend_prev = o->pend_prev;
    o->pend_prev = o->pend_next = NULL;
    s->npending--;
    s->settled++;
    if (s->sites != NULL) {
        PyObject *key = PyLong_FromVoidPtr(o);
        bnd_exc_state exc = bnd_exc_save();

        if (key != NULL && PyDict_DelItem(s->sites, key) < 0)
            PyErr_Clear();
        Py_XDECREF(key);
        PyErr_Clear();
        bnd_exc_restore(exc);
    }
    if (s->npending == 0 && s->idle_waiters != NULL)
        notify_idle(s);
}

/* Returns the frame a site names (a new reference, or NULL when there is
 * no Python frame): the innermost one whose file is under none of
 * s->site_skip's folders, else the innermost.  So an Output made by the
 * SDK on the program's behalf (outrun.offload, @blocking, process.run)
 * names the program's line, not the SDK's. */
static PyFrameObject *
site_frame(SchedulerObject *s)
{
    PyFrameObject *inner = PyEval_GetFrame(), *f; /* borrowed */

    if (inner == NULL)
        return NULL;
    if (s->site_skip == NULL)
        return (PyFrameObject *)Py_NewRef(inner);
    f = (PyFrameObject *)Py_NewRef(inner);
    while (f != NULL) {
        PyCodeObject *code = PyFrame_GetCode(f);
        PyFrameObject *back;
        int skip = 0;

        for (Py_ssize_t i = 0; !skip && i < PyTuple_GET_SIZE(s->site_skip);
             i++) {
            Py_ssize_t m = PyUnicode_Tailmatch(
                code->co_filename, PyTuple_GET_ITEM(s->site_skip, i), 0,
                PY_SSIZE_T_MAX, -1);

            if (m < 0)
                PyErr_Clear();
            skip = m > 0;
        }
        Py_DECREF(code);
        if (!skip)
            return f;
        back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    return (PyFrameObject *)Py_NewRef(inner);
}

void
bnd_sched_note_site(SchedulerObject *s, OutputObject *o)
{
    PyFrameObject *frame;
    PyObject *key = NULL, *site = NULL;

    assert(PyGILState_Check());
    if (!s->record_sites)
        return;
    if (s->sites == NULL) {
        s->sites = PyDict_New();
        if (s->sites == NULL)
            goto error;
    }
    frame = site_frame(s);
    if (frame != NULL) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        int line = PyFrame_GetLineNumber(frame);

        site = PyUnicode_FromFormat("%U:%d in %U", code->co_filename, line,
                                    code->co_name);
        Py_DECREF(code);
        Py_DECREF(frame);
    } else {
        site = PyUnicode_FromString("(no Python frame)");
    }
    key = PyLong_FromVoidPtr(o);
    if (site == NULL || key == NULL ||
        PyDict_SetItem(s->sites, key, site) < 0)
        goto error;
    Py_DECREF(key);
    Py_DECREF(site);
    return;
error:
    Py_XDECREF(key);
    Py_XDECREF(site);
    PyErr_Clear();
}

/* ------------------------------------------------------------------ */
/* Failures                                                            */
/* ------------------------------------------------------------------ */

int
bnd_sched_record_failure(SchedulerObject *s, PyObject *exc)
{
    assert(PyGILState_Check());
    if (!s->collect_failures)
        return 0;
    if (s->failures == NULL) {
        s->failures = PyList_New(0);
        if (s->failures == NULL)
            return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(s->failures); i++) {
        if (PyList_GET_ITEM(s->failures, i) == exc)
            return 0;
    }
    return PyList_Append(s->failures, exc);
}

void
bnd_sched_forget_failure(SchedulerObject *s, PyObject *exc)
{
    assert(PyGILState_Check());
    if (s == NULL || s->failures == NULL)
        return;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(s->failures); i++) {
        if (PyList_GET_ITEM(s->failures, i) == exc) {
            PySequence_DelItem(s->failures, i);
            return;
        }
    }
}

/* The rule for a failure that reached user code: it belongs to the code
 * that retrieved it (awaited future(), is_known(), ... and so called the
 * asyncio future's result() or exception()), as asyncio's rule for
 * Futures says.  fill_future notes each (future, exception) it hands
 * over; take_failures forgets the failures whose future was retrieved. */
int
bnd_sched_note_handed(SchedulerObject *s, PyObject *fut, PyObject *exc)
{
    PyObject *pair;
    int found = 0, r;

    assert(PyGILState_Check());
    if (!s->collect_failures || s->failures == NULL)
        return 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(s->failures); i++) {
        if (PyList_GET_ITEM(s->failures, i) == exc) {
            found = 1;
            break;
        }
    }
    if (!found)
        return 0; /* recovered, or not a failure of the run */
    if (s->handed == NULL) {
        s->handed = PyList_New(0);
        if (s->handed == NULL)
            return -1;
    }
    pair = PyTuple_Pack(2, fut, exc);
    if (pair == NULL)
        return -1;
    r = PyList_Append(s->handed, pair);
    Py_DECREF(pair);
    return r;
}

/* Forgets each handed-over failure whose future user code retrieved; for
 * the others, the host reports the failure, so the future's own "exception
 * was never retrieved" log is turned off.  Returns 0 or -1. */
static int
settle_handed(SchedulerObject *s)
{
    PyObject *handed = s->handed;
    int rc = 0;

    if (handed == NULL)
        return 0;
    s->handed = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(handed); i++) {
        PyObject *fut = PyTuple_GET_ITEM(PyList_GET_ITEM(handed, i), 0);
        PyObject *exc = PyTuple_GET_ITEM(PyList_GET_ITEM(handed, i), 1);
        PyObject *log = PyObject_GetAttrString(fut, "_log_traceback");
        int unretrieved;

        if (log == NULL) {
            rc = -1;
            break;
        }
        unretrieved = PyObject_IsTrue(log);
        Py_DECREF(log);
        if (unretrieved < 0) {
            rc = -1;
            break;
        }
        if (!unretrieved)
            bnd_sched_forget_failure(s, exc);
    }
    if (rc == 0 && s->failures != NULL) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(handed); i++) {
            PyObject *fut = PyTuple_GET_ITEM(PyList_GET_ITEM(handed, i), 0);
            PyObject *exc = PyTuple_GET_ITEM(PyList_GET_ITEM(handed, i), 1);
            int kept = 0;

            for (Py_ssize_t j = 0; j < PyList_GET_SIZE(s->failures); j++)
                kept |= PyList_GET_ITEM(s->failures, j) == exc;
            if (kept &&
                PyObject_SetAttrString(fut, "_log_traceback", Py_False) < 0)
                PyErr_Clear(); /* a future type without the flag */
        }
    }
    Py_DECREF(handed);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Finding the scheduler of the running loop                           */
/* ------------------------------------------------------------------ */

static SchedulerObject *
sched_new(bnd_state *st, PyObject *loop, unsigned long tid)
{
    SchedulerObject *s;
    PyObject *module = PyType_GetModule(st->SchedulerType);

    if (module == NULL)
        return NULL;
    s = PyObject_GC_New(SchedulerObject, st->SchedulerType);
    if (s == NULL)
        return NULL;
    memset((char *)s + sizeof(PyObject), 0,
           sizeof(*s) - sizeof(PyObject));
    s->st = st;
    s->module = Py_NewRef(module);
    s->loop_ref = PyWeakref_NewRef(loop, NULL);
    s->thread_id = tid;
    PyObject_GC_Track(s);
    if (s->loop_ref == NULL) {
        Py_DECREF(s);
        return NULL;
    }
    s->drain = PyObject_GetAttrString((PyObject *)s, "_drain");
    if (s->drain == NULL) {
        Py_DECREF(s);
        return NULL;
    }
    return s;
}

/* Predicate: is the scheduler s (alive) the one of loop?  Compares
 * identities only, so the referent's reference is dropped at once. */
static int
sched_has_loop(SchedulerObject *s, PyObject *loop)
{
    PyObject *cur;

    if (bnd_weakref_get(s->loop_ref, &cur) <= 0) {
        PyErr_Clear(); /* loop_ref is always a weak reference */
        return 0;
    }
    Py_DECREF(cur);
    return cur == loop;
}

SchedulerObject *
bnd_sched_current(bnd_state *st)
{
    unsigned long tid = PyThread_get_thread_ident();
    SchedulerObject *s = st->last_sched;
    PyObject *loop, *key, *found = NULL;

    assert(PyGILState_Check());
    loop = PyObject_CallNoArgs(st->get_running_loop);
    if (loop == NULL)
        return NULL;
    if (loop == Py_None) {
        Py_DECREF(loop);
        PyErr_SetString(PyExc_RuntimeError,
                        "this Output operation needs a running asyncio "
                        "event loop: use it inside `outrun run`, "
                        "`outrun.run(main)` or an async function");
        return NULL;
    }
    if (s != NULL && s->thread_id == tid && sched_has_loop(s, loop)) {
        Py_DECREF(loop);
        return s;
    }
    /* The dict maps a thread to a weak reference: the Outputs of a loop
     * (and the host's Runtime) keep its scheduler alive, and a closed loop
     * is freed with the last of them. */
    key = PyLong_FromUnsignedLong(tid);
    if (key == NULL)
        goto error;
    {
        PyObject *ref = PyDict_GetItemWithError(st->schedulers, key);

        if (ref == NULL && PyErr_Occurred())
            goto error;
        if (ref != NULL && bnd_weakref_get(ref, &found) < 0)
            goto error;
        s = (SchedulerObject *)found;
    }
    if (s == NULL || !sched_has_loop(s, loop)) {
        PyObject *ref;

        s = sched_new(st, loop, tid);
        if (s == NULL)
            goto error;
        ref = PyWeakref_NewRef((PyObject *)s, NULL);
        if (ref == NULL || PyDict_SetItem(st->schedulers, key, ref) < 0) {
            Py_XDECREF(ref);
            Py_DECREF(s);
            goto error;
        }
        Py_DECREF(ref);
        /* Until an Output takes it, the scheduler lives in the thread's
         * newest slot: keep the last one made alive through `keep`. */
        Py_XSETREF(st->keep_sched, (PyObject *)s);
    }
    st->last_sched = s;
    Py_XDECREF(found); /* s lives on: its Outputs or keep_sched hold it */
    Py_DECREF(key);
    Py_DECREF(loop);
    return s;
error:
    Py_XDECREF(found);
    Py_XDECREF(key);
    Py_DECREF(loop);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The Python-visible Scheduler                                        */
/* ------------------------------------------------------------------ */

PyDoc_STRVAR(wait_idle_doc,
             "wait_idle()\n--\n\n"
             "Returns a future that resolves once no Output of this loop is "
             "pending\n(at once if none is).");

static PyObject *
Scheduler_wait_idle(SchedulerObject *s, PyObject *unused)
{
    PyObject *loop = bnd_sched_loop(s), *fut;

    if (loop == NULL)
        return NULL;
    fut = PyObject_CallMethodNoArgs(loop, s->st->str_create_future);
    Py_DECREF(loop);
    if (fut == NULL)
        return NULL;
    if (s->npending == 0) {
        PyObject *r = PyObject_CallMethodOneArg(fut, s->st->str_set_result,
                                                Py_None);
        if (r == NULL) {
            Py_DECREF(fut);
            return NULL;
        }
        Py_DECREF(r);
        return fut;
    }
    if (s->idle_waiters == NULL) {
        s->idle_waiters = PyList_New(0);
        if (s->idle_waiters == NULL) {
            Py_DECREF(fut);
            return NULL;
        }
    }
    if (PyList_Append(s->idle_waiters, fut) < 0) {
        Py_DECREF(fut);
        return NULL;
    }
    return fut;
}

PyDoc_STRVAR(take_failures_doc,
             "take_failures()\n--\n\n"
             "Returns the exceptions that rejected Outputs of this loop and "
             "that no\nrecover() handled and no user code retrieved through "
             "future() and\nthe like, oldest first, and forgets them.");

static PyObject *
Scheduler_take_failures(SchedulerObject *s, PyObject *unused)
{
    PyObject *list;

    if (settle_handed(s) < 0)
        return NULL;
    list = s->failures;
    if (list == NULL)
        return PyList_New(0);
    s->failures = NULL;
    return list;
}

PyDoc_STRVAR(report_doc,
             "report()\n--\n\n"
             "Describes each pending Output, what it waits on, and any "
             "cycle.");

static PyObject *
Scheduler_report(SchedulerObject *s, PyObject *unused)
{
    return bnd_output_pending_report(s);
}

static PyObject *
Scheduler_get_pending_count(SchedulerObject *s, void *closure)
{
    return PyLong_FromSsize_t(s->npending);
}

static PyObject *
Scheduler_get_settled_count(SchedulerObject *s, void *closure)
{
    return PyLong_FromUnsignedLongLong(s->settled);
}

static PyObject *
Scheduler_get_loop(SchedulerObject *s, void *closure)
{
    return bnd_sched_loop(s);
}

static PyObject *
Scheduler_get_flag(SchedulerObject *s, void *closure)
{
    int *flag = (int *)((char *)s + (Py_ssize_t)closure);

    return PyBool_FromLong(*flag);
}

static int
Scheduler_set_flag(SchedulerObject *s, PyObject *v, void *closure)
{
    int *flag = (int *)((char *)s + (Py_ssize_t)closure);
    int b;

    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete this flag");
        return -1;
    }
    b = PyObject_IsTrue(v);
    if (b < 0)
        return -1;
    *flag = b;
    return 0;
}

static PyObject *
Scheduler_get_site_skip(SchedulerObject *s, void *closure)
{
    return Py_NewRef(s->site_skip != NULL ? s->site_skip : Py_None);
}

static int
Scheduler_set_site_skip(SchedulerObject *s, PyObject *v, void *closure)
{
    PyObject *t;

    if (v == NULL || v == Py_None) {
        Py_CLEAR(s->site_skip);
        return 0;
    }
    t = PySequence_Tuple(v);
    if (t == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(t, i))) {
            PyErr_SetString(PyExc_TypeError,
                            "site_skip takes folder names (str)");
            Py_DECREF(t);
            return -1;
        }
    }
    Py_XSETREF(s->site_skip, t);
    return 0;
}

static PyGetSetDef Scheduler_getset[] = {
    {"pending_count", (getter)Scheduler_get_pending_count, NULL,
     "How many Outputs of this loop are pending.", NULL},
    {"settled_count", (getter)Scheduler_get_settled_count, NULL,
     "How many pending Outputs of this loop have settled so far.", NULL},
    {"loop", (getter)Scheduler_get_loop, NULL, "The event loop.", NULL},
    {"collect_failures", (getter)Scheduler_get_flag,
     (setter)Scheduler_set_flag,
     "Keep failures for take_failures() (the host sets this) instead of "
     "reporting\nunretrieved ones when their Output is freed.",
     (void *)offsetof(SchedulerObject, collect_failures)},
    {"record_sites", (getter)Scheduler_get_flag, (setter)Scheduler_set_flag,
     "Remember where each pending Output was created, for report().",
     (void *)offsetof(SchedulerObject, record_sites)},
    {"site_skip", (getter)Scheduler_get_site_skip,
     (setter)Scheduler_set_site_skip,
     "Folders (prefixes of file names) whose frames a recorded site skips: "
     "it\nnames the innermost frame outside them.  None: the innermost.",
     NULL},
    {NULL},
};

static PyMethodDef Scheduler_methods[] = {
    {"_drain", (PyCFunction)Scheduler_drain, METH_NOARGS, drain_doc},
    {"wait_idle", (PyCFunction)Scheduler_wait_idle, METH_NOARGS,
     wait_idle_doc},
    {"take_failures", (PyCFunction)Scheduler_take_failures, METH_NOARGS,
     take_failures_doc},
    {"report", (PyCFunction)Scheduler_report, METH_NOARGS, report_doc},
    {NULL, NULL, 0, NULL},
};

static int
Scheduler_traverse(SchedulerObject *s, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(s));
    Py_VISIT(s->module);
    Py_VISIT(s->loop_ref);
    Py_VISIT(s->drain);
    Py_VISIT(s->idle_waiters);
    Py_VISIT(s->failures);
    Py_VISIT(s->handed);
    Py_VISIT(s->sites);
    Py_VISIT(s->site_skip);
    for (size_t i = 0; i < s->ring_count; i++) {
        bnd_ready_entry *e = &s->ring[(s->ring_head + i) % s->ring_cap];

        Py_VISIT(e->target);
        Py_VISIT((PyObject *)e->source);
    }
    return 0;
}

static int
Scheduler_clear(SchedulerObject *s)
{
    while (s->ring_count > 0) {
        bnd_ready_entry e = s->ring[s->ring_head];

        s->ring_head = (s->ring_head + 1) % s->ring_cap;
        s->ring_count--;
        Py_DECREF(e.target);
        Py_XDECREF(e.source);
    }
    Py_CLEAR(s->drain);
    Py_CLEAR(s->idle_waiters);
    Py_CLEAR(s->failures);
    Py_CLEAR(s->handed);
    Py_CLEAR(s->sites);
    Py_CLEAR(s->site_skip);
    Py_CLEAR(s->loop_ref);
    return 0;
}

static void
Scheduler_dealloc(SchedulerObject *s)
{
    PyTypeObject *tp = Py_TYPE(s);
    bnd_state *st = s->st;

    PyObject_GC_UnTrack(s);
    if (st != NULL && st->last_sched == s)
        st->last_sched = NULL;
    if (s->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)s);
    Scheduler_clear(s);
    PyMem_Free(s->ring);
    /* Jobs hold their scheduler, so none can still post here. */
    if (s->channel != NULL)
        rt_channel_free(s->channel);
    /* Outputs keep their scheduler alive, so none is linked here. */
    assert(s->pending_first == NULL);
    Py_CLEAR(s->module);
    tp->tp_free(s);
    Py_DECREF(tp);
}

static PyObject *
Scheduler_repr(SchedulerObject *s)
{
    return PyUnicode_FromFormat("<outrun Scheduler: %zd pending, %zu ready>",
                                s->npending, s->ring_count);
}

static PyMemberDef Scheduler_members[] = {
    {"__weaklistoffset__", T_PYSSIZET,
     offsetof(SchedulerObject, weakreflist), READONLY},
    {NULL},
};

static PyType_Slot Scheduler_slots[] = {
    {Py_tp_doc, "Runs the Output continuations of one event loop; the "
                "host asks it\nwhat is pending and what failed.  Get it "
                "with _outrun.scheduler()."},
    {Py_tp_dealloc, Scheduler_dealloc},
    {Py_tp_traverse, Scheduler_traverse},
    {Py_tp_clear, Scheduler_clear},
    {Py_tp_repr, Scheduler_repr},
    {Py_tp_methods, Scheduler_methods},
    {Py_tp_getset, Scheduler_getset},
    {Py_tp_members, Scheduler_members},
    {0, NULL},
};

static PyType_Spec Scheduler_spec = {
    .name = "_outrun.Scheduler",
    .basicsize = sizeof(SchedulerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Scheduler_slots,
};

int
bnd_scheduler_init(PyObject *module, bnd_state *st)
{
    assert(PyGILState_Check());
    st->SchedulerType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Scheduler_spec, NULL);
    if (st->SchedulerType == NULL)
        return -1;
    st->schedulers = PyDict_New();
    if (st->schedulers == NULL)
        return -1;
    return PyModule_AddObjectRef(module, "Scheduler",
                                 (PyObject *)st->SchedulerType);
}
