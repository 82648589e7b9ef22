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

#include "lua_host.h"

/* The hook runs every this many instructions; the budget is counted in
 * these steps. */
#define HOOK_STEP 1000


static void budget_hook(lua_State *co, lua_Debug *ar)
{
    (void)ar;
    /* Coroutines that a script creates inherit the hook but are not
     * runs; they count against nothing. */
    jy_run *run = jy_lua_current_run(co);
    if (run == NULL)
        return;

    jy_lua_host *lh = jy_lua_host_of(run);
    if (!(run->runtime_flags & JY_RUN_BUDGET_SPENT)) {
        run->budget_used += HOOK_STEP;
        if (run->budget_used <= lh->instruction_budget)
            return;
        run->runtime_flags |= JY_RUN_BUDGET_SPENT;
        lua_sethook(co, budget_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
    }
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
} capped_allocator;


static void *capped_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    capped_allocator *a = ud;

    /* For a new block, old_size holds a type tag, not a size. */
    size_t old = ptr != NULL ? old_size : 0;
    if (new_size == 0) {
        free(ptr);
        a->used -= old;
        return NULL;
    }
    if (new_size > old && a->used - old + new_size > a->cap)
        return NULL;
    void *grown = realloc(ptr, new_size);
    if (grown != NULL)
        a->used = a->used - old + new_size;
    return grown;
}


static int panic(lua_State *L)
{
    /* Only reached for an error outside any protected call, which the
     * bindings avoid; there is nothing left to do but stop. */
    (void)L;
    abort();
}


lua_State *jy_lua_new_state(size_t memory_cap)
{
    capped_allocator *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->cap = memory_cap;

    lua_State *L = lua_newstate(capped_alloc, a);
    if (L == NULL) {
        free(a);
        return NULL;
    }
    lua_atpanic(L, panic);
    return L;
}


void jy_lua_close_state(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    lua_close(L);
    free(ud);
}
