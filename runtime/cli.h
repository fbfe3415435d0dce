/* Command-line parsing for the outrun host.
 *
 * Plain C: no Python.h.  The parser never prints and never exits; it fills
 * a struct rt_args or returns an error message for the caller to print.
 *
 * The host is the one parser of the run options (--loop, --threads,
 * --stall-warning, --debug-pending) for every command that runs a program:
 * `run`, and the SDK's preview, up and destroy.  The SDK gets their values
 * in the options dict (outrun/_options.py) and parses only the arguments
 * that are its own (-C, -s, --parallel, --json, ...).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "run_limits.h"

enum rt_command {
    RT_CMD_NONE = 0,
    RT_CMD_HELP,    /* outrun --help, or no arguments at all */
    RT_CMD_VERSION, /* outrun --version */
    RT_CMD_RUN,     /* outrun run PROGRAM [ARGS...] */
    RT_CMD_PYTHON,  /* outrun python [PYTHON ARGS...] */
    RT_CMD_SDK,     /* a command implemented by the Python SDK (bench) */
};

/* A command that the Python SDK implements.  The host checks the name, so
 * that a typo gets the same one-line error as any other usage error, takes
 * the run options of the commands that run a program, and hands the other
 * arguments to the SDK's own parser. */
struct rt_sdk_command {
    const char *name;
    bool runs_program; /* takes the run options, as `run` does */
};

/* The commands the SDK implements, ended by a NULL name: the one list of
 * them.  The host exports it to Python as _outrun_host.SDK_COMMANDS (and
 * RUN_COMMANDS: `run` and those that run a program), where the SDK's
 * dispatch table (outrun/_cli.py) must match it. */
extern const struct rt_sdk_command rt_sdk_commands[];

enum rt_loop {
    RT_LOOP_ASYNCIO = 0,
    RT_LOOP_UVLOOP,
};

struct rt_args {
    enum rt_command command;
    const char *command_name; /* "run", "python", "bench", ... or NULL */
    bool help;                /* COMMAND --help */
    enum rt_loop loop;
    /* The run options (run, and SDK commands that run a program): */
    double debug_pending;     /* seconds, or 0 when off */
    double stall_warning_ms;  /* ms; 0 off; RT_STALL_WARNING_DEFAULT_MS */
    unsigned threads;         /* pool threads; 0: OUTRUN_THREADS or
                               * RT_THREADS_DEFAULT */
    const char *program;      /* RT_CMD_RUN: the file or folder to run */
    int rest_argc;            /* arguments after PROGRAM (run), all of */
    char **rest_argv;         /* them (python, SDK commands); borrowed */
    int sdk_argc;             /* RT_CMD_SDK: the arguments for the SDK's */
    char **sdk_argv;          /* parser, rest_argv without the run options
                               * the host took; NULL-terminated */
    char **owned_argv;        /* the array rt_args_clear frees, or NULL */
};

/* Parses argv (argv[0] is the host's own name).  Returns 0, or -EINVAL
 * with a one-line message (no trailing newline) in err, or -ENOMEM.  out
 * borrows strings from argv; call rt_args_clear once done with it (a
 * command that runs a program gets an array of its own).
 * Thread: any; GIL: not held; no Python API. */
int
rt_cli_parse(int argc, char **argv, struct rt_args *out, char *err,
             size_t errlen);

/* Frees what rt_cli_parse allocated.  Safe on a zeroed struct and twice.
 * Thread: any; GIL: not held; no Python API. */
void
rt_args_clear(struct rt_args *args);

/* Prints the top-level usage text.
 * Thread: any; GIL: not held; no Python API. */
void
rt_cli_print_usage(FILE *f);

/* Prints the help of one host command ("run" or "python").  Returns 0,
 * or -ENOENT when the host does not know the command (the SDK does).
 * Thread: any; GIL: not held; no Python API. */
int
rt_cli_print_command_help(FILE *f, const char *command);

/* Returns the name of a loop implementation as the user spells it.
 * Thread: any; GIL: not held; no Python API. */
const char *
rt_loop_name(enum rt_loop loop);
