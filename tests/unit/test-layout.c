/* Check suite for runtime/layout.c: the program, the virtual environment
 * and the SDK, found in real temporary folders. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "unit.h"

static char err[PATH_MAX + 512];

static void
layout_setup(void)
{
    tmp_setup();
    err[0] = '\0';
}

/* ------------------------------------------------------------------ */
/* rt_program_resolve                                                  */
/* ------------------------------------------------------------------ */

START_TEST(layout_program_file)
{
    struct rt_program prog;
    char path[PATH_MAX];

    tmp_write("app/prog.py", "print('hi')\n");
    ck_assert_int_eq(rt_program_resolve(tmp_path(path, "app/prog.py"), &prog,
                                        err, sizeof(err)),
                     0);
    ck_assert_str_eq(prog.main_file, path);
    ck_assert_str_eq(prog.project_dir, tmp_path(path, "app"));
    ck_assert(!prog.is_folder);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(layout_program_relative_file)
{
    struct rt_program prog;
    char path[PATH_MAX];

    /* PROGRAM as a user types it, relative to the working folder, comes
     * back absolute and without the "./" and "..". */
    tmp_write("app/prog.py", "");
    tmp_mkdirs("other");
    ck_assert_int_eq(chdir(tmp_path(path, "other")), 0);
    ck_assert_int_eq(
        rt_program_resolve("./../app/prog.py", &prog, err, sizeof(err)), 0);
    ck_assert_str_eq(prog.main_file, tmp_path(path, "app/prog.py"));
    ck_assert_str_eq(prog.project_dir, tmp_path(path, "app"));
}
END_TEST

START_TEST(layout_program_folder)
{
    struct rt_program prog;
    char path[PATH_MAX];

    tmp_write("app/__main__.py", "print('hi')\n");
    ck_assert_int_eq(
        rt_program_resolve(tmp_path(path, "app/"), &prog, err, sizeof(err)),
        0);
    ck_assert_str_eq(prog.main_file, tmp_path(path, "app/__main__.py"));
    ck_assert_str_eq(prog.project_dir, tmp_path(path, "app"));
    ck_assert(prog.is_folder);
}
END_TEST

START_TEST(layout_program_folder_without_main)
{
    struct rt_program prog;
    char path[PATH_MAX];

    tmp_write("app/main.py", "");
    ck_assert_int_eq(
        rt_program_resolve(tmp_path(path, "app"), &prog, err, sizeof(err)),
        -EISDIR);
    assert_message_names(err, path);
    assert_message_names(err, "__main__.py");
}
END_TEST

START_TEST(layout_program_missing)
{
    struct rt_program prog;
    char path[PATH_MAX];

    ck_assert_int_eq(
        rt_program_resolve(tmp_path(path, "nope.py"), &prog, err, sizeof(err)),
        -ENOENT);
    assert_message_names(err, path);
    assert_message_names(err, "no such file");

    /* A path through a file (ENOTDIR) is missing too, for the user. */
    tmp_write("file.py", "");
    ck_assert_int_eq(rt_program_resolve(tmp_path(path, "file.py/x.py"), &prog,
                                        err, sizeof(err)),
                     -ENOENT);
    assert_message_names(err, path);
}
END_TEST

START_TEST(layout_program_unreadable_file)
{
    struct rt_program prog;
    char path[PATH_MAX];
    int r;

    tmp_write("app/prog.py", "");
    ck_assert_int_eq(chmod(tmp_path(path, "app/prog.py"), 0), 0);
    r = rt_program_resolve(path, &prog, err, sizeof(err));
    /* access(R_OK) succeeds for root whatever the mode bits say, so as root
     * the file is readable and resolves; only the unprivileged case can
     * check the refusal.  Both cases assert what they can. */
    if (geteuid() == 0) {
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(prog.main_file, path);
        return;
    }
    ck_assert_int_eq(r, -EACCES);
    assert_message_names(err, path);
    assert_message_names(err, "permission denied");
}
END_TEST

START_TEST(layout_program_folder_with_unreadable_main)
{
    struct rt_program prog;
    char path[PATH_MAX];
    int r;

    tmp_write("app/__main__.py", "");
    ck_assert_int_eq(chmod(tmp_path(path, "app/__main__.py"), 0), 0);
    r = rt_program_resolve(tmp_path(path, "app"), &prog, err, sizeof(err));
    /* As in layout_program_unreadable_file: root can read mode 000. */
    if (geteuid() == 0) {
        ck_assert_int_eq(r, 0);
        return;
    }
    ck_assert_int_eq(r, -EACCES);
    assert_message_names(err, path);
}
END_TEST

START_TEST(layout_program_folder_path_too_long)
{
    struct rt_program prog;
    char rel[PATH_MAX];
    char path[PATH_MAX];
    size_t len = 0;

    /* A folder whose own path fits in PATH_MAX but whose __main__.py does
     * not: the user still gets a message naming PROGRAM, not an empty
     * "outrun: error: ". */
    while (strlen(tmp_dir) + 1 + len < PATH_MAX - 6) {
        size_t room = PATH_MAX - 6 - (strlen(tmp_dir) + 1 + len);
        size_t n = room > 201 ? 201 : room;

        if (len > 0)
            rel[len++] = '/';
        memset(rel + len, 'd', n - 1);
        len += n - 1;
        rel[len] = '\0';
    }
    tmp_mkdirs(rel);
    tmp_path(path, "%s", rel);
    ck_assert_uint_lt(strlen(path), PATH_MAX);
    ck_assert_uint_ge(strlen(path) + strlen("/__main__.py"), PATH_MAX);
    ck_assert_int_eq(rt_program_resolve(path, &prog, err, sizeof(err)),
                     -ENAMETOOLONG);
    assert_message_names(err, "cannot run");
    assert_message_names(err, "too long");
}
END_TEST

/* ------------------------------------------------------------------ */
/* rt_venv_read_version                                                */
/* ------------------------------------------------------------------ */

START_TEST(layout_venv_version)
{
    char root[PATH_MAX];
    char version[32];

    tmp_make_venv("env", "3.11.7");
    ck_assert_int_eq(
        rt_venv_read_version(tmp_path(root, "env"), version, sizeof(version)),
        0);
    ck_assert_str_eq(version, "3.11");
}
END_TEST

START_TEST(layout_venv_version_info_key)
{
    char root[PATH_MAX];
    char version[32];

    /* virtualenv writes version_info, with spaces around the key. */
    tmp_write("env/pyvenv.cfg", "home = /usr/bin\n"
                                "implementation = CPython\n"
                                "  version_info\t= 3.12.1.final.0\n");
    ck_assert_int_eq(
        rt_venv_read_version(tmp_path(root, "env"), version, sizeof(version)),
        0);
    ck_assert_str_eq(version, "3.12");
}
END_TEST

START_TEST(layout_venv_version_ignores_other_keys)
{
    char root[PATH_MAX];
    char version[32];

    /* Keys that only start with "version" are not the version. */
    tmp_write("env/pyvenv.cfg", "versions = 2.7\n"
                                "version_major = 2.6\n"
                                "uv = 0.4.1\n"
                                "version = 3.13.0\n");
    ck_assert_int_eq(
        rt_venv_read_version(tmp_path(root, "env"), version, sizeof(version)),
        0);
    ck_assert_str_eq(version, "3.13");
}
END_TEST

START_TEST(layout_venv_version_missing_cfg)
{
    char root[PATH_MAX];
    char version[32];

    tmp_mkdirs("env");
    ck_assert_int_eq(
        rt_venv_read_version(tmp_path(root, "env"), version, sizeof(version)),
        -ENOENT);
}
END_TEST

START_TEST(layout_venv_version_absent)
{
    char root[PATH_MAX];
    char version[32] = "stale";

    tmp_write("env/pyvenv.cfg", "home = /usr/bin\n"
                                "version = unknown\n"
                                "no equals sign here\n");
    ck_assert_int_eq(
        rt_venv_read_version(tmp_path(root, "env"), version, sizeof(version)),
        -ENODATA);
    ck_assert_str_eq(version, "");
}
END_TEST

/* ------------------------------------------------------------------ */
/* rt_venv_find                                                        */
/* ------------------------------------------------------------------ */

/* rt_venv_find for the project folder tmp_dir/project, without
 * VIRTUAL_ENV, for an outrun that embeds Python 3.11. */
static int
find_project_venv(struct rt_venv *venv)
{
    char project[PATH_MAX];

    return rt_venv_find(NULL, tmp_path(project, "project"), "3.11", venv, err,
                        sizeof(err));
}

START_TEST(layout_venv_find_virtual_env_first)
{
    struct rt_venv venv;
    char active[PATH_MAX];
    char project[PATH_MAX];
    char expect[PATH_MAX];

    tmp_make_venv("active", "3.11.2");
    tmp_make_venv("project/.venv", "3.11.2");
    tmp_path(active, "active");
    tmp_path(project, "project");
    ck_assert_int_eq(
        rt_venv_find(active, project, "3.11", &venv, err, sizeof(err)), 1);
    ck_assert_str_eq(venv.root, active);
    ck_assert_str_eq(venv.python, tmp_path(expect, "active/bin/python3"));
    ck_assert_str_eq(venv.version, "3.11");
}
END_TEST

START_TEST(layout_venv_find_empty_virtual_env_is_unset)
{
    struct rt_venv venv;
    char project[PATH_MAX];
    char expect[PATH_MAX];

    tmp_make_venv("project/.venv", "3.11.2");
    ck_assert_int_eq(rt_venv_find("", tmp_path(project, "project"), "3.11",
                                  &venv, err, sizeof(err)),
                     1);
    ck_assert_str_eq(venv.root, tmp_path(expect, "project/.venv"));
}
END_TEST

START_TEST(layout_venv_find_dot_venv_before_venv)
{
    struct rt_venv venv;
    char expect[PATH_MAX];

    tmp_make_venv("project/venv", "3.11.2");
    tmp_make_venv("project/.venv", "3.11.2");
    ck_assert_int_eq(find_project_venv(&venv), 1);
    ck_assert_str_eq(venv.root, tmp_path(expect, "project/.venv"));
    ck_assert_str_eq(venv.python,
                     tmp_path(expect, "project/.venv/bin/python3"));
}
END_TEST

START_TEST(layout_venv_find_venv)
{
    struct rt_venv venv;
    char expect[PATH_MAX];

    /* A .venv folder that is not an environment is passed over. */
    tmp_mkdirs("project/.venv/lib");
    tmp_make_venv("project/venv", "3.11.2");
    ck_assert_int_eq(find_project_venv(&venv), 1);
    ck_assert_str_eq(venv.root, tmp_path(expect, "project/venv"));
}
END_TEST

START_TEST(layout_venv_find_none)
{
    struct rt_venv venv;

    tmp_mkdirs("project");
    ck_assert_int_eq(find_project_venv(&venv), 0);
    ck_assert_int_eq(rt_venv_find(NULL, NULL, "3.11", &venv, err, sizeof(err)),
                     0);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(layout_venv_find_without_version)
{
    struct rt_venv venv;

    /* An environment that records no version is taken as it is. */
    tmp_write("project/.venv/pyvenv.cfg", "home = /usr/bin\n");
    ck_assert_int_eq(find_project_venv(&venv), 1);
    ck_assert_str_eq(venv.version, "");
}
END_TEST

START_TEST(layout_venv_find_version_mismatch)
{
    struct rt_venv venv;
    char root[PATH_MAX];

    tmp_make_venv("project/.venv", "3.9.18");
    tmp_make_venv("project/venv", "3.11.2");
    /* A wrong .venv is an error, not a reason to fall back to venv/. */
    ck_assert_int_eq(find_project_venv(&venv), -EINVAL);
    assert_message_names(err, "Python 3.9");
    assert_message_names(err, "Python 3.11");
    assert_message_names(err, tmp_path(root, "project/.venv"));
}
END_TEST

START_TEST(layout_venv_find_virtual_env_mismatch)
{
    struct rt_venv venv;
    char active[PATH_MAX];

    tmp_make_venv("active", "3.12.0");
    ck_assert_int_eq(rt_venv_find(tmp_path(active, "active"), NULL, "3.11",
                                  &venv, err, sizeof(err)),
                     -EINVAL);
    assert_message_names(err, "3.12");
    assert_message_names(err, "3.11");
}
END_TEST

START_TEST(layout_venv_find_virtual_env_not_a_venv)
{
    struct rt_venv venv;
    char active[PATH_MAX];
    char project[PATH_MAX];

    tmp_mkdirs("active/bin");
    tmp_make_venv("project/.venv", "3.11.2");
    /* A VIRTUAL_ENV that is wrong is reported, not silently replaced by the
     * project's environment. */
    ck_assert_int_eq(rt_venv_find(tmp_path(active, "active"),
                                  tmp_path(project, "project"), "3.11", &venv,
                                  err, sizeof(err)),
                     -EINVAL);
    assert_message_names(err, "VIRTUAL_ENV");
    assert_message_names(err, active);
}
END_TEST

START_TEST(layout_venv_find_virtual_env_missing)
{
    struct rt_venv venv;
    char active[PATH_MAX];

    ck_assert_int_eq(rt_venv_find(tmp_path(active, "gone"), NULL, "3.11",
                                  &venv, err, sizeof(err)),
                     -EINVAL);
    assert_message_names(err, active);
}
END_TEST

/* ------------------------------------------------------------------ */
/* rt_sdk_find                                                         */
/* ------------------------------------------------------------------ */

#define INSTALLED_REL "../lib/python3.11/site-packages"

/* rt_sdk_find for a host at tmp_dir/EXE_REL whose build folder is
 * tmp_dir/BUILD_REL (NULL for none) and whose source tree keeps the SDK in
 * tmp_dir/src/pysdk; installed, the SDK is INSTALLED_REL from bin/. */
static int
find_sdk(const char *exe_rel, const char *build_rel, char *out)
{
    char exe[PATH_MAX], build[PATH_MAX], sdk[PATH_MAX];

    return rt_sdk_find(tmp_path(exe, "%s", exe_rel),
                       build_rel != NULL ? tmp_path(build, "%s", build_rel)
                                         : NULL,
                       tmp_path(sdk, "src/pysdk"), INSTALLED_REL, out,
                       PATH_MAX, err, sizeof(err));
}

START_TEST(layout_sdk_build_dir)
{
    char out[PATH_MAX], expect[PATH_MAX];

    tmp_write("src/pysdk/outrun/__init__.py", "");
    tmp_mkdirs("build");
    /* An installed SDK is there too; the build folder's host ignores it. */
    tmp_write("lib/python3.11/site-packages/outrun/__init__.py", "");
    ck_assert_int_eq(find_sdk("build/outrun", "build", out), 0);
    ck_assert_str_eq(out, tmp_path(expect, "src/pysdk"));
}
END_TEST

START_TEST(layout_sdk_installed)
{
    char out[PATH_MAX], expect[PATH_MAX];

    tmp_write("src/pysdk/outrun/__init__.py", "");
    tmp_mkdirs("build");
    tmp_write("prefix/lib/python3.11/site-packages/outrun/__init__.py", "");
    tmp_mkdirs("prefix/bin");
    ck_assert_int_eq(find_sdk("prefix/bin/outrun", "build", out), 0);
    /* Canonical: no "bin/.." left in it. */
    ck_assert_str_eq(out,
                     tmp_path(expect, "prefix/lib/python3.11/site-packages"));
}
END_TEST

START_TEST(layout_sdk_build_dir_without_source_sdk)
{
    char out[PATH_MAX], expect[PATH_MAX];

    /* The source tree is gone: the build folder's host falls back to the
     * installed layout relative to itself. */
    tmp_mkdirs("build");
    tmp_write("lib/python3.11/site-packages/outrun/__init__.py", "");
    ck_assert_int_eq(find_sdk("build/outrun", "build", out), 0);
    ck_assert_str_eq(out, tmp_path(expect, "lib/python3.11/site-packages"));
}
END_TEST

START_TEST(layout_sdk_missing)
{
    char out[PATH_MAX], sdk[PATH_MAX];

    tmp_mkdirs("build");
    tmp_mkdirs("prefix/bin");
    /* A folder named outrun without __init__.py is not the SDK. */
    tmp_mkdirs("prefix/lib/python3.11/site-packages/outrun");
    ck_assert_int_eq(find_sdk("prefix/bin/outrun", "build", out), -ENOPKG);
    assert_message_names(err, tmp_path(sdk, "src/pysdk"));
    assert_message_names(err, "prefix/bin/" INSTALLED_REL);
}
END_TEST

START_TEST(layout_sdk_no_build_dir)
{
    char out[PATH_MAX];

    /* Without a build folder the source tree's SDK is never used. */
    tmp_write("src/pysdk/outrun/__init__.py", "");
    tmp_mkdirs("prefix/bin");
    ck_assert_int_eq(find_sdk("prefix/bin/outrun", NULL, out), -ENOPKG);
}
END_TEST

static Suite *
layout_suite(void)
{
    Suite *s = suite_create("layout");
    TCase *tc;

    tc = tmp_tcase_create("program", layout_setup, tmp_teardown);
    tcase_add_test(tc, layout_program_file);
    tcase_add_test(tc, layout_program_relative_file);
    tcase_add_test(tc, layout_program_folder);
    tcase_add_test(tc, layout_program_folder_without_main);
    tcase_add_test(tc, layout_program_missing);
    tcase_add_test(tc, layout_program_unreadable_file);
    tcase_add_test(tc, layout_program_folder_with_unreadable_main);
    tcase_add_test(tc, layout_program_folder_path_too_long);
    suite_add_tcase(s, tc);

    tc = tmp_tcase_create("venv", layout_setup, tmp_teardown);
    tcase_add_test(tc, layout_venv_version);
    tcase_add_test(tc, layout_venv_version_info_key);
    tcase_add_test(tc, layout_venv_version_ignores_other_keys);
    tcase_add_test(tc, layout_venv_version_missing_cfg);
    tcase_add_test(tc, layout_venv_version_absent);
    tcase_add_test(tc, layout_venv_find_virtual_env_first);
    tcase_add_test(tc, layout_venv_find_empty_virtual_env_is_unset);
    tcase_add_test(tc, layout_venv_find_dot_venv_before_venv);
    tcase_add_test(tc, layout_venv_find_venv);
    tcase_add_test(tc, layout_venv_find_none);
    tcase_add_test(tc, layout_venv_find_without_version);
    tcase_add_test(tc, layout_venv_find_version_mismatch);
    tcase_add_test(tc, layout_venv_find_virtual_env_mismatch);
    tcase_add_test(tc, layout_venv_find_virtual_env_not_a_venv);
    tcase_add_test(tc, layout_venv_find_virtual_env_missing);
    suite_add_tcase(s, tc);

    tc = tmp_tcase_create("sdk", layout_setup, tmp_teardown);
    tcase_add_test(tc, layout_sdk_build_dir);
    tcase_add_test(tc, layout_sdk_installed);
    tcase_add_test(tc, layout_sdk_build_dir_without_source_sdk);
    tcase_add_test(tc, layout_sdk_missing);
    tcase_add_test(tc, layout_sdk_no_build_dir);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(layout_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
