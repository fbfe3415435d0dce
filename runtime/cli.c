/* Command-line parsing for the outrun host. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Commands that the Python SDK implements.  The host checks the name, so
 * that a typo gets the same one-line error as any other usage error, and
 * hands everything after it to the SDK's own parser. */
static const char *const sdk_commands[] = {
    "bench",
    "preview",
    "up",
    "destroy",
    "stack",
    "config",
    NULL,
};

static bool
is_sdk_command(const char *name)
{
    for (size_t i = 0; sdk_commands[i] != NULL; i++) {
        if (strcmp(name, sdk_commands[i]) == 0)
            return true;
    }
    return false;
}

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool
is_help_flag(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static int
parse_loop(const char *value, enum rt_loop *loop, char *err, size_t errlen)
{
    if (strcmp(value, "asyncio") == 0) {
        *loop = RT_LOOP_ASYNCIO;
        return 0;
    }
    if (strcmp(value, "uvloop") == 0) {
        *loop = RT_LOOP_UVLOOP;
        return 0;
    }
    return fail(err, errlen,
                "--loop takes 'asyncio' or 'uvloop', not '%s'", value);
}

/* Parses the options of `outrun run` up to PROGRAM.  Everything after
 * PROGRAM belongs to the program, even if it looks like an option. */
static int
parse_run(int argc, char **argv, int i, struct rt_args *out, char *err,
          size_t errlen)
{
    for (; i < argc; i++) {
        const char *arg = argv[i];

        if (is_help_flag(arg)) {
            out->help = true;
            return 0;
        }
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "--loop") == 0) {
            if (i + 1 >= argc)
                return fail(err, errlen, "--loop needs a value "
                                         "('asyncio' or 'uvloop')");
            if (parse_loop(argv[++i], &out->loop, err, errlen) < 0)
                return -EINVAL;
            continue;
        }
        if (strcmp(arg, "--stall-warning") == 0 ||
            strncmp(arg, "--stall-warning=", 16) == 0) {
            const char *v = arg[15] == '=' ? arg + 16 : NULL;
            char *end;
            double ms;

            if (v == NULL) {
                if (i + 1 >= argc)
                    return fail(err, errlen,
                                "--stall-warning needs a number of "
                                "milliseconds (0 turns the warning off)");
                v = argv[++i];
            }
            ms = strtod(v, &end);
            if (end == v || *end != '\0' || !(ms >= 0) || ms > RT_STALL_WARNING_MAX_MS)
                return fail(err, errlen,
                            "--stall-warning takes milliseconds from 0 "
                            "(off) to %.0f, not '%s'",
                            RT_STALL_WARNING_MAX_MS, v);
            out->stall_warning_ms = ms;
            continue;
        }
        if (strcmp(arg, "--threads") == 0 ||
            strncmp(arg, "--threads=", 10) == 0) {
            const char *v = arg[9] == '=' ? arg + 10 : NULL;
            char *end;
            long n;

            if (v == NULL) {
                if (i + 1 >= argc)
                    return fail(err, errlen,
                                "--threads needs a number of threads");
                v = argv[++i];
            }
            n = strtol(v, &end, 10);
            if (end == v || *end != '\0' || n < 1 || n > RT_THREADS_MAX)
                return fail(err, errlen,
                            "--threads takes a number from 1 to %d, not "
                            "'%s'",
                            RT_THREADS_MAX, v);
            out->threads = (unsigned)n;
            continue;
        }
        if (strcmp(arg, "--debug-pending") == 0) {
            out->debug_pending = RT_DEBUG_PENDING_DEFAULT_S;
            continue;
        }
        if (strncmp(arg, "--debug-pending=", 16) == 0) {
            char *end;
            double seconds = strtod(arg + 16, &end);

            if (end == arg + 16 || *end != '\0' || !(seconds > 0) ||
                seconds > RT_DEBUG_PENDING_MAX_S)
                return fail(err, errlen,
                            "--debug-pending takes a number of seconds "
                            "above 0, not '%s'",
                            arg + 16);
            out->debug_pending = seconds;
            continue;
        }
        if (strncmp(arg, "--loop=", 7) == 0) {
            if (parse_loop(arg + 7, &out->loop, err, errlen) < 0)
                return -EINVAL;
            continue;
        }
        if (arg[0] == '-' && arg[1] != '\0')
            return fail(err, errlen, "run: unknown option '%s'", arg);
        break;
    }
    if (i >= argc)
        return fail(err, errlen, "run: missing PROGRAM (a .py file or a "
                                 "folder with __main__.py)");
    out->program = argv[i];
    out->rest_argc = argc - i - 1;
    out->rest_argv = argv + i + 1;
    return 0;
}

int
rt_cli_parse(int argc, char **argv, struct rt_args *out, char *err,
             size_t errlen)
{
    const char *cmd;

    memset(out, 0, sizeof(*out));
    out->stall_warning_ms = RT_STALL_WARNING_DEFAULT_MS;
    if (err != NULL && errlen > 0)
        err[0] = '\0';

    if (argc < 2) {
        out->command = RT_CMD_HELP;
        return 0;
    }
    cmd = argv[1];
    if (is_help_flag(cmd)) {
        out->command = RT_CMD_HELP;
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        out->command = RT_CMD_VERSION;
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        /* `outrun help COMMAND` is `outrun COMMAND --help`. */
        out->command = RT_CMD_HELP;
        if (argc > 2) {
            out->command_name = argv[2];
            out->help = true;
            if (strcmp(argv[2], "run") == 0)
                out->command = RT_CMD_RUN;
            else if (strcmp(argv[2], "python") == 0)
                out->command = RT_CMD_PYTHON;
            else if (is_sdk_command(argv[2]))
                out->command = RT_CMD_SDK;
            else
                return fail(err, errlen, "unknown command '%s'", argv[2]);
            if (out->command == RT_CMD_SDK) {
                /* The SDK prints its own help. */
                static char *help_argv[] = {"--help", NULL};

                out->rest_argc = 1;
                out->rest_argv = help_argv;
            }
        }
        return 0;
    }
    if (cmd[0] == '-')
        return fail(err, errlen, "unknown option '%s'", cmd);

    out->command_name = cmd;
    if (strcmp(cmd, "run") == 0) {
        out->command = RT_CMD_RUN;
        return parse_run(argc, argv, 2, out, err, errlen);
    }
    if (strcmp(cmd, "python") == 0) {
        /* Everything after `python` is the interpreter's, including
         * --help, exactly as with python3 itself. */
        out->command = RT_CMD_PYTHON;
        out->rest_argc = argc - 2;
        out->rest_argv = argv + 2;
        return 0;
    }
    if (is_sdk_command(cmd)) {
        out->command = RT_CMD_SDK;
        out->rest_argc = argc - 2;
        out->rest_argv = argv + 2;
        for (int i = 2; i < argc; i++) {
            if (is_help_flag(argv[i]))
                out->help = true;
        }
        return 0;
    }
    return fail(err, errlen, "unknown command '%s'", cmd);
}

void
rt_cli_print_usage(FILE *f)
{
    fputs("usage: outrun [--version] [--help] COMMAND [ARGS...]\n"
          "\n"
          "Runs Python infrastructure programs on an asyncio loop that the\n"
          "host owns, with a native Output type and native offload.\n"
          "\n"
          "commands:\n"
          "  run PROGRAM [ARGS...]   run a program (a .py file, or a folder\n"
          "                          with __main__.py) inside the host\n"
          "  python [ARGS...]        the embedded python3 interpreter with\n"
          "                          the Outrun SDK importable (-c, -m, a\n"
          "                          script, or the REPL)\n"
          "  preview                 show what `up` would change\n"
          "  up                      create, update and delete resources so\n"
          "                          the stack matches the program\n"
          "  destroy                 delete every resource of the stack\n"
          "  stack ls|output|rm      the project's stacks and their outputs\n"
          "  config [set|get|rm]     the stack's configuration\n"
          "  bench [SCENARIO...]     benchmarks: Outrun beside its peers\n"
          "  help COMMAND            the help of one command\n"
          "\n"
          "exit codes: 0 success, 1 the program failed, 2 usage error,\n"
          "130 interrupted (Ctrl-C); sys.exit(n) in a program gives n.\n"
          "Run 'outrun COMMAND --help' for a command's options.\n",
          f);
}

int
rt_cli_print_command_help(FILE *f, const char *command)
{
    if (strcmp(command, "run") == 0) {
        fputs("usage: outrun run [--loop asyncio|uvloop] [--threads N]\n"
              "                  [--stall-warning MS] "
              "[--debug-pending[=SECONDS]]\n"
              "                  PROGRAM [ARGS...]\n"
              "\n"
              "Runs PROGRAM's top level inside a coroutine on an event loop\n"
              "that the host owns, then waits for the work the Outrun SDK\n"
              "tracks.  PROGRAM is a .py file or a folder with\n"
              "__main__.py; ARGS become sys.argv[1:].  A virtual\n"
              "environment is used when VIRTUAL_ENV is set, or when the\n"
              "project folder holds .venv/ or venv/.\n"
              "\n"
              "options:\n"
              "  --loop NAME   the event loop: asyncio (the default) or\n"
              "                uvloop (needs the uvloop package)\n"
              "  --threads N   native worker threads for blocking work\n"
              "                (default: OUTRUN_THREADS, else 64)\n"
              "  --stall-warning MS\n"
              "                warn when the loop thread is stuck for MS\n"
              "                milliseconds (default 200; 0 turns it off)\n"
              "  --debug-pending[=SECONDS]\n"
              "                when nothing settles for SECONDS (default "
              "5) while\n"
              "                the run waits, print each pending Output, "
              "what it\n"
              "                waits on, and any cycle (kill -QUIT prints "
              "it too)\n"
              "  -h, --help    show this help\n"
              "\n"
              "Ctrl-C once cancels the program and lets its cleanup run\n"
              "(exit 130); a second Ctrl-C exits at once.\n",
              f);
        return 0;
    }
    if (strcmp(command, "python") == 0) {
        fputs("usage: outrun python [PYTHON ARGS...]\n"
              "\n"
              "Behaves like the python3 interpreter that Outrun embeds\n"
              "(-c CMD, -m MODULE, a script, or the REPL), with the Outrun\n"
              "SDK and the built-in _outrun module importable.  Run\n"
              "'outrun python --help' for the interpreter's own options.\n",
              f);
        return 0;
    }
    return -ENOENT;
}

const char *
rt_loop_name(enum rt_loop loop)
{
    switch (loop) {
    case RT_LOOP_UVLOOP:
        return "uvloop";
    case RT_LOOP_ASYNCIO:
    default:
        return "asyncio";
    }
}
