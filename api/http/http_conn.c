/* One client connection: reading and parsing, the in-order response queue, writing, timers
 * and closing. Runs entirely on the loop thread.
 *
 * Life of a connection: OPEN (requests are parsed, queued, handed to the handler in order and
 * answered in order) -> SHUTDOWN (the last response is written, FIN sent) -> LINGER (what the
 * client still sends is read and dropped, so that it sees our last answer instead of a reset)
 * -> CLOSING (uv_close on both handles; freed in the last close callback). Errors and client
 * resets go straight to CLOSING.
 *
 * Re-entrancy: a handler may answer (and so write, pop and free requests, even start closing
 * the connection) while conn_pump() is dispatching. conn_pump() therefore never recurses:
 * nested calls set `repump`, and memory is only freed in close callbacks or by conn_pop(),
 * which keeps `dispatch_next` valid. */
#include <stdlib.h>
#include <string.h>

#include "api/http/http_internal.h"

static const char continue_bytes[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void conn_pump(http_conn *c, const char *data, size_t len);
static void conn_update(http_conn *c);
static void conn_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void conn_timer_cb(uv_timer_t *t);
static void conn_set_reading(http_conn *c, bool on);
static void conn_unschedule_pump(http_conn *c);

/* uv_buf_init() takes an unsigned int; uv_buf_t itself holds a size_t on Unix. */
static uv_buf_t buf_of(const void *p, size_t n) {
    uv_buf_t b;
    b.base = (char *)p;
    b.len = n;
    return b;
}

static uv_stream_t *conn_stream(http_conn *c) {
    return (uv_stream_t *)&c->tcp;
}

/* ---- closing */

static void conn_close_cb(uv_handle_t *h) {
    http_conn *c = h->data;
    if (--c->pending_closes > 0) return;
    /* Tell handlers that asked (http_request_on_close) that their client went away. This is a
     * libuv callback of its own, so handlers are never re-entered. */
    http_request *d = c->detached;
    c->detached = NULL;
    while (d) {
        http_request *next = d->next;
        d->next = NULL;
        d->notify_pending = false;
        if (d->responded)
            http__request_free(d);
        else if (d->close_cb) /* NULL when cancelled after the client left */
            d->close_cb(d->close_arg, d);
        d = next;
    }
    http_request *r = c->qhead;
    while (r) {
        http_request *next = r->next;
        http__request_free(r);
        r = next;
    }
    http_reqparser_fini(&c->parser);
    free(c->stash);
    http__server_conn_gone(c->srv, c);
    free(c);
}

/* Detaches the requests a handler still holds (they learn it through
 * http_request_is_closed() and are freed by http_respond()), then closes both handles. */
static void conn_close(http_conn *c) {
    if (c->state == HTTP_CONN_CLOSING) return;
    c->state = HTTP_CONN_CLOSING;
    conn_unschedule_pump(c);
    http_request **link = &c->qhead, *last = NULL;
    while (*link) {
        http_request *r = *link;
        if (r->dispatched && !r->responded) {
            if (c->dispatch_next == r) c->dispatch_next = r->next;
            *link = r->next;
            r->next = NULL;
            r->conn = NULL;
            r->closed = true;
            c->nqueued--;
            if (r->close_cb) {
                r->notify_pending = true;
                r->next = c->detached;
                c->detached = r;
            }
        } else {
            last = r;
            link = &r->next;
        }
    }
    c->qtail = last;
    c->pending_closes = 2;
    uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
    uv_close((uv_handle_t *)&c->timer, conn_close_cb);
}

static void conn_shutdown_cb(uv_shutdown_t *req, int status) {
    http_conn *c = req->data;
    if (c->state == HTTP_CONN_CLOSING) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->state = HTTP_CONN_LINGER;
}

/* Every response is written and no other request will be served: send FIN and linger. */
static void conn_finish(http_conn *c) {
    if (c->state != HTTP_CONN_OPEN) return;
    if (c->peer_eof || c->draining) {
        conn_close(c);
        return;
    }
    c->state = HTTP_CONN_SHUTDOWN;
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, conn_stream(c), conn_shutdown_cb) != 0) {
        conn_close(c);
        return;
    }
    conn_set_reading(c, true);
    if (c->state == HTTP_CONN_CLOSING) return;
    c->deadline = c->timer_due = uv_now(c->srv->loop) + HTTP_LINGER_MS;
    uv_timer_start(&c->timer, conn_timer_cb, HTTP_LINGER_MS, 0);
}

/* ---- the queue */

static void conn_make_id(http_server *s, char *out) {
    static const char hex[] = "0123456789abcdef";
    uint32_t p = s->id_prefix;
    uint64_t n = ++s->id_counter;
    for (int i = 7; i >= 0; i--, p >>= 4)
        out[i] = hex[p & 15];
    out[8] = '-';
    for (int i = 20; i >= 9; i--, n >>= 4)
        out[i] = hex[n & 15];
    out[21] = '\0';
}

static void conn_enqueue(http_conn *c, http_request *r) {
    r->conn = c;
    r->next = NULL;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->nqueued++;
    if (!r->dispatched && !c->dispatch_next) c->dispatch_next = r;
    memcpy(r->remote, c->remote, sizeof r->remote);
    if (!r->id[0]) conn_make_id(c->srv, r->id);
}

/* The head request's response is fully written: free it. */
static void conn_pop(http_conn *c) {
    http_request *r = c->qhead;
    c->qhead = r->next;
    if (!c->qhead) c->qtail = NULL;
    if (c->dispatch_next == r) c->dispatch_next = r->next;
    c->nqueued--;
    http__request_free(r);
}

static bool conn_room(const http_conn *c) {
    return c->nqueued < c->srv->cfg.max_pipelined;
}

/* The server answers by itself (parse errors, timeouts, too many connections); the stream is
 * no longer trusted, so nothing after this request is parsed. */
static void conn_answer_error(http_conn *c, int status, const char *slug, const char *title,
                              const char *detail) {
    http_request *r = http__request_new_bare();
    if (!r) {
        conn_close(c);
        return;
    }
    r->keep_alive = false;
    r->http_major = 1;
    r->http_minor = 1;
    r->dispatched = true;
    c->no_more = true;
    c->srv->stats.client_errors++;
    conn_enqueue(c, r);
    http_respond_problem_headers(r, status, slug, title, detail, NULL,
                                 status == 503 ? "Retry-After: 1\r\n" : NULL);
}

/* ---- writing */

/* Keeps the unsent tail of head+body in r->out. */
static bool conn_copy_out(http_request *r, const char *head, size_t hlen, const char *body,
                          size_t blen, size_t sent) {
    size_t left = hlen + blen - sent;
    r->out = malloc(left);
    if (!r->out) return false;
    size_t o = 0;
    if (sent < hlen) {
        memcpy(r->out, head + sent, hlen - sent);
        o = hlen - sent;
    }
    size_t boff = sent > hlen ? sent - hlen : 0;
    if (blen > boff) memcpy(r->out + o, body + boff, blen - boff);
    r->out_len = left;
    r->out_off = 0;
    return true;
}

static void conn_write_cb(uv_write_t *w, int status);

/* Writes the responses that are ready at the head of the queue: uv_try_write first, uv_write
 * for what the socket did not take. */
static void conn_flush(http_conn *c) {
    while (c->state == HTTP_CONN_OPEN && !c->writing && c->qhead && c->qhead->responded) {
        uv_buf_t bufs[HTTP_WRITE_BATCH];
        size_t k = 0;
        for (http_request *r = c->qhead; r && r->responded && k < HTTP_WRITE_BATCH; r = r->next)
            bufs[k++] = buf_of(r->out + r->out_off, r->out_len - r->out_off);
        int n = uv_try_write(conn_stream(c), bufs, (unsigned)k);
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        size_t sent = n > 0 ? (size_t)n : 0, done = 0;
        while (done < k) {
            http_request *r = c->qhead;
            size_t left = r->out_len - r->out_off;
            if (sent < left) {
                r->out_off += sent;
                break;
            }
            sent -= left;
            conn_pop(c);
            done++;
        }
        if (done == k) continue;
        size_t m = 0;
        for (http_request *r = c->qhead; m < k - done; r = r->next)
            bufs[m++] = buf_of(r->out + r->out_off, r->out_len - r->out_off);
        c->wreq.data = c;
        if (uv_write(&c->wreq, conn_stream(c), bufs, (unsigned)m, conn_write_cb) != 0) {
            conn_close(c);
            return;
        }
        c->writing = true;
        c->inflight = m;
    }
}

/* Requests that waited in the stash while the queue was full are parsed and dispatched from
 * the server's idle handle, never from inside http_respond(): a handler that answers other
 * requests (e.g. long-poll waiters) must not be re-entered. */
static void conn_schedule_pump(http_conn *c) {
    http_server *s = c->srv;
    if (c->pump_scheduled || s->stopping) return;
    c->pump_scheduled = true;
    c->pump_next = s->pump_list;
    s->pump_list = c;
    uv_idle_start(&s->pump_idle, http__conn_pump_pending);
}

static void conn_unschedule_pump(http_conn *c) {
    if (!c->pump_scheduled) return;
    for (http_conn **l = &c->srv->pump_list; *l; l = &(*l)->pump_next) {
        if (*l == c) {
            *l = c->pump_next;
            break;
        }
    }
    c->pump_scheduled = false;
    c->pump_next = NULL;
}

void http__conn_pump_pending(uv_idle_t *h) {
    http_server *s = h->data;
    http_conn *list = s->pump_list;
    s->pump_list = NULL;
    uv_idle_stop(h);
    /* Connections closed meanwhile are still allocated (freed in close callbacks). */
    while (list) {
        http_conn *c = list;
        list = c->pump_next;
        c->pump_next = NULL;
        c->pump_scheduled = false;
        if (c->state == HTTP_CONN_OPEN) conn_pump(c, NULL, 0);
    }
}

/* No request will be parsed after the queued ones. */
static bool conn_last_answered(const http_conn *c) {
    return c->no_more || c->draining || (c->peer_eof && c->stash_off == c->stash_len);
}

/* After responses left the queue: write more, close when done, else let what waited in. */
static void conn_after_write(http_conn *c) {
    if (c->state != HTTP_CONN_OPEN) return;
    conn_flush(c);
    if (c->state != HTTP_CONN_OPEN) return;
    if (!c->qhead && !c->writing && conn_last_answered(c)) {
        conn_finish(c);
        return;
    }
    if (c->pumping)
        c->repump = true;
    else if (c->stash_off < c->stash_len && !c->no_more && !c->draining && conn_room(c))
        conn_schedule_pump(c);
    conn_update(c);
}

static void conn_write_cb(uv_write_t *w, int status) {
    http_conn *c = w->data;
    c->writing = false;
    if (c->state == HTTP_CONN_CLOSING) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->continue_writing) {
        c->continue_writing = false;
    } else {
        for (size_t i = 0; i < c->inflight; i++)
            conn_pop(c);
        c->inflight = 0;
    }
    conn_after_write(c);
}

bool http__conn_closing_after(const http_conn *c, const http_request *r) {
    return !r->keep_alive || (conn_last_answered(c) && r == c->qtail);
}

void http__conn_respond(http_conn *c, http_request *r, const char *head, size_t hlen,
                        const void *body, size_t blen) {
    if (!head || c->state != HTTP_CONN_OPEN) {
        conn_close(c); /* out of memory; r stays queued and is freed with the connection */
        return;
    }
    c->srv->stats.bytes_out += hlen + blen;
    size_t sent = 0;
    if (r == c->qhead && !c->writing) {
        /* The common case: written straight from the caller's memory, no copy. */
        uv_buf_t b[2] = {buf_of(head, hlen), buf_of(body, blen)};
        int n = uv_try_write(conn_stream(c), b, blen ? 2 : 1);
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        sent = n > 0 ? (size_t)n : 0;
        if (sent == hlen + blen) {
            conn_pop(c);
            conn_after_write(c);
            return;
        }
    }
    if (!conn_copy_out(r, head, hlen, body, blen, sent)) {
        conn_close(c);
        return;
    }
    conn_after_write(c);
}

/* ---- reading and parsing */

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    http_conn *c = h->data;
    /* One buffer for every connection: read_cb consumes or copies the bytes before returning. */
    *buf = buf_of(c->srv->readbuf, sizeof c->srv->readbuf);
}

static void conn_set_reading(http_conn *c, bool on) {
    if (on == c->reading || c->state == HTTP_CONN_CLOSING) return;
    if (on && uv_read_start(conn_stream(c), conn_alloc_cb, conn_read_cb) != 0) {
        conn_close(c);
        return;
    }
    if (!on) uv_read_stop(conn_stream(c));
    c->reading = on;
}

/* Parses buf[len] into queued requests while the queue has room. Returns the bytes consumed;
 * bytes after the last request of the connection count as consumed (they are dropped). */
static size_t conn_parse(http_conn *c, const char *buf, size_t len) {
    size_t off = 0;
    while (off < len && c->state == HTTP_CONN_OPEN && !c->no_more && conn_room(c)) {
        size_t used;
        http_request *r;
        http_parse_status st = http_reqparser_feed(&c->parser, buf + off, len - off, &used, &r);
        off += used;
        if (st == HTTP_PARSE_DONE) {
            c->head_since = 0;
            c->requests_seen++;
            c->srv->stats.requests++;
            if (!r->keep_alive) c->no_more = true;
            conn_enqueue(c, r);
        } else if (st == HTTP_PARSE_ERROR) {
            const http_parse_error *e = http_reqparser_error(&c->parser);
            conn_answer_error(c, e->status, e->slug, e->title, e->detail);
            return len;
        } else {
            off = len;
        }
    }
    if (c->no_more || c->state != HTTP_CONN_OPEN) return len;
    return off;
}

/* Keeps bytes that could not be parsed yet because the queue is full. */
static void conn_stash(http_conn *c, const char *data, size_t len) {
    size_t have = c->stash_len - c->stash_off;
    char *s = malloc(have + len);
    if (!s) {
        conn_close(c);
        return;
    }
    if (have) memcpy(s, c->stash + c->stash_off, have);
    memcpy(s + have, data, len);
    free(c->stash);
    c->stash = s;
    c->stash_off = 0;
    c->stash_len = have + len;
}

static void conn_dispatch(http_conn *c) {
    while (c->state == HTTP_CONN_OPEN && c->dispatch_next) {
        http_request *r = c->dispatch_next;
        c->dispatch_next = r->next;
        if (r->dispatched) continue;
        r->dispatched = true;
        c->srv->fn(c->srv->ctx, r); /* may answer, free r, even close the connection */
    }
}

/* Parses what waits (stash first, then `data`), hands new requests to the handler, and
 * updates reading and timers. Never recurses. */
static void conn_pump(http_conn *c, const char *data, size_t len) {
    if (c->pumping) {
        c->repump = true;
        return;
    }
    c->pumping = true;
    do {
        c->repump = false;
        if (data && c->stash_off < c->stash_len) { /* keep the byte order: behind the stash */
            conn_stash(c, data, len);
            data = NULL;
        }
        if (c->stash_off < c->stash_len && conn_room(c)) {
            c->stash_off += conn_parse(c, c->stash + c->stash_off, c->stash_len - c->stash_off);
            if (c->stash_off == c->stash_len) {
                free(c->stash);
                c->stash = NULL;
                c->stash_off = c->stash_len = 0;
            }
        }
        if (data && c->state == HTTP_CONN_OPEN) {
            size_t used = conn_parse(c, data, len);
            if (used < len && c->state == HTTP_CONN_OPEN) conn_stash(c, data + used, len - used);
            data = NULL;
        }
        conn_dispatch(c);
    } while (c->repump && c->state == HTTP_CONN_OPEN);
    c->pumping = false;
    conn_update(c);
}

static void conn_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    http_conn *c = s->data;
    if (c->state == HTTP_CONN_CLOSING) return;
    if (c->state != HTTP_CONN_OPEN) {
        /* lingering: drop what the client still sends */
        if (n < 0 || (c->linger_bytes += (size_t)n) > HTTP_LINGER_MAX_BYTES) conn_close(c);
        return;
    }
    if (n == 0) return;
    if (n < 0) {
        /* The client went away (or half-closed: treated alike, as nginx does). Answers already
         * made are still written; a request a handler holds makes the connection close now. */
        if (n != UV_EOF || !c->qhead) {
            conn_close(c);
            return;
        }
        for (http_request *r = c->qhead; r; r = r->next) {
            if (r->dispatched && !r->responded) {
                conn_close(c);
                return;
            }
        }
        c->peer_eof = true;
        conn_set_reading(c, false);
        return;
    }
    c->srv->stats.bytes_in += (uint64_t)n;
    if (c->no_more || c->draining) {
        /* No request is parsed any more; reading only watches for the client leaving. */
        if ((c->linger_bytes += (size_t)n) > HTTP_LINGER_MAX_BYTES) conn_close(c);
        return;
    }
    conn_pump(c, buf->base, (size_t)n);
}

/* ---- timers */

static void conn_set_deadline(http_conn *c, uint64_t d) {
    c->deadline = d;
    if (!d) return; /* a running timer fires, sees no deadline and stops */
    if (!uv_is_active((uv_handle_t *)&c->timer) || c->timer_due > d) {
        uint64_t now = uv_now(c->srv->loop);
        uv_timer_start(&c->timer, conn_timer_cb, d > now ? d - now : 0, 0);
        c->timer_due = d;
    }
}

static void conn_expired(http_conn *c) {
    if (c->state != HTTP_CONN_OPEN) {
        conn_close(c); /* lingering is over */
        return;
    }
    c->srv->stats.timeouts++;
    http_parse_phase ph = http_reqparser_phase(&c->parser);
    if (!c->writing && !c->no_more && (ph == HTTP_PHASE_HEAD || ph == HTTP_PHASE_BODY)) {
        conn_answer_error(c, 408, HTTP_PROBLEM_TIMEOUT, "Request timeout",
                          "The request did not arrive in time.");
        return;
    }
    conn_close(c); /* idle, never spoke, or not reading our answers */
}

static void conn_timer_cb(uv_timer_t *t) {
    http_conn *c = t->data;
    if (!c->deadline || c->state == HTTP_CONN_CLOSING) return;
    uint64_t now = uv_now(c->srv->loop);
    if (now < c->deadline) {
        uv_timer_start(&c->timer, conn_timer_cb, c->deadline - now, 0);
        c->timer_due = c->deadline;
        return;
    }
    c->deadline = 0;
    conn_expired(c);
}

static void conn_send_continue(http_conn *c) {
    http_reqparser_continue_done(&c->parser);
    uv_buf_t b = buf_of(continue_bytes, sizeof continue_bytes - 1);
    int n = uv_try_write(conn_stream(c), &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (n > 0 && (size_t)n == b.len) return;
    if (n > 0) {
        b.base += n;
        b.len -= (size_t)n;
    }
    c->wreq.data = c;
    if (uv_write(&c->wreq, conn_stream(c), &b, 1, conn_write_cb) != 0) {
        conn_close(c);
        return;
    }
    c->writing = true;
    c->continue_writing = true;
}

/* Decides reading, 100 Continue and the deadline from the connection's state. */
static void conn_update(http_conn *c) {
    if (c->state != HTTP_CONN_OPEN) return;
    bool more = !c->no_more && !c->draining && !c->peer_eof;
    /* Reading goes on while requests wait (a full queue, or after the last request), so that a
     * client that leaves is noticed and what its handlers hold is released: unparsed bytes are
     * kept up to HTTP_STASH_READ_BYTES, bytes after the last request are dropped. */
    conn_set_reading(c, !c->peer_eof &&
                            (!more || c->stash_len - c->stash_off < HTTP_STASH_READ_BYTES));
    if (c->state != HTTP_CONN_OPEN) return;
    /* 100 Continue goes out only when every earlier response is written. */
    if (more && http_reqparser_wants_continue(&c->parser) && !c->qhead && !c->writing) {
        conn_send_continue(c);
        if (c->state != HTTP_CONN_OPEN) return;
    }
    const http_server_config *cfg = &c->srv->cfg;
    uint64_t now = uv_now(c->srv->loop), d = 0;
    http_parse_phase ph = http_reqparser_phase(&c->parser);
    bool head = more && (ph == HTTP_PHASE_HEAD || (ph == HTTP_PHASE_IDLE && !c->requests_seen));
    if (head && !c->writing) {
        /* a head (or a new connection's first request) must be complete by a fixed time */
        if (!c->head_since) c->head_since = now;
        d = cfg->header_timeout_ms ? c->head_since + cfg->header_timeout_ms : 0;
    } else if (c->writing || (more && ph == HTTP_PHASE_BODY) || !c->qhead) {
        /* inactivity: a stalled reader, a stalled body, an idle keep-alive connection */
        d = cfg->idle_timeout_ms ? now + cfg->idle_timeout_ms : 0;
    }
    conn_set_deadline(c, d);
}

/* ---- accepting and stopping */

void http__conn_accept(http_server *s) {
    http_conn *c = calloc(1, sizeof *c);
    if (!c) return; /* libuv retries the accept on the next connection event */
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    c->rejected = s->nconns >= s->cfg.max_connections || s->stopping;
    if (c->rejected)
        s->nrejecting++;
    else
        s->nconns++;
    http_parse_limits lim = {
        .max_request_line = s->cfg.max_request_line,
        .max_header_bytes = s->cfg.max_header_bytes,
        .max_headers = s->cfg.max_headers,
        .max_body_bytes = s->cfg.max_body_bytes,
        .body_limit_fn = s->cfg.body_limit_fn,
        .body_limit_ctx = s->ctx,
    };
    http_reqparser_init(&c->parser, &lim);
    c->state = HTTP_CONN_OPEN;
    if (uv_accept((uv_stream_t *)&s->listener, conn_stream(c)) != 0) {
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->remote, sizeof c->remote);
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->remote, sizeof c->remote);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->rejected) {
        s->stats.connections_rejected++;
        if (s->nrejecting > HTTP_REJECT_EXTRA || s->stopping) {
            conn_close(c); /* a flood: not even an answer */
            return;
        }
        c->requests_seen = 1;
        conn_answer_error(c, 503, HTTP_PROBLEM_TOO_MANY_CONNECTIONS, "Too many connections",
                          "The server has too many open connections; retry later.");
        return;
    }
    s->stats.connections_accepted++;
    c->head_since = uv_now(s->loop);
    conn_update(c);
}

void http__conn_stop(http_conn *c) {
    c->draining = true;
    if (c->state == HTTP_CONN_CLOSING) return;
    if (c->state != HTTP_CONN_OPEN || !c->qhead) {
        conn_close(c); /* idle, half a request, or lingering */
        return;
    }
    c->no_more = true;
    conn_update(c); /* stops reading; the queue is answered, then the connection closes */
}
