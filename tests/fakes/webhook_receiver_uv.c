#include "tests/fakes/webhook_receiver_uv.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <http_parser.h>
#include <uv.h>

#include "broker/webhook/wh_sign.h"

/* Largest request body kept (econq sends at most 1 MiB); a larger one closes the connection. */
#define FAKE_WHRX_MAX_BODY (1024 * 1024)
/* Longest header name and value kept; longer ones are cut (only webhook-* headers matter). */
#define FAKE_WHRX_FIELD_MAX 32
#define FAKE_WHRX_VALUE_MAX WH_SIGNATURE_HEADER_MAX_CHARS

struct fake_whrx {
    uv_loop_t loop;
    uv_tcp_t server;
    uv_async_t stop;
    uv_thread_t thread;
    char *secret;
    int close_each;
    atomic_uint_fast64_t requests, verified, rejected;
};

typedef struct rx_conn {
    uv_tcp_t tcp;
    http_parser parser;
    fake_whrx *rx;
    char field[FAKE_WHRX_FIELD_MAX + 1];
    size_t field_len;
    char value[FAKE_WHRX_VALUE_MAX + 1];
    size_t value_len;
    int in_value;
    char id[WH_MSG_ID_MAX_CHARS + 1];
    char ts[32];
    char sig[FAKE_WHRX_VALUE_MAX + 1];
    char *body;
    size_t body_len, body_cap;
} rx_conn;

static const char rx_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char rx_answer_close[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

static void rx_append(char *dst, size_t *len, size_t max, const char *at, size_t n) {
    size_t room = max - *len;
    size_t k = n < room ? n : room;
    memcpy(dst + *len, at, k);
    *len += k;
    dst[*len] = '\0';
}

static void rx_copy(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Files the header collected so far under the webhook header it names, if any. */
static void rx_commit_header(rx_conn *c) {
    if (!c->in_value) return;
    if (strcasecmp(c->field, "webhook-id") == 0)
        rx_copy(c->id, sizeof c->id, c->value);
    else if (strcasecmp(c->field, "webhook-timestamp") == 0)
        rx_copy(c->ts, sizeof c->ts, c->value);
    else if (strcasecmp(c->field, "webhook-signature") == 0)
        rx_copy(c->sig, sizeof c->sig, c->value);
    c->field_len = c->value_len = 0;
    c->field[0] = c->value[0] = '\0';
    c->in_value = 0;
}

static int rx_on_message_begin(http_parser *p) {
    rx_conn *c = p->data;
    c->id[0] = c->ts[0] = c->sig[0] = '\0';
    c->field_len = c->value_len = 0;
    c->in_value = 0;
    c->body_len = 0;
    return 0;
}

static int rx_on_header_field(http_parser *p, const char *at, size_t n) {
    rx_conn *c = p->data;
    rx_commit_header(c);
    rx_append(c->field, &c->field_len, FAKE_WHRX_FIELD_MAX, at, n);
    return 0;
}

static int rx_on_header_value(http_parser *p, const char *at, size_t n) {
    rx_conn *c = p->data;
    c->in_value = 1;
    rx_append(c->value, &c->value_len, FAKE_WHRX_VALUE_MAX, at, n);
    return 0;
}

static int rx_on_headers_complete(http_parser *p) {
    rx_commit_header(p->data);
    return 0;
}

static int rx_on_body(http_parser *p, const char *at, size_t n) {
    rx_conn *c = p->data;
    if (c->body_len + n > FAKE_WHRX_MAX_BODY) return -1;
    if (c->body_len + n > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap * 2 : 1024;
        while (cap < c->body_len + n)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (b == NULL) return -1;
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, n);
    c->body_len += n;
    return 0;
}

static void rx_conn_closed_cb(uv_handle_t *h);

static void rx_write_cb(uv_write_t *req, int status) {
    (void)status;
    rx_conn *c = req->data;
    free(req);
    if (c->rx->close_each && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, rx_conn_closed_cb);
}

static int rx_on_message_complete(http_parser *p) {
    rx_conn *c = p->data;
    fake_whrx *rx = c->rx;
    if (rx->secret != NULL) {
        const char *secrets[] = {rx->secret};
        wh_delivery_headers h = {.id = c->id,
                                 .timestamp = c->ts,
                                 .signature = c->sig,
                                 .body = c->body,
                                 .body_len = c->body_len};
        if (wh_verify(&h, secrets, 1, (int64_t)time(NULL), WH_TOLERANCE_DEFAULT_S, NULL) == EQ_OK)
            atomic_fetch_add(&rx->verified, 1);
        else
            atomic_fetch_add(&rx->rejected, 1);
    }
    atomic_fetch_add(&rx->requests, 1);
    uv_write_t *req = malloc(sizeof *req);
    if (req == NULL) return -1;
    req->data = c;
    uv_buf_t buf = rx->close_each ? uv_buf_init((char *)rx_answer_close, sizeof rx_answer_close - 1)
                                  : uv_buf_init((char *)rx_answer, sizeof rx_answer - 1);
    if (uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, rx_write_cb) != 0) {
        free(req);
        return -1;
    }
    return 0;
}

static const http_parser_settings rx_settings = {
    .on_message_begin = rx_on_message_begin,
    .on_header_field = rx_on_header_field,
    .on_header_value = rx_on_header_value,
    .on_headers_complete = rx_on_headers_complete,
    .on_body = rx_on_body,
    .on_message_complete = rx_on_message_complete,
};

static void rx_conn_closed_cb(uv_handle_t *h) {
    rx_conn *c = h->data;
    free(c->body);
    free(c);
}

static void rx_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void rx_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    rx_conn *c = s->data;
    if (nread > 0) {
        size_t used = http_parser_execute(&c->parser, &rx_settings, buf->base, (size_t)nread);
        if (used != (size_t)nread || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) nread = UV_EPROTO;
    }
    free(buf->base);
    if (nread < 0 && !uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, rx_conn_closed_cb);
}

static void rx_connection_cb(uv_stream_t *server, int status) {
    fake_whrx *rx = server->data;
    if (status < 0) return;
    rx_conn *c = calloc(1, sizeof *c);
    if (c == NULL) return;
    c->rx = rx;
    uv_tcp_init(&rx->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, rx_conn_closed_cb);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, rx_alloc_cb, rx_read_cb);
}

static void rx_close_walk_cb(uv_handle_t *h, void *arg) {
    /* The server and the async handle carry the receiver; connections carry their rx_conn. */
    if (!uv_is_closing(h)) uv_close(h, h->data != arg ? rx_conn_closed_cb : NULL);
}

static void rx_stop_cb(uv_async_t *a) {
    fake_whrx *rx = a->data;
    uv_walk(&rx->loop, rx_close_walk_cb, rx);
}

static void rx_thread(void *arg) {
    fake_whrx *rx = arg;
    uv_run(&rx->loop, UV_RUN_DEFAULT);
}

eq_err fake_whrx_start(const char *secret, int close_each, fake_whrx **out, int *port) {
    fake_whrx *rx = calloc(1, sizeof *rx);
    if (rx == NULL) return EQ_ENOMEM;
    rx->close_each = close_each;
    if (secret != NULL && (rx->secret = strdup(secret)) == NULL) {
        free(rx);
        return EQ_ENOMEM;
    }
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_loop_init(&rx->loop) != 0) {
        free(rx->secret);
        free(rx);
        return EQ_EIO;
    }
    uv_tcp_init(&rx->loop, &rx->server);
    rx->server.data = rx;
    uv_async_init(&rx->loop, &rx->stop, rx_stop_cb);
    rx->stop.data = rx;
    if (uv_tcp_bind(&rx->server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&rx->server, 1024, rx_connection_cb) != 0 ||
        uv_tcp_getsockname(&rx->server, (struct sockaddr *)&bound, &len) != 0 ||
        uv_thread_create(&rx->thread, rx_thread, rx) != 0) {
        uv_close((uv_handle_t *)&rx->server, NULL);
        uv_close((uv_handle_t *)&rx->stop, NULL);
        uv_run(&rx->loop, UV_RUN_DEFAULT);
        uv_loop_close(&rx->loop);
        free(rx->secret);
        free(rx);
        return EQ_EIO;
    }
    *port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    *out = rx;
    return EQ_OK;
}

fake_whrx_counts fake_whrx_counts_get(fake_whrx *rx) {
    fake_whrx_counts c = {
        .requests = atomic_load(&rx->requests),
        .verified = atomic_load(&rx->verified),
        .rejected = atomic_load(&rx->rejected),
    };
    return c;
}

void fake_whrx_stop(fake_whrx *rx) {
    uv_async_send(&rx->stop);
    uv_thread_join(&rx->thread);
    uv_loop_close(&rx->loop);
    free(rx->secret);
    free(rx);
}
