/*
 * Guards a script cannot swallow: the instruction budget between two
 * suspensions of a run, and the memory cap of a Lua state.
 *
 * The budget uses a count hook on each run's coroutine. A run that
 * spends its budget without waiting raises an error; from then on the
 * hook fires on every line and raises again, so a pcall in the script
 * cannot keep the run going. The memory cap lives in the allocator, so
 * an allocation past it fails like any out-of-memory, which fails the
 * run that asked for it.
 */
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"
#include "small_pool.h"

/* The hook runs every this many instructions; the budget is counted in
 * these steps. */
#define HOOK_STEP 1000


static void budget_hook(lua_State *co, lua_Debug *ar)
{
    (void)ar;
    /* Coroutines that a script creates inherit the hook but are not
     * runs. Their instructions count against the run that resumes them,
     * or nothing outside runs (a script's top level). */
    jy_run *run = jy_lua_current_run(co);
    if (run == NULL)
        run = jy_lua_resumed_run();
    if (run == NULL)
        return;

    jy_lua_host *lh = jy_lua_host_of(run);
    if (!(run->runtime_flags & JY_RUN_BUDGET_SPENT)) {
        run->budget_used += HOOK_STEP;
        if (run->budget_used <= lh->instruction_budget)
            return;
        run->runtime_flags |= JY_RUN_BUDGET_SPENT;
    }
    /* From then on every line raises, in each coroutine of the run that
     * goes on running. */
    lua_sethook(co, budget_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
    luaL_error(co, "run exceeded its instruction budget of %I instructions without waiting "
                   "or sleeping; look for a loop that never calls j.wait_for or j.sleep",
               (LUAI_UACINT)lh->instruction_budget);
}


void jy_lua_budget_attach(lua_State *co, jy_run *run)
{
    (void)run;
    lua_sethook(co, budget_hook, LUA_MASKCOUNT, HOOK_STEP);
}


void jy_lua_budget_reset(jy_run *run)
{
    run->budget_used = 0;
}


typedef struct capped_allocator {
    size_t used;
    size_t cap;
    int pooled;   /* nonzero when blocks up to JY_POOL_MAX_SIZE come from pool */
    int failed;   /* an allocation failed since jy_lua_take_memory_failure */
    jy_pool pool;
} capped_allocator;


static int in_pool(const capped_allocator *a, size_t size)
{
    return a->pooled && size <= JY_POOL_MAX_SIZE;
}


/* Allocates, resizes or frees a block as lua_Alloc does, from the pool
 * or from malloc by the block's size. */
static void *place(capped_allocator *a, void *ptr, size_t old, size_t new_size)
{
    if (new_size == 0) {
        if (ptr == NULL)
            return NULL;
        if (in_pool(a, old))
            jy_pool_free(&a->pool, ptr, old);
        else
            free(ptr);
        return NULL;
    }
    if (ptr == NULL)
        return in_pool(a, new_size) ? jy_pool_alloc(&a->pool, new_size) : malloc(new_size);
    if (!in_pool(a, old) && !in_pool(a, new_size))
        return realloc(ptr, new_size);
    if (in_pool(a, old) && in_pool(a, new_size) && jy_pool_same_class(old, new_size))
        return ptr;

    /* A move between the pool and malloc, or between size classes. */
    void *moved = in_pool(a, new_size) ? jy_pool_alloc(&a->pool, new_size) : malloc(new_size);
    if (moved == NULL)
        return NULL;
    memcpy(moved, ptr, old < new_size ? old : new_size);
    if (in_pool(a, old))
        jy_pool_free(&a->pool, ptr, old);
    else
        free(ptr);
    return moved;
}


static void *capped_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    capped_allocator *a = ud;
    /* For a new block, old_size holds a type tag, not a size. */
    size_t old = ptr != NULL ? old_size : 0;

    if (new_size > old && a->used - old + new_size > a->cap) {
        a->failed = 1;
        return NULL;
    }
    void *block = place(a, ptr, old, new_size);
    if (block != NULL || new_size == 0)
        a->used = a->used - old + new_size;
    else
        a->failed = 1;
    return block;
}


static int panic(lua_State *L)
{
    /* Only reached for an error outside any protected call, which the
     * bindings avoid; there is nothing left to do but stop. */
    (void)L;
    abort();
}


static lua_State *new_state(size_t memory_cap, int pooled)
{
    capped_allocator *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->cap = memory_cap;
    a->pooled = pooled;

    lua_State *L = lua_newstate(capped_alloc, a);
    if (L == NULL) {
        free(a);
        return NULL;
    }
    lua_atpanic(L, panic);

    /* Every thread starts with a copy of the main thread's extra space,
     * so with it cleared here, a thread that is no run's coroutine contains
     * NULL there (see jy_lua_current_run). */
    *(void **)lua_getextraspace(L) = NULL;
    return L;
}


_Static_assert(LUA_EXTRASPACE >= sizeof(void *),
               "a thread's extra space must hold the pointer to its run");


int jy_lua_take_memory_failure(lua_State *L)
{
    void *ud = NULL;
    if (lua_getallocf(L, &ud) != capped_alloc)
        return 0;
    capped_allocator *a = ud;
    int failed = a->failed;
    a->failed = 0;
    return failed;
}


int jy_lua_state_is_ours(lua_State *L)
{
    return lua_getallocf(L, NULL) == capped_alloc;
}


lua_State *jy_lua_new_state(size_t memory_cap)
{
    return new_state(memory_cap, 0);
}


lua_State *jy_lua_new_batch_state(size_t memory_cap)
{
    /* Sanitizer builds keep every block in malloc, where AddressSanitizer
     * can check its use. */
#if defined(__SANITIZE_ADDRESS__)
    return new_state(memory_cap, 0);
#else
    return new_state(memory_cap, 1);
#endif
}


void jy_lua_close_state(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    lua_close(L);

    capped_allocator *a = ud;
    jy_pool_release(&a->pool);
    free(a);
}
