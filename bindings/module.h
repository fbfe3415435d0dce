/* The _outrun extension module: its state and the helpers every file of
 * bindings/ shares. */
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

struct SchedulerObject;

/* Everything the module keeps: types, interned strings and cached callables
 * live here, never in C globals, so that the module works in several
 * interpreters and after a re-import. */
typedef struct {
    PyObject *version; /* __version__, a str */

    PyTypeObject *OutputType;
    PyTypeObject *SchedulerType;
    PyTypeObject *UnknownType;
    PyObject *unknown; /* UNKNOWN, the one Unknown instance */

    /* From asyncio, looked up once. */
    PyObject *get_running_loop; /* asyncio.events._get_running_loop */
    PyObject *ensure_future;    /* asyncio.ensure_future */
    PyObject *isawaitable;      /* inspect.isawaitable, for generators */
    PyObject *cancelled_error;  /* asyncio.CancelledError */

    /* Output.json_dumps / json_loads (output_json.c): the json module,
     * imported on first use, and the type of their steps. */
    PyObject *json;
    PyTypeObject *JsonStepType;

    /* One scheduler per thread (dict: thread id -> Scheduler), and the
     * last one used, for the common case of one loop. */
    PyObject *schedulers;
    struct SchedulerObject *last_sched; /* borrowed */
    PyObject *keep_sched; /* the newest scheduler, until Outputs hold it */

    /* Native jobs (jobs.c; process.c keeps spawns). */
    struct rt_pool *pool;       /* started on first use */
    unsigned pool_threads;      /* 0: OUTRUN_THREADS or the default */
    int pool_shut_down;
    /* When the one grace of shutdown() ends (CLOCK_MONOTONIC seconds); 0
     * until shutdown() first waits.  Later calls wait no longer than this,
     * so exit waits out one grace in all however often it is called. */
    double shutdown_deadline;
    PyInterpreterState *interp; /* for the pool threads' thread states */
    PyObject *job_scheds;       /* weakrefs to schedulers with channels */
    struct spawn_job *spawns;   /* processes in flight (borrowed list) */

    /* Freed, unretrieved rejections with no loop to report them
     * (output_api.c), until a safe point: a drain, or shutdown. */
    PyObject *unreported; /* list of Outputs */

    /* Interned names. */
    PyObject *str_call_soon;
    PyObject *str_create_future;
    PyObject *str_set_result;
    PyObject *str_set_exception;
    PyObject *str_add_done_callback;
    PyObject *str_cancelled;
    PyObject *str_exception;
    PyObject *str_result;
    PyObject *str_done;
    PyObject *str_format;
    PyObject *str_format_string;
    PyObject *str_loop;
    PyObject *str_call_exception_handler;
    PyObject *empty_str;
    PyObject *str_add_reader;
} bnd_state;

/* Returns the state of the _outrun module object.
 * Thread: loop; GIL: held. */
bnd_state *
bnd_get_state(PyObject *module);

/* Returns the state of the module that defined type (one of ours).
 * Thread: loop; GIL: held. */
static inline bnd_state *
bnd_get_state_by_type(PyTypeObject *type)
{
    return (bnd_state *)PyType_GetModuleState(type);
}

/* Creates the Unknown type and UNKNOWN; adds them to module.  Returns 0 or
 * -1 with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_unknown_init(PyObject *module, bnd_state *st);

/* Predicate: does v hold UNKNOWN, itself or in a dict value or list
 * element at any depth?  Returns 1 or 0; never fails (a structure too
 * deep to walk counts as holding none).
 * Thread: loop; GIL: held. */
int
bnd_contains_unknowns(bnd_state *st, PyObject *v);

/* Creates the Scheduler type.  Returns 0 or -1 with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_scheduler_init(PyObject *module, bnd_state *st);

/* Creates the Output type.  Returns 0 or -1 with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_output_init(PyObject *module, bnd_state *st);

/* Creates the type of json_dumps' and json_loads' steps (output_json.c),
 * kept in the state only.  Returns 0 or -1 with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_output_json_init(PyObject *module, bnd_state *st);

/* Creates the Watchdog type (the stall watchdog).  Returns 0 or -1 with
 * an exception set.
 * Thread: loop; GIL: held. */
int
bnd_watchdog_init(PyObject *module, bnd_state *st);

/* Registers the engine's functions (engine_api.c: scheduler, scan_inputs).
 * Returns 0 or -1 with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_engine_api_init(PyObject *module, bnd_state *st);

/* Registers the worker pool's control (jobs.c: configure_pool, pool_stats,
 * shutdown).  Call before the inits below, whose functions make jobs.
 * Returns 0 or -1 with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_jobs_init(PyObject *module, bnd_state *st);

/* Registers offload's functions (offload.c: offload, to_thread,
 * call_into).  Returns 0 or -1 with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_offload_init(PyObject *module, bnd_state *st);

/* Registers the process functions (process.c: spawn).  Returns 0 or -1
 * with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_process_init(PyObject *module, bnd_state *st);

/* Registers FfiFunction and the ffi helpers (ffi.c).  Returns 0 or -1
 * with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_ffi_init(PyObject *module, bnd_state *st);

/* The module's entry point, shared by the extension and the host's
 * built-in copy.
 * Thread: loop; GIL: held. */
PyMODINIT_FUNC
PyInit__outrun(void);
