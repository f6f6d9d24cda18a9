/* Tests schemas/schemas.c and the schema files: every embedded schema compiles, the embedded
 * text is the file's, every size is limited, the job envelope is the same in job.json,
 * batch.json and schedule.json, and the example bodies in tests/schemas/cases/bodies.json
 * (valid and invalid, for every job type's params) validate as expected with the error
 * naming the offending field. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas.h"
#include "tests/schemas/js_test_util.h"

static const char *const NAMES[] = {
    "batch",           "job",           "params/chart",       "params/embed",
    "params/forecast", "params/llm",    "params/maintenance", "params/noop",
    "params/report",   "params/search", "schedule",
};
#define N_NAMES (sizeof NAMES / sizeof NAMES[0])

static char *source_path(const char *rel) {
    const char *root = getenv("ECONQ_SOURCE_DIR");
    char *p = NULL;
    ck_assert_int_gt(asprintf(&p, "%s/%s", root ? root : ".", rel), 0);
    return p;
}

static void setup(void) {
    ck_assert_int_eq(schemas_init(), EQ_OK);
}

static void teardown(void) {
    schemas_fini();
}

START_TEST(every_schema_is_embedded_and_compiles) {
    ck_assert_uint_eq(schemas_count(), N_NAMES);
    for (size_t i = 0; i < N_NAMES; i++) {
        ck_assert_str_eq(schemas_name(i), NAMES[i]);
        ck_assert_ptr_nonnull(schemas_text(NAMES[i]));
        ck_assert_msg(schemas_get(NAMES[i]) != NULL, "%s did not compile", NAMES[i]);
    }
    ck_assert_ptr_null(schemas_name(N_NAMES));
    ck_assert_ptr_null(schemas_text("params/nope"));
    ck_assert_ptr_null(schemas_get("params/nope"));
    ck_assert_ptr_null(schemas_get(NULL));
    ck_assert_int_eq(schemas_init(), EQ_OK); /* idempotent */
}
END_TEST

START_TEST(embedded_text_is_the_file) {
    for (size_t i = 0; i < N_NAMES; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "schemas/%s.json", NAMES[i]);
        char *path = source_path(rel);
        char *text = jt_read_file(path);
        ck_assert_msg(text != NULL, "cannot read %s", path);
        ck_assert_str_eq(schemas_text(NAMES[i]), text);
        free(text);
        free(path);
    }
}
END_TEST

/* Fails unless every string, array, object and integer reachable in `s` is bounded. */
static void check_limits(const char *name, const cJSON *s, const char *where) {
    if (!cJSON_IsObject(s)) return;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    int is[4] = {0}; /* string, array, object, integer */
    static const char *const kinds[4] = {"string", "array", "object", "integer"};
    const cJSON *t = cJSON_IsArray(type) ? type->child : type;
    for (; t; t = cJSON_IsArray(type) ? t->next : NULL)
        for (int k = 0; k < 4; k++)
            if (cJSON_IsString(t) && strcmp(t->valuestring, kinds[k]) == 0) is[k] = 1;
    if (is[0])
        ck_assert_msg(cJSON_HasObjectItem(s, "maxLength"), "%s %s: string without maxLength", name,
                      where);
    if (is[1])
        ck_assert_msg(cJSON_HasObjectItem(s, "maxItems"), "%s %s: array without maxItems", name,
                      where);
    if (is[2]) {
        const cJSON *ap = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
        ck_assert_msg(cJSON_IsFalse(ap) || cJSON_HasObjectItem(s, "maxProperties"),
                      "%s %s: object neither closed nor bounded", name, where);
    }
    if (is[3])
        ck_assert_msg(cJSON_HasObjectItem(s, "maximum") && cJSON_HasObjectItem(s, "minimum"),
                      "%s %s: integer without range", name, where);
    static const char *const one[] = {"additionalProperties",
                                      "propertyNames",
                                      "items",
                                      "contains",
                                      "not",
                                      "if",
                                      "then",
                                      "else",
                                      NULL};
    static const char *const many[] = {
        "prefixItems",      "allOf", "anyOf", "oneOf", "properties", "patternProperties", "$defs",
        "dependentSchemas", NULL};
    char sub[512];
    for (const char *const *k = one; *k; k++) {
        snprintf(sub, sizeof sub, "%s/%s", where, *k);
        check_limits(name, cJSON_GetObjectItemCaseSensitive(s, *k), sub);
    }
    for (const char *const *k = many; *k; k++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(s, *k), *m;
        int i = 0;
        cJSON_ArrayForEach(m, list) {
            if (m->string)
                snprintf(sub, sizeof sub, "%s/%s/%s", where, *k, m->string);
            else
                snprintf(sub, sizeof sub, "%s/%s/%d", where, *k, i);
            check_limits(name, m, sub);
            i++;
        }
    }
}

START_TEST(every_size_is_limited) {
    for (size_t i = 0; i < N_NAMES; i++) {
        cJSON *doc = cJSON_Parse(schemas_text(NAMES[i]));
        ck_assert_ptr_nonnull(doc);
        ck_assert_msg(cJSON_IsString(cJSON_GetObjectItem(doc, "description")),
                      "%s has no description", NAMES[i]);
        check_limits(NAMES[i], doc, "#");
        cJSON_Delete(doc);
    }
}
END_TEST

START_TEST(envelope_is_the_same_everywhere) {
    cJSON *job = cJSON_Parse(schemas_text("job"));
    static const char *const drop[] = {"$schema", "$id", "title", "description"};
    for (size_t i = 0; i < 4; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(job, drop[i]);
    static const char *const copies[] = {"batch", "schedule"};
    for (size_t i = 0; i < 2; i++) {
        cJSON *doc = cJSON_Parse(schemas_text(copies[i]));
        cJSON *defs = cJSON_GetObjectItemCaseSensitive(doc, "$defs");
        cJSON *env = cJSON_GetObjectItemCaseSensitive(defs, "envelope");
        ck_assert_ptr_nonnull(env);
        cJSON_DeleteItemFromObjectCaseSensitive(env, "description");
        ck_assert_msg(cJSON_Compare(job, env, 1), "%s.json's $defs/envelope differs from job.json",
                      copies[i]);
        cJSON_Delete(doc);
    }
    cJSON_Delete(job);
}
END_TEST

/* Applies a case's "grow" list: the array (or string) at each JSON pointer is extended to
 * `to` items (characters) by repeating its last one, so huge bodies need no huge file. */
static void grow(cJSON *data, const cJSON *list) {
    const cJSON *g;
    cJSON_ArrayForEach(g, list) {
        const char *at = cJSON_GetStringValue(cJSON_GetObjectItem(g, "at"));
        int to = cJSON_GetObjectItem(g, "to")->valueint;
        cJSON *cur = data;
        char tok[64];
        for (const char *p = at; *p == '/';) {
            size_t n = strcspn(p + 1, "/");
            snprintf(tok, sizeof tok, "%.*s", (int)n, p + 1);
            cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, atoi(tok))
                                     : cJSON_GetObjectItemCaseSensitive(cur, tok);
            ck_assert_ptr_nonnull(cur);
            p += n + 1;
        }
        if (cJSON_IsArray(cur)) {
            cJSON *last = cJSON_GetArrayItem(cur, cJSON_GetArraySize(cur) - 1);
            for (int i = cJSON_GetArraySize(cur); i < to; i++)
                cJSON_AddItemToArray(cur, cJSON_Duplicate(last, 1));
        } else {
            size_t len = strlen(cur->valuestring);
            char *s = malloc((size_t)to + 1);
            ck_assert_ptr_nonnull(s);
            memcpy(s, cur->valuestring, len);
            memset(s + len, cur->valuestring[len - 1], (size_t)to - len);
            s[to] = '\0';
            cJSON_SetValuestring(cur, s);
            free(s);
        }
    }
}

START_TEST(example_bodies_validate_as_expected) {
    char *path = source_path("tests/schemas/cases/bodies.json");
    char *text = jt_read_file(path);
    ck_assert_ptr_nonnull(text);
    cJSON *cases = cJSON_Parse(text);
    ck_assert_ptr_nonnull(cases);
    int valid = 0, invalid = 0, wrong = 0;
    int seen[N_NAMES][2] = {{0}};
    cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "schema"));
        const char *desc = cJSON_GetStringValue(cJSON_GetObjectItem(c, "description"));
        cJSON *data = cJSON_GetObjectItem(c, "data");
        grow(data, cJSON_GetObjectItem(c, "grow"));
        int want = cJSON_IsTrue(cJSON_GetObjectItem(c, "valid"));
        const char *want_path = cJSON_GetStringValue(cJSON_GetObjectItem(c, "path"));
        const char *want_kw = cJSON_GetStringValue(cJSON_GetObjectItem(c, "keyword"));
        const js_schema *s = schemas_get(name);
        ck_assert_msg(s != NULL, "no schema %s", name);
        for (size_t i = 0; i < N_NAMES; i++)
            if (strcmp(NAMES[i], name) == 0) seen[i][want]++;
        js_error e;
        int got = js_validate(s, data, &e);
        int ok = got == want && (want || ((!want_path || strcmp(e.path, want_path) == 0) &&
                                          (!want_kw || strcmp(e.keyword, want_kw) == 0)));
        if (!ok) {
            wrong++;
            printf("WRONG %s [%s]: want %s %s %s, got %s at \"%s\" (%s: %s)\n", name, desc,
                   want ? "valid" : "invalid", want_path ? want_path : "", want_kw ? want_kw : "",
                   got ? "valid" : "invalid", e.path, e.keyword, e.message);
        }
        if (want)
            valid++;
        else
            invalid++;
    }
    printf("bodies: %d valid and %d invalid examples, %d wrong\n", valid, invalid, wrong);
    ck_assert_int_eq(wrong, 0);
    for (size_t i = 0; i < N_NAMES; i++)
        ck_assert_msg(seen[i][0] > 0 && seen[i][1] > 0, "%s needs both valid and invalid examples",
                      NAMES[i]);
    cJSON_Delete(cases);
    free(text);
    free(path);
}
END_TEST

static int job_check(const char *body, js_error *e) {
    cJSON *j = cJSON_Parse(body);
    ck_assert_ptr_nonnull(j);
    int ok = schemas_validate_job(j, e);
    cJSON_Delete(j);
    return ok;
}

START_TEST(validate_job_checks_params_by_type) {
    js_error e;
    const char *series = "{\"dates\": [\"2020-01-01\", \"2021-01-01\"], \"values\": [1, 2]}";
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\": \"forecast\", \"params\": {\"series\": %s, \"horizon\": 0}}", series);
    ck_assert_int_eq(job_check(body, &e), 0);
    ck_assert_str_eq(e.path, "/params/horizon");
    ck_assert_str_eq(e.keyword, "minimum");
    snprintf(body, sizeof body,
             "{\"type\": \"forecast\", \"params\": {\"series\": %s, \"horizon\": 4}}", series);
    ck_assert_int_eq(job_check(body, &e), 1);
    ck_assert_int_eq(job_check("{\"type\": \"noop\", \"params\": {\"sleep_ms\": -1}}", &e), 0);
    ck_assert_str_eq(e.path, "/params/sleep_ms");
    ck_assert_int_eq(job_check("{\"type\": \"maintenance.vacuum\", \"params\": {\"X\": 1}}", &e),
                     0);
    ck_assert_str_eq(e.path, "/params/X");
    ck_assert_int_eq(job_check("{\"type\": \"maintenance.vacuum\", \"params\": {}}", &e), 1);
    ck_assert_int_eq(job_check("{\"type\": \"chart\", \"params\": {}}", &e), 0);
    ck_assert_str_eq(e.path, "/params/job");
    ck_assert_int_eq(job_check("{\"type\": \"embed\", \"params\": {}, \"priority\": 99}", &e), 0);
    ck_assert_str_eq(e.path, "/priority");
    ck_assert_int_eq(job_check("{\"type\": \"llm\", \"params\": {\"question\": \"why?\"}}", &e), 1);
}
END_TEST

START_TEST(validate_job_needs_init) {
    schemas_fini();
    js_error e;
    ck_assert_int_eq(job_check("{\"type\": \"noop\", \"params\": {}}", &e), 0);
    ck_assert_ptr_nonnull(strstr(e.message, "initialised"));
    ck_assert_ptr_null(schemas_get("job"));
    ck_assert_ptr_nonnull(schemas_text("job")); /* texts need no init */
}
END_TEST

/* Checks every "$ref" under `j` that points into the document resolves in `doc`. */
static void check_refs(const cJSON *doc, const cJSON *j, int *n) {
    const cJSON *c;
    cJSON_ArrayForEach(c, j) {
        if (c->string && strcmp(c->string, "$ref") == 0 && cJSON_IsString(c) &&
            strncmp(c->valuestring, "#/components/", 13) == 0) {
            char sect[64], name[128];
            ck_assert_int_eq(sscanf(c->valuestring, "#/components/%63[^/]/%127s", sect, name), 2);
            const cJSON *comp = cJSON_GetObjectItemCaseSensitive(doc, "components");
            ck_assert_msg(cJSON_GetObjectItemCaseSensitive(
                              cJSON_GetObjectItemCaseSensitive(comp, sect), name) != NULL,
                          "dangling %s", c->valuestring);
            (*n)++;
        }
        check_refs(doc, c, n);
    }
}

START_TEST(openapi_document_is_consistent) {
    cJSON *doc = cJSON_Parse(schemas_openapi_json());
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "openapi")), "3.1.0");
    /* Every schema is there, identical to its file. */
    const cJSON *comps = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "components"), "schemas");
    for (size_t i = 0; i < N_NAMES; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s", NAMES[i]);
        for (char *p = name; *p; p++)
            if (*p == '/') *p = '.';
        cJSON *file = cJSON_Parse(schemas_text(NAMES[i]));
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(comps, name), file, 1),
                      "components/schemas/%s differs from %s.json", name, NAMES[i]);
        cJSON_Delete(file);
    }
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(comps, "@SCHEMAS@"));
    /* References resolve, and every operation has a unique id and responses. */
    int refs = 0;
    check_refs(doc, doc, &refs);
    ck_assert_int_gt(refs, 20);
    const cJSON *path, *op;
    char seen[64][64];
    int nops = 0;
    cJSON_ArrayForEach(path, cJSON_GetObjectItem(doc, "paths")) {
        cJSON_ArrayForEach(op, path) {
            if (strcmp(op->string, "parameters") == 0) continue;
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(op, "operationId"));
            ck_assert_msg(id != NULL, "%s %s has no operationId", op->string, path->string);
            ck_assert_ptr_nonnull(cJSON_GetObjectItem(op, "responses"));
            for (int i = 0; i < nops; i++)
                ck_assert_str_ne(seen[i], id);
            ck_assert_int_lt(nops, 64);
            snprintf(seen[nops++], sizeof seen[0], "%s", id);
        }
    }
    ck_assert_int_ge(nops, 20);
    cJSON_Delete(doc);
}
END_TEST

int main(void) {
    Suite *su = suite_create("schemas");
    TCase *tc = tcase_create("schemas");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_schema_is_embedded_and_compiles);
    tcase_add_test(tc, embedded_text_is_the_file);
    tcase_add_test(tc, every_size_is_limited);
    tcase_add_test(tc, envelope_is_the_same_everywhere);
    tcase_add_test(tc, example_bodies_validate_as_expected);
    tcase_add_test(tc, validate_job_checks_params_by_type);
    tcase_add_test(tc, validate_job_needs_init);
    tcase_add_test(tc, openapi_document_is_consistent);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
