/* UNKNOWN: the marker for a value, or part of a value, that is not known
 * yet (during a preview), and the walk that looks for it. */
#include "module.h"

#include "config.h"

/* Deeper than this, contains_unknowns() stops looking: values that deep
 * are not what an infrastructure program passes around, and a cycle would
 * otherwise never end. */
#define UNKNOWN_WALK_LIMIT 512

static int
walk(bnd_state *st, PyObject *v, int depth)
{
    if (v == st->unknown)
        return 1;
    if (depth >= UNKNOWN_WALK_LIMIT)
        return 0;
    if (PyDict_Check(v)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;

        while (PyDict_Next(v, &pos, &key, &value)) {
            if (value == st->unknown)
                return 1;
            if ((PyDict_Check(value) || PyList_Check(value)) &&
                walk(st, value, depth + 1))
                return 1;
        }
        return 0;
    }
    if (PyList_Check(v)) {
        /* A list may change while walked only if an element's code ran;
         * none does here, but index every time all the same. */
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
            PyObject *item = PyList_GET_ITEM(v, i);

            if (item == st->unknown)
                return 1;
            if ((PyDict_Check(item) || PyList_Check(item)) &&
                walk(st, item, depth + 1))
                return 1;
        }
        return 0;
    }
    return 0;
}

int
bnd_contains_unknowns(bnd_state *st, PyObject *v)
{
    assert(PyGILState_Check());
    return walk(st, v, 0);
}

static PyObject *
Unknown_repr(PyObject *self)
{
    return PyUnicode_FromString("UNKNOWN");
}

static PyObject *
Unknown_reduce(PyObject *self, PyObject *unused)
{
    return PyUnicode_FromString("UNKNOWN");
}

static PyMethodDef Unknown_methods[] = {
    {"__reduce__", Unknown_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static void
Unknown_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot Unknown_slots[] = {
    {Py_tp_doc, "The type of UNKNOWN, which marks a value that is not known "
                "yet."},
    {Py_tp_repr, Unknown_repr},
    {Py_tp_methods, Unknown_methods},
    {Py_tp_dealloc, Unknown_dealloc},
    {0, NULL},
};

static PyType_Spec Unknown_spec = {
    .name = "_outrun.Unknown",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Unknown_slots,
};

PyDoc_STRVAR(contains_unknowns_doc,
             "contains_unknowns(value, /)\n--\n\n"
             "True if value is UNKNOWN or holds it in a dict value or list "
             "element,\nat any depth.");

static PyObject *
module_contains_unknowns(PyObject *module, PyObject *v)
{
    return PyBool_FromLong(bnd_contains_unknowns(bnd_get_state(module), v));
}

static PyMethodDef unknown_functions[] = {
    {"contains_unknowns", module_contains_unknowns, METH_O,
     contains_unknowns_doc},
    {NULL, NULL, 0, NULL},
};

int
bnd_unknown_init(PyObject *module, bnd_state *st)
{
    assert(PyGILState_Check());
    st->UnknownType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Unknown_spec, NULL);
    if (st->UnknownType == NULL)
        return -1;
    st->unknown = PyType_GenericAlloc(st->UnknownType, 0);
    if (st->unknown == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "Unknown",
                              (PyObject *)st->UnknownType) < 0 ||
        PyModule_AddObjectRef(module, "UNKNOWN", st->unknown) < 0)
        return -1;
    return PyModule_AddFunctions(module, unknown_functions);
}
