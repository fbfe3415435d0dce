/* The plan for one host process. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

int
rt_host_plan_build(const struct rt_args *args, const char *host_argv0,
                   const char *exe_path, const char *virtual_env,
                   struct rt_host_plan *plan, char *err, size_t errlen)
{
    const char *project_dir = NULL;
    int r, n = 0;

    memset(plan, 0, sizeof(*plan));
    plan->command = args->command;
    plan->command_name = args->command_name;
    plan->loop = args->loop;
    plan->debug_pending = args->debug_pending;
    plan->stall_warning_ms = args->stall_warning_ms;
    plan->threads = args->threads;
    plan->sdk_argc = args->sdk_argc;
    plan->sdk_argv = args->sdk_argv;

    if (args->command == RT_CMD_RUN) {
        r = rt_program_resolve(args->program, &plan->program, err, errlen);
        if (r < 0)
            return r;
        plan->has_program = true;
        project_dir = plan->program.project_dir;
    }

    r = rt_venv_find(virtual_env, project_dir, OUTRUN_PYTHON_VERSION,
                     &plan->venv, err, errlen);
    if (r < 0)
        return r;
    plan->has_venv = r > 0;
    snprintf(plan->executable, sizeof(plan->executable), "%s",
             plan->has_venv ? plan->venv.python : OUTRUN_PYTHON_EXECUTABLE);

    snprintf(plan->host_executable, sizeof(plan->host_executable), "%s",
             exe_path);
    r = rt_sdk_find(exe_path, OUTRUN_BUILD_DIR, OUTRUN_SOURCE_SDK_DIR,
                    OUTRUN_INSTALLED_SDK_REL, plan->sdk_dir,
                    sizeof(plan->sdk_dir), err, errlen);
    if (r < 0)
        return r;

    /* argv: at most argv0 + command + rest + NULL. */
    plan->argv = calloc((size_t)args->rest_argc + 3, sizeof(char *));
    if (plan->argv == NULL)
        return -ENOMEM;
    switch (args->command) {
    case RT_CMD_RUN:
        /* sys.argv[0] is PROGRAM as the user wrote it, as with python3. */
        plan->argv[n++] = (char *)args->program;
        break;
    case RT_CMD_PYTHON:
        plan->parse_argv = true;
        plan->argv[n++] = (char *)host_argv0;
        break;
    default:
        plan->argv[n++] = (char *)host_argv0;
        if (args->command_name != NULL)
            plan->argv[n++] = (char *)args->command_name;
        break;
    }
    for (int i = 0; i < args->rest_argc; i++)
        plan->argv[n++] = args->rest_argv[i];
    plan->argv[n] = NULL;
    plan->argc = n;
    return 0;
}

void
rt_host_plan_clear(struct rt_host_plan *plan)
{
    free(plan->argv);
    plan->argv = NULL;
    plan->argc = 0;
}
