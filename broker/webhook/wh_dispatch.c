#include "broker/webhook/wh_dispatch.h"

#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "broker/webhook/wh_sign.h"

/* Size of the "CURLOPT_CONNECT_TO" entry: "::[addr]:port". */
#define WH_CONNECT_TO_SIZE (WH_ADDR_STR_SIZE + 16)
#define WH_SIGNATURE_HEADER_PREFIX "webhook-signature: "
/* Size of a "webhook-...: value" header line we build (the id is limited to WH_MSG_ID_MAX_CHARS).
 */
#define WH_HEADER_LINE_SIZE (WH_MSG_ID_MAX_CHARS + 32)

typedef struct wh_job wh_job;

/* What a delivery needs only while in flight: allocated when it leaves the queue, so a queued
 * delivery costs little more than its strings. */
typedef struct wh_xfer {
    uv_getaddrinfo_t gai;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    uint64_t start_ns;
    wh_job *wait_next; /* in the dispatcher's list of jobs waiting to resolve */
    int waiting;       /* 1 while in that list */
    size_t resp_total; /* bytes of the answer read so far */
    int resp_cut;      /* 1 if reading stopped at WH_RESPONSE_MAX_BYTES */
    wh_url url;
    wh_result res;
    char resp[WH_RESPONSE_KEEP_BYTES];
    char errbuf[CURL_ERROR_SIZE];
} wh_xfer;

struct wh_dispatcher {
    uv_loop_t *loop;
    wh_config cfg;
    wh_done_fn done;
    void *ctx;
    CURLM *multi;
    uv_timer_t timer; /* curl's timeout */
    uv_timer_t kick;  /* starts queued deliveries on the next loop iteration */
    wh_job *queue_head, *queue_tail;
    size_t queued;
    wh_job *active; /* doubly linked: resolving or transferring */
    size_t inflight;
    size_t resolving;
    wh_job *wait_head, *wait_tail; /* host names waiting for a resolver slot */
    wh_stats stats;
    size_t open_handles;
    int closing;
    void (*closed)(void *);
    void *closed_arg;
};

struct wh_job {
    wh_dispatcher *d;
    wh_job *next, *prev;
    wh_delivery dl;         /* strings point into `data` */
    const char *sig_header; /* "webhook-signature: v1,...", in `data` */
    wh_xfer *x;             /* NULL while queued */
    char data[];            /* msg_id, url, body, signature header, each NUL-terminated */
};

/* A socket curl asked us to watch; freed in its close callback. */
typedef struct wh_sock {
    wh_dispatcher *d;
    uv_poll_t poll;
    curl_socket_t fd;
} wh_sock;

static void wh__kick(wh_dispatcher *d);

void wh_config_default(wh_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_inflight = WH_INFLIGHT_DEFAULT;
    cfg->max_queued = WH_QUEUE_DEFAULT;
    cfg->max_resolving = WH_RESOLVING_DEFAULT;
    cfg->connect_timeout_ms = WH_CONNECT_TIMEOUT_DEFAULT_MS;
    cfg->total_timeout_ms = WH_TOTAL_TIMEOUT_DEFAULT_MS;
}

eq_err wh_config_from_env(wh_config *cfg) {
    const char *allow = getenv("ECONQ_WEBHOOK_ALLOW");
    if (allow == NULL) return EQ_OK;
    wh_allowlist list;
    eq_err err = wh_allowlist_parse(allow, &list);
    if (err == EQ_OK) cfg->allow = list;
    return err;
}

static void wh__maybe_finish(wh_dispatcher *d) {
    if (!d->closing || d->open_handles > 0 || d->resolving > 0 || d->active != NULL) return;
    void (*closed)(void *) = d->closed;
    void *arg = d->closed_arg;
    free(d);
    curl_global_cleanup();
    if (closed != NULL) closed(arg);
}

static void wh__handle_closed_cb(uv_handle_t *h) {
    wh_dispatcher *d = h->data;
    d->open_handles--;
    wh__maybe_finish(d);
}

static void wh__sock_closed_cb(uv_handle_t *h) {
    wh_sock *ws = h->data;
    wh_dispatcher *d = ws->d;
    free(ws);
    d->open_handles--;
    wh__maybe_finish(d);
}

static void wh__active_remove(wh_dispatcher *d, wh_job *job) {
    if (job->prev != NULL)
        job->prev->next = job->next;
    else
        d->active = job->next;
    if (job->next != NULL) job->next->prev = job->prev;
    job->next = job->prev = NULL;
}

static void wh__set_error(wh_job *job, eq_err err, int retryable, const char *msg) {
    job->x->res.err = err;
    job->x->res.retryable = retryable;
    size_t n = strnlen(msg, sizeof job->x->res.error - 1); /* long causes are cut */
    memcpy(job->x->res.error, msg, n);
    job->x->res.error[n] = '\0';
}

static void wh__count(wh_dispatcher *d, const wh_result *res) {
    wh_stats *s = &d->stats;
    switch (res->err) {
    case EQ_OK:
        s->delivered++;
        break;
    case EQ_EPROTO:
        s->http_errors++;
        s->gone += res->gone != 0;
        break;
    case EQ_ETIMEDOUT:
        s->timeouts++;
        break;
    case EQ_ENET:
        s->network_errors++;
        break;
    case EQ_EINVAL:
        s->refused++;
        break;
    case EQ_ECLOSED:
        s->closed++;
        break;
    default:
        s->other++;
        break;
    }
}

/* Ends a started job: reports `res` and frees the job. The easy handle, if any, is gone. */
static void wh__report(wh_job *job, wh_result *res) {
    wh_dispatcher *d = job->d;
    wh__count(d, res);
    d->stats.latency_ms_sum += res->latency_ms;
    if (res->latency_ms > d->stats.latency_ms_max) d->stats.latency_ms_max = res->latency_ms;
    wh__active_remove(d, job);
    d->inflight--;
    d->done(d->ctx, &job->dl, res);
    free(job);
    if (d->closing)
        wh__maybe_finish(d);
    else
        wh__kick(d);
}

/* Ends a started job with the result in its transfer state. */
static void wh__complete(wh_job *job) {
    wh_xfer *x = job->x;
    x->res.latency_ms = (double)(uv_hrtime() - x->start_ns) / 1e6;
    x->res.response = x->resp;
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->connect_to);
    x->headers = x->connect_to = NULL;
    job->x = NULL;
    wh__report(job, &x->res);
    free(x);
}

static size_t wh__write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
    wh_job *job = userdata;
    size_t n = size * nmemb;
    if (n > WH_RESPONSE_MAX_BYTES - job->x->resp_total) {
        job->x->resp_cut = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR; see wh__transfer_result */
    }
    job->x->resp_total += n;
    size_t room = sizeof job->x->resp - job->x->res.response_len;
    size_t keep = n < room ? n : room;
    memcpy(job->x->resp + job->x->res.response_len, ptr, keep);
    job->x->res.response_len += keep;
    return n; /* the rest is read and dropped */
}

/* Translates a finished transfer into the job's result. */
static void wh__transfer_result(wh_job *job, CURLcode code) {
    long status = 0;
    curl_easy_getinfo(job->x->easy, CURLINFO_RESPONSE_CODE, &status);
    job->x->res.http_status = (int)status;
    /* An answer cut at WH_RESPONSE_MAX_BYTES still counts by its status. */
    if (code == CURLE_WRITE_ERROR && job->x->resp_cut && status > 0) code = CURLE_OK;
    if (code == CURLE_OK) {
        char msg[64];
        snprintf(msg, sizeof msg, "HTTP %ld", status);
        if (status >= 200 && status <= 299) {
            job->x->res.err = EQ_OK;
            job->x->res.retryable = 0;
        } else if (status == 410) {
            wh__set_error(job, EQ_EPROTO, 0, "HTTP 410 Gone");
            job->x->res.gone = 1;
        } else {
            wh__set_error(job, EQ_EPROTO, 1, msg);
        }
        return;
    }
    const char *msg = job->x->errbuf[0] != '\0' ? job->x->errbuf : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT)
        wh__set_error(job, EQ_ETIMEDOUT, 1, msg);
    else if (code == CURLE_OUT_OF_MEMORY)
        wh__set_error(job, EQ_ENOMEM, 1, msg);
    else
        wh__set_error(job, EQ_ENET, 1, msg);
}

static void wh__check_multi_info(wh_dispatcher *d) {
    CURLMsg *msg;
    int left;
    while (d->multi != NULL && (msg = curl_multi_info_read(d->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        wh_job *job = (wh_job *)(void *)priv;
        wh__transfer_result(job, code);
        curl_multi_remove_handle(d->multi, easy);
        curl_easy_cleanup(easy);
        job->x->easy = NULL;
        wh__complete(job);
    }
}

static void wh__poll_cb(uv_poll_t *h, int status, int events) {
    wh_sock *ws = h->data;
    wh_dispatcher *d = ws->d;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    int running = 0;
    curl_multi_socket_action(d->multi, ws->fd, flags, &running);
    wh__check_multi_info(d);
}

static int wh__socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    wh_dispatcher *d = userp;
    wh_sock *ws = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ws != NULL) {
            uv_poll_stop(&ws->poll);
            uv_close((uv_handle_t *)&ws->poll, wh__sock_closed_cb);
        }
        return 0;
    }
    if (ws == NULL) {
        ws = calloc(1, sizeof *ws);
        if (ws == NULL) return -1;
        ws->d = d;
        ws->fd = s;
        if (uv_poll_init_socket(d->loop, &ws->poll, s) != 0) {
            free(ws);
            return -1;
        }
        ws->poll.data = ws;
        d->open_handles++;
        curl_multi_assign(d->multi, s, ws);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    return uv_poll_start(&ws->poll, events, wh__poll_cb) == 0 ? 0 : -1;
}

static void wh__timer_fired_cb(uv_timer_t *t) {
    wh_dispatcher *d = t->data;
    int running = 0;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    wh__check_multi_info(d);
}

static int wh__timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    wh_dispatcher *d = userp;
    if (d->closing) return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&d->timer);
    else
        uv_timer_start(&d->timer, wh__timer_fired_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Appends a copy of `line` to `*list`; 0 on allocation failure (the list is unchanged). */
static int wh__slist_add(struct curl_slist **list, const char *line) {
    struct curl_slist *l = curl_slist_append(*list, line);
    if (l == NULL) return 0;
    *list = l;
    return 1;
}

/* Starts the HTTP transfer of a job whose address passed the SSRF guard. */
static void wh__begin_transfer(wh_job *job, const struct sockaddr *sa) {
    wh_dispatcher *d = job->d;
    char connect_to[WH_CONNECT_TO_SIZE];
    if (wh_addr_str(sa, job->x->res.addr, sizeof job->x->res.addr) != EQ_OK) {
        wh__set_error(job, EQ_ENET, 1, "unprintable address");
        wh__complete(job);
        return;
    }
    /* Empty source host and port: this handle only ever talks to its one URL. */
    snprintf(connect_to, sizeof connect_to, sa->sa_family == AF_INET6 ? "::[%s]:%u" : "::%s:%u",
             job->x->res.addr, job->x->url.port);
    long elapsed_ms = (long)((uv_hrtime() - job->x->start_ns) / 1000000);
    long remaining_ms = d->cfg.total_timeout_ms - elapsed_ms;
    if (remaining_ms <= 0) {
        wh__set_error(job, EQ_ETIMEDOUT, 1, "timed out while resolving");
        wh__complete(job);
        return;
    }
    char id_header[WH_HEADER_LINE_SIZE], ts_header[64];
    snprintf(id_header, sizeof id_header, "webhook-id: %s", job->dl.msg_id);
    snprintf(ts_header, sizeof ts_header, "webhook-timestamp: %" PRId64, job->dl.timestamp);
    const char *lines[] = {"content-type: application/json",
                           "user-agent: " WH_USER_AGENT,
                           "Expect:",
                           id_header,
                           ts_header,
                           job->sig_header};
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof lines / sizeof lines[0]; i++)
        ok = wh__slist_add(&job->x->headers, lines[i]);
    if (!ok || !wh__slist_add(&job->x->connect_to, connect_to) ||
        (job->x->easy = curl_easy_init()) == NULL) {
        wh__set_error(job, EQ_ENOMEM, 1, "out of memory preparing the request");
        wh__complete(job);
        return;
    }
    CURL *e = job->x->easy;
    curl_easy_setopt(e, CURLOPT_URL, job->dl.url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, job);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, job->x->connect_to);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, job->x->headers);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->dl.body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->dl.body_len);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, d->cfg.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, remaining_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wh__write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->x->errbuf);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (d->cfg.ca_file[0] != '\0') curl_easy_setopt(e, CURLOPT_CAINFO, d->cfg.ca_file);
    if (curl_multi_add_handle(d->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        job->x->easy = NULL;
        wh__set_error(job, EQ_ENOMEM, 1, "could not add the transfer");
        wh__complete(job);
    }
}

/* Checks each candidate address and starts the transfer on the first permitted one. */
static void wh__use_addresses(wh_job *job, const struct addrinfo *ai) {
    const char *why = NULL;
    for (; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        const char *w = NULL;
        if (wh_ssrf_check(&job->d->cfg.allow, ai->ai_addr, &w) == EQ_OK) {
            wh__begin_transfer(job, ai->ai_addr);
            return;
        }
        if (why == NULL) why = w;
    }
    char msg[sizeof job->x->res.error];
    snprintf(msg, sizeof msg, "refused by the SSRF guard: %s", why ? why : "no usable address");
    wh__set_error(job, EQ_EINVAL, 0, msg);
    wh__complete(job);
}

static void wh__resolve(wh_job *job);

static void wh__resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    wh_job *job = req->data;
    wh_dispatcher *d = job->d;
    d->resolving--;
    /* Hand the slot on first: completing `job` may end in the dispatcher being freed. */
    while (!d->closing && d->wait_head != NULL && d->resolving < d->cfg.max_resolving) {
        wh_job *next = d->wait_head;
        d->wait_head = next->x->wait_next;
        if (d->wait_head == NULL) d->wait_tail = NULL;
        next->x->waiting = 0;
        wh__resolve(next);
    }
    if (d->closing) {
        wh__set_error(job, EQ_ECLOSED, 1, "dispatcher closed");
        wh__complete(job);
    } else if (status < 0) {
        char msg[sizeof job->x->res.error];
        snprintf(msg, sizeof msg, "could not resolve %.100s: %s", job->x->url.host,
                 uv_strerror(status));
        wh__set_error(job, EQ_ENET, 1, msg);
        wh__complete(job);
    } else {
        wh__use_addresses(job, res);
    }
    uv_freeaddrinfo(res);
}

/* Takes a job out of the queue into flight: resolve (or read the literal), check, transfer. */
static void wh__start(wh_dispatcher *d, wh_job *job) {
    job->next = d->active;
    job->prev = NULL;
    if (d->active != NULL) d->active->prev = job;
    d->active = job;
    d->inflight++;
    job->x = calloc(1, sizeof *job->x);
    if (job->x == NULL) {
        wh_result res = {.err = EQ_ENOMEM, .retryable = 1, .response = ""};
        snprintf(res.error, sizeof res.error, "out of memory starting the delivery");
        wh__report(job, &res);
        return;
    }
    job->x->start_ns = uv_hrtime();
    /* The URL parsed in wh_dispatch(), so this cannot fail; it is parsed again to keep the
     * queued delivery small. */
    if (wh_url_parse(job->dl.url, &job->x->url) != EQ_OK) {
        wh__set_error(job, EQ_EINVAL, 0, "unparsable URL");
        wh__complete(job);
        return;
    }
    if (job->x->url.host_is_ip) {
        struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
        struct addrinfo *ai = NULL;
        /* A numeric host needs no lookup, so this getaddrinfo does not block. */
        if (getaddrinfo(job->x->url.host, NULL, &hints, &ai) != 0) {
            wh__set_error(job, EQ_EINVAL, 0, "unparsable address literal");
            wh__complete(job);
            return;
        }
        wh__use_addresses(job, ai);
        freeaddrinfo(ai);
        return;
    }
    wh__resolve(job);
}

/* Resolves the job's host on libuv's thread pool, or waits for a free resolver slot. */
static void wh__resolve(wh_job *job) {
    wh_dispatcher *d = job->d;
    if (d->resolving >= d->cfg.max_resolving) {
        job->x->waiting = 1;
        if (d->wait_tail != NULL)
            d->wait_tail->x->wait_next = job;
        else
            d->wait_head = job;
        d->wait_tail = job;
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    job->x->gai.data = job;
    int rc = uv_getaddrinfo(d->loop, &job->x->gai, wh__resolved_cb, job->x->url.host, NULL, &hints);
    if (rc != 0) {
        char msg[sizeof job->x->res.error];
        snprintf(msg, sizeof msg, "could not start resolving: %s", uv_strerror(rc));
        wh__set_error(job, EQ_ENET, 1, msg);
        wh__complete(job);
        return;
    }
    d->resolving++;
}

static void wh__kick_cb(uv_timer_t *t) {
    wh_dispatcher *d = t->data;
    while (!d->closing && d->queue_head != NULL && d->inflight < d->cfg.max_inflight) {
        wh_job *job = d->queue_head;
        d->queue_head = job->next;
        if (d->queue_head == NULL) d->queue_tail = NULL;
        d->queued--;
        wh__start(d, job);
    }
}

static void wh__kick(wh_dispatcher *d) {
    if (d->queue_head != NULL && d->inflight < d->cfg.max_inflight &&
        !uv_is_active((uv_handle_t *)&d->kick))
        uv_timer_start(&d->kick, wh__kick_cb, 0, 0);
}

eq_err wh_dispatcher_new(uv_loop_t *loop, const wh_config *cfg, wh_done_fn done, void *ctx,
                         wh_dispatcher **out) {
    wh_config c;
    if (cfg != NULL)
        c = *cfg;
    else
        wh_config_default(&c);
    if (loop == NULL || done == NULL || out == NULL || c.max_inflight == 0 ||
        c.max_inflight > WH_INFLIGHT_MAX || c.max_queued > WH_QUEUE_MAX || c.max_resolving == 0 ||
        c.max_resolving > WH_RESOLVING_MAX || c.connect_timeout_ms <= 0 ||
        c.connect_timeout_ms > WH_TIMEOUT_MAX_MS || c.total_timeout_ms <= 0 ||
        c.total_timeout_ms > WH_TIMEOUT_MAX_MS || c.allow.n > WH_ALLOW_MAX_ENTRIES ||
        memchr(c.ca_file, '\0', sizeof c.ca_file) == NULL)
        return EQ_EINVAL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return EQ_EIO;
    wh_dispatcher *d = calloc(1, sizeof *d);
    if (d == NULL) {
        curl_global_cleanup();
        return EQ_ENOMEM;
    }
    d->loop = loop;
    d->cfg = c;
    d->done = done;
    d->ctx = ctx;
    d->multi = curl_multi_init();
    if (d->multi == NULL) {
        free(d);
        curl_global_cleanup();
        return EQ_ENOMEM;
    }
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, wh__socket_cb);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, wh__timer_cb);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    /* Keep one idle connection per possible transfer so receivers see keep-alive reuse. */
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)c.max_inflight);
    uv_timer_init(loop, &d->timer);
    uv_timer_init(loop, &d->kick);
    d->timer.data = d;
    d->kick.data = d;
    d->open_handles = 2;
    *out = d;
    return EQ_OK;
}

eq_err wh_dispatch(wh_dispatcher *d, const wh_delivery *in) {
    if (d == NULL || in == NULL || in->msg_id == NULL || in->url == NULL || in->secret == NULL ||
        (in->body == NULL && in->body_len > 0))
        return EQ_EINVAL;
    if (d->closing) return EQ_ECLOSED;
    if (d->queued >= d->cfg.max_queued) return EQ_EBUSY;
    if (in->body_len > WH_BODY_MAX_BYTES) return EQ_ETOOBIG;
    size_t id_len = strnlen(in->msg_id, WH_MSG_ID_MAX_CHARS + 1);
    if (id_len > WH_MSG_ID_MAX_CHARS) return EQ_ETOOBIG;
    /* Header injection: an id is one header value and must be printable ASCII without spaces. */
    for (size_t i = 0; i < id_len; i++)
        if ((unsigned char)in->msg_id[i] <= ' ' || (unsigned char)in->msg_id[i] >= 0x7f)
            return EQ_EINVAL;
    wh_url url;
    eq_err err = wh_url_parse(in->url, &url);
    if (err != EQ_OK) return err;
    size_t url_len = strlen(in->url);
    /* While a secret is being rotated, `secret` holds several, space-separated: each signs,
     * and the header lists every signature. */
    size_t sig_len = sizeof WH_SIGNATURE_HEADER_PREFIX - 1 + WH_MAX_ROTATING_SECRETS * WH_SIGNATURE_SIZE;
    wh_job *job = calloc(1, sizeof *job + id_len + 1 + url_len + 1 + in->body_len + 1 + sig_len);
    if (job == NULL) return EQ_ENOMEM;
    job->d = d;
    job->dl = *in;
    job->dl.secret = NULL; /* not kept once the body is signed */
    if (job->dl.timestamp <= 0) job->dl.timestamp = (int64_t)time(NULL);
    char *p = job->data;
    memcpy(p, in->msg_id, id_len + 1);
    job->dl.msg_id = p;
    p += id_len + 1;
    memcpy(p, in->url, url_len + 1);
    job->dl.url = p;
    p += url_len + 1;
    if (in->body_len > 0) memcpy(p, in->body, in->body_len);
    p[in->body_len] = '\0';
    job->dl.body = p;
    p += in->body_len + 1;
    size_t used = (size_t)snprintf(p, sig_len, "%s", WH_SIGNATURE_HEADER_PREFIX);
    const char *sec = in->secret;
    int nsig = 0;
    while (*sec) {
        while (*sec == ' ')
            sec++;
        size_t tl = strcspn(sec, " ");
        if (tl == 0)
            break;
        char tok[WH_SECRET_MAX_CHARS + 1], sig[WH_SIGNATURE_SIZE];
        if (tl > WH_SECRET_MAX_CHARS || nsig == WH_MAX_ROTATING_SECRETS) {
            free(job);
            return EQ_EINVAL;
        }
        memcpy(tok, sec, tl);
        tok[tl] = '\0';
        sec += tl;
        err = wh_sign_secret(tok, job->dl.msg_id, job->dl.timestamp, job->dl.body,
                             job->dl.body_len, sig, sizeof sig);
        if (err != EQ_OK) {
            free(job);
            return err == EQ_ETOOBIG ? EQ_EINVAL : err;
        }
        used += (size_t)snprintf(p + used, sig_len - used, "%s%s", nsig ? " " : "", sig);
        nsig++;
    }
    if (nsig == 0) {
        free(job);
        return EQ_EINVAL;
    }
    job->sig_header = p;
    if (d->queue_tail != NULL)
        d->queue_tail->next = job;
    else
        d->queue_head = job;
    d->queue_tail = job;
    d->queued++;
    wh__kick(d);
    return EQ_OK;
}

size_t wh_dispatcher_inflight(const wh_dispatcher *d) {
    return d->inflight;
}

size_t wh_dispatcher_queued(const wh_dispatcher *d) {
    return d->queued;
}

void wh_dispatcher_stats(const wh_dispatcher *d, wh_stats *out) {
    *out = d->stats;
}

void wh_dispatcher_close(wh_dispatcher *d, void (*closed)(void *), void *arg) {
    if (d == NULL || d->closing) return;
    d->closing = 1;
    d->closed = closed;
    d->closed_arg = arg;
    /* Queued deliveries never started: report them without touching the in-flight count. */
    while (d->queue_head != NULL) {
        wh_job *job = d->queue_head;
        d->queue_head = job->next;
        d->queued--;
        wh_result res = {.err = EQ_ECLOSED, .retryable = 1, .response = ""};
        snprintf(res.error, sizeof res.error, "dispatcher closed");
        wh__count(d, &res);
        d->done(d->ctx, &job->dl, &res);
        free(job);
    }
    d->queue_tail = NULL;
    /* Running transfers and waiting resolutions are aborted; resolving ones finish in
     * wh__resolved_cb. */
    d->wait_head = d->wait_tail = NULL;
    wh_job *job = d->active;
    while (job != NULL) {
        wh_job *next = job->next;
        if (job->x != NULL && job->x->easy != NULL) {
            curl_multi_remove_handle(d->multi, job->x->easy);
            curl_easy_cleanup(job->x->easy);
            job->x->easy = NULL;
            wh__set_error(job, EQ_ECLOSED, 1, "dispatcher closed");
            /* Keep the dispatcher alive through wh__complete: a handle is still open. */
            wh__complete(job);
        } else if (job->x != NULL && job->x->waiting) {
            wh__set_error(job, EQ_ECLOSED, 1, "dispatcher closed");
            wh__complete(job);
        } else if (job->x != NULL) {
            uv_cancel((uv_req_t *)&job->x->gai);
        }
        job = next;
    }
    /* Cached connections close here; curl reports their sockets through wh__socket_cb. */
    curl_multi_cleanup(d->multi);
    d->multi = NULL;
    uv_close((uv_handle_t *)&d->timer, wh__handle_closed_cb);
    uv_close((uv_handle_t *)&d->kick, wh__handle_closed_cb);
}
