/* A small blocking HTTP/1.1 client over raw sockets, for the http server's tests only.
 * Responses are parsed with http_parser; pipelined responses stay buffered in the connection. */
#ifndef ECONQ_TESTS_HTTP_HTTP_TEST_CLIENT_H
#define ECONQ_TESTS_HTTP_HTTP_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define TC_TIMEOUT_MS 5000 /* every blocking read gives up after this */
#define TC_MAX_HEADERS 32

typedef struct tc_conn {
    int fd;
    char *buf; /* received, not yet consumed */
    size_t len, cap;
    bool head_response; /* the next response answers a HEAD: no body (reset after reading) */
} tc_conn;

typedef struct tc_response {
    int status;
    size_t nheaders;
    char *names[TC_MAX_HEADERS];
    char *values[TC_MAX_HEADERS];
    char *body; /* NUL-terminated */
    size_t body_len;
} tc_response;

/* Connects to 127.0.0.1:port. Returns false on failure. */
bool tc_connect(tc_conn *c, int port);
/* Same with a small receive buffer (bytes), to make the server's writes stall. */
bool tc_connect_rcvbuf(tc_conn *c, int port, int rcvbuf);
void tc_close(tc_conn *c);
bool tc_send(tc_conn *c, const void *data, size_t len);
bool tc_send_str(tc_conn *c, const char *s);
/* Reads one response (a 100 Continue counts as one). Returns false on EOF, timeout or garbage. */
bool tc_read_response(tc_conn *c, tc_response *out);
void tc_response_free(tc_response *r);
const char *tc_header(const tc_response *r, const char *name);
/* True when the server closes the connection (EOF or reset) within the timeout, after
 * discarding anything else it sends. */
bool tc_wait_closed(tc_conn *c);

#endif
