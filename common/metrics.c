#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/job.h"

typedef struct metric_series {
    char lv[METRICS_MAX_LABELS][METRICS_LABEL_MAX];
    _Atomic uint64_t value; /* counter value, or a gauge's double as bits */
    _Atomic uint64_t sum;   /* histogram: sum of observations, double as bits */
    _Atomic uint64_t buckets[METRICS_MAX_BUCKETS + 1]; /* per bucket (not cumulative); last is +Inf */
} metric_series;

struct metric_family {
    char name[METRICS_NAME_MAX];
    char help[METRICS_HELP_MAX];
    metric_kind kind;
    size_t nlabels;
    char labels[METRICS_MAX_LABELS][METRICS_NAME_MAX];
    double bounds[METRICS_MAX_BUCKETS];
    size_t nbounds;
    _Atomic size_t nseries; /* published with release after the series is filled */
    metric_series series[METRICS_MAX_SERIES];
};

/* The registry: families are appended under `mu` and published through `nfamilies`; lookups
 * read without the lock. Static storage: untouched pages cost nothing. */
static struct {
    pthread_mutex_t mu;
    _Atomic size_t nfamilies;
    _Atomic uint64_t dropped; /* updates for a label combination beyond METRICS_MAX_SERIES */
    metric_family families[METRICS_MAX_FAMILIES];
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t dbits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static int valid_name(const char *s, int label) {
    size_t n = strlen(s);
    if (n == 0 || n >= METRICS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (!label && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Splits "a,b" into names; returns the count, or -1 when malformed. */
static int split_labels(const char *labels, char out[METRICS_MAX_LABELS][METRICS_NAME_MAX]) {
    int n = 0;
    const char *p = labels;
    if (!labels || !*labels)
        return 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == METRICS_MAX_LABELS || len == 0 || len >= METRICS_NAME_MAX)
            return -1;
        memcpy(out[n], p, len);
        out[n][len] = '\0';
        if (!valid_name(out[n], 1) || strcmp(out[n], "le") == 0)
            return -1;
        n++;
        p = comma ? comma + 1 : p + len;
    }
    return n;
}

static metric_family *find_family(const char *name, size_t upto) {
    for (size_t i = 0; i < upto; i++)
        if (strcmp(reg.families[i].name, name) == 0)
            return &reg.families[i];
    return NULL;
}

static metric_family *family(metric_kind kind, const char *name, const char *help,
                             const char *labels, const double *bounds, size_t nbounds) {
    char names[METRICS_MAX_LABELS][METRICS_NAME_MAX];
    int nl = split_labels(labels, names);
    if (nl < 0 || !valid_name(name, 0) || nbounds > METRICS_MAX_BUCKETS)
        return NULL;
    for (size_t i = 1; i < nbounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return NULL;
    metric_family *f = find_family(name, atomic_load_explicit(&reg.nfamilies, memory_order_acquire));
    if (!f) {
        pthread_mutex_lock(&reg.mu);
        size_t n = atomic_load_explicit(&reg.nfamilies, memory_order_relaxed);
        f = find_family(name, n);
        if (!f && n < METRICS_MAX_FAMILIES) {
            f = &reg.families[n];
            snprintf(f->name, sizeof f->name, "%s", name);
            snprintf(f->help, sizeof f->help, "%s", help ? help : "");
            f->kind = kind;
            f->nlabels = (size_t)nl;
            memcpy(f->labels, names, sizeof names);
            f->nbounds = kind == METRIC_HISTOGRAM ? nbounds : 0;
            for (size_t i = 0; i < f->nbounds; i++)
                f->bounds[i] = bounds[i];
            atomic_store_explicit(&reg.nfamilies, n + 1, memory_order_release);
        }
        pthread_mutex_unlock(&reg.mu);
        if (!f)
            return NULL;
    }
    if (f->kind != kind || f->nlabels != (size_t)nl)
        return NULL;
    for (int i = 0; i < nl; i++)
        if (strcmp(f->labels[i], names[i]) != 0)
            return NULL;
    return f;
}

metric_family *metrics_counter(const char *name, const char *help, const char *labels) {
    return family(METRIC_COUNTER, name, help, labels, NULL, 0);
}

metric_family *metrics_gauge(const char *name, const char *help, const char *labels) {
    return family(METRIC_GAUGE, name, help, labels, NULL, 0);
}

metric_family *metrics_histogram(const char *name, const char *help, const char *labels,
                                 const double *bounds, size_t nbounds) {
    return family(METRIC_HISTOGRAM, name, help, labels, bounds, nbounds);
}

static int series_match(const metric_family *f, const metric_series *s, const char *const *lv) {
    for (size_t i = 0; i < f->nlabels; i++)
        if (strncmp(s->lv[i], lv[i] ? lv[i] : "", METRICS_LABEL_MAX - 1) != 0)
            return 0;
    return 1;
}

/* The series for lv, created when `create` and there is room; NULL otherwise. */
static metric_series *series(metric_family *f, const char *const *lv, int create) {
    if (f->nlabels && !lv)
        return NULL; /* a labelled family needs its values */
    size_t n = atomic_load_explicit(&f->nseries, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (series_match(f, &f->series[i], lv))
            return &f->series[i];
    if (!create)
        return NULL;
    metric_series *s = NULL;
    pthread_mutex_lock(&reg.mu);
    size_t m = atomic_load_explicit(&f->nseries, memory_order_relaxed);
    for (size_t i = n; i < m && !s; i++)
        if (series_match(f, &f->series[i], lv))
            s = &f->series[i];
    if (!s && m < METRICS_MAX_SERIES) {
        s = &f->series[m];
        for (size_t i = 0; i < f->nlabels; i++)
            snprintf(s->lv[i], sizeof s->lv[i], "%s", lv[i] ? lv[i] : "");
        atomic_store_explicit(&s->value, f->kind == METRIC_GAUGE ? dbits(0) : 0,
                              memory_order_relaxed);
        atomic_store_explicit(&s->sum, dbits(0), memory_order_relaxed);
        atomic_store_explicit(&f->nseries, m + 1, memory_order_release);
    }
    pthread_mutex_unlock(&reg.mu);
    if (!s)
        atomic_fetch_add_explicit(&reg.dropped, 1, memory_order_relaxed);
    return s;
}

static void add_double(_Atomic uint64_t *cell, double delta) {
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed), nu;
    do {
        nu = dbits(bitsd(old) + delta);
    } while (!atomic_compare_exchange_weak_explicit(cell, &old, nu, memory_order_relaxed,
                                                    memory_order_relaxed));
}

void metrics_counter_add(metric_family *f, const char *const *lv, uint64_t n) {
    metric_series *s;
    if (f && f->kind == METRIC_COUNTER && (s = series(f, lv, 1)))
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void metrics_counter_set(metric_family *f, const char *const *lv, uint64_t v) {
    metric_series *s;
    if (f && f->kind == METRIC_COUNTER && (s = series(f, lv, 1)))
        atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

void metrics_gauge_set(metric_family *f, const char *const *lv, double v) {
    metric_series *s;
    if (f && f->kind == METRIC_GAUGE && (s = series(f, lv, 1)))
        atomic_store_explicit(&s->value, dbits(v), memory_order_relaxed);
}

void metrics_gauge_add(metric_family *f, const char *const *lv, double delta) {
    metric_series *s;
    if (f && f->kind == METRIC_GAUGE && (s = series(f, lv, 1)))
        add_double(&s->value, delta);
}

void metrics_histogram_observe(metric_family *f, const char *const *lv, double v) {
    metric_series *s;
    if (!f || f->kind != METRIC_HISTOGRAM || isnan(v) || !(s = series(f, lv, 1)))
        return;
    size_t b = 0;
    while (b < f->nbounds && v > f->bounds[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    add_double(&s->sum, v);
}

void metrics_gauge_reset(metric_family *f) {
    if (!f || f->kind != METRIC_GAUGE)
        return;
    size_t n = atomic_load_explicit(&f->nseries, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&f->series[i].value, dbits(0), memory_order_relaxed);
}

double metrics_value(metric_family *f, const char *const *lv) {
    metric_series *s = f ? series(f, lv, 0) : NULL;
    if (!s || f->kind == METRIC_HISTOGRAM)
        return 0;
    uint64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
    return f->kind == METRIC_COUNTER ? (double)v : bitsd(v);
}

uint64_t metrics_histogram_count(metric_family *f, const char *const *lv) {
    metric_series *s = f && f->kind == METRIC_HISTOGRAM ? series(f, lv, 0) : NULL;
    uint64_t n = 0;
    for (size_t b = 0; s && b <= f->nbounds; b++)
        n += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
    return n;
}

void metrics_escape(eq_buf *out, const char *s, int help) {
    for (; *s; s++) {
        if (*s == '\\')
            eq_buf_puts(out, "\\\\");
        else if (*s == '\n')
            eq_buf_puts(out, "\\n");
        else if (*s == '"' && !help)
            eq_buf_puts(out, "\\\"");
        else
            eq_buf_u8(out, (uint8_t)*s);
    }
}

/* The shortest of %.15g and %.17g that reads back as v ("0.00025", not "0.00025000000000000001"). */
static const char *fmt_double(double v, char *buf, size_t len) {
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, len, "%.17g", v);
    return buf;
}

static void put_double(eq_buf *out, double v) {
    char buf[40];
    if (isnan(v))
        eq_buf_puts(out, "NaN");
    else if (isinf(v))
        eq_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else
        eq_buf_printf(out, "%s", fmt_double(v, buf, sizeof buf));
}

/* Writes {a="x",b="y"[,le="..."]}; nothing when there are no labels and no le. */
static void put_labels(eq_buf *out, const metric_family *f, const metric_series *s,
                       const char *le) {
    if (f->nlabels == 0 && !le)
        return;
    eq_buf_u8(out, '{');
    for (size_t i = 0; i < f->nlabels; i++) {
        eq_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        metrics_escape(out, s->lv[i], 0);
        eq_buf_u8(out, '"');
    }
    if (le)
        eq_buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    eq_buf_u8(out, '}');
}

static void render_family(eq_buf *out, const metric_family *f, size_t n) {
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    eq_buf_printf(out, "# HELP %s ", f->name);
    metrics_escape(out, f->help, 1);
    eq_buf_printf(out, "\n# TYPE %s %s\n", f->name, kinds[f->kind]);
    for (size_t i = 0; i < n; i++) {
        const metric_series *s = &f->series[i];
        if (f->kind != METRIC_HISTOGRAM) {
            uint64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
            eq_buf_puts(out, f->name);
            put_labels(out, f, s, NULL);
            if (f->kind == METRIC_COUNTER) {
                eq_buf_printf(out, " %llu\n", (unsigned long long)v);
            } else {
                eq_buf_u8(out, ' ');
                put_double(out, bitsd(v));
                eq_buf_u8(out, '\n');
            }
            continue;
        }
        uint64_t cum = 0;
        char le[40];
        for (size_t b = 0; b <= f->nbounds; b++) {
            cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
            if (b < f->nbounds)
                fmt_double(f->bounds[b], le, sizeof le);
            else
                snprintf(le, sizeof le, "+Inf");
            eq_buf_printf(out, "%s_bucket", f->name);
            put_labels(out, f, s, le);
            eq_buf_printf(out, " %llu\n", (unsigned long long)cum);
        }
        eq_buf_printf(out, "%s_sum", f->name);
        put_labels(out, f, s, NULL);
        eq_buf_u8(out, ' ');
        put_double(out, bitsd(atomic_load_explicit(&s->sum, memory_order_relaxed)));
        eq_buf_printf(out, "\n%s_count", f->name);
        put_labels(out, f, s, NULL);
        /* The count is the +Inf bucket, so the two always agree. */
        eq_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
}

void metrics_render(eq_buf *out) {
    size_t nf = atomic_load_explicit(&reg.nfamilies, memory_order_acquire);
    for (size_t i = 0; i < nf; i++) {
        const metric_family *f = &reg.families[i];
        size_t n = atomic_load_explicit(&((metric_family *)f)->nseries, memory_order_acquire);
        if (n > 0)
            render_family(out, f, n);
    }
    eq_buf_puts(out, "# HELP econq_metrics_series_dropped_total Metric updates dropped because a "
                     "family had no room for another label combination.\n"
                     "# TYPE econq_metrics_series_dropped_total counter\n");
    eq_buf_printf(out, "econq_metrics_series_dropped_total %llu\n",
                  (unsigned long long)atomic_load_explicit(&reg.dropped, memory_order_relaxed));
}

/* ---- job lifecycle */

/* Seconds: from 5 ms (a noop) to 10 minutes (a long model call). */
static const double job_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25, 0.5,  1,
                                    2.5,   5,    10,    30,   60,   120,  300,  600};

static metric_family *job_completed, *job_duration, *job_wait, *job_requeued;

static void job_families_init(void) {
    size_t nb = sizeof job_bounds / sizeof *job_bounds;
    job_completed = metrics_counter("econq_jobs_completed_total",
                                    "Jobs that reached a final state, by type and outcome.",
                                    "type,outcome");
    job_duration = metrics_histogram("econq_job_duration_seconds",
                                     "Time from a job's last lease to its final state.", "type",
                                     job_bounds, nb);
    job_wait = metrics_histogram("econq_job_queue_wait_seconds",
                                 "Time a job waited ready in the queue before a worker leased it.",
                                 "type", job_bounds, nb);
    job_requeued = metrics_counter("econq_job_attempts_requeued_total",
                                   "Running attempts handed back to the queue (retry, expired "
                                   "lease, shutdown).",
                                   "type");
}

void metrics_job_transition(const char *type, int from, int to, int64_t ready_ms,
                            int64_t started_ms, int64_t now_ms) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, job_families_init);
    const char *lv[2] = {type, job_state_name(to)};
    if (to == JOB_RUNNING && from == JOB_QUEUED) {
        double w = now_ms > ready_ms ? (double)(now_ms - ready_ms) / 1000.0 : 0.0;
        metrics_histogram_observe(job_wait, lv, w);
    } else if (job_state_terminal(to) && !job_state_terminal(from)) {
        metrics_counter_add(job_completed, lv, 1);
        if (from == JOB_RUNNING && started_ms > 0)
            metrics_histogram_observe(job_duration, lv,
                                      now_ms > started_ms ? (double)(now_ms - started_ms) / 1000.0
                                                          : 0.0);
    } else if (to == JOB_QUEUED && from == JOB_RUNNING) {
        metrics_counter_add(job_requeued, lv, 1);
    }
}

void metrics_webhook_delivery(const char *outcome) {
    metrics_counter_add(metrics_counter("econq_webhook_deliveries_total",
                                        "Webhook delivery attempts by outcome.", "outcome"),
                        (const char *const[]){outcome}, 1);
}

void metrics_circuit_state(const char *name, int state) {
    metrics_gauge_set(metrics_gauge("econq_circuit_state",
                                    "Circuit breaker state: 0 closed, 1 open, 2 half-open.", "name"),
                      (const char *const[]){name}, state);
}
