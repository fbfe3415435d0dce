/* The outrun host: embeds CPython, runs a command inside it, shuts down.
 *
 * host.c is the one runtime file that includes Python.h.
 */
#pragma once

#include "plan.h"

#ifdef Py_PYTHON_H
/* Fills config (initialised here) from plan.  The caller clears config.
 * Thread: main; GIL: none exists yet. */
PyStatus
rt_host_make_config(const struct rt_host_plan *plan, PyConfig *config);
#endif

/* Registers the built-in modules (_outrun, _outrun_host).  Call before
 * the interpreter is initialised.  Returns 0 or -ENOMEM.
 * Thread: main; GIL: none exists yet. */
int
rt_host_register_builtins(void);

/* Runs the planned command in a new interpreter and shuts it down.
 * Returns the process exit code.
 * Thread: main; GIL: none on entry, none on return. */
int
rt_host_main(const struct rt_host_plan *plan);
