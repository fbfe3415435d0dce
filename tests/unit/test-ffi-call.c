/* Check suite for runtime/ffi_call.c: real calls through libffi into the
 * fixture library (tests/ffi/fixture.c, found through OUTRUN_FFI_FIXTURE),
 * every type at its extremes, pointers, strings, buffers, errno, and many
 * threads inside one blocking call at once.
 *
 * No test measures time: the concurrency test counts the callers inside
 * fixture_block() at once. */
#define _GNU_SOURCE
#include "config.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ffi_call.h"

static void *lib;

static void
ffi_setup(void)
{
    const char *path = getenv("OUTRUN_FFI_FIXTURE");

    ck_assert_msg(path != NULL, "OUTRUN_FFI_FIXTURE is not set");
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(lib != NULL, "dlopen: %s", dlerror());
}

static void
ffi_teardown(void)
{
    if (lib != NULL)
        dlclose(lib);
    lib = NULL;
}

static void *
sym(const char *name)
{
    void *addr = dlsym(lib, name);

    ck_assert_msg(addr != NULL, "dlsym %s: %s", name, dlerror());
    return addr;
}

/* Prepares name(argtypes...) -> restype, calls it with args and returns the
 * result; *err gets errno after the call when err is not NULL. */
static union rt_ffi_value
call(const char *name, enum rt_ffi_type restype,
     const enum rt_ffi_type *argtypes, unsigned nargs,
     const union rt_ffi_value *args, int *err)
{
    struct rt_ffi_fn *fn = NULL;
    union rt_ffi_value r;
    int rc;

    rc = rt_ffi_prepare(sym(name), restype, argtypes, nargs, &fn);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(fn);
    memset(&r, 0xa5, sizeof(r));
    rt_ffi_call(fn, args, &r, err);
    rt_ffi_free(fn);
    return r;
}

/* Calls fixture_id_<name>(v) as type t. */
static union rt_ffi_value
id(const char *name, enum rt_ffi_type t, union rt_ffi_value v)
{
    char fname[64];

    snprintf(fname, sizeof(fname), "fixture_id_%s", name);
    return call(fname, t, &t, 1, &v, NULL);
}

#define I(x) ((union rt_ffi_value){.i = (x)})
#define U(x) ((union rt_ffi_value){.u = (x)})

/* Signed identity at both ends and -1, checked against the type's range. */
static void
check_signed(const char *name, enum rt_ffi_type t)
{
    int64_t min;
    uint64_t max;
    bool is_signed;

    ck_assert_int_eq(rt_ffi_int_range(t, &min, &max, &is_signed), 0);
    ck_assert(is_signed);
    ck_assert_int_eq(id(name, t, I(min)).i, min);
    ck_assert_int_eq(id(name, t, I((int64_t)max)).i, (int64_t)max);
    ck_assert_int_eq(id(name, t, I(-1)).i, -1);
    ck_assert_int_eq(id(name, t, I(0)).i, 0);
    ck_assert_int_eq(id(name, t, I(42)).i, 42);
}

static void
check_unsigned(const char *name, enum rt_ffi_type t)
{
    int64_t min;
    uint64_t max;
    bool is_signed;

    ck_assert_int_eq(rt_ffi_int_range(t, &min, &max, &is_signed), 0);
    ck_assert(!is_signed);
    ck_assert_int_eq(min, 0);
    ck_assert_uint_eq(id(name, t, U(max)).u, max);
    ck_assert_uint_eq(id(name, t, U(0)).u, 0);
    ck_assert_uint_eq(id(name, t, U(max - 1)).u, max - 1);
    /* The result comes back zero-extended, not as a negative value. */
    if (max < UINT64_MAX)
        ck_assert_uint_eq(id(name, t, U(max)).u >> 63, 0);
}

START_TEST(ffi_signed_extremes)
{
    check_signed("schar", RT_FFI_SCHAR);
    check_signed("short", RT_FFI_SHORT);
    check_signed("int", RT_FFI_INT);
    check_signed("long", RT_FFI_LONG);
    check_signed("longlong", RT_FFI_LONGLONG);
    check_signed("int8", RT_FFI_INT8);
    check_signed("int16", RT_FFI_INT16);
    check_signed("int32", RT_FFI_INT32);
    check_signed("int64", RT_FFI_INT64);
    check_signed("ssize_t", RT_FFI_SSIZE_T);
    ck_assert_int_eq(id("int64", RT_FFI_INT64, I(INT64_MIN)).i, INT64_MIN);
    ck_assert_int_eq(id("int8", RT_FFI_INT8, I(-128)).i, -128);
}
END_TEST

START_TEST(ffi_unsigned_extremes)
{
    check_unsigned("uchar", RT_FFI_UCHAR);
    check_unsigned("ushort", RT_FFI_USHORT);
    check_unsigned("uint", RT_FFI_UINT);
    check_unsigned("ulong", RT_FFI_ULONG);
    check_unsigned("ulonglong", RT_FFI_ULONGLONG);
    check_unsigned("uint8", RT_FFI_UINT8);
    check_unsigned("uint16", RT_FFI_UINT16);
    check_unsigned("uint32", RT_FFI_UINT32);
    check_unsigned("uint64", RT_FFI_UINT64);
    check_unsigned("size_t", RT_FFI_SIZE_T);
    ck_assert_uint_eq(id("uint64", RT_FFI_UINT64, U(UINT64_MAX)).u,
                      UINT64_MAX);
}
END_TEST

START_TEST(ffi_bool_and_char)
{
    int64_t min;
    uint64_t max;
    bool is_signed;

    ck_assert_uint_eq(id("bool", RT_FFI_BOOL, U(1)).u, 1);
    ck_assert_uint_eq(id("bool", RT_FFI_BOOL, U(0)).u, 0);
    ck_assert_int_eq(rt_ffi_int_range(RT_FFI_BOOL, &min, &max, &is_signed),
                     0);
    ck_assert_int_eq(min, 0);
    ck_assert_uint_eq(max, 1);

    /* Plain char: signed or not as the platform says. */
    ck_assert_int_eq(rt_ffi_int_range(RT_FFI_CHAR, &min, &max, &is_signed),
                     0);
    ck_assert_int_eq(is_signed, CHAR_MIN < 0);
    ck_assert_int_eq(id("char", RT_FFI_CHAR, I('A')).i, 'A');
    if (is_signed)
        ck_assert_int_eq(id("char", RT_FFI_CHAR, I(-1)).i, -1);
    else
        ck_assert_uint_eq(id("char", RT_FFI_CHAR, U(255)).u, 255);
}
END_TEST

START_TEST(ffi_floating)
{
    union rt_ffi_value v, r;

    v.f = 1.5f;
    ck_assert(id("float", RT_FFI_FLOAT, v).f == 1.5f);
    v.f = -FLT_MAX;
    ck_assert(id("float", RT_FFI_FLOAT, v).f == -FLT_MAX);
    v.f = FLT_MIN;
    ck_assert(id("float", RT_FFI_FLOAT, v).f == FLT_MIN);
    v.d = 0.1;
    ck_assert(id("double", RT_FFI_DOUBLE, v).d == 0.1);
    v.d = DBL_MAX;
    ck_assert(id("double", RT_FFI_DOUBLE, v).d == DBL_MAX);
    v.d = -DBL_MIN;
    ck_assert(id("double", RT_FFI_DOUBLE, v).d == -DBL_MIN);

    {
        enum rt_ffi_type t[2] = {RT_FFI_FLOAT, RT_FFI_FLOAT};
        union rt_ffi_value a[2] = {{.f = 0.25f}, {.f = 2.5f}};

        r = call("fixture_sum_float", RT_FFI_FLOAT, t, 2, a, NULL);
        ck_assert(r.f == 2.75f);
    }
    {
        enum rt_ffi_type t[2] = {RT_FFI_DOUBLE, RT_FFI_DOUBLE};
        union rt_ffi_value a[2] = {{.d = 0.5}, {.d = -2.25}};

        r = call("fixture_sum_double", RT_FFI_DOUBLE, t, 2, a, NULL);
        ck_assert(r.d == -1.75);
    }
}
END_TEST

START_TEST(ffi_sums)
{
    enum rt_ffi_type t[8];
    union rt_ffi_value a[8], r;

    t[0] = t[1] = RT_FFI_SCHAR;
    a[0] = I(-100), a[1] = I(-28);
    ck_assert_int_eq(call("fixture_sum_schar", RT_FFI_SCHAR, t, 2, a, NULL)
                         .i,
                     -128);
    t[0] = t[1] = RT_FFI_SHORT;
    a[0] = I(-1), a[1] = I(-2);
    ck_assert_int_eq(
        call("fixture_sum_short", RT_FFI_SHORT, t, 2, a, NULL).i, -3);
    t[0] = t[1] = RT_FFI_INT;
    a[0] = I(INT_MAX - 1), a[1] = I(1);
    ck_assert_int_eq(call("fixture_sum_int", RT_FFI_INT, t, 2, a, NULL).i,
                     INT_MAX);
    t[0] = t[1] = RT_FFI_UINT;
    a[0] = U(UINT_MAX), a[1] = U(1);
    ck_assert_uint_eq(call("fixture_sum_uint", RT_FFI_UINT, t, 2, a, NULL).u,
                      0);
    t[0] = t[1] = RT_FFI_LONG;
    a[0] = I(LONG_MIN + 5), a[1] = I(-5);
    ck_assert_int_eq(call("fixture_sum_long", RT_FFI_LONG, t, 2, a, NULL).i,
                     LONG_MIN);
    t[0] = t[1] = RT_FFI_INT64;
    a[0] = I(INT64_MIN / 2), a[1] = I(INT64_MIN / 2);
    ck_assert_int_eq(
        call("fixture_sum_int64", RT_FFI_INT64, t, 2, a, NULL).i,
        INT64_MIN);
    t[0] = t[1] = RT_FFI_UINT64;
    a[0] = U(UINT64_MAX - 7), a[1] = U(7);
    ck_assert_uint_eq(
        call("fixture_sum_uint64", RT_FFI_UINT64, t, 2, a, NULL).u,
        UINT64_MAX);

    /* Mixed widths in one call: a value stored at the wrong width would
     * shift the ones after it. */
    t[0] = RT_FFI_INT8, a[0] = I(-128);
    t[1] = RT_FFI_UINT16, a[1] = U(65535);
    t[2] = RT_FFI_INT32, a[2] = I(-1000000);
    t[3] = RT_FFI_INT64, a[3] = I(1000000000000LL);
    t[4] = RT_FFI_FLOAT, a[4].f = 0.5f;
    t[5] = RT_FFI_DOUBLE, a[5].d = 0.25;
    t[6] = RT_FFI_UCHAR, a[6] = U(255);
    t[7] = RT_FFI_SHORT, a[7] = I(-32768);
    r = call("fixture_sum_mixed", RT_FFI_DOUBLE, t, 8, a, NULL);
    ck_assert(r.d == -128.0 + 65535 - 1000000 + 1000000000000.0 + 0.5 +
                         0.25 + 255 - 32768);
}
END_TEST

START_TEST(ffi_pointers)
{
    enum rt_ffi_type t = RT_FFI_POINTER;
    int local = 7;
    union rt_ffi_value v = {.p = &local};

    ck_assert_ptr_eq(id("pointer", RT_FFI_POINTER, v).p, &local);
    v.p = NULL;
    ck_assert_ptr_null(id("pointer", RT_FFI_POINTER, v).p);
    ck_assert_int_eq(call("fixture_is_null", RT_FFI_INT, &t, 1, &v, NULL).i,
                     1);
    v.p = &local;
    ck_assert_int_eq(call("fixture_is_null", RT_FFI_INT, &t, 1, &v, NULL).i,
                     0);
}
END_TEST

START_TEST(ffi_strings)
{
    enum rt_ffi_type t = RT_FFI_STRING;
    union rt_ffi_value v = {.p = "outrun"}, r;

    r = call("fixture_strlen", RT_FFI_SIZE_T, &t, 1, &v, NULL);
    ck_assert_uint_eq(r.u, 6);
    v.p = "";
    r = call("fixture_strlen", RT_FFI_SIZE_T, &t, 1, &v, NULL);
    ck_assert_uint_eq(r.u, 0);
    r = call("fixture_greeting", RT_FFI_STRING, NULL, 0, NULL, NULL);
    ck_assert_str_eq(r.p, "hello from the fixture");
}
END_TEST

START_TEST(ffi_buffers)
{
    enum rt_ffi_type fill_t[3] = {RT_FFI_BUFFER, RT_FFI_SIZE_T,
                                  RT_FFI_UCHAR};
    enum rt_ffi_type sum_t[2] = {RT_FFI_CBUFFER, RT_FFI_SIZE_T};
    unsigned char buf[1000];
    union rt_ffi_value a[3], r;
    uint64_t expect = 0;

    memset(buf, 0, sizeof(buf));
    a[0].p = buf, a[1] = U(sizeof(buf)), a[2] = U(3);
    r = call("fixture_fill", RT_FFI_VOID, fill_t, 3, a, NULL);
    for (size_t i = 0; i < sizeof(buf); i++) {
        ck_assert_uint_eq(buf[i], (i * 7 + 3) & 0xff);
        expect += buf[i];
    }
    /* A void result leaves nothing behind. */
    ck_assert_uint_eq(r.u, 0);

    r = call("fixture_sum_bytes", RT_FFI_UINT64, sum_t, 2, a, NULL);
    ck_assert_uint_eq(r.u, expect);
}
END_TEST

START_TEST(ffi_errno)
{
    enum rt_ffi_type t = RT_FFI_INT;
    union rt_ffi_value v = I(ENOENT), r;
    int err = 0;

    r = call("fixture_fail_with", RT_FFI_INT, &t, 1, &v, &err);
    ck_assert_int_eq(r.i, -1);
    ck_assert_int_eq(err, ENOENT);

    /* errno is cleared before the call: a function that does not set it
     * reports 0, not what an earlier call left. */
    errno = EBADF;
    v = I(5);
    r = call("fixture_id_int", RT_FFI_INT, &t, 1, &v, &err);
    ck_assert_int_eq(r.i, 5);
    ck_assert_int_eq(err, 0);

    /* No errno_out: fine too. */
    v = I(EPERM);
    r = call("fixture_fail_with", RT_FFI_INT, &t, 1, &v, NULL);
    ck_assert_int_eq(r.i, -1);
}
END_TEST

START_TEST(ffi_void)
{
    int (*calls)(void) = (int (*)(void))(uintptr_t)sym("fixture_noop_calls");
    void (*reset)(void) = (void (*)(void))(uintptr_t)sym("fixture_reset");
    struct rt_ffi_fn *fn = NULL;

    reset();
    ck_assert_int_eq(rt_ffi_prepare(sym("fixture_noop"), RT_FFI_VOID, NULL, 0,
                                    &fn),
                     0);
    rt_ffi_call(fn, NULL, NULL, NULL);
    rt_ffi_call(fn, NULL, NULL, NULL);
    rt_ffi_free(fn);
    ck_assert_int_eq(calls(), 2);
}
END_TEST

START_TEST(ffi_prepare_errors)
{
    enum rt_ffi_type one_void = RT_FFI_VOID;
    enum rt_ffi_type many[65];
    enum rt_ffi_type bad = RT_FFI_TYPE_COUNT;
    struct rt_ffi_fn *fn = (struct rt_ffi_fn *)&fn;
    void *addr = sym("fixture_noop");

    ck_assert_int_eq(rt_ffi_prepare(addr, RT_FFI_INT, &one_void, 1, &fn),
                     -EINVAL);
    ck_assert_ptr_null(fn);
    for (unsigned k = 0; k < 65; k++)
        many[k] = RT_FFI_INT;
    ck_assert_int_eq(rt_ffi_prepare(addr, RT_FFI_INT, many, 65, &fn),
                     -EINVAL);
    ck_assert_ptr_null(fn);
    ck_assert_int_eq(rt_ffi_prepare(addr, RT_FFI_INT, &bad, 1, &fn),
                     -EINVAL);
    ck_assert_int_eq(rt_ffi_prepare(addr, RT_FFI_TYPE_COUNT, NULL, 0, &fn),
                     -EINVAL);
    /* 64 arguments is the limit, and allowed. */
    ck_assert_int_eq(rt_ffi_prepare(addr, RT_FFI_INT, many, 64, &fn), 0);
    ck_assert_ptr_nonnull(fn);
    rt_ffi_free(fn);
}
END_TEST

START_TEST(ffi_names_and_ranges)
{
    int64_t min;
    uint64_t max;
    bool is_signed;

    ck_assert_str_eq(rt_ffi_type_name(RT_FFI_UINT), "unsigned int");
    ck_assert_str_eq(rt_ffi_type_name(RT_FFI_STRING), "char*");
    ck_assert_str_eq(rt_ffi_type_name(RT_FFI_VOID), "void");
    ck_assert_str_eq(rt_ffi_type_name(RT_FFI_UINT64), "uint64_t");
    for (int t = 0; t < RT_FFI_TYPE_COUNT; t++)
        ck_assert_ptr_nonnull(rt_ffi_type_name((enum rt_ffi_type)t));

    ck_assert_int_eq(rt_ffi_int_range(RT_FFI_DOUBLE, &min, &max, &is_signed),
                     -EINVAL);
    ck_assert_int_eq(
        rt_ffi_int_range(RT_FFI_POINTER, &min, &max, &is_signed), -EINVAL);
    ck_assert_int_eq(rt_ffi_int_range(RT_FFI_VOID, &min, &max, &is_signed),
                     -EINVAL);
    ck_assert_int_eq(rt_ffi_int_range(RT_FFI_INT16, &min, &max, &is_signed),
                     0);
    ck_assert_int_eq(min, INT16_MIN);
    ck_assert_uint_eq(max, INT16_MAX);
    ck_assert_int_eq(rt_ffi_int_range(RT_FFI_SIZE_T, &min, &max, &is_signed),
                     0);
    ck_assert_uint_eq(max, SIZE_MAX);
}
END_TEST

/* Concurrency: THREADS callers inside fixture_block() at once, all through
 * one prepared function. */
#define THREADS 32

struct blocker {
    const struct rt_ffi_fn *fn;
    pthread_barrier_t *barrier;
    union rt_ffi_value result;
};

static void *
run_blocker(void *arg)
{
    struct blocker *b = arg;
    union rt_ffi_value ms = {.u = 50};

    pthread_barrier_wait(b->barrier);
    rt_ffi_call(b->fn, &ms, &b->result, NULL);
    return NULL;
}

START_TEST(ffi_concurrent_calls)
{
    int (*peak)(void) = (int (*)(void))(uintptr_t)sym("fixture_peak");
    void (*reset)(void) = (void (*)(void))(uintptr_t)sym("fixture_reset");
    enum rt_ffi_type t = RT_FFI_UINT;
    struct rt_ffi_fn *fn = NULL;
    pthread_barrier_t barrier;
    pthread_t threads[THREADS];
    struct blocker b[THREADS];

    reset();
    ck_assert_int_eq(
        rt_ffi_prepare(sym("fixture_block"), RT_FFI_INT, &t, 1, &fn), 0);
    ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, THREADS), 0);
    for (int k = 0; k < THREADS; k++) {
        b[k] = (struct blocker){.fn = fn, .barrier = &barrier};
        ck_assert_int_eq(
            pthread_create(&threads[k], NULL, run_blocker, &b[k]), 0);
    }
    for (int k = 0; k < THREADS; k++)
        pthread_join(threads[k], NULL);
    pthread_barrier_destroy(&barrier);
    rt_ffi_free(fn);

    for (int k = 0; k < THREADS; k++) {
        ck_assert_int_ge(b[k].result.i, 1);
        ck_assert_int_le(b[k].result.i, THREADS);
    }
    ck_assert_int_eq(peak(), THREADS);
}
END_TEST

static Suite *
ffi_suite(void)
{
    Suite *s = suite_create("ffi-call");
    TCase *tc;

    tc = tcase_create("types");
    tcase_add_checked_fixture(tc, ffi_setup, ffi_teardown);
    tcase_add_test(tc, ffi_signed_extremes);
    tcase_add_test(tc, ffi_unsigned_extremes);
    tcase_add_test(tc, ffi_bool_and_char);
    tcase_add_test(tc, ffi_floating);
    tcase_add_test(tc, ffi_sums);
    tcase_add_test(tc, ffi_pointers);
    tcase_add_test(tc, ffi_strings);
    tcase_add_test(tc, ffi_buffers);
    tcase_add_test(tc, ffi_errno);
    tcase_add_test(tc, ffi_void);
    tcase_add_test(tc, ffi_prepare_errors);
    tcase_add_test(tc, ffi_names_and_ranges);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, ffi_setup, ffi_teardown);
    /* Under valgrind the 32 threads run one at a time in turn, but each
     * still sleeps inside the call, so the peak holds; allow the time. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ffi_concurrent_calls);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ffi_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
