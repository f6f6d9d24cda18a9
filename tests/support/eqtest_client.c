/* The job helpers of the integration tests, through libeconq (client/econq.h): the tests use the
 * same client as users. Raw HTTP (http_do, http_raw in eqtest.c) remains for protocol-level
 * checks such as malformed requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/econq.h"
#include "tests/support/eqtest.h"

static eq_client *client(int port) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    eq_client *c = econq_new(url, getenv("ECONQ_TEST_API_KEY"));
    if (c)
        econq_set_timeouts(c, 5000, 90000);
    return c;
}

int eqt_submit(int port, const char *body, char *id_out) {
    eq_client *c = client(port);
    int status = -1;
    char *answer = NULL;
    if (!c)
        return -1;
    eq_err err = econq_request(c, "POST", "/v1/jobs", "application/json", body, strlen(body),
                               &status, &answer);
    if (err == EQ_ENET || err == EQ_ETIMEDOUT || status == 0)
        status = -1;
    if ((status == 202 || status == 200) && id_out) {
        cJSON *j = answer ? cJSON_Parse(answer) : NULL;
        const char *id = eqt_str(j, "id");
        snprintf(id_out, 27, "%s", id ? id : "");
        cJSON_Delete(j);
    }
    free(answer);
    econq_free(c);
    return status;
}

cJSON *eqt_job(int port, const char *id, int wait_s) {
    eq_client *c = client(port);
    cJSON *j = NULL;
    if (!c)
        return NULL;
    eq_job job;
    memset(&job, 0, sizeof job);
    eq_err err;
    if (wait_s > 0) {
        econq_set_long_poll_s(c, wait_s);
        err = econq_wait(c, id, (long)wait_s * 1000, NULL, NULL, &job);
        if (err == EQ_ETIMEDOUT)
            err = job.json ? EQ_OK : err;
    } else {
        err = econq_get(c, id, &job);
    }
    if (err == EQ_OK && job.json)
        j = cJSON_Parse(job.json);
    econq_job_fini(&job);
    econq_free(c);
    return j;
}

cJSON *eqt_wait_terminal(int port, const char *id, int timeout_s) {
    eq_client *c = client(port);
    cJSON *j = NULL;
    if (!c)
        return NULL;
    eq_job job;
    memset(&job, 0, sizeof job);
    econq_set_long_poll_s(c, timeout_s < 10 ? (timeout_s > 0 ? timeout_s : 1) : 10);
    eq_err err = econq_wait(c, id, (long)timeout_s * 1000, NULL, NULL, &job);
    if ((err == EQ_OK || err == EQ_ETIMEDOUT) && job.json)
        j = cJSON_Parse(job.json);
    econq_job_fini(&job);
    econq_free(c);
    return j;
}
