/*
 * The small-block pool of the Lua allocator (see small_pool.h).
 */
#include "small_pool.h"

#include <stdalign.h>
#include <stdlib.h>

#include "huge_pages.h"

#define SMALL_CHUNK_SIZE (64 * 1024)

/* A large chunk is one huge page. A replay of millions of events
 * touches its blocks in no order, and with 4 KiB pages most of those
 * touches also miss the TLB. */
#define LARGE_CHUNK_SIZE JY_HUGE_PAGE

/* A pool takes large chunks once its small ones reach this size, so a
 * small replay keeps a small footprint. */
#define LARGE_CHUNKS_FROM (8 * 1024 * 1024)

/* The header of each chunk; blocks start after it, 16-byte aligned. */
struct jy_pool_chunk {
    jy_pool_chunk *next;
    size_t size;  /* SMALL_CHUNK_SIZE from malloc, or LARGE_CHUNK_SIZE from jy_huge_calloc */
    alignas(16) char blocks[];
};


static size_t class_of(size_t size)
{
    return (size - 1) / 16;
}


static jy_pool_chunk *new_chunk(jy_pool *pool)
{
    jy_pool_chunk *chunk = NULL;
    if (pool->chunk_bytes >= LARGE_CHUNKS_FROM) {
        chunk = jy_huge_calloc(1, LARGE_CHUNK_SIZE);
        if (chunk != NULL)
            chunk->size = LARGE_CHUNK_SIZE;
    }
    if (chunk == NULL) {
        chunk = malloc(SMALL_CHUNK_SIZE);
        if (chunk == NULL)
            return NULL;
        chunk->size = SMALL_CHUNK_SIZE;
    }
    pool->chunk_bytes += chunk->size;
    return chunk;
}


void *jy_pool_alloc(jy_pool *pool, size_t size)
{
    size_t cls = class_of(size);
    void *block = pool->free_lists[cls];

    if (block != NULL) {
        /* A block freed by the collector's sweep is cold, and reading its
         * link stalls on a cache miss. Prefetching the next block while
         * the caller fills this one hides the miss of the next call. */
        void *next = *(void **)block;
        pool->free_lists[cls] = next;
        if (next != NULL)
            __builtin_prefetch(next, 1);
        return block;
    }

    size_t rounded = (cls + 1) * 16;
    if ((size_t)(pool->end - pool->next) < rounded) {
        /* The rest of the old chunk, less than one block, is dropped. */
        jy_pool_chunk *chunk = new_chunk(pool);
        if (chunk == NULL)
            return NULL;
        chunk->next = pool->chunks;
        pool->chunks = chunk;
        pool->next = chunk->blocks;
        pool->end = (char *)chunk + chunk->size;
    }
    block = pool->next;
    pool->next += rounded;
    return block;
}


void jy_pool_free(jy_pool *pool, void *block, size_t size)
{
    size_t cls = class_of(size);

    *(void **)block = pool->free_lists[cls];
    pool->free_lists[cls] = block;
}


int jy_pool_same_class(size_t a, size_t b)
{
    return class_of(a) == class_of(b);
}


void jy_pool_release(jy_pool *pool)
{
    jy_pool_chunk *chunk = pool->chunks;

    while (chunk != NULL) {
        jy_pool_chunk *next = chunk->next;
        if (chunk->size == LARGE_CHUNK_SIZE)
            jy_huge_free(chunk, 1, LARGE_CHUNK_SIZE);
        else
            free(chunk);
        chunk = next;
    }
    *pool = (jy_pool){0};
}
