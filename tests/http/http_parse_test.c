/* The request parser as a pure function: forms, limits, smuggling defences, incremental input. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static http_parse_limits limits(void) {
    return (http_parse_limits){
        .max_request_line = 64, .max_header_bytes = 256, .max_headers = 4, .max_body_bytes = 32};
}

/* Parses one complete request, failing the test otherwise. */
static http_request *parse_ok(const char *s) {
    http_parse_limits lim = limits();
    http_request *r = NULL;
    size_t used = 0;
    http_parse_error err = {0};
    http_parse_status st = http_parse_request(s, strlen(s), &lim, &r, &used, &err);
    ck_assert_msg(st == HTTP_PARSE_DONE, "status %d (%d %s) for %s", st, err.status,
                  err.detail ? err.detail : "", s);
    ck_assert_uint_eq(used, strlen(s));
    return r;
}

static int parse_err(const char *s, const char *slug) {
    http_parse_limits lim = limits();
    http_request *r = NULL;
    size_t used;
    http_parse_error err = {0};
    http_parse_status st = http_parse_request(s, strlen(s), &lim, &r, &used, &err);
    ck_assert_msg(st == HTTP_PARSE_ERROR, "no error for %s", s);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err.slug, slug);
    return err.status;
}

START_TEST(test_simple_request) {
    http_request *r = parse_ok("GET /v1/jobs/a%2Fb?wait=5&x=%41 HTTP/1.1\r\nHost: h\r\n"
                               "Accept:   application/json  \r\nX-Empty:\r\n\r\n");
    ck_assert_int_eq(http_request_method(r), HTTP_GET);
    ck_assert_str_eq(http_request_method_name(r), "GET");
    ck_assert_str_eq(http_request_path(r), "/v1/jobs/a/b");
    ck_assert_str_eq(http_request_query(r), "wait=5&x=%41");
    ck_assert_str_eq(http_request_header(r, "accept"), "application/json");
    ck_assert_str_eq(http_request_header(r, "HOST"), "h");
    ck_assert_str_eq(http_request_header(r, "x-empty"), "");
    ck_assert_ptr_null(http_request_header(r, "missing"));
    ck_assert_uint_eq(http_request_header_count(r), 3);
    char v[8];
    ck_assert_int_eq(http_request_query_param(r, "x", v, sizeof v), 1);
    ck_assert_str_eq(v, "A");
    ck_assert_int_eq(http_request_query_param(r, "wait", v, 2), 1);
    ck_assert_str_eq(v, "5");
    ck_assert_int_eq(http_request_query_param(r, "wait", v, 1), -1); /* no room */
    ck_assert_int_eq(http_request_query_param(r, "nope", v, sizeof v), 0);
    size_t blen;
    ck_assert_str_eq(http_request_body(r, &blen), "");
    ck_assert_uint_eq(blen, 0);
    ck_assert(r->keep_alive);
    ck_assert_str_eq(http_request_id(r), ""); /* the connection assigns one */
    http__request_free(r);
}
END_TEST

START_TEST(test_target_forms) {
    http_request *r = parse_ok("GET http://example.com/a/b?q=1#frag HTTP/1.1\r\n\r\n");
    ck_assert_str_eq(http_request_path(r), "/a/b");
    ck_assert_str_eq(http_request_query(r), "q=1");
    http__request_free(r);
    r = parse_ok("GET http://example.com HTTP/1.1\r\n\r\n");
    ck_assert_str_eq(http_request_path(r), "/");
    http__request_free(r);
    r = parse_ok("OPTIONS * HTTP/1.1\r\n\r\n");
    ck_assert_str_eq(http_request_path(r), "*");
    http__request_free(r);
    r = parse_ok("GET /x? HTTP/1.1\r\n\r\n");
    ck_assert_str_eq(http_request_path(r), "/x");
    ck_assert_str_eq(http_request_query(r), "");
    http__request_free(r);
    r = parse_ok("GET /%E2%82%AC+ HTTP/1.1\r\n\r\n");
    ck_assert_str_eq(http_request_path(r), "/\xe2\x82\xac+"); /* '+' is literal in paths */
    http__request_free(r);
    ck_assert_int_eq(parse_err("GET /a%2 HTTP/1.1\r\n\r\n", HTTP_PROBLEM_MALFORMED), 400);
    ck_assert_int_eq(parse_err("GET /a%00 HTTP/1.1\r\n\r\n", HTTP_PROBLEM_MALFORMED), 400);
}
END_TEST

START_TEST(test_query_params) {
    http_request *r = parse_ok("GET /?a=1&b=x+y%20z&c&d=&a=2&e%3D=k&f=%zz HTTP/1.1\r\n\r\n");
    char v[16];
    ck_assert_int_eq(http_request_query_param(r, "a", v, sizeof v), 1);
    ck_assert_str_eq(v, "1"); /* the first one */
    ck_assert_int_eq(http_request_query_param(r, "b", v, sizeof v), 1);
    ck_assert_str_eq(v, "x y z");
    ck_assert_int_eq(http_request_query_param(r, "c", v, sizeof v), 1);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(http_request_query_param(r, "d", v, sizeof v), 1);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(http_request_query_param(r, "e=", v, sizeof v), 1);
    ck_assert_str_eq(v, "k");
    ck_assert_int_eq(http_request_query_param(r, "f", v, sizeof v), -1);
    ck_assert_str_eq(v, "");
    /* a value that fits only once decoded */
    http__request_free(r);
    r = parse_ok("GET /?a=%41%42%43 HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(http_request_query_param(r, "a", v, 4), 1);
    ck_assert_str_eq(v, "ABC");
    ck_assert_int_eq(http_request_query_param(r, "a", v, 3), -1);
    http__request_free(r);
}
END_TEST

START_TEST(test_limits) {
    char req[512];
    char path[80];
    /* request-target: 64 bytes pass, 65 do not */
    memset(path, 'a', sizeof path);
    path[0] = '/';
    path[64] = '\0';
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n\r\n", path);
    http__request_free(parse_ok(req));
    path[64] = 'a';
    path[65] = '\0';
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n\r\n", path);
    ck_assert_int_eq(parse_err(req, HTTP_PROBLEM_URI_TOO_LONG), 414);
    /* header count: 4 pass, 5 do not */
    http__request_free(parse_ok("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"));
    ck_assert_int_eq(parse_err("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
                               HTTP_PROBLEM_HEADERS_TOO_LARGE),
                     431);
    /* header bytes (names + values): 256 pass, 257 do not */
    char val[300];
    memset(val, 'v', sizeof val);
    val[256 - 1] = '\0';
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX:%s\r\n\r\n", val);
    http__request_free(parse_ok(req));
    val[256 - 1] = 'v';
    val[256] = '\0';
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX:%s\r\n\r\n", val);
    ck_assert_int_eq(parse_err(req, HTTP_PROBLEM_HEADERS_TOO_LARGE), 431);
    /* body: 32 pass, 33 do not, whether announced or chunked */
    http_request *r = parse_ok("POST / HTTP/1.1\r\nContent-Length: 32\r\n\r\n"
                               "0123456789abcdef0123456789abcdef");
    size_t blen;
    ck_assert_str_eq(http_request_body(r, &blen), "0123456789abcdef0123456789abcdef");
    ck_assert_uint_eq(blen, 32);
    http__request_free(r);
    ck_assert_int_eq(
        parse_err("POST / HTTP/1.1\r\nContent-Length: 33\r\n\r\n", HTTP_PROBLEM_TOO_LARGE), 413);
    r = parse_ok("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
    ck_assert_str_eq(http_request_body(r, &blen), "0123456789abcdef0123456789abcdef");
    http__request_free(r);
    ck_assert_int_eq(parse_err("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "10\r\n0123456789abcdef\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n",
                               HTTP_PROBLEM_TOO_LARGE),
                     413);
    /* trailers count against the header bytes */
    snprintf(req, sizeof req,
             "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT:%s\r\n\r\n", val);
    ck_assert_int_eq(parse_err(req, HTTP_PROBLEM_HEADERS_TOO_LARGE), 431);
}
END_TEST

START_TEST(test_smuggling_and_garbage) {
    ck_assert_int_eq(
        parse_err("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                  HTTP_PROBLEM_MALFORMED),
        400);
    ck_assert_int_eq(
        parse_err("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                  HTTP_PROBLEM_MALFORMED),
        400);
    ck_assert_int_eq(
        parse_err("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", HTTP_PROBLEM_MALFORMED),
        400);
    ck_assert_int_eq(
        parse_err("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTP_PROBLEM_MALFORMED), 400);
    ck_assert_int_eq(parse_err("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", HTTP_PROBLEM_MALFORMED), 400);
    ck_assert_int_eq(parse_err("FOO / HTTP/1.1\r\n\r\n", HTTP_PROBLEM_MALFORMED), 400);
    ck_assert_int_eq(parse_err("GET / HTTP/2.0\r\n\r\n", HTTP_PROBLEM_VERSION), 505);
    ck_assert_int_eq(
        parse_err("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", HTTP_PROBLEM_MALFORMED), 400);
}
END_TEST

START_TEST(test_versions_and_ids) {
    http_request *r = parse_ok("GET / HTTP/1.0\r\n\r\n");
    ck_assert(!r->keep_alive);
    ck_assert_int_eq(http_request_http_minor(r), 0);
    http__request_free(r);
    r = parse_ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ck_assert(r->keep_alive);
    http__request_free(r);
    r = parse_ok("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    ck_assert(!r->keep_alive);
    http__request_free(r);
    r = parse_ok("GET / HTTP/1.1\r\nX-Request-Id: req_42.a:b-c\r\n\r\n");
    ck_assert_str_eq(http_request_id(r), "req_42.a:b-c");
    http__request_free(r);
    r = parse_ok("GET / HTTP/1.1\r\nX-Request-Id: has space\r\n\r\n");
    ck_assert_str_eq(http_request_id(r), "");
    http__request_free(r);
}
END_TEST

START_TEST(test_incremental_pipelined) {
    /* Three requests fed one byte at a time give the same results as in one piece. */
    const char *in = "POST /a?x=1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                     "PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Y: z\r\n\r\n"
                     "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                     "\r\nGET /c HTTP/1.1\r\n\r\n";
    static const char *paths[] = {"/a", "/b", "/c"};
    static const char *bodies[] = {"hello", "abcde", ""};
    for (size_t step = 1; step <= strlen(in); step = step * 2 + 1) {
        http_parse_limits lim = limits();
        http_reqparser p;
        http_reqparser_init(&p, &lim);
        size_t off = 0, n = 0, len = strlen(in);
        while (off < len) {
            size_t chunk = len - off < step ? len - off : step;
            size_t used;
            http_request *r;
            http_parse_status st = http_reqparser_feed(&p, in + off, chunk, &used, &r);
            ck_assert_int_ne(st, HTTP_PARSE_ERROR);
            off += used;
            if (st == HTTP_PARSE_DONE) {
                ck_assert_uint_lt(n, 3);
                ck_assert_str_eq(http_request_path(r), paths[n]);
                ck_assert_str_eq(http_request_body(r, NULL), bodies[n]);
                n++;
                http__request_free(r);
            } else {
                ck_assert_uint_eq(used, chunk);
            }
        }
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(http_reqparser_phase(&p), HTTP_PHASE_IDLE);
        http_reqparser_fini(&p);
    }
}
END_TEST

START_TEST(test_expect_continue) {
    http_parse_limits lim = limits();
    http_reqparser p;
    http_reqparser_init(&p, &lim);
    const char *head = "POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-Continue\r\n\r\n";
    size_t used;
    http_request *r;
    ck_assert_int_eq(http_reqparser_feed(&p, head, strlen(head), &used, &r), HTTP_PARSE_MORE);
    ck_assert(http_reqparser_wants_continue(&p));
    http_reqparser_continue_done(&p);
    ck_assert(!http_reqparser_wants_continue(&p));
    ck_assert_int_eq(http_reqparser_feed(&p, "abcd", 4, &used, &r), HTTP_PARSE_DONE);
    ck_assert_str_eq(http_request_body(r, NULL), "abcd");
    http__request_free(r);
    http_reqparser_fini(&p);
    /* a client that sends its body without waiting gets no 100 Continue */
    http_reqparser_init(&p, &lim);
    ck_assert_int_eq(http_reqparser_feed(&p, head, strlen(head), &used, &r), HTTP_PARSE_MORE);
    ck_assert(http_reqparser_wants_continue(&p));
    ck_assert_int_eq(http_reqparser_feed(&p, "ab", 2, &used, &r), HTTP_PARSE_MORE);
    ck_assert(!http_reqparser_wants_continue(&p));
    http_reqparser_fini(&p);
    ck_assert_int_eq(parse_err("POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: fancy\r\n\r\n",
                               HTTP_PROBLEM_EXPECTATION),
                     417);
    ck_assert_int_eq(
        parse_err("POST / HTTP/1.1\r\nContent-Length: 40\r\nExpect: 100-continue\r\n\r\n",
                  HTTP_PROBLEM_TOO_LARGE),
        413);
}
END_TEST

static size_t limit_by_path(void *ctx, const http_request *head) {
    *(int *)ctx += 1;
    if (strcmp(http_request_path(head), "/huge") == 0) return 300 * 1000;
    return strcmp(http_request_path(head), "/upload") == 0 ? 100 : 0;
}

START_TEST(test_body_limit_fn) {
    int calls = 0;
    http_parse_limits lim = limits();
    lim.body_limit_fn = limit_by_path;
    lim.body_limit_ctx = &calls;
    char req[256], body[101];
    memset(body, 'b', 100);
    body[100] = '\0';
    snprintf(req, sizeof req, "POST /upload HTTP/1.1\r\nContent-Length: 100\r\n\r\n%s", body);
    http_request *r;
    size_t used;
    http_parse_error err;
    ck_assert_int_eq(http_parse_request(req, strlen(req), &lim, &r, &used, &err), HTTP_PARSE_DONE);
    http__request_free(r);
    snprintf(req, sizeof req, "POST /other HTTP/1.1\r\nContent-Length: 100\r\n\r\n%s", body);
    ck_assert_int_eq(http_parse_request(req, strlen(req), &lim, &r, &used, &err), HTTP_PARSE_ERROR);
    ck_assert_int_eq(err.status, 413);
    ck_assert_int_eq(calls, 2);

    /* a body beyond the preallocation grows as it arrives, fed in uneven pieces */
    size_t n = 250 * 1000;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    http_reqparser p;
    http_reqparser_init(&p, &lim);
    snprintf(req, sizeof req, "PUT /huge HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
    ck_assert_int_eq(http_reqparser_feed(&p, req, strlen(req), &used, &r), HTTP_PARSE_MORE);
    size_t off = 0, step = 1000;
    http_parse_status st = HTTP_PARSE_MORE;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        st = http_reqparser_feed(&p, big + off, k, &used, &r);
        ck_assert_uint_eq(used, k);
        off += k;
        step = step * 3 / 2;
    }
    ck_assert_int_eq(st, HTTP_PARSE_DONE);
    size_t blen;
    const char *b = http_request_body(r, &blen);
    ck_assert_uint_eq(blen, n);
    ck_assert(memcmp(b, big, n) == 0);
    http__request_free(r);
    http_reqparser_fini(&p);
    free(big);
}
END_TEST

/* A deterministic mutation run over seed requests, through the fuzz entry, under ASan. */
START_TEST(test_fuzz_smoke) {
    static const char *seeds[] = {
        "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Big: 1\r\n\r\n",
        "POST /p HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhelloGET / "
        "HTTP/1.0\r\n\r\n",
        "PUT /u%20v HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nT: 1\r\n\r\n",
    };
    static const char dict[] = "\r\n:%?&=+ 0123456789aAzZ\x00\xff";
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    uint8_t buf[512];
    for (int iter = 0; iter < 6000; iter++) {
        const char *seed = seeds[iter % 3];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int muts = 1 + iter % 4;
        for (int m = 0; m < muts; m++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            size_t pos = (size_t)(rng % (len ? len : 1));
            switch ((rng >> 32) % 4) {
            case 0:
                buf[pos] = (uint8_t)dict[(rng >> 40) % (sizeof dict - 1)];
                break;
            case 1:
                if (len > 1) {
                    memmove(buf + pos, buf + pos + 1, len - pos - 1);
                    len--;
                }
                break;
            case 2:
                if (len < sizeof buf - 1) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = (uint8_t)(rng >> 48);
                    len++;
                }
                break;
            default:
                len = pos;
                break;
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("http_parse");
    TCase *tc = tcase_create("parse");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_simple_request);
    tcase_add_test(tc, test_target_forms);
    tcase_add_test(tc, test_query_params);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_smuggling_and_garbage);
    tcase_add_test(tc, test_versions_and_ids);
    tcase_add_test(tc, test_incremental_pipelined);
    tcase_add_test(tc, test_expect_continue);
    tcase_add_test(tc, test_body_limit_fn);
    tcase_add_test(tc, test_fuzz_smoke);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
