/*
 * A growable byte buffer for building text: journal results, emitted
 * events as JSON Lines, transcript lines.
 *
 * Appends never fail loudly: after an allocation failure the buffer
 * stays marked as failed, further appends do nothing, and the caller
 * checks jy_buf_failed once at the end.
 */
#ifndef JOURNEY_HOST_BUFFER_H
#define JOURNEY_HOST_BUFFER_H

#include <stddef.h>
#include <stdint.h>

typedef struct jy_buf {
    char *data; /* NUL-terminated while not failed */
    size_t len;
    size_t capacity;
    int failed;
} jy_buf;

void jy_buf_init(jy_buf *buf);
void jy_buf_free(jy_buf *buf);
void jy_buf_reset(jy_buf *buf);

void jy_buf_append(jy_buf *buf, const void *bytes, size_t len);
void jy_buf_append_str(jy_buf *buf, const char *text);
void jy_buf_printf(jy_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends len bytes of text as a JSON string literal, quotes included.
 * Quotes, backslashes, control characters and DEL are escaped, NUL as
 * \u0000. Valid UTF-8 passes through, and each byte that starts no
 * valid sequence becomes \ufffd, so the output is always valid JSON. */
void jy_buf_append_json_text(jy_buf *buf, const char *text, size_t len);

/* Appends a NUL-terminated text as jy_buf_append_json_text does. */
void jy_buf_append_json_string(jy_buf *buf, const char *text);

/* Returns nonzero when an append failed for lack of memory. */
int jy_buf_failed(const jy_buf *buf);

/* Hands the text over to the caller (who frees it) and leaves the buffer
 * empty. Returns NULL when an append failed. */
char *jy_buf_take(jy_buf *buf);

#endif
