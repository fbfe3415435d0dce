/* What a run waits on: each pending Output, what it waits on, and any
 * cycle among them (outrun run --debug-pending, SIGQUIT). */
#include "output_internal.h"
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

/* ================================================================== */
/* What one Output waits on                                            */
/* ================================================================== */

PyObject *
bnd_output_waits_on(OutputObject *o)
{
    PyObject *out;

    assert(PyGILState_Check());
    if (o->state != OUT_PENDING)
        return PyList_New(0);
    switch (o->op) {
    case OP_APPLY:
    case OP_RECOVER:
    case OP_SECRET:
    case OP_FLATTEN:
        out = PyList_New(0);
        if (out != NULL && ((OutputObject *)o->source)->state == OUT_PENDING &&
            PyList_Append(out, o->source) < 0)
            Py_CLEAR(out);
        return out;
    case OP_ALL: {
        Py_ssize_t n = PyTuple_GET_SIZE(o->source);

        out = PyList_New(0);
        for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
            PyObject *in = PyTuple_GET_ITEM(o->source, i);

            if (((OutputObject *)in)->state == OUT_PENDING &&
                PyList_Append(out, in) < 0)
                Py_CLEAR(out);
        }
        return out;
    }
    default:
        /* An awaitable, or whoever made it: nothing this loop can see. */
        Py_RETURN_NONE;
    }
}

PyObject *
bnd_output_pending_report(SchedulerObject *s)
{
    PyObject *lines = PyList_New(0), *edges = PyDict_New();
    PyObject *result = NULL, *nl = NULL;

    assert(PyGILState_Check());
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

