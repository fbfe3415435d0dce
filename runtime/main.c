/* The outrun executable: parses arguments, plans, and runs the host. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "host.h"
#include "plan.h"

static int
usage_error(const char *msg)
{
    fprintf(stderr, "outrun: error: %s\n", msg);
    rt_cli_print_usage(stderr);
    return 2;
}

/* Runs what args asks for; returns the exit code. */
static int
run_command(const struct rt_args *args, const char *argv0)
{
    struct rt_host_plan plan;
    char err[PATH_MAX + 512];
    char exe[PATH_MAX];
    ssize_t len;
    int r, code;

    switch (args->command) {
    case RT_CMD_HELP:
        if (args->command_name != NULL &&
            rt_cli_print_command_help(stdout, args->command_name) == 0)
            return 0;
        rt_cli_print_usage(stdout);
        return 0;
    case RT_CMD_VERSION:
        printf("outrun %s (Python %s)\n", OUTRUN_VERSION,
               OUTRUN_PYTHON_VERSION);
        return 0;
    case RT_CMD_RUN:
    case RT_CMD_PYTHON:
        /* `outrun python --help` is the interpreter's own help, so only
         * `outrun help python` sets help for python. */
        if (args->help) {
            rt_cli_print_command_help(stdout, args->command_name);
            return 0;
        }
        break;
    default:
        break;
    }

    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len < 0) {
        fprintf(stderr, "outrun: error: cannot find my own executable: %s\n",
                strerror(errno));
        return 1;
    }
    exe[len] = '\0';

    r = rt_host_plan_build(args, argv0, exe, getenv("VIRTUAL_ENV"), &plan,
                           err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "outrun: error: %s\n", err);
        rt_host_plan_clear(&plan);
        return r == -ENOPKG || r == -ENOMEM ? 1 : 2;
    }
    code = rt_host_main(&plan);
    rt_host_plan_clear(&plan);
    return code;
}

int
main(int argc, char **argv)
{
    struct rt_args args;
    char err[PATH_MAX + 512];
    int r, code;

    r = rt_cli_parse(argc, argv, &args, err, sizeof(err));
    if (r == -ENOMEM) {
        fputs("outrun: out of memory\n", stderr);
        return 1;
    }
    if (r < 0)
        return usage_error(err);
    code = run_command(&args, argv[0]);
    rt_args_clear(&args);
    return code;
}
