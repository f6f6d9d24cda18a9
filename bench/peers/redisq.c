/* bench/peers/redisq: noop jobs through Redis (started by ./ops/bench with AOF) the way
 * Sidekiq-style queues use it, over RESP: producers `LPUSH q <job>`, consumers `BRPOP q 1`, then
 * a result write `SET result:<seq> <result>` pipelined with the next BRPOP.
 *
 *   bench_peer_redis --port P [--jobs 100000] [--conns 32] [--max-seconds 60] [--label L] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/peers/peer.h"

static const char result[] = "{\"state\":\"succeeded\",\"result\":{}}";

static size_t rq_put(char *buf, size_t cap, long seq) {
    char job[128];
    int n = snprintf(job, sizeof job, "{\"seq\":%ld,\"type\":\"noop\",\"params\":{}}", seq);
    return (size_t)snprintf(buf, cap, "*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$%d\r\n%s\r\n", n, job);
}

static size_t rq_take(char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "*3\r\n$5\r\nBRPOP\r\n$1\r\nq\r\n$1\r\n1\r\n");
}

static size_t rq_complete_take(char *buf, size_t cap, const char *id) {
    char key[96];
    int k = snprintf(key, sizeof key, "result:%s", id);
    return (size_t)snprintf(buf, cap,
                            "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n"
                            "*3\r\n$5\r\nBRPOP\r\n$1\r\nq\r\n$1\r\n1\r\n",
                            k, key, strlen(result), result);
}

/* Parses `$<n>\r\n<n bytes>\r\n` at buf; returns the bytes used (0: incomplete, -1: bad). */
static long bulk(const char *buf, size_t len, const char **data, size_t *dlen) {
    const char *eol = memmem(buf, len, "\r\n", 2);
    if (!eol) return 0;
    if (buf[0] != '$') return -1;
    long n = strtol(buf + 1, NULL, 10);
    if (n < 0 || n > PEER_IN_MAX) return -1;
    size_t head = (size_t)(eol - buf) + 2;
    if (len < head + (size_t)n + 2) return 0;
    *data = buf + head;
    *dlen = (size_t)n;
    return (long)(head + (size_t)n + 2);
}

static peer_reply rq_parse(const char *buf, size_t len, size_t *used, char *id, size_t idcap) {
    const char *eol = memmem(buf, len, "\r\n", 2);
    if (!eol) return PEER_R_MORE;
    size_t line = (size_t)(eol - buf);
    *used = line + 2;
    switch (buf[0]) {
    case ':': return PEER_R_PUT;                     /* LPUSH: the new length */
    case '+': return line == 3 && !memcmp(buf, "+OK", 3) ? PEER_R_DONE : PEER_R_ERROR;
    case '*': {
        if (line >= 3 && !memcmp(buf, "*-1", 3)) return PEER_R_EMPTY; /* BRPOP timed out */
        if (line != 2 || buf[1] != '2') return PEER_R_ERROR;
        const char *key, *job;
        size_t klen, jlen, off = line + 2;
        long a = bulk(buf + off, len - off, &key, &klen);
        if (a <= 0) return a == 0 ? PEER_R_MORE : PEER_R_ERROR;
        off += (size_t)a;
        long b = bulk(buf + off, len - off, &job, &jlen);
        if (b <= 0) return b == 0 ? PEER_R_MORE : PEER_R_ERROR;
        off += (size_t)b;
        /* The job's id is its "seq" member: the consumer reads the job, as a worker would. */
        const char *s = memmem(job, jlen, "\"seq\":", 6);
        if (!s) return PEER_R_ERROR;
        size_t n = strspn(s + 6, "0123456789");
        if (n == 0 || n >= idcap) return PEER_R_ERROR;
        memcpy(id, s + 6, n);
        id[n] = '\0';
        *used = off;
        return PEER_R_JOB;
    }
    default: return PEER_R_ERROR;
    }
}

static const peer_proto redisq = {
    .name = "redis",
    .put = rq_put,
    .take = rq_take,
    .complete_take = rq_complete_take,
    .parse = rq_parse,
};

int main(int argc, char **argv) {
    return peer_main(&redisq, argc, argv);
}
