/*
 * Formatting traces as transcript lines (see transcript.h).
 */
#include "transcript.h"

#include <string.h>

#include "timefmt.h"


static void append_run(jy_buf *buf, const jy_trace *trace)
{
    jy_buf_printf(buf, "%s #%llu %s  ", trace->journey, (unsigned long long)trace->run_id,
                  trace->user);
}


int jy_transcript_line(jy_buf *buf, const jy_trace *trace, int with_events)
{
    char when[JY_TIME_TEXT_SIZE];
    char deadline[JY_TIME_TEXT_SIZE];

    if (trace->kind == JY_TRACE_DUPLICATE)
        return 0;
    if (trace->kind == JY_TRACE_EVENT && !with_events)
        return 0;

    jy_time_format(trace->at, when);
    jy_buf_append_str(buf, when);
    jy_buf_append_str(buf, "  ");

    switch (trace->kind) {
    case JY_TRACE_EVENT:
        jy_buf_printf(buf, "event %s for %s %s", trace->event->name, trace->event->user,
                      trace->event->data_json);
        break;
    case JY_TRACE_STARTED:
        append_run(buf, trace);
        jy_buf_printf(buf, "started by %s", trace->event->name);
        break;
    case JY_TRACE_WAITING:
        append_run(buf, trace);
        jy_time_format(trace->deadline, deadline);
        jy_buf_printf(buf, "waits for %s until %s", trace->detail, deadline);
        break;
    case JY_TRACE_SLEEPING:
        append_run(buf, trace);
        jy_time_format(trace->deadline, deadline);
        jy_buf_printf(buf, "sleeps until %s", deadline);
        break;
    case JY_TRACE_WOKEN:
        append_run(buf, trace);
        if (trace->event != NULL)
            jy_buf_printf(buf, "woken by %s", trace->event->name);
        else if (trace->run_status == JY_RUN_WAITING)
            jy_buf_append_str(buf, "wait timed out");
        else
            jy_buf_append_str(buf, "woke up");
        break;
    case JY_TRACE_EMITTED:
        append_run(buf, trace);
        jy_buf_printf(buf, "emits %s", trace->event->name);
        if (trace->event->user != NULL && trace->user != NULL &&
            strcmp(trace->event->user, trace->user) != 0)
            jy_buf_printf(buf, " for %s", trace->event->user);
        jy_buf_printf(buf, " %s", trace->event->data_json);
        break;
    case JY_TRACE_COMPLETED:
        append_run(buf, trace);
        jy_buf_printf(buf, "completed %s", trace->detail != NULL ? trace->detail : "null");
        break;
    case JY_TRACE_FAILED: {
        append_run(buf, trace);
        /* The first line carries "file:line: message"; the traceback
         * stays in the run's stored error. */
        const char *error = trace->detail != NULL ? trace->detail : "";
        const char *newline = strchr(error, '\n');
        jy_buf_append_str(buf, "failed: ");
        jy_buf_append(buf, error, newline != NULL ? (size_t)(newline - error) : strlen(error));
        break;
    }
    case JY_TRACE_CANCELLED:
        append_run(buf, trace);
        jy_buf_printf(buf, "cancelled by %s", trace->event != NULL ? trace->event->name : "the host");
        break;
    case JY_TRACE_LOG:
        append_run(buf, trace);
        jy_buf_printf(buf, "log: %s", trace->detail != NULL ? trace->detail : "");
        break;
    case JY_TRACE_DUPLICATE:
        return 0;
    }
    return 1;
}
