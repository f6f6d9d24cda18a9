/* libeconq: the handle, one HTTP request over a reused libcurl easy handle, problem details,
 * and the JSON helpers the resource files share. */
#include "client/econq_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ECONQ__DEFAULT_CONNECT_MS 5000
#define ECONQ__DEFAULT_REQUEST_MS 60000
#define ECONQ__DEFAULT_LONG_POLL_S 30
/* Longest API key accepted (it travels in one header line). */
#define ECONQ__MAX_API_KEY 1024

static pthread_once_t econq_curl_once = PTHREAD_ONCE_INIT;
static CURLcode econq_curl_init_rc;

static void econq_curl_init(void) {
    econq_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

long long econq__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void econq__sleep_ms(long ms) {
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

const char *econq_strerror(eq_err err) {
    return eq_strerror(err);
}

eq_client *econq_new(const char *base_url, const char *api_key) {
    if (!base_url || !*base_url || strlen(base_url) > ECONQ__MAX_URL ||
        (api_key && strlen(api_key) > ECONQ__MAX_API_KEY))
        return NULL;
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0) return NULL;
    pthread_once(&econq_curl_once, econq_curl_init);
    if (econq_curl_init_rc != CURLE_OK) return NULL;
    eq_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base = strdup(base_url);
    if (!c->base) goto fail;
    size_t bl = strlen(c->base);
    while (bl > 0 && c->base[bl - 1] == '/')
        c->base[--bl] = '\0';
    if (api_key && *api_key) {
        size_t n = strlen(api_key) + sizeof "Authorization: Bearer ";
        c->auth_line = malloc(n);
        if (!c->auth_line) goto fail;
        snprintf(c->auth_line, n, "Authorization: Bearer %s", api_key);
    }
    c->curl = curl_easy_init();
    if (!c->curl) goto fail;
    c->connect_ms = ECONQ__DEFAULT_CONNECT_MS;
    c->request_ms = ECONQ__DEFAULT_REQUEST_MS;
    c->long_poll_s = ECONQ__DEFAULT_LONG_POLL_S;
    return c;
fail:
    econq_free(c);
    return NULL;
}

void econq_free(eq_client *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->auth_line);
    free(c->base);
    free(c);
}

const eq_problem *econq_problem(const eq_client *c) {
    return &c->problem;
}

long econq_connections_opened(const eq_client *c) {
    return c->connects;
}

void econq_set_timeouts(eq_client *c, long connect_ms, long request_ms) {
    if (connect_ms > 0) c->connect_ms = connect_ms;
    if (request_ms > 0) c->request_ms = request_ms;
}

void econq_set_long_poll_s(eq_client *c, int seconds) {
    if (seconds < 1) seconds = 1;
    if (seconds > ECONQ_MAX_LONG_POLL_S) seconds = ECONQ_MAX_LONG_POLL_S;
    c->long_poll_s = seconds;
}

void econq__problem_clear(eq_client *c) {
    memset(&c->problem, 0, sizeof c->problem);
}

eq_err econq__fail(eq_client *c, eq_err err, const char *slug, const char *fmt, ...) {
    econq__problem_clear(c);
    snprintf(c->problem.type, sizeof c->problem.type, "/problems/client-%s", slug);
    snprintf(c->problem.title, sizeof c->problem.title, "%s", eq_strerror(err));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->problem.detail, sizeof c->problem.detail, fmt, ap);
    va_end(ap);
    return err;
}

int econq__escape_into(char *out, size_t size, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = strlen(out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (o + (plain ? 1 : 3) >= size) return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

/* A tiny formatter: "%s" is copied as is, "%e" is URL-escaped, "%d" an int. */
int econq__path(char *out, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t o = 0;
    out[0] = '\0';
    int rc = 0;
    for (const char *f = fmt; *f && rc == 0; f++) {
        if (*f != '%' || !f[1]) {
            if (o + 1 >= size)
                rc = -1;
            else
                out[o++] = *f, out[o] = '\0';
            continue;
        }
        f++;
        char num[24];
        const char *s = NULL;
        if (*f == 'd') {
            snprintf(num, sizeof num, "%d", va_arg(ap, int));
            s = num;
        } else if (*f == 's' || *f == 'e') {
            s = va_arg(ap, const char *);
        }
        if (*f == 'e') {
            rc = econq__escape_into(out, size, s);
        } else if (s) {
            size_t l = strlen(s);
            if (o + l >= size)
                rc = -1;
            else
                memcpy(out + o, s, l + 1);
        }
        o = strlen(out);
    }
    va_end(ap);
    return rc;
}

static size_t econq_write_cb(char *data, size_t size, size_t nmemb, void *ud) {
    econq__resp *rs = ud;
    size_t n = size * nmemb;
    if (rs->len + n > rs->limit) {
        rs->too_big = 1;
        return 0;
    }
    if (rs->sink && rs->status >= 200 && rs->status < 300) {
        if (fwrite(data, 1, n, rs->sink) != n) {
            rs->sink_failed = 1;
            return 0;
        }
        rs->len += n;
        return n;
    }
    if (rs->len + n + 1 > rs->cap) {
        size_t cap = rs->cap ? rs->cap : 4096;
        while (cap < rs->len + n + 1)
            cap *= 2;
        char *b = realloc(rs->body, cap);
        if (!b) return 0;
        rs->body = b;
        rs->cap = cap;
    }
    memcpy(rs->body + rs->len, data, n);
    rs->len += n;
    rs->body[rs->len] = '\0';
    return n;
}

static size_t econq_header_cb(char *data, size_t size, size_t nmemb, void *ud) {
    econq__resp *rs = ud;
    size_t n = size * nmemb;
    if (n > 5 && strncmp(data, "HTTP/", 5) == 0) {
        int st = 0;
        const char *sp = memchr(data, ' ', n);
        if (sp && sp + 4 <= data + n) st = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        rs->status = st;
        rs->replayed = 0;
    } else if (n >= 20 && strncasecmp(data, "Idempotent-Replayed:", 20) == 0) {
        const char *v = data + 20;
        while (v < data + n && *v == ' ')
            v++;
        rs->replayed = (size_t)(data + n - v) >= 4 && strncasecmp(v, "true", 4) == 0;
    }
    return n;
}

static void econq_copy_str(char *dst, size_t size, const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsString(v)) snprintf(dst, size, "%s", v->valuestring);
}

static eq_err econq_status_err(int status) {
    switch (status) {
    case 400:
    case 401:
    case 403:
    case 422:
        return EQ_EINVAL;
    case 404:
        return EQ_ENOTFOUND;
    case 405:
    case 415:
        return EQ_EUNSUPPORTED;
    case 409:
        return EQ_ECONFLICT;
    case 408:
    case 504:
        return EQ_ETIMEDOUT;
    case 413:
    case 414:
    case 431:
        return EQ_ETOOBIG;
    case 429:
    case 503:
        return EQ_EBUSY;
    case 507:
        return EQ_EFULL;
    default:
        return EQ_EIO;
    }
}

/* Fills the problem from an error answer: problem+json when the body is one, else a summary. */
static void econq_problem_from(eq_client *c, const econq__resp *rs) {
    eq_problem *p = &c->problem;
    memset(p, 0, sizeof *p);
    p->status = rs->status;
    cJSON *o = rs->body ? cJSON_ParseWithLength(rs->body, rs->len) : NULL;
    if (cJSON_IsObject(o)) {
        econq_copy_str(p->type, sizeof p->type, o, "type");
        econq_copy_str(p->title, sizeof p->title, o, "title");
        econq_copy_str(p->detail, sizeof p->detail, o, "detail");
        econq_copy_str(p->field, sizeof p->field, o, "field");
    }
    cJSON_Delete(o);
    if (!p->type[0]) snprintf(p->type, sizeof p->type, "about:blank");
    if (!p->title[0]) snprintf(p->title, sizeof p->title, "HTTP %d", rs->status);
}

eq_err econq__do(eq_client *c, const econq__req *rq, econq__resp *rs) {
    memset(rs, 0, sizeof *rs);
    econq__problem_clear(c);
    rs->sink = rq->sink;
    rs->limit = rq->limit ? rq->limit : ECONQ_MAX_RESPONSE_BYTES;
    size_t ul = strlen(c->base) + strlen(rq->path) + 1;
    char *url = malloc(ul);
    if (!url) return econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
    snprintf(url, ul, "%s%s", c->base, rq->path);

    struct curl_slist *h = NULL, *t;
    char line[512];
    eq_err err = EQ_OK;
#define ECONQ_ADD(s)                                                                               \
    do {                                                                                           \
        if (!(t = curl_slist_append(h, (s)))) {                                                    \
            err = econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");                         \
            goto done;                                                                             \
        }                                                                                          \
        h = t;                                                                                     \
    } while (0)
    snprintf(line, sizeof line, "Accept: %s", rq->accept ? rq->accept : "application/json");
    ECONQ_ADD(line);
    if (c->auth_line) ECONQ_ADD(c->auth_line);
    if (rq->body || strcmp(rq->method, "GET") != 0) {
        snprintf(line, sizeof line, "Content-Type: %s",
                 rq->content_type ? rq->content_type : "application/json");
        ECONQ_ADD(line);
    }
    if (rq->idempotency_key) {
        if (strlen(rq->idempotency_key) > 255 || strpbrk(rq->idempotency_key, "\r\n")) {
            err = econq__fail(c, EQ_EINVAL, "invalid-idempotency-key",
                              "an idempotency key is 1 to 255 characters on one line");
            goto done;
        }
        snprintf(line, sizeof line, "Idempotency-Key: %s", rq->idempotency_key);
        ECONQ_ADD(line);
    }
    ECONQ_ADD("Expect:"); /* no 100-continue round trip on uploads */
#undef ECONQ_ADD

    CURL *e = c->curl;
    curl_easy_reset(e); /* keeps the connection cache: keep-alive connections are reused */
    c->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "libeconq/0.1");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->request_ms + rq->extra_ms);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, econq_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, rs);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, econq_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, rs);
    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->len : 0));
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
        if (rq->body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)rq->body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
        }
    }
    CURLcode rc = curl_easy_perform(e);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK) {
        const char *msg = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
        if (rs->too_big)
            err = econq__fail(c, EQ_ETOOBIG, "answer-too-big",
                              "the answer is larger than %zu bytes", rs->limit);
        else if (rs->sink_failed)
            err = econq__fail(c, EQ_EIO, "write-failed", "could not write the answer to a file");
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            err = econq__fail(c, EQ_ETIMEDOUT, "timeout", "%s (%s)", msg, c->base);
        else if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR)
            err = econq__fail(c, EQ_ENOMEM, "no-memory", "%s", msg);
        else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
            err = econq__fail(c, EQ_EINVAL, "bad-url", "%s (%s)", msg, c->base);
        else
            err = econq__fail(c, EQ_ENET, "unreachable", "%s (%s)", msg, c->base);
        goto done;
    }
    long code = 0, opened = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK) c->connects += opened;
    rs->status = (int)code;
    if (code < 200 || code >= 300) {
        econq_problem_from(c, rs);
        err = econq_status_err((int)code);
    }
done:
    curl_slist_free_all(h);
    free(url);
    return err;
}

void econq__resp_fini(econq__resp *rs) {
    free(rs->body);
    rs->body = NULL;
}

eq_err econq__json(eq_client *c, const char *method, const char *path, const char *body,
                   const char *idempotency_key, char **json_out) {
    econq__req rq = {.method = method,
                     .path = path,
                     .body = body,
                     .len = body ? strlen(body) : 0,
                     .idempotency_key = idempotency_key};
    econq__resp rs;
    eq_err err = econq__do(c, &rq, &rs);
    if (err == EQ_OK && json_out) {
        if (!rs.body) {
            rs.body = strdup("null");
            if (!rs.body) err = econq__fail(c, EQ_ENOMEM, "no-memory", "out of memory");
        }
        *json_out = rs.body;
        rs.body = NULL;
    }
    econq__resp_fini(&rs);
    return err;
}

eq_err econq_request(eq_client *c, const char *method, const char *path, const char *content_type,
                     const void *body, size_t len, int *status, char **body_out) {
    if (!method || !path || path[0] != '/')
        return econq__fail(c, EQ_EINVAL, "bad-argument", "a path starts with '/'");
    econq__req rq = {
        .method = method, .path = path, .content_type = content_type, .body = body, .len = len};
    econq__resp rs;
    eq_err err = econq__do(c, &rq, &rs);
    if (status) *status = rs.status;
    if (body_out && rs.status) {
        *body_out = rs.body ? rs.body : strdup("");
        rs.body = NULL;
    }
    econq__resp_fini(&rs);
    return err;
}

eq_err econq_health(eq_client *c, char **json_out) {
    econq__req rq = {.method = "GET", .path = "/health"};
    econq__resp rs;
    eq_err err = econq__do(c, &rq, &rs);
    if ((err == EQ_OK || rs.status == 503) && rs.body) {
        cJSON *o = cJSON_ParseWithLength(rs.body, rs.len);
        int ok = cJSON_IsObject(o) && cJSON_IsString(cJSON_GetObjectItem(o, "status"));
        cJSON_Delete(o);
        if (!ok) {
            err = econq__fail(c, EQ_EPROTO, "bad-answer", "/health did not answer a report");
        } else if (json_out) {
            *json_out = rs.body;
            rs.body = NULL;
        }
    } else if (err == EQ_OK) {
        err = econq__fail(c, EQ_EPROTO, "bad-answer", "/health answered an empty body");
    }
    econq__resp_fini(&rs);
    return err;
}
