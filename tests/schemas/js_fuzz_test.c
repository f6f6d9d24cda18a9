/* Feeds the validator's fuzz target (js_fuzz.c) generated inputs: mutated example bodies,
 * random JSON, random schemas and corrupted bytes, from a fixed seed (ECONQ_FUZZ_SEED
 * overrides it). Under ASan/UBSan this checks that no input crashes, leaks or breaks an
 * invariant of js_validate()/js_compile(). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas.h"
#include "tests/schemas/js_fuzz.h"
#include "tests/schemas/js_test_util.h"

#define ROUNDS 3000 /* per input kind; a few seconds under the sanitizers */

static uint64_t rng_state;

static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t pick(size_t n) {
    return (size_t)(rnd() % n);
}

static const char *const KEYS[] = {
    "type",     "params",    "priority", "run_at",     "delay_ms",  "max_attempts",
    "webhook",  "url",       "secret",   "metadata",   "series",    "dates",
    "values",   "dataset",   "column",   "horizon",    "method",    "model",
    "levels",   "frequency", "missing",  "collection", "documents", "id",
    "text",     "query",     "k",        "question",   "job",       "columns",
    "format",   "width",     "height",   "jobs",       "batch",     "name",
    "cron",     "sleep_ms",  "fail",     "payload",    "",          "x/y~z",
    "\xc3\xa9",
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

static const char *const STRINGS[] = {
    "",
    "*",
    "forecast",
    "noop",
    "maintenance.gc",
    "2020-01-01",
    "2026-11-29T05:00:00Z",
    "01HZX3K7M9QW2E4R6T8Y0B1C2D",
    "https://e.com/h",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La",
    "MAdM",
    "ZZZ",
    "png",
    "dark",
    "monthly",
    "interpolate",
    "\xe2\x82\xac\xf0\x9f\x98\x80",
    "\xc3\x28",
    "a\nb",
    "retryable",
    "docs.v1",
};
#define N_STRINGS (sizeof STRINGS / sizeof STRINGS[0])

static cJSON *random_json(int depth) {
    size_t kind = pick(depth > 6 ? 4 : 6);
    switch (kind) {
    case 0:
        return pick(3) == 0 ? cJSON_CreateNull() : cJSON_CreateBool((cJSON_bool)pick(2));
    case 1: {
        static const double nums[] = {0,    1,   -1,   5,    9,     10,     0.5,           80,
                                      95,   100, 1000, 1001, 1e308, -1e308, 31536000000.0, 4e-300,
                                      12.34};
        return cJSON_CreateNumber(pick(4) == 0 ? (double)(int64_t)rnd() / 1e3
                                               : nums[pick(sizeof nums / sizeof nums[0])]);
    }
    case 2:
    case 3:
        return cJSON_CreateString(STRINGS[pick(N_STRINGS)]);
    case 4: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0, n = pick(5); i < n; i++)
            cJSON_AddItemToArray(a, random_json(depth + 1));
        return a;
    }
    default: {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0, n = pick(6); i < n; i++)
            cJSON_AddItemToObject(o, KEYS[pick(N_KEYS)], random_json(depth + 1));
        return o;
    }
    }
}

/* Picks a random node of `root` (any depth) and changes it in place. */
static void mutate(cJSON *root) {
    cJSON *cur = root;
    while ((cJSON_IsArray(cur) || cJSON_IsObject(cur)) && cur->child && pick(3) != 0)
        cur = cJSON_GetArrayItem(cur, (int)pick((size_t)cJSON_GetArraySize(cur)));
    int is_container = cJSON_IsArray(cur) || cJSON_IsObject(cur);
    switch (pick(4)) {
    case 0:
        if (is_container && cur->child) {
            cJSON_DeleteItemFromArray(cur, (int)pick((size_t)cJSON_GetArraySize(cur)));
            break;
        }
        /* fall through */
    case 1:
        if (cJSON_IsObject(cur)) {
            cJSON_AddItemToObject(cur, KEYS[pick(N_KEYS)], random_json(3));
            break;
        }
        if (cJSON_IsArray(cur)) {
            cJSON_AddItemToArray(cur, random_json(3));
            break;
        }
        /* fall through */
    default:
        if (cur != root) {
            /* Replace the value of a member or item by a random one. */
            cJSON *fresh = random_json(3);
            cJSON *parent = root, *stack[64];
            size_t sp = 0;
            stack[sp++] = root;
            while (sp > 0) {
                parent = stack[--sp];
                for (cJSON *c = parent->child; c; c = c->next) {
                    if (c == cur) {
                        cJSON_ReplaceItemViaPointer(parent, cur, fresh);
                        return;
                    }
                    if ((cJSON_IsArray(c) || cJSON_IsObject(c)) && sp < 64) stack[sp++] = c;
                }
            }
            cJSON_Delete(fresh);
        }
    }
}

static cJSON *random_schema(int depth) {
    if (pick(6) == 0) return cJSON_CreateBool((cJSON_bool)pick(2));
    static const char *const types[] = {"null",   "boolean", "object",  "array",
                                        "number", "string",  "integer", "nope"};
    static const char *const patterns[] = {"^a+$",          "[", "\\d{2,}", "(a|a?)+$", "^\\u00e9",
                                           "(?<x>a)\\k<x>", ".*"};
    static const char *const refs[] = {
        "#", "#/$defs/a", "#a", "#/properties/x", "b.json", "#/$defs/missing", "urn:x#/$defs/a"};
    static const char *const counts[] = {"maxLength",   "minLength",     "maxItems",
                                         "minItems",    "maxProperties", "minProperties",
                                         "minContains", "maxContains"};
    static const char *const nums[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                       "multipleOf"};
    static const char *const subs[] = {
        "items", "contains", "not", "if", "then", "else", "additionalProperties", "propertyNames"};
    static const char *const lists[] = {"allOf", "anyOf", "oneOf", "prefixItems"};
    cJSON *s = cJSON_CreateObject();
    for (size_t i = 0, n = 1 + pick(4); i < n; i++) {
        switch (pick(depth > 3 ? 6 : 9)) {
        case 0:
            cJSON_AddStringToObject(s, "type", types[pick(8)]);
            break;
        case 1:
            cJSON_AddNumberToObject(s, counts[pick(8)], (double)pick(5) - (pick(8) == 0));
            break;
        case 2:
            cJSON_AddNumberToObject(s, nums[pick(5)], (double)pick(20) / 4.0);
            break;
        case 3:
            cJSON_AddStringToObject(s, "pattern", patterns[pick(7)]);
            break;
        case 4:
            cJSON_AddStringToObject(s, "$ref", refs[pick(7)]);
            break;
        case 5:
            cJSON_AddItemToObject(s, pick(2) ? "enum" : "const", random_json(4));
            break;
        case 6:
            cJSON_AddItemToObject(s, subs[pick(8)], random_schema(depth + 1));
            break;
        case 7: {
            cJSON *l = cJSON_AddArrayToObject(s, lists[pick(4)]);
            for (size_t j = 0, m = pick(3); j < m; j++)
                cJSON_AddItemToArray(l, random_schema(depth + 1));
            break;
        }
        default: {
            cJSON *m = cJSON_AddObjectToObject(s, pick(2) ? "properties" : "$defs");
            cJSON_AddItemToObject(m, pick(2) ? "a" : "x", random_schema(depth + 1));
            if (pick(2)) cJSON_AddStringToObject(cJSON_GetArrayItem(m, 0), "$anchor", "a");
        }
        }
    }
    return s;
}

static void feed(cJSON *j) {
    char *text = cJSON_PrintUnformatted(j);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(js_fuzz_one((const uint8_t *)text, strlen(text)) == 0, "invariant broken by %s",
                  text);
    free(text);
}

START_TEST(generated_inputs_keep_invariants) {
    const char *seed_env = getenv("ECONQ_FUZZ_SEED");
    rng_state = seed_env ? strtoull(seed_env, NULL, 10) : 0x9E3779B97F4A7C15ULL;
    if (rng_state == 0) rng_state = 1;
    printf("js_fuzz seed %" PRIu64 "\n", rng_state);
    ck_assert_int_eq(schemas_init(), EQ_OK);

    const char *root = getenv("ECONQ_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/schemas/cases/bodies.json", root ? root : ".");
    char *text = jt_read_file(path);
    ck_assert_ptr_nonnull(text);
    cJSON *cases = cJSON_Parse(text);
    free(text);
    int ncases = cJSON_GetArraySize(cases);
    ck_assert_int_gt(ncases, 0);

    for (int r = 0; r < ROUNDS; r++) {
        /* A mutated example body, mutated one to four times. */
        cJSON *body = cJSON_Duplicate(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cases, (int)pick((size_t)ncases)), "data"), 1);
        for (size_t m = 0, n = 1 + pick(4); m < n; m++)
            mutate(body);
        feed(body);

        /* The same body with corrupted bytes (often not JSON at all). */
        char *t = cJSON_PrintUnformatted(body);
        size_t len = strlen(t);
        for (size_t m = 0, n = 1 + pick(3); m < n && len > 0; m++)
            t[pick(len)] = (char)(pick(2) ? "{}[]\",:\\\x80\xff"[pick(10)] : (int)pick(256));
        ck_assert_int_eq(js_fuzz_one((const uint8_t *)t, len), 0);
        free(t);
        cJSON_Delete(body);

        /* Random JSON, and a random schema. */
        cJSON *j = random_json(0);
        feed(j);
        cJSON_Delete(j);
        cJSON *s = random_schema(0);
        feed(s);
        cJSON_Delete(s);
    }
    cJSON_Delete(cases);
    schemas_fini();
}
END_TEST

int main(void) {
    Suite *su = suite_create("js_fuzz");
    TCase *tc = tcase_create("js_fuzz");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, generated_inputs_keep_invariants);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
