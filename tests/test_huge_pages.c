/*
 * Blocks on huge pages. Small blocks come from the heap, and large ones
 * are mapped on a huge page boundary, zeroed, and unmapped whole when
 * freed. Sizes that overflow are rejected.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "huge_pages.h"


/* Returns whether any mapping of this process overlaps [start, end). */
static int mapped(uintptr_t start, uintptr_t end)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL)
        return -1;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, maps) != NULL) {
        unsigned long low, high;
        if (sscanf(line, "%lx-%lx", &low, &high) == 2 && low < end && high > start)
            found = 1;
    }
    fclose(maps);
    return found;
}


static void huge_small_block_is_zeroed(void)
{
    unsigned char *block = jy_huge_calloc(1000, 8);
    CHECK(block != NULL);

    int zeroed = 1;
    for (size_t i = 0; i < 8000; i++)
        if (block[i] != 0)
            zeroed = 0;
    CHECK(zeroed);
    jy_huge_free(block, 1000, 8);
}


static void huge_large_block_mapped_whole(void)
{
    /* 3 MiB takes two huge pages. */
    size_t count = 3u * 1024 * 1024 / 24;
    unsigned char *block = jy_huge_calloc(count, 24);
    CHECK(block != NULL);

    int zeroed = 1;
    for (size_t i = 0; i < count * 24; i++)
        if (block[i] != 0)
            zeroed = 0;
    CHECK(zeroed);
    memset(block, 0xab, count * 24);

    if (!jy_huge_pages_mapped()) {
        jy_huge_free(block, count, 24);
        return;
    }
    uintptr_t start = (uintptr_t)block;
    CHECK_INT_EQ(start % JY_HUGE_PAGE, 0);
    CHECK_INT_EQ(mapped(start, start + 2 * JY_HUGE_PAGE), 1);

    /* Freeing returns both huge pages, not only the 3 MiB asked for. */
    jy_huge_free(block, count, 24);
    CHECK_INT_EQ(mapped(start, start + 2 * JY_HUGE_PAGE), 0);
}


static void huge_overflowing_sizes_rejected(void)
{
    CHECK(jy_huge_calloc(1, SIZE_MAX) == NULL);
    CHECK(jy_huge_calloc(SIZE_MAX / 2, 4) == NULL);
    CHECK(jy_huge_calloc(1, SIZE_MAX - JY_HUGE_PAGE / 2) == NULL);
}


int main(void)
{
    huge_small_block_is_zeroed();
    huge_large_block_mapped_whole();
    huge_overflowing_sizes_rejected();
    return check_summary("test_huge_pages");
}
