/* Foreign calls through libffi: the signature is prepared once, the call is
 * made on a pool thread.
 *
 * How a call flows (after ctypes' callproc.c):
 *
 * 1. rt_ffi_prepare, when bindings/ registers a declared function: maps
 *    each enum rt_ffi_type to its ffi_type, keeps the atypes array and the
 *    ffi_cif in one struct rt_ffi_fn, and checks ffi_prep_cif's FFI_OK.
 * 2. bindings/ffi.c converts the Python arguments into union rt_ffi_value
 *    on the loop thread (range-checked with rt_ffi_int_range) and keeps
 *    the Python objects that own pointed-to memory referenced in the job.
 * 3. rt_ffi_call, on a pool thread without the GIL: narrows every value
 *    into per-argument storage of its declared C type, points avalue at
 *    that storage, clears errno, calls ffi_call into a result buffer of at
 *    least sizeof(ffi_arg), and reads errno at once.
 * 4. The result is widened back into a union rt_ffi_value: libffi returns
 *    integers narrower than ffi_arg widened to ffi_arg (signed ones as
 *    ffi_sarg), so they are read back as such and converted.
 * 5. bindings/ converts the result to Python on the loop thread and drops
 *    the references it kept in step 2.
 */
#include "config.h"

#include <errno.h>
#include <ffi.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ffi_call.h"

#define RT_FFI_MAX_ARGS 64

struct rt_ffi_fn {
    void (*addr)(void);
    enum rt_ffi_type restype;
    unsigned nargs;
    ffi_cif cif;
    enum rt_ffi_type argtypes[RT_FFI_MAX_ARGS];
    ffi_type *atypes[RT_FFI_MAX_ARGS];
};

/* One argument in its declared C type, so that avalue points at storage
 * of the right size and representation on any byte order. */
union arg_storage {
    _Bool b;
    char c;
    signed char sc;
    unsigned char uc;
    short s;
    unsigned short us;
    int i;
    unsigned int ui;
    long l;
    unsigned long ul;
    long long ll;
    unsigned long long ull;
    int8_t i8;
    uint8_t u8;
    int16_t i16;
    uint16_t u16;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    size_t z;
    ssize_t sz;
    float f;
    double d;
    void *p;
};

/* The libffi type of a signed or unsigned integer of sizeof n bytes. */
static ffi_type *
int_type(size_t n, bool is_signed)
{
    switch (n) {
    case 1:
        return is_signed ? &ffi_type_sint8 : &ffi_type_uint8;
    case 2:
        return is_signed ? &ffi_type_sint16 : &ffi_type_uint16;
    case 4:
        return is_signed ? &ffi_type_sint32 : &ffi_type_uint32;
    case 8:
        return is_signed ? &ffi_type_sint64 : &ffi_type_uint64;
    default:
        return NULL;
    }
}

static ffi_type *
ffi_type_of(enum rt_ffi_type t)
{
    switch (t) {
    case RT_FFI_VOID:
        return &ffi_type_void;
    case RT_FFI_BOOL:
        return int_type(sizeof(_Bool), false);
    case RT_FFI_CHAR:
        return int_type(sizeof(char), CHAR_MIN < 0);
    case RT_FFI_SCHAR:
        return &ffi_type_schar;
    case RT_FFI_UCHAR:
        return &ffi_type_uchar;
    case RT_FFI_SHORT:
        return &ffi_type_sshort;
    case RT_FFI_USHORT:
        return &ffi_type_ushort;
    case RT_FFI_INT:
        return &ffi_type_sint;
    case RT_FFI_UINT:
        return &ffi_type_uint;
    case RT_FFI_LONG:
        return &ffi_type_slong;
    case RT_FFI_ULONG:
        return &ffi_type_ulong;
    case RT_FFI_LONGLONG:
        return int_type(sizeof(long long), true);
    case RT_FFI_ULONGLONG:
        return int_type(sizeof(unsigned long long), false);
    case RT_FFI_INT8:
        return &ffi_type_sint8;
    case RT_FFI_UINT8:
        return &ffi_type_uint8;
    case RT_FFI_INT16:
        return &ffi_type_sint16;
    case RT_FFI_UINT16:
        return &ffi_type_uint16;
    case RT_FFI_INT32:
        return &ffi_type_sint32;
    case RT_FFI_UINT32:
        return &ffi_type_uint32;
    case RT_FFI_INT64:
        return &ffi_type_sint64;
    case RT_FFI_UINT64:
        return &ffi_type_uint64;
    case RT_FFI_SIZE_T:
        return int_type(sizeof(size_t), false);
    case RT_FFI_SSIZE_T:
        return int_type(sizeof(ssize_t), true);
    case RT_FFI_FLOAT:
        return &ffi_type_float;
    case RT_FFI_DOUBLE:
        return &ffi_type_double;
    case RT_FFI_POINTER:
    case RT_FFI_STRING:
    case RT_FFI_BUFFER:
    case RT_FFI_CBUFFER:
        return &ffi_type_pointer;
    case RT_FFI_TYPE_COUNT:
        break;
    }
    return NULL;
}

int
rt_ffi_prepare(void *addr, enum rt_ffi_type restype,
               const enum rt_ffi_type *argtypes, unsigned nargs,
               struct rt_ffi_fn **out)
{
    struct rt_ffi_fn *fn = NULL;
    ffi_type *rtype;
    ffi_status status;
    int err;

    *out = NULL;
    if (addr == NULL || nargs > RT_FFI_MAX_ARGS ||
        (nargs > 0 && argtypes == NULL))
        return -EINVAL;
    rtype = (unsigned)restype < RT_FFI_TYPE_COUNT ? ffi_type_of(restype)
                                                  : NULL;
    if (rtype == NULL)
        return -EINVAL;

    fn = calloc(1, sizeof(*fn));
    if (fn == NULL)
        return -ENOMEM;
    /* ISO C does not convert between object and function pointers; POSIX
     * (dlsym) guarantees the round trip.  Copy the bits. */
    memcpy(&fn->addr, &addr, sizeof(fn->addr));
    fn->restype = restype;
    fn->nargs = nargs;
    for (unsigned k = 0; k < nargs; k++) {
        if ((unsigned)argtypes[k] >= RT_FFI_TYPE_COUNT ||
            argtypes[k] == RT_FFI_VOID) {
            err = -EINVAL;
            goto error;
        }
        fn->argtypes[k] = argtypes[k];
        fn->atypes[k] = ffi_type_of(argtypes[k]);
        if (fn->atypes[k] == NULL) {
            err = -ENOTSUP;
            goto error;
        }
    }
    status = ffi_prep_cif(&fn->cif, FFI_DEFAULT_ABI, nargs, rtype,
                          nargs > 0 ? fn->atypes : NULL);
    if (status != FFI_OK) {
        err = -ENOTSUP;
        goto error;
    }
    *out = fn;
    return 0;

error:
    free(fn);
    return err;
}

/* Narrows v into s as a t. */
static void
store_arg(enum rt_ffi_type t, const union rt_ffi_value *v,
          union arg_storage *s)
{
    switch (t) {
    case RT_FFI_BOOL:
        s->b = v->u != 0;
        break;
    case RT_FFI_CHAR:
        s->c = (char)v->i;
        break;
    case RT_FFI_SCHAR:
        s->sc = (signed char)v->i;
        break;
    case RT_FFI_UCHAR:
        s->uc = (unsigned char)v->u;
        break;
    case RT_FFI_SHORT:
        s->s = (short)v->i;
        break;
    case RT_FFI_USHORT:
        s->us = (unsigned short)v->u;
        break;
    case RT_FFI_INT:
        s->i = (int)v->i;
        break;
    case RT_FFI_UINT:
        s->ui = (unsigned int)v->u;
        break;
    case RT_FFI_LONG:
        s->l = (long)v->i;
        break;
    case RT_FFI_ULONG:
        s->ul = (unsigned long)v->u;
        break;
    case RT_FFI_LONGLONG:
        s->ll = (long long)v->i;
        break;
    case RT_FFI_ULONGLONG:
        s->ull = (unsigned long long)v->u;
        break;
    case RT_FFI_INT8:
        s->i8 = (int8_t)v->i;
        break;
    case RT_FFI_UINT8:
        s->u8 = (uint8_t)v->u;
        break;
    case RT_FFI_INT16:
        s->i16 = (int16_t)v->i;
        break;
    case RT_FFI_UINT16:
        s->u16 = (uint16_t)v->u;
        break;
    case RT_FFI_INT32:
        s->i32 = (int32_t)v->i;
        break;
    case RT_FFI_UINT32:
        s->u32 = (uint32_t)v->u;
        break;
    case RT_FFI_INT64:
        s->i64 = v->i;
        break;
    case RT_FFI_UINT64:
        s->u64 = v->u;
        break;
    case RT_FFI_SIZE_T:
        s->z = (size_t)v->u;
        break;
    case RT_FFI_SSIZE_T:
        s->sz = (ssize_t)v->i;
        break;
    case RT_FFI_FLOAT:
        s->f = v->f;
        break;
    case RT_FFI_DOUBLE:
        s->d = v->d;
        break;
    case RT_FFI_POINTER:
    case RT_FFI_STRING:
    case RT_FFI_BUFFER:
    case RT_FFI_CBUFFER:
        s->p = v->p;
        break;
    case RT_FFI_VOID:
    case RT_FFI_TYPE_COUNT:
        break;
    }
}

/* Widens what ffi_call left in buf (at least sizeof(ffi_arg)) into r. */
static void
load_result(enum rt_ffi_type t, const void *buf, union rt_ffi_value *r)
{
    ffi_arg a;
    ffi_sarg sa;

    memset(r, 0, sizeof(*r));
    switch (t) {
    case RT_FFI_VOID:
    case RT_FFI_TYPE_COUNT:
        return;
    case RT_FFI_FLOAT:
        memcpy(&r->f, buf, sizeof(float));
        return;
    case RT_FFI_DOUBLE:
        memcpy(&r->d, buf, sizeof(double));
        return;
    case RT_FFI_POINTER:
    case RT_FFI_STRING:
    case RT_FFI_BUFFER:
    case RT_FFI_CBUFFER:
        memcpy(&r->p, buf, sizeof(void *));
        return;
    case RT_FFI_INT64:
    case RT_FFI_LONGLONG:
    case RT_FFI_UINT64:
    case RT_FFI_ULONGLONG:
        /* 64 bits: as wide as ffi_arg on LP64, wider on ILP32, where
         * libffi stores them whole. */
        memcpy(&r->u, buf, sizeof(uint64_t));
        return;
    default:
        break;
    }
    memcpy(&a, buf, sizeof(a));
    memcpy(&sa, buf, sizeof(sa));
    switch (t) {
    case RT_FFI_BOOL:
        r->u = (_Bool)a;
        break;
    case RT_FFI_CHAR:
        if (CHAR_MIN < 0)
            r->i = (char)sa;
        else
            r->u = (unsigned char)a;
        break;
    case RT_FFI_SCHAR:
        r->i = (signed char)sa;
        break;
    case RT_FFI_UCHAR:
        r->u = (unsigned char)a;
        break;
    case RT_FFI_SHORT:
        r->i = (short)sa;
        break;
    case RT_FFI_USHORT:
        r->u = (unsigned short)a;
        break;
    case RT_FFI_INT:
        r->i = (int)sa;
        break;
    case RT_FFI_UINT:
        r->u = (unsigned int)a;
        break;
    case RT_FFI_LONG:
        if (sizeof(long) > sizeof(ffi_sarg))
            memcpy(&r->i, buf, sizeof(int64_t));
        else
            r->i = (long)sa;
        break;
    case RT_FFI_ULONG:
        if (sizeof(unsigned long) > sizeof(ffi_arg))
            memcpy(&r->u, buf, sizeof(uint64_t));
        else
            r->u = (unsigned long)a;
        break;
    case RT_FFI_INT8:
        r->i = (int8_t)sa;
        break;
    case RT_FFI_UINT8:
        r->u = (uint8_t)a;
        break;
    case RT_FFI_INT16:
        r->i = (int16_t)sa;
        break;
    case RT_FFI_UINT16:
        r->u = (uint16_t)a;
        break;
    case RT_FFI_INT32:
        r->i = (int32_t)sa;
        break;
    case RT_FFI_UINT32:
        r->u = (uint32_t)a;
        break;
    case RT_FFI_SIZE_T:
        if (sizeof(size_t) > sizeof(ffi_arg))
            memcpy(&r->u, buf, sizeof(uint64_t));
        else
            r->u = (size_t)a;
        break;
    case RT_FFI_SSIZE_T:
        if (sizeof(ssize_t) > sizeof(ffi_sarg))
            memcpy(&r->i, buf, sizeof(int64_t));
        else
            r->i = (ssize_t)sa;
        break;
    default:
        break;
    }
}

void
rt_ffi_call(const struct rt_ffi_fn *fn, const union rt_ffi_value *args,
            union rt_ffi_value *result, int *errno_out)
{
    union arg_storage storage[RT_FFI_MAX_ARGS];
    void *avalue[RT_FFI_MAX_ARGS];
    /* At least sizeof(ffi_arg), and room for a double or a 64-bit
     * integer on any ABI. */
    union {
        ffi_arg a;
        uint64_t u64;
        double d;
        void *p;
    } rbuf;
    union rt_ffi_value ignored;
    int saved;

    for (unsigned k = 0; k < fn->nargs; k++) {
        store_arg(fn->argtypes[k], &args[k], &storage[k]);
        avalue[k] = &storage[k];
    }
    memset(&rbuf, 0, sizeof(rbuf));
    errno = 0;
    ffi_call((ffi_cif *)&fn->cif, fn->addr, &rbuf,
             fn->nargs > 0 ? avalue : NULL);
    saved = errno;
    if (errno_out != NULL)
        *errno_out = saved;
    load_result(fn->restype, &rbuf, result != NULL ? result : &ignored);
}

void
rt_ffi_free(struct rt_ffi_fn *fn)
{
    free(fn);
}

int
rt_ffi_int_range(enum rt_ffi_type t, int64_t *min, uint64_t *max,
                 bool *is_signed)
{
    int64_t lo;
    uint64_t hi;

    switch (t) {
    case RT_FFI_BOOL:
        lo = 0, hi = 1;
        break;
    case RT_FFI_CHAR:
        lo = CHAR_MIN, hi = CHAR_MAX;
        break;
    case RT_FFI_SCHAR:
        lo = SCHAR_MIN, hi = SCHAR_MAX;
        break;
    case RT_FFI_UCHAR:
        lo = 0, hi = UCHAR_MAX;
        break;
    case RT_FFI_SHORT:
        lo = SHRT_MIN, hi = SHRT_MAX;
        break;
    case RT_FFI_USHORT:
        lo = 0, hi = USHRT_MAX;
        break;
    case RT_FFI_INT:
        lo = INT_MIN, hi = INT_MAX;
        break;
    case RT_FFI_UINT:
        lo = 0, hi = UINT_MAX;
        break;
    case RT_FFI_LONG:
        lo = LONG_MIN, hi = LONG_MAX;
        break;
    case RT_FFI_ULONG:
        lo = 0, hi = ULONG_MAX;
        break;
    case RT_FFI_LONGLONG:
        lo = LLONG_MIN, hi = LLONG_MAX;
        break;
    case RT_FFI_ULONGLONG:
        lo = 0, hi = ULLONG_MAX;
        break;
    case RT_FFI_INT8:
        lo = INT8_MIN, hi = INT8_MAX;
        break;
    case RT_FFI_UINT8:
        lo = 0, hi = UINT8_MAX;
        break;
    case RT_FFI_INT16:
        lo = INT16_MIN, hi = INT16_MAX;
        break;
    case RT_FFI_UINT16:
        lo = 0, hi = UINT16_MAX;
        break;
    case RT_FFI_INT32:
        lo = INT32_MIN, hi = INT32_MAX;
        break;
    case RT_FFI_UINT32:
        lo = 0, hi = UINT32_MAX;
        break;
    case RT_FFI_INT64:
        lo = INT64_MIN, hi = INT64_MAX;
        break;
    case RT_FFI_UINT64:
        lo = 0, hi = UINT64_MAX;
        break;
    case RT_FFI_SIZE_T:
        lo = 0, hi = SIZE_MAX;
        break;
    case RT_FFI_SSIZE_T:
        lo = -(int64_t)SSIZE_MAX - 1, hi = SSIZE_MAX;
        break;
    default:
        return -EINVAL;
    }
    if (min != NULL)
        *min = lo;
    if (max != NULL)
        *max = hi;
    if (is_signed != NULL)
        *is_signed = lo < 0;
    return 0;
}

const char *
rt_ffi_type_name(enum rt_ffi_type t)
{
    static const char *const names[RT_FFI_TYPE_COUNT] = {
        [RT_FFI_VOID] = "void",
        [RT_FFI_BOOL] = "bool",
        [RT_FFI_CHAR] = "char",
        [RT_FFI_SCHAR] = "signed char",
        [RT_FFI_UCHAR] = "unsigned char",
        [RT_FFI_SHORT] = "short",
        [RT_FFI_USHORT] = "unsigned short",
        [RT_FFI_INT] = "int",
        [RT_FFI_UINT] = "unsigned int",
        [RT_FFI_LONG] = "long",
        [RT_FFI_ULONG] = "unsigned long",
        [RT_FFI_LONGLONG] = "long long",
        [RT_FFI_ULONGLONG] = "unsigned long long",
        [RT_FFI_INT8] = "int8_t",
        [RT_FFI_UINT8] = "uint8_t",
        [RT_FFI_INT16] = "int16_t",
        [RT_FFI_UINT16] = "uint16_t",
        [RT_FFI_INT32] = "int32_t",
        [RT_FFI_UINT32] = "uint32_t",
        [RT_FFI_INT64] = "int64_t",
        [RT_FFI_UINT64] = "uint64_t",
        [RT_FFI_SIZE_T] = "size_t",
        [RT_FFI_SSIZE_T] = "ssize_t",
        [RT_FFI_FLOAT] = "float",
        [RT_FFI_DOUBLE] = "double",
        [RT_FFI_POINTER] = "void*",
        [RT_FFI_STRING] = "char*",
        [RT_FFI_BUFFER] = "void*",
        [RT_FFI_CBUFFER] = "const void*",
    };

    if ((unsigned)t >= RT_FFI_TYPE_COUNT)
        return "?";
    return names[t];
}
