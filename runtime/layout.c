/* Where things are: the program, the SDK, the user's virtual environment. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"

static void
say(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, fmt, a, b);
}

static bool
is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Joins a and b with one slash into out.  Returns 0 or -ENAMETOOLONG. */
static int
join(char *out, size_t n, const char *a, const char *b)
{
    int len = snprintf(out, n, "%s/%s", a, b);

    return (len < 0 || (size_t)len >= n) ? -ENAMETOOLONG : 0;
}

int
rt_program_resolve(const char *program, struct rt_program *out, char *err,
                   size_t errlen)
{
    char real[PATH_MAX];
    struct stat st;

    memset(out, 0, sizeof(*out));
    if (stat(program, &st) < 0) {
        int r = -errno;

        if (r == -ENOENT || r == -ENOTDIR)
            say(err, errlen, "cannot run '%s': no such file or folder%s",
                program, "");
        else
            say(err, errlen, "cannot run '%s': %s", program, strerror(-r));
        return r == -ENOTDIR ? -ENOENT : r;
    }
    if (realpath(program, real) == NULL) {
        say(err, errlen, "cannot run '%s': %s", program, strerror(errno));
        return -errno;
    }
    if (S_ISDIR(st.st_mode)) {
        if (join(out->main_file, sizeof(out->main_file), real,
                 "__main__.py") < 0) {
            say(err, errlen, "cannot run '%s': %s", program,
                strerror(ENAMETOOLONG));
            return -ENAMETOOLONG;
        }
        if (!is_file(out->main_file)) {
            say(err, errlen,
                "cannot run '%s': the folder has no __main__.py; "
                "add one, or name the program's .py file%s",
                program, "");
            return -EISDIR;
        }
        snprintf(out->project_dir, sizeof(out->project_dir), "%s", real);
        out->is_folder = true;
    } else {
        char *slash;

        snprintf(out->main_file, sizeof(out->main_file), "%s", real);
        snprintf(out->project_dir, sizeof(out->project_dir), "%s", real);
        slash = strrchr(out->project_dir, '/');
        if (slash == out->project_dir)
            slash[1] = '\0';
        else if (slash != NULL)
            *slash = '\0';
    }
    if (access(out->main_file, R_OK) < 0) {
        int r = -errno;

        say(err, errlen, "cannot run '%s': %s", program,
            r == -EACCES ? "permission denied (the file is not readable)"
                         : strerror(-r));
        return r;
    }
    return 0;
}

int
rt_venv_read_version(const char *root, char *version, size_t n)
{
    char path[PATH_MAX];
    char line[512];
    FILE *f;
    int r = -ENODATA;

    if (join(path, sizeof(path), root, "pyvenv.cfg") < 0)
        return -ENAMETOOLONG;
    f = fopen(path, "r");
    if (f == NULL)
        return -ENOENT;
    version[0] = '\0';
    while (fgets(line, sizeof(line), f) != NULL) {
        char *eq = strchr(line, '=');
        char *key = line, *value, *end;
        int major, minor;

        if (eq == NULL)
            continue;
        *eq = '\0';
        value = eq + 1;
        while (*key == ' ' || *key == '\t')
            key++;
        end = key + strlen(key);
        while (end > key && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (strcmp(key, "version") != 0 && strcmp(key, "version_info") != 0)
            continue;
        if (sscanf(value, " %d.%d", &major, &minor) == 2) {
            snprintf(version, n, "%d.%d", major, minor);
            r = 0;
            break;
        }
    }
    fclose(f);
    return r;
}

/* Checks that root is a virtual environment for want_version.  Returns 1,
 * 0 when root holds no pyvenv.cfg, or -EINVAL with a message. */
static int
check_venv(const char *root, const char *want_version, struct rt_venv *out,
           char *err, size_t errlen)
{
    char real[PATH_MAX];
    int r;

    if (realpath(root, real) == NULL || !is_dir(real))
        return 0;
    memset(out, 0, sizeof(*out));
    r = rt_venv_read_version(real, out->version, sizeof(out->version));
    if (r == -ENOENT)
        return 0;
    if (r == 0 && want_version != NULL &&
        strcmp(out->version, want_version) != 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen,
                     "the virtual environment %s was made for Python %s, "
                     "but outrun embeds Python %s; recreate it with "
                     "'python%s -m venv %s'",
                     real, out->version, want_version, want_version, real);
        return -EINVAL;
    }
    snprintf(out->root, sizeof(out->root), "%s", real);
    if (join(out->python, sizeof(out->python), real, "bin/python3") < 0)
        return -ENAMETOOLONG;
    return 1;
}

int
rt_venv_find(const char *virtual_env, const char *project_dir,
             const char *want_version, struct rt_venv *out, char *err,
             size_t errlen)
{
    static const char *const names[] = {".venv", "venv"};
    char path[PATH_MAX];
    int r;

    if (virtual_env != NULL && virtual_env[0] != '\0') {
        r = check_venv(virtual_env, want_version, out, err, errlen);
        if (r == 0) {
            say(err, errlen,
                "VIRTUAL_ENV is set to '%s', which is not a virtual "
                "environment (no pyvenv.cfg there); activate a real one "
                "or unset VIRTUAL_ENV%s",
                virtual_env, "");
            return -EINVAL;
        }
        return r;
    }
    if (project_dir == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (join(path, sizeof(path), project_dir, names[i]) < 0)
            continue;
        r = check_venv(path, want_version, out, err, errlen);
        if (r != 0)
            return r;
    }
    return 0;
}

static bool
has_sdk(const char *dir)
{
    char path[PATH_MAX];

    return join(path, sizeof(path), dir, "outrun/__init__.py") == 0 &&
           is_file(path);
}

int
rt_sdk_find(const char *exe_path, const char *build_dir,
            const char *source_sdk_dir, const char *installed_rel,
            char *out, size_t n, char *err, size_t errlen)
{
    char exe_dir[PATH_MAX];
    char real_build[PATH_MAX];
    char candidate[PATH_MAX];
    char *slash;

    snprintf(exe_dir, sizeof(exe_dir), "%s", exe_path);
    slash = strrchr(exe_dir, '/');
    if (slash != NULL)
        *slash = '\0';

    /* The host in its own build folder uses the source tree's SDK, so an
     * edit to pysdk/ takes effect without a rebuild. */
    if (build_dir != NULL && realpath(build_dir, real_build) != NULL &&
        strcmp(real_build, exe_dir) == 0 && has_sdk(source_sdk_dir)) {
        snprintf(out, n, "%s", source_sdk_dir);
        return 0;
    }
    if (join(candidate, sizeof(candidate), exe_dir, installed_rel) == 0) {
        char real[PATH_MAX];

        if (realpath(candidate, real) != NULL && has_sdk(real)) {
            snprintf(out, n, "%s", real);
            return 0;
        }
    }
    if (err != NULL && errlen > 0)
        snprintf(err, errlen,
                 "cannot find the Outrun Python SDK (looked in %s and %s); "
                 "reinstall outrun, or rebuild it with meson",
                 candidate, source_sdk_dir);
    return -ENOPKG;
}
