/* Fuzz target: the stored job record decoder (store_job_decode, store/store.h). A record read
 * from LMDB may be from an older build or damaged on disk; decoding it must never crash.
 *
 * A record that decodes must survive a round trip: encode(decode(x)) decodes again and encodes
 * to the same bytes, and the job renders (eq_job_to_json) as well-formed JSON whenever its
 * params are JSON (params are stored as JSON text and rendered as they are; the api only
 * stores what cJSON printed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/job.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    eq_job j;
    if (store_job_decode(data, size, &j) != EQ_OK)
        return 0;
    if (j.state == 0 || j.state >= JOB_STATE_MAX || job_state_name(j.state) == NULL ||
        memchr(j.type, '\0', sizeof j.type) == NULL)
        abort();
    eq_buf once, twice;
    eq_buf_init(&once);
    eq_buf_init(&twice);
    store_job_encode(&j, &once);
    eq_job back;
    if (once.oom || store_job_decode(once.data, once.len, &back) != EQ_OK)
        abort();
    store_job_encode(&back, &twice);
    if (twice.oom || twice.len != once.len || memcmp(twice.data, once.data, once.len) != 0)
        abort();
    eq_buf json;
    eq_buf_init(&json);
    eq_job_to_json(&j, NULL, &json);
    /* The whole params text must be one JSON value (cJSON_Parse alone ignores what follows). */
    cJSON *params = j.params ? cJSON_ParseWithOpts(j.params, NULL, 1) : NULL;
    if (!j.params || params) {
        cJSON *parsed = json.oom ? NULL : cJSON_ParseWithLength((const char *)json.data, json.len);
        if (!cJSON_IsObject(parsed))
            abort();
        cJSON_Delete(parsed);
    }
    cJSON_Delete(params);
    eq_buf_fini(&json);
    eq_buf_fini(&twice);
    eq_buf_fini(&once);
    eq_job_fini(&back);
    eq_job_fini(&j);
    return 0;
}
