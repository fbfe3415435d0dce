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
