/*
 * j.sleep and j.sleep_until: suspending a run until a deadline.
 *
 * Both are journaled steps even when they return at once (a zero
 * duration, a time already past), so a replay walks the same steps.
 */
#include "json_scan.h"
#include "lua_host.h"


/* Journals the end of a sleep. [-0, +0, v] */
static void journal_sleep(lua_State *L, jy_run *run, jy_step_kind kind, jy_time deadline)
{
    char text[64];
    jy_json_format_integer_object(text, "until", deadline);
    jy_lua_journal(L, run, kind, "", text);
}


/* Suspends run until deadline, then continues in k. */
static int suspend_until(lua_State *L, jy_run *run, jy_time deadline, lua_KFunction k)
{
    jy_error err;
    jy_error_clear(&err);

    if (jy_host_sleep(run->host, run, deadline, &err) != 0)
        return jy_lua_raise(L, &err);

    /* The continuation journals the deadline it slept until. */
    /* The host may have kept a deadline from before a restart, so the
     * continuation journals the one the timer holds. */
    lua_pushinteger(L, (lua_Integer)run->timer.deadline);
    return lua_yieldk(L, 0, 0, k);
}


/* Checks that a recovered run resumes in the sleep it was in. Returns 1
 * for a run whose coroutine is being rebuilt, because its sleep is
 * registered already and the run suspends at once, whatever the clock
 * reads now. [-0, +0, v] */
static int check_resume_point(lua_State *L, jy_run *run)
{
    jy_error err;
    jy_error_clear(&err);
    int rc = jy_host_resume_point(run->host, run, JY_RUN_SLEEPING, "", &err);
    if (rc < 0)
        jy_lua_raise(L, &err);
    return rc;
}


static void check_can_suspend(lua_State *L, const char *function)
{
    if (!lua_isyieldable(L))
        luaL_error(L, "%s cannot suspend the run here: it was called inside a function that "
                      "Lua runs from C (such as a table.sort comparator or a string.gsub "
                      "callback), and Lua cannot pause across C; call it outside that function",
                   function);
}


/* After a resume the stack is: the call's arguments, the deadline, and
 * the nil the scheduler passed. */
static int sleep_continue(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    jy_run *run = jy_lua_check_run(L, "j.sleep");

    journal_sleep(L, run, JY_STEP_SLEEP, (jy_time)lua_tointeger(L, -2));
    lua_pushvalue(L, 2);
    return 1;
}


/* j.sleep(duration [, value]): returns value after duration. [-0, +1, v] */
int ljy_sleep(lua_State *L)
{
    jy_run *run = jy_lua_check_journaled_run(L, "j.sleep");
    check_can_suspend(L, "j.sleep");
    jy_duration duration = jy_lua_check_duration(L, 1, "j.sleep duration");
    lua_settop(L, 2);

    if (jy_lua_replay(L, run, JY_STEP_SLEEP, "") != NULL) {
        lua_pushvalue(L, 2);
        return 1;
    }
    if (check_resume_point(L, run) == 1)
        return suspend_until(L, run, run->timer.deadline, sleep_continue);

    jy_time now = jy_host_now(run->host);
    jy_time deadline = now;
    jy_error err;
    jy_error_clear(&err);
    if (jy_time_add(now, duration, &deadline, &err) != 0)
        return luaL_error(L, "j.sleep duration: %s", err.message);

    if (deadline <= now) {
        journal_sleep(L, run, JY_STEP_SLEEP, now);
        lua_pushvalue(L, 2);
        return 1;
    }
    return suspend_until(L, run, deadline, sleep_continue);
}


static int sleep_until_continue(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    jy_run *run = jy_lua_check_run(L, "j.sleep_until");

    journal_sleep(L, run, JY_STEP_SLEEP_UNTIL, (jy_time)lua_tointeger(L, -2));
    return 0;
}


/* j.sleep_until(time): returns at time (epoch seconds or ISO-8601), or
 * at once when it is already past. [-0, +0, v] */
int ljy_sleep_until(lua_State *L)
{
    jy_run *run = jy_lua_check_journaled_run(L, "j.sleep_until");
    check_can_suspend(L, "j.sleep_until");
    jy_time deadline = jy_lua_check_time(L, 1, "j.sleep_until");
    lua_settop(L, 1);

    if (jy_lua_replay(L, run, JY_STEP_SLEEP_UNTIL, "") != NULL)
        return 0;
    if (check_resume_point(L, run) == 1)
        return suspend_until(L, run, run->timer.deadline, sleep_until_continue);

    jy_time now = jy_host_now(run->host);
    if (deadline <= now) {
        journal_sleep(L, run, JY_STEP_SLEEP_UNTIL, now);
        return 0;
    }
    return suspend_until(L, run, deadline, sleep_until_continue);
}
