/* Compiles a JSON Schema document into js_node trees: keywords are parsed once, regular
 * expressions compiled once, and every $ref bound to the node of its target. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/js_internal.h"

/* Longest base URI or resolved $ref handled, in bytes. */
#define JS_MAX_URI_BYTES 1024

typedef struct js_uri_entry {
    char *uri; /* absolute URI without fragment, or URI "#" anchor */
    const cJSON *node;
} js_uri_entry;

typedef struct js_memo_entry {
    const cJSON *json;
    js_node *node;
} js_memo_entry;

typedef struct js_ctx {
    js_schema *s;
    char *err;
    size_t errlen;
    js_uri_entry *uris; /* resources ($id) and anchors ($anchor) */
    size_t n_uris, cap_uris;
    js_memo_entry *memo; /* ref targets already compiled (tiny: only $ref targets) */
    size_t n_memo, cap_memo;
    pcre2_compile_context *cctx;
} js_ctx;

static eq_err fail(js_ctx *c, eq_err e, const char *fmt, ...) {
    if (c->errlen > 0 && c->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return e;
}

static int grow(void **v, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, ncap * size);
    if (!nv) return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

/* ---- URIs: just enough of RFC 3986 for $id and $ref inside one document ---- */

static int has_scheme(const char *u) {
    const char *p = u;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) return 0;
    while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#')
        p++;
    return *p == ':';
}

/* Resolves `ref` against `base` (both without surrounding whitespace) into out.
 * Returns -1 if the result does not fit. Dot segments are not removed. */
static int uri_resolve(const char *base, const char *ref, char *out, size_t outlen) {
    size_t blen = strcspn(base, "#");
    int n;
    if (has_scheme(ref) || blen == 0) {
        n = snprintf(out, outlen, "%s", ref);
    } else if (ref[0] == '#' || ref[0] == '\0') {
        n = snprintf(out, outlen, "%.*s%s", (int)blen, base, ref);
    } else if (ref[0] == '/' && ref[1] == '/') {
        size_t slen = strcspn(base, ":") + 1;
        n = snprintf(out, outlen, "%.*s%s", (int)slen, base, ref);
    } else if (ref[0] == '/') {
        const char *auth = strstr(base, "://");
        size_t plen;
        if (auth) {
            const char *slash = strchr(auth + 3, '/');
            plen = slash && (size_t)(slash - base) < blen ? (size_t)(slash - base) : blen;
        } else {
            plen = strcspn(base, ":") + 1;
        }
        n = snprintf(out, outlen, "%.*s%s", (int)plen, base, ref);
    } else {
        size_t dlen = blen;
        while (dlen > 0 && base[dlen - 1] != '/' && base[dlen - 1] != ':')
            dlen--;
        n = snprintf(out, outlen, "%.*s%s", (int)dlen, base, ref);
    }
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static eq_err uri_add(js_ctx *c, const char *uri, const cJSON *node) {
    if (grow((void **)&c->uris, &c->cap_uris, c->n_uris, sizeof *c->uris) != 0) return EQ_ENOMEM;
    char *dup = strdup(uri);
    if (!dup) return EQ_ENOMEM;
    c->uris[c->n_uris].uri = dup;
    c->uris[c->n_uris].node = node;
    c->n_uris++;
    return EQ_OK;
}

static const cJSON *uri_find(const js_ctx *c, const char *uri) {
    for (size_t i = 0; i < c->n_uris; i++)
        if (strcmp(c->uris[i].uri, uri) == 0) return c->uris[i].node;
    return NULL;
}

/* The base URI in effect inside `js` given the base outside it. */
static int base_of(const cJSON *js, const char *outer, char *out, size_t outlen) {
    const cJSON *id = cJSON_IsObject(js) ? cJSON_GetObjectItemCaseSensitive(js, "$id") : NULL;
    if (cJSON_IsString(id)) return uri_resolve(outer, id->valuestring, out, outlen);
    int n = snprintf(out, outlen, "%s", outer);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Keywords whose value is one schema, an array of schemas, or an object of schemas. */
static const char *const ONE_SCHEMA[] = {"additionalProperties",
                                         "propertyNames",
                                         "items",
                                         "contains",
                                         "not",
                                         "if",
                                         "then",
                                         "else",
                                         NULL};
static const char *const SCHEMA_ARRAY[] = {"prefixItems", "allOf", "anyOf", "oneOf", NULL};
static const char *const SCHEMA_MAP[] = {"properties",  "patternProperties", "$defs",
                                         "definitions", "dependentSchemas",  NULL};

static int in_list(const char *const *list, const char *s) {
    for (; *list; list++)
        if (strcmp(*list, s) == 0) return 1;
    return 0;
}

/* Records every $id and $anchor in the document, before any $ref is resolved. */
static eq_err index_uris(js_ctx *c, const cJSON *js, const char *outer, int depth) {
    if (!cJSON_IsObject(js)) return EQ_OK;
    if (depth > JS_MAX_SCHEMA_DEPTH)
        return fail(c, EQ_EINVAL, "schema nested deeper than %d", JS_MAX_SCHEMA_DEPTH);
    char base[JS_MAX_URI_BYTES];
    if (base_of(js, outer, base, sizeof base) != 0) return fail(c, EQ_EINVAL, "$id too long");
    eq_err e;
    if (cJSON_HasObjectItem(js, "$id") && (e = uri_add(c, base, js)) != EQ_OK) return e;
    static const char *const anchors[] = {"$anchor", "$dynamicAnchor"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(js, anchors[i]);
        if (!cJSON_IsString(a)) continue;
        char full[JS_MAX_URI_BYTES];
        int n =
            snprintf(full, sizeof full, "%.*s#%s", (int)strcspn(base, "#"), base, a->valuestring);
        if (n < 0 || (size_t)n >= sizeof full) return fail(c, EQ_EINVAL, "$anchor too long");
        if ((e = uri_add(c, full, js)) != EQ_OK) return e;
    }
    const cJSON *kw;
    cJSON_ArrayForEach(kw, js) {
        if (in_list(ONE_SCHEMA, kw->string)) {
            e = index_uris(c, kw, base, depth + 1);
        } else if (in_list(SCHEMA_ARRAY, kw->string) || in_list(SCHEMA_MAP, kw->string)) {
            const cJSON *sub;
            e = EQ_OK;
            cJSON_ArrayForEach(sub, kw) {
                if ((e = index_uris(c, sub, base, depth + 1)) != EQ_OK) break;
            }
        } else {
            e = EQ_OK;
        }
        if (e != EQ_OK) return e;
    }
    return EQ_OK;
}

/* Follows the JSON pointer `ptr` (URI-fragment form, percent-encoded) from `from`.
 * Updates base for any $id passed on the way. */
static const cJSON *pointer_follow(const cJSON *from, const char *ptr, char *base, size_t baselen) {
    const cJSON *cur = from;
    const char *p = ptr;
    char tok[JS_MAX_URI_BYTES];
    while (*p == '/') {
        p++;
        if (cur != from) {
            char nb[JS_MAX_URI_BYTES];
            if (base_of(cur, base, nb, sizeof nb) != 0) return NULL;
            snprintf(base, baselen, "%s", nb);
        }
        size_t n = 0;
        while (*p && *p != '/') {
            char ch = *p++;
            if (ch == '%' && p[0] && p[1]) {
                char hex[3] = {p[0], p[1], 0};
                ch = (char)strtol(hex, NULL, 16);
                p += 2;
            }
            if (ch == '~' && (*p == '0' || *p == '1')) {
                ch = *p == '0' ? '~' : '/';
                p++;
            }
            if (n + 1 >= sizeof tok) return NULL;
            tok[n++] = ch;
        }
        tok[n] = '\0';
        if (cJSON_IsArray(cur)) {
            char *end;
            long i = strtol(tok, &end, 10);
            if (*end || n == 0 || i < 0) return NULL;
            cur = cJSON_GetArrayItem(cur, (int)i);
        } else if (cJSON_IsObject(cur)) {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        } else {
            return NULL;
        }
        if (!cur) return NULL;
    }
    return *p == '\0' ? cur : NULL;
}

static js_node *node_new(js_ctx *c) {
    js_schema *s = c->s;
    if (grow((void **)&s->nodes, &s->cap_nodes, s->n_nodes, sizeof *s->nodes) != 0) return NULL;
    js_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->boolean = -1;
    n->max_length = n->min_length = -1;
    n->max_items = n->min_items = -1;
    n->min_contains = n->max_contains = -1;
    n->max_properties = n->min_properties = -1;
    s->nodes[s->n_nodes++] = n;
    return n;
}

static eq_err node_fill(js_ctx *c, js_node *n, const cJSON *js, const char *outer, int depth);

static eq_err compile(js_ctx *c, const cJSON *js, const char *base, int depth, js_node **out) {
    js_node *n = node_new(c);
    if (!n) return EQ_ENOMEM;
    *out = n;
    return node_fill(c, n, js, base, depth);
}

/* Compiles a $ref target once: a target reached again (a recursive schema) gets the same node. */
static eq_err compile_target(js_ctx *c, const cJSON *js, const char *base, int depth,
                             js_node **out) {
    for (size_t i = 0; i < c->n_memo; i++) {
        if (c->memo[i].json == js) {
            *out = c->memo[i].node;
            return EQ_OK;
        }
    }
    if (grow((void **)&c->memo, &c->cap_memo, c->n_memo, sizeof *c->memo) != 0) return EQ_ENOMEM;
    js_node *n = node_new(c);
    if (!n) return EQ_ENOMEM;
    c->memo[c->n_memo].json = js;
    c->memo[c->n_memo].node = n;
    c->n_memo++;
    *out = n;
    return node_fill(c, n, js, base, depth);
}

static eq_err compile_ref(js_ctx *c, const char *ref, const char *base, int depth, js_node **out) {
    char abs[JS_MAX_URI_BYTES];
    if (uri_resolve(base, ref, abs, sizeof abs) != 0) return fail(c, EQ_EINVAL, "$ref too long");
    char *hash = strchr(abs, '#');
    const char *frag = hash ? hash + 1 : "";
    const cJSON *target = NULL;
    char tbase[JS_MAX_URI_BYTES];
    if (*frag != '\0' && *frag != '/') {
        target = uri_find(c, abs); /* an $anchor */
        if (hash) *hash = '\0';
        snprintf(tbase, sizeof tbase, "%s", abs);
    } else {
        if (hash) *hash = '\0';
        const cJSON *res = abs[0] == '\0' ? c->s->doc : uri_find(c, abs);
        if (!res && strcmp(abs, base) == 0)
            res = c->s->doc; /* the root's base when the root has no $id */
        snprintf(tbase, sizeof tbase, "%s", abs);
        if (res) target = pointer_follow(res, frag, tbase, sizeof tbase);
    }
    if (!target)
        return fail(c, EQ_EINVAL, "unresolvable $ref \"%s\" (remote references are not supported)",
                    ref);
    return compile_target(c, target, tbase, depth + 1, out);
}

static eq_err compile_regex(js_ctx *c, const char *src, pcre2_code **out) {
    if (strlen(src) > JS_MAX_PATTERN_BYTES)
        return fail(c, EQ_EINVAL, "pattern longer than %d bytes", JS_MAX_PATTERN_BYTES);
    int code;
    PCRE2_SIZE off;
    *out =
        pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_UNSET_BACKREF,
                      &code, &off, c->cctx);
    if (!*out) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(code, msg, sizeof msg);
        return fail(c, EQ_EINVAL, "bad pattern \"%s\" at %zu: %s", src, (size_t)off, (char *)msg);
    }
    /* JIT where the platform has it; pcre2_match() falls back to the interpreter if not. */
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return EQ_OK;
}

static eq_err get_count(js_ctx *c, const cJSON *v, long *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble > 1e15)
        return fail(c, EQ_EINVAL, "\"%s\" must be a non-negative integer", v->string);
    *out = (long)v->valuedouble;
    return EQ_OK;
}

static eq_err get_number(js_ctx *c, const cJSON *v, double *out, unsigned *has, unsigned bit) {
    if (!cJSON_IsNumber(v)) return fail(c, EQ_EINVAL, "\"%s\" must be a number", v->string);
    *out = v->valuedouble;
    *has |= bit;
    return EQ_OK;
}

static eq_err parse_type(js_ctx *c, const cJSON *v, unsigned *types) {
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    const cJSON *one = v;
    int is_array = cJSON_IsArray(v);
    if (is_array) one = v->child;
    for (; one; one = is_array ? one->next : NULL) {
        size_t i;
        for (i = 0; i < 7; i++)
            if (cJSON_IsString(one) && strcmp(one->valuestring, names[i]) == 0) break;
        if (i == 7) return fail(c, EQ_EINVAL, "bad \"type\"");
        *types |= 1u << i;
    }
    if (*types == 0) return fail(c, EQ_EINVAL, "empty \"type\"");
    return EQ_OK;
}

static eq_err compile_list(js_ctx *c, const cJSON *v, const char *base, int depth, js_list *out) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return fail(c, EQ_EINVAL, "\"%s\" must be a non-empty array of schemas", v->string);
    size_t n = (size_t)cJSON_GetArraySize(v);
    out->v = calloc(n, sizeof *out->v);
    if (!out->v) return EQ_ENOMEM;
    const cJSON *sub;
    cJSON_ArrayForEach(sub, v) {
        eq_err e = compile(c, sub, base, depth + 1, &out->v[out->n]);
        out->n++;
        if (e != EQ_OK) return e;
    }
    return EQ_OK;
}

static eq_err compile_map(js_ctx *c, const cJSON *v, const char *base, int depth, js_named **out,
                          size_t *n) {
    if (!cJSON_IsObject(v))
        return fail(c, EQ_EINVAL, "\"%s\" must be an object of schemas", v->string);
    size_t count = (size_t)cJSON_GetArraySize(v);
    *out = calloc(count ? count : 1, sizeof **out);
    if (!*out) return EQ_ENOMEM;
    const cJSON *sub;
    cJSON_ArrayForEach(sub, v) {
        (*out)[*n].name = sub->string;
        eq_err e = compile(c, sub, base, depth + 1, &(*out)[*n].node);
        (*n)++;
        if (e != EQ_OK) return e;
    }
    return EQ_OK;
}

static eq_err check_string_array(js_ctx *c, const cJSON *v) {
    const cJSON *s;
    if (!cJSON_IsArray(v))
        return fail(c, EQ_EINVAL, "\"%s\" must be an array of strings", v->string);
    cJSON_ArrayForEach(s, v) {
        if (!cJSON_IsString(s))
            return fail(c, EQ_EINVAL, "\"%s\" must be an array of strings", v->string);
    }
    return EQ_OK;
}

/* Keywords refused rather than ignored: ignoring them would accept what the author meant
 * to refuse. */
static const char *const UNSUPPORTED[] = {"$dynamicRef", "$recursiveRef", "unevaluatedItems",
                                          "unevaluatedProperties", NULL};

static eq_err node_fill(js_ctx *c, js_node *n, const cJSON *js, const char *outer, int depth) {
    if (depth > JS_MAX_SCHEMA_DEPTH)
        return fail(c, EQ_EINVAL, "schema nested deeper than %d", JS_MAX_SCHEMA_DEPTH);
    if (cJSON_IsBool(js)) {
        n->boolean = cJSON_IsTrue(js);
        return EQ_OK;
    }
    if (!cJSON_IsObject(js)) return fail(c, EQ_EINVAL, "a schema must be an object or a boolean");
    char base[JS_MAX_URI_BYTES];
    if (base_of(js, outer, base, sizeof base) != 0) return fail(c, EQ_EINVAL, "$id too long");

    eq_err e = EQ_OK;
    const cJSON *kw;
    cJSON_ArrayForEach(kw, js) {
        const char *k = kw->string;
        for (const cJSON *prev = js->child; prev != kw; prev = prev->next)
            if (strcmp(prev->string, k) == 0)
                return fail(c, EQ_EINVAL, "keyword \"%s\" appears twice", k);
        if (in_list(UNSUPPORTED, k))
            return fail(c, EQ_EUNSUPPORTED, "keyword \"%s\" is not supported", k);
        if (strcmp(k, "type") == 0) {
            e = parse_type(c, kw, &n->types);
        } else if (strcmp(k, "description") == 0) {
            if (cJSON_IsString(kw)) n->description = kw->valuestring;
        } else if (strcmp(k, "enum") == 0) {
            if (!cJSON_IsArray(kw)) return fail(c, EQ_EINVAL, "\"enum\" must be an array");
            n->enum_vals = kw;
        } else if (strcmp(k, "const") == 0) {
            n->const_val = kw;
        } else if (strcmp(k, "multipleOf") == 0) {
            e = get_number(c, kw, &n->multiple_of, &n->has, JS_HAS_MULTIPLE_OF);
            if (e == EQ_OK && n->multiple_of <= 0)
                return fail(c, EQ_EINVAL, "\"multipleOf\" must be positive");
        } else if (strcmp(k, "maximum") == 0) {
            e = get_number(c, kw, &n->maximum, &n->has, JS_HAS_MAXIMUM);
        } else if (strcmp(k, "exclusiveMaximum") == 0) {
            e = get_number(c, kw, &n->exclusive_maximum, &n->has, JS_HAS_EXCLUSIVE_MAXIMUM);
        } else if (strcmp(k, "minimum") == 0) {
            e = get_number(c, kw, &n->minimum, &n->has, JS_HAS_MINIMUM);
        } else if (strcmp(k, "exclusiveMinimum") == 0) {
            e = get_number(c, kw, &n->exclusive_minimum, &n->has, JS_HAS_EXCLUSIVE_MINIMUM);
        } else if (strcmp(k, "maxLength") == 0) {
            e = get_count(c, kw, &n->max_length);
        } else if (strcmp(k, "minLength") == 0) {
            e = get_count(c, kw, &n->min_length);
        } else if (strcmp(k, "pattern") == 0) {
            if (!cJSON_IsString(kw)) return fail(c, EQ_EINVAL, "\"pattern\" must be a string");
            if (!(n->pattern = calloc(1, sizeof *n->pattern))) return EQ_ENOMEM;
            n->pattern->source = kw->valuestring;
            e = compile_regex(c, kw->valuestring, &n->pattern->code);
        } else if (strcmp(k, "maxItems") == 0) {
            e = get_count(c, kw, &n->max_items);
        } else if (strcmp(k, "minItems") == 0) {
            e = get_count(c, kw, &n->min_items);
        } else if (strcmp(k, "uniqueItems") == 0) {
            n->unique_items = cJSON_IsTrue(kw);
        } else if (strcmp(k, "items") == 0) {
            if (cJSON_IsArray(kw))
                return fail(c, EQ_EINVAL, "array-form \"items\" is draft 7: use \"prefixItems\"");
            e = compile(c, kw, base, depth + 1, &n->items);
        } else if (strcmp(k, "prefixItems") == 0) {
            e = compile_list(c, kw, base, depth, &n->prefix_items);
        } else if (strcmp(k, "contains") == 0) {
            e = compile(c, kw, base, depth + 1, &n->contains);
        } else if (strcmp(k, "minContains") == 0) {
            e = get_count(c, kw, &n->min_contains);
        } else if (strcmp(k, "maxContains") == 0) {
            e = get_count(c, kw, &n->max_contains);
        } else if (strcmp(k, "maxProperties") == 0) {
            e = get_count(c, kw, &n->max_properties);
        } else if (strcmp(k, "minProperties") == 0) {
            e = get_count(c, kw, &n->min_properties);
        } else if (strcmp(k, "required") == 0) {
            e = check_string_array(c, kw);
            n->required = kw;
        } else if (strcmp(k, "properties") == 0) {
            e = compile_map(c, kw, base, depth, &n->properties, &n->n_properties);
        } else if (strcmp(k, "patternProperties") == 0) {
            if (!cJSON_IsObject(kw))
                return fail(c, EQ_EINVAL, "\"patternProperties\" must be an object");
            size_t count = (size_t)cJSON_GetArraySize(kw);
            if (!(n->pattern_properties = calloc(count ? count : 1, sizeof(js_pattern))))
                return EQ_ENOMEM;
            const cJSON *sub;
            cJSON_ArrayForEach(sub, kw) {
                js_pattern *p = &n->pattern_properties[n->n_pattern_properties++];
                p->source = sub->string;
                if ((e = compile_regex(c, sub->string, &p->code)) != EQ_OK ||
                    (e = compile(c, sub, base, depth + 1, &p->node)) != EQ_OK)
                    return e;
            }
        } else if (strcmp(k, "additionalProperties") == 0) {
            e = compile(c, kw, base, depth + 1, &n->additional_properties);
        } else if (strcmp(k, "propertyNames") == 0) {
            e = compile(c, kw, base, depth + 1, &n->property_names);
        } else if (strcmp(k, "dependentRequired") == 0) {
            if (!cJSON_IsObject(kw))
                return fail(c, EQ_EINVAL, "\"dependentRequired\" must be an object");
            const cJSON *sub;
            cJSON_ArrayForEach(sub, kw) {
                if ((e = check_string_array(c, sub)) != EQ_OK) return e;
            }
            n->dependent_required = kw;
        } else if (strcmp(k, "dependentSchemas") == 0) {
            e = compile_map(c, kw, base, depth, &n->dependent_schemas, &n->n_dependent_schemas);
        } else if (strcmp(k, "allOf") == 0) {
            e = compile_list(c, kw, base, depth, &n->all_of);
        } else if (strcmp(k, "anyOf") == 0) {
            e = compile_list(c, kw, base, depth, &n->any_of);
        } else if (strcmp(k, "oneOf") == 0) {
            e = compile_list(c, kw, base, depth, &n->one_of);
        } else if (strcmp(k, "not") == 0) {
            e = compile(c, kw, base, depth + 1, &n->not_);
        } else if (strcmp(k, "if") == 0) {
            e = compile(c, kw, base, depth + 1, &n->if_);
        } else if (strcmp(k, "then") == 0) {
            e = compile(c, kw, base, depth + 1, &n->then_);
        } else if (strcmp(k, "else") == 0) {
            e = compile(c, kw, base, depth + 1, &n->else_);
        } else if (strcmp(k, "$ref") == 0) {
            if (!cJSON_IsString(kw)) return fail(c, EQ_EINVAL, "\"$ref\" must be a string");
            e = compile_ref(c, kw->valuestring, base, depth, &n->ref);
        } else if (strcmp(k, "$defs") == 0 || strcmp(k, "definitions") == 0) {
            /* Compiled eagerly so that errors in unreferenced definitions surface now. */
            if (!cJSON_IsObject(kw)) return fail(c, EQ_EINVAL, "\"%s\" must be an object", k);
            const cJSON *sub;
            js_node *ignored;
            cJSON_ArrayForEach(sub, kw) {
                if ((e = compile_target(c, sub, base, depth + 1, &ignored)) != EQ_OK) return e;
            }
        }
        /* Anything else (format, title, description, default, examples, $schema, $id,
         * $anchor, $comment, unknown keywords) is an annotation. */
        if (e != EQ_OK) return e;
    }
    if (n->then_ && !n->if_) n->then_ = NULL; /* then/else without if have no effect */
    if (n->else_ && !n->if_) n->else_ = NULL;
    return EQ_OK;
}

eq_err js_compile(const char *schema_json, js_schema **out, char *err, size_t errlen) {
    js_ctx c = {.err = err, .errlen = errlen};
    if (errlen > 0) err[0] = '\0';
    *out = NULL;
    if (!schema_json) return fail(&c, EQ_EINVAL, "no schema");
    eq_err e;
    js_schema *s = calloc(1, sizeof *s);
    if (!s) return EQ_ENOMEM;
    c.s = s;
    s->doc = cJSON_Parse(schema_json);
    if (!s->doc) {
        e = fail(&c, EQ_EINVAL, "schema is not valid JSON");
        goto fail;
    }
    s->mctx = pcre2_match_context_create(NULL);
    c.cctx = pcre2_compile_context_create(NULL);
    if (!s->mctx || !c.cctx) {
        e = EQ_ENOMEM;
        goto fail;
    }
    pcre2_set_match_limit(s->mctx, JS_REGEX_MATCH_LIMIT);
    pcre2_set_compile_extra_options(c.cctx, PCRE2_EXTRA_ALT_BSUX);
    if ((e = index_uris(&c, s->doc, "", 0)) != EQ_OK) goto fail;
    if ((e = compile_target(&c, s->doc, "", 0, &s->root)) != EQ_OK) goto fail;
    *out = s;
    s = NULL;
fail:
    if (e != EQ_OK && e != EQ_EINVAL && e != EQ_EUNSUPPORTED) fail(&c, e, "%s", eq_strerror(e));
    for (size_t i = 0; i < c.n_uris; i++)
        free(c.uris[i].uri);
    free(c.uris);
    free(c.memo);
    pcre2_compile_context_free(c.cctx);
    js_free(s);
    return e;
}

void js_free(js_schema *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_nodes; i++) {
        js_node *n = s->nodes[i];
        if (n->pattern) pcre2_code_free(n->pattern->code);
        free(n->pattern);
        for (size_t j = 0; j < n->n_pattern_properties; j++)
            pcre2_code_free(n->pattern_properties[j].code);
        free(n->pattern_properties);
        free(n->properties);
        free(n->dependent_schemas);
        free(n->prefix_items.v);
        free(n->all_of.v);
        free(n->any_of.v);
        free(n->one_of.v);
        free(n);
    }
    free(s->nodes);
    pcre2_match_context_free(s->mctx);
    cJSON_Delete(s->doc);
    free(s);
}
