/* The library the foreign-call tests call into through libffi.
 *
 * Every function is plain C with no state except the blocking call's
 * counters, so that a test sees exactly what crossed the call: identity
 * functions per type return their argument unchanged, sums mix widths and
 * floating point in one call, and fixture_block() counts how many callers
 * are inside it at once (tests assert that peak, never a time). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define FIXTURE_API __attribute__((visibility("default")))

/* Identity functions: fixture_id_<name>(x) returns x. */
#define FIXTURE_ID(name, type)                                             \
    FIXTURE_API type fixture_id_##name(type x);                            \
    type fixture_id_##name(type x)                                         \
    {                                                                      \
        return x;                                                          \
    }

FIXTURE_ID(bool, bool)
FIXTURE_ID(char, char)
FIXTURE_ID(schar, signed char)
FIXTURE_ID(uchar, unsigned char)
FIXTURE_ID(short, short)
FIXTURE_ID(ushort, unsigned short)
FIXTURE_ID(int, int)
FIXTURE_ID(uint, unsigned int)
FIXTURE_ID(long, long)
FIXTURE_ID(ulong, unsigned long)
FIXTURE_ID(longlong, long long)
FIXTURE_ID(ulonglong, unsigned long long)
FIXTURE_ID(int8, int8_t)
FIXTURE_ID(uint8, uint8_t)
FIXTURE_ID(int16, int16_t)
FIXTURE_ID(uint16, uint16_t)
FIXTURE_ID(int32, int32_t)
FIXTURE_ID(uint32, uint32_t)
FIXTURE_ID(int64, int64_t)
FIXTURE_ID(uint64, uint64_t)
FIXTURE_ID(size_t, size_t)
FIXTURE_ID(ssize_t, ssize_t)
FIXTURE_ID(float, float)
FIXTURE_ID(double, double)
FIXTURE_ID(pointer, void *)

/* Sums of two values of one type. */
#define FIXTURE_SUM(name, type)                                            \
    FIXTURE_API type fixture_sum_##name(type a, type b);                   \
    type fixture_sum_##name(type a, type b)                                \
    {                                                                      \
        return (type)(a + b);                                              \
    }

FIXTURE_SUM(schar, signed char)
FIXTURE_SUM(short, short)
FIXTURE_SUM(int, int)
FIXTURE_SUM(uint, unsigned int)
FIXTURE_SUM(long, long)
FIXTURE_SUM(int64, int64_t)
FIXTURE_SUM(uint64, uint64_t)
FIXTURE_SUM(float, float)
FIXTURE_SUM(double, double)

/* Mixed widths in one call, as a double: small arguments next to wide ones
 * catch a value stored at the wrong width. */
FIXTURE_API double
fixture_sum_mixed(int8_t a, uint16_t b, int32_t c, int64_t d, float e,
                  double f, unsigned char g, short h);
double
fixture_sum_mixed(int8_t a, uint16_t b, int32_t c, int64_t d, float e,
                  double f, unsigned char g, short h)
{
    return (double)a + b + c + (double)d + e + f + g + h;
}

/* Pointers. */
FIXTURE_API int
fixture_is_null(const void *p);
int
fixture_is_null(const void *p)
{
    return p == NULL;
}

/* Strings. */
FIXTURE_API size_t
fixture_strlen(const char *s);
size_t
fixture_strlen(const char *s)
{
    return s == NULL ? (size_t)-1 : strlen(s);
}

FIXTURE_API const char *
fixture_greeting(void);
const char *
fixture_greeting(void)
{
    return "hello from the fixture";
}

/* Buffers: fills buf[0..n) with (i * 7 + seed) & 0xff. */
FIXTURE_API void
fixture_fill(unsigned char *buf, size_t n, unsigned char seed);
void
fixture_fill(unsigned char *buf, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((i * 7 + seed) & 0xff);
}

FIXTURE_API uint64_t
fixture_sum_bytes(const unsigned char *buf, size_t n);
uint64_t
fixture_sum_bytes(const unsigned char *buf, size_t n)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += buf[i];
    return sum;
}

/* errno: sets errno to e and returns -1, like a failing system call. */
FIXTURE_API int
fixture_fail_with(int e);
int
fixture_fail_with(int e)
{
    errno = e;
    return -1;
}

/* A call with no arguments and no result, counted. */
static atomic_int noop_calls;

FIXTURE_API void
fixture_noop(void);
void
fixture_noop(void)
{
    atomic_fetch_add(&noop_calls, 1);
}

FIXTURE_API int
fixture_noop_calls(void);
int
fixture_noop_calls(void)
{
    return atomic_load(&noop_calls);
}

/* Blocking: sleeps ms milliseconds while counting the callers inside. */
static atomic_int block_current;
static atomic_int block_peak;

FIXTURE_API int
fixture_block(unsigned ms);
int
fixture_block(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    int now = atomic_fetch_add(&block_current, 1) + 1;
    int peak = atomic_load(&block_peak);

    while (now > peak &&
           !atomic_compare_exchange_weak(&block_peak, &peak, now))
        ;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    atomic_fetch_sub(&block_current, 1);
    return now;
}

FIXTURE_API int
fixture_peak(void);
int
fixture_peak(void)
{
    return atomic_load(&block_peak);
}

FIXTURE_API void
fixture_reset(void);
void
fixture_reset(void)
{
    atomic_store(&block_current, 0);
    atomic_store(&block_peak, 0);
    atomic_store(&noop_calls, 0);
}
