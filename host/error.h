/*
 * The error record that host functions fill in.
 *
 * Host functions return 0 on success or a negative JY_E* code. When a
 * message helps the caller, they also write it into a caller-given
 * jy_error, which may be NULL when the caller only wants the code.
 */
#ifndef JOURNEY_HOST_ERROR_H
#define JOURNEY_HOST_ERROR_H

#include <stdarg.h>

enum {
    JY_OK = 0,
    JY_EINVAL = -1,    /* bad input: a duration, a time, an event field */
    JY_ENOMEM = -2,    /* an allocation failed */
    JY_ERANGE = -3,    /* a value is outside what the host can represent */
    JY_ENOTFOUND = -4, /* a run, journey or event does not exist */
    JY_EEXIST = -5,    /* a duplicate: an event id already stored */
    JY_ESTATE = -6,    /* the call does not fit the object's state */
    JY_EDIVERGED = -7, /* a replay asked for another step than the journal holds */
    JY_EIO = -8,       /* a store or file operation failed */
};

typedef struct jy_error {
    int code;
    char message[512];
} jy_error;

/* Fills err (when not NULL) with code and a printf-style message, and
 * returns code, so callers can write `return jy_error_set(err, ...)`. */
int jy_error_set(jy_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err (when not NULL) to JY_OK and an empty message. */
void jy_error_clear(jy_error *err);

#endif
