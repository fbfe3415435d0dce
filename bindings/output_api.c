/* The Python-visible side of the Output: its methods, the dunders that
 * catch mistakes, the Output's interface for the engine, deferred_output(),
 * and the type itself.  The core (settling, from_input, the steps) is in
 * output.c; json_dumps and json_loads in output_json.c; the module
 * functions only the run's machinery uses in engine_api.c. */
#include "output_internal.h"

#include <string.h>
/* ================================================================== */
/* Public methods                                                      */
/* ================================================================== */

/* Parses the one argument of a METH_FASTCALL | METH_KEYWORDS method that
 * Pulumi's signature names `name`: given by position or by that keyword.
 * Sets *out (borrowed).  Returns 0 or -1 with TypeError. */
static int
one_arg(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
        const char *fname, const char *name, PyObject **out)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs == 1 && nkw == 0) {
        *out = args[0];
        return 0;
    }
    if (nargs == 0 && nkw == 1 &&
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
                                         name) == 0) {
        *out = args[0];
        return 0;
    }
    if (nkw > 0 && nargs + nkw <= 2) {
        for (Py_ssize_t i = 0; i < nkw; i++) {
            PyObject *kw = PyTuple_GET_ITEM(kwnames, i);

            if (PyUnicode_CompareWithASCIIString(kw, name) != 0) {
                PyErr_Format(PyExc_TypeError,
                             "%s() got an unexpected keyword argument '%U'",
                             fname, kw);
                return -1;
            }
        }
        PyErr_Format(PyExc_TypeError,
                     "%s() got multiple values for argument '%s'", fname,
                     name);
        return -1;
    }
    PyErr_Format(PyExc_TypeError, "%s() takes exactly one argument (%s), "
                 "%zd given", fname, name, nargs + nkw);
    return -1;
}

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
    int run_unknowns = 0, seen_flag = 0;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs > 2) {
        PyErr_SetString(PyExc_TypeError,
                        "apply() takes func and run_with_unknowns");
        return NULL;
    }
    if (nargs >= 1)
        fn = args[0];
    if (nargs == 2) {
        run_unknowns = PyObject_IsTrue(args[1]);
        if (run_unknowns < 0)
            return NULL;
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        int is_func = PyUnicode_CompareWithASCIIString(name, "func") == 0;

        if (!is_func && PyUnicode_CompareWithASCIIString(
                            name, "run_with_unknowns") != 0) {
            PyErr_Format(PyExc_TypeError,
                         "apply() got an unexpected keyword argument '%U'",
                         name);
            return NULL;
        }
        if (is_func ? fn != NULL : nargs == 2 || seen_flag) {
            PyErr_Format(PyExc_TypeError,
                         "apply() got multiple values for argument '%U'",
                         name);
            return NULL;
        }
        if (is_func) {
            fn = args[nargs + i];
            continue;
        }
        seen_flag = 1;
        run_unknowns = PyObject_IsTrue(args[nargs + i]);
        if (run_unknowns < 0)
            return NULL;
    }
    if (fn == NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "apply() needs a function: "
                        "o.apply(lambda value: ...)");
        return NULL;
    }
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError,
                     "apply() needs a function, not %.100s: "
                     "o.apply(lambda value: ...)",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    return bnd_output_derive(self, OP_APPLY, LIFT_NONE, fn,
                        run_unknowns ? OUT_F_RUN_UNKNOWNS : 0);
}

PyDoc_STRVAR(Output_recover_doc,
             "recover(func)\n--\n\n"
             "Returns an Output with this Output's data, or, if it is "
             "rejected with\nan Exception, with func(exception)'s result.  A "
             "recovered failure\nno longer fails the run.");

static PyObject *
Output_recover(OutputObject *self, PyObject *const *args, Py_ssize_t nargs,
               PyObject *kwnames)
{
    PyObject *fn;

    if (one_arg(args, nargs, kwnames, "recover", "func", &fn) < 0)
        return NULL;
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError,
                     "recover() needs a function of the exception, not "
                     "%.100s",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    return bnd_output_derive(self, OP_RECOVER, 0, fn, 0);
}

PyDoc_STRVAR(Output_from_input_doc,
             "from_input(val)\n--\n\n"
             "Returns an Output of value, deeply: Outputs and awaitables "
             "inside\ndicts, lists and tuples are waited for and replaced by "
             "their values.");

static PyObject *
Output_from_input(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
                  PyObject *kwnames)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    PyObject *x;

    if (one_arg(args, nargs, kwnames, "from_input", "val", &x) < 0)
        return NULL;
    return bnd_output_from_input(st, x);
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
        r = bnd_output_all_of(st, template, AGG_DICT, NULL);
    } else {
        template = PySequence_List(args);
        if (template == NULL)
            return NULL;
        r = bnd_output_all_of(st, template, AGG_LIST, NULL);
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
    r = bnd_output_all_of(st, template, AGG_CONCAT, NULL);
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
    PyObject *fmt = NULL;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);

    if (kwargs != NULL) {
        /* Pulumi's signature names it: format(format_string=..., ...). */
        fmt = PyDict_GetItemWithError(kwargs, st->str_format_string);
        if (fmt == NULL && PyErr_Occurred())
            return NULL;
    }
    if (nargs < 1 && fmt == NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "Output.format() needs a format string: "
                        "Output.format(\"{}-{}\", a, b)");
        return NULL;
    }
    if (nargs >= 1 && fmt != NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "Output.format() got multiple values for argument "
                        "'format_string'");
        return NULL;
    }
    if (fmt != NULL) {
        template = PyList_New(1);
        if (template == NULL)
            return NULL;
        PyList_SET_ITEM(template, 0, Py_NewRef(fmt));
        nargs = 1;
    } else {
        template = PySequence_List(args);
    }
    kwnames = PyList_New(0);
    if (template == NULL || kwnames == NULL)
        goto done;
    if (kwargs != NULL) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;

        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            if (value == fmt && PyUnicode_Check(key) &&
                PyUnicode_Compare(key, st->str_format_string) == 0)
                continue;
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
    r = bnd_output_all_of(st, template, AGG_FORMAT, extra);
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

    r = bnd_output_from_input(st, x);
    if (r == NULL)
        return NULL;
    o = (OutputObject *)r;
    if (o->state == OUT_RESOLVED) {
        d = bnd_output_new_resolved(st, Py_NewRef(o->value), o->known, secret,
                         Py_XNewRef(o->deps));
        Py_DECREF(r);
        return (PyObject *)d;
    }
    if (o->state == OUT_REJECTED)
        return r;
    d = (OutputObject *)bnd_output_derive(o, OP_SECRET, secret, NULL, 0);
    Py_DECREF(r);
    return (PyObject *)d;
}

PyDoc_STRVAR(Output_secret_doc,
             "secret(val)\n--\n\n"
             "Returns Output.from_input(value) marked secret.");

static PyObject *
Output_secret(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
              PyObject *kwnames)
{
    PyObject *x;

    if (one_arg(args, nargs, kwnames, "secret", "val", &x) < 0)
        return NULL;
    return with_secret(bnd_get_state_by_type((PyTypeObject *)cls), x, 1);
}

PyDoc_STRVAR(Output_unsecret_doc,
             "unsecret(val)\n--\n\n"
             "Returns an Output with output's data, not secret.");

static PyObject *
Output_unsecret(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    PyObject *x;

    if (one_arg(args, nargs, kwnames, "unsecret", "val", &x) < 0)
        return NULL;

    if (Py_TYPE(x) != st->OutputType) {
        PyErr_Format(PyExc_TypeError,
                     "Output.unsecret() takes an Output, not %.100s",
                     Py_TYPE(x)->tp_name);
        return NULL;
    }
    return with_secret(st, x, 0);
}

/* json_dumps and json_loads are written in output_json.c. */
PyDoc_STRVAR(Output_json_dumps_doc,
             "json_dumps(obj, **json_kwargs)\n--\n\n"
             "Returns an Output of json.dumps(value, **json_kwargs), where "
             "value is\nOutput.from_input(obj)'s.");

PyDoc_STRVAR(Output_json_loads_doc,
             "json_loads(s, **json_kwargs)\n--\n\n"
             "Returns an Output of json.loads(value, **json_kwargs).");

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
        if (r == NULL)
            return -1;
        /* Retrieved from fut, the failure is the retriever's. */
        return src->sched == NULL
                   ? 0
                   : bnd_sched_note_handed(src->sched, fut, src->value);
    }
    switch (want) {
    case WANT_VALUE:
        /* An unknown value is None: whatever an unknown Output holds (an
         * input it was computed from, during a preview) never leaks. */
        v = !src->known || bnd_contains_unknowns(st, src->value)
                ? Py_NewRef(Py_None)
                : Py_NewRef(src->value);
        break;
    case WANT_VALUE_WITH_UNKNOWNS:
        /* The value with its UNKNOWN parts; an unknown Output's value
         * that names no UNKNOWN is UNKNOWN itself (None stays None). */
        v = src->known || src->value == Py_None ||
                    bnd_contains_unknowns(st, src->value)
                ? Py_NewRef(src->value)
                : Py_NewRef(st->unknown);
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
    PyObject *loop, *fut, *data, *cb;

    if (s == NULL)
        return NULL;
    loop = bnd_sched_loop(s);
    if (loop == NULL)
        return NULL;
    fut = PyObject_CallMethodNoArgs(loop, st->str_create_future);
    Py_DECREF(loop);
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
        bnd_output_register(st, s, self, cb) < 0) {
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
    return bnd_output_derive(self, OP_APPLY, LIFT_ATTR, name,
                             OUT_F_RUN_UNKNOWNS);
}

static PyObject *
Output_getitem(OutputObject *self, PyObject *key)
{
    return bnd_output_derive(self, OP_APPLY, LIFT_ITEM, key,
                             OUT_F_RUN_UNKNOWNS);
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
    return (PyObject *)bnd_output_new_pending(st, s, OP_NONE);
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
    return bnd_deps_from(deps_obj, deps);
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
    return (PyObject *)bnd_output_new_resolved(st, Py_NewRef(value), known,
                                               secret,
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
    return bnd_output_check_owner(self);
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
    bnd_output_resolve(self, Py_NewRef(value), known, secret, deps);
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
    bnd_output_reject(self, inst, 1);
    Py_DECREF(inst);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Output_peek_doc,
             "_peek()\n--\n\n"
             "Returns (state, value, known, secret, deps) as they are now; "
             "state is\n'pending', 'resolved' or 'rejected' (value is then "
             "the "
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

PyDoc_STRVAR(Output_waits_on_doc,
             "_waits_on()\n--\n\n"
             "The pending Outputs this one waits on (a list, empty once it "
             "has settled),\nor None when it waits on something else: an "
             "awaitable, or whoever made\nit (the engine, deferred_output()). "
             "For the engine's cycle detection.");

static PyObject *
Output_waits_on(OutputObject *self, PyObject *unused)
{
    return bnd_output_waits_on(self);
}

PyDoc_STRVAR(Output_watch_doc,
             "_watch(callback)\n--\n\n"
             "Calls callback(self) from the loop's ready queue once this "
             "Output has\nsettled, either way (soon, if it has already).  "
             "For the engine.");

static PyObject *
Output_watch(OutputObject *self, PyObject *callback)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(self));
    SchedulerObject *s;

    if (!PyCallable_Check(callback)) {
        PyErr_Format(PyExc_TypeError,
                     "_watch() takes a callable, not %.100s",
                     Py_TYPE(callback)->tp_name);
        return NULL;
    }
    s = bnd_sched_current(st);
    if (s == NULL)
        return NULL;
    if (bnd_output_register(st, s, self, Py_NewRef(callback)) < 0)
        return NULL;
    Py_RETURN_NONE;
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
    if (bnd_output_check_owner(d) < 0)
        return NULL;
    o = bnd_output_from_input(st, other);
    if (o == NULL)
        return NULL;
    d->op = OP_FLATTEN;
    d->source = Py_NewRef(o);
    if (bnd_output_register(st, d->sched, (OutputObject *)o,
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
    d = bnd_output_new_pending(st, s, OP_NONE);
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

static PyMethodDef output_functions[] = {
    {"deferred_output", module_deferred_output, METH_NOARGS,
     deferred_output_doc},
    {NULL, NULL, 0, NULL},
};

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
/* Reports self's unretrieved exception through its loop's exception
 * handler, called soon on the loop.  Returns 0, or -1 with an exception
 * set when there is no loop to run it (gone or closed). */
static int
report_through_loop(OutputObject *self)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(self));
    PyObject *ctx = NULL, *handler = NULL, *r = NULL, *loop = NULL;

    /* A strong reference: the calls below run Python, which may drop the
     * last other one. */
    if (self->sched == NULL ||
        bnd_weakref_get(self->sched->loop_ref, &loop) <= 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "the loop is gone");
        return -1;
    }
    ctx = Py_BuildValue("{sssO}", "message",
                        "Output exception was never retrieved", "exception",
                        self->value);
    handler = PyObject_GetAttr(loop, st->str_call_exception_handler);
    if (ctx != NULL && handler != NULL)
        r = self->sched->thread_id == PyThread_get_thread_ident()
                ? PyObject_CallMethodObjArgs(loop, st->str_call_soon,
                                             handler, ctx, NULL)
                : PyObject_CallMethod(loop, "call_soon_threadsafe", "OO",
                                      handler, ctx);
    Py_DECREF(loop);
    Py_XDECREF(ctx);
    Py_XDECREF(handler);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Writes self's unretrieved exception to sys.unraisablehook. */
static void
report_unraisable(OutputObject *self)
{
    PyErr_SetObject((PyObject *)Py_TYPE(self->value), self->value);
    PyErr_WriteUnraisable((PyObject *)self);
}

void
bnd_output_flush_unreported(bnd_state *st)
{
    PyObject *list = st->unreported;
    bnd_exc_state saved;

    assert(PyGILState_Check());
    if (list == NULL || PyList_GET_SIZE(list) == 0)
        return;
    saved = bnd_exc_save();
    st->unreported = PyList_New(0);
    if (st->unreported == NULL)
        PyErr_Clear(); /* finalizers report at once until it exists */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        OutputObject *o = (OutputObject *)PyList_GET_ITEM(list, i);

        if (report_through_loop(o) < 0) {
            PyErr_Clear();
            report_unraisable(o);
        }
    }
    Py_DECREF(list);
    bnd_exc_restore(saved);
}

static void
Output_finalize(OutputObject *self)
{
    bnd_exc_state saved;

    /* The common case, a settled Output with nothing to report, returns
     * before touching the current exception. */
    if (!(self->flags & OUT_F_LINKED) && self->state != OUT_REJECTED)
        return;
    saved = bnd_exc_save();

    if (self->flags & OUT_F_LINKED)
        bnd_sched_unlink(self);
    if (self->state == OUT_REJECTED &&
        !(self->flags & (OUT_F_OBSERVED | OUT_F_REPORTED)) &&
        (self->sched == NULL || !self->sched->collect_failures)) {
        bnd_state *st = bnd_get_state_by_type(Py_TYPE(self));

        self->flags |= OUT_F_REPORTED;
        /* The report itself runs from the loop, not from here: a
         * finalizer can run inside any allocation, and the report formats
         * a traceback, which in 3.11 parses source with ast; re-entering
         * the AST converter from a collection it triggered corrupts its
         * depth counter ("AST constructor recursion depth mismatch",
         * python/cpython#106905).  With no loop to run it (gone or
         * closed), the Output waits in st->unreported, which keeps it
         * alive, for the next safe point: a scheduler's drain, or the
         * module's shutdown. */
        if (report_through_loop(self) < 0) {
            PyErr_Clear();
            if (st->unreported == NULL ||
                PyList_Append(st->unreported, (PyObject *)self) < 0) {
                PyErr_Clear();
                report_unraisable(self);
            }
        }
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
    {"recover", (PyCFunction)(void (*)(void))Output_recover,
     METH_FASTCALL | METH_KEYWORDS, Output_recover_doc},
    {"future", (PyCFunction)(void (*)(void))Output_future,
     METH_VARARGS | METH_KEYWORDS, Output_future_doc},
    {"is_known", (PyCFunction)Output_is_known, METH_NOARGS,
     Output_is_known_doc},
    {"is_secret", (PyCFunction)Output_is_secret, METH_NOARGS,
     Output_is_secret_doc},
    {"resources", (PyCFunction)Output_resources, METH_NOARGS,
     Output_resources_doc},
    {"get", (PyCFunction)Output_get, METH_NOARGS, Output_get_doc},
    {"from_input", (PyCFunction)(void (*)(void))Output_from_input,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     Output_from_input_doc},
    {"all", (PyCFunction)(void (*)(void))Output_all,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_all_doc},
    {"concat", (PyCFunction)Output_concat, METH_VARARGS | METH_CLASS,
     Output_concat_doc},
    {"format", (PyCFunction)(void (*)(void))Output_format,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_format_doc},
    {"json_dumps", (PyCFunction)(void (*)(void))bnd_output_json_dumps,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_json_dumps_doc},
    {"json_loads", (PyCFunction)(void (*)(void))bnd_output_json_loads,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_json_loads_doc},
    {"secret", (PyCFunction)(void (*)(void))Output_secret,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     Output_secret_doc},
    {"unsecret", (PyCFunction)(void (*)(void))Output_unsecret,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     Output_unsecret_doc},
    {"_pending", (PyCFunction)Output_pending, METH_NOARGS | METH_CLASS,
     Output_pending_doc},
    {"_resolved", (PyCFunction)(void (*)(void))Output_resolved,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS, Output_resolved_doc},
    {"_resolve", (PyCFunction)(void (*)(void))Output_resolve,
     METH_VARARGS | METH_KEYWORDS, Output_resolve_doc},
    {"_reject", (PyCFunction)Output_reject, METH_O, Output_reject_doc},
    {"_peek", (PyCFunction)Output_peek, METH_NOARGS, Output_peek_doc},
    {"_watch", (PyCFunction)Output_watch, METH_O, Output_watch_doc},
    {"_waits_on", (PyCFunction)Output_waits_on, METH_NOARGS,
     Output_waits_on_doc},
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
    /* CPython's own messages print tp_name: users read "'Output' object
     * is not ...", as with Pulumi, not "'_outrun.Output' ...".  This is
     * what assigning __name__ does to a heap type; __module__ stays
     * "_outrun". */
    st->OutputType->tp_name = "Output";
    /* Freed rejections with no loop to report them wait here. */
    st->unreported = PyList_New(0);
    if (st->unreported == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "Output",
                              (PyObject *)st->OutputType) < 0)
        return -1;
    return PyModule_AddFunctions(module, output_functions);
}

