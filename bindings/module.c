/* The _outrun extension module: definition, state, multi-phase init.
 *
 * The same code is both an extension module that any python3 can import
 * and a built-in module of the outrun host (PyImport_AppendInittab).
 */
#include "module.h"

#include "config.h"
#include "run_limits.h"

bnd_state *
bnd_get_state(PyObject *module)
{
    void *state;

    assert(PyGILState_Check());
    state = PyModule_GetState(module);
    assert(state != NULL);
    return (bnd_state *)state;
}

/* Looks up module_name.attr once, for the state. */
static PyObject *
import_attr(const char *module_name, const char *attr)
{
    PyObject *mod = PyImport_ImportModule(module_name), *r;

    if (mod == NULL)
        return NULL;
    r = PyObject_GetAttrString(mod, attr);
    Py_DECREF(mod);
    return r;
}

static int
intern(PyObject **slot, const char *s)
{
    *slot = PyUnicode_InternFromString(s);
    return *slot == NULL ? -1 : 0;
}

/* Plain python3 has no host to stop the worker pool in order: stop it at
 * exit (atexit runs before the interpreter finalises).  The host calls
 * _outrun.shutdown() itself earlier; a second call does nothing. */
static int
register_shutdown(PyObject *module)
{
    PyObject *atexit = PyImport_ImportModule("atexit"), *fn, *r = NULL;

    if (atexit == NULL)
        return -1;
    fn = PyObject_GetAttrString(module, "shutdown");
    if (fn != NULL)
        r = PyObject_CallMethod(atexit, "register", "O", fn);
    Py_XDECREF(fn);
    Py_DECREF(atexit);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

static int
add_float(PyObject *module, const char *name, double value)
{
    PyObject *v = PyFloat_FromDouble(value);
    int r;

    if (v == NULL)
        return -1;
    r = PyModule_AddObjectRef(module, name, v);
    Py_DECREF(v);
    return r;
}

static int
module_exec(PyObject *module)
{
    bnd_state *st = bnd_get_state(module);

    st->version = PyUnicode_FromString(OUTRUN_VERSION);
    if (st->version == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "__version__", st->version) < 0)
        return -1;
    if (PyModule_AddStringConstant(module, "built_for_python",
                                   PY_VERSION) < 0)
        return -1;
    /* The limits of a run (run_limits.h), for the SDK's parsers. */
    if (PyModule_AddIntConstant(module, "THREADS_DEFAULT",
                                RT_THREADS_DEFAULT) < 0 ||
        PyModule_AddIntConstant(module, "THREADS_MAX", RT_THREADS_MAX) < 0 ||
        add_float(module, "STALL_WARNING_DEFAULT_MS",
                  RT_STALL_WARNING_DEFAULT_MS) < 0 ||
        add_float(module, "STALL_WARNING_MAX_MS",
                  RT_STALL_WARNING_MAX_MS) < 0 ||
        add_float(module, "DEBUG_PENDING_DEFAULT_S",
                  RT_DEBUG_PENDING_DEFAULT_S) < 0 ||
        add_float(module, "DEBUG_PENDING_MAX_S", RT_DEBUG_PENDING_MAX_S) < 0 ||
        add_float(module, "SHUTDOWN_GRACE_S", RT_SHUTDOWN_GRACE_S) < 0)
        return -1;

    if (intern(&st->str_call_soon, "call_soon") < 0 ||
        intern(&st->str_create_future, "create_future") < 0 ||
        intern(&st->str_set_result, "set_result") < 0 ||
        intern(&st->str_set_exception, "set_exception") < 0 ||
        intern(&st->str_add_done_callback, "add_done_callback") < 0 ||
        intern(&st->str_cancelled, "cancelled") < 0 ||
        intern(&st->str_exception, "exception") < 0 ||
        intern(&st->str_result, "result") < 0 ||
        intern(&st->str_done, "done") < 0 ||
        intern(&st->str_format, "format") < 0 ||
        intern(&st->str_format_string, "format_string") < 0 ||
        intern(&st->str_loop, "loop") < 0 ||
        intern(&st->str_call_exception_handler,
               "call_exception_handler") < 0 ||
        intern(&st->empty_str, "") < 0 ||
        intern(&st->str_add_reader, "add_reader") < 0)
        return -1;

    st->get_running_loop = import_attr("asyncio.events", "_get_running_loop");
    st->ensure_future = import_attr("asyncio", "ensure_future");
    st->isawaitable = import_attr("inspect", "isawaitable");
    st->cancelled_error = import_attr("asyncio", "CancelledError");
    if (st->get_running_loop == NULL || st->ensure_future == NULL ||
        st->isawaitable == NULL || st->cancelled_error == NULL)
        return -1;

    if (bnd_unknown_init(module, st) < 0 ||
        bnd_scheduler_init(module, st) < 0 ||
        bnd_output_init(module, st) < 0 ||
        bnd_output_json_init(module, st) < 0 ||
        bnd_watchdog_init(module, st) < 0 ||
        bnd_engine_api_init(module, st) < 0 ||
        bnd_jobs_init(module, st) < 0 ||
        bnd_offload_init(module, st) < 0 ||
        bnd_process_init(module, st) < 0 ||
        bnd_ffi_init(module, st) < 0)
        return -1;
    return register_shutdown(module);
}

/* Lists every field of bnd_state, in declaration order. */
#define BND_STATE_FIELDS(X)                                                 \
    X(version)                                                              \
    X(OutputType)                                                           \
    X(SchedulerType)                                                        \
    X(UnknownType)                                                          \
    X(unknown)                                                              \
    X(get_running_loop)                                                     \
    X(ensure_future)                                                        \
    X(isawaitable)                                                          \
    X(cancelled_error)                                                      \
    X(json)                                                                 \
    X(JsonStepType)                                                         \
    X(schedulers)                                                           \
    X(keep_sched)                                                           \
    X(str_call_soon)                                                        \
    X(str_create_future)                                                    \
    X(str_set_result)                                                       \
    X(str_set_exception)                                                    \
    X(str_add_done_callback)                                                \
    X(str_cancelled)                                                        \
    X(str_exception)                                                        \
    X(str_result)                                                           \
    X(str_done)                                                             \
    X(str_format)                                                           \
    X(str_format_string)                                                    \
    X(str_loop)                                                             \
    X(str_call_exception_handler)                                           \
    X(empty_str)                                                            \
    X(job_scheds)                                                           \
    X(unreported)                                                           \
    X(str_add_reader)

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    bnd_state *st = bnd_get_state(module);

#define VISIT(f) Py_VISIT(st->f);
    BND_STATE_FIELDS(VISIT)
#undef VISIT
    return 0;
}

static int
module_clear(PyObject *module)
{
    bnd_state *st = bnd_get_state(module);

    st->last_sched = NULL;
#define CLEAR(f) Py_CLEAR(st->f);
    BND_STATE_FIELDS(CLEAR)
#undef CLEAR
    return 0;
}

static void
module_free(void *module)
{
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

PyDoc_STRVAR(module_doc,
             "Outrun's native core: the parts of the Outrun SDK written in "
             "C.\n\nImport the `outrun` package rather than this module.");

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_outrun",
    .m_doc = module_doc,
    .m_size = sizeof(bnd_state),
    .m_methods = NULL,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__outrun(void)
{
    return PyModuleDef_Init(&module_def);
}
