/* Command-line parsing for the outrun host. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const struct rt_sdk_command rt_sdk_commands[] = {
    {"bench", false},
    {"preview", true},
    {"up", true},
    {"destroy", true},
    {"stack", false},
    {"config", false},
    {NULL, false},
};

static const struct rt_sdk_command *
find_sdk_command(const char *name)
{
    for (size_t i = 0; rt_sdk_commands[i].name != NULL; i++) {
        if (strcmp(name, rt_sdk_commands[i].name) == 0)
            return &rt_sdk_commands[i];
    }
    return NULL;
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

/* Is text a whole number as strtod reads it ("-1", "0.5")? */
static bool
is_number(const char *text)
{
    char *end;

    (void)strtod(text, &end);
    return end != text && *end == '\0';
}

/* Takes the run option at argv[*i], and its value, into out, leaving *i
 * on the last word it took.  Returns 1 when argv[*i] is a run option, 0
 * when it is not, or -EINVAL with a message.  separate_seconds:
 * --debug-pending may take its seconds as the next word, for the commands
 * that have no PROGRAM the next word could be (`run` takes only
 * --debug-pending=SECONDS). */
static int
take_run_option(int argc, char **argv, int *i, struct rt_args *out,
                bool separate_seconds, char *err, size_t errlen)
{
    const char *arg = argv[*i];

    if (strcmp(arg, "--loop") == 0) {
        if (*i + 1 >= argc)
            return fail(err, errlen, "--loop needs a value "
                                     "('asyncio' or 'uvloop')");
        if (parse_loop(argv[++*i], &out->loop, err, errlen) < 0)
            return -EINVAL;
        return 1;
    }
    if (strncmp(arg, "--loop=", 7) == 0) {
        if (parse_loop(arg + 7, &out->loop, err, errlen) < 0)
            return -EINVAL;
        return 1;
    }
    if (strcmp(arg, "--stall-warning") == 0 ||
        strncmp(arg, "--stall-warning=", 16) == 0) {
        const char *v = arg[15] == '=' ? arg + 16 : NULL;
        char *end;
        double ms;

        if (v == NULL) {
            if (*i + 1 >= argc)
                return fail(err, errlen,
                            "--stall-warning needs a number of "
                            "milliseconds (0 turns the warning off)");
            v = argv[++*i];
        }
        ms = strtod(v, &end);
        if (end == v || *end != '\0' || !(ms >= 0) ||
            ms > RT_STALL_WARNING_MAX_MS)
            return fail(err, errlen,
                        "--stall-warning takes milliseconds from 0 "
                        "(off) to %.0f, not '%s'",
                        RT_STALL_WARNING_MAX_MS, v);
        out->stall_warning_ms = ms;
        return 1;
    }
    if (strcmp(arg, "--threads") == 0 ||
        strncmp(arg, "--threads=", 10) == 0) {
        const char *v = arg[9] == '=' ? arg + 10 : NULL;
        char *end;
        long n;

        if (v == NULL) {
            if (*i + 1 >= argc)
                return fail(err, errlen,
                            "--threads needs a number of threads");
            v = argv[++*i];
        }
        n = strtol(v, &end, 10);
        if (end == v || *end != '\0' || n < 1 || n > RT_THREADS_MAX)
            return fail(err, errlen,
                        "--threads takes a number from 1 to %d, not "
                        "'%s'",
                        RT_THREADS_MAX, v);
        out->threads = (unsigned)n;
        return 1;
    }
    if (strcmp(arg, "--debug-pending") == 0 ||
        strncmp(arg, "--debug-pending=", 16) == 0) {
        const char *v = arg[15] == '=' ? arg + 16 : NULL;
        char *end;
        double seconds;

        /* As argparse's optional values: the next word is the seconds
         * unless it is an option ("-C"), but a negative number is a bad
         * value, not an option. */
        if (v == NULL && separate_seconds && *i + 1 < argc &&
            (argv[*i + 1][0] != '-' || is_number(argv[*i + 1])))
            v = argv[++*i];
        if (v == NULL) {
            out->debug_pending = RT_DEBUG_PENDING_DEFAULT_S;
            return 1;
        }
        seconds = strtod(v, &end);
        if (end == v || *end != '\0' || !(seconds > 0) ||
            seconds > RT_DEBUG_PENDING_MAX_S)
            return fail(err, errlen,
                        "--debug-pending takes a number of seconds "
                        "above 0, not '%s'",
                        v);
        out->debug_pending = seconds;
        return 1;
    }
    return 0;
}

/* Parses the options of `outrun run` up to PROGRAM.  Everything after
 * PROGRAM belongs to the program, even if it looks like an option. */
static int
parse_run(int argc, char **argv, int i, struct rt_args *out, char *err,
          size_t errlen)
{
    for (; i < argc; i++) {
        const char *arg = argv[i];
        int r;

        if (is_help_flag(arg)) {
            out->help = true;
            return 0;
        }
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        r = take_run_option(argc, argv, &i, out, false, err, errlen);
        if (r < 0)
            return r;
        if (r > 0)
            continue;
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

/* Parses a command the SDK implements, from argv[2].  The arguments all
 * go to the SDK's parser, but for the run options of a command that runs
 * a program, which the host takes wherever they stand before a "--" (the
 * SDK's parser takes no positional arguments for those commands).  After
 * a --help the host takes nothing: the SDK prints the help, as argparse
 * would before it met a later option. */
static int
parse_sdk_command(int argc, char **argv, const struct rt_sdk_command *cmd,
                  struct rt_args *out, char *err, size_t errlen)
{
    bool taking;
    int n = 0;

    out->command = RT_CMD_SDK;
    out->rest_argc = argc - 2;
    out->rest_argv = argv + 2;
    out->sdk_argc = out->rest_argc;
    out->sdk_argv = out->rest_argv;
    for (int i = 2; i < argc; i++) {
        if (is_help_flag(argv[i]))
            out->help = true;
    }
    if (!cmd->runs_program)
        return 0;

    /* The words left for the SDK, and the NULL that ends them. */
    out->owned_argv = calloc((size_t)argc - 1, sizeof(char *));
    if (out->owned_argv == NULL) {
        fail(err, errlen, "out of memory");
        return -ENOMEM;
    }
    taking = true;
    for (int i = 2; i < argc; i++) {
        int r = 0;

        if (strcmp(argv[i], "--") == 0 || is_help_flag(argv[i]))
            taking = false;
        if (taking)
            r = take_run_option(argc, argv, &i, out, true, err, errlen);
        if (r < 0) {
            rt_args_clear(out);
            return r;
        }
        if (r == 0)
            out->owned_argv[n++] = argv[i];
    }
    out->sdk_argc = n;
    out->sdk_argv = out->owned_argv;
    return 0;
}

int
rt_cli_parse(int argc, char **argv, struct rt_args *out, char *err,
             size_t errlen)
{
    const struct rt_sdk_command *sdk;
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
            else if (find_sdk_command(argv[2]) != NULL)
                out->command = RT_CMD_SDK;
            else
                return fail(err, errlen, "unknown command '%s'", argv[2]);
            if (out->command == RT_CMD_SDK) {
                /* The SDK prints its own help. */
                static char *help_argv[] = {"--help", NULL};

                out->rest_argc = 1;
                out->rest_argv = help_argv;
                out->sdk_argc = 1;
                out->sdk_argv = help_argv;
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
    sdk = find_sdk_command(cmd);
    if (sdk != NULL)
        return parse_sdk_command(argc, argv, sdk, out, err, errlen);
    return fail(err, errlen, "unknown command '%s'", cmd);
}

void
rt_args_clear(struct rt_args *args)
{
    if (args->sdk_argv == args->owned_argv) {
        args->sdk_argv = NULL;
        args->sdk_argc = 0;
    }
    free(args->owned_argv);
    args->owned_argv = NULL;
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
        fprintf(f,
                "usage: outrun run [--loop asyncio|uvloop] [--threads N]\n"
                "                  [--stall-warning MS] "
                "[--debug-pending[=SECONDS]]\n"
                "                  PROGRAM [ARGS...]\n"
                "\n"
                "Runs PROGRAM's top level inside a coroutine on an event "
                "loop\n"
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
                "                (default: OUTRUN_THREADS, else %d)\n"
                "  --stall-warning MS\n"
                "                warn when the loop thread is stuck for MS\n"
                "                milliseconds (default %g; 0 turns it off)\n"
                "  --debug-pending[=SECONDS]\n"
                "                when nothing settles for SECONDS (default "
                "%g) while\n"
                "                the run waits, print each pending Output, "
                "what it\n"
                "                waits on, and any cycle (kill -QUIT prints "
                "it too)\n"
                "  -h, --help    show this help\n"
                "\n"
                "Ctrl-C once cancels the program and lets its cleanup run\n"
                "(exit 130); a second Ctrl-C exits at once.\n",
                RT_THREADS_DEFAULT, RT_STALL_WARNING_DEFAULT_MS,
                RT_DEBUG_PENDING_DEFAULT_S);
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
