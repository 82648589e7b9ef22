/*
 * Zeroed memory on huge pages, for large blocks that are read at random:
 * the tables of the host's indexes and the chunks of a replay's Lua
 * pool.
 *
 * A lookup in a hash table of a million runs lands on a random slot of a
 * table of tens of megabytes. With 4 KiB pages the address translation
 * then misses the TLB nearly every time, so each lookup also walks the
 * page tables. A 2 MiB huge page covers 512 times as much. Blocks of at
 * least JY_HUGE_PAGE bytes are mapped on 2 MiB boundaries with the
 * kernel advised to use huge pages; smaller ones come from calloc.
 *
 * NOTE: where the kernel's huge page defrag setting is `madvise`, the
 * first write to an advised block may compact memory before it returns,
 * which on a long-running, fragmented machine can stall the loop for
 * milliseconds. The stalls were not measured. Setting
 * /sys/kernel/mm/transparent_hugepage/defrag to `defer` avoids them.
 */
#ifndef JOURNEY_HOST_HUGE_PAGES_H
#define JOURNEY_HOST_HUGE_PAGES_H

#include <stddef.h>

/* The size of a huge page on x86-64, and on arm64 with 4 KiB pages. */
#define JY_HUGE_PAGE (2u * 1024 * 1024)

/* Returns count * size zeroed bytes, or NULL when out of memory or when
 * the size, rounded up to huge pages, overflows. */
void *jy_huge_calloc(size_t count, size_t size);

/* Returns whether jy_huge_calloc maps blocks of JY_HUGE_PAGE bytes and
 * more on huge page boundaries: not in an AddressSanitizer build, which
 * checks only its own heap. */
int jy_huge_pages_mapped(void);

/* Frees a block from jy_huge_calloc of the same count and size. NULL is
 * ignored. */
void jy_huge_free(void *block, size_t count, size_t size);

#endif
