/*
 * Filling the caller-given error record.
 */
#include "error.h"

#include <stdio.h>


int jy_error_set(jy_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;

    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}


void jy_error_clear(jy_error *err)
{
    if (err == NULL)
        return;
    err->code = JY_OK;
    err->message[0] = '\0';
}
