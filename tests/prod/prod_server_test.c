/* Production readiness against the real econqd: configuration refusals, API keys (401), rate
 * limits (429), /metrics checked by promtool with counters moving, and the request log. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/eqtest.h"

#define OUT_MAX 16384 /* bytes of a child's output kept */

/* A webhook secret strong enough for production: whsec_ and 32 bytes in base64. */
#define GOOD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwdyBuF8PcR0U="
/* A job's own webhook secret, and a part of it to look for. */
#define JOB_SECRET "whsec_q3RkZWxpdmVyeS1zZWNyZXQtZm9yLXRlc3RpbmctMDE="
#define JOB_SECRET_PART "q3RkZWxpdmVyeS1zZWNyZXQ"

static const char *econqd_bin(char *buf, size_t len) {
    const char *bd = getenv("ECONQ_BUILD_DIR");
    snprintf(buf, len, "%s/econqd", bd ? bd : ".");
    return buf;
}

/* Runs econqd with args (NULL-terminated) and extra environment ("NAME=value", NULL-terminated);
 * stdout and stderr go to out. Returns the exit status. */
static int run(const char *const *args, const char *const *env, char *out, size_t outlen) {
    char bin[600];
    const char *argv[48];
    int n = 0, pfd[2];
    argv[n++] = econqd_bin(bin, sizeof bin);
    for (int i = 0; args[i] && n < 46; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        unsetenv("ECONQ_ENV");
        unsetenv("ECONQ_API_KEYS_FILE");
        unsetenv("ECONQ_WEBHOOK_SECRET");
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t got = 0;
    ssize_t r;
    while ((r = read(pfd[0], out + got, outlen - 1 - got)) > 0 && got < outlen - 1)
        got += (size_t)r;
    out[got] = '\0';
    close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Makes a key with `econqd keygen NAME`: the key into key, its line appended to keys_path. */
static void keygen(const char *name, const char *keys_path, char *key, size_t keylen) {
    char out[1024], line[256];
    const char *args[] = {"keygen", name, NULL};
    ck_assert_int_eq(run(args, NULL, out, sizeof out), 0);
    ck_assert_int_eq(sscanf(out, "key: %127s\nline: %255s", key, line), 2);
    ck_assert_uint_lt(strlen(key), keylen);
    FILE *f = fopen(keys_path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# %s\n%s\n", name, line);
    fclose(f);
}

typedef struct prod_case {
    const char *why;
    const char *expect; /* in the message */
} prod_case;

START_TEST(production_refusals) {
    char dir[256], keys[300], data[300], open_dir[300], file[300], key[128], out[OUT_MAX];
    eqt_tmpdir(dir, sizeof dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(open_dir, sizeof open_dir, "%s/open", dir);
    snprintf(file, sizeof file, "%s/file", dir);
    keygen("ops", keys, key, sizeof key);
    ck_assert_int_eq(mkdir(data, 0700), 0);
    ck_assert_int_eq(mkdir(open_dir, 0755), 0);
    ck_assert_int_eq(chmod(open_dir, 0755), 0);
    close(open(file, O_WRONLY | O_CREAT, 0600));
    char keys_env[400], data_env[400], secret_env[] = "ECONQ_WEBHOOK_SECRET=" GOOD_SECRET;
    snprintf(keys_env, sizeof keys_env, "ECONQ_API_KEYS_FILE=%s", keys);
    snprintf(data_env, sizeof data_env, "ECONQ_DATA_DIR=%s", data);
    char open_env[400], under_file_env[400];
    snprintf(open_env, sizeof open_env, "ECONQ_DATA_DIR=%s", open_dir);
    snprintf(under_file_env, sizeof under_file_env, "ECONQ_DATA_DIR=%s/data", file);
    const char *check[] = {"serve", "--check-config", NULL};
    const char *server_check[] = {"server", "--check-config", NULL};

    /* Everything in order: valid. The same settings as flags override the variables. */
    const char *good[] = {"ECONQ_ENV=production", keys_env, data_env, secret_env, NULL};
    ck_assert_msg(run(check, good, out, sizeof out) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "valid"));
    ck_assert_msg(run(server_check, good, out, sizeof out) == 0, "%s", out);

    struct {
        const char *env[6];
        const char *expect;
    } cases[] = {
        {{"ECONQ_ENV=production", data_env, secret_env}, "no API keys"},
        {{"ECONQ_ENV=production", keys_env, data_env}, "no webhook secret"},
        {{"ECONQ_ENV=production", keys_env, data_env, "ECONQ_WEBHOOK_SECRET=whsec_test"},
         "well-known"},
        {{"ECONQ_ENV=production", keys_env, data_env, "ECONQ_WEBHOOK_SECRET=changeme"},
         "well-known"},
        {{"ECONQ_ENV=production", keys_env, data_env,
          "ECONQ_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILA=="},
         "at least 24"},
        {{"ECONQ_ENV=production", keys_env, open_env, secret_env}, "open to other users"},
        {{"ECONQ_ENV=production", keys_env, under_file_env, secret_env}, "cannot be created"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run(check, cases[i].env, out, sizeof out);
        ck_assert_msg(rc == 1, "case %zu exited %d: %s", i, rc, out);
        ck_assert_msg(strstr(out, cases[i].expect), "case %zu: \"%s\" not in: %s", i,
                      cases[i].expect, out);
        /* No secret is echoed in the refusal. */
        ck_assert_ptr_null(strstr(out, "MfKQ9r8GKYqrTwjUPD8IL"));
        ck_assert_ptr_null(strstr(out, key));
    }
    /* Without --check-config the refusal stops econqd before it listens. */
    const char *serve[] = {"serve", "--listen", "127.0.0.1:0", NULL};
    int rc = run(serve, cases[0].env, out, sizeof out);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_null(strstr(out, "listening"));

    /* Development: an open data directory and no keys are fine; rate limits with several api
     * processes are warned about; a malformed rate or keys file is an error. */
    const char *dev[] = {open_env, NULL};
    ck_assert_msg(run(check, dev, out, sizeof out) == 0, "%s", out);
    const char *warn[] = {"serve", "--check-config", "--rate-read", "100/200", "--api-processes",
                          "3", NULL};
    ck_assert_int_eq(run(warn, dev, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "warning: rate limits are kept per process"));
    const char *exposed[] = {"serve", "--check-config", "--listen", "0.0.0.0:8080", NULL};
    ck_assert_int_eq(run(exposed, dev, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "warning: no API keys and listening on 0.0.0.0"));
    ck_assert_int_eq(run(check, dev, out, sizeof out), 0);
    ck_assert_ptr_null(strstr(out, "warning"));
    const char *bad_rate[] = {"serve", "--check-config", "--rate-submit", "fast", NULL};
    ck_assert_int_eq(run(bad_rate, dev, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "--rate-submit"));
    const char *bad_flag[] = {"serve", "--check-config", "--lease-ms", "soon", NULL};
    ck_assert_int_eq(run(bad_flag, dev, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "lease-ms"));
    const char *bad_keys[] = {"serve", "--check-config", "--api-keys-file", file, NULL};
    ck_assert_int_eq(run(bad_keys, dev, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "holds no API key"));
    /* The worker validates its own settings. */
    const char *worker_ok[] = {"worker", "--kind", "forecast", "--check-config", NULL};
    ck_assert_int_eq(run(worker_ok, NULL, out, sizeof out), 0);
    const char *worker_bad[] = {"worker", "--kind", "nonsense", "--check-config", NULL};
    ck_assert_int_eq(run(worker_bad, NULL, out, sizeof out), 1);
    eqt_rmdir(dir);
}
END_TEST

static int sent; /* requests made with request(), to compare with the request log */

static int request(int port, const char *method, const char *path, const char *key,
                   const char *body, http_resp *r) {
    char hdr[512];
    sent++;
    snprintf(hdr, sizeof hdr, "%s%s%sContent-Type: application/json\r\n",
             key ? "Authorization: Bearer " : "", key ? key : "", key ? "\r\n" : "");
    ck_assert_int_eq(http_do(port, method, path, hdr, body, body ? strlen(body) : 0, r), 0);
    return r->status;
}

static int status_of(int port, const char *method, const char *path, const char *key,
                     const char *body) {
    http_resp r;
    int st = request(port, method, path, key, body, &r);
    http_resp_free(&r);
    return st;
}

/* The value of the sample line starting with `series ` (name and labels), or -1. */
static double sample(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* Scrapes /metrics, checks it with promtool and returns the text (caller frees). */
static char *scrape(int port, const char *key, const char *dir) {
    http_resp r;
    char path[400], cmd[600], out[OUT_MAX];
    ck_assert_int_eq(request(port, "GET", "/metrics", key, NULL, &r), 200);
    char ct[128];
    ck_assert_ptr_nonnull(http_header(&r, "Content-Type", ct, sizeof ct));
    ck_assert_ptr_nonnull(strstr(ct, "text/plain; version=0.0.4"));
    snprintf(path, sizeof path, "%s/metrics.txt", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(r.body, 1, r.len, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool check metrics failed (%d): %s",
                  st, out);
    char *text = strdup(r.body);
    http_resp_free(&r);
    return text;
}

START_TEST(keys_metrics_and_logs) {
    char dir[256], keys[300], key[128], other[128], www[256], bin[600];
    eqd d;
    eqt_tmpdir(dir, sizeof dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    keygen("alice", keys, key, sizeof key);
    keygen("bob", keys, other, sizeof other);
    (void)bin;
    const char *args[] = {"--api-keys-file", keys, "--metrics-auth", "--webhook-secret",
                          GOOD_SECRET, "--lease-wait-ms", "200", "--webhook-allow",
                          "127.0.0.0/8", "--webhook-schedule", "0,60", NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    int port = d.port;

    /* 401 without a key and with a wrong one, with WWW-Authenticate and a problem body. */
    http_resp r;
    ck_assert_int_eq(request(port, "GET", "/v1/jobs", NULL, NULL, &r), 401);
    ck_assert_ptr_nonnull(http_header(&r, "WWW-Authenticate", www, sizeof www));
    ck_assert_str_eq(www, "Bearer realm=\"econq\"");
    cJSON *p = http_json(&r);
    ck_assert_str_eq(eqt_str(p, "type"), "/problems/unauthorized");
    cJSON_Delete(p);
    http_resp_free(&r);
    char wrong[128];
    snprintf(wrong, sizeof wrong, "%s", key);
    wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == '0' ? '1' : '0';
    ck_assert_int_eq(request(port, "GET", "/v1/jobs", wrong, NULL, &r), 401);
    ck_assert_ptr_null(strstr(r.body, wrong)); /* never echoed */
    http_resp_free(&r);
    ck_assert_int_eq(status_of(port, "POST", "/v1/jobs", "eqk_nonsense",
                               "{\"type\":\"noop\",\"params\":{}}"), 401);
    /* The right keys; /health stays open; /metrics needs a key with --metrics-auth. */
    ck_assert_int_eq(status_of(port, "GET", "/v1/jobs", key, NULL), 200);
    ck_assert_int_eq(status_of(port, "GET", "/v1/jobs", other, NULL), 200);
    ck_assert_int_ne(status_of(port, "GET", "/health", NULL, NULL), 401);
    ck_assert_int_eq(status_of(port, "GET", "/metrics", NULL, NULL), 401);

    /* Counters move as jobs run. */
    char *before = scrape(port, key, dir);
    double submitted0 = sample(before, "econq_jobs_submitted_total");
    double done0 = sample(before, "econq_jobs_completed_total{type=\"noop\",outcome=\"succeeded\"}");
    double failed0 = sample(before, "econq_jobs_completed_total{type=\"noop\",outcome=\"failed\"}");
    double accepted0 = sample(before, "econq_http_requests_total{route=\"jobs\",status=\"202\"}");
    double unauth0 = sample(before, "econq_http_unauthorized_total{reason=\"invalid\"}");
    ck_assert_double_ge(submitted0, 0);
    ck_assert_double_eq(unauth0, 2);
    free(before);
    enum { N = 5 };
    char ids[N + 1][32];
    for (int i = 0; i <= N; i++) {
        const char *body = i < N ? "{\"type\":\"noop\",\"params\":{\"sleep_ms\":5}}"
                                 : "{\"type\":\"noop\",\"params\":{\"fail\":\"permanent\"}}";
        ck_assert_int_eq(request(port, "POST", "/v1/jobs", i % 2 ? key : other, body, &r), 202);
        cJSON *j = http_json(&r);
        snprintf(ids[i], sizeof ids[i], "%s", eqt_str(j, "id"));
        cJSON_Delete(j);
        http_resp_free(&r);
    }
    for (int i = 0; i <= N; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/jobs/%s?wait=20", ids[i]);
        ck_assert_int_eq(request(port, "GET", path, key, NULL, &r), 200);
        cJSON *j = http_json(&r);
        ck_assert_str_eq(eqt_str(j, "state"), i < N ? "succeeded" : "failed");
        cJSON_Delete(j);
        http_resp_free(&r);
    }
    char *after = scrape(port, key, dir);
    /* Built-in maintenance schedules may submit jobs of their own meanwhile. */
    ck_assert_double_ge(sample(after, "econq_jobs_submitted_total"), submitted0 + N + 1);
    ck_assert_double_eq(sample(after, "econq_jobs_completed_total{type=\"noop\",outcome=\"succeeded\"}"),
                        (done0 < 0 ? 0 : done0) + N);
    ck_assert_double_eq(sample(after, "econq_jobs_completed_total{type=\"noop\",outcome=\"failed\"}"),
                        (failed0 < 0 ? 0 : failed0) + 1);
    ck_assert_double_eq(sample(after, "econq_http_requests_total{route=\"jobs\",status=\"202\"}"),
                        (accepted0 < 0 ? 0 : accepted0) + N + 1);
    ck_assert_double_ge(sample(after, "econq_job_duration_seconds_count{type=\"noop\"}"), N + 1);
    ck_assert_double_ge(sample(after, "econq_job_queue_wait_seconds_count{type=\"noop\"}"), N + 1);
    ck_assert_double_eq(sample(after, "econq_queue_depth{type=\"noop\"}"), 0);
    ck_assert_double_eq(sample(after, "econq_jobs_running"), 0);
    ck_assert_double_ge(sample(after, "econq_workers_connected{kind=\"noop\"}"), 1);
    ck_assert_double_gt(sample(after, "process_resident_memory_bytes"), 0);
    ck_assert_double_gt(sample(after, "process_open_fds"), 2);
    ck_assert_double_gt(sample(after, "econq_store_used_bytes"), 0);
    ck_assert_double_eq(sample(after, "econq_webhook_backlog"), 0);
    ck_assert_double_ge(sample(after, "econq_cache_misses_total{type=\"forecast\"}"), 0);
    ck_assert_ptr_nonnull(strstr(after, "econq_http_request_duration_seconds_bucket{route=\"job\",le=\"+Inf\"}"));
    free(after);

    /* A job with its own webhook secret: neither the answers nor the log show it, even when the
     * delivery fails (nothing listens on port 1). */
    char body[512], path[160];
    snprintf(body, sizeof body,
             "{\"type\":\"noop\",\"params\":{},\"webhook\":{\"url\":\"http://127.0.0.1:1/hook\","
             "\"secret\":\"%s\"}}", JOB_SECRET);
    ck_assert_int_eq(request(port, "POST", "/v1/jobs", key, body, &r), 202);
    ck_assert_ptr_null(strstr(r.body, JOB_SECRET_PART));
    cJSON *wj = http_json(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s?wait=20", eqt_str(wj, "id"));
    char deliveries[160];
    snprintf(deliveries, sizeof deliveries, "/v1/jobs/%s/deliveries", eqt_str(wj, "id"));
    cJSON_Delete(wj);
    http_resp_free(&r);
    ck_assert_int_eq(request(port, "GET", path, key, NULL, &r), 200);
    ck_assert_ptr_null(strstr(r.body, JOB_SECRET_PART));
    http_resp_free(&r);
    int attempted = 0;
    for (int i = 0; i < 100 && !attempted; i++) {
        ck_assert_int_eq(request(port, "GET", deliveries, key, NULL, &r), 200);
        ck_assert_ptr_null(strstr(r.body, JOB_SECRET_PART));
        attempted = strstr(r.body, "\"error\"") != NULL;
        http_resp_free(&r);
        if (!attempted)
            eqt_sleep_ms(100);
    }
    ck_assert_msg(attempted, "no delivery attempt was recorded");

    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);

    /* The log: JSON lines, one per request with its status, and no key or secret anywhere. */
    FILE *f = fopen(d.log, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    int lines = 0, requests = 0, unauthorized = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        cJSON *j = cJSON_Parse(line);
        ck_assert_msg(j != NULL, "not JSON: %s", line);
        ck_assert_ptr_nonnull(eqt_str(j, "time"));
        ck_assert_ptr_nonnull(eqt_str(j, "level"));
        const char *msg = eqt_str(j, "msg");
        ck_assert_ptr_nonnull(msg);
        if (strcmp(msg, "request") == 0) {
            requests++;
            ck_assert_ptr_nonnull(eqt_str(j, "request_id"));
            ck_assert_ptr_nonnull(eqt_str(j, "duration_ms"));
            ck_assert_ptr_nonnull(eqt_str(j, "method"));
            ck_assert_ptr_nonnull(eqt_str(j, "route"));
            if (strcmp(eqt_str(j, "status"), "401") == 0)
                unauthorized++;
        }
        ck_assert_msg(!strstr(line, key) && !strstr(line, other) && !strstr(line, wrong) &&
                          !strstr(line, "eqk_") && !strstr(line, "MfKQ9r8GKYqrTwjUPD8IL") &&
                          !strstr(line, JOB_SECRET_PART) &&
                          !strcasestr(line, "authorization"),
                      "a secret in the log: %s", line);
        cJSON_Delete(j);
    }
    fclose(f);
    ck_assert_int_gt(lines, 0);
    /* Every request answered is logged once. */
    ck_assert_int_eq(requests, sent);
    ck_assert_int_eq(unauthorized, 4);
    eqt_rmdir(dir);
}
END_TEST

START_TEST(rate_limits) {
    char dir[256], ra[32];
    eqd d;
    eqt_tmpdir(dir, sizeof dir);
    /* Anonymous: per client address. A burst of 2 submits, then one every 10 s. Reads have
     * their own, larger budget. */
    const char *args[] = {"--rate-submit", "0.1/2", "--rate-read", "1000/1000", NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    const char *job = "{\"type\":\"noop\",\"params\":{}}";
    ck_assert_int_eq(status_of(d.port, "POST", "/v1/jobs", NULL, job), 202);
    ck_assert_int_eq(status_of(d.port, "POST", "/v1/jobs", NULL, job), 202);
    http_resp r;
    ck_assert_int_eq(request(d.port, "POST", "/v1/jobs", NULL, job, &r), 429);
    ck_assert_ptr_nonnull(http_header(&r, "Retry-After", ra, sizeof ra));
    ck_assert_int_ge(atoi(ra), 1);
    ck_assert_int_le(atoi(ra), 10);
    cJSON *p = http_json(&r);
    ck_assert_str_eq(eqt_str(p, "type"), "/problems/rate-limited");
    ck_assert_int_eq((int)eqt_num(p, "status"), 429);
    cJSON_Delete(p);
    http_resp_free(&r);
    /* Reads, /health and /metrics are not held back by the submit limit. */
    ck_assert_int_eq(status_of(d.port, "GET", "/v1/jobs", NULL, NULL), 200);
    ck_assert_int_ne(status_of(d.port, "GET", "/health", NULL, NULL), 429);
    ck_assert_int_eq(request(d.port, "GET", "/metrics", NULL, NULL, &r), 200);
    ck_assert_double_eq(sample(r.body, "econq_http_rate_limited_total{group=\"submit\"}"), 1);
    http_resp_free(&r);
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    eqt_rmdir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("prod_server");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, production_refusals);
    tcase_add_test(tc, keys_metrics_and_logs);
    tcase_add_test(tc, rate_limits);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
