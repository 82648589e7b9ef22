/*
 * The growable text buffer (see buffer.h).
 */
#include "buffer.h"
#include "json_scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void jy_buf_init(jy_buf *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->capacity = 0;
    buf->failed = 0;
}


void jy_buf_free(jy_buf *buf)
{
    free(buf->data);
    jy_buf_init(buf);
}


void jy_buf_reset(jy_buf *buf)
{
    buf->len = 0;
    buf->failed = 0;
    if (buf->data != NULL)
        buf->data[0] = '\0';
}


static int reserve(jy_buf *buf, size_t extra)
{
    if (buf->failed)
        return -1;
    if (buf->len + extra + 1 <= buf->capacity)
        return 0;

    size_t capacity = buf->capacity == 0 ? 64 : buf->capacity;
    while (capacity < buf->len + extra + 1)
        capacity *= 2;

    char *data = realloc(buf->data, capacity);
    if (data == NULL) {
        buf->failed = 1;
        return -1;
    }
    buf->data = data;
    buf->capacity = capacity;
    return 0;
}


void jy_buf_append(jy_buf *buf, const void *bytes, size_t len)
{
    if (reserve(buf, len) != 0)
        return;
    memcpy(buf->data + buf->len, bytes, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}


void jy_buf_append_str(jy_buf *buf, const char *text)
{
    jy_buf_append(buf, text, strlen(text));
}


void jy_buf_printf(jy_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);

    if (n < 0) {
        buf->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        jy_buf_append(buf, small, (size_t)n);
        return;
    }
    if (reserve(buf, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
}


void jy_buf_append_json_text(jy_buf *buf, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t plain = 0;

    jy_buf_append(buf, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        const char *escape = NULL;
        char unicode[6];

        if (c == '"')
            escape = "\\\"";
        else if (c == '\\')
            escape = "\\\\";
        else if (c == '\b')
            escape = "\\b";
        else if (c == '\f')
            escape = "\\f";
        else if (c == '\n')
            escape = "\\n";
        else if (c == '\r')
            escape = "\\r";
        else if (c == '\t')
            escape = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            memcpy(unicode, "\\u00", 4);
            unicode[4] = hex[c >> 4];
            unicode[5] = hex[c & 15];
            escape = unicode;
        } else if (c >= 0x80) {
            /* JSON text is UTF-8, so a byte that starts no valid sequence
             * becomes U+FFFD, the replacement character. */
            size_t n = jy_utf8_sequence_length((const unsigned char *)text + i, len - i);
            if (n > 0) {
                i += n - 1;
                continue;
            }
            escape = "\\ufffd";
        }
        if (escape == NULL)
            continue;

        /* Bytes that need no escape go out in runs. */
        jy_buf_append(buf, text + plain, i - plain);
        jy_buf_append(buf, escape, escape == unicode ? 6 : strlen(escape));
        plain = i + 1;
    }
    jy_buf_append(buf, text + plain, len - plain);
    jy_buf_append(buf, "\"", 1);
}


void jy_buf_append_json_string(jy_buf *buf, const char *text)
{
    jy_buf_append_json_text(buf, text, strlen(text));
}


int jy_buf_failed(const jy_buf *buf)
{
    return buf->failed;
}


char *jy_buf_take(jy_buf *buf)
{
    if (buf->failed) {
        jy_buf_free(buf);
        return NULL;
    }
    if (buf->data == NULL && reserve(buf, 0) != 0)
        return NULL;

    char *text = buf->data;
    text[buf->len] = '\0';
    jy_buf_init(buf);
    return text;
}
