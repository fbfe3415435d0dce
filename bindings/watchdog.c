/* _outrun.Watchdog: the stall watchdog of runtime/watchdog.c, with the
 * Python side of its warning.
 *
 * The loop thread creates the Watchdog (which records that thread) and
 * beats it from a loop callback every beat_interval_ms; stop() ends it and
 * returns the stats.  When the loop thread stays away from its loop for
 * longer than the threshold, on_stall runs on the watchdog's own thread:
 * it takes the GIL, which the loop thread gives up in blocking calls
 * (time.sleep, waiting for a child, I/O) and hands over at the switch
 * interval when it computes; finds the loop thread's frame; walks outward
 * to the first frame of the program's own code (not in a library folder);
 * and prints one warning line naming that line, the library function it
 * is inside, how long the loop has been stuck, and what to do instead.
 *
 * A loop thread stuck in native code that holds the GIL delays the
 * warning until it lets go; stop() releases the GIL while it joins, since
 * on_stall may be waiting for it.
 */
#include "module.h"
#include "compat.h"

#include "config.h"

#include "watchdog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    struct rt_watchdog *wd; /* NULL once stopped */
    double threshold_ms;
    unsigned long loop_ident; /* the thread that created the watchdog */
    /* Folders whose code is not the program's (exact str, each ending in
     * a separator).  A tuple of exact str cannot hold a reference back to
     * the watchdog, so the type needs no GC. */
    PyObject *library_dirs;
    struct rt_watchdog_stats stats; /* after stop() */
} WatchdogObject;

/* ------------------------------------------------------------------ */
/* The warning (watchdog thread, GIL held)                             */
/* ------------------------------------------------------------------ */

/* What to do instead, by what the loop thread is stuck in. */
#define HINT_PROCESS "run the command with outrun.process.run([...]) instead"
#define HINT_SLEEP "use await asyncio.sleep(...) instead"
#define HINT_IMPORT                                                         \
    "imports run on the loop thread, so import slow modules before the "    \
    "program starts its work"
#define HINT_OFFLOAD                                                        \
    "run blocking work with outrun.offload(fn, ...), or await an async "    \
    "version instead"
/* Inside the SDK's own function (outrun.offload, outrun.process.run...):
 * these do not block, so offloading is no fix; the time is the loop
 * thread's share of a busy machine, or very many calls in one go. */
#define HINT_OUTRUN                                                         \
    "this is Outrun's own work, not blocking work to offload; if it "       \
    "repeats, start fewer calls in one go, or lower --threads on a busy "   \
    "machine"

/* Predicate: is filename library code (under one of library_dirs, or a
 * frozen module)?  Returns 1, 0 or -1 with an exception set. */
static int
is_library(PyObject *library_dirs, PyObject *filename)
{
    Py_ssize_t n = PyTuple_GET_SIZE(library_dirs);

    if (!PyUnicode_Check(filename))
        return 1;
    for (Py_ssize_t i = -1; i < n; i++) {
        PyObject *prefix = i < 0 ? NULL : PyTuple_GET_ITEM(library_dirs, i);
        Py_ssize_t r;

        if (prefix == NULL) {
            /* "<frozen importlib._bootstrap>" and the like. */
            prefix = PyUnicode_FromString("<frozen ");
            if (prefix == NULL)
                return -1;
            r = PyUnicode_Tailmatch(filename, prefix, 0, PY_SSIZE_T_MAX, -1);
            Py_DECREF(prefix);
        }
        else {
            r = PyUnicode_Tailmatch(filename, prefix, 0, PY_SSIZE_T_MAX, -1);
        }
        if (r != 0)
            return r < 0 ? -1 : 1;
    }
    return 0;
}

/* Returns frame's module name (its globals' __name__), or None. */
static PyObject *
module_name(PyFrameObject *frame)
{
    PyObject *globals = PyFrame_GetGlobals(frame);
    PyObject *name = PyDict_GetItemString(globals, "__name__"); /* borrowed */

    name = Py_NewRef(name != NULL && PyUnicode_Check(name) ? name : Py_None);
    Py_DECREF(globals);
    return name;
}

/* Predicate: is name (a str or None) the SDK's package or one of its
 * modules? */
static int
is_sdk_module(PyObject *name)
{
    const char *s;

    if (!PyUnicode_Check(name))
        return 0;
    s = PyUnicode_AsUTF8(name);
    if (s == NULL) {
        PyErr_Clear(); /* a name with lone surrogates: not ours */
        return 0;
    }
    return strcmp(s, "outrun") == 0 || strncmp(s, "outrun.", 7) == 0;
}

/* Predicate: is name (a str or None) one of the names given? */
static int
name_is(PyObject *name, const char *a, const char *b)
{
    return PyUnicode_Check(name) &&
           (PyUnicode_CompareWithASCIIString(name, a) == 0 ||
            (b != NULL && PyUnicode_CompareWithASCIIString(name, b) == 0));
}

/* Predicate: does line number lineno of filename contain needle?
 * Returns 1, 0 or -1 with an exception set. */
static int
line_contains(PyObject *filename, int lineno, const char *needle)
{
    PyObject *linecache = PyImport_ImportModule("linecache"), *line, *sub;
    int r;

    if (linecache == NULL)
        return -1;
    line = PyObject_CallMethod(linecache, "getline", "Oi", filename, lineno);
    Py_DECREF(linecache);
    if (line == NULL)
        return -1;
    sub = PyUnicode_FromString(needle);
    r = sub == NULL ? -1 : PySequence_Contains(line, sub);
    Py_XDECREF(sub);
    Py_DECREF(line);
    return r;
}

/* Picks the hint for a stall whose program frame, user, called no
 * library function (it computes, or it called a built-in such as
 * time.sleep, which has no frame): by its source line.  Returns a static
 * string, or NULL with an exception set. */
static const char *
hint_by_line(PyFrameObject *user)
{
    PyCodeObject *code = PyFrame_GetCode(user);
    int line = PyFrame_GetLineNumber(user);
    int sleeps, systems = 0;

    sleeps = line_contains(code->co_filename, line, "sleep(");
    if (sleeps == 0)
        systems = line_contains(code->co_filename, line, "os.system(");
    Py_DECREF(code);
    if (sleeps < 0 || systems < 0)
        return NULL;
    return sleeps ? HINT_SLEEP : systems ? HINT_PROCESS : HINT_OFFLOAD;
}

/* Returns "FILE:LINE in FUNC()" (or "FILE:LINE, at the top level") for
 * frame. */
static PyObject *
describe_site(PyFrameObject *frame)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    PyObject *qualname, *r = NULL;
    int line = PyFrame_GetLineNumber(frame);

    qualname = PyObject_GetAttrString((PyObject *)code, "co_qualname");
    if (qualname != NULL) {
        if (PyUnicode_CompareWithASCIIString(qualname, "<module>") == 0)
            r = PyUnicode_FromFormat("%S:%d, at the top level",
                                     code->co_filename, line);
        else
            r = PyUnicode_FromFormat("%S:%d in %U()", code->co_filename,
                                     line, qualname);
    }
    Py_XDECREF(qualname);
    Py_DECREF(code);
    return r;
}

/* Sets *inside to what the program's line is inside (", inside
 * subprocess.run()", ", inside the import of boto3"; new reference) and
 * *hint to the fix, for callee, the library frame the program called, and
 * imported, the top level of the outermost module that callee imports
 * (NULL when it is no import).  Returns 0 or -1 with an exception set. */
static int
describe_callee(PyFrameObject *callee, PyFrameObject *imported,
                PyObject **inside, const char **hint)
{
    PyObject *module = module_name(callee), *qualname = NULL;
    PyCodeObject *code = NULL;

    *inside = NULL;
    if (name_is(module, "importlib._bootstrap",
                "importlib._bootstrap_external") &&
        imported != NULL) {
        PyObject *name = module_name(imported);

        *inside = PyUnicode_FromFormat(", inside the import of %S", name);
        Py_DECREF(name);
        *hint = HINT_IMPORT;
        goto cleanup;
    }
    code = PyFrame_GetCode(callee);
    qualname = PyObject_GetAttrString((PyObject *)code, "co_qualname");
    if (qualname == NULL)
        goto cleanup;
    if (module != Py_None)
        *inside = PyUnicode_FromFormat(", inside %U.%U()", module, qualname);
    else
        *inside = PyUnicode_FromFormat(", inside %U()", qualname);
    /* Not "use outrun.offload" for a stall inside outrun.offload (issue
     * 11, item 13). */
    *hint = name_is(module, "subprocess", NULL) ? HINT_PROCESS
            : name_is(module, "importlib._bootstrap",
                      "importlib._bootstrap_external")
                ? HINT_IMPORT
            : is_sdk_module(module) ? HINT_OUTRUN
                                    : HINT_OFFLOAD;

cleanup:
    Py_XDECREF(qualname);
    Py_XDECREF(code);
    Py_DECREF(module);
    return *inside == NULL ? -1 : 0;
}

/* Returns the warning for a loop thread whose innermost frame is frame
 * (borrowed; may be NULL), stuck for stalled_ms. */
static PyObject *
describe_stall(WatchdogObject *self, PyFrameObject *frame, double stalled_ms)
{
    PyFrameObject *user = NULL, *callee = NULL, *imported = NULL;
    PyObject *site = NULL, *inside = NULL, *r = NULL;
    const char *hint = HINT_OFFLOAD;
    char ms[32];

    snprintf(ms, sizeof(ms), "%.0f", stalled_ms);
    if (frame == NULL)
        return PyUnicode_FromFormat(
            "outrun: the event loop has been stuck for %s ms in native code "
            "that runs no Python; %s\n",
            ms, HINT_OFFLOAD);

    /* From the innermost frame outward to the program's own code: callee
     * is the library frame that code called, imported the outermost top
     * level of a library module on the way. */
    user = (PyFrameObject *)Py_NewRef(frame);
    while (user != NULL) {
        PyCodeObject *code = PyFrame_GetCode(user);
        int lib = is_library(self->library_dirs, code->co_filename);

        if (lib > 0 && name_is(code->co_name, "<module>", NULL))
            Py_XSETREF(imported, (PyFrameObject *)Py_NewRef(user));
        Py_DECREF(code);
        if (lib < 0)
            goto cleanup;
        if (!lib)
            break;
        Py_XSETREF(callee, user);
        user = PyFrame_GetBack(callee);
    }

    if (user == NULL) {
        /* All library code (the loop came back as we looked, say): name
         * the innermost frame. */
        site = describe_site(frame);
        inside = PyUnicode_FromString("");
    }
    else {
        site = describe_site(user);
        if (callee != NULL) {
            if (describe_callee(callee, imported, &inside, &hint) < 0)
                goto cleanup;
        }
        else {
            inside = PyUnicode_FromString("");
            hint = hint_by_line(user);
        }
    }
    if (site == NULL || inside == NULL || hint == NULL)
        goto cleanup;
    r = PyUnicode_FromFormat("outrun: the event loop has been stuck for %s "
                             "ms at %U%U; %s\n",
                             ms, site, inside, hint);

cleanup:
    Py_XDECREF(site);
    Py_XDECREF(inside);
    Py_XDECREF(imported);
    Py_XDECREF(callee);
    Py_XDECREF(user);
    return r;
}

/* Writes text to sys.stderr and flushes it.  Returns 0 or -1 with an
 * exception set; no sys.stderr is not an error. */
static int
write_stderr(PyObject *text)
{
    PyObject *err = PySys_GetObject("stderr"); /* borrowed */
    PyObject *r;

    if (err == NULL || err == Py_None)
        return 0;
    Py_INCREF(err);
    r = PyObject_CallMethod(err, "write", "O", text);
    if (r != NULL) {
        Py_DECREF(r);
        r = PyObject_CallMethod(err, "flush", NULL);
    }
    Py_DECREF(err);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Returns 0 or -1 with an exception set. */
static int
report_stall(WatchdogObject *self, double stalled_ms)
{
    PyObject *sys = NULL, *frames = NULL, *key = NULL, *text = NULL;
    PyObject *frame;
    int r = -1;

    sys = PyImport_ImportModule("sys");
    if (sys == NULL)
        goto cleanup;
    frames = PyObject_CallMethod(sys, "_current_frames", NULL);
    if (frames == NULL)
        goto cleanup;
    key = PyLong_FromUnsignedLong(self->loop_ident);
    if (key == NULL)
        goto cleanup;
    frame = PyObject_GetItem(frames, key);
    if (frame == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError))
            goto cleanup;
        PyErr_Clear();
    }
    else if (!PyFrame_Check(frame)) {
        Py_CLEAR(frame);
    }
    text = describe_stall(self, (PyFrameObject *)frame, stalled_ms);
    Py_XDECREF(frame);
    if (text == NULL)
        goto cleanup;
    r = write_stderr(text);

cleanup:
    Py_XDECREF(text);
    Py_XDECREF(key);
    Py_XDECREF(frames);
    Py_XDECREF(sys);
    return r;
}

/* Thread: watchdog; GIL: not held (taken here). */
static void
on_stall(void *ctx, double stalled_ms)
{
    WatchdogObject *self = ctx;
    PyGILState_STATE gil = PyGILState_Ensure();

    /* self is alive, though maybe inside its dealloc: stop(), which
     * dealloc calls too, joins this thread before anything of self is
     * freed.  Hence no reference to self is taken here, not even to name
     * it in the report of a failure. */
    if (report_stall(self, stalled_ms) < 0) {
        bnd_exc_state exc = bnd_exc_save();
        PyObject *where = PyUnicode_FromString("outrun's stall warning");

        if (where == NULL)
            PyErr_Clear(); /* The report's own exception matters more. */
        bnd_exc_restore(exc);
        PyErr_WriteUnraisable(where);
        Py_XDECREF(where);
    }
    PyGILState_Release(gil);
}

/* ------------------------------------------------------------------ */
/* The type (loop thread, GIL held)                                    */
/* ------------------------------------------------------------------ */

/* Stops the watchdog thread if it runs and keeps its stats. */
static void
stop_thread(WatchdogObject *self)
{
    struct rt_watchdog *wd = self->wd;

    if (wd == NULL)
        return;
    self->wd = NULL;
    /* on_stall may be waiting for the GIL: let it have it, or the join
     * never ends. */
    Py_BEGIN_ALLOW_THREADS
    rt_watchdog_stop(wd, &self->stats);
    Py_END_ALLOW_THREADS
}

/* Returns a new tuple of exact str from the iterable dirs. */
static PyObject *
str_tuple(PyObject *dirs)
{
    PyObject *t = PySequence_Tuple(dirs), *r;
    Py_ssize_t n;

    if (t == NULL)
        return NULL;
    n = PyTuple_GET_SIZE(t);
    r = PyTuple_New(n);
    for (Py_ssize_t i = 0; r != NULL && i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(t, i), *s;

        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError,
                         "library_dirs must hold str, not %.100s",
                         Py_TYPE(item)->tp_name);
            Py_CLEAR(r);
            break;
        }
        s = PyUnicode_FromObject(item); /* an exact str */
        if (s == NULL)
            Py_CLEAR(r);
        else
            PyTuple_SET_ITEM(r, i, s);
    }
    Py_DECREF(t);
    return r;
}

static PyObject *
Watchdog_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"threshold_ms", "library_dirs", NULL};
    double threshold_ms;
    PyObject *dirs = NULL;
    WatchdogObject *self;
    int r;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "d|O:Watchdog", kwlist,
                                     &threshold_ms, &dirs))
        return NULL;
    if (!(threshold_ms > 0 && threshold_ms <= 3600e3)) {
        char text[64];

        snprintf(text, sizeof(text), "%g", threshold_ms);
        PyErr_Format(PyExc_ValueError,
                     "threshold_ms must be more than 0 and at most 3600000, "
                     "not %s",
                     text);
        return NULL;
    }
    self = (WatchdogObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->threshold_ms = threshold_ms;
    self->loop_ident = PyThread_get_thread_ident();
    self->library_dirs =
        dirs == NULL ? PyTuple_New(0) : str_tuple(dirs);
    if (self->library_dirs == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    r = rt_watchdog_start(threshold_ms, on_stall, self, &self->wd);
    if (r < 0) {
        Py_DECREF(self);
        errno = -r;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return (PyObject *)self;
}

static void
Watchdog_dealloc(WatchdogObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    stop_thread(self);
    Py_CLEAR(self->library_dirs);
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(Watchdog_beat_doc,
             "beat()\n--\n\n"
             "Tells the watchdog that the loop thread is back in its loop.  "
             "Call it\nfrom a loop callback every beat_interval_ms.");

static PyObject *
Watchdog_beat(WatchdogObject *self, PyObject *unused)
{
    if (self->wd == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the watchdog is stopped");
        return NULL;
    }
    rt_watchdog_beat(self->wd);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Watchdog_stop_doc,
             "stop()\n--\n\n"
             "Stops the watchdog and returns (stalls, total_ms, worst_ms): "
             "how many\nstalls it warned about, their summed length and the "
             "longest.  A stall\nstill going on ends here.  Calling it again "
             "returns the same.");

static PyObject *
Watchdog_stop(WatchdogObject *self, PyObject *unused)
{
    stop_thread(self);
    return Py_BuildValue("(Kdd)", self->stats.stalls, self->stats.total_ms,
                         self->stats.worst_ms);
}

static PyObject *
Watchdog_get_beat_interval_ms(WatchdogObject *self, void *closure)
{
    return PyFloat_FromDouble(
        rt_watchdog_beat_interval_ms(self->threshold_ms));
}

static PyObject *
Watchdog_get_threshold_ms(WatchdogObject *self, void *closure)
{
    return PyFloat_FromDouble(self->threshold_ms);
}

static PyObject *
Watchdog_repr(WatchdogObject *self)
{
    char text[64];

    snprintf(text, sizeof(text), "%g", self->threshold_ms);
    return PyUnicode_FromFormat("<outrun Watchdog: %s ms, %s>", text,
                                self->wd != NULL ? "running" : "stopped");
}

static PyMethodDef Watchdog_methods[] = {
    {"beat", (PyCFunction)Watchdog_beat, METH_NOARGS, Watchdog_beat_doc},
    {"stop", (PyCFunction)Watchdog_stop, METH_NOARGS, Watchdog_stop_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Watchdog_getset[] = {
    {"beat_interval_ms", (getter)Watchdog_get_beat_interval_ms, NULL,
     "How often to call beat(), in milliseconds: a quarter of the "
     "threshold.",
     NULL},
    {"threshold_ms", (getter)Watchdog_get_threshold_ms, NULL,
     "How long the loop thread may stay away from its loop, in "
     "milliseconds,\nbeyond the beat interval, before a warning.",
     NULL},
    {NULL},
};

PyDoc_STRVAR(
    Watchdog_doc,
    "Watchdog(threshold_ms, library_dirs=())\n--\n\n"
    "Warns on standard error while the thread that created it stays away "
    "from\nits event loop for longer than threshold_ms, naming the "
    "program's line\n(the innermost frame whose file is not under one of "
    "library_dirs) and\nwhat to use instead.  The host runs one per run "
    "(--stall-warning).");

static PyType_Slot Watchdog_slots[] = {
    {Py_tp_doc, (void *)Watchdog_doc},
    {Py_tp_new, Watchdog_new},
    {Py_tp_dealloc, Watchdog_dealloc},
    {Py_tp_repr, Watchdog_repr},
    {Py_tp_methods, Watchdog_methods},
    {Py_tp_getset, Watchdog_getset},
    {0, NULL},
};

static PyType_Spec Watchdog_spec = {
    .name = "_outrun.Watchdog",
    .basicsize = sizeof(WatchdogObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Watchdog_slots,
};

int
bnd_watchdog_init(PyObject *module, bnd_state *st)
{
    /* Nothing in C looks the type up, so the module's dict holds it and
     * the state need not. */
    PyObject *type;
    int r;

    assert(PyGILState_Check());
    type = PyType_FromModuleAndSpec(module, &Watchdog_spec, NULL);
    if (type == NULL)
        return -1;
    r = PyModule_AddObjectRef(module, "Watchdog", type);
    Py_DECREF(type);
    return r;
}
