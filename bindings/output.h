/* The native Output and the scheduler that runs its continuations.
 *
 * Invariants (read these before touching output.c or scheduler.c):
 *
 * - An Output is PENDING, RESOLVED or REJECTED.  It settles exactly once;
 *   settling sets value (the exception when rejected), known, secret and
 *   deps together, clears the operation fields (source, fn) so that a
 *   settled Output keeps nothing of the graph alive, unlinks it from its
 *   scheduler's pending list and moves its continuations to the ready
 *   queue, first cb0 then the callbacks list, in registration order.
 * - Continuations: cb0 holds the first, callbacks (a list) the rest; the
 *   list is allocated only for the second.  A continuation is either a
 *   derived Output (an exact OutputObject), which the scheduler steps, or
 *   any other callable, which it calls with the settled Output.
 * - User code never runs inside the call that registers it: continuations
 *   run only from Scheduler.drain, which the loop calls (call_soon).
 *   Settling one Output inside a drain enqueues its dependents onto the
 *   same queue, so chains of any length settle without recursion.
 * - A pending Output is on its scheduler's pending list (borrowed links);
 *   tp_finalize and settling unlink it.  Pending Outputs are the work the
 *   host waits for at the end of a run.
 * - While pending, a derived Output's own known/secret/deps fields may
 *   hold the facts it inherits from its source (FLATTEN, AWAIT), merged
 *   when it settles.
 */
#pragma once

#include "module.h"

enum {
    OUT_PENDING = 0,
    OUT_RESOLVED = 1,
    OUT_REJECTED = 2,
};

/* What a pending derived Output waits for. */
enum {
    OP_NONE = 0, /* settled, or pending until someone resolves it */
    OP_APPLY,    /* source: Output; fn: callable (or name/key: lifting) */
    OP_FLATTEN,  /* source: the Output an apply returned, or followed */
    OP_AWAIT,    /* fn: the asyncio future of an awaitable */
    OP_ALL,      /* source: tuple of Outputs; fn: (template, positions) */
    OP_RECOVER,  /* source: Output; fn: callable taking the exception */
    OP_SECRET,   /* source: Output; agg: 1 secret, 0 unsecret */
};

/* OP_APPLY: what is applied. */
enum {
    LIFT_NONE = 0, /* fn(value) */
    LIFT_ATTR,     /* getattr(value, fn) */
    LIFT_ITEM,     /* value[fn] */
};

/* OP_ALL: what the values become. */
enum {
    AGG_LIST = 0,
    AGG_TUPLE,
    AGG_DICT,
    AGG_CONCAT,
    AGG_FORMAT,
    AGG_PAIRS, /* a dict built from [key, value] lists: keys were Outputs */
};

/* flags */
#define OUT_F_OBSERVED 0x01      /* a rejection somebody consumed */
#define OUT_F_ORIGIN 0x02        /* the rejection started here */
#define OUT_F_RUN_UNKNOWNS 0x04  /* OP_APPLY: call fn on unknowns too */
#define OUT_F_DEEP 0x08          /* OP_AWAIT: from_input the result */
#define OUT_F_LINKED 0x10        /* on the scheduler's pending list */
#define OUT_F_REPORTED 0x20      /* an unretrieved rejection was reported */

typedef struct OutputObject {
    PyObject_HEAD
    uint8_t state;
    uint8_t known;
    uint8_t secret;
    uint8_t op;
    uint8_t flags;
    uint8_t agg; /* LIFT_* for OP_APPLY, AGG_* for OP_ALL */
    uint32_t remaining; /* OP_ALL: notifications still to come */
    PyObject *value;     /* the value, or the exception when rejected */
    PyObject *deps;      /* frozenset of resources, or NULL for none */
    PyObject *cb0;       /* first continuation, or NULL */
    PyObject *callbacks; /* list of further continuations, or NULL */
    struct SchedulerObject *sched; /* its loop's scheduler, or NULL */
    PyObject *source;    /* operation input (see OP_*) */
    PyObject *fn;        /* operation argument (see OP_*) */
    struct OutputObject *pend_prev; /* pending list; borrowed */
    struct OutputObject *pend_next;
    PyObject *weakreflist;
} OutputObject;

#define Output_CheckExact(st, op) Py_IS_TYPE((op), (st)->OutputType)

/* Runs one ready entry: steps a derived Output or calls a callback.
 * Defined in output.c.  Returns 0, or -1 with SystemExit or
 * KeyboardInterrupt set, which must leave the loop; any other failure
 * rejects an Output or is reported, never left set.
 * Thread: loop; GIL: held. */
int
bnd_output_step(bnd_state *st, PyObject *target, OutputObject *source);

/* Reports the freed, unretrieved rejections that had no loop to report
 * them (to sys.unraisablehook).  Call only at a safe point: never from a
 * finalizer.  Defined in output_api.c.
 * Thread: any; GIL: held. */
void
bnd_output_flush_unreported(bnd_state *st);

/* Describes the pending Outputs of s, what each waits on, and any cycle.
 * Defined in output_report.c.  Returns a new str.
 * Thread: loop; GIL: held. */
PyObject *
bnd_output_pending_report(struct SchedulerObject *s);

/* Returns a new list of the pending Outputs o waits on (empty once o has
 * settled), or None when it waits on something outside the loop's Outputs
 * (an awaitable, or whoever made it: the engine, deferred_output()).
 * Defined in output_report.c.
 * Thread: loop; GIL: held. */
PyObject *
bnd_output_waits_on(OutputObject *o);
