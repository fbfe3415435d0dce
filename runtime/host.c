/* The outrun host: embeds CPython, runs a command, shuts down.
 *
 * The one runtime file that includes Python.h.  Its order of work:
 *
 *   1. register the built-in modules (_outrun, _outrun_host);
 *   2. initialise CPython from a PyConfig built from the plan, checking
 *      every status;
 *   3. make the SDK importable (a meta-path finder limited to the SDK's
 *      own packages, so a virtual environment sees nothing else of the
 *      host's site-packages);
 *   4. `outrun python`: hand over to Py_RunMain, which behaves as python3;
 *      every other command: call outrun._host.main(), which creates the
 *      event loop and runs the command on it;
 *   5. shut down in the order written in rt_host_shutdown().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "host.h"
#include "layout.h"
#include "run_limits.h"

PyMODINIT_FUNC
PyInit__outrun(void);

/* ------------------------------------------------------------------ */
/* Ctrl-C, SIGTERM and SIGHUP                                          */
/* ------------------------------------------------------------------ */

/* The signals that stop a run.  The first is handed to Python's own signal
 * machinery, where the SDK's handler cancels the program's main task so
 * that its cleanup runs (exit 128 + the signal's number: 130, 143, 129).
 * A second one exits at once, from here, because the loop thread may be
 * stuck in code that never gets back to the interpreter.
 *
 * From the start of main() until the SDK arms them (a run begins), the
 * signals are only counted ("deferred"): a KeyboardInterrupt raised inside
 * the interpreter's start-up or the SDK's imports gave an internal error,
 * "Fatal Python error: init_import_site", or a crash in a half-imported
 * extension (issue 11, item 6).  The run acts on a deferred signal as soon
 * as its main task exists; one that arrives when no run takes it (another
 * command, or shutdown) sets the exit code when the host exits. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

static volatile sig_atomic_t signal_count;   /* since armed or deferred */
static volatile sig_atomic_t signals_armed;  /* passed on to Python */
static volatile sig_atomic_t deferred_signal; /* first one not passed on */

static void
on_stop_signal(int signum)
{
    static const char msg[] = "\noutrun: interrupted again; exiting now\n";
    int saved_errno = errno;

    if (++signal_count >= 2) {
        ssize_t unused = write(STDERR_FILENO, msg, sizeof(msg) - 1);

        (void)unused;
        _exit(128 + signum);
    }
    if (signals_armed) {
        /* Async-signal-safe: trips Python's handler for signum and writes
         * the loop's wakeup fd. */
        PyErr_SetInterruptEx(signum);
    } else if (deferred_signal == 0) {
        deferred_signal = signum;
    }
    errno = saved_errno;
}

static int
install_stop_handler(int signum)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_STOP_SIGNALS; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);
    sa.sa_flags = SA_ONSTACK;
    return sigaction(signum, &sa, NULL);
}

/* Before the interpreter starts: count the stop signals instead of letting
 * them kill the process or reach Python.  A signal ignored at start (a
 * background job of a shell script) stays ignored, as with python3.
 * CPython leaves a signal that has a handler of someone else's alone, so
 * it installs no KeyboardInterrupt handler for SIGINT. */
static void
defer_stop_signals(void)
{
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        struct sigaction old;

        if (sigaction(stop_signals[i], NULL, &old) == 0 &&
            old.sa_handler == SIG_IGN)
            continue;
        install_stop_handler(stop_signals[i]);
    }
}

/* Parses a sequence of stop signals into numbers; returns how many or -1
 * with an exception set. */
static Py_ssize_t
stop_signals_of(PyObject *seq, int out[N_STOP_SIGNALS])
{
    PyObject *fast = PySequence_Fast(seq, "signals must be a sequence");
    Py_ssize_t n;

    if (fast == NULL)
        return -1;
    n = PySequence_Fast_GET_SIZE(fast);
    if (n > (Py_ssize_t)N_STOP_SIGNALS) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "too many signals");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        bool known = false;

        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        for (size_t j = 0; j < N_STOP_SIGNALS; j++)
            known = known || v == stop_signals[j];
        if (!known) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_ValueError,
                         "%ld is not SIGINT, SIGTERM or SIGHUP", v);
            return -1;
        }
        out[i] = (int)v;
    }
    Py_DECREF(fast);
    return n;
}

PyDoc_STRVAR(arm_interrupts_doc,
             "arm_interrupts(signals=(SIGINT,))\n--\n\n"
             "Puts the host's handler in front of Python's for signals "
             "(SIGINT, SIGTERM,\nSIGHUP): the first runs the Python handler, "
             "the second exits with\n128 + its number at once.  Call it "
             "after signal.signal(sig, ...), with\nthe signals blocked.  "
             "Returns the number of a signal that arrived before\n(during "
             "start-up), for the run to act on, or 0.");

static PyObject *
host_arm_interrupts(PyObject *module, PyObject *args)
{
    PyObject *seq = NULL;
    int sigs[N_STOP_SIGNALS] = {SIGINT};
    Py_ssize_t n = 1;
    int pending;

    if (!PyArg_ParseTuple(args, "|O:arm_interrupts", &seq))
        return NULL;
    if (seq != NULL && (n = stop_signals_of(seq, sigs)) < 0)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        if (install_stop_handler(sigs[i]) < 0)
            return PyErr_SetFromErrno(PyExc_OSError);
    /* Each run counts its own Ctrl-Cs: a second outrun.run() in one
     * `outrun python` session starts again from the first.  A signal
     * deferred during start-up is this run's first. */
    pending = deferred_signal;
    deferred_signal = 0;
    if (pending == 0)
        signal_count = 0;
    signals_armed = 1;
    return PyLong_FromLong(pending);
}

PyDoc_STRVAR(defer_interrupts_doc,
             "defer_interrupts(signals)\n--\n\n"
             "After a run: the host's handler counts signals again without "
             "passing them\nto Python (a second still exits at once); one "
             "that arrives sets the exit\ncode when the host exits.");

static PyObject *
host_defer_interrupts(PyObject *module, PyObject *seq)
{
    int sigs[N_STOP_SIGNALS];
    Py_ssize_t n = stop_signals_of(seq, sigs);

    if (n < 0)
        return NULL;
    signals_armed = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (install_stop_handler(sigs[i]) < 0)
            return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(interrupt_count_doc,
             "interrupt_count()\n--\n\n"
             "How many stop signals the host has seen since "
             "arm_interrupts().");

static PyObject *
host_interrupt_count(PyObject *module, PyObject *unused)
{
    return PyLong_FromLong((long)signal_count);
}

/* Stops passing signals to Python, which is about to finalise; the
 * handler goes on counting them, so that a second one still exits at once
 * and a first one sets the exit code (never an exit by the signal itself,
 * -2 for a double Ctrl-C before). */
static void
disarm_interrupts(void)
{
    signals_armed = 0;
}

/* The exit code once a deferred signal is taken into account. */
static int
exit_code_after_signals(int code)
{
    int sig = deferred_signal;

    if (sig == 0)
        return code;
    fprintf(stderr, "outrun: %s\n",
            sig == SIGINT ? "interrupted" : sig == SIGTERM ? "stopped by SIGTERM"
                                                           : "stopped by SIGHUP");
    return 128 + sig;
}

PyDoc_STRVAR(find_venv_doc,
             "find_venv(project_dir)\n--\n\n"
             "The virtual environment that a run of the project in "
             "project_dir uses,\nfound as `outrun run` finds it "
             "(runtime/layout.c): the one VIRTUAL_ENV\nnames, else "
             "project_dir/.venv, else project_dir/venv.  Returns its "
             "folder,\nor None when there is none.  Raises ValueError with "
             "the message for the\nuser when it cannot be used (made for "
             "another Python, or VIRTUAL_ENV\nnames no environment).");

static PyObject *
host_find_venv(PyObject *module, PyObject *arg)
{
    PyObject *bytes = NULL, *result = NULL;
    const char *project_dir = NULL;
    const char *virtual_env;
    struct rt_venv venv;
    char err[PATH_MAX + 512];
    int r;

    if (arg != Py_None) {
        if (!PyUnicode_FSConverter(arg, &bytes))
            return NULL;
        project_dir = PyBytes_AS_STRING(bytes);
    }
    virtual_env = getenv("VIRTUAL_ENV");
    err[0] = '\0';
    Py_BEGIN_ALLOW_THREADS
    r = rt_venv_find(virtual_env, project_dir, OUTRUN_PYTHON_VERSION, &venv,
                     err, sizeof(err));
    Py_END_ALLOW_THREADS
    if (r < 0)
        PyErr_SetString(PyExc_ValueError,
                        err[0] != '\0' ? err : strerror(-r));
    else if (r == 0)
        result = Py_NewRef(Py_None);
    else
        result = PyUnicode_DecodeFSDefault(venv.root);
    Py_XDECREF(bytes);
    return result;
}

static PyMethodDef host_methods[] = {
    {"arm_interrupts", host_arm_interrupts, METH_VARARGS,
     arm_interrupts_doc},
    {"defer_interrupts", host_defer_interrupts, METH_O,
     defer_interrupts_doc},
    {"interrupt_count", host_interrupt_count, METH_NOARGS,
     interrupt_count_doc},
    {"find_venv", host_find_venv, METH_O, find_venv_doc},
    {NULL, NULL, 0, NULL},
};

/* Adds list to module as a tuple named name. */
static int
add_tuple(PyObject *module, const char *name, PyObject *list)
{
    PyObject *tuple = PyList_AsTuple(list);
    int r;

    if (tuple == NULL)
        return -1;
    r = PyModule_AddObjectRef(module, name, tuple);
    Py_DECREF(tuple);
    return r;
}

/* Adds the names of the SDK's commands (runtime/cli.c), all of them as
 * SDK_COMMANDS, and `run` with those that run a program as RUN_COMMANDS. */
static int
add_commands(PyObject *module)
{
    PyObject *sdk = PyList_New(0), *run = PyList_New(0);
    PyObject *name = NULL;
    int rc = -1;

    if (sdk == NULL || run == NULL)
        goto cleanup;
    name = PyUnicode_FromString("run");
    if (name == NULL || PyList_Append(run, name) < 0)
        goto cleanup;
    for (size_t i = 0; rt_sdk_commands[i].name != NULL; i++) {
        Py_SETREF(name, PyUnicode_FromString(rt_sdk_commands[i].name));
        if (name == NULL || PyList_Append(sdk, name) < 0)
            goto cleanup;
        if (rt_sdk_commands[i].runs_program && PyList_Append(run, name) < 0)
            goto cleanup;
    }
    if (add_tuple(module, "SDK_COMMANDS", sdk) < 0 ||
        add_tuple(module, "RUN_COMMANDS", run) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    Py_XDECREF(name);
    Py_XDECREF(run);
    Py_XDECREF(sdk);
    return rc;
}

static int
host_module_exec(PyObject *module)
{
    if (PyModule_AddStringConstant(module, "version", OUTRUN_VERSION) < 0)
        return -1;
    return add_commands(module);
}

static PyModuleDef_Slot host_slots[] = {
    {Py_mod_exec, host_module_exec},
    {0, NULL},
};

static struct PyModuleDef host_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_outrun_host",
    .m_doc = "What the outrun host offers the SDK; present only inside the "
             "host.",
    .m_size = 0,
    .m_methods = host_methods,
    .m_slots = host_slots,
};

static PyObject *
PyInit__outrun_host(void)
{
    return PyModuleDef_Init(&host_module_def);
}

int
rt_host_register_builtins(void)
{
    if (PyImport_AppendInittab("_outrun", PyInit__outrun) < 0)
        return -ENOMEM;
    if (PyImport_AppendInittab("_outrun_host", PyInit__outrun_host) < 0)
        return -ENOMEM;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

PyStatus
rt_host_make_config(const struct rt_host_plan *plan, PyConfig *config)
{
    PyStatus status;

    /* The Python configuration, not the isolated one: a program run by
     * outrun sees PYTHONPATH, PYTHONDONTWRITEBYTECODE and the rest exactly
     * as under the user's own python3. */
    PyConfig_InitPythonConfig(config);
    config->parse_argv = plan->parse_argv ? 1 : 0;
    config->install_signal_handlers = 1;

    /* sys.executable is a real python3 (the venv's when there is one), so
     * that subprocess calls of sys.executable work and the path
     * configuration finds the right prefix and site-packages. */
    status = PyConfig_SetBytesString(config, &config->program_name,
                                     plan->executable);
    if (PyStatus_Exception(status))
        return status;
    status = PyConfig_SetBytesString(config, &config->executable,
                                     plan->executable);
    if (PyStatus_Exception(status))
        return status;
    status = PyConfig_SetBytesArgv(config, plan->argc,
                                   (char *const *)plan->argv);
    if (PyStatus_Exception(status))
        return status;
    return PyConfig_Read(config);
}

/* The finder that makes the SDK importable without putting the rest of the
 * folder that holds it on sys.path. */
static const char sdk_finder_source[] =
    "import sys\n"
    "from importlib.machinery import PathFinder\n"
    "class OutrunSDKFinder:\n"
    "    '''Finds the Outrun SDK's own packages in the host's SDK folder.'''\n"
    "    names = frozenset(('outrun',))\n"
    "    def __init__(self, path):\n"
    "        self.path = path\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if path is None and name in self.names:\n"
    "            return PathFinder.find_spec(name, [self.path])\n"
    "        return None\n"
    "sys.meta_path.insert(0, OutrunSDKFinder(sdk_dir))\n";

static int
install_sdk_finder(const struct rt_host_plan *plan)
{
    PyObject *globals = NULL, *sdk_dir = NULL, *result = NULL;
    int rc = -1;

    globals = PyDict_New();
    if (globals == NULL)
        goto cleanup;
    if (PyDict_SetItemString(globals, "__builtins__",
                             PyEval_GetBuiltins()) < 0)
        goto cleanup;
    sdk_dir = PyUnicode_DecodeFSDefault(plan->sdk_dir);
    if (sdk_dir == NULL ||
        PyDict_SetItemString(globals, "sdk_dir", sdk_dir) < 0)
        goto cleanup;
    result = PyRun_String(sdk_finder_source, Py_file_input, globals,
                          globals);
    if (result == NULL)
        goto cleanup;
    rc = 0;
cleanup:
    Py_XDECREF(result);
    Py_XDECREF(sdk_dir);
    Py_XDECREF(globals);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Running a command                                                   */
/* ------------------------------------------------------------------ */

/* Sets dict[key] to v (stolen; NULL means an error is set). */
static int
set_item(PyObject *dict, const char *key, PyObject *v)
{
    int r;

    if (v == NULL)
        return -1;
    r = PyDict_SetItemString(dict, key, v);
    Py_DECREF(v);
    return r;
}

/* A str of a file-system string, or None for NULL or "". */
static PyObject *
str_or_none(const char *value)
{
    if (value == NULL || value[0] == '\0')
        return Py_NewRef(Py_None);
    return PyUnicode_DecodeFSDefault(value);
}

static int
set_str(PyObject *dict, const char *key, const char *value)
{
    return set_item(dict, key, str_or_none(value));
}

/* Sets key to a float of seconds, or None when off (0). */
static int
set_seconds(PyObject *dict, const char *key, double seconds)
{
    return set_item(dict, key,
                    seconds > 0 ? PyFloat_FromDouble(seconds)
                                : Py_NewRef(Py_None));
}

/* Sets key to an int, or None when 0 (the default applies). */
static int
set_count(PyObject *dict, const char *key, unsigned n)
{
    return set_item(dict, key,
                    n > 0 ? PyLong_FromUnsignedLong(n) : Py_NewRef(Py_None));
}

/* Sets key to a list of the n strings in argv (argv may be NULL when n is
 * 0). */
static int
set_args(PyObject *dict, const char *key, int n, char **argv)
{
    PyObject *list = PyList_New(n);

    if (list == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        PyObject *arg = PyUnicode_DecodeFSDefault(argv[i]);

        if (arg == NULL) {
            Py_DECREF(list);
            return -1;
        }
        PyList_SET_ITEM(list, i, arg);
    }
    return set_item(dict, key, list);
}

/* Builds the options dict that outrun._host.main() takes: the command,
 * the run options as the host parsed them (cli.c), where things are
 * (layout.c), and the arguments that are the SDK command's own. */
static PyObject *
make_options(const struct rt_host_plan *plan)
{
    PyObject *opts = PyDict_New();

    if (opts == NULL)
        return NULL;
    if (set_str(opts, "command", plan->command_name) < 0 ||
        set_str(opts, "loop", rt_loop_name(plan->loop)) < 0 ||
        set_str(opts, "sdk_dir", plan->sdk_dir) < 0 ||
        set_str(opts, "host_executable", plan->host_executable) < 0 ||
        set_str(opts, "venv", plan->has_venv ? plan->venv.root : NULL) < 0 ||
        set_str(opts, "main_file",
                plan->has_program ? plan->program.main_file : NULL) < 0 ||
        set_str(opts, "project_dir",
                plan->has_program ? plan->program.project_dir : NULL) < 0 ||
        set_seconds(opts, "debug_pending", plan->debug_pending) < 0 ||
        set_seconds(opts, "stall_warning_ms", plan->stall_warning_ms) < 0 ||
        set_count(opts, "threads", plan->threads) < 0 ||
        set_args(opts, "argv", plan->sdk_argc, plan->sdk_argv) < 0) {
        Py_DECREF(opts);
        return NULL;
    }
    return opts;
}

/* Returns the exit code of outrun._host.main(options). */
static int
run_sdk_main(const struct rt_host_plan *plan)
{
    PyObject *mod = NULL, *opts = NULL, *result = NULL;
    int code = 1;

    mod = PyImport_ImportModule("outrun._host");
    if (mod == NULL)
        goto cleanup;
    opts = make_options(plan);
    if (opts == NULL)
        goto cleanup;
    result = PyObject_CallMethod(mod, "main", "O", opts);
    if (result == NULL)
        goto cleanup;
    code = (int)PyLong_AsLong(result);
    if (code == -1 && PyErr_Occurred())
        code = 1;
cleanup:
    if (PyErr_Occurred()) {
        /* A failure of the SDK itself, not of the user's program, which
         * outrun._host reports on its own. */
        fputs("outrun: internal error in the Python SDK:\n", stderr);
        PyErr_Print();
        code = 1;
    }
    Py_XDECREF(result);
    Py_XDECREF(opts);
    Py_XDECREF(mod);
    return code;
}

/* Grace period for Python callables still running on pool threads at exit:
 * long enough for ordinary cleanup, short enough that exit never hangs. */

/* Stops the worker pool (bindings/jobs.c): it takes no more jobs,
 * cancels the queued ones, kills running processes, gives running Python
 * callables RT_SHUTDOWN_GRACE_S seconds while the GIL is released, joins
 * the threads, and drains every completion channel once more so that each
 * job completes exactly once.  Idempotent. */
static void
stop_native_work(void)
{
    PyObject *mod = PyImport_ImportModule("_outrun"), *r = NULL;

    if (mod != NULL)
        r = PyObject_CallMethod(mod, "shutdown", "d", RT_SHUTDOWN_GRACE_S);
    if (r == NULL)
        PyErr_Print();
    Py_XDECREF(r);
    Py_XDECREF(mod);
}

/* The host's shutdown order, written in this one place (ARCHITECTURE.md,
 * "Host lifecycle", step 5).  outrun._host.main() has already cancelled the
 * program's leftover tasks, stopped the pool while the loop could still
 * take its last completions, and closed the loop before it returned.
 *
 *   1. Stop passing signals to Python: a stop signal from here on is
 *      only counted (a second exits at once) instead of calling into a
 *      dying interpreter; one that came sets the exit code at the end.
 *   2. Stop the native work that calls into Python (stop_native_work; a
 *      second time does nothing): after this no pool thread asks for the
 *      GIL, which after finalisation would hang.
 *   3. Py_FinalizeEx(), which flushes sys.stdout and sys.stderr; a failure
 *      there turns a success into exit code 120, as with python3.
 *
 * Returns the process exit code. */
static int
rt_host_shutdown(int code)
{
    disarm_interrupts();
    stop_native_work();
    if (Py_FinalizeEx() < 0 && code == 0)
        code = 120;
    return exit_code_after_signals(code);
}

int
rt_host_main(const struct rt_host_plan *plan)
{
    PyConfig config;
    PyStatus status;
    int code;

    /* `outrun python` is python3: KeyboardInterrupt as usual. */
    if (plan->command != RT_CMD_PYTHON)
        defer_stop_signals();
    if (rt_host_register_builtins() < 0) {
        fputs("outrun: out of memory\n", stderr);
        return 1;
    }
    status = rt_host_make_config(plan, &config);
    if (PyStatus_Exception(status))
        goto exception;
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status))
        goto exception;
    PyConfig_Clear(&config);

    if (install_sdk_finder(plan) < 0) {
        PyErr_Print();
        return rt_host_shutdown(1);
    }
    if (plan->command == RT_CMD_PYTHON) {
        /* Py_RunMain runs -c / -m / a script / the REPL exactly as
         * python3 does, then finalises the interpreter itself. */
        return Py_RunMain();
    }
    code = run_sdk_main(plan);
    return rt_host_shutdown(code);

exception:
    PyConfig_Clear(&config);
    if (PyStatus_IsExit(status))
        return status.exitcode;
    /* Prints the status's message and exits with 1. */
    Py_ExitStatusException(status);
    return 1;
}
