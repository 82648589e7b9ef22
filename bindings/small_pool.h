/*
 * A pool of small memory blocks for the Lua allocator.
 *
 * Lua allocates and frees small blocks at a high rate (tables, strings,
 * closures, the tables of every event a run receives), and it passes
 * the block's size to every free and resize. So the pool needs no block
 * headers: it keeps one free list per size class of 16 bytes up to
 * JY_POOL_MAX_SIZE and carves new blocks from chunks: 64 KiB ones
 * first, then, past 8 MiB, chunks of 2 MiB on huge pages where the
 * kernel offers them. Memory of freed blocks stays in the pool for
 * reuse until jy_pool_release.
 */
#ifndef JOURNEY_BINDINGS_SMALL_POOL_H
#define JOURNEY_BINDINGS_SMALL_POOL_H

#include <stddef.h>

/* Large enough for a coroutine's stack, 720 bytes as lua_newthread
 * makes it, which a replay allocates for every run it starts. */
#define JY_POOL_MAX_SIZE 1024
#define JY_POOL_CLASSES (JY_POOL_MAX_SIZE / 16)

typedef struct jy_pool_chunk jy_pool_chunk;

typedef struct jy_pool {
    void *free_lists[JY_POOL_CLASSES]; /* freed blocks, linked through their first word */
    char *next;                        /* uncarved space of the current chunk */
    char *end;
    jy_pool_chunk *chunks;             /* every chunk, for jy_pool_release */
    size_t chunk_bytes;                /* the total size of all chunks */
} jy_pool;

/* Returns a block of size bytes (1 to JY_POOL_MAX_SIZE), or NULL when
 * out of memory. */
void *jy_pool_alloc(jy_pool *pool, size_t size);

/* Returns a block from jy_pool_alloc of the same size to the pool. */
void jy_pool_free(jy_pool *pool, void *block, size_t size);

/* Returns whether blocks of the two sizes share a size class, so that a
 * resize between them can keep the block. */
int jy_pool_same_class(size_t a, size_t b);

/* Frees every chunk; the pool is empty and usable again afterwards. */
void jy_pool_release(jy_pool *pool);

#endif
