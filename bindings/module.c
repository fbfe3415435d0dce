/* The _outrun extension module: definition, state, multi-phase init.
 *
 * The same code is both an extension module that any python3 can import
 * and a built-in module of the outrun host (PyImport_AppendInittab).
 */
#include "module.h"

#include "config.h"

bnd_state *
bnd_get_state(PyObject *module)
{
    void *state;

    assert(PyGILState_Check());
    state = PyModule_GetState(module);
    assert(state != NULL);
    return (bnd_state *)state;
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
    return 0;
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    bnd_state *st = bnd_get_state(module);

    Py_VISIT(st->version);
    return 0;
}

static int
module_clear(PyObject *module)
{
    bnd_state *st = bnd_get_state(module);

    Py_CLEAR(st->version);
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
