#include "tests/client/fake_http.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads one request from `c` into `r`. 0 on success. */
static int fake_read_request(int c, fake_req *r) {
    size_t got = 0;
    char *end = NULL;
    memset(r, 0, sizeof *r);
    while (!end) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (got >= sizeof r->head - 1 || poll(&p, 1, 5000) <= 0) return -1;
        ssize_t n = recv(c, r->head + got, sizeof r->head - 1 - got, 0);
        if (n <= 0) return -1;
        got += (size_t)n;
        r->head[got] = '\0';
        end = strstr(r->head, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - r->head) + 4;
    size_t clen = 0;
    char v[32];
    if (fake_req_header(r, "Content-Length", v, sizeof v)) clen = strtoul(v, NULL, 10);
    if (clen > FAKE_HTTP_MAX_BODY) return -1;
    r->body = malloc(clen + 1);
    size_t have = got - head_len;
    if (have > clen) have = clen;
    memcpy(r->body, r->head + head_len, have);
    while (have < clen) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0) return -1;
        ssize_t n = recv(c, r->body + have, clen - have, 0);
        if (n <= 0) return -1;
        have += (size_t)n;
    }
    r->body[clen] = '\0';
    r->len = clen;
    r->head[head_len] = '\0';
    sscanf(r->head, "%15s %1023s", r->method, r->path);
    return 0;
}

static void fake_send_all(int c, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(c, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void *fake_main(void *arg) {
    fake_http *f = arg;
    while (!f->stop) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0) continue;
        fake_req r;
        if (fake_read_request(c, &r) != 0) {
            free(r.body);
            close(c);
            continue;
        }
        pthread_mutex_lock(&f->mu);
        fake_resp resp = {500, NULL, "{\"type\":\"/problems/fake-script-ended\",\"status\":500}",
                          0};
        if (f->next < f->n_script) resp = f->script[f->next];
        f->next++;
        if (f->n_reqs < FAKE_HTTP_MAX_REQS)
            f->reqs[f->n_reqs++] = r;
        else
            free(r.body);
        pthread_mutex_unlock(&f->mu);
        size_t len = resp.len ? resp.len : strlen(resp.body);
        const char *ct = resp.content_type    ? resp.content_type
                         : resp.status >= 400 ? "application/problem+json"
                                              : "application/json";
        char head[512];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n",
                          resp.status, ct, len);
        fake_send_all(c, head, (size_t)hl);
        fake_send_all(c, resp.body, len);
        close(c);
    }
    return NULL;
}

int fake_http_start(fake_http *f, const fake_resp *script, size_t n) {
    memset(f, 0, sizeof *f);
    f->script = script;
    f->n_script = n;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->fd, 16) != 0 ||
        getsockname(f->fd, (struct sockaddr *)&a, &l) != 0)
        return -1;
    f->port = ntohs(a.sin_port);
    pthread_mutex_init(&f->mu, NULL);
    return pthread_create(&f->thread, NULL, fake_main, f) == 0 ? 0 : -1;
}

void fake_http_stop(fake_http *f) {
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->fd);
    pthread_mutex_destroy(&f->mu);
}

void fake_http_fini(fake_http *f) {
    for (size_t i = 0; i < f->n_reqs; i++)
        free(f->reqs[i].body);
    f->n_reqs = 0;
}

size_t fake_http_count(fake_http *f) {
    pthread_mutex_lock(&f->mu);
    size_t n = f->next;
    pthread_mutex_unlock(&f->mu);
    return n;
}

const char *fake_req_header(const fake_req *r, const char *name, char *out, size_t outlen) {
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r\n");
            if (vl >= outlen) vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
    }
    return NULL;
}
