/* Foreign C calls: _outrun.FfiFunction, dlopen/dlsym, and the cdef parser,
 * for outrun.ffi.
 *
 * Arguments are converted and checked on the loop thread (TypeError names
 * the position and the declared type; OverflowError the range), strings
 * are encoded and kept alive, buffers are held as Py_buffer until the call
 * is done; the call itself runs on a pool thread without the GIL (f(...))
 * or on the calling thread with the GIL released (f.call(...)).
 */
#include "jobs.h"
#include "output_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdef.h"
#include "ffi_call.h"

/* What a failing call returns, so that errno becomes OSError. */
enum {
    FAIL_NONE = 0,
    FAIL_NEGATIVE, /* any result < 0 */
    FAIL_MINUS_ONE, /* result == -1 */
    FAIL_NULL,     /* a NULL pointer */
    FAIL_ZERO,     /* result == 0 */
};

typedef struct {
    PyObject_HEAD
    struct rt_ffi_fn *fn;
    PyObject *name;    /* str, for messages */
    PyObject *library; /* keeps the library handle's owner alive */
    enum rt_ffi_type restype;
    unsigned nargs;
    enum rt_ffi_type argtypes[RT_CDEF_MAX_ARGS];
    int want_errno;
    int fail;
} FfiFunctionObject;

/* The arguments of one call, converted. */
typedef struct {
    unsigned n;
    union rt_ffi_value values[RT_CDEF_MAX_ARGS];
    PyObject *keep[RT_CDEF_MAX_ARGS];  /* encoded strings */
    Py_buffer views[RT_CDEF_MAX_ARGS]; /* held buffers */
    unsigned char has_view[RT_CDEF_MAX_ARGS];
} call_args;

static void
call_args_release(call_args *a)
{
    for (unsigned i = 0; i < a->n; i++) {
        Py_CLEAR(a->keep[i]);
        if (a->has_view[i]) {
            PyBuffer_Release(&a->views[i]);
            a->has_view[i] = 0;
        }
    }
}

static int
bad_type(FfiFunctionObject *f, unsigned i, PyObject *arg, const char *want)
{
    PyErr_Format(PyExc_TypeError,
                 "%U(): argument %u is declared '%s' and needs %s, not "
                 "%.100s",
                 f->name, i + 1, rt_ffi_type_name(f->argtypes[i]), want,
                 Py_TYPE(arg)->tp_name);
    return -1;
}

/* Converts one argument into a->values[i].  Returns 0 or -1. */
static int
convert_arg(FfiFunctionObject *f, unsigned i, PyObject *arg, call_args *a)
{
    enum rt_ffi_type t = f->argtypes[i];
    int64_t min;
    uint64_t max;
    bool is_signed;

    switch (t) {
    case RT_FFI_FLOAT:
    case RT_FFI_DOUBLE: {
        double d;

        if (!PyFloat_Check(arg) && !PyLong_Check(arg))
            return bad_type(f, i, arg, "a float");
        d = PyFloat_AsDouble(arg);
        if (d == -1.0 && PyErr_Occurred())
            return -1;
        if (t == RT_FFI_FLOAT)
            a->values[i].f = (float)d;
        else
            a->values[i].d = d;
        return 0;
    }
    case RT_FFI_POINTER:
        if (arg == Py_None) {
            a->values[i].p = NULL;
            return 0;
        }
        if (!PyLong_Check(arg))
            return bad_type(f, i, arg, "an address (int) or None");
        a->values[i].p = PyLong_AsVoidPtr(arg);
        return PyErr_Occurred() ? -1 : 0;
    case RT_FFI_STRING:
        if (arg == Py_None) {
            a->values[i].p = NULL;
            return 0;
        }
        if (PyUnicode_Check(arg)) {
            a->keep[i] = PyUnicode_AsUTF8String(arg);
            if (a->keep[i] == NULL)
                return -1;
        } else if (PyBytes_Check(arg)) {
            a->keep[i] = Py_NewRef(arg);
        } else {
            return bad_type(f, i, arg, "a str or bytes");
        }
        if (memchr(PyBytes_AS_STRING(a->keep[i]), '\0',
                   (size_t)PyBytes_GET_SIZE(a->keep[i])) != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "%U(): argument %u holds a NUL character, which a "
                         "C string cannot",
                         f->name, i + 1);
            return -1;
        }
        a->values[i].p = PyBytes_AS_STRING(a->keep[i]);
        return 0;
    case RT_FFI_BUFFER:
    case RT_FFI_CBUFFER: {
        int flags = t == RT_FFI_BUFFER ? PyBUF_WRITABLE : PyBUF_SIMPLE;

        if (arg == Py_None) {
            a->values[i].p = NULL;
            return 0;
        }
        if (!PyObject_CheckBuffer(arg))
            return bad_type(f, i, arg,
                            t == RT_FFI_BUFFER
                                ? "a writable buffer (bytearray, writable "
                                  "memoryview)"
                                : "a buffer (bytes, bytearray, memoryview)");
        if (PyObject_GetBuffer(arg, &a->views[i], flags) < 0) {
            if (t == RT_FFI_BUFFER) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError,
                             "%U(): argument %u is a writable buffer the "
                             "function may fill, and %.100s is read-only; "
                             "pass a bytearray, or declare the parameter "
                             "const",
                             f->name, i + 1, Py_TYPE(arg)->tp_name);
            }
            return -1;
        }
        a->has_view[i] = 1;
        a->values[i].p = a->views[i].buf;
        return 0;
    }
    default:
        break;
    }
    /* Integers and bool. */
    if (!PyLong_Check(arg))
        return bad_type(f, i, arg, "an int");
    if (rt_ffi_int_range(t, &min, &max, &is_signed) < 0) {
        PyErr_Format(PyExc_SystemError, "%U(): argument %u has no type",
                     f->name, i + 1);
        return -1;
    }
    if (is_signed) {
        long long v = PyLong_AsLongLong(arg);

        if (v == -1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
            goto overflow;
        }
        if (v < min || (v > 0 && (uint64_t)v > max))
            goto overflow;
        a->values[i].i = v;
    } else {
        unsigned long long v;

        PyObject *zero = PyLong_FromLong(0);
        int negative = zero == NULL ? -1
                                    : PyObject_RichCompareBool(arg, zero,
                                                               Py_LT);

        Py_XDECREF(zero);
        if (negative < 0)
            return -1;
        if (negative)
            goto overflow;
        v = PyLong_AsUnsignedLongLong(arg);
        if (v == (unsigned long long)-1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
            goto overflow;
        }
        if (v > max)
            goto overflow;
        a->values[i].u = v;
    }
    return 0;
overflow:
    PyErr_Format(PyExc_OverflowError,
                 "%U(): argument %u, %R, does not fit '%s' (%lld to %llu)",
                 f->name, i + 1, arg, rt_ffi_type_name(t), (long long)min,
                 (unsigned long long)max);
    return -1;
}

static int
convert_args(FfiFunctionObject *f, PyObject *args, call_args *a)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);

    memset(a, 0, sizeof(*a));
    if ((unsigned)n != f->nargs) {
        PyErr_Format(PyExc_TypeError, "%U() takes %u argument%s (%zd given)",
                     f->name, f->nargs, f->nargs == 1 ? "" : "s", n);
        return -1;
    }
    a->n = f->nargs;
    for (unsigned i = 0; i < f->nargs; i++) {
        if (convert_arg(f, i, PyTuple_GET_ITEM(args, i), a) < 0) {
            call_args_release(a);
            return -1;
        }
    }
    return 0;
}

/* The Python value of a result; raises OSError under the failure
 * convention. */
static PyObject *
convert_result(FfiFunctionObject *f, const union rt_ffi_value *r, int err)
{
    PyObject *v;
    int failed = 0;
    int64_t min;
    uint64_t max;
    bool is_signed;

    switch (f->restype) {
    case RT_FFI_VOID:
        v = Py_NewRef(Py_None);
        break;
    case RT_FFI_BOOL:
        v = PyBool_FromLong(r->i != 0);
        failed = f->fail == FAIL_ZERO && r->i == 0;
        break;
    case RT_FFI_FLOAT:
        v = PyFloat_FromDouble(r->f);
        break;
    case RT_FFI_DOUBLE:
        v = PyFloat_FromDouble(r->d);
        break;
    case RT_FFI_POINTER:
    case RT_FFI_BUFFER:
    case RT_FFI_CBUFFER:
        v = r->p == NULL ? Py_NewRef(Py_None) : PyLong_FromVoidPtr(r->p);
        failed = f->fail == FAIL_NULL && r->p == NULL;
        break;
    case RT_FFI_STRING:
        v = r->p == NULL ? Py_NewRef(Py_None)
                         : PyUnicode_DecodeUTF8(r->p, strlen(r->p),
                                                "surrogateescape");
        failed = f->fail == FAIL_NULL && r->p == NULL;
        break;
    default:
        rt_ffi_int_range(f->restype, &min, &max, &is_signed);
        if (is_signed) {
            v = PyLong_FromLongLong(r->i);
            failed = (f->fail == FAIL_NEGATIVE && r->i < 0) ||
                     (f->fail == FAIL_MINUS_ONE && r->i == -1) ||
                     (f->fail == FAIL_ZERO && r->i == 0);
        } else {
            v = PyLong_FromUnsignedLongLong(r->u);
            failed = (f->fail == FAIL_ZERO && r->u == 0) ||
                     (f->fail == FAIL_MINUS_ONE && r->u == max);
        }
        break;
    }
    if (v == NULL)
        return NULL;
    if (failed) {
        Py_DECREF(v);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (f->want_errno && f->fail == FAIL_NONE) {
        PyObject *pair = Py_BuildValue("(Ni)", v, err);

        return pair;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

PyDoc_STRVAR(call_doc,
             "call(*args)\n--\n\n"
             "Calls the function on this thread, with the GIL released "
             "around the call,\nand returns its result.");

static PyObject *
FfiFunction_call_sync(FfiFunctionObject *f, PyObject *args)
{
    call_args a;
    union rt_ffi_value r;
    int err = 0;

    if (convert_args(f, args, &a) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rt_ffi_call(f->fn, a.values, &r, &err);
    Py_END_ALLOW_THREADS
    call_args_release(&a);
    return convert_result(f, &r, err);
}

typedef struct {
    bnd_job base;
    FfiFunctionObject *f;
    call_args args;
    union rt_ffi_value result;
    int err;
} ffi_job;

/* Pool thread, no GIL. */
static void
ffi_work(struct rt_job *rj)
{
    ffi_job *job = (ffi_job *)rt_container_of(rj, bnd_job, job);

    rt_ffi_call(job->f->fn, job->args.values, &job->result, &job->err);
}

static void
ffi_finish(bnd_job *base)
{
    ffi_job *job = (ffi_job *)base;
    bnd_state *st = base->sched->st;
    PyObject *v;

    if (base->job.status == -ECANCELED) {
        PyObject *exc = PyObject_CallNoArgs(st->cancelled_error);

        if (exc == NULL) {
            bnd_job_fail(base);
            return;
        }
        bnd_job_reject(base, exc);
        Py_DECREF(exc);
        return;
    }
    v = bnd_testing_fail_result()
            ? NULL
            : convert_result(job->f, &job->result, job->err);
    if (v == NULL) {
        /* The failure convention's OSError, or a failure to build the
         * value: the Output takes it either way. */
        bnd_job_fail(base);
        return;
    }
    bnd_job_resolve(base, v);
}

/* Buffers and strings are released here, on the loop thread. */
static void
ffi_free(bnd_job *base)
{
    ffi_job *job = (ffi_job *)base;

    call_args_release(&job->args);
    Py_XDECREF(job->f);
}

static PyObject *
FfiFunction_call(FfiFunctionObject *f, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(f));
    SchedulerObject *s;
    ffi_job *job;
    OutputObject *out;

    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0) {
        PyErr_Format(PyExc_TypeError,
                     "%U() takes positional arguments only", f->name);
        return NULL;
    }
    s = bnd_sched_current(st);
    if (s == NULL)
        return NULL;
    job = PyMem_RawCalloc(1, sizeof(*job));
    if (job == NULL)
        return PyErr_NoMemory();
    if (convert_args(f, args, &job->args) < 0) {
        PyMem_RawFree(job);
        return NULL;
    }
    job->f = (FfiFunctionObject *)Py_NewRef((PyObject *)f);
    job->base.job.work = ffi_work;
    job->base.finish = ffi_finish;
    job->base.free_payload = ffi_free;
    out = bnd_job_submit_output(st, s, &job->base);
    if (out == NULL)
        goto error;
    return (PyObject *)out;
error:
    ffi_free(&job->base);
    PyMem_RawFree(job);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The type                                                            */
/* ------------------------------------------------------------------ */

static PyObject *
FfiFunction_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"library", "address", "name", "restype",
                             "argtypes", "errno", "fail", NULL};
    PyObject *library, *address, *name, *argtypes, *fast = NULL;
    int restype, want_errno = 0, fail = 0, r;
    FfiFunctionObject *f;
    void *addr;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOUiO|pi:FfiFunction",
                                     kwlist, &library, &address, &name,
                                     &restype, &argtypes, &want_errno,
                                     &fail))
        return NULL;
    addr = PyLong_AsVoidPtr(address);
    if (addr == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "the address is NULL");
        return NULL;
    }
    if (restype < 0 || restype >= RT_FFI_TYPE_COUNT || fail < 0 ||
        fail > FAIL_ZERO) {
        PyErr_SetString(PyExc_ValueError, "bad restype or fail");
        return NULL;
    }
    fast = PySequence_Fast(argtypes, "argtypes must be a sequence");
    if (fast == NULL)
        return NULL;
    if (PySequence_Fast_GET_SIZE(fast) > RT_CDEF_MAX_ARGS) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "at most 64 arguments");
        return NULL;
    }
    f = (FfiFunctionObject *)type->tp_alloc(type, 0);
    if (f == NULL) {
        Py_DECREF(fast);
        return NULL;
    }
    f->nargs = (unsigned)PySequence_Fast_GET_SIZE(fast);
    for (unsigned i = 0; i < f->nargs; i++) {
        long t = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));

        if (t < 0 || t >= RT_FFI_TYPE_COUNT) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "bad argument type");
            Py_DECREF(fast);
            Py_DECREF(f);
            return NULL;
        }
        f->argtypes[i] = (enum rt_ffi_type)t;
    }
    Py_DECREF(fast);
    f->restype = (enum rt_ffi_type)restype;
    f->want_errno = want_errno;
    f->fail = fail;
    f->name = Py_NewRef(name);
    f->library = Py_NewRef(library);
    r = rt_ffi_prepare(addr, f->restype, f->argtypes, f->nargs, &f->fn);
    if (r < 0) {
        PyErr_Format(PyExc_ValueError,
                     "%U(): libffi cannot prepare this signature (%s)",
                     name, strerror(-r));
        Py_DECREF(f);
        return NULL;
    }
    return (PyObject *)f;
}

static int
FfiFunction_traverse(FfiFunctionObject *f, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(f));
    Py_VISIT(f->library);
    return 0;
}

static int
FfiFunction_clear(FfiFunctionObject *f)
{
    Py_CLEAR(f->library);
    return 0;
}

static void
FfiFunction_dealloc(FfiFunctionObject *f)
{
    PyTypeObject *tp = Py_TYPE(f);

    PyObject_GC_UnTrack(f);
    FfiFunction_clear(f);
    Py_CLEAR(f->name);
    if (f->fn != NULL)
        rt_ffi_free(f->fn);
    tp->tp_free(f);
    Py_DECREF(tp);
}

static PyObject *
FfiFunction_repr(FfiFunctionObject *f)
{
    return PyUnicode_FromFormat("<outrun.ffi function %U>", f->name);
}

static PyObject *
FfiFunction_get_name(FfiFunctionObject *f, void *closure)
{
    return Py_NewRef(f->name);
}

static PyMethodDef FfiFunction_methods[] = {
    {"call", (PyCFunction)FfiFunction_call_sync, METH_VARARGS, call_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef FfiFunction_getset[] = {
    {"__name__", (getter)FfiFunction_get_name, NULL, "The C name.", NULL},
    {NULL},
};

static PyType_Slot FfiFunction_slots[] = {
    {Py_tp_doc, "A C function declared through outrun.ffi: calling it "
                "returns an Output\nresolved from a worker thread; .call() "
                "calls it here with the GIL\nreleased."},
    {Py_tp_new, FfiFunction_new},
    {Py_tp_call, FfiFunction_call},
    {Py_tp_dealloc, FfiFunction_dealloc},
    {Py_tp_traverse, FfiFunction_traverse},
    {Py_tp_clear, FfiFunction_clear},
    {Py_tp_repr, FfiFunction_repr},
    {Py_tp_methods, FfiFunction_methods},
    {Py_tp_getset, FfiFunction_getset},
    {0, NULL},
};

static PyType_Spec FfiFunction_spec = {
    .name = "_outrun.FfiFunction",
    .basicsize = sizeof(FfiFunctionObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = FfiFunction_slots,
};

/* ------------------------------------------------------------------ */
/* dlopen, dlsym, cdef                                                 */
/* ------------------------------------------------------------------ */

PyDoc_STRVAR(ffi_dlopen_doc,
             "ffi_dlopen(path)\n--\n\n"
             "dlopen(path, RTLD_NOW); returns the handle as an int (None: "
             "the program\nitself).  OSError with the loader's message when "
             "it fails.");

static PyObject *
module_ffi_dlopen(PyObject *module, PyObject *arg)
{
    PyObject *b = NULL;
    void *h;

    if (arg != Py_None && !PyUnicode_FSConverter(arg, &b))
        return NULL;
    h = dlopen(b == NULL ? NULL : PyBytes_AS_STRING(b), RTLD_NOW);
    Py_XDECREF(b);
    if (h == NULL) {
        const char *msg = dlerror();

        return PyErr_Format(PyExc_OSError, "%s",
                            msg != NULL ? msg : "dlopen failed");
    }
    return PyLong_FromVoidPtr(h);
}

PyDoc_STRVAR(ffi_dlsym_doc,
             "ffi_dlsym(handle, name)\n--\n\n"
             "The address of name in the library, or None if it has none.");

static PyObject *
module_ffi_dlsym(PyObject *module, PyObject *args)
{
    PyObject *handle;
    const char *name;
    void *h, *p;

    if (!PyArg_ParseTuple(args, "Os:ffi_dlsym", &handle, &name))
        return NULL;
    h = PyLong_AsVoidPtr(handle);
    if (h == NULL && PyErr_Occurred())
        return NULL;
    dlerror();
    p = dlsym(h, name);
    if (p == NULL)
        Py_RETURN_NONE;
    return PyLong_FromVoidPtr(p);
}

PyDoc_STRVAR(cdef_parse_doc,
             "cdef_parse(source)\n--\n\n"
             "Parses C declarations; returns [(name, restype, (argtypes...)), "
             "...] with\ntypes as numbers.  ValueError naming the line and "
             "column otherwise.");

static PyObject *
module_cdef_parse(PyObject *module, PyObject *arg)
{
    struct rt_cdef_decl *decls;
    struct rt_cdef_error err;
    const char *src;
    Py_ssize_t len;
    PyObject *list = NULL;
    int n;
    enum { MAX = 1024 };

    src = PyUnicode_AsUTF8AndSize(arg, &len);
    if (src == NULL)
        return NULL;
    decls = PyMem_Malloc(sizeof(*decls) * MAX);
    if (decls == NULL)
        return PyErr_NoMemory();
    memset(&err, 0, sizeof(err));
    n = rt_cdef_parse(src, (size_t)len, decls, MAX, &err);
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "cdef: line %u, column %u: %s",
                     err.line, err.column,
                     n == -E2BIG ? "more than 1024 declarations"
                                 : err.message);
        goto done;
    }
    list = PyList_New(n);
    for (int i = 0; list != NULL && i < n; i++) {
        PyObject *types = PyTuple_New(decls[i].nargs), *item;

        for (unsigned j = 0; types != NULL && j < decls[i].nargs; j++)
            PyTuple_SET_ITEM(types, j, PyLong_FromLong(decls[i].argtypes[j]));
        item = types == NULL ? NULL
                             : Py_BuildValue("(siN)", decls[i].name,
                                             (int)decls[i].restype, types);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
done:
    PyMem_Free(decls);
    return list;
}

static PyMethodDef ffi_functions[] = {
    {"ffi_dlopen", module_ffi_dlopen, METH_O, ffi_dlopen_doc},
    {"ffi_dlsym", module_ffi_dlsym, METH_VARARGS, ffi_dlsym_doc},
    {"cdef_parse", module_cdef_parse, METH_O, cdef_parse_doc},
    {NULL, NULL, 0, NULL},
};

int
bnd_ffi_init(PyObject *module, bnd_state *st)
{
    PyObject *type;

    assert(PyGILState_Check());
    type = PyType_FromModuleAndSpec(module, &FfiFunction_spec, NULL);
    if (type == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "FfiFunction", type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    Py_DECREF(type);
    return PyModule_AddFunctions(module, ffi_functions);
}
