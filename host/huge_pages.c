/*
 * Zeroed memory on huge pages (see huge_pages.h).
 */
/* MAP_ANONYMOUS and MADV_HUGEPAGE are not POSIX. */
#define _DEFAULT_SOURCE

#include "huge_pages.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/* AddressSanitizer guards and checks only the blocks of its own
 * allocator, so a sanitizer build keeps every block on the heap. */
#if defined(__SANITIZE_ADDRESS__)
#define MAPS_LARGE_BLOCKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAPS_LARGE_BLOCKS 0
#endif
#endif
#ifndef MAPS_LARGE_BLOCKS
#define MAPS_LARGE_BLOCKS 1
#endif


static size_t mapped_size(size_t bytes)
{
    return (bytes + JY_HUGE_PAGE - 1) / JY_HUGE_PAGE * JY_HUGE_PAGE;
}


void *jy_huge_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    size_t bytes = count * size;
    if (bytes > SIZE_MAX - 2 * JY_HUGE_PAGE)
        return NULL;
    if (bytes < JY_HUGE_PAGE || !MAPS_LARGE_BLOCKS)
        return calloc(count, size);

    /* Map one huge page more than needed and unmap the unaligned ends,
     * because the kernel backs only an aligned range with a huge page.
     * Fresh anonymous pages read as zero. */
    size_t want = mapped_size(bytes);
    size_t span = want + JY_HUGE_PAGE;
    char *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    char *start = (char *)(((uintptr_t)base + JY_HUGE_PAGE - 1) & ~(uintptr_t)(JY_HUGE_PAGE - 1));
    size_t head = (size_t)(start - base);
    if (head > 0)
        munmap(base, head);
    if (span - head > want)
        munmap(start + want, span - head - want);

#ifdef MADV_HUGEPAGE
    /* Where huge pages are off, the kernel ignores the advice and the
     * block keeps 4 KiB pages. */
    madvise(start, want, MADV_HUGEPAGE);
#endif
    return start;
}


int jy_huge_pages_mapped(void)
{
    return MAPS_LARGE_BLOCKS;
}


void jy_huge_free(void *block, size_t count, size_t size)
{
    if (block == NULL)
        return;
    size_t bytes = count * size;
    if (bytes < JY_HUGE_PAGE || !MAPS_LARGE_BLOCKS)
        free(block);
    else
        munmap(block, mapped_size(bytes));
}
