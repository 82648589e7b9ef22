/*
 * Scanning JSON text without building values (see json_scan.h).
 */
#include "json_scan.h"

#include <inttypes.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}


/* Returns the index of the first character after the digits at pos. */
static size_t skip_digits(const char *text, size_t len, size_t pos)
{
    while (pos < len && is_digit(text[pos]))
        pos++;
    return pos;
}


size_t jy_utf8_bom_length(const char *text, size_t len)
{
    return len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}


void jy_json_skip_space(const char *text, size_t len, size_t *pos)
{
    while (*pos < len && is_space(text[*pos]))
        (*pos)++;
}


const char *jy_json_describe_at(const char *text, size_t len, size_t pos, char out[16])
{
    if (pos >= len)
        return "the end of the text";

    unsigned char c = (unsigned char)text[pos];
    if (c < 0x20 || c >= 0x7f)
        snprintf(out, 16, "byte 0x%02x", c);
    else
        snprintf(out, 16, "'%c'", c);
    return out;
}


static int fail_expected(const char *text, size_t len, size_t pos, const char *expected,
                         jy_error *err)
{
    char found[16];
    return jy_error_set(err, JY_EINVAL, "expected %s but found %s at character %zu", expected,
                        jy_json_describe_at(text, len, pos, found), pos + 1);
}


static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}


/* Reads the four hex digits after "\u" at text[pos]; -1 when invalid. */
static long read_hex4(const char *text, size_t len, size_t pos)
{
    if (pos + 4 > len)
        return -1;

    long value = 0;
    for (size_t i = 0; i < 4; i++) {
        int digit = hex_value(text[pos + i]);
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}


size_t jy_utf8_sequence_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char low = 0x80;  /* the range of the second byte */
    unsigned char high = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;

    if (c == 0xE0)
        low = 0xA0;
    else if (c == 0xED)
        high = 0x9F;
    else if (c == 0xF0)
        low = 0x90;
    else if (c == 0xF4)
        high = 0x8F;

    if (avail < n || s[1] < low || s[1] > high)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return n;
}


/* Bytes below 0x80 are the whole of most input, so eight of them are
 * checked at once before any sequence is decoded. */
#define HIGH_BITS 0x8080808080808080ULL


int jy_json_check_utf8(const char *text, size_t len, jy_error *err)
{
    size_t i = 0;

    while (i < len) {
        uint64_t word;
        if (len - i >= sizeof word) {
            memcpy(&word, text + i, sizeof word);
            if ((word & HIGH_BITS) == 0) {
                i += sizeof word;
                continue;
            }
        }
        if ((unsigned char)text[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = jy_utf8_sequence_length((const unsigned char *)text + i, len - i);
        if (n == 0)
            return jy_error_set(err, JY_EINVAL, "invalid UTF-8 at character %zu; send text "
                                "encoded as UTF-8", i + 1);
        i += n;
    }
    return 0;
}


/* The state of one scan: the text, the position, and whether any space
 * was skipped inside the value. A value scanned with spaced still 0 is
 * compact already, so jy_json_compact's callers can copy it. */
typedef struct scanner {
    const char *text;
    size_t len;
    size_t pos;
    int spaced;
    jy_error *err;
} scanner;


/* Most tokens follow the last one directly, so the check for space is
 * inline and the loop is not. */
static void skip_space_run(scanner *s)
{
    size_t pos = s->pos;

    while (pos < s->len && is_space(s->text[pos]))
        pos++;
    s->spaced = 1;
    s->pos = pos;
}


static inline void skip_space(scanner *s)
{
    if (s->pos < s->len && is_space(s->text[s->pos]))
        skip_space_run(s);
}


static inline int at(const scanner *s, char c)
{
    return s->pos < s->len && s->text[s->pos] == c;
}


static int scan_fail(scanner *s, const char *expected)
{
    return fail_expected(s->text, s->len, s->pos, expected, s->err);
}


/* Checks a \u escape at text[i] (the backslash) and returns its length
 * in characters, or 0 after filling the error. A \u escape must be a
 * valid code point: a high surrogate needs its low surrogate, because
 * the decoded string is UTF-8. */
static size_t scan_unicode_escape(scanner *s, size_t i)
{
    const char *text = s->text;
    size_t len = s->len;

    long unit = read_hex4(text, len, i + 2);
    if (unit < 0) {
        jy_error_set(s->err, JY_EINVAL, "invalid \\u escape in a string at character %zu",
                     i + 1);
        return 0;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
        jy_error_set(s->err, JY_EINVAL, "invalid \\u escape at character %zu: a low "
                     "surrogate without a high one", i + 1);
        return 0;
    }
    if (unit < 0xD800 || unit > 0xDBFF)
        return 6;

    long low = -1;
    if (i + 7 < len && text[i + 6] == '\\' && text[i + 7] == 'u')
        low = read_hex4(text, len, i + 8);
    if (low < 0xDC00 || low > 0xDFFF) {
        jy_error_set(s->err, JY_EINVAL, "invalid \\u escape at character %zu: a high "
                     "surrogate without a low one", i + 1);
        return 0;
    }
    return 12;
}


/* Checks a string from its opening quote. Control characters pass, as
 * lua-cjson lets them pass. */
static int scan_string(scanner *s)
{
    const char *text = s->text;
    size_t len = s->len;
    size_t start = s->pos;
    size_t i = start + 1;

    while (i < len) {
        /* Most strings contain no escape, so run to the next quote or
         * backslash without looking at anything else. */
        while (i < len && text[i] != '"' && text[i] != '\\')
            i++;
        if (i >= len)
            break;
        if (text[i] == '"') {
            s->pos = i + 1;
            return 0;
        }

        if (i + 1 >= len)
            break;
        char escape = text[i + 1];
        if (escape == '"' || escape == '\\' || escape == '/' || escape == 'b' ||
            escape == 'f' || escape == 'n' || escape == 'r' || escape == 't') {
            i += 2;
            continue;
        }
        if (escape != 'u')
            return jy_error_set(s->err, JY_EINVAL, "invalid escape '\\%c' in a string at "
                                "character %zu", escape, i + 1);
        size_t n = scan_unicode_escape(s, i);
        if (n == 0)
            return JY_EINVAL;
        i += n;
    }
    return jy_error_set(s->err, JY_EINVAL, "unterminated string starting at character %zu",
                        start + 1);
}


/* Checks a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(scanner *s)
{
    const char *text = s->text;
    size_t len = s->len;

    if (at(s, '-'))
        s->pos++;
    if (at(s, '0'))
        s->pos++;
    else if (s->pos < len && is_digit(text[s->pos]))
        s->pos = skip_digits(text, len, s->pos);
    else
        return scan_fail(s, "a digit");

    if (at(s, '.')) {
        s->pos++;
        if (s->pos >= len || !is_digit(text[s->pos]))
            return scan_fail(s, "a digit after '.'");
        s->pos = skip_digits(text, len, s->pos);
    }
    if (at(s, 'e') || at(s, 'E')) {
        s->pos++;
        if (at(s, '+') || at(s, '-'))
            s->pos++;
        if (s->pos >= len || !is_digit(text[s->pos]))
            return scan_fail(s, "a digit in the exponent");
        s->pos = skip_digits(text, len, s->pos);
    }
    /* "01" and "1x" are not numbers; the caller reports what follows. */
    return 0;
}


static int scan_literal(scanner *s, const char *word, size_t n)
{
    if (s->len - s->pos < n || memcmp(s->text + s->pos, word, n) != 0)
        return scan_fail(s, "a JSON value");
    s->pos += n;
    return 0;
}


static int scan_at_depth(scanner *s, jy_json_span *span, int depth);


/* Scans a member of an array or object. Strings and numbers, most of
 * the members, are scanned here without the dispatch of scan_at_depth. */
static inline int scan_member(scanner *s, int depth)
{
    if (s->pos < s->len) {
        char c = s->text[s->pos];
        if (c == '"')
            return scan_string(s);
        if (is_digit(c) || c == '-')
            return scan_number(s);
    }
    return scan_at_depth(s, NULL, depth + 1);
}


static int scan_array(scanner *s, int depth)
{
    s->pos++;
    skip_space(s);
    if (at(s, ']')) {
        s->pos++;
        return 0;
    }

    for (;;) {
        skip_space(s);
        if (scan_member(s, depth) != 0)
            return JY_EINVAL;
        skip_space(s);
        if (at(s, ',')) {
            s->pos++;
            continue;
        }
        if (at(s, ']')) {
            s->pos++;
            return 0;
        }
        return scan_fail(s, "',' or ']'");
    }
}


static int scan_object(scanner *s, int depth)
{
    s->pos++;
    skip_space(s);
    if (at(s, '}')) {
        s->pos++;
        return 0;
    }

    for (;;) {
        skip_space(s);
        if (!at(s, '"'))
            return scan_fail(s, "an object key string");
        if (scan_string(s) != 0)
            return JY_EINVAL;
        skip_space(s);
        if (!at(s, ':'))
            return scan_fail(s, "':'");
        s->pos++;
        skip_space(s);
        if (scan_member(s, depth) != 0)
            return JY_EINVAL;
        skip_space(s);
        if (at(s, ',')) {
            s->pos++;
            continue;
        }
        if (at(s, '}')) {
            s->pos++;
            return 0;
        }
        return scan_fail(s, "',' or '}'");
    }
}


static int scan_at_depth(scanner *s, jy_json_span *span, int depth)
{
    /* Space before a nested value is inside the outer value. Space
     * before the top value is not part of it. */
    int spaced = s->spaced;
    skip_space(s);
    if (depth == 0)
        s->spaced = spaced;
    if (s->pos >= s->len)
        return scan_fail(s, "a JSON value");

    size_t start = s->pos;
    jy_json_type type;
    int rc;
    switch (s->text[start]) {
    case '{':
    case '[':
        if (depth >= JY_JSON_MAX_DEPTH)
            return jy_error_set(s->err, JY_EINVAL, "too many nested arrays and objects at "
                                "character %zu (at most %d levels)", start + 1,
                                JY_JSON_MAX_DEPTH);
        type = s->text[start] == '{' ? JY_JSON_OBJECT : JY_JSON_ARRAY;
        rc = type == JY_JSON_OBJECT ? scan_object(s, depth) : scan_array(s, depth);
        break;
    case '"':
        type = JY_JSON_STRING;
        rc = scan_string(s);
        break;
    case 't':
        type = JY_JSON_TRUE;
        rc = scan_literal(s, "true", 4);
        break;
    case 'f':
        type = JY_JSON_FALSE;
        rc = scan_literal(s, "false", 5);
        break;
    case 'n':
        type = JY_JSON_NULL;
        rc = scan_literal(s, "null", 4);
        break;
    default:
        if (s->text[start] != '-' && !is_digit(s->text[start]))
            return scan_fail(s, "a JSON value");
        type = JY_JSON_NUMBER;
        rc = scan_number(s);
        break;
    }
    if (rc != 0)
        return rc;

    if (span != NULL) {
        span->type = type;
        span->text = s->text + start;
        span->len = s->pos - start;
    }
    return 0;
}


int jy_json_scan_value_spaced(const char *text, size_t len, size_t *pos, jy_json_span *span,
                              int *spaced, jy_error *err)
{
    scanner s = {text, len, *pos, 0, err};
    int rc = scan_at_depth(&s, span, 0);

    *pos = s.pos;
    if (spaced != NULL)
        *spaced = s.spaced;
    return rc;
}


int jy_json_scan_value(const char *text, size_t len, size_t *pos, jy_json_span *span,
                       jy_error *err)
{
    return jy_json_scan_value_spaced(text, len, pos, span, NULL, err);
}


/* Writes code point cp as UTF-8 and returns the number of bytes. */
static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}


size_t jy_json_string_decode(const jy_json_span *span, char *out)
{
    const char *text = span->text;
    size_t end = span->len - 1; /* the closing quote */
    size_t used = 0;

    for (size_t i = 1; i < end;) {
        char c = text[i];
        if (c != '\\') {
            out[used++] = c;
            i++;
            continue;
        }

        char escape = text[i + 1];
        i += 2;
        switch (escape) {
        case 'b': out[used++] = '\b'; break;
        case 'f': out[used++] = '\f'; break;
        case 'n': out[used++] = '\n'; break;
        case 'r': out[used++] = '\r'; break;
        case 't': out[used++] = '\t'; break;
        case 'u': {
            unsigned long cp = (unsigned long)read_hex4(text, span->len, i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long low = (unsigned long)read_hex4(text, span->len, i + 2);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                i += 6;
            }
            used += put_utf8(out + used, cp);
            break;
        }
        default: out[used++] = escape; break; /* '"', '\\' and '/' */
        }
    }
    return used;
}


/* Returns the decimal point of the C library's numeric locale, which
 * strtod and printf use. A program that embeds the host may have set a
 * locale whose point is not the "." of JSON. */
static char locale_point(void)
{
    const char *point = localeconv()->decimal_point;
    return point != NULL && point[0] != '\0' && point[1] == '\0' ? point[0] : '.';
}


double jy_json_number(const jy_json_span *span)
{
    /* The span is not NUL-terminated; numbers longer than the buffer are
     * rare enough for a heap copy. */
    char local[64];
    char *copy = span->len < sizeof local ? local : malloc(span->len + 1);
    if (copy == NULL)
        return 0.0;

    memcpy(copy, span->text, span->len);
    copy[span->len] = '\0';
    char point = locale_point();
    char *dot = point != '.' ? strchr(copy, '.') : NULL;
    if (dot != NULL)
        *dot = point;
    double value = strtod(copy, NULL);
    if (copy != local)
        free(copy);
    return value;
}


/* Exponents are read up to this magnitude. Any larger one gives the
 * same result: a number text is far shorter than 10^15 characters, so
 * such an exponent puts every nonzero digit far above int64_t or below
 * the decimal point. */
#define EXPONENT_CAP 1000000000000000LL


jy_json_integer_status jy_json_integer(const jy_json_span *span, int64_t *value)
{
    const char *text = span->text;
    size_t len = span->len;
    int negative = text[0] == '-';

    size_t int_start = negative ? 1 : 0;
    size_t pos = skip_digits(text, len, int_start);
    size_t int_len = pos - int_start;
    size_t frac_start = pos;
    size_t frac_len = 0;
    if (pos < len && text[pos] == '.') {
        frac_start = pos + 1;
        pos = skip_digits(text, len, frac_start);
        frac_len = pos - frac_start;
    }

    long long exponent = 0;
    if (pos < len) { /* 'e' or 'E', as the scanner checked */
        pos++;
        int exponent_negative = text[pos] == '-';
        if (text[pos] == '-' || text[pos] == '+')
            pos++;
        for (; pos < len; pos++) {
            if (exponent < EXPONENT_CAP)
                exponent = exponent * 10 + (text[pos] - '0');
        }
        if (exponent_negative)
            exponent = -exponent;
    }

    /* The digits, integer part then fraction, are one sequence in which
     * digit k counts 10^(top - k). A nonzero digit below 10^0 is a
     * fraction. The magnitude collects the digits at 10^0 and above. */
    long long top = (long long)int_len - 1 + exponent;
    size_t count = int_len + frac_len;
    uint64_t magnitude = 0;
    int too_large = 0;
    for (size_t k = 0; k < count; k++) {
        char c = k < int_len ? text[int_start + k] : text[frac_start + k - int_len];
        unsigned digit = (unsigned)(c - '0');
        if (top - (long long)k < 0) {
            if (digit != 0)
                return JY_JSON_INTEGER_FRACTION;
            continue;
        }
        if (magnitude > (UINT64_MAX - digit) / 10)
            too_large = 1;
        else
            magnitude = magnitude * 10 + digit;
    }

    /* An exponent past the last digit appends zeros; after 20 of them a
     * nonzero magnitude is past UINT64_MAX, so the loop stops early. */
    long long zeros = top - ((long long)count - 1);
    while (zeros > 0 && magnitude != 0 && !too_large) {
        if (magnitude > UINT64_MAX / 10)
            too_large = 1;
        else
            magnitude *= 10;
        zeros--;
    }

    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (too_large || magnitude > limit)
        return JY_JSON_INTEGER_RANGE;
    if (!negative)
        *value = (int64_t)magnitude;
    else if (magnitude == (uint64_t)INT64_MAX + 1)
        *value = INT64_MIN;
    else
        *value = -(int64_t)magnitude;
    return JY_JSON_INTEGER_EXACT;
}


jy_json_integer_status jy_json_integer_text(const jy_json_span *span, char *out, size_t *len)
{
    const char *text = span->text;
    size_t first = text[0] == '-' ? 1 : 0;

    if (skip_digits(text, span->len, first) == span->len) {
        /* An integer literal: its digits are the value, at any length. */
        size_t start = first == 1 && span->len == 2 && text[1] == '0' ? 1 : 0; /* "-0" */
        *len = span->len - start;
        memcpy(out, text + start, *len);
        out[*len] = '\0';
        return JY_JSON_INTEGER_EXACT;
    }

    int64_t value = 0;
    jy_json_integer_status status = jy_json_integer(span, &value);
    if (status == JY_JSON_INTEGER_EXACT)
        *len = jy_json_format_integer(out, value);
    return status;
}


size_t jy_json_format_integer(char *out, int64_t value)
{
    /* The magnitude as unsigned, so that INT64_MIN has one too. */
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    char digits[20];
    size_t n = 0;
    size_t len = 0;

    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);

    if (value < 0)
        out[len++] = '-';
    while (n > 0)
        out[len++] = digits[--n];
    out[len] = '\0';
    return len;
}


size_t jy_json_format_integer_object(char *out, const char *key, int64_t value)
{
    size_t key_len = strlen(key);
    size_t len = 0;

    out[len++] = '{';
    out[len++] = '"';
    memcpy(out + len, key, key_len);
    len += key_len;
    out[len++] = '"';
    out[len++] = ':';
    len += jy_json_format_integer(out + len, value);
    out[len++] = '}';
    out[len] = '\0';
    return len;
}


int jy_json_format_number(char *out, size_t size, double value, int precision)
{
    int len = snprintf(out, size, "%.*g", precision, value);
    char point = locale_point();

    for (int i = 0; point != '.' && i < len && (size_t)i < size; i++)
        if (out[i] == point)
            out[i] = '.';
    return len;
}


const char *jy_json_type_name(jy_json_type type)
{
    switch (type) {
    case JY_JSON_NULL: return "null";
    case JY_JSON_FALSE:
    case JY_JSON_TRUE: return "a boolean";
    case JY_JSON_NUMBER: return "a number";
    case JY_JSON_STRING: return "a string";
    case JY_JSON_ARRAY: return "an array";
    default: return "an object";
    }
}


int jy_json_format_double(char *out, size_t size, double value)
{
    /* Fifteen digits keep a decimal of up to fifteen digits as written
     * (0.1 stays 0.1), and seventeen always read back as the same double.
     * strtod reads the text before the point is replaced, so it uses the
     * same locale as snprintf. */
    int len = 0;
    for (int precision = 15; precision <= 17; precision++) {
        len = snprintf(out, size, "%.*g", precision, value);
        if (len < 0 || (size_t)len >= size || strtod(out, NULL) == value)
            break;
    }

    char point = locale_point();
    for (int i = 0; point != '.' && i < len && (size_t)i < size; i++)
        if (out[i] == point)
            out[i] = '.';
    return len;
}


size_t jy_json_compact(const jy_json_span *span, char *out)
{
    const char *text = span->text;
    size_t used = 0;
    int in_string = 0;

    for (size_t i = 0; i < span->len; i++) {
        char c = text[i];
        if (in_string) {
            out[used++] = c;
            if (c == '\\')
                out[used++] = text[++i];
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"')
            in_string = 1;
        else if (is_space(c))
            continue;
        out[used++] = c;
    }
    return used;
}


/* Returns whether the name span (quotes included) decodes to key. */
static int name_equals(const jy_json_span *name, const char *key, size_t key_len)
{
    if (memchr(name->text, '\\', name->len) == NULL)
        return name->len == key_len + 2 && memcmp(name->text + 1, key, key_len) == 0;

    /* Escapes only lengthen the text, so a shorter name cannot match. */
    if (name->len < key_len + 2)
        return 0;
    char local[256];
    char *decoded = name->len <= sizeof local ? local : malloc(name->len);
    if (decoded == NULL)
        return 0;
    size_t len = jy_json_string_decode(name, decoded);
    int equal = len == key_len && memcmp(decoded, key, key_len) == 0;
    if (decoded != local)
        free(decoded);
    return equal;
}


/* Returns whether the text from pos on may contain another member
 * named key. Without a backslash, a name in the text is key only when
 * spelled byte for byte in quotes. One search of the rest decides it,
 * which costs far less than scanning the rest value by value. */
static int may_repeat(const char *text, size_t len, size_t pos, const char *key,
                      size_t key_len)
{
    const char *rest = text + pos;
    size_t rest_len = len - pos;

    if (memchr(rest, '\\', rest_len) != NULL)
        return 1;
    for (size_t i = 0; i < key_len; i++)
        if (key[i] == '"' || key[i] == '\\' || (unsigned char)key[i] < 0x20)
            return 1;

    /* Look for the quoted key. Searching for its first character skips
     * more of the text than searching for quotes, which open every
     * string. An empty key is searched as two quotes in a row. */
    const char *end = text + len;
    char first = key_len > 0 ? key[0] : '"';
    for (const char *at = memchr(rest, first, rest_len); at != NULL;
         at = memchr(at + 1, first, (size_t)(end - at - 1))) {
        if (at == rest || at[-1] != '"')
            continue;
        if ((size_t)(end - at) >= key_len + 1 && memcmp(at, key, key_len) == 0 &&
            at[key_len] == '"')
            return 1;
    }
    return 0;
}


int jy_json_object_find(const jy_json_span *object, const char *key, size_t key_len,
                        jy_json_span *value, jy_error *err)
{
    const char *text = object->text;
    size_t len = object->len;
    size_t pos = 1;
    int found = 0;

    if (object->type != JY_JSON_OBJECT)
        return jy_error_set(err, JY_EINVAL, "expected an object");
    for (;;) {
        jy_json_skip_space(text, len, &pos);
        if (pos < len && text[pos] == '}')
            return found;
        if (pos < len && text[pos] == ',') {
            pos++;
            jy_json_skip_space(text, len, &pos);
        }

        jy_json_span name, member;
        if (pos >= len || text[pos] != '"')
            return fail_expected(text, len, pos, "an object key string", err);
        if (jy_json_scan_value(text, len, &pos, &name, err) != 0)
            return JY_EINVAL;
        jy_json_skip_space(text, len, &pos);
        if (pos >= len || text[pos] != ':')
            return fail_expected(text, len, pos, "':'", err);
        pos++;
        if (jy_json_scan_value(text, len, &pos, &member, err) != 0)
            return JY_EINVAL;
        if (name_equals(&name, key, key_len)) {
            *value = member;
            found = 1;
            if (!may_repeat(text, len, pos, key, key_len))
                return 1;
        }
    }
}
