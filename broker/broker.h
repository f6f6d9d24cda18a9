/* The broker: owns the job lifecycle and the store's single writer. It answers the api and the
 * workers over nng req/rep (common/proto.h) and publishes terminal job events over nng pub/sub.
 *
 * Requests from every connection go into one inbox; the writer thread takes all that are waiting,
 * handles them in one LMDB write transaction (group commit: one fsync for many submits) and
 * replies only after the commit, so an acknowledged submit is on disk. Lease requests that find
 * nothing ready are parked until a job arrives or their wait ends. */
#ifndef ECONQ_BROKER_BROKER_H
#define ECONQ_BROKER_BROKER_H
#include <stdint.h>
#include "broker/lifecycle.h"
#include "broker/schedule.h"
#include "broker/webhook/wh_dispatch.h"
#include "store/store.h"

typedef struct broker broker;

typedef struct broker_config {
    store *st;                   /* borrowed; outlives the broker */
    const char *urls[4];         /* addresses to listen on, e.g. "inproc://econq", "tcp://..." */
    const char *events_url;      /* pub socket for "job finished" events */
    lc_policy policy;
    int64_t retention_ms;        /* finished jobs and results are deleted after this */
    unsigned contexts;           /* requests handled concurrently (parked leases hold one each) */
    const char *local_worker_prefix; /* in-process worker names start with this; NULL if none */
    sched_config sched;          /* cron schedules and in-broker maintenance (broker/schedule.h) */
    int webhooks;                /* run the webhook dispatcher */
    wh_config webhook_http;      /* its timeouts and SSRF allowlist */
} broker_config;

void broker_config_defaults(broker_config *c);
eq_err broker_start(const broker_config *cfg, broker **out);
/* Answers what is in the inbox, releases parked leases, closes the sockets and frees. */
void broker_stop(broker *b);

/* Event messages on events_url: one or more records of the job id (EQ_ID_LEN bytes) then the
 * new state byte. */
#define BROKER_EVENT_LEN (EQ_ID_LEN + 1)
#define BROKER_EVENTS_PER_MSG 256

#endif
