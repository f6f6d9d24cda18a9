/* Long-polls: GET /v1/jobs/{id}?wait=N parks the request here until the broker announces that
 * the job finished, or N seconds pass. Either way the job is read again and sent. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "common/log.h"

static size_t bucket(const char *id) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < EQ_ID_LEN; i++)
        h = (h ^ (unsigned char)id[i]) * 16777619u;
    return h % API_WAIT_BUCKETS;
}

static void unlink_waiter(api *a, api_waiter *w) {
    api_waiter **pp = &a->waiters[bucket(w->id)];
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = w->next;
        a->nwaiters--;
    }
}

static void waiter_closed(uv_handle_t *h) {
    free(h->data);
}

/* Answers the waiter with the job as it is now, and frees it. */
static void waiter_finish(api_waiter *w) {
    api *a = w->a;
    unlink_waiter(a, w);
    uv_timer_stop(&w->timer);
    http_request *r = w->req;
    w->req = NULL;
    if (r) {
        http_request_on_close(r, NULL, NULL);
        api_jobs_respond(a, r, w->id);
    }
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

static void waiter_timeout(uv_timer_t *t) {
    waiter_finish(t->data);
}

/* The client went away: free the long-poll now rather than at its timeout. */
static void waiter_client_gone(void *arg, http_request *r) {
    api_waiter *w = arg;
    api *a = w->a;
    unlink_waiter(a, w);
    uv_timer_stop(&w->timer);
    w->req = NULL;
    http_respond(r, 499, NULL, NULL, NULL, 0);
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

void api_wait_add(api *a, http_request *req, const char *id, unsigned wait_s) {
    api_waiter *w = calloc(1, sizeof *w);
    if (!w) {
        api_problem(req, 503, "overloaded", "cannot hold the long-poll; poll again");
        return;
    }
    w->a = a;
    w->req = req;
    memcpy(w->id, id, EQ_ID_LEN + 1);
    if (http_request_is_closed(req)) {
        http_respond(req, 499, NULL, NULL, NULL, 0);
        free(w);
        return;
    }
    uv_timer_init(a->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, waiter_timeout, (uint64_t)wait_s * 1000, 0);
    http_request_on_close(req, waiter_client_gone, w);
    size_t b = bucket(id);
    w->next = a->waiters[b];
    a->waiters[b] = w;
    a->nwaiters++;
}

void api_wait_wake(api *a, const char *id) {
    api_waiter **pp = &a->waiters[bucket(id)];
    while (*pp) {
        api_waiter *w = *pp;
        if (strcmp(w->id, id) == 0) {
            waiter_finish(w); /* unlinks w from *pp */
            continue;
        }
        pp = &w->next;
    }
}

void api_wait_cancel_all(api *a) {
    for (size_t b = 0; b < API_WAIT_BUCKETS; b++)
        while (a->waiters[b])
            waiter_finish(a->waiters[b]);
}
