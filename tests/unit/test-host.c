/* Check suite for the interpreter's configuration: runtime/plan.c (the
 * plan for one host process) and runtime/host.c (the plan as a PyConfig,
 * and an interpreter started from it). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "cli.h"
#include "host.h"
#include "plan.h"
#include "unit.h"

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

/* Where the host would be in this build folder, so that rt_sdk_find finds
 * the source tree's SDK as it does for build/outrun. */
static char host_exe[PATH_MAX];
static char err[PATH_MAX + 512];
static struct rt_host_plan plan;
static PyConfig config;
static bool config_made;

static void
host_setup(void)
{
    char build[PATH_MAX];

    tmp_setup();
    ck_assert_ptr_nonnull(realpath(OUTRUN_BUILD_DIR, build));
    ck_assert_int_lt(snprintf(host_exe, sizeof(host_exe), "%s/outrun", build),
                     (int)sizeof(host_exe));
    err[0] = '\0';
    memset(&plan, 0, sizeof(plan));
    config_made = false;
}

static void
host_teardown(void)
{
    /* A test that failed half-way leaves an interpreter behind. */
    if (Py_IsInitialized())
        Py_FinalizeEx();
    if (config_made)
        PyConfig_Clear(&config);
    config_made = false;
    rt_host_plan_clear(&plan);
    tmp_teardown();
}

/* Parses `outrun ARGS...` (NULL-terminated) into *args, which borrows
 * from argv. */
static void
parse_args(char **argv, struct rt_args *args)
{
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    ck_assert_int_eq(rt_cli_parse(argc, argv, args, err, sizeof(err)), 0);
}

#define ARGV(...) ((char *[]){"outrun", __VA_ARGS__, NULL})

/* Builds the plan for args, without VIRTUAL_ENV unless virtual_env. */
static int
build_plan(const struct rt_args *args, const char *virtual_env)
{
    return rt_host_plan_build(args, "outrun", host_exe, virtual_env, &plan,
                              err, sizeof(err));
}

static void
assert_plan_argv(char *const *want)
{
    int n = 0;

    while (want[n] != NULL)
        n++;
    ck_assert_int_eq(plan.argc, n);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(plan.argv[i], want[i]);
    ck_assert_ptr_null(plan.argv[n]);
}

/* Builds config from plan; the teardown clears it. */
static void
make_config(void)
{
    PyStatus status = rt_host_make_config(&plan, &config);

    config_made = true;
    ck_assert_msg(!PyStatus_Exception(status), "rt_host_make_config: %s",
                  status.err_msg != NULL ? status.err_msg : "(exit)");
}

static void
assert_wstr_eq(const wchar_t *got, const char *want)
{
    wchar_t wide[PATH_MAX];

    ck_assert_ptr_nonnull(got);
    ck_assert_int_ge(swprintf(wide, PATH_MAX, L"%s", want), 0);
    ck_assert_msg(wcscmp(got, wide) == 0, "got '%ls', want '%s'", got, want);
}

static void
assert_config_argv(char *const *want)
{
    Py_ssize_t n = 0;

    while (want[n] != NULL)
        n++;
    ck_assert_int_eq(config.argv.length, n);
    for (Py_ssize_t i = 0; i < n; i++)
        assert_wstr_eq(config.argv.items[i], want[i]);
}

/* ------------------------------------------------------------------ */
/* rt_host_plan_build                                                  */
/* ------------------------------------------------------------------ */

START_TEST(host_plan_run)
{
    char program[PATH_MAX], main_file[PATH_MAX];
    struct rt_args args;

    tmp_write("app/prog.py", "");
    tmp_path(program, "app/prog.py");
    parse_args(ARGV("run", "--loop", "uvloop", program, "a", "--b"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);

    ck_assert_int_eq(plan.command, RT_CMD_RUN);
    ck_assert_str_eq(plan.command_name, "run");
    ck_assert_int_eq(plan.loop, RT_LOOP_UVLOOP);
    ck_assert(plan.has_program);
    ck_assert_str_eq(plan.program.main_file,
                     tmp_path(main_file, "app/prog.py"));
    /* No venv: the interpreter the host was built against. */
    ck_assert(!plan.has_venv);
    ck_assert_str_eq(plan.executable, OUTRUN_PYTHON_EXECUTABLE);
    ck_assert_str_eq(plan.host_executable, host_exe);
    ck_assert_str_eq(plan.sdk_dir, OUTRUN_SOURCE_SDK_DIR);
    /* sys.argv is PROGRAM and its arguments; nothing parses them. */
    ck_assert(!plan.parse_argv);
    assert_plan_argv((char *[]){program, "a", "--b", NULL});
}
END_TEST

START_TEST(host_plan_run_keeps_program_as_written)
{
    struct rt_args args;

    tmp_write("app/__main__.py", "");
    ck_assert_int_eq(chdir(tmp_dir), 0);
    parse_args(ARGV("run", "./app"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    /* sys.argv[0] is what the user typed, as with python3 ./app. */
    assert_plan_argv((char *[]){"./app", NULL});
    ck_assert(plan.program.is_folder);
}
END_TEST

START_TEST(host_plan_run_project_venv)
{
    char program[PATH_MAX], python[PATH_MAX];
    struct rt_args args;

    tmp_write("app/__main__.py", "");
    tmp_make_venv("app/.venv", OUTRUN_PYTHON_VERSION ".4");
    parse_args(ARGV("run", tmp_path(program, "app")), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    ck_assert(plan.has_venv);
    ck_assert_str_eq(plan.executable,
                     tmp_path(python, "app/.venv/bin/python3"));
}
END_TEST

START_TEST(host_plan_run_missing_program)
{
    char program[PATH_MAX];
    struct rt_args args;

    parse_args(ARGV("run", tmp_path(program, "nope.py")), &args);
    ck_assert_int_eq(build_plan(&args, NULL), -ENOENT);
    assert_message_names(err, program);
    /* main.c clears the plan after a failure too. */
    rt_host_plan_clear(&plan);
    ck_assert_ptr_null(plan.argv);
}
END_TEST

START_TEST(host_plan_python)
{
    char venv[PATH_MAX], python[PATH_MAX];
    struct rt_args args;

    tmp_make_venv("env", OUTRUN_PYTHON_VERSION ".0");
    parse_args(ARGV("python", "-c", "import sys", "x"), &args);
    ck_assert_int_eq(build_plan(&args, tmp_path(venv, "env")), 0);
    ck_assert_int_eq(plan.command, RT_CMD_PYTHON);
    ck_assert(!plan.has_program);
    ck_assert(plan.has_venv);
    ck_assert_str_eq(plan.executable, tmp_path(python, "env/bin/python3"));
    /* python3's own options are parsed by CPython, from argv[1]. */
    ck_assert(plan.parse_argv);
    assert_plan_argv((char *[]){"outrun", "-c", "import sys", "x", NULL});
}
END_TEST

START_TEST(host_plan_python_ignores_working_folder_venv)
{
    struct rt_args args;

    /* Only `run` has a project folder; `python` follows VIRTUAL_ENV
     * alone, like python3. */
    tmp_make_venv(".venv", OUTRUN_PYTHON_VERSION ".0");
    ck_assert_int_eq(chdir(tmp_dir), 0);
    parse_args(ARGV("python"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    ck_assert(!plan.has_venv);
    ck_assert_str_eq(plan.executable, OUTRUN_PYTHON_EXECUTABLE);
    assert_plan_argv((char *[]){"outrun", NULL});
}
END_TEST

START_TEST(host_plan_bench)
{
    struct rt_args args;

    parse_args(ARGV("bench", "startup", "--json"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    ck_assert_int_eq(plan.command, RT_CMD_SDK);
    ck_assert_str_eq(plan.command_name, "bench");
    ck_assert(!plan.parse_argv);
    /* The SDK's parser sees the command name, as in `outrun bench`. */
    assert_plan_argv((char *[]){"outrun", "bench", "startup", "--json", NULL});
}
END_TEST

START_TEST(host_plan_help_bench)
{
    struct rt_args args;

    parse_args(ARGV("help", "bench"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    assert_plan_argv((char *[]){"outrun", "bench", "--help", NULL});
}
END_TEST

START_TEST(host_plan_venv_mismatch)
{
    char venv[PATH_MAX];
    struct rt_args args;

    tmp_make_venv("env", "2.7.18");
    parse_args(ARGV("python"), &args);
    ck_assert_int_eq(build_plan(&args, tmp_path(venv, "env")), -EINVAL);
    assert_message_names(err, "Python 2.7");
    assert_message_names(err, "Python " OUTRUN_PYTHON_VERSION);
}
END_TEST

START_TEST(host_plan_sdk_missing)
{
    char exe[PATH_MAX];
    struct rt_args args;

    /* A host copied somewhere with no SDK beside it. */
    tmp_mkdirs("bin");
    parse_args(ARGV("python"), &args);
    ck_assert_int_eq(rt_host_plan_build(&args, "outrun",
                                        tmp_path(exe, "bin/outrun"), NULL,
                                        &plan, err, sizeof(err)),
                     -ENOPKG);
    assert_message_names(err, "SDK");
}
END_TEST

START_TEST(host_plan_clear_twice)
{
    struct rt_args args;

    parse_args(ARGV("python"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    ck_assert_ptr_nonnull(plan.argv);
    rt_host_plan_clear(&plan);
    ck_assert_ptr_null(plan.argv);
    ck_assert_int_eq(plan.argc, 0);
    rt_host_plan_clear(&plan);
}
END_TEST

/* ------------------------------------------------------------------ */
/* rt_host_make_config                                                 */
/* ------------------------------------------------------------------ */

START_TEST(host_config_run)
{
    char program[PATH_MAX];
    struct rt_args args;

    tmp_write("prog.py", "");
    tmp_path(program, "prog.py");
    parse_args(ARGV("run", program, "-c", "x", "-m"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    make_config();

    ck_assert_int_eq(config.parse_argv, 0);
    assert_wstr_eq(config.executable, OUTRUN_PYTHON_EXECUTABLE);
    assert_wstr_eq(config.program_name, OUTRUN_PYTHON_EXECUTABLE);
    /* The program's -c and -m are its own, not python3's. */
    assert_config_argv((char *[]){program, "-c", "x", "-m", NULL});
    ck_assert_ptr_null(config.run_command);
    ck_assert_ptr_null(config.run_module);
    ck_assert_int_eq(config.install_signal_handlers, 1);
}
END_TEST

START_TEST(host_config_python)
{
    static const wchar_t code[] = L"import sys; print(sys.argv)";
    struct rt_args args;

    parse_args(ARGV("python", "-c", "import sys; print(sys.argv)", "a"),
               &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    make_config();

    /* PyConfig_Read turns 1 into 2, "already parsed", on 3.11. */
    ck_assert_int_ne(config.parse_argv, 0);
    assert_wstr_eq(config.executable, OUTRUN_PYTHON_EXECUTABLE);
    /* CPython parsed -c as python3 does: sys.argv starts at -c. */
    ck_assert_ptr_nonnull(config.run_command);
    ck_assert_msg(wcsncmp(config.run_command, code, wcslen(code)) == 0,
                  "run_command is '%ls'", config.run_command);
    assert_config_argv((char *[]){"-c", "a", NULL});
}
END_TEST

START_TEST(host_config_venv_executable)
{
    char venv[PATH_MAX], python[PATH_MAX];
    struct rt_args args;

    tmp_make_venv("env", OUTRUN_PYTHON_VERSION ".0");
    parse_args(ARGV("python", "-m", "pytest"), &args);
    ck_assert_int_eq(build_plan(&args, tmp_path(venv, "env")), 0);
    make_config();

    assert_wstr_eq(config.executable, tmp_path(python, "env/bin/python3"));
    assert_wstr_eq(config.program_name, python);
    ck_assert_ptr_nonnull(config.run_module);
    ck_assert_msg(wcscmp(config.run_module, L"pytest") == 0,
                  "run_module is '%ls'", config.run_module);
}
END_TEST

START_TEST(host_config_bench)
{
    struct rt_args args;

    parse_args(ARGV("bench", "--json"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    make_config();

    ck_assert_int_eq(config.parse_argv, 0);
    assert_config_argv((char *[]){"outrun", "bench", "--json", NULL});
}
END_TEST

/* ------------------------------------------------------------------ */
/* An interpreter from the configuration                               */
/* ------------------------------------------------------------------ */

/* Copies the str module.name, as UTF-8, into out; fails the test if there
 * is none. */
static void
get_str_attr(const char *module, const char *name, char *out, size_t n)
{
    PyObject *mod = NULL, *value = NULL;
    const char *utf8;

    mod = PyImport_ImportModule(module);
    if (mod == NULL)
        PyErr_Print();
    ck_assert_msg(mod != NULL, "import %s failed", module);
    value = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    if (value == NULL)
        PyErr_Print();
    ck_assert_msg(value != NULL, "%s has no %s", module, name);
    utf8 = PyUnicode_AsUTF8(value);
    if (utf8 == NULL)
        PyErr_Print();
    ck_assert_msg(utf8 != NULL, "%s.%s is not a str", module, name);
    snprintf(out, n, "%s", utf8);
    Py_DECREF(value);
}

START_TEST(host_interpreter_from_config)
{
    char value[PATH_MAX];
    struct rt_args args;
    PyStatus status;

    parse_args(ARGV("python", "-c", "pass", "arg"), &args);
    ck_assert_int_eq(build_plan(&args, NULL), 0);
    ck_assert_int_eq(rt_host_register_builtins(), 0);
    make_config();
    status = Py_InitializeFromConfig(&config);
    ck_assert_msg(!PyStatus_Exception(status), "Py_InitializeFromConfig: %s",
                  status.err_msg != NULL ? status.err_msg : "(exit)");
    ck_assert(Py_IsInitialized());
    /* As rt_host_main does: the interpreter keeps its own copy. */
    PyConfig_Clear(&config);
    config_made = false;

    /* The built-in modules are there, in this very binary. */
    get_str_attr("_outrun", "__version__", value, sizeof(value));
    ck_assert_str_eq(value, OUTRUN_VERSION);
    get_str_attr("_outrun_host", "version", value, sizeof(value));
    ck_assert_str_eq(value, OUTRUN_VERSION);
    /* The interpreter presents the planned python3 as itself. */
    get_str_attr("sys", "executable", value, sizeof(value));
    ck_assert_str_eq(value, OUTRUN_PYTHON_EXECUTABLE);
    ck_assert_int_eq(PyRun_SimpleString("import sys\n"
                                        "assert sys.argv == ['-c', 'arg'], "
                                        "sys.argv\n"),
                     0);

    ck_assert_int_eq(Py_FinalizeEx(), 0);
    ck_assert(!Py_IsInitialized());
}
END_TEST

static Suite *
host_suite(void)
{
    Suite *s = suite_create("host");
    TCase *tc;

    tc = tmp_tcase_create("plan", host_setup, host_teardown);
    tcase_add_test(tc, host_plan_run);
    tcase_add_test(tc, host_plan_run_keeps_program_as_written);
    tcase_add_test(tc, host_plan_run_project_venv);
    tcase_add_test(tc, host_plan_run_missing_program);
    tcase_add_test(tc, host_plan_python);
    tcase_add_test(tc, host_plan_python_ignores_working_folder_venv);
    tcase_add_test(tc, host_plan_bench);
    tcase_add_test(tc, host_plan_help_bench);
    tcase_add_test(tc, host_plan_venv_mismatch);
    tcase_add_test(tc, host_plan_sdk_missing);
    tcase_add_test(tc, host_plan_clear_twice);
    suite_add_tcase(s, tc);

    tc = tmp_tcase_create("config", host_setup, host_teardown);
    tcase_add_test(tc, host_config_run);
    tcase_add_test(tc, host_config_python);
    tcase_add_test(tc, host_config_venv_executable);
    tcase_add_test(tc, host_config_bench);
    suite_add_tcase(s, tc);

    tc = tmp_tcase_create("interpreter", host_setup, host_teardown);
    /* Starting CPython under valgrind takes seconds, not milliseconds. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, host_interpreter_from_config);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(host_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
