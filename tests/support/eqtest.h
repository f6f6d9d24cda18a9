/* Test support: start the real econqd as a child process on port 0 with a temporary data
 * directory, and speak HTTP/1.1 to it as a client would. */
#ifndef ECONQ_TESTS_EQTEST_H
#define ECONQ_TESTS_EQTEST_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct eqd {
    pid_t pid;
    int port;
    char dir[256];      /* data directory */
    char log[300];      /* the child's stderr */
} eqd;

/* A new temporary directory (caller removes it with eqt_rmdir). */
void eqt_tmpdir(char *out, size_t len);
void eqt_rmdir(const char *dir);
/* Starts `econqd <mode> --data-dir dir --listen 127.0.0.1:0 <args...>` (args NULL-terminated;
 * for mode "worker" no --data-dir/--listen is added). Waits for its ready line. 0 on success. */
int eqd_start(eqd *d, const char *mode, const char *dir, const char *const *args);
void eqd_signal(eqd *d, int sig);
/* Waits for the child to exit; returns its exit status (or 128 + signal). */
int eqd_wait(eqd *d);
/* Makes eqd_start run the econqd at `path` (sets ECONQ_BUILD_DIR to its directory; for the
 * benchmarks, which take the binary as a flag). */
void eqt_use_econqd(const char *path);
/* A free TCP port on 127.0.0.1 (for the broker's tcp address). */
int eqt_free_port(void);

typedef struct http_resp {
    int status;
    char head[8192];    /* status line and headers */
    char *body;         /* NUL-terminated; caller frees with http_resp_free */
    size_t len;
} http_resp;

/* One request on a new connection. headers: "Name: v\r\n..." or NULL. 0 on success. */
int http_do(int port, const char *method, const char *path, const char *headers,
            const char *body, size_t body_len, http_resp *out);
/* Sends raw bytes and reads the answer until the server closes or timeout_ms passes. */
int http_raw(int port, const void *req, size_t len, char *out, size_t outlen, int timeout_ms);
void http_resp_free(http_resp *r);
/* The value of a response header (copied into out), or NULL. */
const char *http_header(const http_resp *r, const char *name, char *out, size_t outlen);
cJSON *http_json(const http_resp *r);

/* Helpers over the job API. submit returns the new job's id (static buffer per call site: copy
 * it) or NULL; state fetches one job (caller deletes). */
int eqt_submit(int port, const char *body, char *id_out);
cJSON *eqt_job(int port, const char *id, int wait_s);
/* Polls until the job is terminal or timeout_s passes; returns the job (caller deletes). */
cJSON *eqt_wait_terminal(int port, const char *id, int timeout_s);
const char *eqt_str(const cJSON *o, const char *name);
double eqt_num(const cJSON *o, const char *name);
long long eqt_now_ms(void);
void eqt_sleep_ms(int ms);

#endif
