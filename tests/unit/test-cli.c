/* Check suite for runtime/cli.c: rt_cli_parse and the help texts. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unit.h"

/* The error buffer every test parses into.  Each parse starts by filling it
 * with a stale message, so that a test sees whether the parser cleared or
 * rewrote it. */
static char err[256];

/* The argv of the last parse.  The result borrows from its argv, and the
 * ARGV() compound literal a test passes dies at the end of the enclosing
 * block, which is the inside of ck_assert_int_eq() when the call stands
 * there (AddressSanitizer's stack-use-after-scope caught that); a copy
 * here outlives the test. */
static char *parsed_argv[32];

/* Parses a NULL-terminated argv, counting it first. */
static int
parse(char **argv, struct rt_args *out)
{
    int argc = 0;

    while (argv[argc] != NULL) {
        ck_assert_int_lt(
            argc, (int)(sizeof(parsed_argv) / sizeof(parsed_argv[0])) - 1);
        parsed_argv[argc] = argv[argc];
        argc++;
    }
    parsed_argv[argc] = NULL;
    snprintf(err, sizeof(err), "stale message from an earlier parse");
    return rt_cli_parse(argc, parsed_argv, out, err, sizeof(err));
}

/* The argv of `outrun ARGS...`; the strings are literals. */
#define ARGV(...) ((char *[]){"outrun", __VA_ARGS__, NULL})

/* ------------------------------------------------------------------ */
/* Top level                                                           */
/* ------------------------------------------------------------------ */

START_TEST(cli_no_args_is_help)
{
    char *argv[] = {"outrun", NULL};
    struct rt_args a;

    ck_assert_int_eq(parse(argv, &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_HELP);
    ck_assert_ptr_null(a.command_name);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(cli_help_flags)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("--help"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_HELP);
    ck_assert_ptr_null(a.command_name);
    ck_assert_int_eq(parse(ARGV("-h"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_HELP);
    ck_assert_ptr_null(a.command_name);
}
END_TEST

START_TEST(cli_version_flags)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("--version"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_VERSION);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(parse(ARGV("-V"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_VERSION);
}
END_TEST

START_TEST(cli_unknown_option)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("--verbose", "run", "prog.py"), &a), -EINVAL);
    assert_message_names(err, "'--verbose'");
    /* Options of `run` are not top-level options. */
    ck_assert_int_eq(parse(ARGV("--loop", "uvloop", "run", "prog.py"), &a),
                     -EINVAL);
    assert_message_names(err, "'--loop'");
}
END_TEST

START_TEST(cli_unknown_command)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("rnu", "prog.py"), &a), -EINVAL);
    assert_message_names(err, "'rnu'");
    ck_assert_msg(strstr(err, "command") != NULL,
                  "error '%s' does not say it is a command", err);
}
END_TEST

START_TEST(cli_null_error_buffer)
{
    char *argv[] = {"outrun", "bogus", NULL};
    struct rt_args a;

    /* The parser reports failure even when nobody wants the message. */
    ck_assert_int_eq(rt_cli_parse(2, argv, &a, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(cli_error_truncated_to_buffer)
{
    char *argv[] = {"outrun", "a-very-long-command-name", NULL};
    char small[8];
    struct rt_args a;

    memset(small, 'x', sizeof(small));
    ck_assert_int_eq(rt_cli_parse(2, argv, &a, small, sizeof(small)), -EINVAL);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* run                                                                 */
/* ------------------------------------------------------------------ */

START_TEST(cli_run_program_and_args)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "prog.py", "a", "b"), &a), 0);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(a.command, RT_CMD_RUN);
    ck_assert_str_eq(a.command_name, "run");
    ck_assert_int_eq(a.loop, RT_LOOP_ASYNCIO);
    ck_assert(!a.help);
    ck_assert_str_eq(a.program, "prog.py");
    ck_assert_int_eq(a.rest_argc, 2);
    ck_assert_str_eq(a.rest_argv[0], "a");
    ck_assert_str_eq(a.rest_argv[1], "b");
}
END_TEST

START_TEST(cli_run_program_without_args)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "app"), &a), 0);
    ck_assert_str_eq(a.program, "app");
    ck_assert_int_eq(a.rest_argc, 0);
    ck_assert_ptr_null(a.rest_argv[0]);
}
END_TEST

START_TEST(cli_run_loop_uvloop)
{
    struct rt_args a;

    ck_assert_int_eq(
        parse(ARGV("run", "--loop", "uvloop", "prog.py", "a", "b"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_RUN);
    ck_assert_int_eq(a.loop, RT_LOOP_UVLOOP);
    ck_assert_str_eq(a.program, "prog.py");
    ck_assert_int_eq(a.rest_argc, 2);
    ck_assert_str_eq(a.rest_argv[0], "a");
    ck_assert_str_eq(a.rest_argv[1], "b");
}
END_TEST

START_TEST(cli_run_loop_equals)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "--loop=asyncio", "prog.py"), &a), 0);
    ck_assert_int_eq(a.loop, RT_LOOP_ASYNCIO);
    ck_assert_str_eq(a.program, "prog.py");
    ck_assert_int_eq(a.rest_argc, 0);

    /* The last --loop wins, as with most command-line tools. */
    ck_assert_int_eq(
        parse(ARGV("run", "--loop=asyncio", "--loop=uvloop", "prog.py"), &a),
        0);
    ck_assert_int_eq(a.loop, RT_LOOP_UVLOOP);
}
END_TEST

START_TEST(cli_run_debug_pending)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "prog.py"), &a), 0);
    ck_assert(a.debug_pending == 0);

    ck_assert_int_eq(parse(ARGV("run", "--debug-pending", "prog.py"), &a), 0);
    ck_assert(a.debug_pending == RT_DEBUG_PENDING_DEFAULT_S);
    ck_assert_str_eq(a.program, "prog.py");

    ck_assert_int_eq(
        parse(ARGV("run", "--debug-pending=0.5", "prog.py", "x"), &a), 0);
    ck_assert(a.debug_pending == 0.5);
    ck_assert_int_eq(a.rest_argc, 1);

    /* After PROGRAM it is the program's argument, not the host's. */
    ck_assert_int_eq(parse(ARGV("run", "prog.py", "--debug-pending"), &a),
                     0);
    ck_assert(a.debug_pending == 0);
    ck_assert_int_eq(a.rest_argc, 1);
}
END_TEST

START_TEST(cli_run_debug_pending_bad_value)
{
    static const char *const bad[] = {"", "0", "-1", "soon", "2s", "1e9"};
    struct rt_args a;
    char arg[64];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(arg, sizeof(arg), "--debug-pending=%s", bad[i]);
        ck_assert_int_eq(parse(ARGV("run", arg, "prog.py"), &a), -EINVAL);
        assert_message_names(err, "--debug-pending");
    }
}
END_TEST

START_TEST(cli_run_loop_bad_value)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "--loop", "tokio", "prog.py"), &a),
                     -EINVAL);
    assert_message_names(err, "'tokio'");
    assert_message_names(err, "--loop");

    ck_assert_int_eq(parse(ARGV("run", "--loop=trio", "prog.py"), &a),
                     -EINVAL);
    assert_message_names(err, "'trio'");

    ck_assert_int_eq(parse(ARGV("run", "--loop=", "prog.py"), &a), -EINVAL);
    assert_message_names(err, "''");
}
END_TEST

START_TEST(cli_run_loop_missing_value)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "--loop"), &a), -EINVAL);
    assert_message_names(err, "--loop");
    ck_assert_msg(strstr(err, "value") != NULL,
                  "error '%s' does not say a value is missing", err);
}
END_TEST

START_TEST(cli_run_unknown_option)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "--fast", "prog.py"), &a), -EINVAL);
    assert_message_names(err, "'--fast'");
    ck_assert_int_eq(parse(ARGV("run", "-x", "prog.py"), &a), -EINVAL);
    assert_message_names(err, "'-x'");
}
END_TEST

START_TEST(cli_run_program_args_pass_through)
{
    struct rt_args a;

    /* After PROGRAM everything is the program's, even --loop and --help. */
    ck_assert_int_eq(
        parse(ARGV("run", "prog.py", "--loop", "bogus", "--help", "-v", "--"),
              &a),
        0);
    ck_assert(!a.help);
    ck_assert_int_eq(a.loop, RT_LOOP_ASYNCIO);
    ck_assert_str_eq(a.program, "prog.py");
    ck_assert_int_eq(a.rest_argc, 5);
    ck_assert_str_eq(a.rest_argv[0], "--loop");
    ck_assert_str_eq(a.rest_argv[1], "bogus");
    ck_assert_str_eq(a.rest_argv[2], "--help");
    ck_assert_str_eq(a.rest_argv[3], "-v");
    ck_assert_str_eq(a.rest_argv[4], "--");
    ck_assert_ptr_null(a.rest_argv[5]);
}
END_TEST

START_TEST(cli_run_double_dash)
{
    struct rt_args a;

    /* `--` ends the host's options, so a PROGRAM may start with a dash. */
    ck_assert_int_eq(
        parse(ARGV("run", "--loop", "uvloop", "--", "-odd.py", "--loop"), &a),
        0);
    ck_assert_int_eq(a.loop, RT_LOOP_UVLOOP);
    ck_assert_str_eq(a.program, "-odd.py");
    ck_assert_int_eq(a.rest_argc, 1);
    ck_assert_str_eq(a.rest_argv[0], "--loop");

    /* Only the first `--` is the host's; a second one is PROGRAM. */
    ck_assert_int_eq(parse(ARGV("run", "--", "--", "x"), &a), 0);
    ck_assert_str_eq(a.program, "--");
    ck_assert_int_eq(a.rest_argc, 1);
    ck_assert_str_eq(a.rest_argv[0], "x");

    /* `--` and nothing after it still lacks PROGRAM. */
    ck_assert_int_eq(parse(ARGV("run", "--"), &a), -EINVAL);
    assert_message_names(err, "PROGRAM");
}
END_TEST

START_TEST(cli_run_missing_program)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run"), &a), -EINVAL);
    assert_message_names(err, "PROGRAM");
    ck_assert_int_eq(parse(ARGV("run", "--loop", "uvloop"), &a), -EINVAL);
    assert_message_names(err, "PROGRAM");
}
END_TEST

START_TEST(cli_run_dash_is_a_program)
{
    struct rt_args a;

    /* A lone "-" is not an option; rt_program_resolve judges it. */
    ck_assert_int_eq(parse(ARGV("run", "-"), &a), 0);
    ck_assert_str_eq(a.program, "-");
}
END_TEST

START_TEST(cli_run_help)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "--help"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_RUN);
    ck_assert(a.help);

    /* --help before PROGRAM wins over anything after it. */
    ck_assert_int_eq(
        parse(ARGV("run", "--loop", "asyncio", "-h", "--bad"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_RUN);
    ck_assert(a.help);
}
END_TEST

/* ------------------------------------------------------------------ */
/* python and SDK commands                                             */
/* ------------------------------------------------------------------ */

START_TEST(cli_python_takes_everything)
{
    struct rt_args a;

    ck_assert_int_eq(
        parse(ARGV("python", "-c", "print(1)", "--help", "--"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_PYTHON);
    ck_assert_str_eq(a.command_name, "python");
    /* --help is python3's own, not the host's. */
    ck_assert(!a.help);
    ck_assert_ptr_null(a.program);
    ck_assert_int_eq(a.rest_argc, 4);
    ck_assert_str_eq(a.rest_argv[0], "-c");
    ck_assert_str_eq(a.rest_argv[1], "print(1)");
    ck_assert_str_eq(a.rest_argv[2], "--help");
    ck_assert_str_eq(a.rest_argv[3], "--");
}
END_TEST

START_TEST(cli_python_without_args)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("python"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_PYTHON);
    ck_assert_int_eq(a.rest_argc, 0);
}
END_TEST

START_TEST(cli_bench)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("bench", "startup", "--json"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_SDK);
    ck_assert_str_eq(a.command_name, "bench");
    ck_assert(!a.help);
    ck_assert_int_eq(a.rest_argc, 2);
    ck_assert_str_eq(a.rest_argv[0], "startup");
    ck_assert_str_eq(a.rest_argv[1], "--json");

    ck_assert_int_eq(parse(ARGV("bench"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_SDK);
    ck_assert_int_eq(a.rest_argc, 0);
}
END_TEST

START_TEST(cli_bench_help)
{
    struct rt_args a;

    /* The SDK prints bench's help; the host only notes that it was asked
     * and passes --help on. */
    ck_assert_int_eq(parse(ARGV("bench", "startup", "-h"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_SDK);
    ck_assert(a.help);
    ck_assert_int_eq(a.rest_argc, 2);
    ck_assert_str_eq(a.rest_argv[1], "-h");
}
END_TEST

/* ------------------------------------------------------------------ */
/* The run options: run, and the SDK commands that run a program       */
/* ------------------------------------------------------------------ */

/* Checks that a's SDK arguments are exactly the NULL-terminated words. */
static void
assert_sdk_args(const struct rt_args *a, char **words)
{
    int n = 0;

    while (words[n] != NULL) {
        ck_assert_int_lt(n, a->sdk_argc);
        ck_assert_str_eq(a->sdk_argv[n], words[n]);
        n++;
    }
    ck_assert_int_eq(a->sdk_argc, n);
    ck_assert_ptr_null(a->sdk_argv[n]);
}

#define WORDS(...) ((char *[]){__VA_ARGS__, NULL})

START_TEST(cli_run_threads_and_stall_warning)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("run", "prog.py"), &a), 0);
    ck_assert_uint_eq(a.threads, 0);
    ck_assert(a.stall_warning_ms == RT_STALL_WARNING_DEFAULT_MS);
    ck_assert_int_eq(parse(ARGV("run", "--threads", "3", "--stall-warning",
                                "0", "prog.py"),
                           &a),
                     0);
    ck_assert_uint_eq(a.threads, 3);
    ck_assert(a.stall_warning_ms == 0);
    ck_assert_int_eq(parse(ARGV("run", "--threads=" RT_STR(RT_THREADS_MAX),
                                "--stall-warning=1.5", "prog.py"),
                           &a),
                     0);
    ck_assert_uint_eq(a.threads, RT_THREADS_MAX);
    ck_assert(a.stall_warning_ms == 1.5);
    ck_assert_str_eq(a.program, "prog.py");
}
END_TEST

START_TEST(cli_run_threads_and_stall_warning_bad_values)
{
    static const char *const threads[] = {"0", "-1", "x", "3x", "",
                                          "1025"};
    static const char *const stall[] = {"-1", "x", "", "3600001", "nan"};
    char arg[64];
    struct rt_args a;

    for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
        snprintf(arg, sizeof(arg), "--threads=%s", threads[i]);
        ck_assert_int_eq(parse(ARGV("run", arg, "prog.py"), &a), -EINVAL);
        assert_message_names(err, "--threads");
        ck_assert_msg(strstr(err, "from 1 to " RT_STR(RT_THREADS_MAX)),
                      "'%s' does not give the range", err);
    }
    for (size_t i = 0; i < sizeof(stall) / sizeof(stall[0]); i++) {
        snprintf(arg, sizeof(arg), "--stall-warning=%s", stall[i]);
        ck_assert_int_eq(parse(ARGV("run", arg, "prog.py"), &a), -EINVAL);
        assert_message_names(err, "--stall-warning");
    }
    ck_assert_int_eq(parse(ARGV("run", "prog.py", "--threads"), &a), 0);
    ck_assert_int_eq(parse(ARGV("run", "--threads"), &a), -EINVAL);
    assert_message_names(err, "--threads");
}
END_TEST

START_TEST(cli_sdk_commands_list)
{
    static const char *const want[][2] = {
        {"bench", "0"}, {"preview", "1"}, {"up", "1"},
        {"destroy", "1"}, {"stack", "0"}, {"config", "0"},
    };
    size_t n = 0;

    while (rt_sdk_commands[n].name != NULL) {
        ck_assert_uint_lt(n, sizeof(want) / sizeof(want[0]));
        ck_assert_str_eq(rt_sdk_commands[n].name, want[n][0]);
        ck_assert_int_eq(rt_sdk_commands[n].runs_program,
                         want[n][1][0] == '1');
        n++;
    }
    ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(cli_engine_command_run_options)
{
    struct rt_args a;

    /* The host takes the run options wherever they stand; the SDK gets
     * the rest, in order. */
    ck_assert_int_eq(parse(ARGV("up", "-C", "proj", "--threads", "3",
                                "--json", "--loop=uvloop", "-s", "dev",
                                "--stall-warning", "0", "--debug-pending",
                                "0.3", "-p", "4"),
                           &a),
                     0);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(a.command, RT_CMD_SDK);
    ck_assert_str_eq(a.command_name, "up");
    ck_assert_uint_eq(a.threads, 3);
    ck_assert_int_eq(a.loop, RT_LOOP_UVLOOP);
    ck_assert(a.stall_warning_ms == 0);
    ck_assert(a.debug_pending == 0.3);
    assert_sdk_args(&a, WORDS("-C", "proj", "--json", "-s", "dev", "-p",
                              "4"));
    /* Every argument is still in rest_argv, which becomes sys.argv. */
    ck_assert_int_eq(a.rest_argc, 14);
    rt_args_clear(&a);
    ck_assert_ptr_null(a.owned_argv);
    ck_assert_ptr_null(a.sdk_argv);
    rt_args_clear(&a);

    /* The defaults, as for run. */
    ck_assert_int_eq(parse(ARGV("preview"), &a), 0);
    ck_assert_uint_eq(a.threads, 0);
    ck_assert(a.stall_warning_ms == RT_STALL_WARNING_DEFAULT_MS);
    ck_assert(a.debug_pending == 0);
    ck_assert_int_eq(a.loop, RT_LOOP_ASYNCIO);
    ck_assert_int_eq(a.sdk_argc, 0);
    ck_assert_ptr_null(a.sdk_argv[0]);
    rt_args_clear(&a);
}
END_TEST

START_TEST(cli_engine_command_debug_pending)
{
    struct rt_args a;

    /* Alone it waits the default; a next word that is an option is not
     * its value, a number (even a negative one) is. */
    ck_assert_int_eq(parse(ARGV("destroy", "--debug-pending", "-y"), &a), 0);
    ck_assert(a.debug_pending == RT_DEBUG_PENDING_DEFAULT_S);
    assert_sdk_args(&a, WORDS("-y"));
    rt_args_clear(&a);
    ck_assert_int_eq(parse(ARGV("destroy", "--debug-pending"), &a), 0);
    ck_assert(a.debug_pending == RT_DEBUG_PENDING_DEFAULT_S);
    rt_args_clear(&a);
    ck_assert_int_eq(parse(ARGV("up", "--debug-pending=2"), &a), 0);
    ck_assert(a.debug_pending == 2);
    rt_args_clear(&a);
    ck_assert_int_eq(parse(ARGV("up", "--debug-pending", "-1"), &a),
                     -EINVAL);
    assert_message_names(err, "'-1'");
    ck_assert_ptr_null(a.owned_argv);
    ck_assert_int_eq(parse(ARGV("up", "--debug-pending", "soon"), &a),
                     -EINVAL);
    assert_message_names(err, "--debug-pending");
    /* `run` keeps its next word for PROGRAM. */
    ck_assert_int_eq(parse(ARGV("run", "--debug-pending", "2"), &a), 0);
    ck_assert(a.debug_pending == RT_DEBUG_PENDING_DEFAULT_S);
    ck_assert_str_eq(a.program, "2");
}
END_TEST

START_TEST(cli_engine_command_bad_run_option)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("up", "-C", "p", "--threads", "0"), &a),
                     -EINVAL);
    assert_message_names(err, "--threads");
    ck_assert_ptr_null(a.owned_argv);
    ck_assert_int_eq(parse(ARGV("preview", "--loop", "tokio"), &a), -EINVAL);
    assert_message_names(err, "'tokio'");
    ck_assert_int_eq(parse(ARGV("preview", "--stall-warning"), &a), -EINVAL);
    assert_message_names(err, "--stall-warning");
}
END_TEST

START_TEST(cli_engine_command_stops_taking_at_help_and_double_dash)
{
    struct rt_args a;

    /* After --help the SDK prints the help, as argparse would before it
     * met what follows. */
    ck_assert_int_eq(
        parse(ARGV("up", "--threads", "2", "--help", "--threads", "0"), &a),
        0);
    ck_assert(a.help);
    ck_assert_uint_eq(a.threads, 2);
    assert_sdk_args(&a, WORDS("--help", "--threads", "0"));
    rt_args_clear(&a);
    ck_assert_int_eq(parse(ARGV("up", "--", "--loop", "uvloop"), &a), 0);
    ck_assert_int_eq(a.loop, RT_LOOP_ASYNCIO);
    assert_sdk_args(&a, WORDS("--", "--loop", "uvloop"));
    rt_args_clear(&a);
    /* `help up` is `up --help`. */
    ck_assert_int_eq(parse(ARGV("help", "up"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_SDK);
    assert_sdk_args(&a, WORDS("--help"));
    rt_args_clear(&a);
}
END_TEST

START_TEST(cli_commands_without_a_program_take_no_run_options)
{
    struct rt_args a;

    /* bench, stack and config get every word, --threads included (a
     * bench scenario may take its own). */
    ck_assert_int_eq(parse(ARGV("stack", "ls", "--threads", "0"), &a), 0);
    ck_assert_uint_eq(a.threads, 0);
    ck_assert_ptr_null(a.owned_argv);
    assert_sdk_args(&a, WORDS("ls", "--threads", "0"));
    ck_assert_ptr_eq(a.sdk_argv, a.rest_argv);
    rt_args_clear(&a);
    ck_assert_ptr_eq(a.sdk_argv, a.rest_argv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* help COMMAND                                                        */
/* ------------------------------------------------------------------ */

START_TEST(cli_help_alone)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("help"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_HELP);
    ck_assert_ptr_null(a.command_name);
    ck_assert(!a.help);
}
END_TEST

START_TEST(cli_help_run)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("help", "run"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_RUN);
    ck_assert_str_eq(a.command_name, "run");
    ck_assert(a.help);
    ck_assert_ptr_null(a.program);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(cli_help_python)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("help", "python"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_PYTHON);
    ck_assert_str_eq(a.command_name, "python");
    ck_assert(a.help);
}
END_TEST

START_TEST(cli_help_bench)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("help", "bench"), &a), 0);
    ck_assert_int_eq(a.command, RT_CMD_SDK);
    ck_assert_str_eq(a.command_name, "bench");
    ck_assert(a.help);
    /* `help bench` is `bench --help`. */
    ck_assert_int_eq(a.rest_argc, 1);
    ck_assert_str_eq(a.rest_argv[0], "--help");
    ck_assert_ptr_null(a.rest_argv[1]);
}
END_TEST

START_TEST(cli_help_bogus)
{
    struct rt_args a;

    ck_assert_int_eq(parse(ARGV("help", "bogus"), &a), -EINVAL);
    assert_message_names(err, "'bogus'");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Help texts                                                          */
/* ------------------------------------------------------------------ */

/* Runs rt_cli_print_command_help into memory.  Returns its result and the
 * text in *text, which the caller frees. */
static int
command_help(const char *command, char **text)
{
    size_t len = 0;
    FILE *f;
    int r;

    *text = NULL;
    f = open_memstream(text, &len);
    ck_assert_ptr_nonnull(f);
    r = rt_cli_print_command_help(f, command);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_ptr_nonnull(*text);
    ck_assert_uint_eq(strlen(*text), len);
    return r;
}

START_TEST(cli_command_help_run)
{
    char *text;

    ck_assert_int_eq(command_help("run", &text), 0);
    ck_assert_msg(strncmp(text, "usage: outrun run ", 18) == 0,
                  "run help starts '%.40s'", text);
    ck_assert_ptr_nonnull(strstr(text, "--loop"));
    ck_assert_ptr_nonnull(strstr(text, "uvloop"));
    ck_assert_ptr_nonnull(strstr(text, "--help"));
    free(text);
}
END_TEST

START_TEST(cli_command_help_python)
{
    char *text;

    ck_assert_int_eq(command_help("python", &text), 0);
    ck_assert_msg(strncmp(text, "usage: outrun python ", 21) == 0,
                  "python help starts '%.40s'", text);
    free(text);
}
END_TEST

START_TEST(cli_command_help_unknown)
{
    char *text;

    /* bench's help belongs to the SDK, so the host does not know it. */
    ck_assert_int_eq(command_help("bench", &text), -ENOENT);
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert_int_eq(command_help("bogus", &text), -ENOENT);
    ck_assert_str_eq(text, "");
    free(text);
}
END_TEST

START_TEST(cli_usage_lists_commands)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    rt_cli_print_usage(f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(strncmp(text, "usage: outrun ", 14) == 0,
                  "usage starts '%.40s'", text);
    ck_assert_ptr_nonnull(strstr(text, "\n  run PROGRAM"));
    ck_assert_ptr_nonnull(strstr(text, "\n  python "));
    ck_assert_ptr_nonnull(strstr(text, "\n  bench "));
    ck_assert_ptr_nonnull(strstr(text, "\n  help COMMAND"));
    ck_assert_ptr_nonnull(strstr(text, "exit codes"));
    free(text);
}
END_TEST

START_TEST(cli_loop_name)
{
    ck_assert_str_eq(rt_loop_name(RT_LOOP_ASYNCIO), "asyncio");
    ck_assert_str_eq(rt_loop_name(RT_LOOP_UVLOOP), "uvloop");
}
END_TEST

static Suite *
cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc;

    tc = tcase_create("top-level");
    tcase_add_test(tc, cli_no_args_is_help);
    tcase_add_test(tc, cli_run_debug_pending);
    tcase_add_test(tc, cli_run_debug_pending_bad_value);
    tcase_add_test(tc, cli_help_flags);
    tcase_add_test(tc, cli_version_flags);
    tcase_add_test(tc, cli_unknown_option);
    tcase_add_test(tc, cli_unknown_command);
    tcase_add_test(tc, cli_null_error_buffer);
    tcase_add_test(tc, cli_error_truncated_to_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    tcase_add_test(tc, cli_run_program_and_args);
    tcase_add_test(tc, cli_run_program_without_args);
    tcase_add_test(tc, cli_run_loop_uvloop);
    tcase_add_test(tc, cli_run_loop_equals);
    tcase_add_test(tc, cli_run_loop_bad_value);
    tcase_add_test(tc, cli_run_loop_missing_value);
    tcase_add_test(tc, cli_run_unknown_option);
    tcase_add_test(tc, cli_run_program_args_pass_through);
    tcase_add_test(tc, cli_run_double_dash);
    tcase_add_test(tc, cli_run_missing_program);
    tcase_add_test(tc, cli_run_dash_is_a_program);
    tcase_add_test(tc, cli_run_help);
    suite_add_tcase(s, tc);

    tc = tcase_create("python-and-sdk");
    tcase_add_test(tc, cli_python_takes_everything);
    tcase_add_test(tc, cli_python_without_args);
    tcase_add_test(tc, cli_bench);
    tcase_add_test(tc, cli_bench_help);
    suite_add_tcase(s, tc);

    tc = tcase_create("run-options");
    tcase_add_test(tc, cli_run_threads_and_stall_warning);
    tcase_add_test(tc, cli_run_threads_and_stall_warning_bad_values);
    tcase_add_test(tc, cli_sdk_commands_list);
    tcase_add_test(tc, cli_engine_command_run_options);
    tcase_add_test(tc, cli_engine_command_debug_pending);
    tcase_add_test(tc, cli_engine_command_bad_run_option);
    tcase_add_test(tc, cli_engine_command_stops_taking_at_help_and_double_dash);
    tcase_add_test(tc, cli_commands_without_a_program_take_no_run_options);
    suite_add_tcase(s, tc);

    tc = tcase_create("help");
    tcase_add_test(tc, cli_help_alone);
    tcase_add_test(tc, cli_help_run);
    tcase_add_test(tc, cli_help_python);
    tcase_add_test(tc, cli_help_bench);
    tcase_add_test(tc, cli_help_bogus);
    tcase_add_test(tc, cli_command_help_run);
    tcase_add_test(tc, cli_command_help_python);
    tcase_add_test(tc, cli_command_help_unknown);
    tcase_add_test(tc, cli_usage_lists_commands);
    tcase_add_test(tc, cli_loop_name);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
