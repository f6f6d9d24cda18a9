/* Nesting depth of untrusted JSON text, measured before a parser sees it. */
#ifndef ECONQ_COMMON_JSON_DEPTH_H
#define ECONQ_COMMON_JSON_DEPTH_H
#include <stddef.h>

/* 1 when the text nests objects and arrays deeper than max (strings are skipped); a pure scan,
 * so a hostile body cannot exhaust a recursive parser's stack. */
int eq_json_too_deep(const char *s, size_t n, int max);

#endif
