/* Runs the official JSON Schema Test Suite against schemas/jsonschema.c.
 *
 * Debian 12's json-schema-test-suite (2.0.0) ships drafts 3 to 7 only, no draft2020-12
 * folder. Draft 7's files are therefore loaded at run time and translated to 2020-12
 * spellings where the keyword was renamed (array-form items -> prefixItems, additionalItems
 * -> items, dependencies -> dependentRequired/dependentSchemas, "$id": "#name" -> $anchor);
 * the semantics of every other keyword are the same in both drafts. Cases whose expected
 * result differs between the drafts are in the skip-list below with the reason. The
 * 2020-12-only keywords (minContains, maxContains, $defs, $anchor, $ref beside other
 * keywords, ...) are covered by the files in tests/schemas/cases/, in the same format.
 *
 * ECONQ_JSTS_DIR overrides the suite folder. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/jsonschema.h"
#include "tests/schemas/js_test_util.h"

#define SUITE_DIR "/usr/share/json-schema-test-suite/tests/draft7"

/* One file of the suite, and the cases of it we skip (group and test description; a NULL
 * test skips the whole group). */
typedef struct skip {
    const char *group;
    const char *test;
    const char *why;
} skip;

typedef struct suite_file {
    const char *file;
    skip skips[8];
} suite_file;

static const suite_file FILES[] = {
    {"additionalItems.json", {{0}}},
    {"additionalProperties.json", {{0}}},
    {"allOf.json", {{0}}},
    {"anyOf.json", {{0}}},
    {"boolean_schema.json", {{0}}},
    {"const.json", {{0}}},
    {"contains.json", {{0}}},
    {"default.json", {{0}}},
    {"dependencies.json", {{0}}},
    {"enum.json", {{0}}},
    {"exclusiveMaximum.json", {{0}}},
    {"exclusiveMinimum.json", {{0}}},
    {"if-then-else.json", {{0}}},
    {"items.json", {{0}}},
    {"maxItems.json", {{0}}},
    {"maxLength.json", {{0}}},
    {"maxProperties.json", {{0}}},
    {"maximum.json", {{0}}},
    {"minItems.json", {{0}}},
    {"minLength.json", {{0}}},
    {"minProperties.json", {{0}}},
    {"minimum.json", {{0}}},
    {"multipleOf.json", {{0}}},
    {"not.json", {{0}}},
    {"oneOf.json", {{0}}},
    {"pattern.json", {{0}}},
    {"patternProperties.json", {{0}}},
    {"properties.json", {{0}}},
    {"propertyNames.json", {{0}}},
    {"ref.json",
     {{"ref overrides any sibling keywords", "ref valid, maxItems ignored",
       "draft 7 ignores keywords beside $ref; 2020-12 applies them (maxItems fails here)"},
      {"remote ref, containing refs itself", NULL,
       "refers to the draft 7 meta-schema by its URL: remote references are not supported"}}},
    /* Every case of these files needs a remote schema (an http:// $ref, or the meta-schema). */
    {"refRemote.json", {{"*", NULL, "remote references are not supported"}}},
    {"definitions.json", {{"*", NULL, "validates against the remote draft 7 meta-schema"}}},
    {"optional/bignum.json", {{0}}},
    {"optional/zeroTerminatedFloats.json", {{0}}},
    /* Not run: optional/format/ and optional/ecmascript-regex.json (format is an annotation
     * here), optional/content.json (contentMediaType is an annotation in 2020-12). */
    {"required.json", {{0}}},
    {"type.json", {{0}}},
    {"uniqueItems.json", {{0}}},
};

#define N_FILES (sizeof FILES / sizeof FILES[0])

static const char *skip_reason(const void *ctx, const char *group, const char *test) {
    const suite_file *f = ctx;
    for (size_t i = 0; i < 8 && f->skips[i].group; i++) {
        const skip *s = &f->skips[i];
        if ((strcmp(s->group, "*") == 0 || strcmp(s->group, group) == 0) &&
            (!s->test || strcmp(s->test, test) == 0))
            return s->why;
    }
    return NULL;
}

/* Rewrites a draft 7 schema in place into its 2020-12 spelling. */
static void translate(cJSON *s) {
    if (!cJSON_IsObject(s)) return;
    cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    cJSON *add = cJSON_GetObjectItemCaseSensitive(s, "additionalItems");
    if (cJSON_IsArray(items)) {
        cJSON_AddItemToObject(s, "prefixItems", cJSON_DetachItemViaPointer(s, items));
        if (add) cJSON_AddItemToObject(s, "items", cJSON_DetachItemViaPointer(s, add));
    } else if (add) {
        cJSON_Delete(cJSON_DetachItemViaPointer(s, add));
    }
    cJSON *deps = cJSON_GetObjectItemCaseSensitive(s, "dependencies");
    if (deps) {
        cJSON *req = cJSON_AddObjectToObject(s, "dependentRequired");
        cJSON *sch = cJSON_AddObjectToObject(s, "dependentSchemas");
        cJSON *d;
        while ((d = deps->child) != NULL) {
            const char *name = d->string;
            cJSON_DetachItemViaPointer(deps, d);
            cJSON_AddItemToObject(cJSON_IsArray(d) ? req : sch, name, d); /* copies name first */
        }
        cJSON_Delete(cJSON_DetachItemViaPointer(s, deps));
    }
    /* A pointer into array-form items now points into prefixItems. */
    cJSON *ref = cJSON_GetObjectItemCaseSensitive(s, "$ref");
    if (cJSON_IsString(ref) && strncmp(ref->valuestring, "#/items/", 8) == 0) {
        char buf[256];
        snprintf(buf, sizeof buf, "#/prefixItems/%s", ref->valuestring + 8);
        cJSON_SetValuestring(ref, buf);
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "$id");
    if (cJSON_IsString(id) && id->valuestring[0] == '#') {
        cJSON_AddStringToObject(s, "$anchor", id->valuestring + 1);
        cJSON_Delete(cJSON_DetachItemViaPointer(s, id));
    }
    static const char *const one[] = {"additionalProperties",
                                      "propertyNames",
                                      "items",
                                      "contains",
                                      "not",
                                      "if",
                                      "then",
                                      "else",
                                      NULL};
    static const char *const many[] = {"prefixItems", "allOf",      "anyOf",
                                       "oneOf",       "properties", "patternProperties",
                                       "definitions", "$defs",      "dependentSchemas",
                                       NULL};
    for (const char *const *k = one; *k; k++)
        translate(cJSON_GetObjectItemCaseSensitive(s, *k));
    for (const char *const *k = many; *k; k++) {
        cJSON *list = cJSON_GetObjectItemCaseSensitive(s, *k), *sub;
        cJSON_ArrayForEach(sub, list) {
            translate(sub);
        }
    }
}

static int total_passed, total_skipped;

START_TEST(suite_file_passes) {
    const suite_file *f = &FILES[_i];
    const char *dir = getenv("ECONQ_JSTS_DIR") ? getenv("ECONQ_JSTS_DIR") : SUITE_DIR;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, f->file);
    jt_counts n = {0};
    jt_run_file(path, translate, f, skip_reason, &n);
    printf("suite %-36s passed %3d  failed %d  skipped %d\n", f->file, n.passed, n.failed,
           n.skipped);
    ck_assert_int_eq(n.failed, 0);
    ck_assert_int_gt(n.passed + n.skipped, 0);
    total_passed += n.passed;
    total_skipped += n.skipped;
}
END_TEST

int main(void) {
    Suite *s = suite_create("js_suite");
    TCase *tc = tcase_create("draft7-as-2020-12");
    tcase_add_loop_test(tc, suite_file_passes, 0, (int)N_FILES);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("suite total: passed %d, skipped %d\n", total_passed, total_skipped);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
