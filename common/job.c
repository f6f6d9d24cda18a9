#include "common/job.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

static const char *const state_names[JOB_STATE_MAX] = {
    [JOB_QUEUED] = "queued",       [JOB_RUNNING] = "running", [JOB_SUCCEEDED] = "succeeded",
    [JOB_FAILED] = "failed",       [JOB_CANCELLED] = "cancelled",
};

void eq_job_init(eq_job *j) {
    memset(j, 0, sizeof *j);
}

void eq_job_fini(eq_job *j) {
    free(j->params);
    free(j->error_code);
    free(j->error_message);
    free(j->worker);
    free(j->idem_key);
    free(j->batch_id);
    free(j->schedule);
    free(j->webhook_url);
    free(j->webhook_secret);
    memset(j, 0, sizeof *j);
}

const char *job_state_name(int state) {
    if (state <= 0 || state >= JOB_STATE_MAX)
        return "unknown";
    return state_names[state];
}

int job_state_parse(const char *name) {
    for (int i = 1; i < JOB_STATE_MAX; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return 0;
}

int job_state_terminal(int state) {
    return state == JOB_SUCCEEDED || state == JOB_FAILED || state == JOB_CANCELLED;
}

static void put_time(eq_buf *b, const char *key, int64_t ms) {
    char ts[32];
    eq_buf_printf(b, ",\"%s\":", key);
    if (ms <= 0) {
        eq_buf_puts(b, "null");
        return;
    }
    eq_time_format(ms, ts, sizeof ts);
    eq_buf_json_str(b, ts);
}

void eq_job_to_json(const eq_job *j, const char *result_json, eq_buf *b) {
    eq_buf_puts(b, "{\"id\":");
    eq_buf_json_str(b, j->id);
    eq_buf_puts(b, ",\"type\":");
    eq_buf_json_str(b, j->type);
    eq_buf_puts(b, ",\"state\":");
    eq_buf_json_str(b, job_state_name(j->state));
    eq_buf_printf(b, ",\"priority\":%u,\"attempt\":%u,\"max_attempts\":%u", j->priority,
                  j->attempt, j->max_attempts);
    eq_buf_printf(b, ",\"cached\":%s", j->cached ? "true" : "false");
    if (j->cancel_requested && j->state == JOB_RUNNING)
        eq_buf_puts(b, ",\"cancel_requested\":true");
    put_time(b, "created_at", j->created_ms);
    put_time(b, "run_at", j->run_at_ms);
    put_time(b, "started_at", j->started_ms);
    put_time(b, "finished_at", j->finished_ms);
    if (j->batch_id) {
        eq_buf_puts(b, ",\"batch\":");
        eq_buf_json_str(b, j->batch_id);
    }
    if (j->schedule) {
        eq_buf_puts(b, ",\"schedule\":");
        eq_buf_json_str(b, j->schedule);
    }
    if (j->webhook_url) {
        eq_buf_puts(b, ",\"webhook\":{\"url\":");
        eq_buf_json_str(b, j->webhook_url);
        eq_buf_puts(b, "}");
    }
    eq_buf_puts(b, ",\"params\":");
    eq_buf_puts(b, j->params ? j->params : "{}");
    if (j->error_code) {
        eq_buf_puts(b, ",\"error\":{\"code\":");
        eq_buf_json_str(b, j->error_code);
        eq_buf_puts(b, ",\"message\":");
        eq_buf_json_str(b, j->error_message ? j->error_message : "");
        eq_buf_puts(b, "}");
    }
    if (result_json) {
        eq_buf_puts(b, ",\"result\":");
        eq_buf_puts(b, result_json);
    }
    eq_buf_puts(b, "}");
}
