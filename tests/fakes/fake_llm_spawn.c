/* Spawns the fake LLM server and talks to its control endpoints; see fake_llm_spawn.h. */
#include "tests/fakes/fake_llm_spawn.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#define START_TIMEOUT_MS 15000 /* python start-up on a loaded machine */
#define CONTROL_MAX_BYTES (1u << 20)

int fake_llm_start(fake_llm *f, const char *const *args) {
    const char *src = getenv("ECONQ_SOURCE_DIR");
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/fakes/fake_llm.py", src ? src : ".");
    const char *argv[32] = {"/usr/bin/python3", script};
    size_t argc = 2;
    for (size_t i = 0; args && args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    *f = (fake_llm){.pid = pid, .port = -1};
    char line[128];
    size_t len = 0;
    while (len < sizeof line - 1) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        if (poll(&p, 1, START_TIMEOUT_MS) <= 0) break;
        ssize_t r = read(fds[0], line + len, 1);
        if (r <= 0) break;
        if (line[len] == '\n') break;
        len++;
    }
    line[len] = '\0';
    close(fds[0]);
    if (sscanf(line, "PORT %d", &f->port) != 1 || f->port <= 0) {
        fprintf(stderr, "fake_llm: did not start (%s): got '%s'\n", script, line);
        fake_llm_stop(f);
        return -1;
    }
    snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%d", f->port);
    return 0;
}

void fake_llm_stop(fake_llm *f) {
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    f->pid = 0;
}

typedef struct sink {
    char *buf;
    size_t len;
} sink;

static size_t sink_cb(char *data, size_t size, size_t nmemb, void *ctx) {
    sink *s = ctx;
    size_t n = size * nmemb;
    if (s->len + n > CONTROL_MAX_BYTES) return 0;
    char *p = realloc(s->buf, s->len + n + 1);
    if (!p) return 0;
    memcpy(p + s->len, data, n);
    s->buf = p;
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

/* GET (body NULL) or POST a control request; returns the response body or NULL. */
static char *control(const fake_llm *f, const char *path, const char *body) {
    char url[128];
    snprintf(url, sizeof url, "%s%s", f->base_url, path);
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    sink s = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK || status != 200 || !s.buf) {
        free(s.buf);
        return NULL;
    }
    return s.buf;
}

int fake_llm_mode(const fake_llm *f, const char *mode, double seconds) {
    char body[128];
    snprintf(body, sizeof body, "{\"mode\":\"%s\",\"seconds\":%g}", mode, seconds);
    char *r = control(f, "/_mode", body);
    int rc = r ? 0 : -1;
    free(r);
    return rc;
}

int fake_llm_reset(const fake_llm *f) {
    char *r = control(f, "/_reset", "{}");
    int rc = r ? 0 : -1;
    free(r);
    return rc;
}

char *fake_llm_requests(const fake_llm *f) {
    return control(f, "/_requests", NULL);
}
