/* A parser for C function declarations, for lib.cdef():
 *
 *     double cos(double);
 *     int usleep(unsigned int usec);
 *     size_t strlen(const char *s);
 *     ssize_t read(int fd, void *buf, size_t count);
 *
 * Plain C: no Python.h.  Only the types of runtime/ffi_call.h: integer and
 * floating types with their usual spellings (signed/unsigned, short/long/
 * long long with or without int, int8_t ... uint64_t, size_t, ssize_t,
 * bool/_Bool), void, pointers (`char *` is a string, `const char *` too;
 * `const T *` is a read-only buffer, `T *` a writable one, `void *` a
 * pointer), parameter names optional, `(void)` for no parameters, C and
 * C++ comments.  Anything else is an error that names the line and column.
 */
#pragma once

#include "ffi_call.h"

#define RT_CDEF_MAX_ARGS 64
#define RT_CDEF_MAX_NAME 128

struct rt_cdef_decl {
    char name[RT_CDEF_MAX_NAME];
    enum rt_ffi_type restype;
    unsigned nargs;
    enum rt_ffi_type argtypes[RT_CDEF_MAX_ARGS];
    unsigned line, column; /* where the declaration starts, from 1 */
};

struct rt_cdef_error {
    unsigned line, column; /* from 1 */
    char message[160];
};

/* Parses src (len bytes; need not be NUL-terminated) into at most max
 * declarations.  Returns how many it parsed (>= 0), or -EINVAL with *err
 * filled (line, column and what was wrong), or -E2BIG when there are more
 * than max.  Never reads past len; never allocates.
 * Thread: any; GIL: any; no Python API. */
int
rt_cdef_parse(const char *src, size_t len, struct rt_cdef_decl *decls,
              unsigned max, struct rt_cdef_error *err);
