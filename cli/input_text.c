/*
 * The text of a replay's input (see input_text.h).
 *
 * A regular file is mapped rather than copied. A copy of a gigabyte
 * costs a page fault and a zeroed page per 4 KiB, on one thread, before
 * the parsing threads can start. Mapped pages come from the page cache.
 */
/* madvise is not POSIX. */
#define _DEFAULT_SOURCE

#include "input_text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_scan.h"


/* Reads a stream that cannot be mapped (a pipe, a terminal) to its end.
 * Returns 0, or -1 with errno set. */
static int read_stream(FILE *file, jy_input_text *input)
{
    size_t capacity = 1 << 16;
    size_t used = 0;
    char *text = malloc(capacity);
    if (text == NULL)
        return -1;

    for (;;) {
        if (used + 1 >= capacity) {
            char *grown = realloc(text, capacity * 2);
            if (grown == NULL) {
                free(text);
                errno = ENOMEM;
                return -1;
            }
            text = grown;
            capacity *= 2;
        }
        size_t n = fread(text + used, 1, capacity - used - 1, file);
        used += n;
        if (n == 0)
            break;
    }
    if (ferror(file)) {
        int saved = errno != 0 ? errno : EIO;
        free(text);
        errno = saved;
        return -1;
    }

    text[used] = '\0';
    input->base = text;
    input->text = text;
    input->len = used;
    input->mapped = 0;
    return 0;
}


/* Maps the size bytes of fd. Returns 0, or -1 with errno set. */
static int map_file(int fd, size_t size, jy_input_text *input)
{
    char *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED)
        return -1;

    /* The parsing threads read the text once, front to back. */
    madvise(base, size, MADV_SEQUENTIAL);

    input->base = base;
    input->text = base;
    input->len = size;
    input->mapped = size;
    return 0;
}


/* Reads fd to its end, for what cannot be mapped, and closes it. Returns
 * 0, or -1 with errno set. */
static int read_fd(int fd, jy_input_text *input)
{
    FILE *file = fdopen(fd, "rb");
    if (file == NULL) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    int status = read_stream(file, input);
    int saved = errno;
    fclose(file);
    errno = saved;
    return status;
}


int jy_input_text_open(const char *path, jy_input_text *input)
{
    *input = (jy_input_text){0};
    errno = 0;

    int status;
    if (strcmp(path, "-") == 0) {
        status = read_stream(stdin, input);
    } else {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            return -1;
        struct stat st;
        if (fstat(fd, &st) != 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            close(fd);
            errno = EISDIR;
            return -1;
        }
        /* A FIFO or a device has no size to map, and some file systems
         * (sysfs, FUSE with direct I/O) refuse to map a regular file, so
         * those are read instead. */
        if (S_ISREG(st.st_mode) && st.st_size > 0 &&
            map_file(fd, (size_t)st.st_size, input) == 0) {
            close(fd);
            status = 0;
        } else {
            status = read_fd(fd, input);
        }
    }
    if (status != 0)
        return -1;

    /* Editors on some systems start a UTF-8 file with a byte order mark,
     * which JSON parsers may ignore. */
    size_t bom = jy_utf8_bom_length(input->text, input->len);
    input->text += bom;
    input->len -= bom;
    return 0;
}


void jy_input_text_release(jy_input_text *input)
{
    if (input->mapped > 0)
        munmap(input->base, input->mapped);
    else
        free(input->base);
    *input = (jy_input_text){0};
}
