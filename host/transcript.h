/*
 * The transcript: one readable line per thing a journey did, built from
 * the host's traces. `journey simulate` prints it and specs read it.
 */
#ifndef JOURNEY_HOST_TRANSCRIPT_H
#define JOURNEY_HOST_TRANSCRIPT_H

#include "buffer.h"
#include "host.h"

/* Appends the transcript line of trace to buf, without a newline, and
 * returns 1; returns 0 and appends nothing for traces the transcript
 * leaves out (ingested events unless with_events, duplicates). Line
 * shape: "<time>  <journey> #<run> <user>  <what happened>". */
int jy_transcript_line(jy_buf *buf, const jy_trace *trace, int with_events);

#endif
