/* The module functions that the run's machinery uses, not programs: the
 * host's loop and the engine (pysdk/outrun/_engine) take the running loop's
 * Scheduler, and the engine scans a resource's inputs for Outputs.  The
 * Output's own methods for the engine (_pending, _resolve, _peek, ...)
 * are with the type, in output_api.c.
 */
#include "output_internal.h"

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

PyDoc_STRVAR(scan_inputs_doc,
             "scan_inputs(props)\n--\n\n"
             "For the engine: None when every value of the dict props is "
             "plain (str,\nint, float, bool or None); else a list of "
             "(key, Output) for the others,\neach turned into an Output "
             "with from_input.");

static PyObject *
module_scan_inputs(PyObject *module, PyObject *props)
{
    bnd_state *st = bnd_get_state(module);
    PyObject *key, *value, *list = NULL;
    Py_ssize_t pos = 0;

    if (!PyDict_Check(props)) {
        PyErr_Format(PyExc_TypeError, "scan_inputs() takes a dict, not "
                     "%.100s", Py_TYPE(props)->tp_name);
        return NULL;
    }
    while (PyDict_Next(props, &pos, &key, &value)) {
        PyTypeObject *t = Py_TYPE(value);
        PyObject *out, *pair;

        if (value == Py_None || t == &PyUnicode_Type || t == &PyLong_Type ||
            t == &PyBool_Type || t == &PyFloat_Type)
            continue;
        if (t == st->OutputType)
            out = Py_NewRef(value);
        else {
            /* from_input may run user code (awaitables): hold the key. */
            Py_INCREF(key);
            out = bnd_output_from_input(st, value);
            if (out == NULL) {
                Py_DECREF(key);
                Py_XDECREF(list);
                return NULL;
            }
            Py_DECREF(key);
        }
        if (list == NULL && (list = PyList_New(0)) == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        pair = PyTuple_Pack(2, key, out);
        Py_DECREF(out);
        if (pair == NULL || PyList_Append(list, pair) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(pair);
    }
    if (list == NULL)
        Py_RETURN_NONE;
    return list;
}

static PyMethodDef engine_functions[] = {
    {"scheduler", module_scheduler, METH_NOARGS, scheduler_doc},
    {"scan_inputs", module_scan_inputs, METH_O, scan_inputs_doc},
    {NULL, NULL, 0, NULL},
};

int
bnd_engine_api_init(PyObject *module, bnd_state *st)
{
    assert(PyGILState_Check());
    return PyModule_AddFunctions(module, engine_functions);
}
