/* libeconq and the econq CLI against a scripted fake server (tests/client/fake_http.c): the
 * requests for routes econqd does not serve yet (datasets, batches, schedules, search) and
 * answers it does not give on demand (503 during a wait, batch progress, an .xlsx download). */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/econq.h"
#include "tests/client/fake_http.h"

#define JOB_ID "01M8JTSHX9GHRVT9PB3SGQYSZA"
#define JOB(state) "{\"id\":\"" JOB_ID "\",\"type\":\"noop\",\"state\":\"" state "\",\"attempt\":1}"
#define BUSY "{\"type\":\"/problems/overloaded\",\"title\":\"Busy\",\"status\":503}"

static eq_client *client_for(const fake_http *f, const char *key) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
    eq_client *c = econq_new(url, key);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void wait_cb(const eq_job *j, void *ctx) {
    (void)j;
    (*(int *)ctx)++;
}

START_TEST(wait_retries_503_with_backoff) {
    static const fake_resp script[] = {{503, NULL, BUSY, 0},
                                       {503, NULL, BUSY, 0},
                                       {200, NULL, JOB("running"), 0},
                                       {200, NULL, JOB("succeeded"), 0}};
    fake_http f;
    ck_assert_int_eq(fake_http_start(&f, script, 4), 0);
    eq_client *c = client_for(&f, "sekrit");
    econq_set_long_poll_s(c, 2);
    eq_job j;
    int calls = 0;
    ck_assert_int_eq(econq_wait(c, JOB_ID, 20000, wait_cb, &calls, &j), EQ_OK);
    ck_assert_int_eq(j.state, EQ_JOB_SUCCEEDED);
    ck_assert_int_eq(calls, 2); /* the two answers that were jobs */
    econq_job_fini(&j);
    econq_free(c);
    fake_http_stop(&f);
    ck_assert_int_eq(f.n_reqs, 4);
    char auth[128];
    for (size_t i = 0; i < f.n_reqs; i++) {
        ck_assert_str_eq(f.reqs[i].method, "GET");
        ck_assert_str_eq(f.reqs[i].path, "/v1/jobs/" JOB_ID "?wait=2");
        ck_assert_ptr_nonnull(fake_req_header(&f.reqs[i], "Authorization", auth, sizeof auth));
        ck_assert_str_eq(auth, "Bearer sekrit");
    }
    fake_http_fini(&f);
}
END_TEST

START_TEST(wait_stops_at_a_non_transient_problem) {
    static const fake_resp script[] = {
        {404, NULL,
         "{\"type\":\"/problems/job-not-found\",\"title\":\"Not Found\","
         "\"status\":404,\"detail\":\"no job has this id\"}",
         0}};
    fake_http f;
    ck_assert_int_eq(fake_http_start(&f, script, 1), 0);
    eq_client *c = client_for(&f, NULL);
    eq_job j;
    ck_assert_int_eq(econq_wait(c, JOB_ID, 20000, NULL, NULL, &j), EQ_ENOTFOUND);
    ck_assert_str_eq(econq_problem(c)->detail, "no job has this id");
    econq_job_fini(&j);
    econq_free(c);
    fake_http_stop(&f);
    ck_assert_int_eq(f.n_reqs, 1);
    char h[64];
    ck_assert_ptr_null(fake_req_header(&f.reqs[0], "Authorization", h, sizeof h));
    fake_http_fini(&f);
}
END_TEST

START_TEST(upload_sends_raw_body_with_sniffed_type) {
    static const fake_resp script[] = {
        {201, NULL, "{\"id\":\"01DATASET0000000000000000A\",\"name\":\"my data\"}", 0},
        {201, NULL, "{\"id\":\"01DATASET0000000000000000B\"}", 0}};
    fake_http f;
    ck_assert_int_eq(fake_http_start(&f, script, 2), 0);
    eq_client *c = client_for(&f, NULL);
    char id[ECONQ_ID_SIZE], *json = NULL;
    const char csv[] = "date,x\n2024-01-01,1\n";
    ck_assert_int_eq(econq_dataset_upload(c, csv, strlen(csv), "my data/../x", NULL, &json, id),
                     EQ_OK);
    ck_assert_str_eq(id, "01DATASET0000000000000000A");
    ck_assert_ptr_nonnull(strstr(json, "my data"));
    free(json);
    const char xlsx[] = "PK\x03\x04 not really a zip";
    ck_assert_int_eq(econq_dataset_upload(c, xlsx, sizeof xlsx - 1, NULL, NULL, NULL, id), EQ_OK);
    econq_free(c);
    fake_http_stop(&f);
    char ct[128];
    ck_assert_str_eq(f.reqs[0].method, "POST");
    ck_assert_str_eq(f.reqs[0].path, "/v1/datasets?name=my%20data%2F..%2Fx");
    fake_req_header(&f.reqs[0], "Content-Type", ct, sizeof ct);
    ck_assert_str_eq(ct, "text/csv");
    ck_assert_str_eq(f.reqs[0].body, csv);
    ck_assert_str_eq(f.reqs[1].path, "/v1/datasets");
    fake_req_header(&f.reqs[1], "Content-Type", ct, sizeof ct);
    ck_assert_str_eq(ct, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    ck_assert_int_eq(f.reqs[1].len, sizeof xlsx - 1);
    fake_http_fini(&f);
}
END_TEST

#define BATCH_ID "01BATCH00000000000000000AA"
#define BATCH(q, r, s, fl, done)                                                                   \
    "{\"id\":\"" BATCH_ID "\",\"total\":3,\"counts\":{\"queued\":" #q ",\"running\":" #r           \
    ",\"succeeded\":" #s ",\"failed\":" #fl "},\"done\":" done "}"
static const char xlsx_bytes[] = "PK\x03\x04\x00\x01binary\xff workbook";

static void batch_cb(const eq_batch_status *s, void *ctx) {
    ck_assert_int_eq(s->total, 3);
    (*(int *)ctx)++;
}

START_TEST(batch_submit_wait_and_xlsx) {
    static const fake_resp script[] = {
        {202, NULL, "{\"id\":\"" BATCH_ID "\",\"total\":3}", 0},
        {200, NULL, BATCH(2, 1, 0, 0, "false"), 0},
        {503, NULL, BUSY, 0},
        {200, NULL, BATCH(0, 0, 2, 1, "true"), 0},
        {200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx_bytes,
         sizeof xlsx_bytes - 1},
        {404, NULL, "{\"type\":\"/problems/batch-not-found\",\"status\":404}", 0}};
    fake_http f;
    ck_assert_int_eq(fake_http_start(&f, script, 6), 0);
    eq_client *c = client_for(&f, NULL);
    char id[ECONQ_ID_SIZE];
    const char *cols[] = {"gdp", "cpi", "unemployment"};
    ck_assert_int_eq(
        econq_batch_forecast(c, "01DATASET0000000000000000A", cols, 3, 8, "ets", NULL, id), EQ_OK);
    ck_assert_str_eq(id, BATCH_ID);
    eq_batch_status st;
    int calls = 0;
    ck_assert_int_eq(econq_batch_wait(c, id, 30000, batch_cb, &calls, &st), EQ_OK);
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(st.done, 1);
    ck_assert_int_eq(st.succeeded, 2);
    ck_assert_int_eq(st.failed, 1);
    econq_batch_status_fini(&st);
    char dir[] = "/tmp/econq-client-fake-XXXXXX", path[128], path2[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/results.xlsx", dir);
    ck_assert_int_eq(econq_batch_results_xlsx(c, id, path), EQ_OK);
    FILE *x = fopen(path, "rb");
    char got[64];
    size_t n = fread(got, 1, sizeof got, x);
    fclose(x);
    ck_assert_int_eq(n, sizeof xlsx_bytes - 1);
    ck_assert(memcmp(got, xlsx_bytes, n) == 0);
    /* A failed download leaves neither the file nor its temporary behind. */
    snprintf(path2, sizeof path2, "%s/missing.xlsx", dir);
    ck_assert_int_eq(econq_batch_results_xlsx(c, id, path2), EQ_ENOTFOUND);
    struct stat sb;
    ck_assert_int_ne(stat(path2, &sb), 0);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0); /* empty: no *.part.* left */
    econq_free(c);
    fake_http_stop(&f);
    ck_assert_str_eq(f.reqs[0].path, "/v1/batches");
    cJSON *b = cJSON_Parse(f.reqs[0].body);
    ck_assert_str_eq(cJSON_GetObjectItem(b, "type")->valuestring, "forecast");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "columns")), 3);
    const cJSON *p = cJSON_GetObjectItem(b, "params");
    ck_assert_int_eq(cJSON_GetObjectItem(p, "horizon")->valueint, 8);
    ck_assert_str_eq(cJSON_GetObjectItem(p, "method")->valuestring, "ets");
    cJSON_Delete(b);
    char accept[128];
    fake_req_header(&f.reqs[4], "Accept", accept, sizeof accept);
    ck_assert_str_eq(accept, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    ck_assert_str_eq(f.reqs[4].path, "/v1/batches/" BATCH_ID "/results");
    fake_http_fini(&f);
}
END_TEST

START_TEST(schedules_and_search_requests) {
    static const fake_resp script[] = {
        {201, NULL, "{\"name\":\"nightly\",\"cron\":\"0 3 * * *\"}", 0},
        {204, NULL, "", 0},
        {202, NULL, JOB("queued"), 0},
        {200, NULL,
         "{\"id\":\"" JOB_ID "\",\"type\":\"search\",\"state\":\"succeeded\","
         "\"result\":{\"results\":[{\"id\":\"d1\",\"score\":0.9,\"text\":\"t\"}]}}",
         0}};
    fake_http f;
    ck_assert_int_eq(fake_http_start(&f, script, 4), 0);
    eq_client *c = client_for(&f, NULL);
    char *json = NULL;
    ck_assert_int_eq(econq_schedule_create(c, "nightly", "0 3 * * *",
                                           "{\"type\":\"noop\",\"params\":{}}", &json),
                     EQ_OK);
    free(json);
    ck_assert_int_eq(econq_schedule_delete(c, "nightly"), EQ_OK);
    eq_job j;
    ck_assert_int_eq(econq_search(c, "notes", "imports fell", 3, 10000, &j), EQ_OK);
    ck_assert_int_eq(j.state, EQ_JOB_SUCCEEDED);
    ck_assert_ptr_nonnull(strstr(j.json, "\"d1\""));
    econq_job_fini(&j);
    econq_free(c);
    fake_http_stop(&f);
    cJSON *s = cJSON_Parse(f.reqs[0].body);
    ck_assert_str_eq(cJSON_GetObjectItem(s, "cron")->valuestring, "0 3 * * *");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "job"), "type")->valuestring,
                     "noop");
    cJSON_Delete(s);
    ck_assert_str_eq(f.reqs[1].method, "DELETE");
    ck_assert_str_eq(f.reqs[1].path, "/v1/schedules/nightly");
    cJSON *q = cJSON_Parse(f.reqs[2].body);
    ck_assert_str_eq(cJSON_GetObjectItem(q, "type")->valuestring, "search");
    const cJSON *p = cJSON_GetObjectItem(q, "params");
    ck_assert_str_eq(cJSON_GetObjectItem(p, "query")->valuestring, "imports fell");
    ck_assert_int_eq(cJSON_GetObjectItem(p, "k")->valueint, 3);
    cJSON_Delete(q);
    fake_http_fini(&f);
}
END_TEST

/* The CLI's batch with --wait: progress lines (stderr is not a terminal) and the workbook. */
START_TEST(cli_batch_progress_lines_and_output) {
    static const fake_resp script[] = {
        {202, NULL, "{\"id\":\"" BATCH_ID "\",\"total\":3}", 0},
        {200, NULL, BATCH(2, 1, 0, 0, "false"), 0},
        {200, NULL, BATCH(0, 1, 2, 0, "false"), 0},
        {200, NULL, BATCH(0, 0, 3, 0, "true"), 0},
        {200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx_bytes,
         sizeof xlsx_bytes - 1}};
    fake_http f;
    ck_assert_int_eq(fake_http_start(&f, script, 5), 0);
    char dir[] = "/tmp/econq-client-cli-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s/econq' --url http://127.0.0.1:%d batch --dataset D1 --columns '*' "
             "--horizon 4 --wait -o '%s/out.xlsx' 2>'%s/err' >'%s/out'",
             getenv("ECONQ_BUILD_DIR"), f.port, dir, dir, dir);
    int st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    fake_http_stop(&f);
    char path[128], buf[4096];
    snprintf(path, sizeof path, "%s/err", dir);
    FILE *e = fopen(path, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, e);
    buf[n] = '\0';
    fclose(e);
    ck_assert_ptr_nonnull(strstr(buf, "batch 0/3 done"));
    ck_assert_ptr_nonnull(strstr(buf, "batch 2/3 done"));
    ck_assert_ptr_nonnull(strstr(buf, "batch 3/3 done"));
    ck_assert_ptr_null(strchr(buf, '\r'));
    cJSON *b = cJSON_Parse(f.reqs[0].body);
    const cJSON *cols = cJSON_GetObjectItem(b, "columns");
    ck_assert_str_eq(cJSON_GetArrayItem(cols, 0)->valuestring, "*");
    cJSON_Delete(b);
    struct stat sb;
    snprintf(path, sizeof path, "%s/out.xlsx", dir);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, sizeof xlsx_bytes - 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    fake_http_fini(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("client_fake");
    TCase *tc = tcase_create("scripted");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, wait_retries_503_with_backoff);
    tcase_add_test(tc, wait_stops_at_a_non_transient_problem);
    tcase_add_test(tc, upload_sends_raw_body_with_sniffed_type);
    tcase_add_test(tc, batch_submit_wait_and_xlsx);
    tcase_add_test(tc, schedules_and_search_requests);
    tcase_add_test(tc, cli_batch_progress_lines_and_output);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
