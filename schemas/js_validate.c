/* Validates a cJSON instance against a compiled schema. Reads the schema only; all state of
 * one validation (the instance path being built) lives on the caller's stack. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/js_internal.h"

typedef struct js_vctx {
    const js_schema *s;
    char path[sizeof(((js_error *)0)->path)];
    size_t plen;
    unsigned long progress; /* subschemas passed so far: how far a failing branch got */
    pcre2_match_data *md;   /* made at the first regex test of this validation */
} js_vctx;

static int validate(js_vctx *v, const js_node *n, const cJSON *inst, int depth, js_error *err);

static int cjson_type(const cJSON *j) {
    return j->type & 0xFF;
}

int js__equal(const cJSON *a, const cJSON *b) {
    if (cjson_type(a) != cjson_type(b)) return 0;
    switch (cjson_type(a)) {
    case cJSON_Number:
        return a->valuedouble == b->valuedouble;
    case cJSON_String:
        return strcmp(a->valuestring, b->valuestring) == 0;
    case cJSON_Array: {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if (!js__equal(x, y)) return 0;
        return !x && !y;
    }
    case cJSON_Object: {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, a) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            if (!y || !js__equal(x, y)) return 0;
        }
        return 1;
    }
    default:
        return 1; /* null, true, false */
    }
}

/* ---- the instance path ---- */

/* Appends "/token" (escaped as a JSON pointer) and returns the previous length for path_pop().
 * A path that would not fit is left as it was (the error then names an ancestor). */
static size_t path_push(js_vctx *v, const char *token) {
    size_t old = v->plen, len = v->plen;
    char *p = v->path;
    if (len + 1 >= sizeof v->path) return old;
    p[len++] = '/';
    for (const char *t = token; *t; t++) {
        const char *rep = *t == '~' ? "~0" : *t == '/' ? "~1" : NULL;
        size_t need = rep ? 2 : 1;
        if (len + need >= sizeof v->path) {
            p[old] = '\0';
            return old;
        }
        if (rep) {
            memcpy(p + len, rep, 2);
        } else {
            p[len] = *t;
        }
        len += need;
    }
    p[len] = '\0';
    v->plen = len;
    return old;
}

static size_t path_push_index(js_vctx *v, int i) {
    char buf[16], *p = buf + sizeof buf - 1; /* by hand: snprintf dominated long arrays */
    unsigned u = (unsigned)i;
    *p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return path_push(v, p);
}

static void path_pop(js_vctx *v, size_t old) {
    v->plen = old;
    v->path[old] = '\0';
}

static int error(js_vctx *v, js_error *err, const char *keyword, const char *fmt, ...) {
    if (!err) return 0;
    snprintf(err->path, sizeof err->path, "%s", v->path);
    snprintf(err->keyword, sizeof err->keyword, "%s", keyword);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return 0;
}

/* Formats a number for a message: integers without exponent, others with full precision. */
static const char *num(double x, char *buf, size_t len) {
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(buf, len, "%.0f", x);
    else
        snprintf(buf, len, "%.17g", x);
    return buf;
}

static const char *type_name(const cJSON *j) {
    switch (cjson_type(j)) {
    case cJSON_NULL:
        return "null";
    case cJSON_True:
    case cJSON_False:
        return "boolean";
    case cJSON_Number:
        return "number";
    case cJSON_String:
        return "string";
    case cJSON_Array:
        return "array";
    case cJSON_Object:
        return "object";
    default:
        return "invalid";
    }
}

/* Writes a JSON value (or, if `each`, the items of an array separated by ", ") into buf for
 * a message, ending with "..." when it does not fit. Only called on the error path. */
static const char *values_text(const cJSON *j, int each, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    const cJSON *it = each ? j->child : j;
    for (; it; it = each ? it->next : NULL) {
        char *text = cJSON_PrintUnformatted(it);
        if (!text) break;
        int w = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", text);
        free(text);
        if (w < 0 || (size_t)w >= len - off) {
            if (len > 4) memcpy(buf + len - 4, "...", 4);
            break;
        }
        off += (size_t)w;
    }
    return buf;
}

static int type_ok(unsigned types, const cJSON *j) {
    switch (cjson_type(j)) {
    case cJSON_NULL:
        return types & JS_T_NULL;
    case cJSON_True:
    case cJSON_False:
        return types & JS_T_BOOLEAN;
    case cJSON_Number: {
        double x = j->valuedouble;
        if (types & JS_T_NUMBER) return 1;
        return (types & JS_T_INTEGER) && isfinite(x) && x == floor(x);
    }
    case cJSON_String:
        return types & JS_T_STRING;
    case cJSON_Array:
        return types & JS_T_ARRAY;
    case cJSON_Object:
        return types & JS_T_OBJECT;
    default:
        return 0;
    }
}

static const char *types_text(unsigned types, char *buf, size_t len) {
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < 7; i++) {
        if (!(types & (1u << i))) continue;
        int w = snprintf(buf + off, len - off, "%s%s", off ? " or " : "", names[i]);
        if (w < 0 || (size_t)w >= len - off) break;
        off += (size_t)w;
    }
    return buf;
}

static int multiple_ok(double x, double m) {
    double q = x / m;
    if (!isfinite(q)) return fmod(x, m) == 0.0;
    double r = fabs(q - nearbyint(q));
    /* x / m is correctly rounded, so a true multiple is off by a few ulps of q at most. */
    return r <= fmax(1e-9, fabs(q) * 4 * DBL_EPSILON);
}

static size_t utf8_length(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) n++;
    return n;
}

/* 1: matches, 0: does not, -1: the match failed (match limit, invalid UTF-8). */
static int regex_match(js_vctx *v, pcre2_code *code, const char *subject) {
    /* Only whether it matches matters, so one pair of offsets serves every pattern: a
     * match with captures that do not fit returns 0, still a match. */
    if (!v->md && !(v->md = pcre2_match_data_create(1, NULL))) return -1;
    int rc = pcre2_match(code, (PCRE2_SPTR)subject, strlen(subject), 0, 0, v->md, v->s->mctx);
    if (rc >= 0) return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static int check_number(js_vctx *v, const js_node *n, double x, js_error *err) {
    char a[40], b[40];
    if ((n->has & JS_HAS_MINIMUM) && !(x >= n->minimum))
        return error(v, err, "minimum", "%s is less than the minimum %s", num(x, a, sizeof a),
                     num(n->minimum, b, sizeof b));
    if ((n->has & JS_HAS_EXCLUSIVE_MINIMUM) && !(x > n->exclusive_minimum))
        return error(v, err, "exclusiveMinimum", "%s must be greater than %s", num(x, a, sizeof a),
                     num(n->exclusive_minimum, b, sizeof b));
    if ((n->has & JS_HAS_MAXIMUM) && !(x <= n->maximum))
        return error(v, err, "maximum", "%s is greater than the maximum %s", num(x, a, sizeof a),
                     num(n->maximum, b, sizeof b));
    if ((n->has & JS_HAS_EXCLUSIVE_MAXIMUM) && !(x < n->exclusive_maximum))
        return error(v, err, "exclusiveMaximum", "%s must be less than %s", num(x, a, sizeof a),
                     num(n->exclusive_maximum, b, sizeof b));
    if ((n->has & JS_HAS_MULTIPLE_OF) && !multiple_ok(x, n->multiple_of))
        return error(v, err, "multipleOf", "%s is not a multiple of %s", num(x, a, sizeof a),
                     num(n->multiple_of, b, sizeof b));
    return 1;
}

static int check_string(js_vctx *v, const js_node *n, const char *str, js_error *err) {
    if (n->max_length >= 0 || n->min_length >= 0) {
        size_t len = utf8_length(str);
        if (n->max_length >= 0 && len > (size_t)n->max_length)
            return error(v, err, "maxLength", "string is longer than %ld characters",
                         n->max_length);
        if (n->min_length >= 0 && len < (size_t)n->min_length)
            return error(v, err, "minLength", "string is shorter than %ld characters",
                         n->min_length);
    }
    if (n->pattern) {
        int m = regex_match(v, n->pattern->code, str);
        if (m < 0)
            return error(v, err, "pattern", "string could not be matched against \"%.180s\"",
                         n->pattern->source);
        if (m == 0)
            return error(v, err, "pattern", "string does not match \"%.200s\"", n->pattern->source);
    }
    return 1;
}

static int check_array(js_vctx *v, const js_node *n, const cJSON *arr, int depth, js_error *err) {
    int size = cJSON_GetArraySize(arr);
    if (n->max_items >= 0 && size > n->max_items)
        return error(v, err, "maxItems", "array has more than %ld items", n->max_items);
    if (n->min_items >= 0 && size < n->min_items)
        return error(v, err, "minItems", "array has fewer than %ld items", n->min_items);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const js_node *sub = (size_t)i < n->prefix_items.n ? n->prefix_items.v[i] : n->items;
        if (sub) {
            size_t old = path_push_index(v, i);
            int ok = validate(v, sub, it, depth + 1, err);
            path_pop(v, old);
            if (!ok) return 0;
        }
        i++;
    }
    if (n->unique_items) {
        /* Quadratic, but only after maxItems bounded the array (our schemas always set it). */
        const cJSON *a, *b;
        int ia = 0;
        for (a = arr->child; a; a = a->next, ia++) {
            int ib = ia + 1;
            for (b = a->next; b; b = b->next, ib++) {
                if (js__equal(a, b))
                    return error(v, err, "uniqueItems", "items %d and %d are equal", ia, ib);
            }
        }
    }
    if (n->contains) {
        long count = 0;
        cJSON_ArrayForEach(it, arr) {
            if (validate(v, n->contains, it, depth + 1, NULL)) count++;
        }
        long min = n->min_contains >= 0 ? n->min_contains : 1;
        if (count < min)
            return error(v, err, min > 1 ? "minContains" : "contains",
                         "array has %ld matching items, fewer than %ld", count, min);
        if (n->max_contains >= 0 && count > n->max_contains)
            return error(v, err, "maxContains", "array has %ld matching items, more than %ld",
                         count, n->max_contains);
    }
    return 1;
}

static int member_ok(js_vctx *v, const js_node *n, const cJSON *m, int depth, js_error *err) {
    int matched = 0;
    size_t old = path_push(v, m->string);
    int ok = 1;
    for (size_t i = 0; ok && i < n->n_properties; i++) {
        if (strcmp(n->properties[i].name, m->string) == 0) {
            matched = 1;
            if (n->properties[i].node->boolean == 0)
                ok = error(v, err, "false", "property \"%.200s\" is not allowed here", m->string);
            else
                ok = validate(v, n->properties[i].node, m, depth + 1, err);
        }
    }
    for (size_t i = 0; ok && i < n->n_pattern_properties; i++) {
        int r = regex_match(v, n->pattern_properties[i].code, m->string);
        if (r < 0) {
            ok = error(v, err, "patternProperties", "name could not be matched against \"%.180s\"",
                       n->pattern_properties[i].source);
        } else if (r > 0) {
            matched = 1;
            ok = validate(v, n->pattern_properties[i].node, m, depth + 1, err);
        }
    }
    if (ok && !matched && n->additional_properties) {
        const js_node *ap = n->additional_properties;
        if (ap->boolean == 0)
            ok = error(v, err, "additionalProperties", "property \"%.200s\" is not allowed",
                       m->string);
        else
            ok = validate(v, ap, m, depth + 1, err);
    }
    path_pop(v, old);
    return ok;
}

static int missing(js_vctx *v, const char *name, const char *keyword, const char *because,
                   js_error *err) {
    size_t old = path_push(v, name);
    if (because)
        error(v, err, keyword, "property \"%.100s\" is required when \"%.100s\" is present", name,
              because);
    else
        error(v, err, keyword, "required property \"%.200s\" is missing", name);
    path_pop(v, old);
    return 0;
}

static int check_object(js_vctx *v, const js_node *n, const cJSON *obj, int depth, js_error *err) {
    int size = cJSON_GetArraySize(obj);
    if (n->max_properties >= 0 && size > n->max_properties)
        return error(v, err, "maxProperties", "object has more than %ld properties",
                     n->max_properties);
    if (n->min_properties >= 0 && size < n->min_properties)
        return error(v, err, "minProperties", "object has fewer than %ld properties",
                     n->min_properties);
    const cJSON *m;
    if (n->n_properties || n->n_pattern_properties || n->additional_properties) {
        cJSON_ArrayForEach(m, obj) {
            if (!member_ok(v, n, m, depth, err)) return 0;
        }
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, n->required) {
        if (!cJSON_GetObjectItemCaseSensitive(obj, r->valuestring))
            return missing(v, r->valuestring, "required", NULL, err);
    }
    if (n->dependent_required) {
        const cJSON *dep;
        cJSON_ArrayForEach(dep, n->dependent_required) {
            if (!cJSON_GetObjectItemCaseSensitive(obj, dep->string)) continue;
            cJSON_ArrayForEach(r, dep) {
                if (!cJSON_GetObjectItemCaseSensitive(obj, r->valuestring))
                    return missing(v, r->valuestring, "dependentRequired", dep->string, err);
            }
        }
    }
    if (n->property_names) {
        cJSON_ArrayForEach(m, obj) {
            cJSON name = {.type = cJSON_String, .valuestring = m->string};
            size_t old = path_push(v, m->string);
            int ok = validate(v, n->property_names, &name, depth + 1, err);
            path_pop(v, old);
            if (!ok) return 0;
        }
    }
    for (size_t i = 0; i < n->n_dependent_schemas; i++) {
        if (cJSON_GetObjectItemCaseSensitive(obj, n->dependent_schemas[i].name) &&
            !validate(v, n->dependent_schemas[i].node, obj, depth + 1, err))
            return 0;
    }
    return 1;
}

static int path_depth(const char *p) {
    int d = 0;
    for (; *p; p++)
        d += *p == '/';
    return d;
}

/* When no branch of anyOf/oneOf matches, the error reported is the one of the branch the
 * instance was most likely meant for: the branch that got furthest (most subschemas passed
 * before it failed), then the one failing deepest in the instance, then one failing on a
 * value rather than on an unexpected or missing member. */
typedef struct branch_score {
    unsigned long progress;
    int depth, specific;
} branch_score;

static int score_better(const branch_score *a, const branch_score *b) {
    if (a->progress != b->progress) return a->progress > b->progress;
    if (a->depth != b->depth) return a->depth > b->depth;
    return a->specific > b->specific;
}

static branch_score score_of(const js_error *e, unsigned long progress) {
    branch_score s = {.progress = progress, .depth = path_depth(e->path)};
    s.specific = strcmp(e->keyword, "required") != 0 &&
                 strcmp(e->keyword, "additionalProperties") != 0 &&
                 strcmp(e->keyword, "false") != 0;
    return s;
}

static int check_combinators(js_vctx *v, const js_node *n, const cJSON *inst, int depth,
                             js_error *err) {
    for (size_t i = 0; i < n->all_of.n; i++)
        if (!validate(v, n->all_of.v[i], inst, depth + 1, err)) return 0;
    for (int which = 0; which < 2; which++) {
        const js_list *list = which == 0 ? &n->any_of : &n->one_of;
        if (list->n == 0) continue;
        js_error best = {.path = ""}, cur;
        branch_score best_score = {0}, cur_score;
        int matches = 0, have_best = 0;
        for (size_t i = 0; i < list->n; i++) {
            unsigned long before = v->progress;
            if (validate(v, list->v[i], inst, depth + 1, err ? &cur : NULL)) {
                matches++;
                if (which == 0 || matches > 1) break;
                continue;
            }
            if (!err) continue;
            cur_score = score_of(&cur, v->progress - before);
            if (!have_best || score_better(&cur_score, &best_score)) {
                best = cur;
                best_score = cur_score;
                have_best = 1;
            }
        }
        const char *kw = which == 0 ? "anyOf" : "oneOf";
        if (matches > 1)
            return error(v, err, kw, "value matches more than one of the allowed forms");
        if (matches == 0) {
            if (err && path_depth(best.path) > path_depth(v->path)) {
                *err = best;
                return 0;
            }
            return error(v, err, kw, "value matches none of the allowed forms");
        }
    }
    if (n->not_ && validate(v, n->not_, inst, depth + 1, NULL))
        return error(v, err, "not", "%s",
                     n->not_->description ? n->not_->description
                                          : "value matches a schema it must not match");
    if (n->if_) {
        const js_node *next = validate(v, n->if_, inst, depth + 1, NULL) ? n->then_ : n->else_;
        if (next && !validate(v, next, inst, depth + 1, err)) return 0;
    }
    return 1;
}

static int validate_node(js_vctx *v, const js_node *n, const cJSON *inst, int depth, js_error *err);

static int validate(js_vctx *v, const js_node *n, const cJSON *inst, int depth, js_error *err) {
    int ok = validate_node(v, n, inst, depth, err);
    v->progress += (unsigned long)ok;
    return ok;
}

static int validate_node(js_vctx *v, const js_node *n, const cJSON *inst, int depth,
                         js_error *err) {
    if (depth > JS_MAX_DEPTH)
        return error(v, err, "depth", "nested deeper than %d schema levels", JS_MAX_DEPTH);
    if (n->boolean >= 0) return n->boolean ? 1 : error(v, err, "false", "no value is allowed here");
    if (n->ref && !validate(v, n->ref, inst, depth + 1, err)) return 0;
    if (n->types && !type_ok(n->types, inst)) {
        char buf[80];
        return error(v, err, "type", "expected %s, got %s", types_text(n->types, buf, sizeof buf),
                     type_name(inst));
    }
    if (n->const_val && !js__equal(n->const_val, inst)) {
        char list[160];
        return error(v, err, "const", "value must be %s",
                     values_text(n->const_val, 0, list, sizeof list));
    }
    if (n->enum_vals) {
        const cJSON *e;
        int found = 0;
        cJSON_ArrayForEach(e, n->enum_vals) {
            if (js__equal(e, inst)) {
                found = 1;
                break;
            }
        }
        if (!found) {
            char list[200];
            return error(v, err, "enum", "value must be one of %s",
                         values_text(n->enum_vals, 1, list, sizeof list));
        }
    }
    switch (cjson_type(inst)) {
    case cJSON_Number:
        if (!check_number(v, n, inst->valuedouble, err)) return 0;
        break;
    case cJSON_String:
        if (!check_string(v, n, inst->valuestring, err)) return 0;
        break;
    case cJSON_Array:
        if (!check_array(v, n, inst, depth, err)) return 0;
        break;
    case cJSON_Object:
        if (!check_object(v, n, inst, depth, err)) return 0;
        break;
    default:
        break;
    }
    return check_combinators(v, n, inst, depth, err);
}

int js_validate(const js_schema *s, const cJSON *instance, js_error *err) {
    js_vctx v = {.s = s};
    if (err) memset(err, 0, sizeof *err);
    if (!instance) return error(&v, err, "type", "no instance");
    int ok = validate(&v, s->root, instance, 0, err);
    pcre2_match_data_free(v.md);
    return ok;
}
