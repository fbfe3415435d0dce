/* What the Check suites in tests/unit/ share. */
#define _GNU_SOURCE /* nftw, mkdtemp, O_DIRECTORY */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

char tmp_dir[PATH_MAX];

/* The folder that holds the test folders of one test case. */
static char tmp_root[PATH_MAX];

/* The working folder before the test, for the teardown to go back to. */
static int saved_cwd = -1;

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Removes path and all it holds.  Removing a mode-000 file needs only its
 * folder's permissions, which no test takes away. */
static void
remove_tree(const char *path)
{
    ck_assert_int_eq(nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void
tmp_root_setup(void)
{
    char templ[] = "/tmp/outrun-unit-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(templ));
    ck_assert_ptr_nonnull(realpath(templ, tmp_root));
}

static void
tmp_root_teardown(void)
{
    if (tmp_root[0] != '\0') {
        remove_tree(tmp_root);
        tmp_root[0] = '\0';
    }
}

TCase *
tmp_tcase_create(const char *name, void (*setup)(void), void (*teardown)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_unchecked_fixture(tc, tmp_root_setup, tmp_root_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

void
tmp_setup(void)
{
    char templ[PATH_MAX];

    ck_assert_msg(tmp_root[0] != '\0', "tmp_setup without tmp_root_setup");
    ck_assert_int_lt(
        snprintf(templ, sizeof(templ), "%s/test-XXXXXX", tmp_root),
        (int)sizeof(templ));
    ck_assert_ptr_nonnull(mkdtemp(templ));
    ck_assert_ptr_nonnull(realpath(templ, tmp_dir));
    saved_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(saved_cwd, 0);
}

void
tmp_teardown(void)
{
    if (saved_cwd >= 0) {
        ck_assert_int_eq(fchdir(saved_cwd), 0);
        close(saved_cwd);
        saved_cwd = -1;
    }
    if (tmp_dir[0] != '\0') {
        remove_tree(tmp_dir);
        tmp_dir[0] = '\0';
    }
}

char *
tmp_path(char *out, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;
    int len;

    ck_assert_msg(tmp_dir[0] != '\0', "tmp_path outside the tmp fixture");
    va_start(ap, fmt);
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    len = snprintf(out, PATH_MAX, "%s/%s", tmp_dir, rel);
    ck_assert_int_lt(len, PATH_MAX);
    return out;
}

void
tmp_mkdirs(const char *rel)
{
    char path[PATH_MAX];
    char *p;

    tmp_path(path, "%s", rel);
    for (p = path + strlen(tmp_dir) + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST,
                      "mkdir %s: %s", path, strerror(errno));
        *p = '/';
    }
    ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
                  path, strerror(errno));
}

void
tmp_write(const char *rel, const char *text)
{
    char path[PATH_MAX];
    char dir[PATH_MAX];
    char *slash;
    FILE *f;

    snprintf(dir, sizeof(dir), "%s", rel);
    slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        tmp_mkdirs(dir);
    }
    f = fopen(tmp_path(path, "%s", rel), "w");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

void
tmp_make_venv(const char *rel, const char *version)
{
    char path[PATH_MAX];
    char text[256];

    snprintf(text, sizeof(text),
             "home = /usr/bin\n"
             "include-system-site-packages = false\n"
             "version = %s\n",
             version);
    snprintf(path, sizeof(path), "%s/pyvenv.cfg", rel);
    tmp_write(path, text);
    snprintf(path, sizeof(path), "%s/bin", rel);
    tmp_mkdirs(path);
}

void
assert_message_names(const char *msg, const char *what)
{
    ck_assert_uint_gt(strlen(msg), 0);
    ck_assert_msg(strchr(msg, '\n') == NULL,
                  "message is more than one line: '%s'", msg);
    ck_assert_msg(strstr(msg, what) != NULL, "message '%s' does not name '%s'",
                  msg, what);
}
