/* libFuzzer target for runtime/cdef.c: any bytes go to rt_cdef_parse,
 * which must return a count, -EINVAL with a one-line message, or -E2BIG,
 * and never read past the input (ASan checks; libFuzzer hands over an
 * exact-size heap copy).
 *
 *   apt-get install -y clang
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address \
 *       -Db_lundef=false
 *   meson compile -C build-fuzz
 *   build-fuzz/tests/fuzz/fuzz-cdef -max_total_time=60 \
 *       tests/fuzz/corpus-cdef
 *
 * See docs/fuzzing.md. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdef.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rt_cdef_decl decls[4];
    struct rt_cdef_error err;
    int r;

    r = rt_cdef_parse((const char *)data, size, decls, 4, &err);
    if (r == -EINVAL || r == -E2BIG) {
        /* The message is a terminated, non-empty line, and the position
         * is inside the input (or just past its end). */
        size_t n = strnlen(err.message, sizeof(err.message));

        if (n == 0 || n == sizeof(err.message)
            || memchr(err.message, '\n', n) || err.line == 0
            || err.column == 0 || err.line > size + 1
            || err.column > size + 1)
            abort();
    } else if (r < 0 || r > 4) {
        abort();
    } else {
        for (int i = 0; i < r; i++) {
            size_t n = strnlen(decls[i].name, RT_CDEF_MAX_NAME);

            if (n == 0 || n == RT_CDEF_MAX_NAME
                || decls[i].nargs > RT_CDEF_MAX_ARGS
                || decls[i].restype >= RT_FFI_TYPE_COUNT)
                abort();
            for (unsigned a = 0; a < decls[i].nargs; a++)
                if (decls[i].argtypes[a] >= RT_FFI_TYPE_COUNT
                    || decls[i].argtypes[a] == RT_FFI_VOID)
                    abort();
        }
    }
    return 0;
}
