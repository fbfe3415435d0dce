/* The core of the native Output.
 *
 * Read the invariants at the top of output.h first.  This file has:
 * creating and settling Outputs; awaitables; from_input; the steps the
 * scheduler runs for each kind of derived Output; building derived
 * Outputs.  output_api.c has the Python-visible methods and the type;
 * output_json.c json_dumps and json_loads; output_report.c the report of
 * what a run waits on.
 */
#include "output_internal.h"

#include <string.h>

static void finish_settle(OutputObject *o);

/* ================================================================== */
/* Creating and settling                                               */
/* ================================================================== */

static OutputObject *
output_alloc(bnd_state *st)
{
    OutputObject *o = PyObject_GC_New(OutputObject, st->OutputType);

    if (o == NULL)
        return NULL;
    memset((char *)o + sizeof(PyObject), 0, sizeof(*o) - sizeof(PyObject));
    return o;
}

/* Returns a new resolved Output.  Steals value and deps (deps may be
 * NULL). */
OutputObject *
bnd_output_new_resolved(bnd_state *st, PyObject *value, int known, int secret,
                        PyObject *deps)
{
    OutputObject *o = output_alloc(st);

    assert(PyGILState_Check());
    if (o == NULL) {
        Py_DECREF(value);
        Py_XDECREF(deps);
        return NULL;
    }
    if (known && bnd_contains_unknowns(st, value))
        known = 0;
    o->state = OUT_RESOLVED;
    o->value = value;
    o->known = (uint8_t)known;
    o->secret = (uint8_t)secret;
    o->deps = deps;
    PyObject_GC_Track(o);
    return o;
}

/* Returns a new pending Output of scheduler s, on its pending list. */
OutputObject *
bnd_output_new_pending(bnd_state *st, SchedulerObject *s, int op)
{
    OutputObject *o = output_alloc(st);

    assert(PyGILState_Check());
    if (o == NULL)
        return NULL;
    o->state = OUT_PENDING;
    o->op = (uint8_t)op;
    o->sched = (SchedulerObject *)Py_NewRef((PyObject *)s);
    bnd_sched_link(s, o);
    bnd_sched_note_site(s, o);
    PyObject_GC_Track(o);
    return o;
}

/* Merges more (borrowed, may be NULL) into *into (owned, may be NULL).
 * Shares the frozenset when one side is empty or holds the other.
 * Returns 0 or -1. */
static int
deps_merge(PyObject **into, PyObject *more)
{
    PyObject *it, *item, *merged;
    int missing = 0;

    if (more == NULL || more == *into || PySet_GET_SIZE(more) == 0)
        return 0;
    if (*into == NULL || PySet_GET_SIZE(*into) == 0) {
        Py_XSETREF(*into, Py_NewRef(more));
        return 0;
    }
    it = PyObject_GetIter(more);
    if (it == NULL)
        return -1;
    while ((item = PyIter_Next(it)) != NULL) {
        int has = PySet_Contains(*into, item);

        Py_DECREF(item);
        if (has < 0) {
            Py_DECREF(it);
            return -1;
        }
        if (!has) {
            missing = 1;
            break;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return -1;
    if (!missing)
        return 0;
    merged = PyFrozenSet_New(*into);
    if (merged == NULL)
        return -1;
    it = PyObject_GetIter(more);
    if (it == NULL) {
        Py_DECREF(merged);
        return -1;
    }
    while ((item = PyIter_Next(it)) != NULL) {
        int r = PySet_Add(merged, item);

        Py_DECREF(item);
        if (r < 0)
            break;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        Py_DECREF(merged);
        return -1;
    }
    Py_SETREF(*into, merged);
    return 0;
}

/* Converts any iterable of resources into a frozenset, or NULL for none.
 * Returns 0 or -1. */
int
bnd_deps_from(PyObject *obj, PyObject **out)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None)
        return 0;
    if (PyFrozenSet_CheckExact(obj)) {
        if (PySet_GET_SIZE(obj) > 0)
            *out = Py_NewRef(obj);
        return 0;
    }
    *out = PyFrozenSet_New(obj);
    if (*out == NULL)
        return -1;
    if (PySet_GET_SIZE(*out) == 0)
        Py_CLEAR(*out);
    return 0;
}

/* Reports an error that has nowhere else to go. */
static void
unraisable(PyObject *obj)
{
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(obj);
}

/* Settles o with a value.  Steals value and deps. */
void
bnd_output_resolve(OutputObject *o, PyObject *value, int known, int secret,
                   PyObject *deps)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(o));

    assert(PyGILState_Check());
    assert(o->state == OUT_PENDING);
    if (known && bnd_contains_unknowns(st, value))
        known = 0;
    Py_XSETREF(o->value, value);
    Py_XSETREF(o->deps, deps);
    o->known = (uint8_t)known;
    o->secret = (uint8_t)secret;
    o->state = OUT_RESOLVED;
    finish_settle(o);
}

/* Settles o with exc (borrowed).  origin: the failure starts here (a
 * continuation raised, an awaited input failed, the engine rejected it),
 * so the host reports it at the end unless recover() handles it. */
void
bnd_output_reject(OutputObject *o, PyObject *exc, int origin)
{
    assert(PyGILState_Check());
    assert(o->state == OUT_PENDING);
    Py_XSETREF(o->value, Py_NewRef(exc));
    Py_CLEAR(o->deps);
    o->known = 1;
    o->secret = 0;
    o->state = OUT_REJECTED;
    if (origin) {
        o->flags |= OUT_F_ORIGIN;
        if (o->sched != NULL &&
            bnd_sched_record_failure(o->sched, exc) < 0)
            unraisable((PyObject *)o);
    }
    finish_settle(o);
}

/* Predicate: is the exception that is set one that must leave the loop
 * (sys.exit(), Ctrl-C) rather than reject an Output? */
static int
exit_is_set(void)
{
    return PyErr_ExceptionMatches(PyExc_SystemExit) ||
           PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
}

void
bnd_output_abandon(OutputObject *o)
{
    bnd_exc_state saved;

    assert(PyGILState_Check());
    if (o->state != OUT_PENDING)
        return;
    saved = bnd_exc_save();
    o->flags |= OUT_F_OBSERVED;
    bnd_output_reject(o, PyExc_RuntimeError, 0);
    bnd_exc_restore(saved);
}

/* Rejects o with the exception that is set, traceback included.  A
 * SystemExit or KeyboardInterrupt settles o but stays set, so that it
 * leaves the drain and the loop as it would from any asyncio callback. */
static void
reject_with_current(OutputObject *o)
{
    PyObject *type, *value, *tb;
    int escape = exit_is_set();

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    if (value == NULL) {
        /* Cannot happen with a real exception; keep o settled anyway. */
        value = Py_NewRef(PyExc_SystemError);
    }
    if (escape) {
        o->flags |= OUT_F_OBSERVED;
        bnd_output_reject(o, value, 0);
        PyErr_Restore(type, value, tb);
        return;
    }
    bnd_output_reject(o, value, 1);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* o takes src's rejection: the same exception, not a new failure. */
static void
propagate(OutputObject *o, OutputObject *src)
{
    src->flags |= OUT_F_OBSERVED;
    bnd_output_reject(o, src->value, 0);
}

/* Everything settling does after the state is set: drop the operation,
 * leave the pending list, queue the continuations in order. */
static void
finish_settle(OutputObject *o)
{
    PyObject *cb0 = o->cb0, *callbacks = o->callbacks;
    SchedulerObject *s = o->sched;

    o->op = OP_NONE;
    o->remaining = 0;
    Py_CLEAR(o->source);
    Py_CLEAR(o->fn);
    if (o->flags & OUT_F_LINKED)
        bnd_sched_unlink(o);
    if (cb0 == NULL)
        return;
    o->cb0 = NULL;
    o->callbacks = NULL;
    if (o->state == OUT_REJECTED)
        o->flags |= OUT_F_OBSERVED;
    assert(s != NULL);
    if (bnd_sched_enqueue(s, cb0, o) < 0)
        unraisable((PyObject *)o);
    if (callbacks != NULL) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(callbacks); i++) {
            PyObject *cb = Py_NewRef(PyList_GET_ITEM(callbacks, i));

            if (bnd_sched_enqueue(s, cb, o) < 0)
                unraisable((PyObject *)o);
        }
        Py_DECREF(callbacks);
    }
}

/* Registers target (stolen) to run when src settles; if src has settled,
 * queues it on s at once.  Returns 0 or -1. */
int
bnd_output_register(bnd_state *st, SchedulerObject *s, OutputObject *src,
                    PyObject *target)
{
    assert(PyGILState_Check());
    if (src->state != OUT_PENDING)
        return bnd_sched_enqueue(s, target, src);
    if (src->sched != s) {
        Py_DECREF(target);
        if (src->sched->thread_id != PyThread_get_thread_ident())
            PyErr_SetString(PyExc_RuntimeError,
                            "this Output is pending on the event loop of "
                            "another thread; use it from that thread, or "
                            "hand the work over with "
                            "loop.call_soon_threadsafe()");
        else
            PyErr_SetString(PyExc_RuntimeError,
                            "this Output is pending on another event loop "
                            "than the running one; Outputs cannot wait "
                            "across event loops");
        return -1;
    }
    if (src->cb0 == NULL) {
        src->cb0 = target;
        return 0;
    }
    if (src->callbacks == NULL) {
        src->callbacks = PyList_New(0);
        if (src->callbacks == NULL) {
            Py_DECREF(target);
            return -1;
        }
    }
    if (PyList_Append(src->callbacks, target) < 0) {
        Py_DECREF(target);
        return -1;
    }
    Py_DECREF(target);
    return 0;
}

/* Checks that a pending Output may be settled from this thread. */
int
bnd_output_check_owner(OutputObject *o)
{
    assert(PyGILState_Check());
    if (o->sched != NULL &&
        o->sched->thread_id != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this Output is pending on the event loop of "
                        "another thread; use or settle it from that thread, "
                        "or hand the work over with "
                        "loop.call_soon_threadsafe()");
        return -1;
    }
    return 0;
}

/* ================================================================== */
/* Awaitables                                                          */
/* ================================================================== */

/* Predicate: is x something to await (not an Output)?  1, 0 or -1. */
static int
is_awaitable(bnd_state *st, PyObject *x)
{
    PyTypeObject *t = Py_TYPE(x);

    if (PyCoro_CheckExact(x))
        return 1;
    if (t->tp_as_async != NULL && t->tp_as_async->am_await != NULL)
        return 1;
    if (PyGen_Check(x)) {
        /* A generator-based coroutine (types.coroutine). */
        PyObject *r = PyObject_CallOneArg(st->isawaitable, x);
        int b;

        if (r == NULL)
            return -1;
        b = PyObject_IsTrue(r);
        Py_DECREF(r);
        return b;
    }
    return 0;
}

/* What convert does with a dict, list or tuple that holds no Output and
 * no awaitable.  from_input copies it, so that changing the container
 * afterwards does not change the Output; what a function given to apply
 * returns is the function's own and is kept as it is. */
enum { CONVERT_KEEP = 0, CONVERT_COPY = 1 };

static void take_result(bnd_state *st, OutputObject *d, PyObject *r,
                        PyObject *base_deps, int base_secret, int deep);

PyDoc_STRVAR(await_done_doc, "Settles an Output from its awaited future.");

/* Done callback of an OP_AWAIT Output's future; self is the Output. */
static PyObject *
await_done(PyObject *self, PyObject *fut)
{
    OutputObject *d = (OutputObject *)self;
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(d));
    PyObject *r, *base_deps;
    int b, base_secret;

    if (d->state != OUT_PENDING)
        Py_RETURN_NONE;
    r = PyObject_CallMethodNoArgs(fut, st->str_cancelled);
    if (r == NULL)
        goto fail;
    b = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (b < 0)
        goto fail;
    if (b) {
        PyObject *exc = PyObject_CallNoArgs(st->cancelled_error);

        if (exc == NULL)
            goto fail;
        bnd_output_reject(d, exc, 1);
        Py_DECREF(exc);
        Py_RETURN_NONE;
    }
    r = PyObject_CallMethodNoArgs(fut, st->str_exception);
    if (r == NULL)
        goto fail;
    if (r != Py_None) {
        bnd_output_reject(d, r, 1);
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    Py_DECREF(r);
    r = PyObject_CallMethodNoArgs(fut, st->str_result);
    if (r == NULL)
        goto fail;
    base_deps = d->deps;
    d->deps = NULL;
    base_secret = d->secret;
    /* What an awaited input gives goes through from_input (a copy);
     * what an awaited apply gives is converted as apply's results are. */
    take_result(st, d, r, base_deps, base_secret,
                (d->flags & OUT_F_DEEP) ? CONVERT_COPY : CONVERT_KEEP);
    Py_XDECREF(base_deps);
    if (PyErr_Occurred())
        return NULL; /* sys.exit() or Ctrl-C: leave the loop */
    Py_RETURN_NONE;
fail:
    if (d->state == OUT_PENDING)
        reject_with_current(d);
    else if (!exit_is_set())
        unraisable(self);
    if (PyErr_Occurred())
        return NULL; /* sys.exit() or Ctrl-C: leave the loop */
    Py_RETURN_NONE;
}

static PyMethodDef await_done_def = {
    "_await_done", await_done, METH_O, await_done_doc};

/* Makes d wait for awaitable x: ensure_future, then await_done.  Steals
 * nothing.  Returns 0 or -1. */
static int
await_into(bnd_state *st, OutputObject *d, PyObject *x)
{
    PyObject *fut, *cb, *r;

    fut = PyObject_CallFunctionObjArgs(st->ensure_future, x, NULL);
    if (fut == NULL)
        return -1;
    cb = PyCFunction_NewEx(&await_done_def, (PyObject *)d, NULL);
    if (cb == NULL) {
        Py_DECREF(fut);
        return -1;
    }
    d->op = OP_AWAIT;
    Py_XSETREF(d->fn, fut);
    r = PyObject_CallMethodOneArg(fut, st->str_add_done_callback, cb);
    Py_DECREF(cb);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* ================================================================== */
/* from_input                                                          */
/* ================================================================== */

static OutputObject *make_all_node(bnd_state *st, PyObject *template,
                                   PyObject *positions, PyObject *inputs,
                                   int agg, PyObject *extra);

static int convert(bnd_state *st, PyObject *x, int copy, PyObject **out);

/* c, converted from x inside a container, is an Output the program never
 * sees (unless x was that Output): its rejection reaches the program
 * through the container's Output, so it is never reported on its own, as
 * asyncio.gather() treats its children. */
static void
mark_internal(PyObject *c, PyObject *x)
{
    if (c != x)
        ((OutputObject *)c)->flags |= OUT_F_OBSERVED;
}

/* Appends (position, Output) to the lists, making them on first use. */
static int
collect_one(PyObject **positions, PyObject **inputs, PyObject *position,
            PyObject *c)
{
    if (*positions == NULL) {
        *positions = PyList_New(0);
        *inputs = PyList_New(0);
        if (*positions == NULL || *inputs == NULL)
            return -1;
    }
    if (PyList_Append(*positions, position) < 0)
        return -1;
    return PyList_Append(*inputs, c);
}

/* Converts the values of a dict, or the items of a list or tuple, into
 * *template: a new dict with the same keys, or a new list.  An item that
 * is or holds an Output or awaitable is stored as its Output, and its
 * position (key, or index) and Output are also appended to *positions and
 * *inputs, which stay NULL when there is none.  *changed is set when any
 * stored item is not x's own.  Returns 0 or -1. */
static int
collect(bnd_state *st, PyObject *x, int copy, PyObject **template,
        PyObject **positions, PyObject **inputs, int *changed)
{
    PyObject *c = NULL, *position = NULL;
    int r = 0;

    *positions = *inputs = NULL;
    *changed = 0;
    if (PyDict_Check(x)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;

        *template = PyDict_New();
        if (*template == NULL)
            return -1;
        while (PyDict_Next(x, &pos, &key, &value)) {
            Py_INCREF(key);
            Py_INCREF(value);
            r = convert(st, value, copy, &c);
            if (r == 0) {
                *changed |= c != value;
                if (Py_TYPE(c) == st->OutputType) {
                    mark_internal(c, value);
                    r = collect_one(positions, inputs, key, c);
                }
                if (r == 0)
                    r = PyDict_SetItem(*template, key, c);
            }
            Py_CLEAR(c);
            Py_DECREF(value);
            Py_DECREF(key);
            if (r < 0)
                goto error;
        }
        return 0;
    }
    *template = PyList_New(0);
    if (*template == NULL)
        return -1;
    /* The size is read again each time: converting an item can run code
     * (a task factory) that changes a list. */
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(x); i++) {
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(x, i));

        r = convert(st, item, copy, &c);
        if (r == 0) {
            *changed |= c != item;
            if (Py_TYPE(c) == st->OutputType) {
                mark_internal(c, item);
                position = PyLong_FromSsize_t(PyList_GET_SIZE(*template));
                r = position == NULL
                        ? -1
                        : collect_one(positions, inputs, position, c);
                Py_CLEAR(position);
            }
            if (r == 0)
                r = PyList_Append(*template, c);
        }
        Py_CLEAR(c);
        Py_DECREF(item);
        if (r < 0)
            goto error;
    }
    return 0;
error:
    Py_CLEAR(*template);
    Py_CLEAR(*positions);
    Py_CLEAR(*inputs);
    return -1;
}

/* Predicate: does the dict x have a key that from_input waits for (an
 * Output or an awaitable)?  1, 0 or -1. */
static int
has_input_key(bnd_state *st, PyObject *x)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;

    while (PyDict_Next(x, &pos, &key, &value)) {
        PyTypeObject *t = Py_TYPE(key);
        int r;

        if (t == st->OutputType)
            return 1;
        if (t == &PyUnicode_Type || t == &PyLong_Type)
            continue;
        r = is_awaitable(st, key);
        if (r != 0)
            return r;
    }
    return 0;
}

/* Returns a new list of [key, value] lists, one per item of the dict x. */
static PyObject *
dict_pairs(PyObject *x)
{
    PyObject *key, *value, *pairs = PyList_New(0);
    Py_ssize_t pos = 0;

    if (pairs == NULL)
        return NULL;
    while (PyDict_Next(x, &pos, &key, &value)) {
        PyObject *pair = PyList_New(2);

        if (pair == NULL) {
            Py_DECREF(pairs);
            return NULL;
        }
        PyList_SET_ITEM(pair, 0, Py_NewRef(key));
        PyList_SET_ITEM(pair, 1, Py_NewRef(value));
        if (PyList_Append(pairs, pair) < 0) {
            Py_DECREF(pair);
            Py_DECREF(pairs);
            return NULL;
        }
        Py_DECREF(pair);
    }
    return pairs;
}

/* Returns the plain value of a converted container that holds no
 * Output: the template as it is, or as a tuple for AGG_TUPLE. */
static PyObject *
plain_of(PyObject *template, int agg)
{
    if (agg == AGG_TUPLE)
        return PyList_AsTuple(template);
    return Py_NewRef(template);
}

/* Converts a non-empty dict, list or tuple into *out: an Output when it
 * is or holds an Output or awaitable (at any depth, dict keys included),
 * else a plain copy (copy), or x itself. */
static int
convert_container(bnd_state *st, PyObject *x, int copy, PyObject **out)
{
    PyObject *positions = NULL, *inputs = NULL, *template = NULL;
    PyObject *items = NULL;
    int agg = PyDict_Check(x) ? AGG_DICT
              : PyTuple_Check(x) ? AGG_TUPLE
                                 : AGG_LIST;
    int rc = -1, changed;

    *out = NULL;
    if (Py_EnterRecursiveCall(" while converting an input to an Output"))
        return -1;
    if (agg == AGG_DICT) {
        int keyed = has_input_key(st, x);

        if (keyed < 0)
            goto done;
        if (keyed) {
            /* Keys are waited for too: convert the dict's [key, value]
             * pairs and build the dict from them once they settle. */
            items = dict_pairs(x);
            if (items == NULL)
                goto done;
            agg = AGG_PAIRS;
        }
    }
    if (collect(st, items != NULL ? items : x, copy, &template, &positions,
                &inputs, &changed) < 0)
        goto done;
    if (positions != NULL)
        *out = (PyObject *)make_all_node(st, template, positions, inputs,
                                         agg, NULL);
    else if (copy || changed)
        *out = plain_of(template, agg);
    else
        *out = Py_NewRef(x);
    rc = *out == NULL ? -1 : 0;
done:
    Py_LeaveRecursiveCall();
    Py_XDECREF(items);
    Py_XDECREF(template);
    Py_XDECREF(positions);
    Py_XDECREF(inputs);
    return rc;
}

/* The core of from_input.  Sets *out to a new reference: an Output when
 * x is or holds an Output or an awaitable, else x's plain value (a copy
 * of a container when copy, else x itself).  Returns 0 or -1. */
static int
convert(bnd_state *st, PyObject *x, int copy, PyObject **out)
{
    PyTypeObject *t = Py_TYPE(x);
    int r;

    *out = NULL;
    if (t == st->OutputType || t == &PyUnicode_Type || t == &PyLong_Type ||
        x == Py_None || t == &PyFloat_Type || t == &PyBool_Type ||
        t == &PyBytes_Type) {
        *out = Py_NewRef(x);
        return 0;
    }
    if (PyDict_Check(x) || PyList_Check(x) || PyTuple_Check(x)) {
        if ((PyDict_Check(x) ? PyDict_GET_SIZE(x) : Py_SIZE(x)) == 0) {
            /* from_input gives a new empty container of the same kind. */
            if (!copy || t == &PyTuple_Type)
                *out = Py_NewRef(x);
            else
                *out = PyDict_Check(x)    ? PyDict_New()
                       : PyTuple_Check(x) ? PyTuple_New(0)
                                          : PyList_New(0);
            return *out == NULL ? -1 : 0;
        }
        return convert_container(st, x, copy, out);
    }
    r = is_awaitable(st, x);
    if (r < 0)
        return -1;
    if (r == 0) {
        *out = Py_NewRef(x);
        return 0;
    }
    {
        SchedulerObject *s = bnd_sched_current(st);
        OutputObject *d;

        if (s == NULL)
            return -1;
        d = bnd_output_new_pending(st, s, OP_AWAIT);
        if (d == NULL)
            return -1;
        d->flags |= OUT_F_DEEP;
        if (await_into(st, d, x) < 0) {
            /* The failure is the caller's to see; settle d quietly so
             * that nothing waits for it. */
            bnd_output_abandon(d);
            Py_DECREF(d);
            return -1;
        }
        *out = (PyObject *)d;
    }
    return 0;
}

PyObject *
bnd_output_from_input(bnd_state *st, PyObject *x)
{
    PyObject *out;

    assert(PyGILState_Check());
    if (convert(st, x, CONVERT_COPY, &out) < 0)
        return NULL;
    if (Py_TYPE(out) == st->OutputType)
        return out;
    return (PyObject *)bnd_output_new_resolved(st, out, 1, 0, NULL);
}

/* ================================================================== */
/* Results of continuations                                            */
/* ================================================================== */

/* d (pending) takes r (stolen), the result of its function, with the
 * facts base_deps (borrowed) and base_secret of its source.  r goes
 * through from_input's conversion first, so that no Output's value ever
 * holds an Output: copy is CONVERT_COPY for what from_input itself gives
 * (awaited inputs, recover), CONVERT_KEEP for what apply's function
 * returns. */
static void
take_result(bnd_state *st, OutputObject *d, PyObject *r, PyObject *base_deps,
            int base_secret, int copy)
{
    if (Py_TYPE(r) != st->OutputType) {
        PyObject *c;
        int aw = is_awaitable(st, r);

        if (aw < 0) {
            Py_DECREF(r);
            reject_with_current(d);
            return;
        }
        if (aw) {
            /* d awaits it itself; await_done converts what it gives. */
            Py_XSETREF(d->deps, Py_XNewRef(base_deps));
            d->secret = (uint8_t)base_secret;
            Py_CLEAR(d->source);
            if (await_into(st, d, r) < 0)
                reject_with_current(d);
            Py_DECREF(r);
            return;
        }
        if (convert(st, r, copy, &c) < 0) {
            Py_DECREF(r);
            reject_with_current(d);
            return;
        }
        Py_SETREF(r, c);
    }
    if (Py_TYPE(r) == st->OutputType) {
        OutputObject *inner = (OutputObject *)r;

        if (inner->state == OUT_RESOLVED) {
            PyObject *deps = Py_XNewRef(base_deps);

            if (deps_merge(&deps, inner->deps) < 0) {
                Py_XDECREF(deps);
                Py_DECREF(r);
                reject_with_current(d);
                return;
            }
            bnd_output_resolve(d, Py_NewRef(inner->value), inner->known,
                        inner->secret || base_secret, deps);
        } else if (inner->state == OUT_REJECTED) {
            propagate(d, inner);
        } else {
            d->op = OP_FLATTEN;
            Py_XSETREF(d->deps, Py_XNewRef(base_deps));
            d->secret = (uint8_t)base_secret;
            Py_XSETREF(d->source, Py_NewRef(r));
            Py_CLEAR(d->fn);
            if (bnd_output_register(st, d->sched, inner,
                                      Py_NewRef((PyObject *)d)) < 0)
                reject_with_current(d);
        }
        Py_DECREF(r);
        return;
    }
    bnd_output_resolve(d, r, 1, base_secret, Py_XNewRef(base_deps));
}

/* ================================================================== */
/* Steps: what the scheduler runs when a source settles                */
/* ================================================================== */

static void
step_apply(bnd_state *st, OutputObject *d, OutputObject *src)
{
    PyObject *arg, *r;

    if (src->state == OUT_REJECTED) {
        propagate(d, src);
        return;
    }
    if (!src->known && !(d->flags & OUT_F_RUN_UNKNOWNS)) {
        bnd_output_resolve(d, Py_NewRef(Py_None), 0, src->secret,
                    Py_XNewRef(src->deps));
        return;
    }
    arg = src->value;
    if (!src->known && !bnd_contains_unknowns(st, arg))
        arg = st->unknown;
    switch (d->agg) {
    case LIFT_ATTR:
        r = Py_IS_TYPE(arg, st->UnknownType) ? Py_NewRef(st->unknown)
                                             : PyObject_GetAttr(arg, d->fn);
        break;
    case LIFT_ITEM:
        r = Py_IS_TYPE(arg, st->UnknownType) ? Py_NewRef(st->unknown)
                                             : PyObject_GetItem(arg, d->fn);
        break;
    default:
        r = PyObject_CallOneArg(d->fn, arg);
        break;
    }
    if (r == NULL) {
        reject_with_current(d);
        return;
    }
    take_result(st, d, r, src->deps, src->secret, CONVERT_KEEP);
}

static void
step_flatten(OutputObject *d, OutputObject *inner)
{
    PyObject *deps;

    if (inner->state == OUT_REJECTED) {
        propagate(d, inner);
        return;
    }
    deps = d->deps;
    d->deps = NULL;
    if (deps_merge(&deps, inner->deps) < 0) {
        Py_XDECREF(deps);
        reject_with_current(d);
        return;
    }
    bnd_output_resolve(d, Py_NewRef(inner->value), inner->known,
                inner->secret || d->secret, deps);
}

static void
step_recover(bnd_state *st, OutputObject *d, OutputObject *src)
{
    PyObject *exc = src->value, *r;

    if (src->state == OUT_RESOLVED) {
        bnd_output_resolve(d, Py_NewRef(src->value), src->known, src->secret,
                    Py_XNewRef(src->deps));
        return;
    }
    src->flags |= OUT_F_OBSERVED;
    if (!PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_Exception)) {
        /* Cancellation and exits are not the program's to recover. */
        bnd_output_reject(d, exc, 0);
        return;
    }
    bnd_sched_forget_failure(src->sched, exc);
    bnd_sched_forget_failure(d->sched, exc);
    r = PyObject_CallOneArg(d->fn, exc);
    if (r == NULL) {
        reject_with_current(d);
        return;
    }
    take_result(st, d, r, NULL, 0, CONVERT_COPY);
}

static void
step_secret(OutputObject *d, OutputObject *src)
{
    if (src->state == OUT_REJECTED) {
        propagate(d, src);
        return;
    }
    bnd_output_resolve(d, Py_NewRef(src->value), src->known, d->agg,
                Py_XNewRef(src->deps));
}

/* Returns a new dict of pairs, a list of [key, value] lists (AGG_PAIRS:
 * a dict whose keys were Outputs). */
static PyObject *
dict_of_pairs(PyObject *pairs)
{
    PyObject *d = PyDict_New();

    if (d == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pairs); i++) {
        PyObject *pair = PyList_GET_ITEM(pairs, i);

        if (!PyList_CheckExact(pair) || PyList_GET_SIZE(pair) != 2) {
            /* An unknown pair: UNKNOWN in place of [key, value]. */
            continue;
        }
        if (PyDict_SetItem(d, PyList_GET_ITEM(pair, 0),
                           PyList_GET_ITEM(pair, 1)) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

/* Builds the value of an OP_ALL Output from its settled inputs and
 * settles it. */
static void
aggregate(bnd_state *st, OutputObject *d, PyObject *inputs, PyObject *info,
          int agg)
{
    PyObject *template = PyTuple_GET_ITEM(info, 0);
    PyObject *positions = PyTuple_GET_ITEM(info, 1);
    PyObject *value = NULL, *deps = NULL, *result = NULL;
    int known = 1, secret = 0;
    Py_ssize_t n = PyTuple_GET_SIZE(inputs);

    value = PyDict_Check(template) ? PyDict_Copy(template)
                                   : PyList_GetSlice(template, 0,
                                                     PY_SSIZE_T_MAX);
    if (value == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        OutputObject *in = (OutputObject *)PyTuple_GET_ITEM(inputs, i);
        PyObject *pos = PyTuple_GET_ITEM(positions, i);
        PyObject *v = in->value;
        int r;

        if (!in->known) {
            known = 0;
            if (!bnd_contains_unknowns(st, v))
                v = st->unknown;
        }
        secret |= in->secret;
        if (deps_merge(&deps, in->deps) < 0)
            goto fail;
        if (PyDict_Check(value))
            r = PyDict_SetItem(value, pos, v);
        else
            r = PyList_SetItem(value, PyLong_AsSsize_t(pos), Py_NewRef(v));
        if (r < 0)
            goto fail;
    }
    switch (agg) {
    case AGG_TUPLE:
        result = PyList_AsTuple(value);
        break;
    case AGG_PAIRS:
        result = dict_of_pairs(value);
        break;
    case AGG_CONCAT:
        result = known ? PyUnicode_Join(st->empty_str, value)
                       : Py_NewRef(Py_None);
        break;
    case AGG_FORMAT: {
        /* info: (template, positions, nargs, kwnames); value[0] is the
         * format string, then nargs positional values, then the keyword
         * values in kwnames' order. */
        Py_ssize_t nargs = PyLong_AsSsize_t(PyTuple_GET_ITEM(info, 2));
        PyObject *kwnames = PyTuple_GET_ITEM(info, 3);
        PyObject *args = NULL, *kwargs = NULL, *method = NULL;

        if (!known || bnd_contains_unknowns(st, value)) {
            known = 0;
            result = Py_NewRef(st->unknown);
            break;
        }
        args = PyList_GetSlice(value, 1, 1 + nargs);
        kwargs = PyDict_New();
        if (args == NULL || kwargs == NULL)
            goto format_done;
        Py_SETREF(args, PyList_AsTuple(args));
        if (args == NULL)
            goto format_done;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i),
                               PyList_GET_ITEM(value, 1 + nargs + i)) < 0)
                goto format_done;
        }
        method = PyObject_GetAttr(PyList_GET_ITEM(value, 0), st->str_format);
        if (method != NULL)
            result = PyObject_Call(method, args, kwargs);
    format_done:
        Py_XDECREF(method);
        Py_XDECREF(args);
        Py_XDECREF(kwargs);
        break;
    }
    default:
        result = Py_NewRef(value);
        break;
    }
    if (result == NULL)
        goto fail;
    Py_DECREF(value);
    bnd_output_resolve(d, result, known, secret, deps);
    return;
fail:
    Py_XDECREF(value);
    Py_XDECREF(deps);
    reject_with_current(d);
}

static void
step_all(bnd_state *st, OutputObject *d, OutputObject *src)
{
    PyObject *inputs, *info;

    if (src->state == OUT_REJECTED) {
        propagate(d, src);
        return;
    }
    if (--d->remaining > 0)
        return;
    /* Hold the operation fields: settling clears them. */
    inputs = Py_NewRef(d->source);
    info = Py_NewRef(d->fn);
    aggregate(st, d, inputs, info, d->agg);
    Py_DECREF(inputs);
    Py_DECREF(info);
}

int
bnd_output_step(bnd_state *st, PyObject *target, OutputObject *source)
{
    OutputObject *d;

    assert(PyGILState_Check());
    if (Py_TYPE(target) != st->OutputType) {
        /* An outside callback: future(), deferred_output, a user's. */
        PyObject *r = PyObject_CallOneArg(target, (PyObject *)source);

        if (r == NULL) {
            if (exit_is_set())
                return -1;
            unraisable(target);
        }
        Py_XDECREF(r);
        return 0;
    }
    d = (OutputObject *)target;
    if (d->state != OUT_PENDING)
        return 0; /* an OP_ALL already rejected by another input */
    switch (d->op) {
    case OP_APPLY:
        step_apply(st, d, source);
        break;
    case OP_FLATTEN:
        step_flatten(d, source);
        break;
    case OP_ALL:
        step_all(st, d, source);
        break;
    case OP_RECOVER:
        step_recover(st, d, source);
        break;
    case OP_SECRET:
        step_secret(d, source);
        break;
    default:
        break;
    }
    if (PyErr_Occurred()) {
        if (exit_is_set())
            return -1;
        unraisable(target);
    }
    return 0;
}

/* ================================================================== */
/* Building derived Outputs                                            */
/* ================================================================== */

/* Returns a new Output that runs op on src: apply, lifting, recover,
 * secret. */
PyObject *
bnd_output_derive(OutputObject *src, int op, int agg, PyObject *fn, int flags)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(src));
    SchedulerObject *s;
    OutputObject *d;

    assert(PyGILState_Check());
    if (src->state == OUT_PENDING) {
        /* d runs on src's loop, the only one that can settle src. */
        if (bnd_output_check_owner(src) < 0)
            return NULL;
        s = src->sched;
    } else {
        s = bnd_sched_current(st);
        if (s == NULL)
            return NULL;
    }
    d = bnd_output_new_pending(st, s, op);
    if (d == NULL)
        return NULL;
    d->agg = (uint8_t)agg;
    d->flags |= (uint8_t)flags;
    d->fn = Py_XNewRef(fn);
    d->source = Py_NewRef((PyObject *)src);
    if (bnd_output_register(st, s, src, Py_NewRef((PyObject *)d)) < 0) {
        /* d never runs: settle it so nothing waits for it. */
        bnd_output_abandon(d);
        Py_DECREF(d);
        return NULL;
    }
    return (PyObject *)d;
}

/* Returns a new OP_ALL Output over inputs (a list of Outputs, at
 * positions of template), or a settled one when every input has. */
static OutputObject *
make_all_node(bnd_state *st, PyObject *template, PyObject *positions,
              PyObject *inputs, int agg, PyObject *extra)
{
    PyObject *in_tuple = NULL, *info = NULL;
    OutputObject *d = NULL;
    Py_ssize_t n = PyList_GET_SIZE(inputs), npending = 0;
    OutputObject *rejected = NULL;
    SchedulerObject *s = NULL;

    for (Py_ssize_t i = 0; i < n; i++) {
        OutputObject *in = (OutputObject *)PyList_GET_ITEM(inputs, i);

        if (in->state == OUT_PENDING)
            npending++;
        else if (in->state == OUT_REJECTED && rejected == NULL)
            rejected = in;
    }
    in_tuple = PyList_AsTuple(inputs);
    if (in_tuple == NULL)
        goto error;
    {
        PyObject *pos = PyList_Check(positions) ? PyList_AsTuple(positions)
                                                : Py_NewRef(positions);
        if (pos == NULL)
            goto error;
        info = extra == NULL ? PyTuple_Pack(2, template, pos)
                             : PyTuple_Pack(4, template, pos,
                                            PyTuple_GET_ITEM(extra, 0),
                                            PyTuple_GET_ITEM(extra, 1));
        Py_DECREF(pos);
        if (info == NULL)
            goto error;
    }
    if (rejected != NULL || npending == 0) {
        /* Everything is in: settle now, no scheduling needed. */
        d = output_alloc(st);
        if (d == NULL)
            goto error;
        d->state = OUT_PENDING;
        /* Belong to the running loop when there is one, so that a failure
         * here (concat of a non-str) is reported like any other. */
        s = bnd_sched_current(st);
        if (s == NULL)
            PyErr_Clear();
        else
            d->sched = (SchedulerObject *)Py_NewRef((PyObject *)s);
        PyObject_GC_Track(d);
        if (rejected != NULL)
            propagate(d, rejected);
        else
            aggregate(st, d, in_tuple, info, agg);
        goto done;
    }
    s = bnd_sched_current(st);
    if (s == NULL)
        goto error;
    d = bnd_output_new_pending(st, s, OP_ALL);
    if (d == NULL)
        goto error;
    d->agg = (uint8_t)agg;
    d->remaining = (uint32_t)npending;
    d->source = Py_NewRef(in_tuple);
    d->fn = Py_NewRef(info);
    for (Py_ssize_t i = 0; i < n; i++) {
        OutputObject *in = (OutputObject *)PyTuple_GET_ITEM(in_tuple, i);

        if (in->state != OUT_PENDING)
            continue;
        if (bnd_output_register(st, s, in, Py_NewRef((PyObject *)d)) <
            0) {
            bnd_output_abandon(d);
            Py_CLEAR(d);
            goto error;
        }
    }
done:
    Py_XDECREF(in_tuple);
    Py_XDECREF(info);
    return d;
error:
    Py_XDECREF(in_tuple);
    Py_XDECREF(info);
    return NULL;
}

/* Converts args (a tuple, or a dict when kw) into an OP_ALL Output. */
PyObject *
bnd_output_all_of(bnd_state *st, PyObject *template, int agg, PyObject *extra)
{
    PyObject *positions, *inputs, *converted, *result = NULL;
    int changed;

    assert(PyGILState_Check());
    if (collect(st, template, CONVERT_COPY, &converted, &positions,
                &inputs, &changed) < 0)
        return NULL;
    if (positions == NULL) {
        positions = PyList_New(0);
        inputs = PyList_New(0);
    }
    if (positions != NULL && inputs != NULL)
        result = (PyObject *)make_all_node(st, converted, positions, inputs,
                                           agg, extra);
    Py_DECREF(converted);
    Py_XDECREF(positions);
    Py_XDECREF(inputs);
    return result;
}

