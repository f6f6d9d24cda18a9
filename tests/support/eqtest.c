#include "tests/support/eqtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long eqt_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void eqt_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void eqt_tmpdir(char *out, size_t len) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(out, len, "%s/econq-test-XXXXXX", base);
    if (!mkdtemp(out))
        abort();
}

void eqt_rmdir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int eqt_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l))
        abort();
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int eqd_start(eqd *d, const char *mode, const char *dir, const char *const *args) {
    int pfd[2];
    char bin[600];
    const char *bd = getenv("ECONQ_BUILD_DIR");
    snprintf(bin, sizeof bin, "%s/econqd", bd ? bd : ".");
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    snprintf(d->log, sizeof d->log, "%s/econqd-%s.log", dir, mode);
    if (pipe(pfd) != 0)
        return -1;
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = mode;
    if (strcmp(mode, "worker") != 0) {
        argv[n++] = "--data-dir";
        argv[n++] = dir;
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
    }
    for (int i = 0; args && args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int logfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(pfd[1], 1);
        if (logfd >= 0)
            dup2(logfd, 2);
        close(pfd[0]);
        close(pfd[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    d->pid = pid;
    d->port = 0;
    char line[512];
    size_t got = 0;
    long long deadline = eqt_now_ms() + 20000;
    while (eqt_now_ms() < deadline && got < sizeof line - 1) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = read(pfd[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = '\0';
        if (strchr(line, '\n'))
            break;
    }
    close(pfd[0]);
    line[got] = '\0';
    const char *p = strstr(line, "http://127.0.0.1:");
    if (p)
        d->port = atoi(p + strlen("http://127.0.0.1:"));
    if (strcmp(mode, "worker") == 0)
        return strstr(line, "connected") ? 0 : -1;
    return d->port > 0 ? 0 : -1;
}

void eqd_signal(eqd *d, int sig) {
    if (d->pid > 0)
        kill(d->pid, sig);
}

int eqd_wait(eqd *d) {
    int st;
    if (d->pid <= 0)
        return -1;
    while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
        ;
    d->pid = 0;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

static int connect_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int http_raw(int port, const void *req, size_t len, char *out, size_t outlen, int timeout_ms) {
    int fd = connect_port(port);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early on a bad request; read its answer */
        off += (size_t)w;
    }
    size_t got = 0;
    long long deadline = eqt_now_ms() + timeout_ms;
    while (got < outlen - 1) {
        int left = (int)(deadline - eqt_now_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t r = recv(fd, out + got, outlen - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    out[got] = '\0';
    close(fd);
    return (int)got;
}

int http_do(int port, const char *method, const char *path, const char *headers,
            const char *body, size_t body_len, http_resp *out) {
    memset(out, 0, sizeof *out);
    int fd = connect_port(port);
    if (fd < 0)
        return -1;
    char head[8192];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                      "Content-Length: %zu\r\n\r\n",
                      method, path, headers ? headers : "", body ? body_len : 0);
    if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) != hl ||
        (body && body_len && send(fd, body, body_len, MSG_NOSIGNAL) != (ssize_t)body_len)) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, got = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (got + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 90000) <= 0)
            break;
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        return -1;
    }
    size_t hlen = (size_t)(sep - buf);
    if (hlen >= sizeof out->head)
        hlen = sizeof out->head - 1;
    memcpy(out->head, buf, hlen);
    out->head[hlen] = '\0';
    out->len = got - (size_t)(sep + 4 - buf);
    out->body = malloc(out->len + 1);
    memcpy(out->body, sep + 4, out->len);
    out->body[out->len] = '\0';
    free(buf);
    return 0;
}

void http_resp_free(http_resp *r) {
    free(r->body);
    r->body = NULL;
}

const char *http_header(const http_resp *r, const char *name, char *out, size_t outlen) {
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r\n");
            if (vl >= outlen)
                vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
    }
    return NULL;
}

cJSON *http_json(const http_resp *r) {
    return r->body ? cJSON_Parse(r->body) : NULL;
}

const char *eqt_str(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double eqt_num(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}


void eqt_use_econqd(const char *path) {
    char bindir[512];
    snprintf(bindir, sizeof bindir, "%s", path);
    char *slash = strrchr(bindir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(bindir, sizeof bindir, ".");
    setenv("ECONQ_BUILD_DIR", bindir, 1);
}
