/* econq's JSON Schemas (the .json files under schemas/), compiled into the binary at build time.
 *
 * Names are file paths under schemas/ without ".json": "job", "batch", "schedule",
 * "params/noop", "params/forecast", "params/embed", "params/search", "params/llm",
 * "params/chart", "params/report", "params/maintenance".
 *
 * schemas_init() compiles every schema once and must be called at start-up, before threads
 * that validate are started; schemas_fini() at shutdown, after they stopped. In between the
 * compiled schemas are read-only and may be used from any thread. */
#ifndef ECONQ_SCHEMAS_SCHEMAS_H
#define ECONQ_SCHEMAS_SCHEMAS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "common/eq_err.h"
#include "schemas/jsonschema.h"

/* The JSON text of schema `name` (static storage), or NULL if there is no such schema.
 * Usable without schemas_init(), e.g. to serve a schema over HTTP. */
const char *schemas_text(const char *name);

/* The OpenAPI 3.1 description of the HTTP API (static storage), for GET /openapi.json.
 * Its components/schemas hold every schema above under its name with '/' as '.'
 * ("params.forecast"), composed at build time from schemas/openapi.json.in. */
const char *schemas_openapi_json(void);

/* The number of embedded schemas, and the name of the i-th (NULL when i is out of range). */
size_t schemas_count(void);
const char *schemas_name(size_t i);

/* Compiles every embedded schema. Calling it again while initialised does nothing.
 * Returns EQ_EINVAL if a schema does not compile (a build defect; logged to stderr). */
eq_err schemas_init(void);

/* The compiled schema `name`, borrowed until schemas_fini(); NULL if unknown or not
 * initialised. */
const js_schema *schemas_get(const char *name);

/* Frees what schemas_init() compiled. */
void schemas_fini(void);

/* Validates a `POST /v1/jobs` body: the envelope against "job", then its params against
 * "params/<type>" ("params/maintenance" for every "maintenance.*" type). A type without a
 * params schema passes here: whether the type exists is the api's check. Returns 1 if
 * valid, 0 if not, with err (if not NULL) naming the field, e.g. "/params/horizon". */
int schemas_validate_job(const cJSON *body, js_error *err);

#endif
