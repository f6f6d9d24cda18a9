/* The registry of embedded schemas: texts from the generated table, compiled once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas.h"
#include "schemas/schemas_embedded.h"

/* Compiled schemas, index-aligned with SCHEMAS_EMBEDDED. Written only by schemas_init() and
 * schemas_fini(), which run single-threaded at start-up and shutdown; read-only in between. */
static js_schema **compiled;

/* The longest job type name looked up as "params/<type>". */
#define SCHEMAS_MAX_TYPE_BYTES 64

static long find(const char *name) {
    if (!name) return -1;
    for (unsigned i = 0; i < SCHEMAS_EMBEDDED_COUNT; i++)
        if (strcmp(SCHEMAS_EMBEDDED[i].name, name) == 0) return (long)i;
    return -1;
}

const char *schemas_text(const char *name) {
    long i = find(name);
    return i < 0 ? NULL : SCHEMAS_EMBEDDED[i].text;
}

const char *schemas_openapi_json(void) {
    return SCHEMAS_OPENAPI_JSON;
}

size_t schemas_count(void) {
    return SCHEMAS_EMBEDDED_COUNT;
}

const char *schemas_name(size_t i) {
    return i < SCHEMAS_EMBEDDED_COUNT ? SCHEMAS_EMBEDDED[i].name : NULL;
}

eq_err schemas_init(void) {
    if (compiled) return EQ_OK;
    js_schema **all = calloc(SCHEMAS_EMBEDDED_COUNT + 1, sizeof *all);
    if (!all) return EQ_ENOMEM;
    for (unsigned i = 0; i < SCHEMAS_EMBEDDED_COUNT; i++) {
        char msg[256];
        eq_err e = js_compile(SCHEMAS_EMBEDDED[i].text, &all[i], msg, sizeof msg);
        if (e != EQ_OK) {
            fprintf(stderr, "schemas: %s.json does not compile: %s\n", SCHEMAS_EMBEDDED[i].name,
                    msg);
            for (unsigned j = 0; j < i; j++)
                js_free(all[j]);
            free(all);
            return e == EQ_ENOMEM ? e : EQ_EINVAL;
        }
    }
    compiled = all;
    return EQ_OK;
}

const js_schema *schemas_get(const char *name) {
    long i = find(name);
    return i < 0 || !compiled ? NULL : compiled[i];
}

void schemas_fini(void) {
    if (!compiled) return;
    for (unsigned i = 0; i < SCHEMAS_EMBEDDED_COUNT; i++)
        js_free(compiled[i]);
    free(compiled);
    compiled = NULL;
}

int schemas_validate_job(const cJSON *body, js_error *err) {
    const js_schema *job = schemas_get("job");
    if (!job) {
        if (err) {
            memset(err, 0, sizeof *err);
            snprintf(err->message, sizeof err->message, "schemas are not initialised");
        }
        return 0;
    }
    if (!js_validate(job, body, err)) return 0;
    const char *type = cJSON_GetObjectItemCaseSensitive(body, "type")->valuestring;
    char name[SCHEMAS_MAX_TYPE_BYTES + sizeof "params/"];
    if (strncmp(type, "maintenance.", 12) == 0)
        snprintf(name, sizeof name, "params/maintenance");
    else if (snprintf(name, sizeof name, "params/%s", type) >= (int)sizeof name)
        return 1; /* longer than any type we have a schema for */
    const js_schema *params = schemas_get(name);
    if (!params) return 1;
    if (js_validate(params, cJSON_GetObjectItemCaseSensitive(body, "params"), err)) return 1;
    if (err) {
        /* Errors inside params are reported from the body's root. */
        static const char prefix[] = "/params";
        size_t keep = sizeof err->path - sizeof prefix; /* what still fits after the prefix */
        memmove(err->path + sizeof prefix - 1, err->path, keep);
        err->path[sizeof err->path - 1] = '\0';
        memcpy(err->path, prefix, sizeof prefix - 1);
    }
    return 0;
}
