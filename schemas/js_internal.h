/* The compiled form of a JSON Schema, shared by js_compile.c and js_validate.c only. */
#ifndef ECONQ_SCHEMAS_JS_INTERNAL_H
#define ECONQ_SCHEMAS_JS_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "schemas/jsonschema.h"

/* Bits of js_node.types. */
enum {
    JS_T_NULL = 1 << 0,
    JS_T_BOOLEAN = 1 << 1,
    JS_T_OBJECT = 1 << 2,
    JS_T_ARRAY = 1 << 3,
    JS_T_NUMBER = 1 << 4,
    JS_T_STRING = 1 << 5,
    JS_T_INTEGER = 1 << 6,
};

typedef struct js_node js_node;

typedef struct js_named {
    const char *name; /* borrowed from the schema document */
    js_node *node;
} js_named;

typedef struct js_pattern {
    const char *source; /* borrowed from the schema document */
    pcre2_code *code;
    js_node *node; /* patternProperties only */
} js_pattern;

typedef struct js_list {
    js_node **v;
    size_t n;
} js_list;

/* One compiled schema object. Pointers to cJSON values borrow from js_schema.doc.
 * Absent limits are -1 (sizes) or flagged in `has`. */
struct js_node {
    int boolean;             /* -1: an object schema; 0: false; 1: true */
    const char *description; /* borrowed; used in the message when `not` fails */
    unsigned types;          /* 0: any type */
    const cJSON *enum_vals;  /* array or NULL */
    const cJSON *const_val;  /* NULL if absent */
    unsigned has;            /* JS_HAS_* */
    double multiple_of, maximum, exclusive_maximum, minimum, exclusive_minimum;
    long max_length, min_length;
    js_pattern *pattern;
    long max_items, min_items;
    int unique_items;
    js_node *items; /* applies past prefix_items */
    js_list prefix_items;
    js_node *contains;
    long min_contains, max_contains;
    long max_properties, min_properties;
    const cJSON *required; /* array of strings or NULL */
    js_named *properties;
    size_t n_properties;
    js_pattern *pattern_properties;
    size_t n_pattern_properties;
    js_node *additional_properties;
    js_node *property_names;
    const cJSON *dependent_required; /* object of string arrays or NULL */
    js_named *dependent_schemas;
    size_t n_dependent_schemas;
    js_list all_of, any_of, one_of;
    js_node *not_;
    js_node *if_, *then_, *else_;
    js_node *ref;
};

enum {
    JS_HAS_MULTIPLE_OF = 1 << 0,
    JS_HAS_MAXIMUM = 1 << 1,
    JS_HAS_EXCLUSIVE_MAXIMUM = 1 << 2,
    JS_HAS_MINIMUM = 1 << 3,
    JS_HAS_EXCLUSIVE_MINIMUM = 1 << 4,
};

struct js_schema {
    cJSON *doc; /* the parsed schema document, owned */
    js_node *root;
    js_node **nodes; /* every node, for js_free() */
    size_t n_nodes, cap_nodes;
    pcre2_match_context *mctx;
};

/* Deep equality as JSON Schema defines it: numbers by value, objects regardless of order. */
int js__equal(const cJSON *a, const cJSON *b);

#endif
