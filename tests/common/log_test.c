/* Tests for common/log.c: level filtering, one JSON object per line, escaping of fields. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Captures what eq_log writes to stderr while `fn` runs; returns it (caller frees). */
static char *capture(void (*fn)(void)) {
    char path[] = "/tmp/econq-unit-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, 2), 0);
    fn();
    fflush(stderr);
    ck_assert_int_ge(dup2(saved, 2), 0);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    ck_assert_int_ge(len, 0);
    char *text = malloc((size_t)len + 1);
    ck_assert_int_eq(pread(fd, text, (size_t)len, 0), len);
    text[len] = '\0';
    close(fd);
    return text;
}

static void log_levels(void) {
    eq_log_set_level(EQ_LOG_WARN);
    eq_log(EQ_LOG_DEBUG, "debug line", NULL);
    eq_log(EQ_LOG_INFO, "info line", NULL);
    eq_log(EQ_LOG_WARN, "warn line", NULL);
    eq_log(EQ_LOG_ERROR, "error line", NULL);
    eq_log_set_level(EQ_LOG_OFF);
    eq_log(EQ_LOG_ERROR, "silenced", NULL);
}

START_TEST(levels_filter) {
    char *text = capture(log_levels);
    ck_assert_ptr_null(strstr(text, "debug line"));
    ck_assert_ptr_null(strstr(text, "info line"));
    ck_assert_ptr_nonnull(strstr(text, "\"level\":\"warn\",\"msg\":\"warn line\""));
    ck_assert_ptr_nonnull(strstr(text, "\"level\":\"error\",\"msg\":\"error line\""));
    ck_assert_ptr_null(strstr(text, "silenced"));
    free(text);
    ck_assert_int_eq(eq_log_level_parse("debug"), EQ_LOG_DEBUG);
    ck_assert_int_eq(eq_log_level_parse("off"), EQ_LOG_OFF);
    ck_assert_int_eq(eq_log_level_parse("verbose"), -1);
    ck_assert_int_eq(eq_log_level_parse("INFO"), -1);
    eq_log_set_level(EQ_LOG_INFO);
    ck_assert(eq_log_enabled(EQ_LOG_ERROR));
    ck_assert(!eq_log_enabled(EQ_LOG_DEBUG));
    ck_assert(!eq_log_enabled(EQ_LOG_OFF));
}
END_TEST

static void log_fields(void) {
    eq_log_set_level(EQ_LOG_DEBUG);
    eq_log(EQ_LOG_INFO, "job \"leased\"", "job_id", "01ABC", "worker", "w\\1\n\t\x01", "empty",
           NULL, NULL);
}

START_TEST(fields_are_escaped_json) {
    char *text = capture(log_fields);
    size_t len = strlen(text);
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(text[len - 1], '\n');
    ck_assert_ptr_eq(strchr(text, '\n'), text + len - 1); /* one line */
    cJSON *o = cJSON_Parse(text);
    ck_assert_msg(o != NULL, "not JSON: %s", text);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "level")->valuestring, "info");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "msg")->valuestring, "job \"leased\"");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "job_id")->valuestring, "01ABC");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "worker")->valuestring, "w\\1\n\t\x01");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "empty")->valuestring, "");
    const char *ts = cJSON_GetObjectItemCaseSensitive(o, "time")->valuestring;
    ck_assert_uint_eq(strlen(ts), 24);
    ck_assert_int_eq(ts[23], 'Z');
    cJSON_Delete(o);
    free(text);
}
END_TEST

static void log_long(void) {
    eq_log_set_level(EQ_LOG_DEBUG);
    static char big[10000];
    memset(big, 'x', sizeof big - 1);
    for (size_t i = 0; i < sizeof big - 1; i += 100)
        big[i] = '"'; /* escapes double the length of some characters */
    big[sizeof big - 1] = '\0';
    eq_log(EQ_LOG_ERROR, "long field", "message", big, "after", "y", NULL);
}

/* BUG (pending fix in common/log.c, eq_log): a line longer than the 4 KB buffer is cut
 * mid-string and loses its closing quotes (seen: `...xxx","":"}`), so the "one JSON object per
 * line" promise breaks and a log shipper drops the line (a worker's error message may be up to
 * 4096 bytes). Fix in eq_log: keep 4 bytes in reserve (text limit cap = sizeof line - 4); skip a
 * whole field (key and value) when fewer than 16 bytes remain so a key is never cut; and write
 * the closing quote of msg and of each value directly (`line[pos++] = '"'`) instead of through
 * put_raw, which may drop it. Runs only with ECONQ_PENDING_FIXES=1. */
START_TEST(a_long_line_is_still_json) {
    char *text = capture(log_long);
    size_t len = strlen(text);
    ck_assert_uint_gt(len, 0);
    ck_assert_uint_le(len, 4096);
    ck_assert_int_eq(text[len - 1], '\n');
    cJSON *o = cJSON_Parse(text);
    ck_assert_msg(o != NULL, "truncated line is not JSON (%zu bytes), ends: %s", len,
                  text + (len > 40 ? len - 40 : 0));
    cJSON_Delete(o);
    free(text);
}
END_TEST

START_TEST(a_long_line_stays_bounded) {
    /* Whatever the JSON shape, a huge field never overruns the line buffer (ASan) and ends in
     * a newline. */
    char *text = capture(log_long);
    size_t len = strlen(text);
    ck_assert_uint_le(len, 4096);
    ck_assert_int_eq(text[len - 1], '\n');
    ck_assert(strncmp(text, "{\"time\":\"", 9) == 0);
    free(text);
}
END_TEST

int main(void) {
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, levels_filter);
    tcase_add_test(tc, fields_are_escaped_json);
    tcase_add_test(tc, a_long_line_stays_bounded);
    suite_add_tcase(s, tc);
    /* Tests that fail until a known bug is fixed (see each test's comment). */
    const char *pending = getenv("ECONQ_PENDING_FIXES");
    if (pending && strcmp(pending, "1") == 0) {
        TCase *tp = tcase_create("pending_fixes");
        tcase_add_test(tp, a_long_line_is_still_json);
        suite_add_tcase(s, tp);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
