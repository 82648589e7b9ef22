/*
 * A host's reports about itself: counters, the loaded journeys with
 * their runs, the metrics in the Prometheus text format, and traces as
 * transcript lines.
 */
#include "host_private.h"

#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "json_scan.h"
#include "transcript.h"


const double *journey_wake_bucket_bounds(void)
{
    return jy_wake_bucket_bounds;
}


void journey_get_stats(const journey_host *host, journey_stats *stats)
{
    ON_LOOP_THREAD(host);
    const jy_host *core = host->lh->host;
    const jy_host_stats *now = &core->stats;
    const jy_host_stats *earlier = &host->earlier;

    *stats = host->counters;
    stats->events_ingested = earlier->events_ingested + now->events_ingested;
    stats->events_duplicate = earlier->events_duplicate + now->events_duplicate;
    stats->events_emitted = earlier->events_emitted + now->events_emitted;
    stats->runs_started = earlier->runs_started + now->runs_started;
    stats->runs_completed = earlier->runs_completed + now->runs_completed;
    stats->runs_failed = earlier->runs_failed + now->runs_failed;
    stats->runs_cancelled = earlier->runs_cancelled + now->runs_cancelled;
    stats->runs_live = now->runs_live;
    stats->runs_evicted = now->runs_evicted;
    stats->runs_parked = now->runs_parked;
    stats->evictions = earlier->evictions + now->evictions;
    stats->rebuilds = earlier->rebuilds + now->rebuilds;
    stats->waits = core->waits.count;
    stats->deadlines = core->deadlines.count;
    stats->wake_seconds_sum = earlier->wake_seconds_sum + now->wake_seconds_sum;
    for (size_t b = 0; b <= JOURNEY_WAKE_BUCKETS; b++)
        stats->wake_buckets[b] = earlier->wake_buckets[b] + now->wake_buckets[b];
}


typedef struct live_tally {
    const jy_host *core;
    journey_journey_info *infos;
} live_tally;


static void tally_run(jy_run *run, void *ctx)
{
    live_tally *tally = ctx;
    if (!jy_run_status_is_live(run->status))
        return;
    for (size_t i = 0; i < tally->core->journey_count; i++) {
        if (tally->core->journeys[i] != run->journey)
            continue;
        journey_journey_info *info = &tally->infos[i];
        if (run->status == JY_RUN_WAITING)
            info->waiting++;
        else if (run->status == JY_RUN_SLEEPING)
            info->sleeping++;
        else
            info->running++;
        return;
    }
}


int journey_journeys(const journey_host *host, journey_journey_info **infos, size_t *count)
{
    ON_LOOP_THREAD(host);
    const jy_host *core = host->lh->host;
    *infos = NULL;
    *count = 0;

    journey_journey_info *out = calloc(core->journey_count > 0 ? core->journey_count : 1,
                                       sizeof *out);
    if (out == NULL)
        return JOURNEY_ENOMEM;
    for (size_t i = 0; i < core->journey_count; i++) {
        const jy_journey *journey = core->journeys[i];
        out[i].name = journey->name;
        out[i].started = journey->stats.started;
        out[i].completed = journey->stats.completed;
        out[i].failed = journey->stats.failed;
        out[i].cancelled = journey->stats.cancelled;
    }

    /* One pass over the runs counts the live ones of every journey,
     * recovered runs included. */
    live_tally tally = {core, out};
    jy_host_each_run(core, tally_run, &tally);
    *infos = out;
    *count = core->journey_count;
    return JOURNEY_OK;
}


static void append_counter(jy_buf *out, const char *name, const char *help, uint64_t value)
{
    jy_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                  (unsigned long long)value);
}


static void append_histogram(jy_buf *out, const char *name, const char *help,
                             const double *bounds, size_t bucket_count,
                             const uint64_t *buckets, double sum)
{
    jy_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    char number[32];
    for (size_t b = 0; b < bucket_count; b++) {
        cumulative += buckets[b];
        jy_json_format_number(number, sizeof number, bounds[b], 6);
        jy_buf_printf(out, "%s_bucket{le=\"%s\"} %llu\n", name, number,
                      (unsigned long long)cumulative);
    }
    cumulative += buckets[bucket_count];
    jy_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cumulative);
    jy_json_format_number(number, sizeof number, sum, 15);
    jy_buf_printf(out, "%s_sum %s\n%s_count %llu\n", name, number, name,
                  (unsigned long long)cumulative);
}


int journey_metrics_text(const journey_host *host, char **text)
{
    ON_LOOP_THREAD(host);
    *text = NULL;
    journey_stats stats;
    journey_get_stats(host, &stats);
    journey_journey_info *infos = NULL;
    size_t count = 0;
    if (journey_journeys(host, &infos, &count) != JOURNEY_OK)
        return JOURNEY_ENOMEM;

    jy_buf out;
    jy_buf_init(&out);
    append_counter(&out, "journey_events_ingested_total", "Events stored, emitted ones included.",
                   stats.events_ingested);
    append_counter(&out, "journey_events_duplicate_total", "Events ignored as duplicates.",
                   stats.events_duplicate);
    append_counter(&out, "journey_events_emitted_total", "Events that runs emitted.",
                   stats.events_emitted);

    jy_buf_append_str(&out, "# HELP journey_runs Live runs by journey and status.\n"
                            "# TYPE journey_runs gauge\n");
    for (size_t i = 0; i < count; i++) {
        jy_buf_printf(&out, "journey_runs{journey=\"%s\",status=\"running\"} %llu\n",
                      infos[i].name, (unsigned long long)infos[i].running);
        jy_buf_printf(&out, "journey_runs{journey=\"%s\",status=\"waiting\"} %llu\n",
                      infos[i].name, (unsigned long long)infos[i].waiting);
        jy_buf_printf(&out, "journey_runs{journey=\"%s\",status=\"sleeping\"} %llu\n",
                      infos[i].name, (unsigned long long)infos[i].sleeping);
    }
    jy_buf_append_str(&out, "# HELP journey_runs_ended_total Runs that ended since the scripts "
                            "last loaded, by journey and status.\n"
                            "# TYPE journey_runs_ended_total counter\n");
    for (size_t i = 0; i < count; i++) {
        jy_buf_printf(&out, "journey_runs_ended_total{journey=\"%s\",status=\"completed\"} "
                            "%llu\n", infos[i].name, (unsigned long long)infos[i].completed);
        jy_buf_printf(&out, "journey_runs_ended_total{journey=\"%s\",status=\"failed\"} %llu\n",
                      infos[i].name, (unsigned long long)infos[i].failed);
        jy_buf_printf(&out, "journey_runs_ended_total{journey=\"%s\",status=\"cancelled\"} "
                            "%llu\n", infos[i].name, (unsigned long long)infos[i].cancelled);
    }
    free(infos);

    jy_buf_printf(&out, "# HELP journey_waits Wait index entries: (user, event name) pairs that "
                        "live runs wait on.\n# TYPE journey_waits gauge\njourney_waits %llu\n",
                  (unsigned long long)stats.waits);
    jy_buf_printf(&out, "# HELP journey_deadlines Pending deadlines.\n"
                        "# TYPE journey_deadlines gauge\njourney_deadlines %llu\n",
                  (unsigned long long)stats.deadlines);

    jy_buf_printf(&out, "# HELP journey_runs_evicted Live runs suspended without a coroutine, "
                        "past the resident limit.\n# TYPE journey_runs_evicted gauge\n"
                        "journey_runs_evicted %llu\n",
                  (unsigned long long)stats.runs_evicted);
    jy_buf_printf(&out, "# HELP journey_runs_parked Live runs whose replay failed or diverged, "
                        "kept as stored until a reload replays them.\n"
                        "# TYPE journey_runs_parked gauge\njourney_runs_parked %llu\n",
                  (unsigned long long)stats.runs_parked);
    append_counter(&out, "journey_evictions_total", "Coroutines of suspended runs dropped past "
                   "the resident limit.", stats.evictions);
    append_counter(&out, "journey_rebuilds_total", "Coroutines rebuilt by replay when an "
                   "evicted run woke.", stats.rebuilds);

    append_histogram(&out, "journey_commit_seconds", "Duration of group commits.",
                     journey_commit_bucket_bounds(), JOURNEY_COMMIT_BUCKETS,
                     stats.commit_buckets, stats.commit_seconds_sum);
    append_histogram(&out, "journey_wake_seconds", "Time from an event reaching the host to a "
                     "waiting run it woke resuming.", jy_wake_bucket_bounds,
                     JOURNEY_WAKE_BUCKETS, stats.wake_buckets, stats.wake_seconds_sum);

    jy_buf_append_str(&out, "# HELP journey_script_reloads_total Script reloads, by result.\n"
                            "# TYPE journey_script_reloads_total counter\n");
    jy_buf_printf(&out, "journey_script_reloads_total{result=\"loaded\"} %llu\n",
                  (unsigned long long)stats.reloads);
    jy_buf_printf(&out, "journey_script_reloads_total{result=\"failed\"} %llu\n",
                  (unsigned long long)stats.reload_failures);

    *text = jy_buf_take(&out);
    return *text != NULL ? JOURNEY_OK : JOURNEY_ENOMEM;
}


int journey_trace_text(const journey_trace *trace, int with_events, char **line)
{
    *line = NULL;
    jy_buf buf;
    jy_buf_init(&buf);
    if (!jy_transcript_line(&buf, (const jy_trace *)trace, with_events)) {
        jy_buf_free(&buf);
        return JOURNEY_ENOTFOUND;
    }
    *line = jy_buf_take(&buf);
    return *line != NULL ? JOURNEY_OK : JOURNEY_ENOMEM;
}
