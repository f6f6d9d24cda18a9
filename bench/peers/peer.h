/* bench/peers: the same noop work econq's bench_throughput does, run on a peer queue server
 * (beanstalkd, Redis) over its own text protocol on loopback, so that ./ops/bench can print the
 * ratio econq/peer from one run on one machine.
 *
 * The engine is protocol-neutral: `conns` producer connections put jobs in a closed loop (one
 * request in flight per connection, as bench_throughput does over HTTP) on one epoll thread, and
 * `conns` consumer connections take a job, complete it and ask for the next one on a second
 * epoll thread. A protocol is a table of functions that build requests and parse one reply. */
#ifndef ECONQ_BENCH_PEER_H
#define ECONQ_BENCH_PEER_H
#include <stddef.h>

/* The largest reply the engine buffers per connection; a peer's answers to put, take and
 * complete are a line or a small job, far below this. */
#define PEER_IN_MAX 4096
/* Connections per side; bench_throughput's own limit. */
#define PEER_MAX_CONNS 1024

/* What a parsed reply was. */
typedef enum peer_reply {
    PEER_R_MORE = 0, /* incomplete: read more */
    PEER_R_PUT,      /* a put was acknowledged */
    PEER_R_JOB,      /* a job was handed to a consumer; its id is in *id */
    PEER_R_EMPTY,    /* the take timed out with nothing to hand out: ask again */
    PEER_R_DONE,     /* a completion was acknowledged */
    PEER_R_ERROR     /* anything else: the run stops */
} peer_reply;

typedef struct peer_proto {
    const char *name;
    /* Writes the request that puts job number `seq` into buf; returns its length. */
    size_t (*put)(char *buf, size_t cap, long seq);
    /* Writes the first take request of a consumer. */
    size_t (*take)(char *buf, size_t cap);
    /* Writes the completion of job `id` followed by the next take (pipelined). */
    size_t (*complete_take)(char *buf, size_t cap, const char *id);
    /* Parses one reply at the start of buf[0..len): sets *used to its length and, for
     * PEER_R_JOB, copies the job id (NUL-terminated, at most idcap bytes) into id. */
    peer_reply (*parse)(const char *buf, size_t len, size_t *used, char *id, size_t idcap);
} peer_proto;

typedef struct peer_result {
    long jobs, done;          /* asked for, completed */
    double put_seconds;       /* first put to last put acknowledged */
    double e2e_seconds;       /* first put to last completion acknowledged */
    double p50_ms, p99_ms, p999_ms; /* put latency, closed loop */
    int timed_out;            /* the run hit max_seconds */
} peer_result;

/* Runs `jobs` jobs through the peer listening on 127.0.0.1:port with `conns` producer and
 * `conns` consumer connections, stopping after max_seconds whatever is done. 0 on success. */
int peer_run(const peer_proto *p, int port, int conns, long jobs, double max_seconds,
             peer_result *out);

/* The common command line: --port P --jobs N --conns C --max-seconds S --label TEXT; prints
 * one `key=value` line for ops/bench. Returns the process exit status. */
int peer_main(const peer_proto *p, int argc, char **argv);

#endif
