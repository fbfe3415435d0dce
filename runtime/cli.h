/* Command-line parsing for the outrun host.
 *
 * Plain C: no Python.h.  The parser never prints and never exits; it fills
 * a struct rt_args or returns an error message for the caller to print.
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

enum rt_loop {
    RT_LOOP_ASYNCIO = 0,
    RT_LOOP_UVLOOP,
};

struct rt_args {
    enum rt_command command;
    const char *command_name; /* "run", "python", "bench", ... or NULL */
    bool help;                /* COMMAND --help */
    enum rt_loop loop;
    double debug_pending;     /* run: seconds, or 0 when off */
    double stall_warning_ms;  /* run: ms; 0 off; default 200 */
    unsigned threads;         /* run: pool threads; 0: OUTRUN_THREADS or
                               * the default */
    const char *program;      /* RT_CMD_RUN: the file or folder to run */
    int rest_argc;            /* arguments after PROGRAM (run), all of */
    char **rest_argv;         /* them (python, SDK commands); borrowed */
};

/* Parses argv (argv[0] is the host's own name).  Returns 0, or -EINVAL
 * with a one-line message (no trailing newline) in err.  out borrows
 * strings from argv.
 * Thread: any; GIL: not held; no Python API. */
int
rt_cli_parse(int argc, char **argv, struct rt_args *out, char *err,
             size_t errlen);

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
