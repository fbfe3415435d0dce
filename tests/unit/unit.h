/* What the Check suites in tests/unit/ share: a fresh temporary folder per
 * test (a checked fixture), the files a test puts in it, and the check that
 * a message for the user is one line naming what is wrong.
 *
 * Tests run as root in some containers; a test that depends on file
 * permissions must check geteuid() itself. */
#pragma once

#include <check.h>
#include <limits.h>

/* The current test's folder, canonical (realpath), so that the paths the
 * code under test canonicalises compare equal to the ones built from it.
 * Empty outside a test. */
extern char tmp_dir[PATH_MAX];

/* Creates a test case whose tests each get a fresh tmp_dir.  setup must
 * call tmp_setup() and teardown tmp_teardown(); either may do more.  The
 * folders live in one folder per test case, which the case's unchecked
 * fixture (in the runner's own process) makes and removes, so that the
 * folder of a failed test goes too: in CK_FORK mode a failed assertion
 * ends the test's process at once, without its checked teardown. */
TCase *
tmp_tcase_create(const char *name, void (*setup)(void),
                 void (*teardown)(void));

/* The checked fixture's parts: tmp_setup creates tmp_dir and remembers the
 * working folder; tmp_teardown goes back there and removes tmp_dir with
 * all it holds. */
void
tmp_setup(void);
void
tmp_teardown(void);

/* Formats tmp_dir/REL into out (PATH_MAX bytes) and returns out. */
char *
tmp_path(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Creates tmp_dir/REL and the folders above it. */
void
tmp_mkdirs(const char *rel);

/* Writes text to tmp_dir/REL, creating its folders. */
void
tmp_write(const char *rel, const char *text);

/* Makes tmp_dir/REL a virtual environment (pyvenv.cfg and bin/) that
 * records Python version, e.g. "3.11.2". */
void
tmp_make_venv(const char *rel, const char *version);

/* Asserts that msg is one non-empty line that contains what. */
void
assert_message_names(const char *msg, const char *what);
