/* Differences between the CPython versions _outrun builds against, wrapped
 * once.  The target is 3.11; later versions renamed a few things. */
#pragma once

#include <Python.h>
#include <structmember.h>

/* Saving and restoring the current exception around code that must not
 * disturb it (3.12 adds PyErr_GetRaisedException; 3.11 has Fetch). */
typedef struct {
    PyObject *type, *value, *tb;
} bnd_exc_state;

static inline bnd_exc_state
bnd_exc_save(void)
{
    bnd_exc_state s;

    PyErr_Fetch(&s.type, &s.value, &s.tb);
    return s;
}

static inline void
bnd_exc_restore(bnd_exc_state s)
{
    PyErr_Restore(s.type, s.value, s.tb);
}

/* Drops a saved exception that has been dealt with. */
static inline void
bnd_exc_discard(bnd_exc_state s)
{
    Py_XDECREF(s.type);
    Py_XDECREF(s.value);
    Py_XDECREF(s.tb);
}

/* The referent of a weak reference as a strong reference: 3.13's
 * PyWeakref_GetRef, for 3.11 and 3.12, where PyWeakref_GetObject returns
 * a borrowed reference that the next call running Python (a method call,
 * an allocation that collects) can free.  Sets *obj to a new reference and
 * returns 1, or sets it to NULL and returns 0 when the referent is gone,
 * or -1 with an exception set when ref is no weak reference. */
static inline int
bnd_weakref_get(PyObject *ref, PyObject **obj)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyWeakref_GetRef(ref, obj);
#else
    PyObject *o = PyWeakref_GetObject(ref); /* borrowed */

    if (o == NULL) {
        *obj = NULL;
        return -1;
    }
    if (o == Py_None) {
        *obj = NULL;
        return 0;
    }
    *obj = Py_NewRef(o);
    return 1;
#endif
}
