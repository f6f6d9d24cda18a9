/* bench/peers/beanstalk: noop jobs through beanstalkd (started by ./ops/bench with its binlog,
 * `-b DIR`) over its text protocol: producers `put`, consumers `reserve-with-timeout` then
 * `delete` (pipelined with the next reserve), as a beanstalkd worker library does.
 *
 *   bench_peer_beanstalk --port P [--jobs 100000] [--conns 32] [--max-seconds 60] [--label L] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/peers/peer.h"

/* The job body: the same bytes econq's noop submit carries, plus a sequence number. */
static size_t bs_put(char *buf, size_t cap, long seq) {
    char job[128];
    int n = snprintf(job, sizeof job, "{\"seq\":%ld,\"type\":\"noop\",\"params\":{}}", seq);
    /* priority 1024 (beanstalkd's default), no delay, time to run 60 s */
    return (size_t)snprintf(buf, cap, "put 1024 0 60 %d\r\n%s\r\n", n, job);
}

static size_t bs_take(char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "reserve-with-timeout 1\r\n");
}

static size_t bs_complete_take(char *buf, size_t cap, const char *id) {
    return (size_t)snprintf(buf, cap, "delete %s\r\nreserve-with-timeout 1\r\n", id);
}

static int starts(const char *line, size_t len, const char *word) {
    size_t n = strlen(word);
    return len >= n && memcmp(line, word, n) == 0;
}

static peer_reply bs_parse(const char *buf, size_t len, size_t *used, char *id, size_t idcap) {
    const char *eol = memmem(buf, len, "\r\n", 2);
    if (!eol) return PEER_R_MORE;
    size_t line = (size_t)(eol - buf);
    *used = line + 2;
    if (starts(buf, line, "INSERTED ")) return PEER_R_PUT;
    if (starts(buf, line, "DELETED")) return PEER_R_DONE;
    if (starts(buf, line, "TIMED_OUT") || starts(buf, line, "DEADLINE_SOON")) return PEER_R_EMPTY;
    if (starts(buf, line, "RESERVED ")) {
        char idbuf[32];
        unsigned long bytes;
        if (sscanf(buf + 9, "%31s %lu", idbuf, &bytes) != 2 || strlen(idbuf) >= idcap)
            return PEER_R_ERROR;
        if (bytes > PEER_IN_MAX) return PEER_R_ERROR; /* never what we put */
        if (len < line + 2 + bytes + 2) return PEER_R_MORE;
        memcpy(id, idbuf, strlen(idbuf) + 1);
        *used = line + 2 + bytes + 2;
        return PEER_R_JOB;
    }
    return PEER_R_ERROR;
}

static const peer_proto beanstalk = {
    .name = "beanstalkd",
    .put = bs_put,
    .take = bs_take,
    .complete_take = bs_complete_take,
    .parse = bs_parse,
};

int main(int argc, char **argv) {
    return peer_main(&beanstalk, argc, argv);
}
