/* Shared by the lifecycle tests: a real store in a temporary directory, an injected clock
 * (`now`), and helpers that run one lifecycle operation per write transaction. check_indexes()
 * verifies that the indexes agree with the jobs table. */
#ifndef ECONQ_TESTS_BROKER_LIFECYCLE_UTIL_H
#define ECONQ_TESTS_BROKER_LIFECYCLE_UTIL_H
#include <check.h>
#include <stdint.h>

#include "broker/lifecycle.h"
#include "common/id.h"
#include "common/proto.h"
#include "store/store.h"

#define T0 INT64_C(1795926190000) /* 2026-11-29T04:23:10Z */
#define LEASE_MS 30000
#define BASE_MS 1000
#define MAX_MS 3000
#define IDEM_TTL_MS INT64_C(86400000)

extern char dir[256];
extern store *st;
extern uint64_t seq; /* the submit sequence lc_ctx.seq points at */
extern int64_t now;  /* the clock every helper's transaction runs at */
extern lc_effects fx;
extern const lc_policy policy;

typedef struct sub_opts {
    int prio;
    int64_t run_at;
    int max_attempts;
    const char *idem_key;
    uint64_t hash;
    const char *params; /* NULL: {"n":1} */
} sub_opts;

typedef struct leased {
    char id[EQ_ID_LEN + 1];
    char type[JOB_TYPE_MAX];
    uint16_t attempt;
    int64_t deadline;
} leased;

/* Checked fixture: a fresh store, seq 0, now T0, empty effects. */
void setup(void);
void teardown(void);
/* A write transaction at `now`; end() commits it. */
lc_ctx begin(void);
void end(lc_ctx *c);
void get_job(const char *id, eq_job *j);
int job_exists(const char *id);
int state_of(const char *id);
/* Reads "id" and "state" from a job's JSON (and checks no secret is in it). */
void json_id_state(const eq_buf *b, char *id, char *state, size_t statelen);
/* Submits one job in its own transaction; the id goes to id. */
eq_err submit_ex(const char *type, sub_opts o, char *id);
void submit(const char *type, int prio, char *id);
/* Leases up to max jobs of the types; returns how many (written to out). */
uint32_t lease_types(const char *worker, const char **types, uint16_t ntypes, uint16_t max,
                     leased *out, int64_t *next_ms);
int lease1(const char *type, const char *worker, leased *out);
eq_err complete(const char *id, uint16_t attempt, const char *result);
eq_err fail_job(const char *id, uint16_t attempt, const char *code, int retryable);
eq_err cancel(const char *id, char *state_out);
eq_err retry(const char *id);
proto_hb_verdict heartbeat(const char *id, uint16_t attempt);
size_t reap(void);
void check_indexes(void);
/* 1 when the effects recorded id reaching state. */
int fx_has(const char *id, int state);
/* Runs the suite with CK_NORMAL output; the exit status for main. */
int run_suite(Suite *s);

#endif
