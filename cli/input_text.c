/*
 * The text of a replay's input (see input_text.h).
 *
 * A large input is mapped: copying a gigabyte into fresh memory costs a
 * page fault and a zeroed page per 4 KiB, on one thread, before the
 * parsing threads can start, while mapped pages come straight from the
 * page cache.
 */
/* MAP_FIXED and MAP_ANONYMOUS are not POSIX. */
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


/* Maps the size bytes of fd, followed by at least one zero byte, so the
 * text ends with a NUL like a string. Returns 0, or -1 with errno set. */
static int map_file(int fd, size_t size, jy_input_text *input)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    /* Bytes past the end of the file on its last page read as zero. When
     * the file ends on a page boundary, the zero comes from an
     * anonymous page reserved after it. */
    size_t span = (size / page + 1) * page;
    char *base = mmap(NULL, span, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return -1;
    if (mmap(base, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
        int saved = errno;
        munmap(base, span);
        errno = saved;
        return -1;
    }
    /* The parsing threads read the text once, front to back. */
    madvise(base, size, MADV_SEQUENTIAL);

    input->base = base;
    input->text = base;
    input->len = size;
    input->mapped = span;
    return 0;
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
        if (S_ISREG(st.st_mode) && st.st_size > 0) {
            status = map_file(fd, (size_t)st.st_size, input);
            close(fd);
        } else {
            /* A FIFO or a device has no size to map, so it is read instead. */
            FILE *file = fdopen(fd, "rb");
            if (file == NULL) {
                int saved = errno;
                close(fd);
                errno = saved;
                return -1;
            }
            status = read_stream(file, input);
            int saved = errno;
            fclose(file);
            errno = saved;
        }
    }
    if (status != 0)
        return -1;

    /* Editors on some systems start a UTF-8 file with a byte order mark,
     * which JSON parsers may ignore (RFC 8259, section 8.1). */
    if (input->len >= 3 && memcmp(input->text, "\xEF\xBB\xBF", 3) == 0) {
        input->text += 3;
        input->len -= 3;
    }
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
