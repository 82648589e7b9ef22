/*
 * The file store as the backend of a libjourney host: a run waits, the
 * host closes without the run ending, a new host on the same file
 * replays it, and the event it waits for completes it. The backend is
 * handed over as a journey_store, as an embedder would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journey.h"

#include "check.h"
#include "file_store.h"

static const char script[] =
    "local journey = require 'journey'\n"
    "journey.define{ name = 'activation', on = 'app/signed_up', run = function(j)\n"
    "  local done = j.wait_for('app/activated', {timeout = '1h'})\n"
    "  j.call('finished', {activated = done ~= nil})\n"
    "end }\n";

static int acks;
static int finished;


static void on_ack(void *ctx, int status, uint64_t seq)
{
    (void)ctx;
    (void)seq;
    if (status == JOURNEY_OK)
        acks++;
}


static void on_finished(void *ctx, journey_call *call, const char *args_json)
{
    (void)ctx;
    CHECK_CONTAINS(args_json, "\"activated\":true");
    finished++;
    journey_call_done(call, NULL, NULL);
}


static journey_host *open_host(uv_loop_t *loop, const char *store_path, const char *script_path)
{
    jy_error err;
    jy_error_clear(&err);
    jy_store *store = jy_file_store_open(store_path, &err);
    CHECK(store != NULL);
    if (store == NULL) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }

    journey_config config;
    journey_config_init(&config);
    config.loop = loop;
    config.store_backend = (journey_store *)store;
    journey_host *host = NULL;
    char error[256];
    CHECK_INT_EQ(journey_host_new(&config, &host, error, sizeof error), JOURNEY_OK);
    CHECK_INT_EQ(journey_load(host, script_path), JOURNEY_OK);
    CHECK_INT_EQ(journey_register_action(host, "finished", on_finished, NULL), JOURNEY_OK);
    CHECK_INT_EQ(journey_start(host), JOURNEY_OK);
    return host;
}


int main(void)
{
    char dir[] = "/tmp/journey-file-host-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char script_path[256], store_path[256];
    snprintf(script_path, sizeof script_path, "%s/activation.lua", dir);
    snprintf(store_path, sizeof store_path, "%s/store.log", dir);
    FILE *f = fopen(script_path, "w");
    fputs(script, f);
    fclose(f);

    uv_loop_t loop;
    uv_loop_init(&loop);

    journey_host *host = open_host(&loop, store_path, script_path);
    const char *signup = "{\"id\":\"s1\",\"user\":\"ada\",\"name\":\"app/signed_up\"}";
    CHECK_INT_EQ(journey_ingest(host, signup, strlen(signup), on_ack, NULL), JOURNEY_OK);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(acks, 1);
    CHECK_INT_EQ(journey_live_runs(host), 1);
    journey_host_close(host, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);

    /* A new host on the same file: the run is replayed and waits again. */
    host = open_host(&loop, store_path, script_path);
    CHECK_INT_EQ(journey_live_runs(host), 1);
    CHECK_INT_EQ(journey_ingest(host, signup, strlen(signup), on_ack, NULL), JOURNEY_OK);
    const char *activated = "{\"id\":\"a1\",\"user\":\"ada\",\"name\":\"app/activated\"}";
    CHECK_INT_EQ(journey_ingest(host, activated, strlen(activated), on_ack, NULL), JOURNEY_OK);
    /* At least one turn, whose commit fires the ingest callbacks, even
     * when the run ended inside the ingest. */
    for (int i = 0; i < 10 && (i == 0 || journey_live_runs(host) > 0); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(acks, 2); /* the repeated signup is a duplicate */
    CHECK_INT_EQ(finished, 1);
    CHECK_INT_EQ(journey_live_runs(host), 0);
    journey_host_close(host, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);

    remove(script_path);
    remove(store_path);
    char lock[300];
    snprintf(lock, sizeof lock, "%s.lock", store_path);
    remove(lock);
    rmdir(dir);
    return check_summary("test_file_store_host");
}
