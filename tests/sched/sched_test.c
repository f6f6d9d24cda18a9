/* Schedules against a real `econqd serve`: firing under an injected clock (--clock-offset-ms),
 * exactly one job per tick across restarts, missed ticks run once, validation, the built-in
 * maintenance schedules and jobs, backup then restore. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/eqtest.h"

static eqd d;

/* Wall-clock unix ms: the scheduler's clock is the wall clock plus the offset. */
static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start_with(const char *dir, long long offset_ms, const char *extra) {
    char off[32];
    snprintf(off, sizeof off, "%lld", offset_ms);
    const char *args[] = {
        "--durability", "nosync", "--clock-offset-ms", off, extra ? "--backups-keep" : NULL,
        extra,          NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
}

static void stop(void) {
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0); /* clean exit: no leak, no crash */
}

static int post(const char *path, const char *body, http_resp *r) {
    return http_do(d.port, "POST", path, "Content-Type: application/json\r\n", body, strlen(body),
                   r);
}

/* Jobs made by schedule `name`, counted over the whole job list. */
static int count_scheduled(const char *name) {
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "GET", "/v1/jobs?limit=1000", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    cJSON *o = http_json(&r), *jobs = cJSON_GetObjectItem(o, "jobs"), *j;
    int n = 0;
    cJSON_ArrayForEach(j, jobs) {
        const char *s = eqt_str(j, "schedule");
        if (s && strcmp(s, name) == 0) n++;
    }
    cJSON_Delete(o);
    http_resp_free(&r);
    return n;
}

/* The writer has run a group after start-up once a submitted job finished. */
static void settle(void) {
    char id[64];
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{}}", id), 202);
    cJSON *j = eqt_wait_terminal(d.port, id, 20);
    ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
    cJSON_Delete(j);
}

static int wait_count(const char *name, int want, int timeout_ms) {
    int n = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if ((n = count_scheduled(name)) >= want) break;
        eqt_sleep_ms(100);
    }
    return n;
}

static cJSON *get_json(const char *path, int status) {
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "GET", path, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, status);
    cJSON *o = http_json(&r);
    http_resp_free(&r);
    return o;
}

START_TEST(fires_once_per_tick_across_restarts) {
    char dir[256];
    eqt_tmpdir(dir, sizeof dir);
    /* The scheduler's clock sits 6 s before a minute boundary B (time to start and POST). */
    long long now = wall_ms();
    long long b = ((now + 10000) / 60000 + 1) * 60000;
    start_with(dir, b - 6000 - now, NULL);
    http_resp r;
    ck_assert_int_eq(post("/v1/schedules",
                          "{\"name\":\"every\",\"cron\":\"* * * * *\","
                          "\"job\":{\"type\":\"noop\",\"params\":{}}}",
                          &r),
                     0);
    ck_assert_int_eq(r.status, 201);
    cJSON *o = http_json(&r);
    ck_assert_ptr_nonnull(eqt_str(o, "next_run_at"));
    cJSON_Delete(o);
    http_resp_free(&r);
    ck_assert_int_eq(count_scheduled("every"), 0);
    ck_assert_int_eq(wait_count("every", 1, 15000), 1);
    settle();
    ck_assert_int_eq(count_scheduled("every"), 1);
    stop();

    /* Restarted within the same minute: the tick has run, nothing more. */
    now = wall_ms();
    start_with(dir, b + 20000 - now, NULL);
    settle();
    eqt_sleep_ms(500);
    ck_assert_int_eq(count_scheduled("every"), 1);
    stop();

    /* Restarted three ticks later: the missed ticks run once. */
    now = wall_ms();
    start_with(dir, b + 3 * 60000 + 20000 - now, NULL);
    ck_assert_int_eq(wait_count("every", 2, 15000), 2);
    settle();
    eqt_sleep_ms(500);
    ck_assert_int_eq(count_scheduled("every"), 2);
    o = get_json("/v1/schedules/every", 200);
    ck_assert_ptr_nonnull(eqt_str(o, "last_run_at"));
    ck_assert_ptr_nonnull(eqt_str(o, "next_run_at"));
    ck_assert_str_gt(eqt_str(o, "next_run_at"), eqt_str(o, "last_run_at"));
    cJSON_Delete(o);

    /* Deleted: gone from the list, and no more jobs. */
    ck_assert_int_eq(http_do(d.port, "DELETE", "/v1/schedules/every", NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 204);
    http_resp_free(&r);
    o = get_json("/v1/schedules/every", 404);
    cJSON_Delete(o);
    stop();
    eqt_rmdir(dir);
}
END_TEST

static void expect_422(const char *body, const char *field) {
    http_resp r;
    ck_assert_int_eq(post("/v1/schedules", body, &r), 0);
    ck_assert_int_eq(r.status, 422);
    cJSON *o = http_json(&r);
    ck_assert_str_eq(eqt_str(o, "field"), field);
    cJSON_Delete(o);
    http_resp_free(&r);
}

START_TEST(validation_and_builtins) {
    char dir[256];
    eqt_tmpdir(dir, sizeof dir);
    start_with(dir, 0, NULL);
    expect_422("{\"name\":\"x\",\"cron\":\"61 * * * *\",\"job\":{\"type\":\"noop\",\"params\":{}}}",
               "/cron");
    expect_422("{\"name\":\"x\",\"cron\":\"@reboot\",\"job\":{\"type\":\"noop\",\"params\":{}}}",
               "/cron");
    expect_422(
        "{\"name\":\"Bad Name\",\"cron\":\"* * * * *\",\"job\":{\"type\":\"noop\",\"params\":{}}}",
        "/name");
    expect_422(
        "{\"name\":\"x\",\"cron\":\"* * * * *\",\"job\":{\"type\":\"forecast\",\"params\":{}}}",
        "/job/params/series");
    expect_422("{\"name\":\"x\",\"cron\":\"* * * * *\",\"job\":{\"type\":\"noop\",\"params\":{},"
               "\"delay_ms\":5}}",
               "/job/delay_ms");
    expect_422("{\"name\":\"x\",\"job\":{\"type\":\"noop\",\"params\":{}}}", "/cron");

    /* A second POST with the same name replaces the schedule (200). */
    http_resp r;
    const char *body = "{\"name\":\"nightly\",\"cron\":\"0 3 * * MON-FRI\","
                       "\"job\":{\"type\":\"noop\",\"params\":{},\"priority\":2}}";
    ck_assert_int_eq(post("/v1/schedules", body, &r), 0);
    ck_assert_int_eq(r.status, 201);
    http_resp_free(&r);
    ck_assert_int_eq(post("/v1/schedules", body, &r), 0);
    ck_assert_int_eq(r.status, 200);
    http_resp_free(&r);

    cJSON *o = get_json("/v1/schedules", 200), *s;
    int seen = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(o, "schedules")) {
        const char *name = eqt_str(s, "name");
        const char *type = eqt_str(cJSON_GetObjectItem(s, "job"), "type");
        if (strcmp(name, "nightly") == 0) {
            ck_assert_str_eq(type, "noop");
            ck_assert_int_eq((int)eqt_num(cJSON_GetObjectItem(s, "job"), "priority"), 2);
            seen |= 1;
        } else if (strcmp(name, "maintenance.cache") == 0) {
            ck_assert_str_eq(eqt_str(s, "cron"), "*/5 * * * *");
            ck_assert_str_eq(type, "maintenance.cache");
            seen |= 2;
        } else if (strcmp(name, "maintenance.retention") == 0) {
            seen |= 4;
        } else if (strcmp(name, "maintenance.backup") == 0) {
            seen |= 8;
        }
    }
    ck_assert_int_eq(seen, 15);
    cJSON_Delete(o);
    stop();
    eqt_rmdir(dir);
}
END_TEST

static char *submit_wait(const char *body, const char *state) {
    static char id[64];
    ck_assert_int_eq(eqt_submit(d.port, body, id), 202);
    cJSON *j = eqt_wait_terminal(d.port, id, 20);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(eqt_str(j, "state"), state);
    cJSON_Delete(j);
    return id;
}

static int count_backups(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/backups", dir);
    DIR *dd = opendir(path);
    int n = 0;
    if (!dd) return 0;
    for (struct dirent *e; (e = readdir(dd));)
        n += strncmp(e->d_name, "econq-", 6) == 0 && strstr(e->d_name, ".mdb") != NULL &&
             strstr(e->d_name, ".tmp") == NULL;
    closedir(dd);
    return n;
}

/* Runs `econqd <args...>` and returns its exit status. */
static int run_econqd(const char *const *args) {
    char bin[600];
    const char *bd = getenv("ECONQ_BUILD_DIR");
    snprintf(bin, sizeof bin, "%s/econqd", bd ? bd : ".");
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[16] = {bin};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        freopen("/dev/null", "w", stdout);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

START_TEST(maintenance_jobs_backup_and_restore) {
    char dir[256], dir2[256], file[512];
    char ids[3][64];
    eqt_tmpdir(dir, sizeof dir);
    eqt_tmpdir(dir2, sizeof dir2);
    start_with(dir, 0, "2");
    for (int i = 0; i < 3; i++)
        snprintf(ids[i], sizeof ids[i], "%s",
                 submit_wait("{\"type\":\"noop\",\"params\":{\"payload\":1}}", "succeeded"));
    /* maintenance.cache and maintenance.retention run in the broker and report what they did. */
    char *id = submit_wait("{\"type\":\"maintenance.cache\",\"params\":{}}", "succeeded");
    cJSON *j = eqt_job(d.port, id, 0);
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"), "removed"));
    cJSON_Delete(j);
    id = submit_wait("{\"type\":\"maintenance.retention\",\"params\":{}}", "succeeded");
    j = eqt_job(d.port, id, 0);
    ck_assert_int_eq((int)eqt_num(cJSON_GetObjectItem(j, "result"), "deleted"), 0);
    cJSON_Delete(j);
    /* Three backups with --backups-keep 2: two files remain. */
    for (int i = 0; i < 3; i++) {
        id = submit_wait("{\"type\":\"maintenance.backup\",\"params\":{}}", "succeeded");
        j = eqt_job(d.port, id, 0);
        const char *f = eqt_str(cJSON_GetObjectItem(j, "result"), "file");
        ck_assert_ptr_nonnull(f);
        char path[600];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, f);
        ck_assert_int_eq(stat(path, &sb), 0);
        ck_assert_int_gt(sb.st_size, 0);
        cJSON_Delete(j);
        eqt_sleep_ms(5); /* distinct file names (millisecond stamps) */
    }
    ck_assert_int_eq(count_backups(dir), 2);

    /* econqd backup beside the running server, then restore into another directory. */
    snprintf(file, sizeof file, "%s/copy.mdb", dir2);
    const char *bk[] = {"backup", "--data-dir", dir, "--out", file, NULL};
    ck_assert_int_eq(run_econqd(bk), 0);
    ck_assert_int_ne(run_econqd(bk), 0); /* the file exists: refused */
    const char *busy[] = {"restore", "--data-dir", dir, "--from", file, NULL};
    ck_assert_int_ne(run_econqd(busy), 0); /* the store is in use */
    stop();
    char dir3[300];
    snprintf(dir3, sizeof dir3, "%s/restored", dir2);
    /* A file that is not a store is refused before anything is replaced. */
    char junk[512], data3[400];
    snprintf(junk, sizeof junk, "%s/junk.mdb", dir2);
    FILE *f = fopen(junk, "w");
    for (int i = 0; i < 3000; i++)
        fputs("not a store ", f);
    fclose(f);
    const char *bad[] = {"restore", "--data-dir", dir3, "--from", junk, NULL};
    ck_assert_int_ne(run_econqd(bad), 0);
    snprintf(data3, sizeof data3, "%s/data.mdb", dir3);
    ck_assert_int_ne(access(data3, F_OK), 0);
    const char *rs[] = {"restore", "--data-dir", dir3, "--from", file, NULL};
    ck_assert_int_eq(run_econqd(rs), 0);
    start_with(dir3, 0, NULL);
    for (int i = 0; i < 3; i++) {
        j = eqt_job(d.port, ids[i], 0);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(eqt_str(j, "id"), ids[i]);
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        ck_assert_int_eq(
            (int)eqt_num(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"), "echo"), "payload"),
            1);
        cJSON_Delete(j);
    }
    stop();
    eqt_rmdir(dir);
    eqt_rmdir(dir2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("sched");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fires_once_per_tick_across_restarts);
    tcase_add_test(tc, validation_and_builtins);
    tcase_add_test(tc, maintenance_jobs_backup_and_restore);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
