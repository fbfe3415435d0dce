/* The Scheduler: one per event loop.  It owns the ready queue that runs
 * Output continuations, the list of pending Outputs, the failures the host
 * reports at the end of a run, and the loop's completion channel for
 * native jobs (jobs.c).  The Output's invariants are in output.h;
 * scheduler.c implements what is declared here.
 */
#pragma once

#include "output.h"

/* One entry of the ready queue: a continuation and the Output that
 * settled.  Both are strong references. */
typedef struct {
    PyObject *target;
    OutputObject *source;
} bnd_ready_entry;

typedef struct SchedulerObject {
    PyObject_HEAD
    bnd_state *st;    /* the module's state; module keeps it alive */
    PyObject *module; /* strong: keeps st valid */
    PyObject *loop_ref; /* weak: a closed loop is not kept alive */
    unsigned long thread_id;
    PyObject *drain;  /* bound drain method, handed to call_soon */
    bnd_ready_entry *ring;
    size_t ring_cap, ring_head, ring_count;
    int draining;     /* a drain is scheduled or running */
    OutputObject *pending_first; /* borrowed links */
    Py_ssize_t npending;
    unsigned long long settled; /* Outputs settled so far: progress */
    PyObject *idle_waiters; /* list of futures, or NULL */
    PyObject *failures;     /* list of unhandled origin exceptions */
    PyObject *handed;       /* list of (future, exception) handed over */
    PyObject *sites;        /* dict id(output) -> creation site, or NULL */
    PyObject *site_skip;    /* tuple of folder prefixes, or NULL: a site
                             * is the innermost frame outside them */
    int collect_failures;
    int record_sites;
    /* Native jobs (jobs.c): the loop's completion channel, watched with
     * loop.add_reader once the first job is submitted. */
    struct rt_channel *channel;
    Py_ssize_t jobs_in_flight;
    PyObject *weakreflist;
} SchedulerObject;

/* Returns the scheduler's loop (a new reference: the scheduler holds it
 * weakly), or NULL with RuntimeError when the loop is gone.
 * Thread: loop; GIL: held. */
PyObject *
bnd_sched_loop(SchedulerObject *s);

/* Returns the scheduler of the loop running on this thread (borrowed),
 * creating it on first use; NULL with RuntimeError when no loop runs.
 * Thread: loop; GIL: held. */
SchedulerObject *
bnd_sched_current(bnd_state *st);

/* Appends (target, source) to the ready queue and makes sure a drain is
 * scheduled.  Steals a reference to target; takes a new one to source.
 * Returns 0 or -1 with an exception set.
 * Thread: loop; GIL: held. */
int
bnd_sched_enqueue(SchedulerObject *s, PyObject *target,
                  OutputObject *source);

/* Links o into the pending list / unlinks it.
 * Thread: loop; GIL: held. */
void
bnd_sched_link(SchedulerObject *s, OutputObject *o);
void
bnd_sched_unlink(OutputObject *o);

/* Records an origin failure for the end of the run, if the scheduler
 * collects them.  Returns 0 or -1.
 * Thread: loop; GIL: held. */
int
bnd_sched_record_failure(SchedulerObject *s, PyObject *exc);

/* Notes that fut (an asyncio future of future(), is_known(), ...) was
 * completed with exc, a failure of the run: if user code retrieves it,
 * take_failures forgets the failure.  Returns 0 or -1.
 * Thread: loop; GIL: held. */
int
bnd_sched_note_handed(SchedulerObject *s, PyObject *fut, PyObject *exc);

/* Forgets a failure that recover() handled.
 * Thread: loop; GIL: held. */
void
bnd_sched_forget_failure(SchedulerObject *s, PyObject *exc);

/* Records where o was created, when the scheduler records sites.
 * Thread: loop; GIL: held. */
void
bnd_sched_note_site(SchedulerObject *s, OutputObject *o);
