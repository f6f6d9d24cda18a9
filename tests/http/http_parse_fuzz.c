/* Fuzz entry for the request parser (api/http/http_parse.c). Built into http_parse_test as a
 * deterministic mutation smoke test; link it with -fsanitize=fuzzer (clang) for libFuzzer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_limit(void *ctx, const http_request *head) {
    return http_request_header(head, "x-big") ? 8192 : 0;
}

/* Feeds `data` to one parser in pieces of `step` bytes and checks the parser's promises. */
static void run(const uint8_t *data, size_t size, size_t step) {
    http_parse_limits lim = {.max_request_line = 256,
                             .max_header_bytes = 512,
                             .max_headers = 8,
                             .max_body_bytes = 1024,
                             .body_limit_fn = fuzz_limit};
    http_reqparser p;
    http_reqparser_init(&p, &lim);
    const char *buf = (const char *)data;
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        size_t used;
        http_request *r;
        http_parse_status st = http_reqparser_feed(&p, buf + off, n, &used, &r);
        if (used > n) abort();
        if (st == HTTP_PARSE_ERROR) {
            const http_parse_error *e = http_reqparser_error(&p);
            if (e->status < 400 || e->status > 599 || !e->slug) abort();
            break;
        }
        if (st == HTTP_PARSE_DONE) {
            size_t blen;
            const char *body = http_request_body(r, &blen);
            if (!body || blen > 8192 || !http_request_path(r) || strlen(http_request_path(r)) > 256)
                abort();
            for (size_t i = 0; i < http_request_header_count(r); i++) {
                const char *k, *v;
                http_request_header_at(r, i, &k, &v);
                if (!k || !v || http_request_header(r, k) == NULL) abort();
            }
            char out[32];
            (void)http_request_query_param(r, "a", out, sizeof out);
            http__request_free(r);
        }
        off += st == HTTP_PARSE_DONE ? used : n;
    }
    http_reqparser_fini(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run(data, size, size ? size : 1);
    run(data, size, 1);
    run(data, size, 7);
    return 0;
}
