#include "broker/webhook/wh_event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "broker/webhook/wh_dispatch.h"

static const char *const wh_event_names[WH_EVENT_MAX] = {
    [WH_EVENT_JOB_SUCCEEDED] = "job.succeeded",
    [WH_EVENT_JOB_FAILED] = "job.failed",
    [WH_EVENT_JOB_CANCELLED] = "job.cancelled",
    [WH_EVENT_BATCH_COMPLETED] = "batch.completed",
};

const char *wh_event_type_name(wh_event_type type) {
    return (unsigned)type < WH_EVENT_MAX ? wh_event_names[type] : NULL;
}

eq_err wh_event_type_parse(const char *name, wh_event_type *out) {
    for (int i = 0; name != NULL && i < WH_EVENT_MAX; i++) {
        if (strcmp(name, wh_event_names[i]) == 0) {
            *out = (wh_event_type)i;
            return EQ_OK;
        }
    }
    return EQ_EINVAL;
}

eq_err wh_event_body(wh_event_type type, int64_t time_ms, const char *data_json, size_t data_len,
                     char **out, size_t *out_len) {
    const char *name = wh_event_type_name(type);
    if (name == NULL || time_ms < 0 || data_json == NULL || out == NULL || out_len == NULL)
        return EQ_EINVAL;
    if (data_len > WH_BODY_MAX_BYTES) return EQ_ETOOBIG;
    /* The data is embedded verbatim, so it must be exactly one JSON object, and the body must
     * stay a C string (cJSON would let a raw NUL through inside a string). */
    if (memchr(data_json, '\0', data_len) != NULL) return EQ_EINVAL;
    const char *end = NULL;
    cJSON *parsed = cJSON_ParseWithLengthOpts(data_json, data_len, &end, 0);
    int is_object = cJSON_IsObject(parsed);
    cJSON_Delete(parsed);
    if (!is_object) return EQ_EINVAL;
    for (; end != NULL && end < data_json + data_len; end++)
        if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t' && *end != '\0')
            return EQ_EINVAL;

    time_t secs = (time_t)(time_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) return EQ_EINVAL;
    char stamp[40];
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0) return EQ_EINVAL;
    char head[128];
    int head_len =
        snprintf(head, sizeof head, "{\"type\":\"%s\",\"timestamp\":\"%s.%03dZ\",\"data\":", name,
                 stamp, (int)(time_ms % 1000));
    if (head_len < 0 || (size_t)head_len >= sizeof head) return EQ_EINVAL;
    size_t total = (size_t)head_len + data_len + 1;
    if (total > WH_BODY_MAX_BYTES) return EQ_ETOOBIG;
    char *body = malloc(total + 1);
    if (body == NULL) return EQ_ENOMEM;
    memcpy(body, head, (size_t)head_len);
    memcpy(body + head_len, data_json, data_len);
    body[total - 1] = '}';
    body[total] = '\0';
    *out = body;
    *out_len = total;
    return EQ_OK;
}
