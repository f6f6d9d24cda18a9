/* A JSON Schema (draft 2020-12) validator over cJSON.
 *
 * A schema is compiled once with js_compile(): regular expressions are compiled with PCRE2
 * (UTF mode, ECMA-262-like options) and every $ref is resolved to its target, so validation
 * does no parsing and no lookups by name. A compiled schema is immutable and may be used by
 * any number of threads at once.
 *
 * Supported: type, enum, const, multipleOf, maximum, exclusiveMaximum, minimum,
 * exclusiveMinimum, maxLength, minLength (code points), pattern, patternProperties, maxItems,
 * minItems, uniqueItems, items, prefixItems, contains, minContains, maxContains,
 * maxProperties, minProperties, required, properties, additionalProperties, propertyNames,
 * dependentRequired, dependentSchemas, allOf, anyOf, oneOf, not, if/then/else, boolean
 * schemas, $defs, $ref to JSON pointers, to $anchor names and to $id URIs within the same
 * document. `format` and the other annotations are ignored. Not supported: remote
 * references, $dynamicRef, unevaluatedItems and unevaluatedProperties (js_compile() refuses a
 * schema that uses them rather than silently accepting everything).
 */
#ifndef ECONQ_SCHEMAS_JSONSCHEMA_H
#define ECONQ_SCHEMAS_JSONSCHEMA_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "common/eq_err.h"

/* Validation stops descending past this many nested schema applications (through
 * subschemas, $ref and instance nesting together); deeper is reported as invalid, so a
 * hostile instance or a self-referencing schema cannot exhaust the stack. */
#define JS_MAX_DEPTH 128

/* Compilation refuses schemas nested deeper than this. */
#define JS_MAX_SCHEMA_DEPTH 128

/* Longest `pattern` or `patternProperties` key accepted, in bytes. */
#define JS_MAX_PATTERN_BYTES 4096

/* PCRE2 match limit per regular expression test: bounds catastrophic backtracking. */
#define JS_REGEX_MATCH_LIMIT 1000000u

/* The first validation error found. `path` is a JSON pointer into the instance ("" is the
 * instance itself, "/params/horizon" a member); for `required` it names the missing member,
 * for `additionalProperties` the member that is not allowed. Truncated to fit. */
typedef struct js_error {
    char path[256];
    char keyword[32];
    char message[256];
} js_error;

typedef struct js_schema js_schema;

/* Compiles the schema text `schema_json` (a JSON document; an object or a boolean).
 * On success *out is a new schema (caller frees with js_free()). On failure returns
 * EQ_EINVAL (malformed schema, bad regex, unresolvable $ref), EQ_EUNSUPPORTED (a keyword
 * this validator does not implement) or EQ_ENOMEM, and writes a message to err (if errlen > 0). */
eq_err js_compile(const char *schema_json, js_schema **out, char *err, size_t errlen);

/* Frees a compiled schema; NULL is allowed. */
void js_free(js_schema *s);

/* Validates `instance` (borrowed). Returns 1 if valid, 0 if not; when invalid and err is not
 * NULL, err holds the most specific error found. Thread-safe: `s` is only read. */
int js_validate(const js_schema *s, const cJSON *instance, js_error *err);

#endif
