/*
 * The small-block pool of the Lua allocator: size classes, reuse of
 * freed blocks, alignment, and growth over many chunks, up to the
 * mapped chunks of a large pool.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "huge_pages.h"
#include "small_pool.h"


static void pool_reuses_freed_block_of_class(void)
{
    jy_pool pool = {0};
    void *a = jy_pool_alloc(&pool, 40);
    CHECK(a != NULL);
    jy_pool_free(&pool, a, 40);

    /* 33 to 48 bytes share a class, so the freed block comes back. */
    void *b = jy_pool_alloc(&pool, 48);
    CHECK(b == a);
    void *c = jy_pool_alloc(&pool, 40);
    CHECK(c != a);
    jy_pool_release(&pool);
}


static void pool_classes_by_16_bytes(void)
{
    CHECK(jy_pool_same_class(1, 16));
    CHECK(jy_pool_same_class(17, 32));
    CHECK(!jy_pool_same_class(16, 17));
    CHECK(jy_pool_same_class(241, 256));
    CHECK(!jy_pool_same_class(32, 256));
}


static void pool_blocks_are_aligned_and_disjoint(void)
{
    jy_pool pool = {0};
    enum { COUNT = 20000 };
    unsigned char **blocks = malloc(COUNT * sizeof *blocks);

    /* Enough blocks of every class to fill many 64 KiB chunks. */
    for (size_t i = 0; i < COUNT; i++) {
        size_t size = 1 + (i * 7) % JY_POOL_MAX_SIZE;
        blocks[i] = jy_pool_alloc(&pool, size);
        CHECK(blocks[i] != NULL);
        CHECK_INT_EQ((uintptr_t)blocks[i] % 16, 0);
        memset(blocks[i], (int)(i & 0xff), size);
    }
    int intact = 1;
    for (size_t i = 0; i < COUNT; i++) {
        size_t size = 1 + (i * 7) % JY_POOL_MAX_SIZE;
        for (size_t k = 0; k < size; k++)
            if (blocks[i][k] != (unsigned char)(i & 0xff))
                intact = 0;
    }
    CHECK(intact);

    for (size_t i = 0; i < COUNT; i++)
        jy_pool_free(&pool, blocks[i], 1 + (i * 7) % JY_POOL_MAX_SIZE);
    jy_pool_release(&pool);
    CHECK(pool.chunks == NULL);
    free(blocks);
}


static void pool_takes_huge_page_chunks_when_large(void)
{
    jy_pool pool = {0};
    enum { COUNT = 100000, SIZE = 256 }; /* 25 MB of blocks */
    unsigned char **blocks = malloc(COUNT * sizeof *blocks);
    size_t small_steps = 0, large_steps = 0, wrong_steps = 0;

    for (size_t i = 0; i < COUNT; i++) {
        size_t before = pool.chunk_bytes;
        blocks[i] = jy_pool_alloc(&pool, SIZE);
        CHECK(blocks[i] != NULL);
        memset(blocks[i], (int)(i & 0xff), SIZE);

        /* Chunks of 64 KiB up to 8 MiB, then of 2 MiB. */
        size_t step = pool.chunk_bytes - before;
        if (step == 0)
            continue;
        if (before < 8u * 1024 * 1024 && step == 64u * 1024)
            small_steps++;
        else if (before >= 8u * 1024 * 1024 && step == JY_HUGE_PAGE)
            large_steps++;
        else
            wrong_steps++;
    }
    CHECK_INT_EQ(small_steps, 128);
    CHECK(large_steps >= 8);
    CHECK_INT_EQ(wrong_steps, 0);

    /* The newest chunk is a mapped one, on a 2 MiB boundary so that one
     * huge page can back it (outside a sanitizer build). */
    if (jy_huge_pages_mapped())
        CHECK_INT_EQ((uintptr_t)pool.chunks % JY_HUGE_PAGE, 0);

    int intact = 1;
    for (size_t i = 0; i < COUNT; i++)
        for (size_t k = 0; k < SIZE; k++)
            if (blocks[i][k] != (unsigned char)(i & 0xff))
                intact = 0;
    CHECK(intact);

    jy_pool_release(&pool);
    CHECK(pool.chunks == NULL);
    CHECK_INT_EQ(pool.chunk_bytes, 0);
    free(blocks);
}


int main(void)
{
    pool_reuses_freed_block_of_class();
    pool_classes_by_16_bytes();
    pool_blocks_are_aligned_and_disjoint();
    pool_takes_huge_page_chunks_when_large();
    return check_summary("test_small_pool");
}
