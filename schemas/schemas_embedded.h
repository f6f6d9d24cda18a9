/* The table of schema texts compiled into the binary, generated at build time by
 * schemas/embed.cmake. Used by schemas.c only. */
#ifndef ECONQ_SCHEMAS_SCHEMAS_EMBEDDED_H
#define ECONQ_SCHEMAS_SCHEMAS_EMBEDDED_H

typedef struct schemas_embedded {
    const char *name; /* "job", "params/noop", ...; NULL ends the table */
    const char *text; /* the JSON text, NUL-terminated */
} schemas_embedded;

extern const schemas_embedded SCHEMAS_EMBEDDED[];
extern const unsigned SCHEMAS_EMBEDDED_COUNT;

/* The OpenAPI 3.1 document with every schema under components/schemas. */
extern const char *const SCHEMAS_OPENAPI_JSON;

#endif
