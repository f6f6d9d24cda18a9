#include "tests/schemas/js_test_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "schemas/jsonschema.h"

char *jt_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long len;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) goto done;
    buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[len] = '\0';
done:
    fclose(f);
    return buf;
}

static void run_group(const char *path, cJSON *group, jt_translate_fn translate, const void *ctx,
                      jt_skip_fn skip, jt_counts *n) {
    const char *gdesc = cJSON_GetStringValue(cJSON_GetObjectItem(group, "description"));
    cJSON *schema = cJSON_GetObjectItem(group, "schema");
    cJSON *tests = cJSON_GetObjectItem(group, "tests");
    if (translate) translate(schema);
    char *text = cJSON_PrintUnformatted(schema);
    js_schema *s = NULL;
    char err[256];
    int compiled = text && js_compile(text, &s, err, sizeof err) == 0;
    cJSON *t;
    cJSON_ArrayForEach(t, tests) {
        const char *tdesc = cJSON_GetStringValue(cJSON_GetObjectItem(t, "description"));
        if (skip && skip(ctx, gdesc, tdesc)) {
            n->skipped++;
            continue;
        }
        if (!compiled) {
            printf("FAIL %s: [%s] does not compile: %s\n", path, gdesc, err);
            n->failed++;
            continue;
        }
        int want = cJSON_IsTrue(cJSON_GetObjectItem(t, "valid"));
        js_error je;
        int got = js_validate(s, cJSON_GetObjectItem(t, "data"), &je);
        if (got == want) {
            n->passed++;
        } else {
            printf("FAIL %s: [%s] [%s]: expected %s, got %s (%s at \"%s\": %s)\n  schema %s\n",
                   path, gdesc, tdesc, want ? "valid" : "invalid", got ? "valid" : "invalid",
                   je.keyword, je.path, je.message, text);
            n->failed++;
        }
    }
    js_free(s);
    free(text);
}

int jt_run_file(const char *path, jt_translate_fn translate, const void *ctx, jt_skip_fn skip,
                jt_counts *n) {
    char *text = jt_read_file(path);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cJSON_IsArray(doc)) {
        printf("FAIL %s: cannot read or parse\n", path);
        n->failed++;
        cJSON_Delete(doc);
        return -1;
    }
    cJSON *group;
    cJSON_ArrayForEach(group, doc) {
        run_group(path, group, translate, ctx, skip, n);
    }
    cJSON_Delete(doc);
    return 0;
}
