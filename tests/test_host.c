/*
 * The scheduler with the real Lua runtime: waking by (user, name),
 * deadline order, events before deadlines, duplicates, and a host with
 * a hundred thousand waiting runs.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "lua_fixture.h"

#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */


static uint64_t count_status(jy_host *host, jy_run_status status)
{
    uint64_t n = 0;
    for (uint64_t id = 1; id < host->next_run_id; id++) {
        jy_run *run = jy_host_run(host, id);
        if (run != NULL && run->status == status)
            n++;
    }
    return n;
}


static void host_wakes_only_the_users_run(void)
{
    fixture f;
    jy_error err;
    fixture_open(&f, T0);
    CHECK_INT_EQ(fixture_define(&f,
        "local journey = require 'journey'\n"
        "journey.define{ name = 'w', on = 'a/start', run = function(j)\n"
        "  local e = j.wait_for('a/done', {timeout = '1h'})\n"
        "  return {result = e and 'done' or 'timeout'}\n"
        "end }\n", &err), 0);

    fixture_ingest(&f, "{\"user\":\"u1\",\"name\":\"a/start\"}");
    fixture_ingest(&f, "{\"user\":\"u2\",\"name\":\"a/start\"}");
    fixture_ingest(&f, "{\"user\":\"u1\",\"name\":\"a/done\"}");

    CHECK_INT_EQ(jy_host_run(f.lh->host, 1)->status, JY_RUN_COMPLETED);
    CHECK_INT_EQ(jy_host_run(f.lh->host, 2)->status, JY_RUN_WAITING);
    CHECK_STR_EQ(jy_host_run(f.lh->host, 1)->result_json, "{\"result\":\"done\"}");

    jy_host_advance_to(f.lh->host, T0 + 3600 * 1000);
    CHECK_INT_EQ(jy_host_run(f.lh->host, 2)->status, JY_RUN_COMPLETED);
    CHECK_STR_EQ(jy_host_run(f.lh->host, 2)->result_json, "{\"result\":\"timeout\"}");
    CHECK_INT_EQ(f.lh->host->deadlines.count, 0);
    fixture_close(&f);
}


static void host_fires_equal_deadlines_in_order(void)
{
    fixture f;
    jy_error err;
    fixture_open(&f, T0);
    CHECK_INT_EQ(fixture_define(&f,
        "local journey = require 'journey'\n"
        "order = {}\n"
        "journey.define{ name = 's', on = 'go', key = false, run = function(j, e)\n"
        "  j.sleep(e.data.wait)\n"
        "  order[#order + 1] = e.data.n\n"
        "end }\n", &err), 0);

    fixture_ingest(&f, "{\"user\":\"u\",\"name\":\"go\",\"data\":{\"n\":1,\"wait\":\"2h\"}}");
    fixture_ingest(&f, "{\"user\":\"u\",\"name\":\"go\",\"data\":{\"n\":2,\"wait\":\"1h\"}}");
    fixture_ingest(&f, "{\"user\":\"u\",\"name\":\"go\",\"data\":{\"n\":3,\"wait\":\"2h\"}}");
    fixture_ingest(&f, "{\"user\":\"u\",\"name\":\"go\",\"data\":{\"n\":4,\"wait\":\"1h\"}}");
    jy_host_advance_to(f.lh->host, T0 + 2 * 3600 * 1000);

    CHECK_INT_EQ(luaL_dostring(f.L, "return table.concat(order, ',')"), LUA_OK);
    CHECK_STR_EQ(lua_tostring(f.L, -1), "2,4,1,3");
    lua_pop(f.L, 1);
    fixture_close(&f);
}


static void host_applies_event_before_deadline(void)
{
    fixture f;
    jy_error err;
    fixture_open(&f, T0);
    CHECK_INT_EQ(fixture_define(&f,
        "local journey = require 'journey'\n"
        "journey.define{ name = 'w', on = 'start', run = function(j)\n"
        "  local e = j.wait_for('done', {timeout = 60})\n"
        "  return {result = e ~= nil}\n"
        "end }\n", &err), 0);

    fixture_ingest(&f, "{\"user\":\"u\",\"name\":\"start\",\"ts\":1704067200000}");
    /* Exactly at the deadline: the event wins. */
    fixture_ingest(&f, "{\"user\":\"u\",\"name\":\"done\",\"ts\":1704067260000}");
    CHECK_STR_EQ(jy_host_run(f.lh->host, 1)->result_json, "{\"result\":true}");
    fixture_close(&f);
}


static void host_ignores_duplicate_event_ids(void)
{
    fixture f;
    jy_error err;
    fixture_open(&f, T0);
    CHECK_INT_EQ(fixture_define(&f,
        "local journey = require 'journey'\n"
        "journey.define{ name = 'n', on = 'ping', key = false, run = function(j) end }\n",
        &err), 0);

    CHECK_INT_EQ(fixture_ingest(&f, "{\"id\":\"p1\",\"user\":\"a\",\"name\":\"ping\"}"), 0);
    CHECK_INT_EQ(fixture_ingest(&f, "{\"id\":\"p1\",\"user\":\"a\",\"name\":\"ping\"}"), JY_EEXIST);
    CHECK_INT_EQ(fixture_ingest(&f, "{\"id\":\"p1\",\"user\":\"b\",\"name\":\"ping\"}"), 0);
    CHECK_INT_EQ(f.lh->host->stats.runs_started, 2);
    CHECK_INT_EQ(f.lh->host->stats.events_duplicate, 1);
    fixture_close(&f);
}


static void host_releases_every_ref_of_ended_runs(void)
{
    fixture f;
    jy_error err;
    fixture_open(&f, T0);
    CHECK_INT_EQ(fixture_define(&f,
        "local journey = require 'journey'\n"
        "journey.define{ name = 'r', on = 'go', cancel_on = 'stop', run = function(j)\n"
        "  j.wait_for('never', {timeout = '1d', match = {x = 1}})\n"
        "end }\n", &err), 0);

    fixture_ingest(&f, "{\"user\":\"a\",\"name\":\"go\"}");
    fixture_ingest(&f, "{\"user\":\"b\",\"name\":\"go\"}");
    fixture_ingest(&f, "{\"user\":\"c\",\"name\":\"go\"}");
    /* thread and match of three waiting runs, plus the journey */
    CHECK_INT_EQ(f.lh->refs, 7);
    fixture_ingest(&f, "{\"user\":\"a\",\"name\":\"stop\"}");
    jy_host_advance_to(f.lh->host, T0 + 86400000);
    CHECK_INT_EQ(count_status(f.lh->host, JY_RUN_CANCELLED), 1);
    CHECK_INT_EQ(count_status(f.lh->host, JY_RUN_COMPLETED), 2);
    CHECK_INT_EQ(f.lh->refs, 1);
    CHECK_INT_EQ(lua_gettop(f.lh->L), 0);
    fixture_close(&f);
}


static void host_wakes_100k_waiting_runs(void)
{
    fixture f;
    jy_error err;
    char line[256];
    enum { N = 100000 };

    fixture_open(&f, T0);
    CHECK_INT_EQ(fixture_define(&f,
        "local journey = require 'journey'\n"
        "journey.define{ name = 'w1', on = 'app/signed_up', run = function(j, e)\n"
        "  local created = j.wait_for('app/account.created',\n"
        "                             {match = {email = e.data.email}, timeout = '1h'})\n"
        "  return {result = created ~= nil}\n"
        "end }\n", &err), 0);

    for (int i = 0; i < N; i++) {
        snprintf(line, sizeof line,
                 "{\"user\":\"u%d\",\"name\":\"app/signed_up\",\"data\":{\"email\":\"u%d@example.test\"}}",
                 i, i);
        fixture_ingest(&f, line);
    }
    CHECK_INT_EQ(count_status(f.lh->host, JY_RUN_WAITING), N);
    CHECK_INT_EQ(f.lh->host->waits.count, N);

    for (int i = 0; i < N; i++) {
        snprintf(line, sizeof line,
                 "{\"user\":\"u%d\",\"name\":\"app/account.created\",\"data\":{\"email\":\"u%d@example.test\"}}",
                 i, i);
        fixture_ingest(&f, line);
    }
    CHECK_INT_EQ(count_status(f.lh->host, JY_RUN_COMPLETED), N);
    CHECK_INT_EQ(f.lh->host->waits.count, 0);
    CHECK_INT_EQ(f.lh->host->deadlines.count, 0);
    CHECK_INT_EQ(f.lh->refs, 1);
    fixture_close(&f);
}


int main(void)
{
    host_wakes_only_the_users_run();
    host_fires_equal_deadlines_in_order();
    host_applies_event_before_deadline();
    host_ignores_duplicate_event_ids();
    host_releases_every_ref_of_ended_runs();
    host_wakes_100k_waiting_runs();
    return check_summary("test_host");
}
