/* The native Output type.
 *
 * Read the invariants at the top of output.h first.  This file has:
 * creating and settling Outputs; from_input; the steps the scheduler runs
 * for each kind of derived Output; the public methods; the dunders that
 * catch mistakes; the engine's interface; the pending report; the type.
 */
#include "output.h"
#include "compat.h"

#include "config.h"

#include <string.h>

static PyObject *output_from_input(bnd_state *st, PyObject *x);
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
static OutputObject *
new_resolved(bnd_state *st, PyObject *value, int known, int secret,
             PyObject *deps)
{
    OutputObject *o = output_alloc(st);

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
static OutputObject *
new_pending(bnd_state *st, SchedulerObject *s, int op)
{
    OutputObject *o = output_alloc(st);

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
static int
deps_from(PyObject *obj, PyObject **out)
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
static void
resolve_now(OutputObject *o, PyObject *value, int known, int secret,
            PyObject *deps)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(o));

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
static void
reject_now(OutputObject *o, PyObject *exc, int origin)
{
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

/* Rejects o with the exception that is set, traceback included. */
static void
reject_with_current(OutputObject *o)
{
    PyObject *type, *value, *tb;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    if (value == NULL) {
        /* Cannot happen with a real exception; keep o settled anyway. */
        value = Py_NewRef(PyExc_SystemError);
    }
    reject_now(o, value, 1);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* o takes src's rejection: the same exception, not a new failure. */
static void
propagate(OutputObject *o, OutputObject *src)
{
    src->flags |= OUT_F_OBSERVED;
    reject_now(o, src->value, 0);
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
static int
register_continuation(bnd_state *st, SchedulerObject *s, OutputObject *src,
                      PyObject *target)
{
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
static int
check_owner_thread(OutputObject *o)
{
    if (o->sched != NULL &&
        o->sched->thread_id != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this Output belongs to the event loop of another "
                        "thread; settle it from that thread, for instance "
                        "with loop.call_soon_threadsafe()");
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
        reject_now(d, exc, 1);
        Py_DECREF(exc);
        Py_RETURN_NONE;
    }
    r = PyObject_CallMethodNoArgs(fut, st->str_exception);
    if (r == NULL)
        goto fail;
    if (r != Py_None) {
        reject_now(d, r, 1);
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
    if (d->flags & OUT_F_DEEP)
        /* from_input: what an awaited input gives goes through
         * from_input too. */
        take_result(st, d, r, base_deps, base_secret, 1);
    else
        /* apply: an awaited result is the value as it is. */
        resolve_now(d, r, 1, base_secret, Py_XNewRef(base_deps));
    Py_XDECREF(base_deps);
    Py_RETURN_NONE;
fail:
    if (d->state == OUT_PENDING)
        reject_with_current(d);
    else
        unraisable(self);
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

static int convert(bnd_state *st, PyObject *x, PyObject **out);

/* Converts the items of a list or tuple (or the values of a dict).  *out
 * is NULL when none holds an Output or awaitable. */
static int
convert_container(bnd_state *st, PyObject *x, PyObject **out)
{
    PyObject *positions = NULL, *inputs = NULL, *template = NULL;
    int agg, rc = -1;

    *out = NULL;
    if (Py_EnterRecursiveCall(" while converting an input to an Output"))
        return -1;
    if (PyDict_Check(x)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;

        agg = AGG_DICT;
        while (PyDict_Next(x, &pos, &key, &value)) {
            PyObject *c;

            Py_INCREF(key);
            Py_INCREF(value);
            if (convert(st, value, &c) < 0) {
                Py_DECREF(key);
                Py_DECREF(value);
                goto done;
            }
            Py_DECREF(value);
            if (c != NULL) {
                if (positions == NULL) {
                    positions = PyList_New(0);
                    inputs = PyList_New(0);
                    if (positions == NULL || inputs == NULL) {
                        Py_DECREF(key);
                        Py_DECREF(c);
                        goto done;
                    }
                }
                if (PyList_Append(positions, key) < 0 ||
                    PyList_Append(inputs, c) < 0) {
                    Py_DECREF(key);
                    Py_DECREF(c);
                    goto done;
                }
                Py_DECREF(c);
            }
            Py_DECREF(key);
        }
    } else {
        agg = PyTuple_Check(x) ? AGG_TUPLE : AGG_LIST;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(x); i++) {
            PyObject *item = PySequence_Fast_GET_ITEM(x, i);
            PyObject *c, *index;

            Py_INCREF(item);
            if (convert(st, item, &c) < 0) {
                Py_DECREF(item);
                goto done;
            }
            Py_DECREF(item);
            if (c == NULL)
                continue;
            if (positions == NULL) {
                positions = PyList_New(0);
                inputs = PyList_New(0);
                if (positions == NULL || inputs == NULL) {
                    Py_DECREF(c);
                    goto done;
                }
            }
            index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(positions, index) < 0 ||
                PyList_Append(inputs, c) < 0) {
                Py_XDECREF(index);
                Py_DECREF(c);
                goto done;
            }
            Py_DECREF(index);
            Py_DECREF(c);
        }
    }
    if (positions == NULL) {
        rc = 0;
        goto done;
    }
    template = agg == AGG_DICT ? PyDict_Copy(x) : PySequence_List(x);
    if (template == NULL)
        goto done;
    *out = (PyObject *)make_all_node(st, template, positions, inputs, agg,
                                     NULL);
    rc = *out == NULL ? -1 : 0;
done:
    Py_LeaveRecursiveCall();
    Py_XDECREF(template);
    Py_XDECREF(positions);
    Py_XDECREF(inputs);
    return rc;
}

/* The core of from_input.  Sets *out to a new Output when x is or holds an
 * Output or an awaitable, else to NULL (x stands for itself).  Returns 0 or
 * -1. */
static int
convert(bnd_state *st, PyObject *x, PyObject **out)
{
    PyTypeObject *t = Py_TYPE(x);
    int r;

    *out = NULL;
    if (t == st->OutputType) {
        *out = Py_NewRef(x);
        return 0;
    }
    if (t == &PyUnicode_Type || t == &PyLong_Type || x == Py_None ||
        t == &PyFloat_Type || t == &PyBool_Type || t == &PyBytes_Type)
        return 0;
    if (PyDict_Check(x) || PyList_Check(x) || PyTuple_Check(x)) {
        if ((PyDict_Check(x) ? PyDict_GET_SIZE(x) : Py_SIZE(x)) == 0)
            return 0;
        return convert_container(st, x, out);
    }
    r = is_awaitable(st, x);
    if (r <= 0)
        return r;
    {
        SchedulerObject *s = bnd_sched_current(st);
        OutputObject *d;

        if (s == NULL)
            return -1;
        d = new_pending(st, s, OP_AWAIT);
        if (d == NULL)
            return -1;
        d->flags |= OUT_F_DEEP;
        if (await_into(st, d, x) < 0) {
            /* The failure is the caller's to see; settle d quietly so
             * that nothing waits for it. */
            bnd_exc_state exc = bnd_exc_save();

            d->flags |= OUT_F_OBSERVED;
            reject_now(d, PyExc_RuntimeError, 0);
            bnd_exc_restore(exc);
            Py_DECREF(d);
            return -1;
        }
        *out = (PyObject *)d;
    }
    return 0;
}

static PyObject *
output_from_input(bnd_state *st, PyObject *x)
{
    PyObject *out;

    if (convert(st, x, &out) < 0)
        return NULL;
    if (out != NULL)
        return out;
    return (PyObject *)new_resolved(st, Py_NewRef(x), 1, 0, NULL);
}

/* ================================================================== */
/* Results of continuations                                            */
/* ================================================================== */

/* d (pending) takes r (stolen), the result of its function, with the
 * facts base_deps (borrowed) and base_secret of its source.  deep: pass r
 * through from_input first (awaited inputs, recover). */
static void
take_result(bnd_state *st, OutputObject *d, PyObject *r, PyObject *base_deps,
            int base_secret, int deep)
{
    int aw;

    if (deep && Py_TYPE(r) != st->OutputType) {
        PyObject *c;

        if (convert(st, r, &c) < 0) {
            Py_DECREF(r);
            reject_with_current(d);
            return;
        }
        if (c != NULL)
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
            resolve_now(d, Py_NewRef(inner->value), inner->known,
                        inner->secret || base_secret, deps);
        } else if (inner->state == OUT_REJECTED) {
            propagate(d, inner);
        } else {
            d->op = OP_FLATTEN;
            Py_XSETREF(d->deps, Py_XNewRef(base_deps));
            d->secret = (uint8_t)base_secret;
            Py_XSETREF(d->source, Py_NewRef(r));
            Py_CLEAR(d->fn);
            if (register_continuation(st, d->sched, inner,
                                      Py_NewRef((PyObject *)d)) < 0)
                reject_with_current(d);
        }
        Py_DECREF(r);
        return;
    }
    aw = is_awaitable(st, r);
    if (aw < 0) {
        Py_DECREF(r);
        reject_with_current(d);
        return;
    }
    if (aw) {
        Py_XSETREF(d->deps, Py_XNewRef(base_deps));
        d->secret = (uint8_t)base_secret;
        Py_CLEAR(d->source);
        if (await_into(st, d, r) < 0)
            reject_with_current(d);
        Py_DECREF(r);
        return;
    }
    resolve_now(d, r, 1, base_secret, Py_XNewRef(base_deps));
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
        resolve_now(d, Py_NewRef(Py_None), 0, src->secret,
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
    take_result(st, d, r, src->deps, src->secret, 0);
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
    resolve_now(d, Py_NewRef(inner->value), inner->known,
                inner->secret || d->secret, deps);
}

static void
step_recover(bnd_state *st, OutputObject *d, OutputObject *src)
{
    PyObject *exc = src->value, *r;

    if (src->state == OUT_RESOLVED) {
        resolve_now(d, Py_NewRef(src->value), src->known, src->secret,
                    Py_XNewRef(src->deps));
        return;
    }
    src->flags |= OUT_F_OBSERVED;
    if (!PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_Exception)) {
        /* Cancellation and exits are not the program's to recover. */
        reject_now(d, exc, 0);
        return;
    }
    bnd_sched_forget_failure(src->sched, exc);
    bnd_sched_forget_failure(d->sched, exc);
    r = PyObject_CallOneArg(d->fn, exc);
    if (r == NULL) {
        reject_with_current(d);
        return;
    }
    take_result(st, d, r, NULL, 0, 1);
}

static void
step_secret(OutputObject *d, OutputObject *src)
{
    if (src->state == OUT_REJECTED) {
        propagate(d, src);
        return;
    }
    resolve_now(d, Py_NewRef(src->value), src->known, d->agg,
                Py_XNewRef(src->deps));
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
    resolve_now(d, result, known, secret, deps);
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

void
bnd_output_step(bnd_state *st, PyObject *target, OutputObject *source)
{
    OutputObject *d;

    if (Py_TYPE(target) != st->OutputType) {
        /* An outside callback: future(), deferred_output, a user's. */
        PyObject *r = PyObject_CallOneArg(target, (PyObject *)source);

        if (r == NULL)
            unraisable(target);
        Py_XDECREF(r);
        return;
    }
    d = (OutputObject *)target;
    if (d->state != OUT_PENDING)
        return; /* an OP_ALL already rejected by another input */
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
    unraisable(target);
}

/* ================================================================== */
/* Building derived Outputs                                            */
/* ================================================================== */

/* Returns a new Output that runs op on src: apply, lifting, recover,
 * secret. */
static PyObject *
make_derived(OutputObject *src, int op, int agg, PyObject *fn, int flags)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(src));
    SchedulerObject *s;
    OutputObject *d;

    s = bnd_sched_current(st);
    if (s == NULL)
        return NULL;
    d = new_pending(st, s, op);
    if (d == NULL)
        return NULL;
    d->agg = (uint8_t)agg;
    d->flags |= (uint8_t)flags;
    d->fn = Py_XNewRef(fn);
    d->source = Py_NewRef((PyObject *)src);
    if (register_continuation(st, s, src, Py_NewRef((PyObject *)d)) < 0) {
        /* d never runs: settle it so nothing waits for it. */
        bnd_exc_state exc = bnd_exc_save();

        d->flags |= OUT_F_OBSERVED;
        reject_now(d, PyExc_RuntimeError, 0);
        bnd_exc_restore(exc);
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
    d = new_pending(st, s, OP_ALL);
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
        if (register_continuation(st, s, in, Py_NewRef((PyObject *)d)) <
            0) {
            bnd_exc_state exc = bnd_exc_save();

            if (d->state == OUT_PENDING) {
                d->flags |= OUT_F_OBSERVED;
                reject_now(d, PyExc_RuntimeError, 0);
            }
            bnd_exc_restore(exc);
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
static PyObject *
all_of(bnd_state *st, PyObject *template, int agg, PyObject *extra)
{
    PyObject *positions = PyList_New(0), *inputs = PyList_New(0);
    PyObject *result = NULL;

    if (positions == NULL || inputs == NULL)
        goto done;
    if (PyDict_Check(template)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;

        while (PyDict_Next(template, &pos, &key, &value)) {
            PyObject *c;

            if (convert(st, value, &c) < 0)
                goto done;
            if (c == NULL)
                continue;
            if (PyList_Append(positions, key) < 0 ||
                PyList_Append(inputs, c) < 0) {
                Py_DECREF(c);
                goto done;
            }
            Py_DECREF(c);
        }
    } else {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(template); i++) {
            PyObject *c, *index;

            if (convert(st, PyList_GET_ITEM(template, i), &c) < 0)
                goto done;
            if (c == NULL)
                continue;
            index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(positions, index) < 0 ||
                PyList_Append(inputs, c) < 0) {
                Py_XDECREF(index);
                Py_DECREF(c);
                goto done;
            }
            Py_DECREF(index);
            Py_DECREF(c);
        }
    }
    result = (PyObject *)make_all_node(st, template, positions, inputs, agg,
                                       extra);
done:
    Py_XDECREF(positions);
    Py_XDECREF(inputs);
    return result;
}

/* ================================================================== */
/* Public methods                                                      */
/* ================================================================== */

PyDoc_STRVAR(Output_apply_doc,
             "apply(func, run_with_unknowns=False)\n--\n\n"
             "Returns an Output of func(value), run once this Output is "
             "resolved.\n\nfunc may return a plain value, an Output (its "
             "value, secrecy and\ndependencies are merged in) or an "
             "awaitable (awaited).  func is\nskipped for an unknown value "
             "unless run_with_unknowns is true, and\nfor a rejected "
             "Output, whose exception the result takes.");

static PyObject *
Output_apply(OutputObject *self, PyObject *const *args, Py_ssize_t nargs,
             PyObject *kwnames)
{
    PyObject *fn = NULL;
    int run_unknowns = 0;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs < 1 || nargs > 2 || nargs + nkw > 2) {
        if (nargs + nkw == 0)
            PyErr_SetString(PyExc_TypeError,
                            "apply() needs a function: "
                            "o.apply(lambda value: ...)");
        else
            PyErr_SetString(PyExc_TypeError,
                            "apply() takes func and run_with_unknowns");
        return NULL;
    }
    fn = args[0];
    if (nargs == 2) {
        run_unknowns = PyObject_IsTrue(args[1]);
        if (run_unknowns < 0)
            return NULL;
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);

        if (PyUnicode_CompareWithASCIIString(name, "run_with_unknowns") !=
            0) {
            PyErr_Format(PyExc_TypeError,
                         "apply() got an unexpected keyword argument '%U'",
                         name);
            return NULL;
        }
        run_unknowns = PyObject_IsTrue(args[nargs + i]);
        if (run_unknowns < 0)
            return NULL;
    }
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError,
                     "apply() needs a function, not %.100s: "
                     "o.apply(lambda value: ...)",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    return make_derived(self, OP_APPLY, LIFT_NONE, fn,
                        run_unknowns ? OUT_F_RUN_UNKNOWNS : 0);
}

PyDoc_STRVAR(Output_recover_doc,
             "recover(func)\n--\n\n"
             "Returns an Output with this Output's data, or, if it is "
             "rejected with\nan Exception, with func(exception)'s result.  A "
             "recovered failure\nno longer fails the run.");

static PyObject *
Output_recover(OutputObject *self, PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError,
                     "recover() needs a function of the exception, not "
                     "%.100s",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    return make_derived(self, OP_RECOVER, 0, fn, 0);
}

PyDoc_STRVAR(Output_from_input_doc,
             "from_input(value, /)\n--\n\n"
             "Returns an Output of value, deeply: Outputs and awaitables "
             "inside\ndicts, lists and tuples are waited for and replaced by "
             "their values.");

static PyObject *
Output_from_input(PyObject *cls, PyObject *x)
{
    return output_from_input(bnd_get_state_by_type((PyTypeObject *)cls), x);
}

PyDoc_STRVAR(Output_all_doc,
             "all(*inputs) or all(**inputs)\n--\n\n"
             "Returns an Output of the list (or dict) of the inputs' values: "
             "known if\nall are, secret if any is, with every input's "
             "dependencies.");

static PyObject *
Output_all(PyObject *cls, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    PyObject *template, *r;

    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0) {
        if (PyTuple_GET_SIZE(args) > 0) {
            PyErr_SetString(PyExc_ValueError,
                            "Output.all() takes positional inputs or "
                            "keyword inputs, not a mix of named and unnamed "
                            "ones");
            return NULL;
        }
        template = PyDict_Copy(kwargs);
        if (template == NULL)
            return NULL;
        r = all_of(st, template, AGG_DICT, NULL);
    } else {
        template = PySequence_List(args);
        if (template == NULL)
            return NULL;
        r = all_of(st, template, AGG_LIST, NULL);
    }
    Py_DECREF(template);
    return r;
}

PyDoc_STRVAR(Output_concat_doc,
             "concat(*parts)\n--\n\n"
             "Returns an Output of the parts (strings or Outputs of strings) "
             "joined.");

static PyObject *
Output_concat(PyObject *cls, PyObject *args)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    PyObject *template = PySequence_List(args), *r;

    if (template == NULL)
        return NULL;
    r = all_of(st, template, AGG_CONCAT, NULL);
    Py_DECREF(template);
    return r;
}

PyDoc_STRVAR(Output_format_doc,
             "format(format_string, *args, **kwargs)\n--\n\n"
             "Returns an Output of format_string.format(*args, **kwargs) "
             "once every\nargument (and the format string) is resolved.");

static PyObject *
Output_format(PyObject *cls, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    PyObject *template = NULL, *kwnames = NULL, *extra = NULL, *r = NULL;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);

    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError,
                        "Output.format() needs a format string: "
                        "Output.format(\"{}-{}\", a, b)");
        return NULL;
    }
    template = PySequence_List(args);
    kwnames = PyList_New(0);
    if (template == NULL || kwnames == NULL)
        goto done;
    if (kwargs != NULL) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;

        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            if (PyList_Append(kwnames, key) < 0 ||
                PyList_Append(template, value) < 0)
                goto done;
        }
    }
    Py_SETREF(kwnames, PyList_AsTuple(kwnames));
    if (kwnames == NULL)
        goto done;
    extra = Py_BuildValue("(nO)", nargs - 1, kwnames);
    if (extra == NULL)
        goto done;
    r = all_of(st, template, AGG_FORMAT, extra);
done:
    Py_XDECREF(template);
    Py_XDECREF(kwnames);
    Py_XDECREF(extra);
    return r;
}

/* Returns an Output with x's data (through from_input) and secret set. */
static PyObject *
with_secret(bnd_state *st, PyObject *x, int secret)
{
    OutputObject *o, *d;
    PyObject *r;

    r = output_from_input(st, x);
    if (r == NULL)
        return NULL;
    o = (OutputObject *)r;
    if (o->state == OUT_RESOLVED) {
        d = new_resolved(st, Py_NewRef(o->value), o->known, secret,
                         Py_XNewRef(o->deps));
        Py_DECREF(r);
        return (PyObject *)d;
    }
    if (o->state == OUT_REJECTED)
        return r;
    d = (OutputObject *)make_derived(o, OP_SECRET, secret, NULL, 0);
    Py_DECREF(r);
    return (PyObject *)d;
}

PyDoc_STRVAR(Output_secret_doc,
             "secret(value, /)\n--\n\n"
             "Returns Output.from_input(value) marked secret.");

static PyObject *
Output_secret(PyObject *cls, PyObject *x)
{
    return with_secret(bnd_get_state_by_type((PyTypeObject *)cls), x, 1);
}

PyDoc_STRVAR(Output_unsecret_doc,
             "unsecret(output, /)\n--\n\n"
             "Returns an Output with output's data, not secret.");

static PyObject *
Output_unsecret(PyObject *cls, PyObject *x)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);

    if (Py_TYPE(x) != st->OutputType) {
        PyErr_Format(PyExc_TypeError,
                     "Output.unsecret() takes an Output, not %.100s",
                     Py_TYPE(x)->tp_name);
        return NULL;
    }
    return with_secret(st, x, 0);
}

/* json_dumps and json_loads live in Python (outrun._output_support); they
 * are built on apply. */
static PyObject *
call_support(bnd_state *st, const char *name, PyObject *cls, PyObject *args,
             PyObject *kwargs)
{
    PyObject *fn, *full, *r;

    if (st->support == NULL) {
        st->support = PyImport_ImportModule("outrun._output_support");
        if (st->support == NULL)
            return NULL;
    }
    fn = PyObject_GetAttrString(st->support, name);
    if (fn == NULL)
        return NULL;
    full = PyTuple_New(PyTuple_GET_SIZE(args) + 1);
    if (full == NULL) {
        Py_DECREF(fn);
        return NULL;
    }
    PyTuple_SET_ITEM(full, 0, Py_NewRef(cls));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++)
        PyTuple_SET_ITEM(full, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    r = PyObject_Call(fn, full, kwargs);
    Py_DECREF(fn);
    Py_DECREF(full);
    return r;
}

PyDoc_STRVAR(Output_json_dumps_doc,
             "json_dumps(obj, **json_kwargs)\n--\n\n"
             "Returns an Output of json.dumps(value, **json_kwargs), where "
             "value is\nOutput.from_input(obj)'s.");

static PyObject *
Output_json_dumps(PyObject *cls, PyObject *args, PyObject *kwargs)
{
    return call_support(bnd_get_state_by_type((PyTypeObject *)cls),
                        "json_dumps", cls, args, kwargs);
}

PyDoc_STRVAR(Output_json_loads_doc,
             "json_loads(s, **json_kwargs)\n--\n\n"
             "Returns an Output of json.loads(value, **json_kwargs).");

static PyObject *
Output_json_loads(PyObject *cls, PyObject *args, PyObject *kwargs)
{
    return call_support(bnd_get_state_by_type((PyTypeObject *)cls),
                        "json_loads", cls, args, kwargs);
}

/* ------------------------------------------------------------------ */
/* Bridges to asyncio: future(), is_known(), is_secret(), resources()  */
/* ------------------------------------------------------------------ */

enum { WANT_VALUE, WANT_VALUE_WITH_UNKNOWNS, WANT_KNOWN, WANT_SECRET,
       WANT_DEPS };

/* Fills fut from settled src.  Returns 0 or -1. */
static int
fill_future(bnd_state *st, PyObject *fut, OutputObject *src, int want)
{
    PyObject *r, *v;

    r = PyObject_CallMethodNoArgs(fut, st->str_done);
    if (r == NULL)
        return -1;
    if (r == Py_True) {
        Py_DECREF(r);
        return 0; /* cancelled by its awaiter */
    }
    Py_DECREF(r);
    if (src->state == OUT_REJECTED) {
        src->flags |= OUT_F_OBSERVED;
        r = PyObject_CallMethodOneArg(fut, st->str_set_exception,
                                      src->value);
        Py_XDECREF(r);
        return r == NULL ? -1 : 0;
    }
    switch (want) {
    case WANT_VALUE:
        v = bnd_contains_unknowns(st, src->value) ? Py_NewRef(Py_None)
                                                  : Py_NewRef(src->value);
        break;
    case WANT_VALUE_WITH_UNKNOWNS:
        v = Py_NewRef(src->value);
        break;
    case WANT_KNOWN:
        v = PyBool_FromLong(src->known);
        break;
    case WANT_SECRET:
        v = PyBool_FromLong(src->secret);
        break;
    default:
        v = src->deps != NULL ? PySet_New(src->deps) : PySet_New(NULL);
        break;
    }
    if (v == NULL)
        return -1;
    r = PyObject_CallMethodOneArg(fut, st->str_set_result, v);
    Py_DECREF(v);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* The continuation future() registers: self is (future, want). */
static PyObject *
future_filler(PyObject *self, PyObject *src)
{
    bnd_state *st =
        bnd_get_state_by_type(Py_TYPE((OutputObject *)src));
    PyObject *fut = PyTuple_GET_ITEM(self, 0);
    int want = (int)PyLong_AsLong(PyTuple_GET_ITEM(self, 1));

    if (fill_future(st, fut, (OutputObject *)src, want) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef future_filler_def = {
    "_fill_future", future_filler, METH_O,
    "Completes a future from the Output it waited for."};

static PyObject *
make_future(OutputObject *self, int want)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(self));
    SchedulerObject *s = bnd_sched_current(st);
    PyObject *fut, *data, *cb;

    if (s == NULL)
        return NULL;
    if (bnd_sched_loop(s) == NULL)
        return NULL;
    fut = PyObject_CallMethodNoArgs(bnd_sched_loop(s), st->str_create_future);
    if (fut == NULL)
        return NULL;
    if (self->state != OUT_PENDING) {
        if (fill_future(st, fut, self, want) < 0) {
            Py_DECREF(fut);
            return NULL;
        }
        return fut;
    }
    data = Py_BuildValue("(Oi)", fut, want);
    if (data == NULL) {
        Py_DECREF(fut);
        return NULL;
    }
    cb = PyCFunction_NewEx(&future_filler_def, data, NULL);
    Py_DECREF(data);
    if (cb == NULL ||
        register_continuation(st, s, self, cb) < 0) {
        Py_DECREF(fut);
        return NULL;
    }
    return fut;
}

PyDoc_STRVAR(Output_future_doc,
             "future(with_unknowns=False)\n--\n\n"
             "Returns an awaitable of the value (None if it holds UNKNOWN, "
             "unless\nwith_unknowns).  Raises the Output's exception if it is "
             "rejected.");

static PyObject *
Output_future(OutputObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"with_unknowns", NULL};
    int with_unknowns = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p:future", kwlist,
                                     &with_unknowns))
        return NULL;
    return make_future(self, with_unknowns ? WANT_VALUE_WITH_UNKNOWNS
                                           : WANT_VALUE);
}

PyDoc_STRVAR(Output_is_known_doc,
             "is_known()\n--\n\nReturns an awaitable of the known flag.");

static PyObject *
Output_is_known(OutputObject *self, PyObject *unused)
{
    return make_future(self, WANT_KNOWN);
}

PyDoc_STRVAR(Output_is_secret_doc,
             "is_secret()\n--\n\nReturns an awaitable of the secret flag.");

static PyObject *
Output_is_secret(OutputObject *self, PyObject *unused)
{
    return make_future(self, WANT_SECRET);
}

PyDoc_STRVAR(Output_resources_doc,
             "resources()\n--\n\n"
             "Returns an awaitable of the set of resources the value depends "
             "on.");

static PyObject *
Output_resources(OutputObject *self, PyObject *unused)
{
    return make_future(self, WANT_DEPS);
}

/* ================================================================== */
/* Mistakes it catches                                                 */
/* ================================================================== */

static PyObject *
Output_str(OutputObject *self)
{
    PyErr_SetString(
        PyExc_TypeError,
        "Calling __str__ on an Output[T] is not supported: str(), f-strings, "
        "format() and % need the value now, and an Output's value may not "
        "be known yet.  Build the string as an Output instead: "
        "o.apply(lambda v: f\"prefix-{v}\"), Output.concat(\"prefix-\", o) "
        "or Output.format(\"prefix-{}\", o).");
    return NULL;
}

static int
Output_bool(OutputObject *self)
{
    PyErr_SetString(
        PyExc_TypeError,
        "an Output has no truth value: its value may not be known yet.  "
        "Decide inside apply, e.g. o.apply(lambda v: a if v else b); to "
        "test for a missing Output, compare with `is None`.");
    return -1;
}

static PyObject *
Output_iter(OutputObject *self)
{
    PyErr_SetString(
        PyExc_TypeError,
        "'Output' object is not iterable: its value may not be known yet.  "
        "Iterate the value inside apply, e.g. "
        "o.apply(lambda items: [f(x) for x in items]), or lift one element "
        "with o[0].");
    return NULL;
}

static PyObject *
Output_await(OutputObject *self)
{
    PyErr_SetString(
        PyExc_TypeError,
        "an Output cannot be awaited directly: in async code write "
        "`await o.future()`; otherwise pass the Output on as an input or "
        "use o.apply(...).");
    return NULL;
}

static PyObject *
Output_call(OutputObject *self, PyObject *args, PyObject *kwargs)
{
    PyErr_SetString(
        PyExc_TypeError,
        "'Output' object is not callable: to call the function an Output "
        "holds, use o.apply(lambda f: f(...)).");
    return NULL;
}

PyDoc_STRVAR(Output_get_doc,
             "get()\n--\n\nNot available: an Output's value may not be known "
             "yet.");

static PyObject *
Output_get(OutputObject *self, PyObject *unused)
{
    PyErr_SetString(
        PyExc_TypeError,
        "Output.get() cannot give the value during a run: it may not be "
        "known yet.  Use o.apply(lambda v: ...) to work with the value, or "
        "`await o.future()` in async code.");
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Lifting                                                             */
/* ------------------------------------------------------------------ */

static PyObject *
Output_getattro(OutputObject *self, PyObject *name)
{
    PyObject *r = PyObject_GenericGetAttr((PyObject *)self, name);
    Py_ssize_t len;

    if (r != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return r;
    len = PyUnicode_GetLength(name);
    if (len >= 2 && PyUnicode_READ_CHAR(name, 0) == '_' &&
        PyUnicode_READ_CHAR(name, 1) == '_')
        return NULL; /* dunders are never lifted */
    PyErr_Clear();
    return make_derived(self, OP_APPLY, LIFT_ATTR, name, OUT_F_RUN_UNKNOWNS);
}

static PyObject *
Output_getitem(OutputObject *self, PyObject *key)
{
    return make_derived(self, OP_APPLY, LIFT_ITEM, key, OUT_F_RUN_UNKNOWNS);
}

/* ================================================================== */
/* The engine's interface                                              */
/* ================================================================== */

PyDoc_STRVAR(Output_pending_doc,
             "_pending()\n--\n\n"
             "Returns a new pending Output on the running loop, to settle "
             "later with\n_resolve() or _reject().");

static PyObject *
Output_pending(PyObject *cls, PyObject *unused)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    SchedulerObject *s = bnd_sched_current(st);

    if (s == NULL)
        return NULL;
    return (PyObject *)new_pending(st, s, OP_NONE);
}

static int
parse_facts(PyObject *args, PyObject *kwargs, const char *fname,
            PyObject **value, int *known, int *secret, PyObject **deps)
{
    static char *kwlist[] = {"value", "known", "secret", "deps", NULL};
    PyObject *deps_obj = NULL;
    char format[32];

    *known = 1;
    *secret = 0;
    snprintf(format, sizeof(format), "O|ppO:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, format, kwlist, value,
                                     known, secret, &deps_obj))
        return -1;
    return deps_from(deps_obj, deps);
}

PyDoc_STRVAR(Output_resolved_doc,
             "_resolved(value, known=True, secret=False, deps=())\n--\n\n"
             "Returns a new resolved Output with these facts.");

static PyObject *
Output_resolved(PyObject *cls, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    PyObject *value, *deps;
    int known, secret;

    if (parse_facts(args, kwargs, "_resolved", &value, &known, &secret,
                    &deps) < 0)
        return NULL;
    return (PyObject *)new_resolved(st, Py_NewRef(value), known, secret,
                                    deps);
}

static int
check_pending_for_settle(OutputObject *self)
{
    if (self->state != OUT_PENDING || self->op != OP_NONE) {
        PyErr_SetString(PyExc_RuntimeError,
                        self->state != OUT_PENDING
                            ? "this Output is already settled; an Output "
                              "settles exactly once"
                            : "this Output is derived from others and "
                              "settles by itself");
        return -1;
    }
    return check_owner_thread(self);
}

PyDoc_STRVAR(Output_resolve_doc,
             "_resolve(value, known=True, secret=False, deps=())\n--\n\n"
             "Resolves a pending Output made by _pending(), exactly once.");

static PyObject *
Output_resolve(OutputObject *self, PyObject *args, PyObject *kwargs)
{
    PyObject *value, *deps;
    int known, secret;

    if (parse_facts(args, kwargs, "_resolve", &value, &known, &secret,
                    &deps) < 0)
        return NULL;
    if (check_pending_for_settle(self) < 0) {
        Py_XDECREF(deps);
        return NULL;
    }
    resolve_now(self, Py_NewRef(value), known, secret, deps);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Output_reject_doc,
             "_reject(exception)\n--\n\n"
             "Rejects a pending Output made by _pending(), exactly once.");

static PyObject *
Output_reject(OutputObject *self, PyObject *exc)
{
    PyObject *inst;

    if (PyExceptionClass_Check(exc))
        inst = PyObject_CallNoArgs(exc);
    else if (PyExceptionInstance_Check(exc))
        inst = Py_NewRef(exc);
    else {
        PyErr_Format(PyExc_TypeError,
                     "_reject() takes an exception, not %.100s",
                     Py_TYPE(exc)->tp_name);
        return NULL;
    }
    if (inst == NULL)
        return NULL;
    if (check_pending_for_settle(self) < 0) {
        Py_DECREF(inst);
        return NULL;
    }
    reject_now(self, inst, 1);
    Py_DECREF(inst);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Output_peek_doc,
             "_peek()\n--\n\n"
             "Returns (state, value, known, secret, deps) as they are now; "
             "state is\n'pending', 'resolved' or 'rejected' (value is then the "
             "exception).");

static PyObject *
Output_peek(OutputObject *self, PyObject *unused)
{
    static const char *names[] = {"pending", "resolved", "rejected"};
    PyObject *deps, *r;

    if (self->state == OUT_PENDING)
        return Py_BuildValue("(sOOOO)", names[0], Py_None, Py_False,
                             Py_False, Py_None);
    if (self->state == OUT_REJECTED)
        self->flags |= OUT_F_OBSERVED;
    deps = PyFrozenSet_New(self->deps);
    if (deps == NULL)
        return NULL;
    r = Py_BuildValue("(sONNN)", names[self->state], self->value,
                      PyBool_FromLong(self->known),
                      PyBool_FromLong(self->secret), deps);
    return r;
}

/* deferred_output(): (output, resolve). */
static PyObject *
deferred_resolve(PyObject *self, PyObject *other)
{
    OutputObject *d = (OutputObject *)self;
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(d));
    PyObject *o;

    if (d->state != OUT_PENDING || d->op != OP_NONE) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this deferred Output was already resolved");
        return NULL;
    }
    if (check_owner_thread(d) < 0)
        return NULL;
    o = output_from_input(st, other);
    if (o == NULL)
        return NULL;
    d->op = OP_FLATTEN;
    d->source = Py_NewRef(o);
    if (register_continuation(st, d->sched, (OutputObject *)o,
                              Py_NewRef(self)) < 0) {
        d->op = OP_NONE;
        Py_CLEAR(d->source);
        Py_DECREF(o);
        return NULL;
    }
    Py_DECREF(o);
    Py_RETURN_NONE;
}

static PyMethodDef deferred_resolve_def = {
    "resolve", deferred_resolve, METH_O,
    "resolve(other)\n--\n\nMakes the deferred Output follow other (an Output "
    "or any input)."};

PyDoc_STRVAR(deferred_output_doc,
             "deferred_output()\n--\n\n"
             "Returns (output, resolve): a pending Output and the function "
             "that\nlater makes it follow another Output, once.");

static PyObject *
module_deferred_output(PyObject *module, PyObject *unused)
{
    bnd_state *st = bnd_get_state(module);
    SchedulerObject *s = bnd_sched_current(st);
    OutputObject *d;
    PyObject *resolve, *r;

    if (s == NULL)
        return NULL;
    d = new_pending(st, s, OP_NONE);
    if (d == NULL)
        return NULL;
    resolve = PyCFunction_NewEx(&deferred_resolve_def, (PyObject *)d,
                                NULL);
    if (resolve == NULL) {
        Py_DECREF(d);
        return NULL;
    }
    r = PyTuple_Pack(2, (PyObject *)d, resolve);
    Py_DECREF(d);
    Py_DECREF(resolve);
    return r;
}

PyDoc_STRVAR(scheduler_doc,
             "scheduler()\n--\n\n"
             "Returns the Scheduler of the running loop (made on first "
             "use).");

static PyObject *
module_scheduler(PyObject *module, PyObject *unused)
{
    SchedulerObject *s = bnd_sched_current(bnd_get_state(module));

    return Py_XNewRef((PyObject *)s);
}

static PyMethodDef output_functions[] = {
    {"deferred_output", module_deferred_output, METH_NOARGS,
     deferred_output_doc},
    {"scheduler", module_scheduler, METH_NOARGS, scheduler_doc},
    {NULL, NULL, 0, NULL},
};

/* ================================================================== */
/* The pending report                                                  */
/* ================================================================== */

static PyObject *
describe_fn(PyObject *fn)
{
    PyObject *name = PyObject_GetAttrString(fn, "__qualname__");

    if (name == NULL) {
        PyErr_Clear();
        return PyObject_Repr(fn);
    }
    return name;
}

/* Appends what o waits on, and its pending sources, to text / edges. */
static int
describe_wait(OutputObject *o, PyObject *text, PyObject *srcs)
{
    PyObject *line = NULL;

    switch (o->op) {
    case OP_APPLY: {
        PyObject *what = o->agg == LIFT_ATTR   ? PyUnicode_FromFormat(
                                                   "lifting .%U", o->fn)
                         : o->agg == LIFT_ITEM ? PyUnicode_FromFormat(
                                                   "lifting [%R]", o->fn)
                                               : describe_fn(o->fn);

        if (what == NULL)
            return -1;
        line = PyUnicode_FromFormat("apply of %U, waiting on Output %p",
                                    what, (void *)o->source);
        Py_DECREF(what);
        if (PyList_Append(srcs, o->source) < 0)
            goto error;
        break;
    }
    case OP_RECOVER:
    case OP_SECRET:
    case OP_FLATTEN:
        line = PyUnicode_FromFormat(
            "%s Output %p",
            o->op == OP_RECOVER  ? "recover, waiting on"
            : o->op == OP_SECRET ? "secret/unsecret of"
                                 : "following",
            (void *)o->source);
        if (PyList_Append(srcs, o->source) < 0)
            goto error;
        break;
    case OP_AWAIT:
        line = PyUnicode_FromFormat("waiting on the awaitable %R", o->fn);
        break;
    case OP_ALL: {
        Py_ssize_t n = PyTuple_GET_SIZE(o->source);

        line = PyUnicode_FromFormat("all of %zd inputs, %u still pending:",
                                    n, o->remaining);
        for (Py_ssize_t i = 0; line != NULL && i < n; i++) {
            OutputObject *in = (OutputObject *)PyTuple_GET_ITEM(o->source,
                                                                i);

            if (in->state != OUT_PENDING)
                continue;
            if (PyList_Append(srcs, (PyObject *)in) < 0)
                goto error;
            Py_SETREF(line, PyUnicode_FromFormat("%U %p", line,
                                                 (void *)in));
        }
        break;
    }
    default:
        line = PyUnicode_FromString(
            "waiting to be resolved by whoever made it (the engine, "
            "Output._pending() or deferred_output())");
        break;
    }
    if (line == NULL)
        return -1;
    if (PyList_Append(text, line) < 0)
        goto error;
    Py_DECREF(line);
    return 0;
error:
    Py_XDECREF(line);
    return -1;
}

/* Finds a cycle among pending Outputs by walking "waits on" edges.
 * Appends "cycle: a -> b -> a" lines. */
static int
report_cycles(SchedulerObject *s, PyObject *edges, PyObject *lines)
{
    /* edges: dict id(o) -> list of ids of the pending Outputs o waits on.
     * A plain iterative depth-first search with colours. */
    PyObject *colour = PyDict_New(), *key, *value;
    Py_ssize_t pos = 0;
    int rc = -1;

    if (colour == NULL)
        return -1;
    while (PyDict_Next(edges, &pos, &key, &value)) {
        PyObject *stack, *path;

        if (PyDict_Contains(colour, key))
            continue;
        stack = Py_BuildValue("[(Oi)]", key, 0);
        path = PyList_New(0);
        if (stack == NULL || path == NULL) {
            Py_XDECREF(stack);
            Py_XDECREF(path);
            goto done;
        }
        while (PyList_GET_SIZE(stack) > 0) {
            Py_ssize_t top = PyList_GET_SIZE(stack) - 1;
            PyObject *frame = PyList_GET_ITEM(stack, top);
            PyObject *node = PyTuple_GET_ITEM(frame, 0);
            long i = PyLong_AsLong(PyTuple_GET_ITEM(frame, 1));
            PyObject *succ = PyDict_GetItem(edges, node);

            if (i == 0) {
                PyObject *grey = PyLong_FromLong(1);

                PyDict_SetItem(colour, node, grey);
                Py_DECREF(grey);
                PyList_Append(path, node);
            }
            if (succ != NULL && i < PyList_GET_SIZE(succ)) {
                PyObject *next = PyList_GET_ITEM(succ, i);
                PyObject *c = PyDict_GetItem(colour, next);
                PyObject *nf = Py_BuildValue("(Oi)", node, (int)i + 1);

                PyList_SetItem(stack, top, nf);
                if (c == NULL) {
                    PyObject *push = Py_BuildValue("(Oi)", next, 0);

                    PyList_Append(stack, push);
                    Py_DECREF(push);
                } else if (PyLong_AsLong(c) == 1) {
                    /* A grey node: the path from it to here is a cycle. */
                    PyObject *parts = PyList_New(0), *joined, *line, *arrow;
                    Py_ssize_t start = PyList_GET_SIZE(path) - 1;

                    while (start > 0 &&
                           PyList_GET_ITEM(path, start) != next &&
                           PyObject_RichCompareBool(
                               PyList_GET_ITEM(path, start), next,
                               Py_EQ) != 1)
                        start--;
                    for (Py_ssize_t k = start; k < PyList_GET_SIZE(path);
                         k++) {
                        PyObject *p = PyUnicode_FromFormat(
                            "%p", PyLong_AsVoidPtr(PyList_GET_ITEM(path,
                                                                   k)));
                        PyList_Append(parts, p);
                        Py_DECREF(p);
                    }
                    {
                        PyObject *p = PyUnicode_FromFormat(
                            "%p", PyLong_AsVoidPtr(next));
                        PyList_Append(parts, p);
                        Py_DECREF(p);
                    }
                    arrow = PyUnicode_FromString(" -> ");
                    joined = PyUnicode_Join(arrow, parts);
                    line = PyUnicode_FromFormat(
                        "cycle: %U (these Outputs wait on each other and "
                        "can never settle)",
                        joined);
                    PyList_Append(lines, line);
                    Py_XDECREF(line);
                    Py_XDECREF(joined);
                    Py_XDECREF(arrow);
                    Py_XDECREF(parts);
                }
            } else {
                PyObject *black = PyLong_FromLong(2);

                PyDict_SetItem(colour, node, black);
                Py_DECREF(black);
                PySequence_DelItem(path, PyList_GET_SIZE(path) - 1);
                PySequence_DelItem(stack, top);
            }
            if (PyErr_Occurred())
                break;
        }
        Py_DECREF(stack);
        Py_DECREF(path);
        if (PyErr_Occurred())
            goto done;
    }
    rc = 0;
done:
    Py_DECREF(colour);
    return rc;
}

PyObject *
bnd_output_pending_report(SchedulerObject *s)
{
    PyObject *lines = PyList_New(0), *edges = PyDict_New();
    PyObject *result = NULL, *nl = NULL;

    if (lines == NULL || edges == NULL)
        goto done;
    {
        PyObject *head = PyUnicode_FromFormat(
            "%zd pending Output%s on this loop:", s->npending,
            s->npending == 1 ? "" : "s");

        if (head == NULL || PyList_Append(lines, head) < 0) {
            Py_XDECREF(head);
            goto done;
        }
        Py_DECREF(head);
    }
    for (OutputObject *o = s->pending_first; o != NULL; o = o->pend_next) {
        PyObject *text = PyList_New(0), *srcs = PyList_New(0);
        PyObject *key = PyLong_FromVoidPtr(o), *site = NULL, *line;
        PyObject *ids;

        if (text == NULL || srcs == NULL || key == NULL ||
            describe_wait(o, text, srcs) < 0) {
            Py_XDECREF(text);
            Py_XDECREF(srcs);
            Py_XDECREF(key);
            goto done;
        }
        if (s->sites != NULL)
            site = PyDict_GetItem(s->sites, key); /* borrowed */
        line = site != NULL
                   ? PyUnicode_FromFormat("  Output %p (made at %U): %U",
                                          (void *)o, site,
                                          PyList_GET_ITEM(text, 0))
                   : PyUnicode_FromFormat("  Output %p: %U", (void *)o,
                                          PyList_GET_ITEM(text, 0));
        ids = PyList_New(0);
        for (Py_ssize_t i = 0; ids != NULL && i < PyList_GET_SIZE(srcs);
             i++) {
            OutputObject *src = (OutputObject *)PyList_GET_ITEM(srcs, i);
            PyObject *id;

            if (src->state != OUT_PENDING)
                continue;
            id = PyLong_FromVoidPtr(src);
            if (id == NULL || PyList_Append(ids, id) < 0)
                Py_CLEAR(ids);
            Py_XDECREF(id);
        }
        if (line == NULL || ids == NULL || PyList_Append(lines, line) < 0 ||
            PyDict_SetItem(edges, key, ids) < 0) {
            Py_XDECREF(line);
            Py_XDECREF(ids);
            Py_DECREF(text);
            Py_DECREF(srcs);
            Py_DECREF(key);
            goto done;
        }
        Py_DECREF(line);
        Py_DECREF(ids);
        Py_DECREF(text);
        Py_DECREF(srcs);
        Py_DECREF(key);
    }
    if (report_cycles(s, edges, lines) < 0)
        goto done;
    nl = PyUnicode_FromString("\n");
    if (nl != NULL)
        result = PyUnicode_Join(nl, lines);
done:
    Py_XDECREF(nl);
    Py_XDECREF(lines);
    Py_XDECREF(edges);
    return result;
}

/* ================================================================== */
/* The type                                                            */
/* ================================================================== */

static PyObject *
Output_repr(OutputObject *self)
{
    PyObject *r, *shown;

    switch (self->state) {
    case OUT_PENDING:
        return PyUnicode_FromFormat("<Output pending at %p>", (void *)self);
    case OUT_REJECTED:
        return PyUnicode_FromFormat("<Output rejected: %R>", self->value);
    default:
        break;
    }
    if (self->secret)
        return PyUnicode_FromString("<Output [secret]>");
    if (!self->known)
        return PyUnicode_FromString("<Output unknown>");
    r = PyObject_Repr(self->value);
    if (r == NULL)
        return NULL;
    if (PyUnicode_GET_LENGTH(r) > 60) {
        shown = PyUnicode_Substring(r, 0, 57);
        Py_DECREF(r);
        if (shown == NULL)
            return NULL;
        r = PyUnicode_FromFormat("%U...", shown);
        Py_DECREF(shown);
        if (r == NULL)
            return NULL;
    }
    shown = PyUnicode_FromFormat("<Output %U>", r);
    Py_DECREF(r);
    return shown;
}

static int
Output_traverse(OutputObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->value);
    Py_VISIT(self->deps);
    Py_VISIT(self->cb0);
    Py_VISIT(self->callbacks);
    Py_VISIT((PyObject *)self->sched);
    Py_VISIT(self->source);
    Py_VISIT(self->fn);
    return 0;
}

static int
Output_clear(OutputObject *self)
{
    if (self->flags & OUT_F_LINKED)
        bnd_sched_unlink(self);
    Py_CLEAR(self->value);
    Py_CLEAR(self->deps);
    Py_CLEAR(self->cb0);
    Py_CLEAR(self->callbacks);
    Py_CLEAR(self->source);
    Py_CLEAR(self->fn);
    Py_CLEAR(self->sched);
    return 0;
}

/* Leaves the pending list, and reports a rejection nobody retrieved when
 * no host collects failures (as asyncio does for Futures). */
static void
Output_finalize(OutputObject *self)
{
    bnd_exc_state saved = bnd_exc_save();

    if (self->flags & OUT_F_LINKED)
        bnd_sched_unlink(self);
    if (self->state == OUT_REJECTED &&
        !(self->flags & (OUT_F_OBSERVED | OUT_F_REPORTED)) &&
        (self->sched == NULL || !self->sched->collect_failures)) {
        PyObject *ctx = NULL, *r = NULL;

        self->flags |= OUT_F_REPORTED;
        PyObject *loop = self->sched != NULL
                             ? PyWeakref_GetObject(self->sched->loop_ref)
                             : NULL;

        if (loop != NULL && loop != Py_None)
            ctx = Py_BuildValue("{sssOsO}", "message",
                                "Output exception was never retrieved",
                                "exception", self->value, "output",
                                (PyObject *)self);
        if (ctx != NULL)
            r = PyObject_CallMethodOneArg(
                loop,
                bnd_get_state_by_type(Py_TYPE(self))
                    ->str_call_exception_handler,
                ctx);
        Py_XDECREF(ctx);
        if (r == NULL) {
            PyErr_Clear();
            PyErr_SetObject((PyObject *)Py_TYPE(self->value), self->value);
            PyErr_WriteUnraisable((PyObject *)self);
        }
        Py_XDECREF(r);
    }
    bnd_exc_restore(saved);
}

static void
Output_dealloc(OutputObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return; /* resurrected */
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    Output_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
Output_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyErr_SetString(PyExc_TypeError,
                    "make an Output with Output.from_input(value), "
                    "Output.all(...), Output.secret(value) or "
                    "o.apply(...)");
    return NULL;
}

static PyMethodDef Output_methods[] = {
    {"apply", (PyCFunction)(void (*)(void))Output_apply,
     METH_FASTCALL | METH_KEYWORDS, Output_apply_doc},
    {"recover", (PyCFunction)Output_recover, METH_O, Output_recover_doc},
    {"future", (PyCFunction)(void (*)(void))Output_future,
     METH_VARARGS | METH_KEYWORDS, Output_future_doc},
    {"is_known", (PyCFunction)Output_is_known, METH_NOARGS,
     Output_is_known_doc},
    {"is_secret", (PyCFunction)Output_is_secret, METH_NOARGS,
     Output_is_secret_doc},
    {"resources", (PyCFunction)Output_resources, METH_NOARGS,
     Output_resources_doc},
    {"get", (PyCFunction)Output_get, METH_NOARGS, Output_get_doc},
    {"from_input", (PyCFunction)Output_from_input, METH_O | METH_CLASS,
     Output_from_input_doc},
    {"all", (PyCFunction)(void (*)(void))Output_all,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_all_doc},
    {"concat", (PyCFunction)Output_concat, METH_VARARGS | METH_CLASS,
     Output_concat_doc},
    {"format", (PyCFunction)(void (*)(void))Output_format,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_format_doc},
    {"json_dumps", (PyCFunction)(void (*)(void))Output_json_dumps,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_json_dumps_doc},
    {"json_loads", (PyCFunction)(void (*)(void))Output_json_loads,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_json_loads_doc},
    {"secret", (PyCFunction)Output_secret, METH_O | METH_CLASS,
     Output_secret_doc},
    {"unsecret", (PyCFunction)Output_unsecret, METH_O | METH_CLASS,
     Output_unsecret_doc},
    {"_pending", (PyCFunction)Output_pending, METH_NOARGS | METH_CLASS,
     Output_pending_doc},
    {"_resolved", (PyCFunction)(void (*)(void))Output_resolved,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_resolved_doc},
    {"_resolve", (PyCFunction)(void (*)(void))Output_resolve,
     METH_VARARGS | METH_KEYWORDS, Output_resolve_doc},
    {"_reject", (PyCFunction)Output_reject, METH_O, Output_reject_doc},
    {"_peek", (PyCFunction)Output_peek, METH_NOARGS, Output_peek_doc},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "Output[T], for type hints."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Output_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(OutputObject, weakreflist),
     READONLY},
    {NULL},
};

PyDoc_STRVAR(Output_doc,
             "A value that may not be known yet, with whether it is known, "
             "whether\nit is secret, and the resources it depends on.\n\n"
             "Make one with Output.from_input(), Output.all(), "
             "Output.concat(),\nOutput.format() or Output.secret(); derive "
             "others with apply().");

static PyType_Slot Output_slots[] = {
    {Py_tp_doc, (void *)Output_doc},
    {Py_tp_new, Output_new},
    {Py_tp_dealloc, Output_dealloc},
    {Py_tp_finalize, Output_finalize},
    {Py_tp_traverse, Output_traverse},
    {Py_tp_clear, Output_clear},
    {Py_tp_repr, Output_repr},
    {Py_tp_str, Output_str},
    {Py_tp_iter, Output_iter},
    {Py_tp_call, Output_call},
    {Py_tp_getattro, Output_getattro},
    {Py_mp_subscript, Output_getitem},
    {Py_nb_bool, Output_bool},
    {Py_am_await, Output_await},
    {Py_tp_methods, Output_methods},
    {Py_tp_members, Output_members},
    {0, NULL},
};

static PyType_Spec Output_spec = {
    .name = "_outrun.Output",
    .basicsize = sizeof(OutputObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Output_slots,
};

int
bnd_output_init(PyObject *module, bnd_state *st)
{
    st->OutputType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Output_spec, NULL);
    if (st->OutputType == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "Output",
                              (PyObject *)st->OutputType) < 0)
        return -1;
    return PyModule_AddFunctions(module, output_functions);
}
