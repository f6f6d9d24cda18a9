/* Shared by the crash and fault tests: rounds and seed from the environment, a seeded RNG,
 * job deliveries as the server reports them, and a webhook receiver on a fixed port that logs
 * every record to a file (so its records survive its own restarts). */
#ifndef ECONQ_TESTS_CHAOS_CHAOS_UTIL_H
#define ECONQ_TESTS_CHAOS_CHAOS_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define CHAOS_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* ECONQ_CHAOS_ROUNDS (1..10000), else `dflt`. */
int chaos_rounds(int dflt);

/* ECONQ_CHAOS_SEED, else one from the clock and pid; printed either way with `name`. */
uint64_t chaos_seed(const char *name);

/* xorshift64*: the next value of *state (never 0 after chaos_seed). */
uint64_t chaos_rand(uint64_t *state);
/* Uniform in [lo, hi]. */
int chaos_between(uint64_t *state, int lo, int hi);

/* Wall-clock seconds (the receiver stamps records with time.time()). */
double chaos_wall(void);

/* GET /v1/jobs/{id}/deliveries: the first delivery object (detached; caller deletes), or NULL. */
cJSON *chaos_delivery(int port, const char *job_id);

/* Polls until the job's first delivery is no longer pending (or timeout_s passes). */
cJSON *chaos_settled_delivery(int port, const char *job_id, int timeout_s);

/* The job id inside a webhook record's body ({"type","timestamp","data":{"id":...}}), copied
 * into out (len bytes); "" when absent. */
void chaos_record_job_id(const cJSON *rec, char *out, size_t len);

/* The fake receiver on a fixed port with --log FILE: can be stopped and started again on the same
 * address while econqd keeps the URL. */
typedef struct chaos_rx {
    pid_t pid;
    int port;
    char log[300];
} chaos_rx;

/* Starts tests/fakes/webhook_receiver.py on 127.0.0.1:port logging to `log`; 0 on success. */
int chaos_rx_start(chaos_rx *rx, int port, const char *log);
void chaos_rx_stop(chaos_rx *rx);
/* Every record of the log file as a JSON array (caller deletes). */
cJSON *chaos_rx_records(const chaos_rx *rx);

#endif
