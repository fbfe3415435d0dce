/* The limits and defaults of a run, defined once.
 *
 * Plain C: no Python.h.  The host's parser (cli.c), the pool (pool.c) and
 * the bindings use them; the bindings export them to Python as
 * _outrun.THREADS_DEFAULT and so on, so that the SDK's parsers and help
 * texts say the same.
 */
#pragma once

/* Native pool threads when neither --threads nor OUTRUN_THREADS says. */
#define RT_THREADS_DEFAULT 64

/* The most pool threads --threads and OUTRUN_THREADS accept. */
#define RT_THREADS_MAX 1024

/* The stall watchdog's threshold unless --stall-warning says otherwise. */
#define RT_STALL_WARNING_DEFAULT_MS 200.0

/* The largest --stall-warning, in milliseconds (one hour). */
#define RT_STALL_WARNING_MAX_MS 3600000.0

/* Seconds without progress before --debug-pending reports. */
#define RT_DEBUG_PENDING_DEFAULT_S 5.0

/* The largest --debug-pending, in seconds (one day). */
#define RT_DEBUG_PENDING_MAX_S 86400.0

/* Seconds the host waits at exit for Python-callable jobs still running
 * while the GIL is released, before it leaves them behind. */
#define RT_SHUTDOWN_GRACE_S 2.0

/* A limit as a string literal, for messages: RT_STR(RT_THREADS_MAX). */
#define RT_STR_(x) #x
#define RT_STR(x) RT_STR_(x)
