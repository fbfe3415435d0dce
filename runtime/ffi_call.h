/* Foreign calls through libffi, prepared once per function and made on a
 * pool thread.
 *
 * Plain C: no Python.h.  bindings/ffi.c converts Python arguments into an
 * rt_ffi_args on the loop thread, a job calls rt_ffi_call on a pool thread
 * without the GIL, and the result goes back through the channel.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The C types a declaration may name. */
enum rt_ffi_type {
    RT_FFI_VOID = 0,
    RT_FFI_BOOL,
    RT_FFI_CHAR,
    RT_FFI_SCHAR, RT_FFI_UCHAR,
    RT_FFI_SHORT, RT_FFI_USHORT,
    RT_FFI_INT, RT_FFI_UINT,
    RT_FFI_LONG, RT_FFI_ULONG,
    RT_FFI_LONGLONG, RT_FFI_ULONGLONG,
    RT_FFI_INT8, RT_FFI_UINT8, RT_FFI_INT16, RT_FFI_UINT16,
    RT_FFI_INT32, RT_FFI_UINT32, RT_FFI_INT64, RT_FFI_UINT64,
    RT_FFI_SIZE_T, RT_FFI_SSIZE_T,
    RT_FFI_FLOAT, RT_FFI_DOUBLE,
    RT_FFI_POINTER,  /* void * (or any T *) */
    RT_FFI_STRING,   /* char *: a NUL-terminated string */
    RT_FFI_BUFFER,   /* a writable buffer (T * a caller fills) */
    RT_FFI_CBUFFER,  /* a read-only buffer (const T *) */
    RT_FFI_TYPE_COUNT
};

/* One argument or result value, as plain C. */
union rt_ffi_value {
    int64_t i;
    uint64_t u;
    float f;
    double d;
    void *p;
};

struct rt_ffi_fn;

/* Prepares the call interface (ffi_cif) of a function at addr with the
 * given result and argument types, once.  nargs <= 64.  Returns 0,
 * -EINVAL for a type that cannot be an argument (void) or a bad count, or
 * -ENOTSUP when libffi refuses the signature.
 * Thread: any; GIL: any; no Python API. */
int
rt_ffi_prepare(void *addr, enum rt_ffi_type restype,
               const enum rt_ffi_type *argtypes, unsigned nargs,
               struct rt_ffi_fn **out);

/* Calls fn with args (nargs values, each already of its declared type:
 * integers in .i/.u, floats in .f, doubles in .d, pointers, strings and
 * buffers in .p).  Stores the result in *result and, when errno_out is not
 * NULL, the errno right after the call.  Blocking: runs on a pool thread.
 * Thread: pool; GIL: not held; no Python API. */
void
rt_ffi_call(const struct rt_ffi_fn *fn, const union rt_ffi_value *args,
            union rt_ffi_value *result, int *errno_out);

/* Frees what rt_ffi_prepare made.
 * Thread: any; GIL: any; no Python API. */
void
rt_ffi_free(struct rt_ffi_fn *fn);

/* Range of an integer type, for checking arguments: 0 and -EINVAL for a
 * type that is not an integer.
 * Thread: any; GIL: any; no Python API. */
int
rt_ffi_int_range(enum rt_ffi_type t, int64_t *min, uint64_t *max,
                 bool *is_signed);

/* The type's name as a declaration writes it ("unsigned int", "char*").
 * Thread: any; GIL: any; no Python API. */
const char *
rt_ffi_type_name(enum rt_ffi_type t);
