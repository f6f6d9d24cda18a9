#include "tests/http/http_test_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

bool tc_connect(tc_conn *c, int port) {
    return tc_connect_rcvbuf(c, port, 0);
}

bool tc_connect_rcvbuf(tc_conn *c, int port, int rcvbuf) {
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return false;
    if (rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
}

void tc_close(tc_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

bool tc_send(tc_conn *c, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

bool tc_send_str(tc_conn *c, const char *s) {
    return tc_send(c, s, strlen(s));
}

/* Reads more bytes into the buffer. Returns bytes read, 0 on EOF, -1 on timeout or error. */
static ssize_t fill(tc_conn *c) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&pfd, 1, TC_TIMEOUT_MS);
    if (pr == 0) errno = ETIMEDOUT;
    if (pr <= 0) return -1;
    if (c->len + 4096 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8192;
        while (cap < c->len + 4096)
            cap *= 2;
        char *b = realloc(c->buf, cap);
        if (!b) return -1;
        c->buf = b;
        c->cap = cap;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n < 0) return -1;
    c->len += (size_t)n;
    return n;
}

typedef struct parse_state {
    tc_response *r;
    bool in_value;
    bool done;
    bool head;
} parse_state;

static char *append(char *s, const char *at, size_t len) {
    size_t old = s ? strlen(s) : 0;
    char *t = realloc(s, old + len + 1);
    if (!t) abort();
    memcpy(t + old, at, len);
    t[old + len] = '\0';
    return t;
}

static int on_field(http_parser *p, const char *at, size_t len) {
    parse_state *st = p->data;
    tc_response *r = st->r;
    if (st->in_value || r->nheaders == 0) {
        if (r->nheaders == TC_MAX_HEADERS) return -1;
        r->nheaders++;
        st->in_value = false;
    }
    r->names[r->nheaders - 1] = append(r->names[r->nheaders - 1], at, len);
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len) {
    parse_state *st = p->data;
    tc_response *r = st->r;
    st->in_value = true;
    r->values[r->nheaders - 1] = append(r->values[r->nheaders - 1], at, len);
    return 0;
}

static int on_headers_complete(http_parser *p) {
    parse_state *st = p->data;
    return st->head ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    parse_state *st = p->data;
    tc_response *r = st->r;
    r->body = realloc(r->body, r->body_len + len + 1);
    if (!r->body) abort();
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int on_complete(http_parser *p) {
    parse_state *st = p->data;
    st->done = true;
    st->r->status = (int)p->status_code;
    http_parser_pause(p, 1);
    return 0;
}

bool tc_read_response(tc_conn *c, tc_response *out) {
    memset(out, 0, sizeof *out);
    static const http_parser_settings settings = {
        .on_header_field = on_field,
        .on_header_value = on_value,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_complete,
    };
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    parse_state st = {.r = out, .head = c->head_response};
    c->head_response = false;
    p.data = &st;
    size_t fed = 0;
    for (;;) {
        if (fed < c->len) {
            size_t n = http_parser_execute(&p, &settings, c->buf + fed, c->len - fed);
            fed += n;
            if (st.done) {
                memmove(c->buf, c->buf + fed, c->len - fed);
                c->len -= fed;
                if (!out->body) out->body = append(NULL, "", 0);
                for (size_t i = 0; i < out->nheaders; i++)
                    if (!out->values[i]) out->values[i] = append(NULL, "", 0);
                return true;
            }
            if (HTTP_PARSER_ERRNO(&p) != HPE_OK) break;
        }
        if (fill(c) <= 0) break;
    }
    tc_response_free(out);
    return false;
}

void tc_response_free(tc_response *r) {
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->body);
    memset(r, 0, sizeof *r);
}

const char *tc_header(const tc_response *r, const char *name) {
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->names[i] && strcasecmp(r->names[i], name) == 0) return r->values[i];
    return NULL;
}

bool tc_wait_closed(tc_conn *c) {
    for (;;) {
        c->len = 0;
        ssize_t n = fill(c);
        if (n == 0) return true;
        if (n < 0) return errno == ECONNRESET;
    }
}
