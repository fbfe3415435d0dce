/* Internals of the Output shared by output.c (the core: settling,
 * from_input, steps), output_api.c (the Python-visible methods and the
 * type), output_json.c (json_dumps, json_loads), output_report.c (what a
 * run waits on), and the files that make Outputs for jobs and the
 * engine. */
#pragma once

#include "output.h"
#include "scheduler.h"
#include "compat.h"

#include "config.h"

/* Each of these runs on the loop thread with the GIL held.
 *
 * Returns a new resolved Output; steals value and deps. */
OutputObject *
bnd_output_new_resolved(bnd_state *st, PyObject *value, int known,
                        int secret, PyObject *deps);

/* Returns a new pending Output of s, on its pending list. */
OutputObject *
bnd_output_new_pending(bnd_state *st, SchedulerObject *s, int op);

/* Settles o; steals value and deps. */
void
bnd_output_resolve(OutputObject *o, PyObject *value, int known, int secret,
                   PyObject *deps);

/* Settles o with exc (borrowed); origin: the failure starts here. */
void
bnd_output_reject(OutputObject *o, PyObject *exc, int origin);

/* Settles a pending Output whose making failed, so that nothing waits for
 * it: quietly (never reported), keeping the exception that is set. */
void
bnd_output_abandon(OutputObject *o);

/* Runs target (stolen) once src settles (at once if it has), on s.
 * Returns 0 or -1. */
int
bnd_output_register(bnd_state *st, SchedulerObject *s, OutputObject *src,
                    PyObject *target);

/* 0 if o may be settled from this thread, else -1 with RuntimeError. */
int
bnd_output_check_owner(OutputObject *o);

/* Converts an iterable of resources into a frozenset (NULL for none). */
int
bnd_deps_from(PyObject *obj, PyObject **out);

/* Returns Output.from_input(x). */
PyObject *
bnd_output_from_input(bnd_state *st, PyObject *x);

/* Returns a new Output that runs op (OP_APPLY, OP_RECOVER, OP_SECRET) on
 * src. */
PyObject *
bnd_output_derive(OutputObject *src, int op, int agg, PyObject *fn,
                  int flags);

/* Output.json_dumps(obj, **json_kwargs) and Output.json_loads(s,
 * **json_kwargs), class methods of the Output type cls (output_json.c). */
PyObject *
bnd_output_json_dumps(PyObject *cls, PyObject *args, PyObject *kwargs);
PyObject *
bnd_output_json_loads(PyObject *cls, PyObject *args, PyObject *kwargs);

/* Returns an OP_ALL Output over the items of template (a list, or a dict
 * for AGG_DICT). */
PyObject *
bnd_output_all_of(bnd_state *st, PyObject *template, int agg,
                  PyObject *extra);
