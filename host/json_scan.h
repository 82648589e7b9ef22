/*
 * Scanning JSON text (RFC 8259) without building values: checking that
 * a value is well formed, finding where it ends, and reading the few
 * scalars the host needs (strings and numbers). The host keeps event
 * data as text, so most of an input line is only checked and copied.
 */
#ifndef JOURNEY_HOST_JSON_SCAN_H
#define JOURNEY_HOST_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Nesting deeper than this is rejected, as lua-cjson rejects it by
 * default, so that the Lua side can always decode what was accepted. */
#define JY_JSON_MAX_DEPTH 1000

typedef enum jy_json_type {
    JY_JSON_NULL,
    JY_JSON_FALSE,
    JY_JSON_TRUE,
    JY_JSON_NUMBER,
    JY_JSON_STRING,
    JY_JSON_ARRAY,
    JY_JSON_OBJECT,
} jy_json_type;

/* One value inside a text: its type and the span of its text, quotes
 * and brackets included. */
typedef struct jy_json_span {
    jy_json_type type;
    const char *text;
    size_t len;
} jy_json_span;

/* Returns the length of the UTF-8 sequence that starts at s (at most
 * avail bytes), or 0 when it is not well formed (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF). */
size_t jy_utf8_sequence_length(const unsigned char *s, size_t avail);

/* Checks that text is valid UTF-8, as JSON text must be. Returns 0, or
 * JY_EINVAL with the position of the first bad byte. Input is checked
 * once, where it comes in. The scanner does not check, so that text an
 * older version stored still reads. */
int jy_json_check_utf8(const char *text, size_t len, jy_error *err);

/* Returns the length of the UTF-8 byte order mark at the start of text
 * (3), or 0 when it has none. JSON text may not contain one, but some
 * editors write it (RFC 8259, section 8.1). */
size_t jy_utf8_bom_length(const char *text, size_t len);

/* Skips whitespace from *pos. */
void jy_json_skip_space(const char *text, size_t len, size_t *pos);

/* Checks the value that starts at *pos (after whitespace) and moves *pos
 * past it. Fills span when it is not NULL. Returns 0, or JY_EINVAL with
 * a message such as "expected ',' or '}' but found 'x' at character 12"
 * (characters count from 1). */
int jy_json_scan_value(const char *text, size_t len, size_t *pos, jy_json_span *span,
                       jy_error *err);

/* jy_json_scan_value that also sets *spaced (when not NULL) to whether
 * any space sits between the tokens of the value, so that a caller can
 * copy a compact value instead of calling jy_json_compact. */
int jy_json_scan_value_spaced(const char *text, size_t len, size_t *pos, jy_json_span *span,
                              int *spaced, jy_error *err);

/* Writes the decoded bytes of a string span (escapes resolved, \u as
 * UTF-8) to out, which must hold span->len bytes: the decoded form is
 * never longer than the quoted one. Returns the decoded length. The
 * span must come from jy_json_scan_value. */
size_t jy_json_string_decode(const jy_json_span *span, char *out);

/* Returns the value of a number span as strtod reads it, with "." as
 * the decimal point whatever the locale. */
double jy_json_number(const jy_json_span *span);

/* What jy_json_integer finds in a number span. */
typedef enum jy_json_integer_status {
    JY_JSON_INTEGER_EXACT,    /* a whole number within int64_t */
    JY_JSON_INTEGER_FRACTION, /* not a whole number, such as 2.5 or 1e-3 */
    JY_JSON_INTEGER_RANGE,    /* a whole number outside int64_t, such as 1e20 */
} jy_json_integer_status;

/* Reads a number span as an integer from its digits, without going
 * through a double, so 9007199254740993 and 9007199254740993.0 both
 * give 9007199254740993 and 4.2e1 gives 42. Stores the value only when
 * the result is JY_JSON_INTEGER_EXACT. The span must come from
 * jy_json_scan_value. */
jy_json_integer_status jy_json_integer(const jy_json_span *span, int64_t *value);

/* Writes the decimal text of a number span whose value is whole to
 * out, which must hold span->len + 21 bytes, and stores its length. An
 * integer literal (digits with an optional '-', no fraction or
 * exponent) gives its own digits whatever its length, except that "-0"
 * gives "0". Any other number gives the text of jy_json_integer's
 * value. Returns jy_json_integer's status and writes nothing unless it
 * is JY_JSON_INTEGER_EXACT, which an integer literal always gives. */
jy_json_integer_status jy_json_integer_text(const jy_json_span *span, char *out, size_t *len);

/* Writes value in decimal digits to out, which must hold 21 bytes, and
 * returns the length. Faster than snprintf, for journal entries and
 * encoded integers. */
size_t jy_json_format_integer(char *out, int64_t value);

/* Writes {"KEY":VALUE}, the journal entry of a step that returned one
 * integer, to out, which must hold strlen(key) + 26 bytes, and returns
 * the length. key must need no escape. */
size_t jy_json_format_integer_object(char *out, const char *key, int64_t value);

/* Writes value with printf's "%.*g" and precision digits to out (size
 * bytes), with "." as the decimal point whatever the locale. Returns
 * what snprintf returns. */
int jy_json_format_number(char *out, size_t size, double value, int precision);

/* Returns the JSON name of a value of type, with its article, as error
 * messages about input name it: "null", "a boolean", "a number", "a
 * string", "an array" or "an object". */
const char *jy_json_type_name(jy_json_type type);

/* Writes value with the fewest significant digits (15 to 17) that read
 * back as the same double, with "." as the decimal point whatever the
 * locale. Returns what snprintf returns. A 32-byte buffer is enough. */
int jy_json_format_double(char *out, size_t size, double value);

/* Writes the span's text without the whitespace between tokens to out,
 * which must hold span->len bytes, and returns its length. */
size_t jy_json_compact(const jy_json_span *span, char *out);

/* Finds the member named key (key_len bytes, compared after decoding
 * the member's name) in the object span and stores its value in value.
 * Of repeated names the last one counts. Returns 1 when found, 0 when
 * not, or JY_EINVAL when the text is not a valid object. Once the name
 * is found, the rest of the text is scanned only when it may contain
 * the name again. So an error after the match may go unnoticed, and the
 * text should be valid JSON already, as stored event data is. */
int jy_json_object_find(const jy_json_span *object, const char *key, size_t key_len,
                        jy_json_span *value, jy_error *err);

/* Names the character at pos for an error message: "'x'", or "the end
 * of the text" at len. out must hold 16 bytes. */
const char *jy_json_describe_at(const char *text, size_t len, size_t pos, char out[16]);

#endif
