/*
 * j.wait_for and j.events: finding a user's events by name, match and
 * time window, and suspending a run until one arrives or a deadline.
 *
 * wait_for looks at the past first: an event that arrived between the
 * trigger and the call (or further back with `since`) satisfies it at
 * once. Each event reaches a run through wait_for at most once, so a
 * loop of waits walks forward through the events. A run never receives
 * its own emits. j.events never consumes and lists emits too.
 */
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "lua_host.h"

#define MAX_WAIT_NAMES 32

typedef struct wait_args {
    const char *names[MAX_WAIT_NAMES];
    size_t name_count;
    char journal_name[512]; /* names joined by ",", the journal's step name */
    int match_idx;          /* 0 when there is no match */
    uint64_t since_seq;     /* events from this sequence number on */
    jy_time since_ts;       /* and at or after this time */
} wait_args;


/* Reads arg 1 (a name or a list of names) and the options table at
 * opts_idx. [-0, +0, v] */
static void check_wait_args(lua_State *L, jy_run *run, const char *function,
                            int opts_idx, wait_args *args)
{
    memset(args, 0, sizeof *args);

    if (lua_type(L, 1) == LUA_TSTRING) {
        args->names[0] = lua_tostring(L, 1);
        args->name_count = 1;
    } else if (lua_type(L, 1) == LUA_TTABLE) {
        size_t n = lua_rawlen(L, 1);
        if (n == 0 || n > MAX_WAIT_NAMES)
            luaL_error(L, "%s: give between 1 and %d event names, got %d", function,
                       MAX_WAIT_NAMES, (int)n);
        for (size_t i = 0; i < n; i++) {
            /* The list stays referenced at index 1, so its strings do too. */
            if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TSTRING)
                luaL_error(L, "%s: event name %d must be a string, got %s", function,
                           (int)i + 1, luaL_typename(L, -1));
            args->names[i] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        args->name_count = n;
    } else {
        luaL_error(L, "%s: the first argument must be an event name or a list of names, got %s",
                   function, luaL_typename(L, 1));
    }

    for (size_t i = 0; i < args->name_count; i++) {
        if (args->names[i][0] == '\0')
            luaL_error(L, "%s: event name %d is empty; give the name of the event to wait for",
                       function, (int)i + 1);
        if (strchr(args->names[i], '*') != NULL)
            luaL_error(L, "%s: invalid event name \"%s\": waits take exact names, not "
                          "patterns; list the names instead", function, args->names[i]);
    }

    size_t used = 0;
    for (size_t i = 0; i < args->name_count; i++) {
        size_t n = strlen(args->names[i]);
        /* The name, a comma before it unless it is the first, and the
         * terminating NUL must fit. */
        if (used + (i > 0) + n + 1 > sizeof args->journal_name)
            luaL_error(L, "%s: the event names joined with commas are longer than %d bytes; "
                       "wait for fewer or shorter names", function,
                       (int)sizeof args->journal_name - 1);
        if (i > 0)
            args->journal_name[used++] = ',';
        memcpy(args->journal_name + used, args->names[i], n + 1);
        used += n;
    }

    /* An absent argument (LUA_TNONE) counts as nil, as in j.events(name). */
    int opts_type = lua_isnoneornil(L, opts_idx) ? LUA_TNIL : lua_type(L, opts_idx);
    if (opts_type != LUA_TNIL && opts_type != LUA_TTABLE)
        luaL_error(L, "%s: the options must be a table such as {timeout = \"1d\"}, got %s",
                   function, luaL_typename(L, opts_idx));

    static const char *const wait_options[] = {"match", "timeout", "since", NULL};
    static const char *const events_options[] = {"match", "since", NULL};
    jy_lua_check_fields(L, opts_idx, function,
                        strcmp(function, "j.wait_for") == 0 ? wait_options : events_options);

    /* Default window: from the run's trigger event on. */
    args->since_seq = run->trigger_seq;
    args->since_ts = JY_TIME_MIN;
    if (opts_type != LUA_TTABLE)
        return;

    int match_type = lua_getfield(L, opts_idx, "match");
    if (match_type != LUA_TNIL && match_type != LUA_TTABLE)
        luaL_error(L, "%s: match must be a table of fields, got %s", function,
                   luaL_typename(L, -1));
    lua_pop(L, 1);
    if (match_type == LUA_TTABLE)
        args->match_idx = opts_idx; /* read as opts.match when needed */

    int since_type = lua_getfield(L, opts_idx, "since");
    if (since_type == LUA_TSTRING && strcmp(lua_tostring(L, -1), "run") == 0) {
        /* the default */
    } else if (since_type == LUA_TSTRING && strcmp(lua_tostring(L, -1), "ever") == 0) {
        args->since_seq = 0;
    } else if (since_type == LUA_TSTRING) {
        /* A duration reaches back from now; anything else must be a time. */
        size_t len = 0;
        const char *text = lua_tolstring(L, -1, &len);
        jy_duration back;
        jy_error err;
        if (jy_duration_parse(text, len, &back, &err) == 0) {
            if (back.months != 0)
                luaL_error(L, "%s: since = \"%s\": calendar months cannot reach back; use days",
                           function, text);
            args->since_seq = 0;
            args->since_ts = jy_host_now(run->host) - back.ms;
        } else {
            args->since_seq = 0;
            args->since_ts = jy_lua_check_time(L, -1, "since");
        }
    } else if (since_type == LUA_TNUMBER) {
        args->since_seq = 0;
        args->since_ts = jy_lua_check_time(L, -1, "since");
    } else if (since_type != LUA_TNIL) {
        luaL_error(L, "%s: since must be \"run\", \"ever\", a duration such as \"30d\" or a "
                      "time, got %s", function, luaL_typename(L, -1));
    }
    lua_pop(L, 1);

    /* Retention deletes events older than its window, but only when it
     * runs. Reading no further back than the window makes what a run
     * reads independent of when that was. */
    jy_time window = run->host->history_window;
    if (args->since_seq == 0 && window > 0) {
        /* Retention keeps a live run's events from its trigger on, so
         * the window never hides what the default since would see. */
        jy_time oldest = jy_host_now(run->host) - window;
        if (run->started_at < oldest)
            oldest = run->started_at;
        if (args->since_ts < oldest)
            args->since_ts = oldest;
    }
}


static int name_listed(const wait_args *args, const char *name)
{
    for (size_t i = 0; i < args->name_count; i++)
        if (strcmp(args->names[i], name) == 0)
            return 1;
    return 0;
}


typedef struct scan_ctx {
    lua_State *L;
    jy_run *run;
    const wait_args *args;
    int consume;                /* wait_for: skip received events and own emits */
    int first_only;             /* stop at the earliest match */
    jy_time until;              /* later events are left out: JY_TIME_MAX, or
                                 * the deadline of a wait restored from the
                                 * store */
    const jy_event *found;      /* earliest match (first_only) */
    int list_idx;               /* events: the result array */
    lua_Integer count;
    int prefix_taken;           /* wait_for: every event visited so far was
                                 * received or emitted by the run */
    uint64_t prefix_end;        /* the last of those */
    int named_taken;            /* the same, or has a name the wait leaves out */
    uint64_t named_end;         /* the last of those */
} scan_ctx;


/* Tests one stored event against the wait's names, window and match.
 * [-0, +0, e] */
static int scan_visit(const jy_event *event, void *data)
{
    scan_ctx *scan = data;
    lua_State *L = scan->L;

    if (scan->consume) {
        if (event->origin_run == scan->run->id || jy_host_run_received(scan->run, event->seq)) {
            if (scan->prefix_taken)
                scan->prefix_end = event->seq;
            if (scan->named_taken)
                scan->named_end = event->seq;
            return 0;
        }
        scan->prefix_taken = 0;
    }
    if (!name_listed(scan->args, event->name)) {
        if (scan->named_taken)
            scan->named_end = event->seq;
        return 0;
    }
    scan->named_taken = 0;
    if (event->ts < scan->args->since_ts || event->ts > scan->until)
        return 0;

    int matched = 1;
    if (scan->args->match_idx != 0) {
        lua_getfield(L, scan->args->match_idx, "match");   /* stack: match */
        jy_lua_json_decode(L, event->data_json);           /* stack: match, data */
        matched = jy_lua_match(L, -2, -1);
        lua_pop(L, 2);
    }
    if (!matched)
        return 0;

    if (scan->first_only) {
        /* Earliest by ts; among equal ts, the one stored first. */
        if (scan->found == NULL || event->ts < scan->found->ts)
            scan->found = event;
        return 0;
    }

    jy_lua_push_event(L, event);
    lua_rawseti(L, scan->list_idx, ++scan->count);
    jy_host_note_reference(scan->run, event->seq);
    return 0;
}


/* Whether floor was set by a wait with exactly the names of args, in
 * the same order. */
static int same_name_list(const jy_named_floor *floor, const wait_args *args)
{
    const char *name = floor->names;

    if (floor->name_count != args->name_count)
        return 0;
    for (size_t i = 0; i < args->name_count; i++) {
        if (strcmp(name, args->names[i]) != 0)
            return 0;
        name += strlen(name) + 1;
    }
    return 1;
}


/* Returns a floor at seq for the names of args, or NULL when out of
 * memory. */
static jy_named_floor *new_named_floor(const wait_args *args, uint64_t seq)
{
    size_t size = 0;

    for (size_t i = 0; i < args->name_count; i++)
        size += strlen(args->names[i]) + 1;
    jy_named_floor *floor = malloc(sizeof *floor + size);
    if (floor == NULL)
        return NULL;
    floor->seq = seq;
    floor->name_count = args->name_count;
    char *cursor = floor->names;
    for (size_t i = 0; i < args->name_count; i++) {
        size_t n = strlen(args->names[i]) + 1;
        memcpy(cursor, args->names[i], n);
        cursor += n;
    }
    return floor;
}


/* Visits the run's user's events from the wait's since_seq on. A
 * wait_for never takes an event the run received or emitted, and a run
 * that waits in a loop has received nearly every event of its user. So
 * the run keeps scan_floor, the end of the longest stretch of such
 * events from its trigger on, and a wait_for starts after it. Otherwise
 * each wait of the loop would visit all earlier ones again.
 *
 * Other runs' emits to the same user end that stretch, such as a review
 * request emitted for each order that a win-back loop waits on. For a
 * wait with the default window, the run also keeps a floor that skips
 * the events whose names the wait leaves out, valid for the waits with
 * the same list of names. */
static void scan_events(jy_run *run, scan_ctx *scan)
{
    jy_store *store = run->host->store;
    const wait_args *args = scan->args;
    uint64_t from = args->since_seq;
    uint64_t covered_from = run->scan_floor > 0 ? run->scan_floor + 1 : run->trigger_seq;

    if (scan->consume && from >= run->trigger_seq && from <= run->scan_floor)
        from = run->scan_floor + 1;

    /* The named floor covers the stretch of scan_floor as well. */
    int default_window = scan->consume && args->since_seq == run->trigger_seq &&
                         args->since_ts == JY_TIME_MIN;
    jy_named_floor *floor = run->named_floor;
    int same_names = default_window && floor != NULL && same_name_list(floor, args);
    uint64_t named_covered_from = covered_from;
    if (same_names && floor->seq + 1 > named_covered_from)
        named_covered_from = floor->seq + 1;
    if (same_names && floor->seq >= from)
        from = floor->seq + 1;

    scan->prefix_taken = scan->consume && from <= covered_from;
    scan->prefix_end = 0;
    scan->named_taken = default_window && from <= named_covered_from;
    scan->named_end = 0;

    store->ops->event_scan(store, run->user, from, scan_visit, scan);

    if (scan->prefix_end > run->scan_floor)
        run->scan_floor = scan->prefix_end;
    if (scan->named_end <= run->scan_floor)
        return;
    if (same_names) {
        if (scan->named_end > floor->seq)
            floor->seq = scan->named_end;
        return;
    }
    /* Without memory for a new floor, the waits only skip less. */
    floor = new_named_floor(args, scan->named_end);
    if (floor == NULL)
        return;
    free(run->named_floor);
    run->named_floor = floor;
}


/* Reads the seq out of a journaled {"event":N}, 0 for null. */
static uint64_t journaled_seq(const char *json)
{
    const char *p = strstr(json, "\"event\":");
    return p != NULL ? strtoull(p + 8, NULL, 10) : 0;
}


/* Journals what woke a wait_for, marks it received and leaves it (or
 * nil) on the stack as the result. [-0, +0, v] */
static void finish_wait(lua_State *L, jy_run *run, const char *journal_name,
                        const jy_event *event)
{
    char text[48] = "null";

    if (event != NULL) {
        /* Sequence numbers count from 1 and stay far below 2^63. */
        jy_json_format_integer_object(text, "event", (int64_t)event->seq);
        if (jy_host_mark_received(run, event->seq) != 0)
            luaL_error(L, "out of memory recording a received event");
    }
    jy_lua_journal(L, run, JY_STEP_WAIT_FOR, journal_name, text);
}


/* The continuation of wait_for after its run was resumed: the top of
 * the stack is the event that woke it, or nil on timeout. The journal
 * name was pushed just below it before the yield. */
static int wait_for_continue(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    jy_run *run = jy_lua_check_run(L, "j.wait_for");
    jy_lua_host *lh = jy_lua_host_of(run);

    if (run->match_ref >= 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, run->match_ref);
        lh->refs--;
        run->match_ref = -1;
    }

    const jy_event *event = NULL;
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "seq");
        event = run->host->store->ops->event_get(run->host->store,
                                                 (uint64_t)lua_tointeger(L, -1));
        lua_pop(L, 1);
    }
    finish_wait(L, run, lua_tostring(L, -2), event);
    return 1;
}


/* j.wait_for(name | {names}, {timeout =, match =, since =}): the earliest
 * matching event, or nil once the timeout passed. [-0, +1, v] */
int ljy_wait_for(lua_State *L)
{
    jy_run *run = jy_lua_check_journaled_run(L, "j.wait_for");
    wait_args args;

    if (!lua_isyieldable(L))
        return luaL_error(L, "j.wait_for cannot suspend the run here: it was called inside a "
                             "function that Lua runs from C (such as a table.sort comparator "
                             "or a string.gsub callback), and Lua cannot pause across C; "
                             "call it outside that function");

    check_wait_args(L, run, "j.wait_for", 2, &args);
    if (lua_type(L, 2) != LUA_TTABLE || lua_getfield(L, 2, "timeout") == LUA_TNIL)
        return luaL_error(L, "j.wait_for(\"%s\"): missing timeout: pass {timeout = \"1d\"} "
                             "(a duration or a number of seconds)", args.journal_name);
    jy_duration timeout = jy_lua_check_duration(L, -1, "j.wait_for timeout");
    lua_pop(L, 1);

    const jy_journal_entry *entry = jy_lua_replay(L, run, JY_STEP_WAIT_FOR, args.journal_name);
    if (entry != NULL) {
        uint64_t seq = journaled_seq(entry->result_json);
        const jy_event *event = seq != 0
            ? run->host->store->ops->event_get(run->host->store, seq) : NULL;
        if (seq != 0 && event == NULL)
            return luaL_error(L, "j.wait_for: journaled event %I is no longer in the store",
                              (LUAI_UACINT)seq);
        if (event != NULL) {
            jy_host_mark_received(run, seq);
            jy_lua_push_event(L, event);
        } else {
            lua_pushnil(L);
        }
        return 1;
    }

    jy_error resume_err;
    jy_error_clear(&resume_err);
    int resume = jy_host_resume_point(run->host, run, JY_RUN_WAITING, args.journal_name,
                                      &resume_err);
    if (resume < 0)
        return jy_lua_raise(L, &resume_err);

    jy_time now = jy_host_now(run->host);
    jy_time deadline = now;
    jy_error err;
    jy_error_clear(&err);

    /* A rebuilt run's wait is registered already, and the event or the
     * timeout that ends it is on its way, so the run suspends at once.
     * Only its match is made again, replacing the one the wait held. */
    if (resume == 1) {
        if (run->match_ref >= 0) {
            luaL_unref(L, LUA_REGISTRYINDEX, run->match_ref);
            jy_lua_host_of(run)->refs--;
            run->match_ref = -1;
        }
    } else {
        /* A wait restored from the store (after a restart, or once its
         * run is no longer parked) keeps its deadline, so it cannot take
         * an event stored after that deadline passed. */
        scan_ctx scan = {.L = L, .run = run, .args = &args, .consume = 1, .first_only = 1,
                         .until = run->restore_deadline};
        scan_events(run, &scan);
        if (scan.found != NULL) {
            finish_wait(L, run, args.journal_name, scan.found);
            jy_lua_push_event(L, scan.found);
            return 1;
        }

        if (jy_time_add(now, timeout, &deadline, &err) != 0)
            return luaL_error(L, "j.wait_for timeout: %s", err.message);
        if (deadline <= now) {
            finish_wait(L, run, args.journal_name, NULL);
            lua_pushnil(L);
            return 1;
        }
    }

    int match_ref = -1;
    if (args.match_idx != 0) {
        lua_getfield(L, 2, "match");
        match_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        jy_lua_host_of(run)->refs++;
    }
    if (jy_host_wait(run->host, run, args.names, args.name_count, deadline, match_ref,
                     &err) != 0) {
        if (match_ref >= 0) {
            luaL_unref(L, LUA_REGISTRYINDEX, match_ref);
            jy_lua_host_of(run)->refs--;
        }
        return jy_lua_raise(L, &err);
    }

    /* A waiting run may wait for days, and the options table would stay
     * alive on this frame all that time: the match is held by match_ref,
     * and nothing after the resume reads the options. */
    lua_pushnil(L);
    lua_replace(L, 2);
    lua_pushstring(L, args.journal_name);
    return lua_yieldk(L, 0, 0, wait_for_continue);
}


/* j.events(name | {names}, {match =, since =}): the matching events so
 * far, oldest first, as an array. Journaled as the list of their
 * sequence numbers, so a replay returns the same array. [-0, +1, v] */
int ljy_events(lua_State *L)
{
    jy_run *run = jy_lua_check_journaled_run(L, "j.events");
    wait_args args;

    check_wait_args(L, run, "j.events", 2, &args);

    const jy_journal_entry *entry = jy_lua_replay(L, run, JY_STEP_EVENTS, args.journal_name);
    lua_newtable(L);                                    /* stack: list */
    if (entry != NULL) {
        lua_Integer n = 0;
        const char *p = strchr(entry->result_json, '[');
        while (p != NULL && *p != '\0' && *p != ']') {
            char *end = NULL;
            uint64_t seq = strtoull(p + 1, &end, 10);
            const jy_event *event = run->host->store->ops->event_get(run->host->store, seq);
            if (event != NULL) {
                jy_lua_push_event(L, event);
                lua_rawseti(L, -2, ++n);
                jy_host_note_reference(run, seq);
            }
            p = end;
        }
        return 1;
    }

    scan_ctx scan = {.L = L, .run = run, .args = &args, .list_idx = lua_gettop(L),
                     .until = JY_TIME_MAX};
    scan_events(run, &scan);

    /* The journal's list of seqs is read back from the new event tables
     * after the scan, because the scan may raise and a buffer filled
     * during it would leak. */
    jy_buf seqs;
    jy_buf_init(&seqs);
    jy_buf_append_str(&seqs, "{\"events\":[");
    for (lua_Integer i = 1; i <= scan.count; i++) {
        lua_rawgeti(L, scan.list_idx, i);                /* stack: list, event */
        lua_getfield(L, -1, "seq");                      /* stack: list, event, seq */
        jy_buf_printf(&seqs, "%s%lld", i > 1 ? "," : "", (long long)lua_tointeger(L, -1));
        lua_pop(L, 2);
    }
    jy_buf_append_str(&seqs, "]}");
    jy_lua_push_buf(L, &seqs, "journaling j.events");    /* stack: list, json */
    jy_lua_journal(L, run, JY_STEP_EVENTS, args.journal_name, lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
}
