/* The listening socket, configuration and the server's life: start, accept, stop. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/http_internal.h"

#define HTTP_LISTEN_BACKLOG 511 /* pending connections the kernel keeps for accept() */

void http_server_config_defaults(http_server_config *c) {
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_connections = HTTP_MAX_CONNECTIONS;
    c->max_request_line = HTTP_MAX_REQUEST_LINE;
    c->max_header_bytes = HTTP_MAX_HEADER_BYTES;
    c->max_headers = HTTP_MAX_HEADERS;
    c->max_body_bytes = HTTP_MAX_BODY_BYTES;
    c->header_timeout_ms = HTTP_HEADER_TIMEOUT_MS;
    c->idle_timeout_ms = HTTP_IDLE_TIMEOUT_MS;
    c->max_pipelined = HTTP_MAX_PIPELINED;
}

static void server_maybe_done(http_server *s) {
    if (!s->stopping || s->open_handles || s->conns) return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s->host);
    free(s);
    if (done) done(arg);
}

void http__server_conn_gone(http_server *s, http_conn *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->rejected)
        s->nrejecting--;
    else
        s->nconns--;
    server_maybe_done(s);
}

static void server_connection_cb(uv_stream_t *listener, int status) {
    http_server *s = listener->data;
    if (status < 0 || s->stopping) return;
    http__conn_accept(s);
}

static void server_handle_close_cb(uv_handle_t *h) {
    http_server *s = h->data;
    s->open_handles--;
    server_maybe_done(s);
}

static eq_err server_bind(http_server *s) {
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    if (uv_ip4_addr(s->host, s->cfg.port, &addr.in4) != 0 &&
        uv_ip6_addr(s->host, s->cfg.port, &addr.in6) != 0)
        return EQ_EINVAL;
    if (uv_tcp_bind(&s->listener, &addr.sa, 0) != 0) return EQ_EIO;
    if (uv_listen((uv_stream_t *)&s->listener, HTTP_LISTEN_BACKLOG, server_connection_cb) != 0)
        return EQ_EIO;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0) return EQ_EIO;
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    return EQ_OK;
}

static void server_free_on_close(uv_handle_t *h) {
    http_server *s = h->data;
    if (--s->open_handles == 0) free(s);
}

eq_err http_server_start(uv_loop_t *loop, const http_server_config *cfg, http_handler_fn fn,
                         void *ctx, http_server **out) {
    *out = NULL;
    if (!loop || !cfg || !fn || !cfg->host || cfg->port < 0 || cfg->port > 65535 ||
        cfg->max_pipelined == 0 || cfg->max_connections == 0 || cfg->max_request_line == 0 ||
        cfg->max_header_bytes == 0 || cfg->max_request_line > UINT32_MAX / 4 ||
        cfg->max_header_bytes > UINT32_MAX / 4 || cfg->max_headers > UINT32_MAX / 8)
        return EQ_EINVAL; /* the head is indexed with 32-bit offsets */
    http_server *s = calloc(1, sizeof *s);
    if (!s) return EQ_ENOMEM;
    s->host = strdup(cfg->host);
    if (!s->host) {
        free(s);
        return EQ_ENOMEM;
    }
    /* A write to a connection the client reset would otherwise kill the process: libuv writes
     * with write(2), not send(MSG_NOSIGNAL). Process-wide, idempotent, and what every server
     * wants; errors then come back as EPIPE and close the connection. */
    signal(SIGPIPE, SIG_IGN);
    s->loop = loop;
    s->cfg = *cfg;
    s->cfg.host = s->host;
    s->fn = fn;
    s->ctx = ctx;
    s->date_sec = -1;
    if (uv_random(NULL, NULL, &s->id_prefix, sizeof s->id_prefix, 0, NULL) != 0)
        s->id_prefix = (uint32_t)uv_hrtime();
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    uv_idle_init(loop, &s->pump_idle);
    s->pump_idle.data = s;
    s->open_handles = 2;
    eq_err err = server_bind(s);
    if (err) {
        free(s->host);
        uv_close((uv_handle_t *)&s->listener, server_free_on_close);
        uv_close((uv_handle_t *)&s->pump_idle, server_free_on_close);
        return err;
    }
    *out = s;
    return EQ_OK;
}

int http_server_port(const http_server *s) {
    return s->port;
}

size_t http_server_connections(const http_server *s) {
    return s->nconns;
}

void http_server_stats_get(const http_server *s, http_server_stats *out) {
    *out = s->stats;
}

void http_server_stop(http_server *s, void (*done)(void *arg), void *arg) {
    if (s->stopping) return;
    s->stopping = true;
    s->done = done;
    s->done_arg = arg;
    uv_close((uv_handle_t *)&s->listener, server_handle_close_cb);
    uv_close((uv_handle_t *)&s->pump_idle, server_handle_close_cb);
    while (s->pump_list) { /* draining connections parse nothing more */
        http_conn *c = s->pump_list;
        s->pump_list = c->pump_next;
        c->pump_next = NULL;
        c->pump_scheduled = false;
    }
    http_conn *c = s->conns;
    while (c) {
        http_conn *next = c->next; /* closing frees nothing before the close callbacks */
        http__conn_stop(c);
        c = next;
    }
}
