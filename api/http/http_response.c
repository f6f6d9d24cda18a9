/* Building responses: the status line and standard headers, validation of what handlers pass,
 * and RFC 9457 problem bodies. Writing and ordering are http_conn.c's. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/http/http_internal.h"

/* The fallback answer when a handler passes an invalid status or header. */
static const char internal_problem[] =
    "{\"type\":\"/problems/" HTTP_PROBLEM_INTERNAL "\",\"title\":\"Internal server error\","
    "\"status\":500,\"detail\":\"The handler produced an invalid response.\"}";

const char *http__date(http_server *s) {
    time_t now = time(NULL);
    if ((int64_t)now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_sec = (int64_t)now;
    }
    return s->date;
}

static bool is_tchar(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A field value: visible characters, spaces and tabs; no CR, LF or other controls. */
static bool value_ok(const char *s, const char **end) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p && (*p >= 0x20 || *p == '\t') && *p != 0x7f)
        p++;
    *end = (const char *)p;
    return true;
}

/* extra_headers: zero or more "Name: value\r\n" lines. */
static bool extra_headers_ok(const char *s) {
    while (*s) {
        const char *name = s;
        while (is_tchar((unsigned char)*s))
            s++;
        if (s == name || *s != ':') return false;
        value_ok(s + 1, &s);
        if (s[0] != '\r' || s[1] != '\n') return false;
        s += 2;
    }
    return true;
}

static bool content_type_ok(const char *s) {
    const char *end;
    value_ok(s, &end);
    return *end == '\0' && *s != '\0';
}

static char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

#define PUTS(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_uint(char *p, size_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Writes the head into buf (which has room for head_size()). Returns its length. */
static size_t head_write(char *buf, http_request *r, int status, const char *ctype,
                         const char *extra, size_t blen, bool close) {
    http_conn *c = r->conn;
    char *p = buf;
    const char *reason = http_status_str((enum http_status)status);
    if (strcmp(reason, "<unknown>") == 0) reason = "Status";
    p = PUTS(p, "HTTP/1.1 ");
    p = put_uint(p, (size_t)status);
    *p++ = ' ';
    p = put(p, reason, strlen(reason));
    p = PUTS(p, "\r\nDate: ");
    const char *date = http__date(c->srv);
    p = put(p, date, strlen(date));
    if (ctype) {
        p = PUTS(p, "\r\nContent-Type: ");
        p = put(p, ctype, strlen(ctype));
    }
    if (status != 204) {
        p = PUTS(p, "\r\nContent-Length: ");
        p = put_uint(p, blen);
    }
    p = PUTS(p, "\r\nX-Request-Id: ");
    p = put(p, r->id, strlen(r->id));
    if (close)
        p = PUTS(p, "\r\nConnection: close");
    else if (r->http_minor == 0)
        p = PUTS(p, "\r\nConnection: keep-alive");
    p = PUTS(p, "\r\n");
    if (extra) p = put(p, extra, strlen(extra));
    p = PUTS(p, "\r\n");
    return (size_t)(p - buf);
}

static size_t head_size(const http_request *r, int status, const char *ctype, const char *extra) {
    /* status line and reason, Date, Content-Length, Connection, separators */
    size_t n = 256 + strlen(http_status_str((enum http_status)status)) + strlen(r->id);
    if (ctype) n += strlen(ctype);
    if (extra) n += strlen(extra);
    return n;
}

void http_respond(http_request *r, int status, const char *content_type, const char *extra_headers,
                  const void *body, size_t len) {
    if (!r) return;
    if (r->responded) return;
    r->responded = true;
    http_conn *c = r->conn;
    if (!c) {
        /* The client went away; nothing to send. A request whose close notification is still
         * pending is freed by the connection's close callback instead. */
        if (!r->notify_pending) http__request_free(r);
        return;
    }
    if (status < 200 || status > 599 || (extra_headers && !extra_headers_ok(extra_headers)) ||
        (content_type && !content_type_ok(content_type))) {
        status = 500;
        content_type = "application/problem+json";
        extra_headers = NULL;
        body = internal_problem;
        len = sizeof internal_problem - 1;
    }
    if (status == 204 || status == 304 || r->method == HTTP_HEAD) {
        if (status == 204) len = 0;
        body = NULL; /* no body on the wire; Content-Length still tells a HEAD the size */
    }
    bool close = http__conn_closing_after(c, r);
    size_t cap = head_size(r, status, content_type, extra_headers);
    char stackbuf[HTTP_HEAD_STACK_BYTES];
    char *head = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!head) {
        http__conn_respond(c, r, NULL, 0, NULL, 0); /* out of memory: the connection ends */
        return;
    }
    size_t hlen = head_write(head, r, status, content_type, extra_headers, len, close);
    http__conn_respond(c, r, head, hlen, body, body ? len : 0);
    if (head != stackbuf) free(head);
}

void http_respond_problem(http_request *r, int status, const char *slug, const char *title,
                          const char *detail, cJSON *extra) {
    http_respond_problem_headers(r, status, slug, title, detail, extra, NULL);
}

void http_respond_problem_headers(http_request *r, int status, const char *slug, const char *title,
                                  const char *detail, cJSON *extra, const char *extra_headers) {
    if (!r || r->responded || !r->conn) {
        cJSON_Delete(extra);
        if (r && !r->responded)
            http_respond(r, status, NULL, NULL, NULL, 0); /* frees a detached request */
        return;
    }
    char type[128];
    snprintf(type, sizeof type, "/problems/%s", slug ? slug : "about:blank");
    cJSON *o = cJSON_CreateObject();
    char *json = NULL;
    if (o && cJSON_AddStringToObject(o, "type", type) &&
        cJSON_AddStringToObject(o, "title", title ? title : "") &&
        cJSON_AddNumberToObject(o, "status", status) &&
        (!detail || cJSON_AddStringToObject(o, "detail", detail))) {
        if (extra) {
            cJSON *it = extra->child;
            while (it) {
                cJSON *next = it->next;
                const char *k = it->string;
                bool reserved = !k || strcmp(k, "type") == 0 || strcmp(k, "title") == 0 ||
                                strcmp(k, "status") == 0 || strcmp(k, "detail") == 0;
                if (!reserved && !cJSON_GetObjectItemCaseSensitive(o, k)) {
                    cJSON_DetachItemViaPointer(extra, it);
                    cJSON_AddItemToObject(o, k, it);
                }
                it = next;
            }
        }
        json = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(extra);
    cJSON_Delete(o);
    if (json) {
        http_respond(r, status, "application/problem+json", extra_headers, json, strlen(json));
        cJSON_free(json);
    } else {
        http_respond(r, 500, "application/problem+json", NULL, internal_problem,
                     sizeof internal_problem - 1);
    }
}
