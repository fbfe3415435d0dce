/* Where things are: the program to run, the Outrun SDK, and the user's
 * virtual environment.
 *
 * Plain C: no Python.h.  Every function returns 0 (or 1 for "found") or a
 * negative errno, and writes a one-line message for the user on failure
 * where it takes an err buffer.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct rt_program {
    char main_file[PATH_MAX];   /* the .py file to execute */
    char project_dir[PATH_MAX]; /* its folder; sys.path[0] and venv root */
    bool is_folder;             /* PROGRAM named a folder (__main__.py) */
};

struct rt_venv {
    char root[PATH_MAX];   /* the folder that holds pyvenv.cfg */
    char python[PATH_MAX]; /* root/bin/python3 */
    char version[32];      /* "3.11" from pyvenv.cfg, or "" if absent */
};

/* Resolves PROGRAM, a .py file or a folder with __main__.py, into absolute
 * paths.  Returns 0, -ENOENT (missing), -EACCES (unreadable) or -EISDIR (a
 * folder without __main__.py), with a one-line message in err.
 * Thread: any; GIL: not held; no Python API. */
int
rt_program_resolve(const char *program, struct rt_program *out, char *err,
                   size_t errlen);

/* Finds the user's virtual environment: virtual_env (the VIRTUAL_ENV
 * variable, may be NULL or empty) first, then project_dir/.venv and
 * project_dir/venv (project_dir may be NULL).  Returns 1 when found, 0 when
 * there is none, or -EINVAL when VIRTUAL_ENV names something that is not a
 * usable environment or the environment was made for another Python
 * (major.minor other than want_version), with a message in err.
 * Thread: any; GIL: not held; no Python API. */
int
rt_venv_find(const char *virtual_env, const char *project_dir,
             const char *want_version, struct rt_venv *out, char *err,
             size_t errlen);

/* Reads the major.minor Python version that pyvenv.cfg in root records
 * ("version" or "version_info" key) into version.  Returns 0, -ENOENT when
 * root has no pyvenv.cfg, or -ENODATA when it records no version.
 * Thread: any; GIL: not held; no Python API. */
int
rt_venv_read_version(const char *root, char *version, size_t n);

/* Finds the folder that holds the SDK's `outrun` package: next to the
 * source tree when exe_path is the host in its build folder, else where
 * the install put it, relative to the installed host.  Returns 0 or
 * -ENOPKG, with the places it looked in err.
 * Thread: any; GIL: not held; no Python API. */
int
rt_sdk_find(const char *exe_path, const char *build_dir,
            const char *source_sdk_dir, const char *installed_rel,
            char *out, size_t n, char *err, size_t errlen);
