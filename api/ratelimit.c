/* Token buckets per (client, route group) in a bounded table: a hash for lookup and a list in
 * recency order, so the least recently used bucket is the one evicted when the table is full.
 * An evicted client starts again with a full bucket, which errs on the side of letting it in.
 * Loop thread only: no locks. */
#include <http_parser.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/prod.h"

typedef struct rl_bucket {
    char client[RL_CLIENT_MAX];
    uint8_t group;
    double tokens;
    int64_t last_ms;
    struct rl_bucket *hnext;       /* hash chain */
    struct rl_bucket *prev, *next; /* recency list: head is the most recent */
} rl_bucket;

struct api_ratelimit {
    rl_limit limits[RL_NGROUPS];
    rl_bucket *pool;
    size_t cap, used;
    rl_bucket **table;
    size_t nslots;
    rl_bucket *head, *tail;
    uint64_t evictions;
};

#define RL_MAX_RATE 1e6 /* requests per second accepted in a setting */

eq_err api_rate_parse(const char *s, rl_limit *out) {
    char *end;
    out->rate = out->burst = 0;
    if (!s || !*s)
        return EQ_EINVAL;
    double r = strtod(s, &end);
    if (end == s || !isfinite(r) || r < 0 || r > RL_MAX_RATE)
        return EQ_EINVAL;
    double b = r;
    if (*end == '/') {
        const char *bs = end + 1;
        b = strtod(bs, &end);
        if (end == bs || !isfinite(b) || b < 1 || b > RL_MAX_RATE)
            return EQ_EINVAL;
    }
    if (*end)
        return EQ_EINVAL;
    if (r > 0 && b < 1)
        b = 1;
    out->rate = r;
    out->burst = r > 0 ? b : 0;
    return EQ_OK;
}

eq_err api_rl_new(const rl_limit *limits, size_t max_buckets, api_ratelimit **out) {
    api_ratelimit *rl = calloc(1, sizeof *rl);
    *out = NULL;
    if (!rl)
        return EQ_ENOMEM;
    memcpy(rl->limits, limits, sizeof rl->limits);
    rl->cap = max_buckets ? max_buckets : RL_MAX_BUCKETS;
    rl->nslots = 1;
    while (rl->nslots < rl->cap)
        rl->nslots <<= 1;
    rl->pool = calloc(rl->cap, sizeof *rl->pool);
    rl->table = calloc(rl->nslots, sizeof *rl->table);
    if (!rl->pool || !rl->table) {
        api_rl_free(rl);
        return EQ_ENOMEM;
    }
    *out = rl;
    return EQ_OK;
}

void api_rl_free(api_ratelimit *rl) {
    if (!rl)
        return;
    free(rl->pool);
    free(rl->table);
    free(rl);
}

int api_rl_enabled(const api_ratelimit *rl) {
    for (int g = 0; rl && g < RL_NGROUPS; g++)
        if (rl->limits[g].rate > 0)
            return 1;
    return 0;
}

uint64_t api_rl_evictions(const api_ratelimit *rl) {
    return rl ? rl->evictions : 0;
}

static size_t slot_of(const api_ratelimit *rl, rl_group g, const char *client) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)g; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)client; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h & (rl->nslots - 1));
}

static void list_unlink(api_ratelimit *rl, rl_bucket *b) {
    if (b->prev)
        b->prev->next = b->next;
    else
        rl->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        rl->tail = b->prev;
    b->prev = b->next = NULL;
}

static void list_push_front(api_ratelimit *rl, rl_bucket *b) {
    b->prev = NULL;
    b->next = rl->head;
    if (rl->head)
        rl->head->prev = b;
    rl->head = b;
    if (!rl->tail)
        rl->tail = b;
}

static void hash_remove(api_ratelimit *rl, rl_bucket *b) {
    rl_bucket **pp = &rl->table[slot_of(rl, (rl_group)b->group, b->client)];
    while (*pp && *pp != b)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = b->hnext;
}

int api_rl_take(api_ratelimit *rl, rl_group g, const char *client, int64_t now_ms,
                unsigned *retry_after_s) {
    char key[RL_CLIENT_MAX];
    *retry_after_s = 0;
    if (!rl || g >= RL_NGROUPS || rl->limits[g].rate <= 0)
        return 1;
    const rl_limit *lim = &rl->limits[g];
    size_t n = strlen(client);
    if (n >= sizeof key)
        n = sizeof key - 1;
    memcpy(key, client, n);
    key[n] = '\0';
    size_t slot = slot_of(rl, g, key);
    rl_bucket *b = rl->table[slot];
    while (b && (b->group != g || strcmp(b->client, key) != 0))
        b = b->hnext;
    if (b) {
        list_unlink(rl, b);
        double t = b->tokens + lim->rate * (double)(now_ms - b->last_ms) / 1000.0;
        b->tokens = t > lim->burst ? lim->burst : t;
        b->last_ms = now_ms;
    } else {
        if (rl->used < rl->cap) {
            b = &rl->pool[rl->used++];
        } else {
            b = rl->tail;
            list_unlink(rl, b);
            hash_remove(rl, b);
            rl->evictions++;
        }
        memcpy(b->client, key, n + 1);
        b->group = (uint8_t)g;
        b->tokens = lim->burst;
        b->last_ms = now_ms;
        b->hnext = rl->table[slot];
        rl->table[slot] = b;
    }
    list_push_front(rl, b);
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 1;
    }
    double wait = (1.0 - b->tokens) / lim->rate;
    *retry_after_s = (unsigned)ceil(wait);
    if (*retry_after_s < 1)
        *retry_after_s = 1;
    return 0;
}

rl_group api_rl_group(int method, const char *path) {
    if (method == HTTP_GET || method == HTTP_HEAD)
        return RL_READ;
    if (method == HTTP_POST && strcmp(path, "/v1/datasets") == 0)
        return RL_UPLOAD;
    if (method == HTTP_POST || method == HTTP_DELETE || method == HTTP_PUT ||
        method == HTTP_PATCH)
        return RL_SUBMIT;
    return RL_NONE;
}
