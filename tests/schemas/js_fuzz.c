/* The fuzz target of the validator: bytes in, parsed as a JSON instance and validated
 * against every embedded schema, then (if the bytes are a JSON object) compiled as a schema
 * and used to validate a few fixed instances. Nothing it does may crash, leak or hang.
 *
 * Built two ways: into js_fuzz_test (a Check test feeding it generated and mutated inputs),
 * and, with clang, as a libFuzzer binary (-DECONQ_LIBFUZZER=ON in tests/schemas). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas.h"
#include "tests/schemas/js_fuzz.h"

/* Inputs larger than this are ignored: the api caps bodies long before. */
#define JS_FUZZ_MAX_INPUT (1u << 20)

static int error_well_formed(const js_error *e) {
    return e->keyword[0] != '\0' && (e->path[0] == '\0' || e->path[0] == '/') &&
           memchr(e->path, '\0', sizeof e->path) && memchr(e->message, '\0', sizeof e->message);
}

int js_fuzz_one(const uint8_t *data, size_t size) {
    if (size > JS_FUZZ_MAX_INPUT) return 0;
    char *text = malloc(size + 1);
    if (!text) return -1;
    memcpy(text, data, size);
    text[size] = '\0';
    int bad = 0;
    cJSON *inst = cJSON_Parse(text);
    if (inst) {
        for (size_t i = 0; i < schemas_count(); i++) {
            js_error e;
            int ok = js_validate(schemas_get(schemas_name(i)), inst, &e);
            if (ok != 0 && ok != 1) bad = 1;
            if (ok == 0 && !error_well_formed(&e)) bad = 1;
        }
        js_error e;
        if (schemas_validate_job(inst, &e) == 0 && !error_well_formed(&e)) bad = 1;
    }
    if (cJSON_IsObject(inst)) {
        js_schema *s = NULL;
        char err[256];
        if (js_compile(text, &s, err, sizeof err) == EQ_OK) {
            static const char *const probes[] = {
                "null", "0", "-1.5", "\"a\"", "[1, [2]]", "{\"a\": {\"b\": []}}", "true"};
            for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
                cJSON *p = cJSON_Parse(probes[i]);
                js_error e;
                if (js_validate(s, p, &e) == 0 && !error_well_formed(&e)) bad = 1;
                cJSON_Delete(p);
            }
            js_free(s);
        } else if (err[0] == '\0') {
            bad = 1; /* a refused schema always says why */
        }
    }
    cJSON_Delete(inst);
    free(text);
    return bad ? -1 : 0;
}

#ifdef ECONQ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (schemas_init() != EQ_OK) abort();
        ready = 1;
    }
    if (js_fuzz_one(data, size) != 0) abort();
    return 0;
}
#endif
