/* Check suite for runtime/cdef.c: the declarations lib.cdef() accepts,
 * what each type spelling means, and the errors, each with its line,
 * column and the words of its message.
 *
 * Inputs are parsed from a malloc'd copy without a terminator (parse()),
 * so that under ASan or valgrind a read past len fails the test. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdef.h"
#include "unit.h"

#define MAX_DECLS 8

static struct rt_cdef_decl decls[MAX_DECLS];
static struct rt_cdef_error err;

/* Parses text from an exact-size heap copy: the byte after it is not
 * ours, so reading it is an error under ASan and valgrind. */
static int
parse_max(const char *text, unsigned max)
{
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1);
    int r;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, len);
    r = rt_cdef_parse(copy, len, decls, max, &err);
    free(copy);
    return r;
}

static int
parse(const char *text)
{
    return parse_max(text, MAX_DECLS);
}

/* The result type of "T f(void);" for a type spelling T. */
static enum rt_ffi_type
restype_of(const char *type)
{
    char text[256];

    snprintf(text, sizeof(text), "%s f(void);", type);
    ck_assert_msg(parse(text) == 1, "%s: %s", type, err.message);
    ck_assert_str_eq(decls[0].name, "f");
    ck_assert_uint_eq(decls[0].nargs, 0);
    return decls[0].restype;
}

/* The type of the only parameter of "void f(T);" and "void f(T x);". */
static enum rt_ffi_type
argtype_of(const char *type)
{
    char text[256];
    enum rt_ffi_type t;

    snprintf(text, sizeof(text), "void f(%s);", type);
    ck_assert_msg(parse(text) == 1, "%s: %s", type, err.message);
    ck_assert_uint_eq(decls[0].nargs, 1);
    t = decls[0].argtypes[0];
    snprintf(text, sizeof(text), "void f(%s x);", type);
    ck_assert_msg(parse(text) == 1, "%s x: %s", type, err.message);
    ck_assert_uint_eq(decls[0].nargs, 1);
    ck_assert_int_eq(decls[0].argtypes[0], t);
    return t;
}

/* Asserts that text fails at line:column with a message naming every one
 * of the words (NULL-terminated). */
#define assert_error(text, l, c, ...)                                        \
    assert_error_at(text, l, c, (const char *[]){__VA_ARGS__, NULL})

static void
assert_error_at(const char *text, unsigned line, unsigned column,
                const char **words)
{
    ck_assert_int_eq(parse(text), -EINVAL);
    for (; *words; words++)
        assert_message_names(err.message, *words);
    ck_assert_msg(err.line == line && err.column == column,
                  "%s: error at %u:%u, expected %u:%u (%s)", text, err.line,
                  err.column, line, column, err.message);
}

/* ---- Declarations ------------------------------------------------------ */

START_TEST(cdef_examples)
{
    ck_assert_int_eq(parse("double cos(double);\n"
                           "int usleep(unsigned int usec);\n"
                           "size_t strlen(const char *s);\n"
                           "ssize_t read(int fd, void *buf, size_t count);\n"),
                     4);
    ck_assert_str_eq(decls[0].name, "cos");
    ck_assert_int_eq(decls[0].restype, RT_FFI_DOUBLE);
    ck_assert_uint_eq(decls[0].nargs, 1);
    ck_assert_int_eq(decls[0].argtypes[0], RT_FFI_DOUBLE);
    ck_assert_uint_eq(decls[0].line, 1);
    ck_assert_uint_eq(decls[0].column, 1);

    ck_assert_str_eq(decls[1].name, "usleep");
    ck_assert_int_eq(decls[1].restype, RT_FFI_INT);
    ck_assert_int_eq(decls[1].argtypes[0], RT_FFI_UINT);
    ck_assert_uint_eq(decls[1].line, 2);

    ck_assert_str_eq(decls[2].name, "strlen");
    ck_assert_int_eq(decls[2].restype, RT_FFI_SIZE_T);
    ck_assert_int_eq(decls[2].argtypes[0], RT_FFI_STRING);

    ck_assert_str_eq(decls[3].name, "read");
    ck_assert_int_eq(decls[3].restype, RT_FFI_SSIZE_T);
    ck_assert_uint_eq(decls[3].nargs, 3);
    ck_assert_int_eq(decls[3].argtypes[0], RT_FFI_INT);
    ck_assert_int_eq(decls[3].argtypes[1], RT_FFI_POINTER);
    ck_assert_int_eq(decls[3].argtypes[2], RT_FFI_SIZE_T);
    ck_assert_uint_eq(decls[3].line, 4);
    ck_assert_uint_eq(decls[3].column, 1);
}
END_TEST

START_TEST(cdef_integer_spellings)
{
    static const struct {
        const char *spelling;
        enum rt_ffi_type type;
    } cases[] = {
        {"char", RT_FFI_CHAR},
        {"signed char", RT_FFI_SCHAR},
        {"char signed", RT_FFI_SCHAR},
        {"unsigned char", RT_FFI_UCHAR},
        {"short", RT_FFI_SHORT},
        {"short int", RT_FFI_SHORT},
        {"signed short", RT_FFI_SHORT},
        {"signed short int", RT_FFI_SHORT},
        {"unsigned short", RT_FFI_USHORT},
        {"unsigned short int", RT_FFI_USHORT},
        {"short unsigned", RT_FFI_USHORT},
        {"int", RT_FFI_INT},
        {"signed", RT_FFI_INT},
        {"signed int", RT_FFI_INT},
        {"unsigned", RT_FFI_UINT},
        {"unsigned int", RT_FFI_UINT},
        {"int unsigned", RT_FFI_UINT},
        {"long", RT_FFI_LONG},
        {"long int", RT_FFI_LONG},
        {"signed long", RT_FFI_LONG},
        {"long signed int", RT_FFI_LONG},
        {"unsigned long", RT_FFI_ULONG},
        {"unsigned long int", RT_FFI_ULONG},
        {"long unsigned", RT_FFI_ULONG},
        {"long long", RT_FFI_LONGLONG},
        {"long long int", RT_FFI_LONGLONG},
        {"signed long long", RT_FFI_LONGLONG},
        {"long int long", RT_FFI_LONGLONG},
        {"unsigned long long", RT_FFI_ULONGLONG},
        {"unsigned long long int", RT_FFI_ULONGLONG},
        {"long long unsigned int", RT_FFI_ULONGLONG},
        {"int8_t", RT_FFI_INT8},
        {"uint8_t", RT_FFI_UINT8},
        {"int16_t", RT_FFI_INT16},
        {"uint16_t", RT_FFI_UINT16},
        {"int32_t", RT_FFI_INT32},
        {"uint32_t", RT_FFI_UINT32},
        {"int64_t", RT_FFI_INT64},
        {"uint64_t", RT_FFI_UINT64},
        {"size_t", RT_FFI_SIZE_T},
        {"ssize_t", RT_FFI_SSIZE_T},
        {"bool", RT_FFI_BOOL},
        {"_Bool", RT_FFI_BOOL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(restype_of(cases[i].spelling) == cases[i].type,
                      "result %s", cases[i].spelling);
        ck_assert_msg(argtype_of(cases[i].spelling) == cases[i].type,
                      "argument %s", cases[i].spelling);
    }
}
END_TEST

START_TEST(cdef_float_and_void_spellings)
{
    ck_assert_int_eq(restype_of("float"), RT_FFI_FLOAT);
    ck_assert_int_eq(argtype_of("float"), RT_FFI_FLOAT);
    ck_assert_int_eq(restype_of("double"), RT_FFI_DOUBLE);
    ck_assert_int_eq(argtype_of("double"), RT_FFI_DOUBLE);
    ck_assert_int_eq(restype_of("void"), RT_FFI_VOID);
}
END_TEST

START_TEST(cdef_const_qualifiers)
{
    ck_assert_int_eq(restype_of("const int"), RT_FFI_INT);
    ck_assert_int_eq(argtype_of("const int"), RT_FFI_INT);
    ck_assert_int_eq(argtype_of("int const"), RT_FFI_INT);
    ck_assert_int_eq(argtype_of("const unsigned long"), RT_FFI_ULONG);
    ck_assert_int_eq(argtype_of("volatile double"), RT_FFI_DOUBLE);
    ck_assert_int_eq(argtype_of("const size_t"), RT_FFI_SIZE_T);
}
END_TEST

START_TEST(cdef_pointers)
{
    static const struct {
        const char *spelling;
        enum rt_ffi_type type;
    } cases[] = {
        {"char *", RT_FFI_STRING},
        {"char*", RT_FFI_STRING},
        {"const char *", RT_FFI_STRING},
        {"char const *", RT_FFI_STRING},
        {"char *const", RT_FFI_STRING},
        {"void *", RT_FFI_POINTER},
        {"const void *", RT_FFI_POINTER},
        {"void const *", RT_FFI_POINTER},
        {"int *", RT_FFI_BUFFER},
        {"unsigned char *", RT_FFI_BUFFER},
        {"signed char *", RT_FFI_BUFFER},
        {"double *", RT_FFI_BUFFER},
        {"uint8_t *", RT_FFI_BUFFER},
        {"const int *", RT_FFI_CBUFFER},
        {"const unsigned char *", RT_FFI_CBUFFER},
        {"uint8_t const *", RT_FFI_CBUFFER},
        {"const double *", RT_FFI_CBUFFER},
        {"char **", RT_FFI_POINTER},
        {"const char **", RT_FFI_POINTER},
        {"char * const *", RT_FFI_POINTER},
        {"int **", RT_FFI_POINTER},
        {"void **", RT_FFI_POINTER},
        {"int ***", RT_FFI_POINTER},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(restype_of(cases[i].spelling) == cases[i].type,
                      "result %s", cases[i].spelling);
        ck_assert_msg(argtype_of(cases[i].spelling) == cases[i].type,
                      "argument %s", cases[i].spelling);
    }
}
END_TEST

START_TEST(cdef_no_parameters)
{
    ck_assert_int_eq(parse("int getpid(void);"), 1);
    ck_assert_uint_eq(decls[0].nargs, 0);
    ck_assert_int_eq(parse("int getpid();"), 1);
    ck_assert_uint_eq(decls[0].nargs, 0);
    ck_assert_int_eq(parse("int getpid( void );"), 1);
    ck_assert_uint_eq(decls[0].nargs, 0);
}
END_TEST

START_TEST(cdef_names_optional)
{
    ck_assert_int_eq(parse("int f(int a, double, char *s, const void *);"),
                     1);
    ck_assert_uint_eq(decls[0].nargs, 4);
    ck_assert_int_eq(decls[0].argtypes[0], RT_FFI_INT);
    ck_assert_int_eq(decls[0].argtypes[1], RT_FFI_DOUBLE);
    ck_assert_int_eq(decls[0].argtypes[2], RT_FFI_STRING);
    ck_assert_int_eq(decls[0].argtypes[3], RT_FFI_POINTER);
}
END_TEST

START_TEST(cdef_comments_and_whitespace)
{
    ck_assert_int_eq(parse("/* libm */\n"
                           "double // the result\n"
                           "  cos /* name */ (\n"
                           "\tdouble x /* radians */\n"
                           ")\r\n;\n"
                           "// trailing comment without a newline"),
                     1);
    ck_assert_str_eq(decls[0].name, "cos");
    ck_assert_uint_eq(decls[0].line, 2);
    ck_assert_uint_eq(decls[0].column, 1);
    ck_assert_uint_eq(decls[0].nargs, 1);

    ck_assert_int_eq(parse("  \n\n   int\nf\n(\nvoid\n)\n;"), 1);
    ck_assert_uint_eq(decls[0].line, 3);
    ck_assert_uint_eq(decls[0].column, 4);
    ck_assert_int_eq(parse("int/**/f(int/**/x);"), 1);
    ck_assert_int_eq(parse("/* a * / ** comment */ int f(void);"), 1);
}
END_TEST

START_TEST(cdef_several_declarations)
{
    ck_assert_int_eq(parse("int a(void); int b(int);;\n"
                           ";long c(long, long);"),
                     3);
    ck_assert_str_eq(decls[0].name, "a");
    ck_assert_str_eq(decls[1].name, "b");
    ck_assert_uint_eq(decls[1].column, 14);
    ck_assert_str_eq(decls[2].name, "c");
    ck_assert_uint_eq(decls[2].line, 2);
    ck_assert_uint_eq(decls[2].column, 2);
    ck_assert_uint_eq(decls[2].nargs, 2);
}
END_TEST

START_TEST(cdef_empty_input)
{
    ck_assert_int_eq(parse(""), 0);
    ck_assert_int_eq(parse("  \n /* nothing */ // here\n"), 0);
    ck_assert_int_eq(rt_cdef_parse(NULL, 0, decls, MAX_DECLS, &err), 0);
}
END_TEST

START_TEST(cdef_longest_name)
{
    char text[RT_CDEF_MAX_NAME + 32];
    char name[RT_CDEF_MAX_NAME];

    memset(name, 'n', RT_CDEF_MAX_NAME - 1);
    name[RT_CDEF_MAX_NAME - 1] = '\0';
    snprintf(text, sizeof(text), "int %s(void);", name);
    ck_assert_int_eq(parse(text), 1);
    ck_assert_str_eq(decls[0].name, name);
}
END_TEST

START_TEST(cdef_most_parameters)
{
    char text[RT_CDEF_MAX_ARGS * 8 + 32];
    size_t n = 0;

    n += (size_t)snprintf(text + n, sizeof(text) - n, "void f(");
    for (int i = 0; i < RT_CDEF_MAX_ARGS; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%sint",
                              i ? ", " : "");
    snprintf(text + n, sizeof(text) - n, ");");
    ck_assert_int_eq(parse(text), 1);
    ck_assert_uint_eq(decls[0].nargs, RT_CDEF_MAX_ARGS);
}
END_TEST

START_TEST(cdef_prefix_only)
{
    /* The input is a prefix of a larger buffer: what follows len is never
     * looked at, even where it would complete or break a token. */
    static const char text[] = "int f(void); int g(void);";
    char *buf = malloc(sizeof(text) - 1);

    ck_assert_ptr_nonnull(buf);
    memcpy(buf, text, sizeof(text) - 1);
    ck_assert_int_eq(rt_cdef_parse(buf, 12, decls, MAX_DECLS, &err), 1);
    ck_assert_str_eq(decls[0].name, "f");
    /* Cut inside the name of g: "int g". */
    ck_assert_int_eq(rt_cdef_parse(buf, 18, decls, MAX_DECLS, &err),
                     -EINVAL);
    assert_message_names(err.message, "end of the input");
    /* Cut inside a comment opener and inside an ellipsis. */
    memcpy(buf, "int f(void); /", 14);
    ck_assert_int_eq(rt_cdef_parse(buf, 14, decls, MAX_DECLS, &err),
                     -EINVAL);
    memcpy(buf, "void f(int, ..", 14);
    ck_assert_int_eq(rt_cdef_parse(buf, 14, decls, MAX_DECLS, &err),
                     -EINVAL);
    free(buf);
}
END_TEST

START_TEST(cdef_more_than_max)
{
    ck_assert_int_eq(parse_max("int a(void); int b(void);", 2), 2);
    ck_assert_int_eq(parse_max("int a(void); int b(void); int c(void);", 2),
                     -E2BIG);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, 27);
    ck_assert_int_eq(parse_max("", 0), 0);
    ck_assert_int_eq(parse_max("int a(void);", 0), -E2BIG);
    /* A syntax error in the extra declaration is the error reported. */
    ck_assert_int_eq(parse_max("int a(void); int b(", 1), -EINVAL);
}
END_TEST

/* ---- Errors ------------------------------------------------------------ */

START_TEST(cdef_error_expected_type)
{
    assert_error("{", 1, 1, "expected a type", "found '{'");
    assert_error("int f(void);\n  ( x", 2, 3, "expected a type", "'('");
    assert_error("int f(int, );", 1, 12, "expected a type", "found ')'");
    assert_error("int f(int,", 1, 11, "expected a type", "end of the input");
    assert_error("int f(const);", 1, 12, "expected a type", "')'");
    assert_error("\x01", 1, 1, "expected a type", "byte 0x01");
}
END_TEST

START_TEST(cdef_error_unknown_type)
{
    assert_error("struct stat *s(void);", 1, 1, "unknown type 'struct'");
    assert_error("int f(FILE *fp);", 1, 7, "unknown type 'FILE'");
    assert_error("int f(int,\n    enum e);", 2, 5, "unknown type 'enum'");
    assert_error("uint128_t f(void);", 1, 1, "unknown type 'uint128_t'");
}
END_TEST

START_TEST(cdef_error_invalid_combination)
{
    assert_error("unsigned signed f(void);", 1, 1, "invalid combination",
                 "'unsigned signed'");
    assert_error("int f(short long);", 1, 7, "invalid combination",
                 "'short long'");
    assert_error("long long long f(void);", 1, 1, "invalid combination");
    assert_error("int int f(void);", 1, 1, "invalid combination");
    assert_error("unsigned double f(void);", 1, 1, "invalid combination");
    assert_error("int f(size_t int);", 1, 7, "invalid combination");
    assert_error("void f(char short);", 1, 8, "invalid combination");
    assert_error("int f(bool void);", 1, 7, "invalid combination");
    assert_error("long double f(void);", 1, 1, "'long double'",
                 "not supported");
    /* The message quotes the words, not the source between them, which may
     * hold newlines and comments (found by fuzz-cdef). */
    assert_error("int\n\n/* x */ double\n printf(const U);", 1, 1,
                 "invalid combination", "'int double'");
    assert_error("long /*\n*/ double f(void);", 1, 1, "'long double'");
    assert_error("unsigned unsigned unsigned unsigned unsigned unsigned "
                 "unsigned unsigned f(void);",
                 1, 1, "invalid combination",
                 "'unsigned unsigned unsigned unsigned unsi...'");
}
END_TEST

START_TEST(cdef_error_missing_semicolon)
{
    assert_error("double cos(double)\ndouble sin(double);", 2, 1,
                 "missing ';' after the declaration of 'cos'",
                 "found 'double'");
    assert_error("double cos(double)", 1, 19, "missing ';'", "'cos'",
                 "end of the input");
}
END_TEST

START_TEST(cdef_error_missing_name_or_paren)
{
    assert_error("int (void);", 1, 5, "expected a function name",
                 "found '('");
    assert_error("int *;", 1, 6, "expected a function name", "';'");
    assert_error("int f;", 1, 6, "expected '(' after 'f'", "found ';'");
    assert_error("int f[3];", 1, 6, "expected '(' after 'f'", "'['");
    assert_error("int f(int x y);", 1, 13, "expected ',' or ')'",
                 "found 'y'");
    assert_error("int f(int x;", 1, 12, "expected ',' or ')'", "';'");
}
END_TEST

START_TEST(cdef_error_variadic)
{
    assert_error("int printf(const char *fmt, ...);", 1, 29,
                 "variadic functions are not supported", "'printf'");
    assert_error("int f(...);", 1, 7, "variadic");
}
END_TEST

START_TEST(cdef_error_void_parameter)
{
    assert_error("int f(void, int);", 1, 7, "cannot be void", "'f'");
    assert_error("int f(int, void);", 1, 12, "cannot be void");
    assert_error("int f(void x);", 1, 7, "cannot be void");
}
END_TEST

START_TEST(cdef_error_unterminated_comment)
{
    assert_error("int f(void);\n  /* no end", 2, 3, "unterminated comment");
    assert_error("int f(/*)", 1, 7, "unterminated comment");
    assert_error("/*/", 1, 1, "unterminated comment");
    assert_error("/*", 1, 1, "unterminated comment");
}
END_TEST

START_TEST(cdef_error_name_too_long)
{
    char text[RT_CDEF_MAX_NAME + 32];
    char name[RT_CDEF_MAX_NAME + 1];

    memset(name, 'n', RT_CDEF_MAX_NAME);
    name[RT_CDEF_MAX_NAME] = '\0';
    snprintf(text, sizeof(text), "int\n  %s(void);", name);
    assert_error(text, 2, 3, "too long", "127");
}
END_TEST

START_TEST(cdef_error_too_many_parameters)
{
    char text[(RT_CDEF_MAX_ARGS + 1) * 8 + 32];
    size_t n = 0;

    n += (size_t)snprintf(text + n, sizeof(text) - n, "void f(");
    for (int i = 0; i < RT_CDEF_MAX_ARGS + 1; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%sint",
                              i ? ", " : "");
    snprintf(text + n, sizeof(text) - n, ");");
    /* "void f(" is 7 bytes, then 64 times "int, " (5 bytes each). */
    assert_error(text, 1, 8 + 5 * RT_CDEF_MAX_ARGS, "too many parameters",
                 "'f'", "64");
}
END_TEST

START_TEST(cdef_error_without_err)
{
    ck_assert_int_eq(rt_cdef_parse("int", 3, decls, MAX_DECLS, NULL),
                     -EINVAL);
}
END_TEST

static Suite *
cdef_suite(void)
{
    Suite *s = suite_create("cdef");
    TCase *tc;

    tc = tcase_create("declarations");
    tcase_add_test(tc, cdef_examples);
    tcase_add_test(tc, cdef_integer_spellings);
    tcase_add_test(tc, cdef_float_and_void_spellings);
    tcase_add_test(tc, cdef_const_qualifiers);
    tcase_add_test(tc, cdef_pointers);
    tcase_add_test(tc, cdef_no_parameters);
    tcase_add_test(tc, cdef_names_optional);
    tcase_add_test(tc, cdef_comments_and_whitespace);
    tcase_add_test(tc, cdef_several_declarations);
    tcase_add_test(tc, cdef_empty_input);
    tcase_add_test(tc, cdef_longest_name);
    tcase_add_test(tc, cdef_most_parameters);
    tcase_add_test(tc, cdef_prefix_only);
    tcase_add_test(tc, cdef_more_than_max);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, cdef_error_expected_type);
    tcase_add_test(tc, cdef_error_unknown_type);
    tcase_add_test(tc, cdef_error_invalid_combination);
    tcase_add_test(tc, cdef_error_missing_semicolon);
    tcase_add_test(tc, cdef_error_missing_name_or_paren);
    tcase_add_test(tc, cdef_error_variadic);
    tcase_add_test(tc, cdef_error_void_parameter);
    tcase_add_test(tc, cdef_error_unterminated_comment);
    tcase_add_test(tc, cdef_error_name_too_long);
    tcase_add_test(tc, cdef_error_too_many_parameters);
    tcase_add_test(tc, cdef_error_without_err);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cdef_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
