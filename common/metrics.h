/* A process-wide metrics registry (like the logger, the one allowed global): counters, gauges and
 * histograms with fixed buckets, each family with a small fixed set of label names, rendered in
 * the Prometheus text exposition format (version 0.0.4).
 *
 * Thread safety: every function may be called from any thread. Updating an existing series is
 * lock-free (atomics only); creating a family or a new label combination takes a mutex once.
 * Families and series live for the whole process and are never freed (static storage), so a
 * metric_family pointer may be cached in a static variable. */
#ifndef ECONQ_COMMON_METRICS_H
#define ECONQ_COMMON_METRICS_H
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"

#define METRICS_MAX_FAMILIES 64  /* families in the process; more are refused (NULL) */
#define METRICS_MAX_SERIES 128   /* label combinations per family; more are dropped and counted */
#define METRICS_MAX_LABELS 3     /* label names per family */
#define METRICS_MAX_BUCKETS 16   /* finite histogram bounds per family (+Inf is implicit) */
#define METRICS_LABEL_MAX 48     /* bytes of a label value; longer values are cut */
#define METRICS_NAME_MAX 96      /* bytes of a metric or label name */
#define METRICS_HELP_MAX 200     /* bytes of a help text */

typedef enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_kind;
typedef struct metric_family metric_family;

/* Finds or registers a family. `labels` is a comma-separated list of label names ("type,outcome")
 * or NULL for none. A second call with the same name returns the first family when the kind and
 * labels agree, else NULL; NULL also for an invalid name or a full registry. Every update
 * function accepts a NULL family and then does nothing, so a failed registration never crashes
 * a caller. */
metric_family *metrics_counter(const char *name, const char *help, const char *labels);
metric_family *metrics_gauge(const char *name, const char *help, const char *labels);
/* bounds: nbounds (<= METRICS_MAX_BUCKETS) strictly increasing upper bounds. */
metric_family *metrics_histogram(const char *name, const char *help, const char *labels,
                                 const double *bounds, size_t nbounds);

/* Label values `lv` are given in the family's label order (NULL when it has no labels). */
void metrics_counter_add(metric_family *f, const char *const *lv, uint64_t n);
/* Sets a counter whose value is kept elsewhere (a durable counter in the store, say); the value
 * must itself be monotonic. */
void metrics_counter_set(metric_family *f, const char *const *lv, uint64_t v);
void metrics_gauge_set(metric_family *f, const char *const *lv, double v);
void metrics_gauge_add(metric_family *f, const char *const *lv, double delta);
void metrics_histogram_observe(metric_family *f, const char *const *lv, double v);

/* Sets every series of a gauge family to 0 (before re-filling it from a fresh scan). */
void metrics_gauge_reset(metric_family *f);

/* Reads back a counter or gauge (0 when the series does not exist): for tests and health. */
double metrics_value(metric_family *f, const char *const *lv);
/* The number of observations of a histogram series. */
uint64_t metrics_histogram_count(metric_family *f, const char *const *lv);

/* Appends every family with at least one series in the text format, with HELP and TYPE lines
 * and escaped label values, plus econq_metrics_series_dropped_total. */
void metrics_render(eq_buf *out);

/* Appends s escaped as a label value (backslash, double quote, newline) or, with help = 1, as a
 * HELP text (backslash, newline). Exposed for tests. */
void metrics_escape(eq_buf *out, const char *s, int help);

/* Job lifecycle observations, called by the broker for each state change it writes: completed
 * jobs by type and outcome, job durations (running to finished), queue waits (ready to running)
 * and attempts handed back to the queue. `from` and `to` are job_state values. */
void metrics_job_transition(const char *type, int from, int to, int64_t ready_ms,
                            int64_t started_ms, int64_t now_ms);

/* A webhook delivery attempt's outcome ("delivered", "failed", "retry"): for the dispatcher. */
void metrics_webhook_delivery(const char *outcome);
/* A circuit breaker's state (0 closed, 1 open, 2 half-open) under `name` ("llm"); the family is
 * exported once a breaker has reported. */
void metrics_circuit_state(const char *name, int state);

#endif
