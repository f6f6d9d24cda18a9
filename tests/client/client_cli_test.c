/* The econq binary against a real `econqd serve` on port 0: every subcommand the server
 * serves today, --json output that parses, exit codes on failure (2 usage, 3 unreachable,
 * 4 problem, 5 timeout, 1 failed job), progress lines when stderr is not a terminal, and
 * `webhook verify` on the Standard Webhooks reference vector. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/eqtest.h"

static eqd d;
static char dir[256];

static const char *const fast[] = {"--durability", "nosync", NULL};

static void start(void) {
    eqt_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(eqd_start(&d, "serve", dir, fast), 0);
}

static void stop(void) {
    eqd_signal(&d, SIGTERM);
    /* econqd's own clean exit is asserted by tests/integration; here a failing exit is only
     * reported, so that these client tests judge the client. */
    int st = eqd_wait(&d);
    if (st != 0) fprintf(stderr, "note: econqd exited with status %d\n", st);
    eqt_rmdir(dir);
}

typedef struct run_out {
    int rc;
    char *out; /* stdout */
    char *err; /* stderr */
} run_out;

static char *slurp(FILE *f) {
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) b = realloc(b, cap *= 2);
        size_t r = fread(b + n, 1, cap - 1 - n, f);
        if (r == 0) break;
        n += r;
    }
    b[n] = '\0';
    return b;
}

/* Runs `econq ARGS` against the test server (or `url` when given) with `input` on stdin. */
static run_out run_at(const char *url, const char *input, const char *args) {
    char errf[400], inf[400], cmd[4096], u[64];
    snprintf(errf, sizeof errf, "%s/cli-stderr.txt", dir);
    snprintf(inf, sizeof inf, "%s/cli-stdin.txt", dir);
    FILE *in = fopen(inf, "w");
    ck_assert_ptr_nonnull(in);
    fputs(input ? input : "", in);
    fclose(in);
    snprintf(u, sizeof u, "http://127.0.0.1:%d", d.port);
    snprintf(cmd, sizeof cmd, "ECONQ_URL='%s' '%s/econq' %s <'%s' 2>'%s'", url ? url : u,
             getenv("ECONQ_BUILD_DIR"), args, inf, errf);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    run_out r;
    r.out = slurp(p);
    int st = pclose(p);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    FILE *e = fopen(errf, "r");
    ck_assert_ptr_nonnull(e);
    r.err = slurp(e);
    fclose(e);
    return r;
}

static run_out run(const char *args) {
    return run_at(NULL, NULL, args);
}

static void run_free(run_out *r) {
    free(r->out);
    free(r->err);
}

/* Parses stdout as one JSON value (the CLI prints one line with --json). */
static cJSON *json_of(const run_out *r) {
    cJSON *o = cJSON_Parse(r->out);
    ck_assert_msg(o != NULL, "stdout is not JSON: %s", r->out);
    return o;
}

static void submit_id(const char *args, char *id) {
    run_out r = run(args);
    ck_assert_int_eq(r.rc, 0);
    cJSON *o = json_of(&r);
    snprintf(id, 64, "%s", eqt_str(o, "id"));
    ck_assert_int_eq(strlen(id), 26);
    cJSON_Delete(o);
    run_free(&r);
}

START_TEST(help_for_every_subcommand) {
    static const char *const cmds[] = {"submit",    "job",    "jobs",     "wait",     "cancel",
                                       "retry",     "upload", "datasets", "forecast", "batch",
                                       "schedules", "search", "ask",      "webhook",  "health"};
    run_out r = run("--help");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "exit codes"));
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        ck_assert_ptr_nonnull(strstr(r.out, cmds[i]));
        char args[64], want[64];
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        snprintf(want, sizeof want, "usage: econq %s", cmds[i]);
        run_out h = run(args);
        ck_assert_int_eq(h.rc, 0);
        ck_assert_msg(strncmp(h.out, want, strlen(want)) == 0, "%s: %s", cmds[i], h.out);
        run_free(&h);
    }
    run_free(&r);
}
END_TEST

START_TEST(usage_errors_exit_2) {
    static const char *const bad[] = {"",
                                      "bogus",
                                      "submit",
                                      "submit noop --priority 12",
                                      "submit noop --param novalue",
                                      "job",
                                      "job a b",
                                      "jobs --limit 0",
                                      "submit noop --nope",
                                      "submit noop --params-file /nonexistent.json",
                                      "forecast --dataset X",
                                      "webhook verify",
                                      "--timeout",
                                      "batch --columns '*'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_out r = run(bad[i]);
        ck_assert_msg(r.rc == 2, "'%s' exited %d", bad[i], r.rc);
        ck_assert_str_ne(r.err, "");
        run_free(&r);
    }
}
END_TEST

START_TEST(health_table_and_json) {
    run_out r = run("health");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "status"));
    ck_assert_ptr_nonnull(strstr(r.out, "QUEUE"));
    run_free(&r);
    r = run("health --json");
    ck_assert_int_eq(r.rc, 0);
    cJSON *o = json_of(&r);
    ck_assert_ptr_nonnull(eqt_str(o, "status"));
    cJSON_Delete(o);
    run_free(&r);
}
END_TEST

/* embed (JSON lines on stdin, then a JSON array file), collections, search, delete. */
START_TEST(embed_collections_search_and_delete) {
    const char *lines =
        "{\"id\":\"imports\",\"text\":\"US imports rose five percent last year\","
        "\"metadata\":{\"source\":\"BEA\"}}\n"
        "\n"
        "{\"id\":\"jobs\",\"text\":\"Unemployment fell as payrolls grew\"}\n";
    run_out r = run_at(NULL, lines, "embed notes -");
    ck_assert_msg(r.rc == 0, "embed: %s %s", r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "notes: 2 documents in 1 job: 2 added, 0 replaced"));
    run_free(&r);
    char path[400];
    snprintf(path, sizeof path, "%s/docs.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[{\"id\":\"jobs\",\"text\":\"Payrolls grew and unemployment fell to 3.5 percent\"},"
          "{\"id\":\"rents\",\"text\":\"Rents kept climbing in big cities\"}]",
          f);
    fclose(f);
    char args[600];
    snprintf(args, sizeof args, "--json embed notes '%s'", path);
    r = run(args);
    ck_assert_int_eq(r.rc, 0);
    cJSON *o = json_of(&r);
    ck_assert_int_eq((int)eqt_num(o, "added"), 1);
    ck_assert_int_eq((int)eqt_num(o, "replaced"), 1);
    cJSON_Delete(o);
    run_free(&r);
    r = run("collections");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "NAME"));
    ck_assert_ptr_nonnull(strstr(r.out, "notes"));
    ck_assert_ptr_nonnull(strstr(r.out, "econq-hash-v1/384"));
    run_free(&r);
    r = run("--json collections notes");
    ck_assert_int_eq(r.rc, 0);
    o = json_of(&r);
    ck_assert_int_eq((int)eqt_num(o, "documents"), 3);
    cJSON_Delete(o);
    run_free(&r);
    r = run("--json collections notes --document imports");
    ck_assert_int_eq(r.rc, 0);
    o = json_of(&r);
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(o, "metadata"), "source"), "BEA");
    cJSON_Delete(o);
    run_free(&r);
    r = run("search notes 'how did imports move' -k 2");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "RANK"));
    char *first = strstr(r.out, "\n1 ");
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_nonnull(strstr(first, "imports"));
    run_free(&r);
    r = run("collections notes --document rents --delete");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "deleted rents from notes"));
    run_free(&r);
    r = run("collections notes --delete");
    ck_assert_int_eq(r.rc, 0);
    run_free(&r);
    r = run("collections notes");
    ck_assert_int_eq(r.rc, 4); /* 404 collection-not-found */
    run_free(&r);
    r = run_at(NULL, "not json\n", "embed notes -");
    ck_assert_int_eq(r.rc, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "line 1"));
    run_free(&r);
}
END_TEST

START_TEST(submit_job_wait_with_progress_lines) {
    char id[64];
    submit_id("--json submit noop --param sleep_ms=200 --param payload.n=5", id);
    char args[200];
    snprintf(args, sizeof args, "job %s --json", id);
    run_out r = run(args);
    ck_assert_int_eq(r.rc, 0);
    cJSON *o = json_of(&r);
    ck_assert_str_eq(eqt_str(o, "id"), id);
    cJSON_Delete(o);
    run_free(&r);
    snprintf(args, sizeof args, "wait %s", id);
    r = run(args);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "succeeded"));
    ck_assert_ptr_nonnull(strstr(r.out, "\"n\": 5")); /* the echoed result, pretty-printed */
    /* Not a terminal: plain progress lines, no carriage returns or escape sequences. */
    char line[128];
    snprintf(line, sizeof line, "job %s succeeded attempt=1 elapsed=", id);
    ck_assert_ptr_nonnull(strstr(r.err, line));
    ck_assert_ptr_null(strchr(r.err, '\r'));
    ck_assert_ptr_null(strchr(r.err, '\033'));
    run_free(&r);
    /* --quiet drops the progress. */
    snprintf(args, sizeof args, "--quiet wait %s", id);
    r = run(args);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.err, "");
    run_free(&r);
}
END_TEST

/* On a terminal (a pseudo-terminal from util-linux `script`) the progress is one live line. */
START_TEST(terminal_progress_is_a_live_line) {
    if (access("/usr/bin/script", X_OK) != 0) return; /* no way to give econq a terminal here */
    char args[600];
    snprintf(args, sizeof args,
             "-c \"ECONQ_URL=http://127.0.0.1:%d '%s/econq' submit noop --param sleep_ms=1500 "
             "--wait\" /dev/null",
             d.port, getenv("ECONQ_BUILD_DIR"));
    char cmd[800];
    snprintf(cmd, sizeof cmd, "/usr/bin/script -q %s", args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = slurp(p);
    int st = pclose(p);
    ck_assert_int_eq(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    ck_assert_ptr_nonnull(strstr(out, "\r\033[K")); /* redrawn in place */
    ck_assert_ptr_nonnull(strstr(out, "succeeded"));
    ck_assert_ptr_null(strstr(out, " elapsed=")); /* not the plain lines */
    free(out);
}
END_TEST

START_TEST(submit_wait_failed_job_exits_1) {
    run_out r = run("submit noop --param fail=permanent --max-attempts 1 --wait --json");
    ck_assert_int_eq(r.rc, 1);
    cJSON *o = json_of(&r);
    ck_assert_str_eq(eqt_str(o, "state"), "failed");
    cJSON_Delete(o);
    ck_assert_ptr_nonnull(strstr(r.err, "failed attempt=1"));
    run_free(&r);
}
END_TEST

START_TEST(params_file_and_stdin) {
    char path[400];
    snprintf(path, sizeof path, "%s/params.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"payload\":{\"from\":\"file\"},\"sleep_ms\":1}", f);
    fclose(f);
    char args[600];
    snprintf(args, sizeof args,
             "submit noop --params-file '%s' --param payload.extra=1 --wait "
             "--json",
             path);
    run_out r = run(args);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "\"from\":\"file\""));
    ck_assert_ptr_nonnull(strstr(r.out, "\"extra\":1"));
    run_free(&r);
    r = run_at(NULL, "{\"payload\":\"stdin\"}", "submit noop --params-file - --wait --json");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "\"payload\":\"stdin\""));
    run_free(&r);
}
END_TEST

START_TEST(jobs_table_json_and_filters) {
    char id[64];
    submit_id("submit noop --json", id);
    run_out r = run("jobs --limit 5");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "ID"));
    ck_assert_ptr_nonnull(strstr(r.out, "STATE"));
    ck_assert_ptr_nonnull(strstr(r.out, id));
    run_free(&r);
    r = run("jobs --json --type noop --limit 1");
    ck_assert_int_eq(r.rc, 0);
    cJSON *o = json_of(&r);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "jobs")), 1);
    cJSON_Delete(o);
    run_free(&r);
    r = run("jobs --json --all --type noop --limit 1");
    ck_assert_int_eq(r.rc, 0);
    o = json_of(&r);
    ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItem(o, "jobs")), 1);
    cJSON_Delete(o);
    run_free(&r);
    r = run("jobs --state sleeping");
    ck_assert_int_eq(r.rc, 4);
    ck_assert_ptr_nonnull(strstr(r.err, "invalid-query"));
    run_free(&r);
}
END_TEST

START_TEST(cancel_and_retry) {
    char id[64], args[200];
    submit_id("submit noop --delay-ms 600000 --json", id);
    snprintf(args, sizeof args, "cancel %s", id);
    run_out r = run(args);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "cancelled"));
    run_free(&r);
    r = run(args); /* a second cancel: the job has finished */
    ck_assert_int_eq(r.rc, 4);
    ck_assert_ptr_nonnull(strstr(r.err, "job-finished"));
    run_free(&r);
    snprintf(args, sizeof args, "retry %s --json", id);
    r = run(args);
    ck_assert_int_eq(r.rc, 0);
    cJSON *o = json_of(&r);
    ck_assert_str_eq(eqt_str(o, "id"), id);
    cJSON_Delete(o);
    run_free(&r);
    snprintf(args, sizeof args, "wait %s --json", id);
    r = run(args);
    ck_assert_int_eq(r.rc, 0);
    run_free(&r);
}
END_TEST

START_TEST(idempotency_key_returns_the_same_job) {
    char a[64], b[64];
    submit_id("submit noop --idempotency-key cli-key-1 --json", a);
    submit_id("submit noop --idempotency-key cli-key-1 --json", b);
    ck_assert_str_eq(a, b);
    run_out r = run("submit noop --param sleep_ms=5 --idempotency-key cli-key-1");
    ck_assert_int_eq(r.rc, 4);
    ck_assert_ptr_nonnull(strstr(r.err, "idempotency-key-reused"));
    run_free(&r);
}
END_TEST

START_TEST(problems_exit_4_with_json) {
    run_out r = run("job 01ARZ3NDEKTSV4RRFFQ69G5FAV --json");
    ck_assert_int_eq(r.rc, 4);
    cJSON *o = json_of(&r);
    const cJSON *e = cJSON_GetObjectItem(o, "error");
    ck_assert_str_eq(eqt_str(e, "type"), "/problems/job-not-found");
    ck_assert_int_eq((int)eqt_num(e, "status"), 404);
    ck_assert_int_eq((int)eqt_num(o, "exit"), 4);
    cJSON_Delete(o);
    run_free(&r);
    r = run("submit forecast --param horizon=0");
    ck_assert_int_eq(r.rc, 4);
    ck_assert_ptr_nonnull(strstr(r.err, "invalid-job"));
    run_free(&r);
}
END_TEST

/* Routes of later issues: a clear 404 problem (exit 4) until they are served, then success. */
static void served_or_404(const char *args) {
    run_out r = run(args);
    ck_assert_msg(r.rc == 0 || r.rc == 4, "'%s' exited %d", args, r.rc);
    if (r.rc == 4) ck_assert_msg(strstr(r.err, "HTTP 404") != NULL, "'%s': %s", args, r.err);
    run_free(&r);
}

START_TEST(unserved_routes_report_404) {
    char args[600];
    snprintf(args, sizeof args, "upload '%s/tests/fixtures/data/lynx_annual.csv' --name lynx",
             getenv("ECONQ_SOURCE_DIR"));
    served_or_404(args);
    served_or_404("datasets");
    served_or_404("schedules");
    /* An unknown batch is 404 both before and after batches land. */
    run_out r = run("batch status 01ARZ3NDEKTSV4RRFFQ69G5FAV");
    ck_assert_int_eq(r.rc, 4);
    ck_assert_ptr_nonnull(strstr(r.err, "HTTP 404"));
    run_free(&r);
}
END_TEST

START_TEST(timeout_exits_5) {
    char id[64], args[200];
    submit_id("submit noop --param sleep_ms=4000 --json", id);
    snprintf(args, sizeof args, "--timeout 1 wait %s", id);
    run_out r = run(args);
    ck_assert_int_eq(r.rc, 5);
    run_free(&r);
    snprintf(args, sizeof args, "cancel %s", id); /* do not leave it running */
    r = run(args);
    ck_assert_int_eq(r.rc, 0);
    run_free(&r);
}
END_TEST

START_TEST(unreachable_server_exits_3) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", eqt_free_port());
    static const char *const cmds[] = {"health", "job 01ARZ3NDEKTSV4RRFFQ69G5FAV", "jobs",
                                       "submit noop"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        run_out r = run_at(url, NULL, cmds[i]);
        ck_assert_msg(r.rc == 3, "'%s' exited %d", cmds[i], r.rc);
        run_free(&r);
    }
    run_out r = run_at(url, NULL, "--json health");
    ck_assert_int_eq(r.rc, 3);
    cJSON *o = json_of(&r);
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(o, "error"), "type"),
                     "/problems/client-unreachable");
    cJSON_Delete(o);
    run_free(&r);
}
END_TEST

#define WH_ARGS "webhook verify --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --now 1614265330"
#define WH_HEADERS                                                                                 \
    "Content-Type: application/json\r\nwebhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\r\n"               \
    "webhook-timestamp: 1614265330\r\n"                                                            \
    "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\r\n\r\n"

START_TEST(webhook_verify_reference_vector) {
    run_out r = run_at(NULL, WH_HEADERS "{\"test\": 2432232314}", WH_ARGS);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.out, "verified\n");
    run_free(&r);
    r = run_at(NULL, WH_HEADERS "{\"test\": 2432232315}", WH_ARGS " --json");
    ck_assert_int_eq(r.rc, 1);
    cJSON *o = json_of(&r);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "verified")));
    cJSON_Delete(o);
    run_free(&r);
    r = run_at(NULL, "{\"test\": 2432232314}",
               WH_ARGS " --id msg_p5jXN8AQM9LWM0D4loKWxJek --timestamp 1614265330"
                       " --signature v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    ck_assert_int_eq(r.rc, 0);
    run_free(&r);
    /* Without --now the 2021 timestamp is far outside the tolerance. */
    r = run_at(NULL, WH_HEADERS "{\"test\": 2432232314}",
               "webhook verify --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    ck_assert_int_eq(r.rc, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "timestamp"));
    run_free(&r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("client_cli");
    TCase *tc = tcase_create("against_econqd");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, start, stop);
    tcase_add_test(tc, help_for_every_subcommand);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, health_table_and_json);
    tcase_add_test(tc, submit_job_wait_with_progress_lines);
    tcase_add_test(tc, terminal_progress_is_a_live_line);
    tcase_add_test(tc, submit_wait_failed_job_exits_1);
    tcase_add_test(tc, params_file_and_stdin);
    tcase_add_test(tc, jobs_table_json_and_filters);
    tcase_add_test(tc, cancel_and_retry);
    tcase_add_test(tc, idempotency_key_returns_the_same_job);
    tcase_add_test(tc, problems_exit_4_with_json);
    tcase_add_test(tc, unserved_routes_report_404);
    tcase_add_test(tc, timeout_exits_5);
    tcase_add_test(tc, unreachable_server_exits_3);
    tcase_add_test(tc, webhook_verify_reference_vector);
    tcase_add_test(tc, embed_collections_search_and_delete);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
