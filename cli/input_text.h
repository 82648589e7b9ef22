/*
 * The text of a replay's input: a file mapped into memory, or what was
 * read from a pipe.
 */
#ifndef JOURNEY_CLI_INPUT_TEXT_H
#define JOURNEY_CLI_INPUT_TEXT_H

#include <stddef.h>

typedef struct jy_input_text {
    const char *text; /* the text after any UTF-8 byte order mark, not NUL-terminated */
    size_t len;       /* bytes of text */
    char *base;       /* what jy_input_text_release frees or unmaps */
    size_t mapped;    /* bytes mapped at base, or 0 when base is malloc'd */
} jy_input_text;

/* Reads the input at path, or stdin for "-". A regular file is mapped
 * rather than copied where its file system allows. Returns 0, or -1 with
 * errno set. */
int jy_input_text_open(const char *path, jy_input_text *input);

/* Frees or unmaps the text. The struct is empty afterwards. */
void jy_input_text_release(jy_input_text *input);

#endif
