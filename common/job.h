/* The job model shared by the api, the broker, the store and the workers. */
#ifndef ECONQ_COMMON_JOB_H
#define ECONQ_COMMON_JOB_H
#include <stdint.h>
#include "common/buf.h"
#include "common/id.h"

typedef enum job_state {
    JOB_QUEUED = 1,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_CANCELLED,
    JOB_STATE_MAX
} job_state;

#define JOB_TYPE_MAX 64         /* bytes in a job type name */
#define JOB_PRIORITY_MAX 9      /* 0 is the most urgent */
#define JOB_PRIORITY_DEFAULT 5
#define JOB_MAX_ATTEMPTS_DEFAULT 5
#define JOB_ERROR_CODE_MAX 64
#define JOB_ERROR_MESSAGE_MAX 1024

typedef struct eq_job {
    char id[EQ_ID_LEN + 1];
    char type[JOB_TYPE_MAX];
    uint8_t state;            /* job_state */
    uint8_t priority;
    uint8_t cached;           /* answered from the result cache */
    uint8_t cancel_requested; /* a running job asked to stop */
    uint16_t attempt;         /* leases granted so far; fences complete/fail */
    uint16_t max_attempts;    /* attempts allowed per round (a manual retry starts a round) */
    uint16_t attempt_base;    /* attempts used before the current round */
    uint64_t seq;             /* submit order, for FIFO within a priority */
    int64_t created_ms, run_at_ms, started_ms, finished_ms, updated_ms, lease_deadline_ms;
    char *params;          /* JSON text; owned */
    char *error_code;      /* owned, NULL unless failed */
    char *error_message;   /* owned */
    char *worker;          /* owned: the worker holding or last holding the lease */
    char *idem_key;        /* owned */
    char *batch_id;        /* owned */
    char *schedule;        /* owned: the schedule that made it */
    char *webhook_url;     /* owned */
    char *webhook_secret;  /* owned; never rendered */
} eq_job;

void eq_job_init(eq_job *j);
void eq_job_fini(eq_job *j);
const char *job_state_name(int state);
/* Returns the state for a name, or 0 when unknown. */
int job_state_parse(const char *name);
int job_state_terminal(int state);
/* Appends the job as a JSON object (no secrets). result_json, when not NULL, is raw JSON text
 * placed under "result". */
void eq_job_to_json(const eq_job *j, const char *result_json, eq_buf *out);

#endif
