/* The _outrun extension module: its state and the helpers every file of
 * bindings/ shares. */
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Everything the module keeps: types, interned strings and cached callables
 * live here, never in C globals, so that the module works in several
 * interpreters and after a re-import. */
typedef struct {
    PyObject *version; /* __version__, a str */
} bnd_state;

/* Returns the state of the _outrun module object.
 * Thread: loop; GIL: held. */
bnd_state *
bnd_get_state(PyObject *module);

/* The module's entry point, shared by the extension and the host's
 * built-in copy.
 * Thread: loop; GIL: held. */
PyMODINIT_FUNC
PyInit__outrun(void);
