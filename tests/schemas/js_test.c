/* Tests schemas/jsonschema.c beyond the official suite: the 2020-12 keywords (cases in
 * tests/schemas/cases/), compile errors, error paths, and the limits on depth and regex work. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/jsonschema.h"
#include "tests/schemas/js_test_util.h"

static js_schema *compile_ok(const char *text) {
    js_schema *s = NULL;
    char err[256];
    eq_err e = js_compile(text, &s, err, sizeof err);
    ck_assert_msg(e == EQ_OK, "compile failed: %s", err);
    return s;
}

/* Validates `instance_json` and returns the result; the error goes to *err. */
static int check(const js_schema *s, const char *instance_json, js_error *err) {
    cJSON *inst = cJSON_Parse(instance_json);
    ck_assert_ptr_nonnull(inst);
    int ok = js_validate(s, inst, err);
    cJSON_Delete(inst);
    return ok;
}

START_TEST(cases_2020_12_pass) {
    char path[1024];
    const char *root = getenv("ECONQ_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/schemas/cases/draft2020-12.json", root ? root : ".");
    jt_counts n = {0};
    ck_assert_int_eq(jt_run_file(path, NULL, NULL, NULL, &n), 0);
    printf("cases draft2020-12.json: passed %d, failed %d\n", n.passed, n.failed);
    ck_assert_int_eq(n.failed, 0);
    ck_assert_int_ge(n.passed, 80);
}
END_TEST

START_TEST(compile_refuses_bad_schemas) {
    static const struct {
        const char *schema;
        eq_err want;
    } bad[] = {
        {"{\"type\": \"strin\"}", EQ_EINVAL},
        {"{\"type\": []}", EQ_EINVAL},
        {"{\"pattern\": \"(unclosed\"}", EQ_EINVAL},
        {"{\"patternProperties\": {\"[\": true}}", EQ_EINVAL},
        {"{\"$ref\": \"#/$defs/missing\"}", EQ_EINVAL},
        {"{\"$ref\": \"https://example.com/remote.json\"}", EQ_EINVAL},
        {"{\"items\": [{\"type\": \"integer\"}]}", EQ_EINVAL},
        {"{\"maxLength\": -1}", EQ_EINVAL},
        {"{\"minItems\": 1.5}", EQ_EINVAL},
        {"{\"multipleOf\": 0}", EQ_EINVAL},
        {"{\"required\": [1]}", EQ_EINVAL},
        {"{\"allOf\": []}", EQ_EINVAL},
        {"{\"properties\": {\"a\": 3}}", EQ_EINVAL},
        {"[1, 2]", EQ_EINVAL},
        {"{\"type\": ", EQ_EINVAL},
        {"{\"unevaluatedProperties\": false}", EQ_EUNSUPPORTED},
        {"{\"items\": {\"$dynamicRef\": \"#x\"}}", EQ_EUNSUPPORTED},
        {"{\"type\": \"string\", \"type\": \"integer\"}", EQ_EINVAL},
        {"{\"properties\": {}, \"properties\": {\"a\": true}}", EQ_EINVAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        js_schema *s = NULL;
        char err[256] = "";
        eq_err e = js_compile(bad[i].schema, &s, err, sizeof err);
        ck_assert_msg(e == bad[i].want, "%s: got %d, want %d", bad[i].schema, e, bad[i].want);
        ck_assert_ptr_null(s);
        ck_assert_msg(err[0] != '\0', "%s: no message", bad[i].schema);
    }
}
END_TEST

START_TEST(error_paths_name_the_field) {
    js_schema *s =
        compile_ok("{\"type\": \"object\", \"properties\": {"
                   "  \"a\": {\"type\": \"array\", \"items\": {\"type\": \"object\","
                   "         \"properties\": {\"b\": {\"type\": \"integer\", \"minimum\": 1}}}},"
                   "  \"x/y\": {\"type\": \"string\"}, \"m~n\": {\"type\": \"string\"}},"
                   " \"required\": [\"need\"], \"additionalProperties\": {\"type\": \"boolean\"}}");
    js_error e;
    ck_assert_int_eq(check(s, "{\"a\": [{\"b\": 1}, {\"b\": 0}], \"need\": true}", &e), 0);
    ck_assert_str_eq(e.path, "/a/1/b");
    ck_assert_str_eq(e.keyword, "minimum");
    ck_assert_ptr_nonnull(strstr(e.message, "minimum 1"));
    ck_assert_int_eq(check(s, "{\"x/y\": 1, \"need\": true}", &e), 0);
    ck_assert_str_eq(e.path, "/x~1y");
    ck_assert_str_eq(e.keyword, "type");
    ck_assert_int_eq(check(s, "{\"m~n\": 1, \"need\": true}", &e), 0);
    ck_assert_str_eq(e.path, "/m~0n");
    ck_assert_int_eq(check(s, "{\"a\": []}", &e), 0);
    ck_assert_str_eq(e.path, "/need");
    ck_assert_str_eq(e.keyword, "required");
    ck_assert_int_eq(check(s, "{\"need\": true, \"other\": \"s\"}", &e), 0);
    ck_assert_str_eq(e.path, "/other");
    ck_assert_str_eq(e.keyword, "type");
    ck_assert_int_eq(check(s, "[]", &e), 0);
    ck_assert_str_eq(e.path, "");
    ck_assert_str_eq(e.keyword, "type");
    ck_assert_str_eq(e.message, "expected object, got array");
    ck_assert_int_eq(check(s, "{\"need\": true, \"more\": true}", &e), 1);
    js_free(s);

    s = compile_ok("{\"additionalProperties\": false}");
    ck_assert_int_eq(check(s, "{\"typo\": 1}", &e), 0);
    ck_assert_str_eq(e.path, "/typo");
    ck_assert_str_eq(e.keyword, "additionalProperties");
    js_free(s);
}
END_TEST

START_TEST(any_of_reports_the_most_specific_branch) {
    js_schema *s = compile_ok(
        "{\"properties\": {\"series\": {\"oneOf\": ["
        "  {\"type\": \"object\", \"required\": [\"values\"], \"additionalProperties\": false,"
        "   \"properties\": {\"values\": {\"type\": \"array\", \"items\": {\"type\": "
        "\"number\"}}}},"
        "  {\"type\": \"object\", \"required\": [\"dataset\"], \"additionalProperties\": false,"
        "   \"properties\": {\"dataset\": {\"type\": \"string\"}}}]}}}");
    js_error e;
    ck_assert_int_eq(check(s, "{\"series\": {\"values\": [1, \"2\"]}}", &e), 0);
    ck_assert_str_eq(e.path, "/series/values/1");
    ck_assert_str_eq(e.keyword, "type");
    ck_assert_int_eq(check(s, "{\"series\": {\"dataset\": 5}}", &e), 0);
    ck_assert_str_eq(e.path, "/series/dataset");
    ck_assert_int_eq(check(s, "{\"series\": 5}", &e), 0);
    ck_assert_str_eq(e.path, "/series");
    ck_assert_str_eq(e.keyword, "oneOf");
    js_free(s);
}
END_TEST

START_TEST(messages_say_what_is_allowed) {
    js_schema *s =
        compile_ok("{\"properties\": {\"m\": {\"enum\": [\"auto\", \"ets\", 3]},"
                   " \"c\": {\"const\": {\"a\": 1}},"
                   " \"n\": {\"not\": {\"const\": \"*\", \"description\": \"no stars\"}},"
                   " \"long\": {\"enum\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                   "   \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
                   "   \"ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
                   "   \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"]}}}");
    js_error e;
    ck_assert_int_eq(check(s, "{\"m\": \"arma\"}", &e), 0);
    ck_assert_str_eq(e.message, "value must be one of \"auto\", \"ets\", 3");
    ck_assert_int_eq(check(s, "{\"c\": {\"a\": 2}}", &e), 0);
    ck_assert_str_eq(e.message, "value must be {\"a\":1}");
    ck_assert_int_eq(check(s, "{\"n\": \"*\"}", &e), 0);
    ck_assert_str_eq(e.keyword, "not");
    ck_assert_str_eq(e.message, "no stars");
    ck_assert_int_eq(check(s, "{\"long\": \"x\"}", &e), 0);
    size_t len = strlen(e.message);
    ck_assert_uint_lt(len, sizeof e.message);
    ck_assert_str_eq(e.message + len - 3, "...");
    js_free(s);
}
END_TEST

START_TEST(depth_is_limited) {
    /* A schema that refers to itself without consuming the instance. */
    js_schema *s = compile_ok("{\"$ref\": \"#\"}");
    js_error e;
    ck_assert_int_eq(check(s, "1", &e), 0);
    ck_assert_str_eq(e.keyword, "depth");
    js_free(s);

    /* A recursive schema accepts moderate nesting and refuses hostile nesting. */
    s = compile_ok("{\"type\": \"array\", \"items\": {\"$ref\": \"#\"}}");
    char deep[4096];
    size_t levels = 1000;
    for (size_t i = 0; i < levels; i++) {
        deep[i] = '[';
        deep[2 * levels - 1 - i] = ']';
    }
    deep[2 * levels] = '\0';
    ck_assert_int_eq(check(s, deep, &e), 0);
    ck_assert_str_eq(e.keyword, "depth");
    ck_assert_int_eq(check(s, "[[[[[[[[[[]]]]]]]]]]", &e), 1);
    js_free(s);
}
END_TEST

START_TEST(regex_backtracking_is_bounded) {
    js_schema *s = compile_ok("{\"pattern\": \"^(a|a?)+$\"}");
    char subject[80];
    memset(subject, 'a', 60);
    strcpy(subject + 60, "b");
    cJSON *inst = cJSON_CreateString(subject);
    js_error e;
    ck_assert_int_eq(js_validate(s, inst, &e), 0);
    ck_assert_str_eq(e.keyword, "pattern");
    cJSON_Delete(inst);
    js_free(s);
}
END_TEST

typedef struct race {
    const js_schema *s;
    cJSON *good, *bad;
    int wrong;
} race;

static void *race_run(void *arg) {
    race *r = arg;
    for (int i = 0; i < 2000; i++) {
        js_error e;
        if (js_validate(r->s, r->good, &e) != 1 || js_validate(r->s, r->bad, &e) != 0 ||
            strcmp(e.path, "/k/1") != 0)
            r->wrong++;
    }
    return NULL;
}

START_TEST(validation_is_thread_safe) {
    js_schema *s =
        compile_ok("{\"properties\": {\"k\": {\"items\": {\"pattern\": \"^[a-z]+$\"}}}}");
    race r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (race){.s = s,
                      .good = cJSON_Parse("{\"k\": [\"ab\", \"cd\"]}"),
                      .bad = cJSON_Parse("{\"k\": [\"ab\", \"C\"]}")};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race_run, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(r[i].wrong, 0);
        cJSON_Delete(r[i].good);
        cJSON_Delete(r[i].bad);
    }
    js_free(s);
}
END_TEST

START_TEST(invalid_utf8_fails_pattern_cleanly) {
    js_schema *s = compile_ok("{\"pattern\": \"^.*$\"}");
    cJSON *inst = cJSON_CreateString("ok");
    js_error e;
    ck_assert_int_eq(js_validate(s, inst, &e), 1);
    cJSON_SetValuestring(inst, "bad \xC3\x28 utf8");
    ck_assert_int_eq(js_validate(s, inst, &e), 0);
    ck_assert_str_eq(e.keyword, "pattern");
    cJSON_Delete(inst);
    js_free(s);
}
END_TEST

int main(void) {
    Suite *su = suite_create("js");
    TCase *tc = tcase_create("js");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cases_2020_12_pass);
    tcase_add_test(tc, compile_refuses_bad_schemas);
    tcase_add_test(tc, error_paths_name_the_field);
    tcase_add_test(tc, any_of_reports_the_most_specific_branch);
    tcase_add_test(tc, messages_say_what_is_allowed);
    tcase_add_test(tc, depth_is_limited);
    tcase_add_test(tc, regex_backtracking_is_bounded);
    tcase_add_test(tc, validation_is_thread_safe);
    tcase_add_test(tc, invalid_utf8_fails_pattern_cleanly);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
