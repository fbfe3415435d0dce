/* The parser behind lib.cdef(): a hand-written lexer and a parser for the
 * function declarations runtime/cdef.h describes.
 *
 * The grammar has no nesting, so the parser is a loop, not a recursion:
 *
 *     input       := { declaration | ';' }
 *     declaration := type name '(' parameters ')' ';'
 *     parameters  := 'void' | [ type [name] { ',' type [name] } ]
 *     type        := { specifier | qualifier } { '*' { qualifier } }
 *
 * Every read of src goes through peek(), which checks the length, so the
 * input need not be NUL-terminated.  Nothing is allocated.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cdef.h"

/* How much of an identifier an error message quotes. */
#define QUOTE_MAX 40

enum tok_kind {
    TOK_END,
    TOK_IDENT,
    TOK_STAR,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_COMMA,
    TOK_SEMI,
    TOK_ELLIPSIS,
    TOK_OTHER, /* any other byte */
};

struct token {
    enum tok_kind kind;
    const char *text;
    size_t len;
    unsigned line, column;
};

struct parser {
    const char *src;
    size_t len, pos;
    unsigned line, column;
    struct token tok; /* the current token */
    struct rt_cdef_error *err;
};

/* ---- Errors ------------------------------------------------------------ */

static int
fail(struct parser *p, unsigned line, unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct parser *p, unsigned line, unsigned column, const char *fmt, ...)
{
    va_list ap;

    if (p->err) {
        p->err->line = line;
        p->err->column = column;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Describes a token for "found ..." into buf. */
static const char *
describe(const struct token *t, char *buf, size_t size)
{
    unsigned char c;

    switch (t->kind) {
    case TOK_END:
        return "the end of the input";
    case TOK_IDENT:
        if (t->len > QUOTE_MAX)
            snprintf(buf, size, "'%.*s...'", QUOTE_MAX, t->text);
        else
            snprintf(buf, size, "'%.*s'", (int)t->len, t->text);
        return buf;
    case TOK_ELLIPSIS:
        return "'...'";
    default:
        c = (unsigned char)t->text[0];
        if (c >= 0x20 && c < 0x7f)
            snprintf(buf, size, "'%c'", c);
        else
            snprintf(buf, size, "byte 0x%02x", c);
        return buf;
    }
}

/* Fails at the current token: "expected WHAT, found TOKEN". */
static int
expected(struct parser *p, const char *what)
{
    char buf[QUOTE_MAX + 8];

    return fail(p, p->tok.line, p->tok.column, "expected %s, found %s", what,
                describe(&p->tok, buf, sizeof(buf)));
}

/* ---- Lexer ------------------------------------------------------------- */

/* The byte at pos + ahead, or -1 past the end. */
static int
peek(const struct parser *p, size_t ahead)
{
    if (ahead >= p->len - p->pos)
        return -1;
    return (unsigned char)p->src[p->pos + ahead];
}

static void
advance(struct parser *p)
{
    if (p->src[p->pos] == '\n') {
        p->line++;
        p->column = 1;
    } else {
        p->column++;
    }
    p->pos++;
}

static bool
is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_ident_char(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Skips whitespace and comments.  Returns 0 or -EINVAL for an unterminated
 * comment. */
static int
skip_space(struct parser *p)
{
    for (;;) {
        int c = peek(p, 0);

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
            || c == '\v') {
            advance(p);
        } else if (c == '/' && peek(p, 1) == '/') {
            while (peek(p, 0) != -1 && peek(p, 0) != '\n')
                advance(p);
        } else if (c == '/' && peek(p, 1) == '*') {
            unsigned line = p->line, column = p->column;

            advance(p);
            advance(p);
            for (;;) {
                if (peek(p, 0) == -1)
                    return fail(p, line, column, "unterminated comment");
                if (peek(p, 0) == '*' && peek(p, 1) == '/')
                    break;
                advance(p);
            }
            advance(p);
            advance(p);
        } else {
            return 0;
        }
    }
}

/* Reads the next token into p->tok.  Returns 0 or -EINVAL. */
static int
next(struct parser *p)
{
    struct token *t = &p->tok;
    int c, r;

    if ((r = skip_space(p)) < 0)
        return r;
    t->text = p->src + p->pos;
    t->line = p->line;
    t->column = p->column;
    t->len = 1;
    c = peek(p, 0);
    if (c == -1) {
        t->kind = TOK_END;
        t->len = 0;
        return 0;
    }
    if (is_ident_start(c)) {
        t->kind = TOK_IDENT;
        t->len = 0;
        while (is_ident_char(peek(p, 0))) {
            advance(p);
            t->len++;
        }
        return 0;
    }
    if (c == '.' && peek(p, 1) == '.' && peek(p, 2) == '.') {
        t->kind = TOK_ELLIPSIS;
        t->len = 3;
        advance(p);
        advance(p);
        advance(p);
        return 0;
    }
    switch (c) {
    case '*': t->kind = TOK_STAR; break;
    case '(': t->kind = TOK_LPAREN; break;
    case ')': t->kind = TOK_RPAREN; break;
    case ',': t->kind = TOK_COMMA; break;
    case ';': t->kind = TOK_SEMI; break;
    default: t->kind = TOK_OTHER; break;
    }
    advance(p);
    return 0;
}

static bool
tok_is(const struct token *t, const char *word)
{
    size_t n = strlen(word);

    return t->kind == TOK_IDENT && t->len == n && memcmp(t->text, word, n) == 0;
}

/* ---- Types ------------------------------------------------------------- */

/* The words a type may be made of. */
enum word {
    W_CONST, W_VOLATILE, W_SIGNED, W_UNSIGNED, W_CHAR, W_SHORT, W_INT,
    W_LONG, W_FLOAT, W_DOUBLE, W_VOID, W_BOOL, W_NAMED, W_NONE,
};

static const struct {
    const char *word;
    enum rt_ffi_type type;
} named_types[] = {
    {"int8_t", RT_FFI_INT8},     {"uint8_t", RT_FFI_UINT8},
    {"int16_t", RT_FFI_INT16},   {"uint16_t", RT_FFI_UINT16},
    {"int32_t", RT_FFI_INT32},   {"uint32_t", RT_FFI_UINT32},
    {"int64_t", RT_FFI_INT64},   {"uint64_t", RT_FFI_UINT64},
    {"size_t", RT_FFI_SIZE_T},   {"ssize_t", RT_FFI_SSIZE_T},
};

static enum word
classify(const struct token *t, enum rt_ffi_type *named)
{
    static const char *const words[] = {
        [W_CONST] = "const",   [W_VOLATILE] = "volatile",
        [W_SIGNED] = "signed", [W_UNSIGNED] = "unsigned",
        [W_CHAR] = "char",     [W_SHORT] = "short",
        [W_INT] = "int",       [W_LONG] = "long",
        [W_FLOAT] = "float",   [W_DOUBLE] = "double",
        [W_VOID] = "void",     [W_BOOL] = "bool",
    };

    if (t->kind != TOK_IDENT)
        return W_NONE;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (tok_is(t, words[i]))
            return (enum word)i;
    if (tok_is(t, "_Bool"))
        return W_BOOL;
    for (size_t i = 0; i < sizeof(named_types) / sizeof(named_types[0]);
         i++) {
        if (tok_is(t, named_types[i].word)) {
            *named = named_types[i].type;
            return W_NAMED;
        }
    }
    return W_NONE;
}

/* Resolves the counted words of a type without its pointers.  Returns
 * RT_FFI_TYPE_COUNT for a combination C does not have (or we do not). */
static enum rt_ffi_type
combine(const unsigned n[W_NONE], enum rt_ffi_type named)
{
    unsigned sign = n[W_SIGNED] + n[W_UNSIGNED];
    unsigned ints = n[W_CHAR] + n[W_SHORT] + n[W_INT] + n[W_LONG];
    unsigned other = n[W_FLOAT] + n[W_DOUBLE] + n[W_VOID] + n[W_BOOL]
                     + n[W_NAMED];
    bool u = n[W_UNSIGNED] > 0;

    if (sign > 1 || n[W_CHAR] > 1 || n[W_SHORT] > 1 || n[W_INT] > 1
        || n[W_LONG] > 2)
        return RT_FFI_TYPE_COUNT;
    if (other) {
        if (other > 1 || sign || ints)
            return RT_FFI_TYPE_COUNT;
        if (n[W_FLOAT]) return RT_FFI_FLOAT;
        if (n[W_DOUBLE]) return RT_FFI_DOUBLE;
        if (n[W_VOID]) return RT_FFI_VOID;
        if (n[W_BOOL]) return RT_FFI_BOOL;
        return named;
    }
    if (n[W_CHAR]) {
        if (n[W_SHORT] || n[W_INT] || n[W_LONG])
            return RT_FFI_TYPE_COUNT;
        if (n[W_SIGNED]) return RT_FFI_SCHAR;
        return u ? RT_FFI_UCHAR : RT_FFI_CHAR;
    }
    if (n[W_SHORT]) {
        if (n[W_LONG])
            return RT_FFI_TYPE_COUNT;
        return u ? RT_FFI_USHORT : RT_FFI_SHORT;
    }
    if (n[W_LONG] == 2)
        return u ? RT_FFI_ULONGLONG : RT_FFI_LONGLONG;
    if (n[W_LONG] == 1)
        return u ? RT_FFI_ULONG : RT_FFI_LONG;
    if (n[W_INT] || sign)
        return u ? RT_FFI_UINT : RT_FFI_INT;
    return RT_FFI_TYPE_COUNT; /* only qualifiers: the caller reports it */
}

/* Parses a type at the current token, its pointers included, into *out.
 * Returns 0 or -EINVAL. */
static int
parse_type(struct parser *p, enum rt_ffi_type *out)
{
    unsigned n[W_NONE] = {0};
    enum rt_ffi_type named = RT_FFI_VOID, base;
    struct token first = p->tok;
    unsigned stars = 0, specifiers = 0;
    /* The words as written, one space apart, for messages: the source
     * between them may hold comments and newlines. */
    char spelling[QUOTE_MAX + 4] = "";
    size_t spelled = 0;
    bool is_const;
    enum word w;
    int r;
    char buf[QUOTE_MAX + 8];

    /* The words of the type.  A word that is not one ends them: it is the
     * name that follows, or, before any specifier, an unknown type. */
    while ((w = classify(&p->tok, &named)) != W_NONE) {
        n[w]++;
        if (w != W_CONST && w != W_VOLATILE)
            specifiers++;
        if (spelled < QUOTE_MAX) {
            int k = snprintf(spelling + spelled, QUOTE_MAX + 1 - spelled,
                             "%s%.*s", spelled ? " " : "", (int)p->tok.len,
                             p->tok.text);

            spelled += (size_t)k;
            if (spelled > QUOTE_MAX) {
                spelled = QUOTE_MAX;
                strcpy(spelling + QUOTE_MAX, "...");
            }
        }
        if ((r = next(p)) < 0)
            return r;
    }
    if (specifiers == 0) {
        if (p->tok.kind == TOK_IDENT)
            return fail(p, p->tok.line, p->tok.column, "unknown type %s",
                        describe(&p->tok, buf, sizeof(buf)));
        return expected(p, "a type");
    }
    base = combine(n, named);
    if (base == RT_FFI_TYPE_COUNT) {
        if (n[W_LONG] && n[W_DOUBLE])
            return fail(p, first.line, first.column,
                        "'%s' is not supported", spelling);
        return fail(p, first.line, first.column,
                    "invalid combination of type words '%s'", spelling);
    }
    is_const = n[W_CONST] > 0;

    while (p->tok.kind == TOK_STAR) {
        stars++;
        if ((r = next(p)) < 0)
            return r;
        /* `T *const p`: the pointer itself is const; the pointee is not. */
        while (tok_is(&p->tok, "const") || tok_is(&p->tok, "volatile"))
            if ((r = next(p)) < 0)
                return r;
    }

    if (stars == 0)
        *out = base;
    else if (stars > 1 || base == RT_FFI_VOID)
        *out = RT_FFI_POINTER;
    else if (base == RT_FFI_CHAR)
        *out = RT_FFI_STRING;
    else
        *out = is_const ? RT_FFI_CBUFFER : RT_FFI_BUFFER;
    return 0;
}

/* ---- Declarations ------------------------------------------------------ */

/* Parses the parameters after '(' up to and including ')'. */
static int
parse_params(struct parser *p, struct rt_cdef_decl *d)
{
    int r;

    d->nargs = 0;
    if (p->tok.kind == TOK_RPAREN)
        return next(p);
    for (;;) {
        struct token start = p->tok;
        enum rt_ffi_type t;

        if (p->tok.kind == TOK_ELLIPSIS)
            return fail(p, p->tok.line, p->tok.column,
                        "variadic functions are not supported ('...' in "
                        "the parameters of '%s')",
                        d->name);
        if ((r = parse_type(p, &t)) < 0)
            return r;
        if (t == RT_FFI_VOID) {
            /* `(void)` alone means no parameters. */
            if (d->nargs == 0 && p->tok.kind == TOK_RPAREN)
                return next(p);
            return fail(p, start.line, start.column,
                        "a parameter of '%s' cannot be void", d->name);
        }
        if (p->tok.kind == TOK_IDENT) {
            if ((r = next(p)) < 0)
                return r;
        }
        if (d->nargs == RT_CDEF_MAX_ARGS)
            return fail(p, start.line, start.column,
                        "too many parameters in '%s' (at most %d)", d->name,
                        RT_CDEF_MAX_ARGS);
        d->argtypes[d->nargs++] = t;
        if (p->tok.kind == TOK_RPAREN)
            return next(p);
        if (p->tok.kind != TOK_COMMA)
            return expected(p, "',' or ')' after a parameter");
        if ((r = next(p)) < 0)
            return r;
    }
}

/* Parses one declaration from its first token to its ';' into d. */
static int
parse_decl(struct parser *p, struct rt_cdef_decl *d)
{
    char buf[QUOTE_MAX + 8];
    int r;

    d->line = p->tok.line;
    d->column = p->tok.column;
    if ((r = parse_type(p, &d->restype)) < 0)
        return r;
    if (p->tok.kind != TOK_IDENT)
        return expected(p, "a function name");
    if (p->tok.len >= RT_CDEF_MAX_NAME)
        return fail(p, p->tok.line, p->tok.column,
                    "the name %s is too long (at most %d characters)",
                    describe(&p->tok, buf, sizeof(buf)),
                    RT_CDEF_MAX_NAME - 1);
    memcpy(d->name, p->tok.text, p->tok.len);
    d->name[p->tok.len] = '\0';
    if ((r = next(p)) < 0)
        return r;
    if (p->tok.kind != TOK_LPAREN) {
        char what[RT_CDEF_MAX_NAME + 32];

        snprintf(what, sizeof(what), "'(' after '%s'", d->name);
        return expected(p, what);
    }
    if ((r = next(p)) < 0)
        return r;
    if ((r = parse_params(p, d)) < 0)
        return r;
    if (p->tok.kind != TOK_SEMI)
        return fail(p, p->tok.line, p->tok.column,
                    "missing ';' after the declaration of '%s', found %s",
                    d->name, describe(&p->tok, buf, sizeof(buf)));
    return next(p);
}

int
rt_cdef_parse(const char *src, size_t len, struct rt_cdef_decl *decls,
              unsigned max, struct rt_cdef_error *err)
{
    struct parser p = {
        .src = src, .len = src ? len : 0, .line = 1, .column = 1, .err = err,
    };
    struct rt_cdef_decl scratch;
    unsigned count = 0;
    int r;

    if (err)
        memset(err, 0, sizeof(*err));
    if ((r = next(&p)) < 0)
        return r;
    while (p.tok.kind != TOK_END) {
        if (p.tok.kind == TOK_SEMI) {
            if ((r = next(&p)) < 0)
                return r;
            continue;
        }
        if (count == max) {
            /* Parse it anyway, so that a syntax error wins over E2BIG. */
            if ((r = parse_decl(&p, &scratch)) < 0)
                return r;
            fail(&p, scratch.line, scratch.column,
                 "more than %u declarations", max);
            return -E2BIG;
        }
        memset(&decls[count], 0, sizeof(decls[count]));
        if ((r = parse_decl(&p, &decls[count])) < 0)
            return r;
        count++;
    }
    return (int)count;
}
