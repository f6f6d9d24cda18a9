/* The HTTP server over real sockets: a server on port 0 on a loop thread, raw-socket clients. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/http/http_harness.h"
#include "tests/http/http_test_client.h"

static harness H;

static void start_default(void) {
    http_server_config cfg;
    harness_config(&cfg);
    harness_start(&H, &cfg);
}

static void connect_ok(tc_conn *c) {
    ck_assert_msg(tc_connect(c, H.port), "connect to %d", H.port);
}

/* Sends `req` and reads one response with the expected status. */
static void roundtrip(tc_conn *c, const char *req, int status, tc_response *out) {
    ck_assert(tc_send_str(c, req));
    ck_assert_msg(tc_read_response(c, out), "no response to %s", req);
    ck_assert_int_eq(out->status, status);
}

static void check_problem(const tc_response *r, int status, const char *slug) {
    ck_assert_int_eq(r->status, status);
    ck_assert_str_eq(tc_header(r, "Content-Type"), "application/problem+json");
    cJSON *o = cJSON_Parse(r->body);
    ck_assert_ptr_nonnull(o);
    char type[96];
    snprintf(type, sizeof type, "/problems/%s", slug);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "type")->valuestring, type);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "status")->valueint, status);
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(o, "title"));
    cJSON_Delete(o);
}

static cJSON *json_body(const tc_response *r) {
    cJSON *o = cJSON_Parse(r->body);
    ck_assert_msg(o != NULL, "not JSON: %s", r->body);
    return o;
}

static const char *jstr(cJSON *o, const char *k) {
    cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A server that still answers a fresh connection. */
static void check_still_serving(void) {
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    roundtrip(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    ck_assert_str_eq(r.body, "hello");
    tc_response_free(&r);
    tc_close(&c);
}

START_TEST(test_get) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    roundtrip(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    ck_assert_str_eq(r.body, "hello");
    ck_assert_str_eq(tc_header(&r, "Content-Length"), "5");
    ck_assert_str_eq(tc_header(&r, "Content-Type"), "text/plain");
    ck_assert_ptr_nonnull(tc_header(&r, "Date"));
    ck_assert_int_gt(strlen(tc_header(&r, "X-Request-Id")), 8);
    ck_assert_ptr_null(tc_header(&r, "Connection"));
    tc_response_free(&r);
    /* HEAD: same headers, no body */
    c.head_response = true;
    roundtrip(&c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    ck_assert_str_eq(tc_header(&r, "Content-Length"), "5");
    tc_response_free(&r);
    /* a 404 problem from the handler, then the client's own request id is echoed */
    roundtrip(&c, "GET /nope HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123\r\n\r\n", 404, &r);
    check_problem(&r, 404, "not-found");
    ck_assert_str_eq(tc_header(&r, "Cache-Control"), "no-store");
    cJSON *p404 = json_body(&r);
    ck_assert_str_eq(jstr(p404, "path"), "/nope");
    ck_assert_ptr_null(cJSON_GetObjectItem(p404, "detail"));
    cJSON_Delete(p404);
    ck_assert_str_eq(tc_header(&r, "X-Request-Id"), "abc-123");
    tc_response_free(&r);
    /* a handler's malformed header or status becomes a 500, never reaches the wire */
    roundtrip(&c, "GET /badheader HTTP/1.1\r\nHost: t\r\n\r\n", 500, &r);
    check_problem(&r, 500, "internal-error");
    ck_assert_ptr_null(tc_header(&r, "Injected"));
    tc_response_free(&r);
    roundtrip(&c, "GET /badstatus HTTP/1.1\r\nHost: t\r\n\r\n", 500, &r);
    check_problem(&r, 500, "internal-error");
    tc_response_free(&r);
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_keepalive_two_requests) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    roundtrip(&c, "GET /echo?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    cJSON *o = json_body(&r);
    ck_assert_str_eq(jstr(o, "x"), "1");
    char id1[80];
    snprintf(id1, sizeof id1, "%s", tc_header(&r, "X-Request-Id"));
    ck_assert_str_eq(jstr(o, "id"), id1);
    ck_assert_str_eq(jstr(o, "remote"), "127.0.0.1");
    ck_assert_str_eq(tc_header(&r, "X-Echo"), "yes");
    cJSON_Delete(o);
    tc_response_free(&r);
    roundtrip(&c, "GET /echo?x=2 HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    o = json_body(&r);
    ck_assert_str_eq(jstr(o, "x"), "2");
    ck_assert_str_ne(tc_header(&r, "X-Request-Id"), id1);
    cJSON_Delete(o);
    tc_response_free(&r);
    harness_cmd(&H, CMD_QUERY);
    ck_assert_uint_eq(H.conns, 1);
    ck_assert_uint_eq(H.stats.requests, 2);
    ck_assert_uint_eq(H.stats.connections_accepted, 1);
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_pipelined_answered_in_reverse) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    const char *three = "GET /defer?n=3&i=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                        "GET /defer?n=3&i=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                        "GET /defer?n=3&i=3 HTTP/1.1\r\nHost: t\r\n\r\n";
    ck_assert(tc_send_str(&c, three));
    for (int i = 1; i <= 3; i++) {
        char want[32];
        snprintf(want, sizeof want, "n=3&i=%d", i);
        ck_assert(tc_read_response(&c, &r));
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, want);
        tc_response_free(&r);
    }
    /* the connection is still usable */
    roundtrip(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    tc_response_free(&r);
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_pipelined_beyond_queue_limit) {
    http_server_config cfg;
    harness_config(&cfg);
    cfg.max_pipelined = 2; /* reading pauses after 2; the rest waits unparsed */
    harness_start(&H, &cfg);
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    char req[2048] = "";
    for (int i = 1; i <= 6; i++) {
        char one[96];
        snprintf(one, sizeof one, "GET /defer?n=2&i=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        strcat(req, one);
    }
    ck_assert(tc_send_str(&c, req));
    for (int i = 1; i <= 6; i++) {
        char want[32];
        snprintf(want, sizeof want, "n=2&i=%d", i);
        ck_assert(tc_read_response(&c, &r));
        ck_assert_str_eq(r.body, want);
        tc_response_free(&r);
    }
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_chunked_body) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    roundtrip(&c,
              "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
              200, &r);
    cJSON *o = json_body(&r);
    ck_assert_str_eq(jstr(o, "body"), "hello world");
    ck_assert_int_eq(cJSON_GetObjectItem(o, "body_len")->valueint, 11);
    cJSON_Delete(o);
    tc_response_free(&r);
    /* chunked beyond the limit: 413, then the connection closes */
    char big[6000];
    memset(big, 'a', sizeof big);
    ck_assert(tc_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "1770\r\n"));
    ck_assert(tc_send(&c, big, sizeof big));
    ck_assert(tc_read_response(&c, &r));
    check_problem(&r, 413, "payload-too-large");
    ck_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_expect_continue) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    char body[2000];
    memset(body, 'b', sizeof body);
    ck_assert(tc_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n"
                              "Expect: 100-continue\r\n\r\n"));
    ck_assert(tc_read_response(&c, &r));
    ck_assert_int_eq(r.status, 100);
    tc_response_free(&r);
    ck_assert(tc_send(&c, body, sizeof body));
    ck_assert(tc_read_response(&c, &r));
    ck_assert_int_eq(r.status, 200);
    cJSON *o = json_body(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "body_len")->valueint, 2000);
    cJSON_Delete(o);
    tc_response_free(&r);
    /* over the limit: 413 at once, the body is never read */
    roundtrip(&c,
              "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
              "Expect: 100-continue\r\n\r\n",
              413, &r);
    check_problem(&r, 413, "payload-too-large");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    /* an unknown expectation: 417 */
    connect_ok(&c);
    roundtrip(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\n",
              417, &r);
    check_problem(&r, 417, "expectation-failed");
    tc_response_free(&r);
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_uri_too_long) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    char req[4096];
    char path[2000];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    snprintf(req, sizeof req, "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    roundtrip(&c, req, 414, &r);
    check_problem(&r, 414, "uri-too-long");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    check_still_serving();
    harness_stop(&H);
}
END_TEST

START_TEST(test_headers_too_large) {
    start_default();
    tc_conn c;
    tc_response r;
    char req[8192];
    char val[3000];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    connect_ok(&c);
    snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", val);
    roundtrip(&c, req, 431, &r);
    check_problem(&r, 431, "header-fields-too-large");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    /* too many fields */
    connect_ok(&c);
    strcpy(req, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 25; i++) {
        char h[32];
        snprintf(h, sizeof h, "X-H%d: %d\r\n", i, i);
        strcat(req, h);
    }
    strcat(req, "\r\n");
    roundtrip(&c, req, 431, &r);
    check_problem(&r, 431, "header-fields-too-large");
    tc_response_free(&r);
    tc_close(&c);
    check_still_serving();
    harness_stop(&H);
}
END_TEST

START_TEST(test_body_too_large) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    /* the client starts sending its body; the server answers from the head alone */
    char body[3000];
    memset(body, 'x', sizeof body);
    ck_assert(tc_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"));
    ck_assert(tc_send(&c, body, sizeof body));
    ck_assert(tc_read_response(&c, &r));
    check_problem(&r, 413, "payload-too-large");
    ck_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_response_free(&r);
    tc_close(&c);
    check_still_serving();
    /* body_limit_fn raises the limit for /big */
    connect_ok(&c);
    char *big = malloc(20000);
    memset(big, 'y', 20000);
    ck_assert(tc_send_str(&c, "PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n"));
    ck_assert(tc_send(&c, big, 20000));
    free(big);
    ck_assert(tc_read_response(&c, &r));
    ck_assert_int_eq(r.status, 200);
    cJSON *o = json_body(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "body_len")->valueint, 20000);
    cJSON_Delete(o);
    tc_response_free(&r);
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_malformed) {
    start_default();
    static const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        "GET /hello HTTP/1.1\r\nBad Header: x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_conn c;
        tc_response r;
        connect_ok(&c);
        ck_assert(tc_send_str(&c, bad[i]));
        ck_assert(tc_read_response(&c, &r));
        ck_assert_msg(r.status == 400, "%d for %s", r.status, bad[i]);
        check_problem(&r, 400, "malformed-request");
        tc_response_free(&r);
        ck_assert_msg(tc_wait_closed(&c), "not closed after %s", bad[i]);
        tc_close(&c);
    }
    /* a good request before a bad one on the same connection is still answered first */
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    ck_assert(tc_send_str(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/9.9\r\n\r\n"));
    ck_assert(tc_read_response(&c, &r));
    ck_assert_int_eq(r.status, 200);
    tc_response_free(&r);
    ck_assert(tc_read_response(&c, &r));
    check_problem(&r, 505, "http-version-not-supported");
    tc_response_free(&r);
    tc_close(&c);
    harness_cmd(&H, CMD_QUERY);
    ck_assert_uint_eq(H.stats.client_errors, sizeof bad / sizeof bad[0] + 1);
    harness_stop(&H);
}
END_TEST

START_TEST(test_slow_client_timeout) {
    http_server_config cfg;
    harness_config(&cfg);
    cfg.header_timeout_ms = 300;
    harness_start(&H, &cfg);
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    ck_assert(tc_send_str(&c, "GET /hel"));
    ck_assert(tc_read_response(&c, &r)); /* arrives after header_timeout */
    check_problem(&r, 408, "request-timeout");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    /* a connection that never speaks is closed without an answer */
    connect_ok(&c);
    ck_assert(tc_wait_closed(&c));
    ck_assert_uint_eq(c.len, 0);
    tc_close(&c);
    /* a keep-alive connection between requests is not subject to the header timeout alone:
     * the next request after a pause under the timeout still works */
    connect_ok(&c);
    roundtrip(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    tc_response_free(&r);
    roundtrip(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    tc_response_free(&r);
    tc_close(&c);
    harness_cmd(&H, CMD_QUERY);
    ck_assert_uint_ge(H.stats.timeouts, 2);
    harness_stop(&H);
}
END_TEST

START_TEST(test_max_connections) {
    http_server_config cfg;
    harness_config(&cfg);
    cfg.max_connections = 2;
    harness_start(&H, &cfg);
    tc_conn a, b, c;
    tc_response r;
    connect_ok(&a);
    connect_ok(&b);
    roundtrip(&a, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    tc_response_free(&r);
    roundtrip(&b, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    tc_response_free(&r);
    connect_ok(&c);
    ck_assert(tc_read_response(&c, &r)); /* answered without a request */
    check_problem(&r, 503, "too-many-connections");
    ck_assert_str_eq(tc_header(&r, "Retry-After"), "1");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    harness_cmd(&H, CMD_QUERY);
    ck_assert_uint_eq(H.conns, 2);
    ck_assert_uint_eq(H.stats.connections_rejected, 1);
    /* once one closes, a new connection is served */
    tc_close(&a);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        connect_ok(&c);
        ck_assert(tc_send_str(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
        ck_assert(tc_read_response(&c, &r));
        ok = r.status == 200;
        tc_response_free(&r);
        tc_close(&c);
        if (!ok) usleep(20000); /* the server has not seen the close yet */
    }
    ck_assert(ok);
    tc_close(&b);
    harness_stop(&H);
}
END_TEST

START_TEST(test_query_and_path_decoding) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    roundtrip(&c,
              "GET /echo/a%20b?y=&x=a%20b+c%26d&z HTTP/1.1\r\nHost: t\r\nX-Test:  spaced  \r\n\r\n",
              200, &r);
    cJSON *o = json_body(&r);
    ck_assert_str_eq(jstr(o, "path"), "/echo/a b");
    ck_assert_str_eq(jstr(o, "query"), "y=&x=a%20b+c%26d&z");
    ck_assert_str_eq(jstr(o, "x"), "a b c&d");
    ck_assert_str_eq(jstr(o, "x_test"), "spaced");
    cJSON_Delete(o);
    tc_response_free(&r);
    roundtrip(&c, "GET /echo?x=%zz HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    o = json_body(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "x_rc")->valueint, -1);
    cJSON_Delete(o);
    tc_response_free(&r);
    roundtrip(&c, "GET /echo?%78=encoded-key HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    o = json_body(&r);
    ck_assert_str_eq(jstr(o, "x"), "encoded-key");
    cJSON_Delete(o);
    tc_response_free(&r);
    roundtrip(&c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    o = json_body(&r);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "x_rc")->valueint, 0);
    ck_assert_ptr_null(cJSON_GetObjectItem(o, "query"));
    cJSON_Delete(o);
    tc_response_free(&r);
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_client_closes_while_held) {
    start_default();
    tc_conn c;
    connect_ok(&c);
    ck_assert(tc_send_str(&c, "GET /hold?watch=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
    harness_wait_held(&H, 1);
    tc_close(&c);
    harness_wait_held_closed(&H, 1); /* http_respond() on it only freed it */
    check_still_serving();
    harness_stop(&H);
}
END_TEST

START_TEST(test_on_close_notification) {
    start_default();
    tc_conn c, other;
    tc_response r;
    connect_ok(&c);
    /* two held requests on one connection; the client leaves; each handler is told once */
    ck_assert(tc_send_str(&c, "GET /hold?notify=1&i=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /hold?notify=1&i=2 HTTP/1.1\r\nHost: t\r\n\r\n"));
    harness_wait_held(&H, 2);
    tc_close(&c);
    harness_wait_held_closed(&H, 2);
    /* the same when a bad request queued behind the held one ended parsing: the client's
     * leaving is still noticed */
    connect_ok(&c);
    ck_assert(tc_send_str(&c, "GET /hold?notify=1&i=9 HTTP/1.1\r\nHost: t\r\n\r\nBROKEN\r\n\r\n"));
    harness_wait_held(&H, 3);
    ck_assert(tc_send_str(&c, "more bytes after the bad request are dropped"));
    tc_close(&c);
    harness_wait_held_closed(&H, 3);
    /* a held request answered before its client leaves is not notified */
    connect_ok(&other);
    ck_assert(tc_send_str(&other, "GET /hold?notify=1&i=3 HTTP/1.1\r\nHost: t\r\n\r\n"));
    harness_wait_held(&H, 4);
    harness_cmd(&H, CMD_QUERY);
    harness_cmd(&H, CMD_RESPOND_HELD);
    ck_assert(tc_read_response(&other, &r));
    ck_assert_str_eq(r.body, "notify=1&i=3");
    tc_response_free(&r);
    tc_close(&other);
    check_still_serving();
    harness_stop(&H);
}
END_TEST

START_TEST(test_http10_and_connection_close) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    roundtrip(&c, "GET /hello HTTP/1.0\r\n\r\n", 200, &r);
    ck_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    connect_ok(&c);
    roundtrip(&c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, &r);
    ck_assert_str_eq(tc_header(&r, "Connection"), "keep-alive");
    tc_response_free(&r);
    roundtrip(&c, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200, &r);
    ck_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

START_TEST(test_stop_answers_inflight) {
    start_default();
    tc_conn c, idle;
    tc_response r;
    connect_ok(&idle);
    roundtrip(&idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    tc_response_free(&r);
    connect_ok(&c);
    ck_assert(tc_send_str(&c, "GET /hold?i=7 HTTP/1.1\r\nHost: t\r\n\r\n"));
    harness_wait_held(&H, 1);
    pthread_mutex_lock(&H.mu);
    H.cmd = CMD_STOP;
    uv_async_send(&H.async);
    pthread_mutex_unlock(&H.mu);
    ck_assert(tc_wait_closed(&idle)); /* idle connections go at once */
    tc_close(&idle);
    harness_cmd(&H, CMD_RESPOND_HELD);
    ck_assert(tc_read_response(&c, &r));
    ck_assert_str_eq(r.body, "i=7");
    ck_assert_str_eq(tc_header(&r, "Connection"), "close");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    uv_thread_join(&H.thread);
    ck_assert(H.stopped);
    ck_assert_int_eq(uv_loop_close(&H.loop), 0);
}
END_TEST

START_TEST(test_bytewise_request) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    const char *req = "POST /echo?x=q HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody";
    for (const char *p = req; *p; p++)
        ck_assert(tc_send(&c, p, 1));
    ck_assert(tc_read_response(&c, &r));
    ck_assert_int_eq(r.status, 200);
    cJSON *o = json_body(&r);
    ck_assert_str_eq(jstr(o, "body"), "body");
    ck_assert_str_eq(jstr(o, "method"), "POST");
    cJSON_Delete(o);
    tc_response_free(&r);
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

static void check_large_body(const tc_response *r, size_t n) {
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->body_len, n);
    for (size_t i = 0; i < n; i++)
        if (r->body[i] != (char)('a' + i % 26)) ck_abort_msg("byte %zu differs", i);
}

START_TEST(test_large_responses_pipelined) {
    start_default();
    tc_conn c;
    tc_response r;
    connect_ok(&c);
    /* bigger than the socket takes at once: the rest is copied once and written by uv_write,
     * and the small responses behind it wait their turn */
    ck_assert(tc_send_str(&c, "GET /large?n=6000000 HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /large?n=3000000 HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
    ck_assert(tc_read_response(&c, &r));
    check_large_body(&r, 6000000);
    tc_response_free(&r);
    ck_assert(tc_read_response(&c, &r));
    ck_assert_str_eq(r.body, "hello");
    tc_response_free(&r);
    ck_assert(tc_read_response(&c, &r));
    check_large_body(&r, 3000000);
    tc_response_free(&r);
    ck_assert(tc_read_response(&c, &r));
    ck_assert_str_eq(r.body, "hello");
    tc_response_free(&r);
    tc_close(&c);
    harness_stop(&H);
}
END_TEST

/* Polls the server until it has `n` connections (or fails after 5 s). */
static void wait_conns(size_t n) {
    for (int i = 0; i < 250; i++) {
        harness_cmd(&H, CMD_QUERY);
        if (H.conns == n) return;
        usleep(20000);
    }
    ck_abort_msg("server keeps %zu connections, want %zu", H.conns, n);
}

START_TEST(test_idle_and_stall_timeouts) {
    http_server_config cfg;
    harness_config(&cfg);
    cfg.idle_timeout_ms = 300;
    harness_start(&H, &cfg);
    tc_conn c;
    tc_response r;
    /* an idle keep-alive connection is closed, without an answer */
    connect_ok(&c);
    roundtrip(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    ck_assert_uint_eq(c.len, 0);
    tc_close(&c);
    /* a body that stops arriving: 408 */
    connect_ok(&c);
    ck_assert(tc_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
    ck_assert(tc_read_response(&c, &r));
    check_problem(&r, 408, "request-timeout");
    tc_response_free(&r);
    ck_assert(tc_wait_closed(&c));
    tc_close(&c);
    /* a client that never reads a large answer: the stalled write is given up */
    ck_assert(tc_connect_rcvbuf(&c, H.port, 4096));
    ck_assert(tc_send_str(&c, "GET /large?n=16000000 HTTP/1.1\r\nHost: t\r\n\r\n"));
    wait_conns(0);
    tc_close(&c);
    harness_cmd(&H, CMD_QUERY);
    ck_assert_uint_ge(H.stats.timeouts, 3);
    harness_stop(&H);
}
END_TEST

START_TEST(test_release_from_other_connection) {
    http_server_config cfg;
    harness_config(&cfg);
    cfg.max_pipelined = 2;
    harness_start(&H, &cfg);
    tc_conn a, b;
    tc_response r;
    connect_ok(&b);
    /* four held requests, two at a time: the other two wait unparsed */
    ck_assert(tc_send_str(&b, "GET /defer?n=99&i=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /defer?n=99&i=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /defer?n=99&i=3 HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /defer?n=99&i=4 HTTP/1.1\r\nHost: t\r\n\r\n"));
    harness_wait_held(&H, 2);
    connect_ok(&a);
    roundtrip(&a, "GET /release HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    ck_assert_str_eq(r.body, "2");
    tc_response_free(&r);
    harness_wait_held(&H, 4); /* the waiting two were parsed after the answers */
    roundtrip(&a, "GET /release HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    ck_assert_str_eq(r.body, "2");
    tc_response_free(&r);
    for (int i = 1; i <= 4; i++) {
        char want[32];
        snprintf(want, sizeof want, "n=99&i=%d", i);
        ck_assert(tc_read_response(&b, &r));
        ck_assert_str_eq(r.body, want);
        tc_response_free(&r);
    }
    tc_close(&a);
    tc_close(&b);
    harness_stop(&H);
}
END_TEST

int main(void) {
    Suite *s = suite_create("http_server");
    TCase *tc = tcase_create("server");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_get);
    tcase_add_test(tc, test_keepalive_two_requests);
    tcase_add_test(tc, test_pipelined_answered_in_reverse);
    tcase_add_test(tc, test_pipelined_beyond_queue_limit);
    tcase_add_test(tc, test_chunked_body);
    tcase_add_test(tc, test_expect_continue);
    tcase_add_test(tc, test_uri_too_long);
    tcase_add_test(tc, test_headers_too_large);
    tcase_add_test(tc, test_body_too_large);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_slow_client_timeout);
    tcase_add_test(tc, test_max_connections);
    tcase_add_test(tc, test_query_and_path_decoding);
    tcase_add_test(tc, test_client_closes_while_held);
    tcase_add_test(tc, test_on_close_notification);
    tcase_add_test(tc, test_http10_and_connection_close);
    tcase_add_test(tc, test_stop_answers_inflight);
    tcase_add_test(tc, test_bytewise_request);
    tcase_add_test(tc, test_large_responses_pipelined);
    tcase_add_test(tc, test_idle_and_stall_timeouts);
    tcase_add_test(tc, test_release_from_other_connection);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
