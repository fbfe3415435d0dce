/* The plan for one host process: which interpreter to present, where the
 * SDK is, which virtual environment, and the argv the interpreter gets.
 *
 * Plain C: no Python.h.  host.c turns a plan into a PyConfig.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>

#include "cli.h"
#include "layout.h"

struct rt_host_plan {
    enum rt_command command;
    const char *command_name;
    enum rt_loop loop;
    double debug_pending; /* seconds, 0 when off */
    double stall_warning_ms; /* 0 when off */
    unsigned threads;        /* 0: OUTRUN_THREADS or the default */
    /* The interpreter the program sees as sys.executable: the venv's
     * python3 when there is one, else the python3 the host was built
     * against.  Path configuration (prefix, site-packages) follows it. */
    char executable[PATH_MAX];
    char host_executable[PATH_MAX]; /* the outrun binary itself */
    char sdk_dir[PATH_MAX];
    bool has_venv;
    struct rt_venv venv;
    bool has_program;
    struct rt_program program;
    /* RT_CMD_SDK: the arguments for the SDK's parser (struct rt_args's
     * sdk_argv, borrowed: the args outlive the plan). */
    int sdk_argc;
    char **sdk_argv;
    /* Arguments for PyConfig: argv[0] is sys.argv[0] for `run`. */
    bool parse_argv;
    int argc;
    char **argv; /* owned array of borrowed strings; NULL-terminated */
};

/* Builds the plan for args.  exe_path is the host's own executable;
 * virtual_env is the VIRTUAL_ENV variable (may be NULL).  Returns 0, or a
 * negative errno with a one-line message in err: -ENOENT / -EACCES /
 * -EISDIR for a bad PROGRAM, -EINVAL for a bad virtual environment,
 * -ENOPKG when the SDK is missing.
 * Thread: any; GIL: not held; no Python API. */
int
rt_host_plan_build(const struct rt_args *args, const char *host_argv0,
                   const char *exe_path, const char *virtual_env,
                   struct rt_host_plan *plan, char *err, size_t errlen);

/* Releases what rt_host_plan_build allocated.  Safe on a zeroed plan.
 * Thread: any; GIL: not held; no Python API. */
void
rt_host_plan_clear(struct rt_host_plan *plan);
