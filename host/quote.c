/*
 * Quoting user text in error messages (see quote.h).
 */
#include "quote.h"

#include <string.h>


void jy_quote_text(const char *text, size_t len, size_t max_bytes, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    size_t quoted_len = len;
    size_t n = 0;

    if (quoted_len > max_bytes) {
        quoted_len = max_bytes;
        while (quoted_len > 0 &&
               ((unsigned char)text[quoted_len] & 0xc0) == 0x80)
            quoted_len--;
    }

    buf[n++] = '"';
    for (size_t i = 0; i < quoted_len; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            buf[n++] = '\\';
            buf[n++] = 'x';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 0xf];
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    if (quoted_len < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}
