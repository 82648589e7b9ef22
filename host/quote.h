/*
 * Quoting user text in error messages: one line, escaped, and cut when
 * long, so a message that names a bad value stays readable.
 */
#ifndef JOURNEY_HOST_QUOTE_H
#define JOURNEY_HOST_QUOTE_H

#include <stddef.h>

/* Bytes of the original text that a message quotes before "...". */
#define QUOTE_MAX_BYTES 60

/* Large enough for a quoted text of QUOTE_MAX_BYTES bytes that are all
 * escaped as \xNN, plus quotes, "..." and the NUL. */
#define QUOTE_BUF_SIZE (QUOTE_MAX_BYTES * 4 + 8)

/* Writes text[0..len) into buf (QUOTE_BUF_SIZE bytes) in double quotes,
 * on one line: quotes, backslashes and control characters become
 * escapes, and text past max_bytes is cut at a UTF-8 character boundary
 * and followed by "...". */
void jy_quote_text(const char *text, size_t len, size_t max_bytes, char *buf);

#endif
