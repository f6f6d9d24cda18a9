/* Webhook event bodies: {"type": "job.succeeded", "timestamp": "2026-11-29T05:00:00.000Z",
 * "data": {...}} for the events econq sends. Pure functions. */
#ifndef ECONQ_BROKER_WEBHOOK_WH_EVENT_H
#define ECONQ_BROKER_WEBHOOK_WH_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

typedef enum wh_event_type {
    WH_EVENT_JOB_SUCCEEDED,
    WH_EVENT_JOB_FAILED, /* after the last attempt */
    WH_EVENT_JOB_CANCELLED,
    WH_EVENT_BATCH_COMPLETED,
    WH_EVENT_MAX
} wh_event_type;

/* Returns the wire name ("job.succeeded", ...), or NULL for an unknown value. */
const char *wh_event_type_name(wh_event_type type);

/* Parses a wire name. EQ_EINVAL if it is not one of the events above. */
eq_err wh_event_type_parse(const char *name, wh_event_type *out);

/* Builds the body of an event that happened at `time_ms` (Unix milliseconds) about `data_json`
 * (`data_len` bytes holding one JSON object, copied byte for byte). On EQ_OK `*out` is a
 * NUL-terminated string of `*out_len` bytes (caller frees). EQ_EINVAL for an unknown type, a
 * time before 1970 or data that is not one JSON object (or holds a NUL byte); EQ_ETOOBIG if the
 * body would exceed WH_BODY_MAX_BYTES (wh_dispatch.h); EQ_ENOMEM. */
eq_err wh_event_body(wh_event_type type, int64_t time_ms, const char *data_json, size_t data_len,
                     char **out, size_t *out_len);

#endif
