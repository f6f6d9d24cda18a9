/* bench_search: exact top-k search latency over 10,000 and 100,000 synthetic documents.
 *
 * Documents are economic-sounding notes drawn from a Zipf-weighted vocabulary, embedded with
 * the built-in embedder; queries are short phrases from the same vocabulary. For each size it
 * prints p50/p99/max of the search alone and of embed + search, and the process RSS before
 * and after the timed queries (memory must not grow per query).
 *
 * Usage: bench_search [queries=1000] [k=10]. Build in a Release build directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workers/embed/embedder.h"
#include "workers/embed/vindex.h"

static const char *const vocab[] = {
    "inflation",
    "prices",
    "consumer",
    "index",
    "rose",
    "fell",
    "percent",
    "year",
    "month",
    "quarter",
    "imports",
    "exports",
    "trade",
    "deficit",
    "surplus",
    "gdp",
    "growth",
    "output",
    "unemployment",
    "rate",
    "jobs",
    "payrolls",
    "wages",
    "earnings",
    "central",
    "bank",
    "interest",
    "rates",
    "policy",
    "monetary",
    "fiscal",
    "budget",
    "debt",
    "bond",
    "yields",
    "housing",
    "starts",
    "mortgage",
    "rents",
    "energy",
    "oil",
    "gasoline",
    "food",
    "core",
    "services",
    "goods",
    "manufacturing",
    "industrial",
    "production",
    "retail",
    "sales",
    "spending",
    "savings",
    "income",
    "household",
    "credit",
    "loans",
    "money",
    "supply",
    "exchange",
    "dollar",
    "euro",
    "currency",
    "tariffs",
    "shipping",
    "freight",
    "survey",
    "confidence",
    "sentiment",
    "recession",
    "expansion",
    "forecast",
    "revised",
    "seasonally",
    "adjusted",
    "annual",
    "monthly",
    "increase",
    "decrease",
    "slowed",
    "accelerated",
    "steady",
    "strong",
    "weak",
    "sharp",
    "modest",
    "moderate",
    "region",
    "sector",
    "labour",
    "market",
    "participation",
    "productivity",
    "investment",
    "capital",
    "equipment",
    "construction",
    "the",
    "of",
    "and",
    "in",
    "to",
    "a",
    "for",
    "on",
    "was",
    "with",
    "as",
    "by",
    "from",
    "at",
};
#define NVOCAB (sizeof vocab / sizeof vocab[0])

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double cdf[NVOCAB];

/* A Zipf(1.0) draw over the vocabulary. */
static const char *word(void) {
    double u = (double)(rng() >> 11) / (double)(1ull << 53);
    size_t lo = 0, hi = NVOCAB - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return vocab[lo];
}

static size_t phrase(char *buf, size_t cap, size_t words) {
    size_t len = 0;
    for (size_t i = 0; i < words; i++) {
        int n = snprintf(buf + len, cap - len, "%s%s", i ? " " : "", word());
        if (n < 0 || (size_t)n >= cap - len) break;
        len += (size_t)n;
        if (rng() % 9 == 0) { /* numbers appear in real notes */
            n = snprintf(buf + len, cap - len, " %u.%u", (unsigned)(rng() % 12),
                         (unsigned)(rng() % 10));
            if (n > 0 && (size_t)n < cap - len) len += (size_t)n;
        }
    }
    return len;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p) {
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

static int run(size_t ndocs, size_t nq, size_t k) {
    vindex *vi;
    if (vindex_new(EMBED_DIM, &vi) != EQ_OK || vindex_reserve(vi, ndocs) != EQ_OK) return 1;
    char text[2048], id[32];
    float vec[EMBED_DIM];
    double t0 = now_ms();
    for (size_t d = 0; d < ndocs; d++) {
        size_t len = phrase(text, sizeof text, 30 + rng() % 90);
        snprintf(id, sizeof id, "doc-%zu", d);
        if (embed_text(text, len, vec) != EQ_OK || vindex_put(vi, id, vec, NULL) != EQ_OK) return 1;
    }
    double build_ms = now_ms() - t0;
    vindex_hit *hits = malloc(k * sizeof *hits);
    double *search = malloc(nq * sizeof *search), *total = malloc(nq * sizeof *total);
    if (!hits || !search || !total) return 1;
    size_t n;
    /* Warm-up pass so that page faults of the first touch are not counted. */
    if (embed_text("inflation rose", 14, vec) != EQ_OK ||
        vindex_search(vi, vec, k, hits, &n) != EQ_OK)
        return 1;
    long rss_before = rss_kib();
    for (size_t q = 0; q < nq; q++) {
        size_t len = phrase(text, sizeof text, 2 + rng() % 5);
        double a = now_ms();
        if (embed_text(text, len, vec) != EQ_OK) return 1;
        double b = now_ms();
        if (vindex_search(vi, vec, k, hits, &n) != EQ_OK) return 1;
        double c = now_ms();
        search[q] = c - b, total[q] = c - a;
    }
    long rss_after = rss_kib();
    qsort(search, nq, sizeof *search, cmp_double);
    qsort(total, nq, sizeof *total, cmp_double);
    printf("| %7zu | %5zu | %8.0f | %7.2f | %7.2f | %7.2f | %7.2f | %7.2f | %9ld | %9ld |\n", ndocs,
           k, build_ms, pct(search, nq, 0.5), pct(search, nq, 0.99), search[nq - 1],
           pct(total, nq, 0.5), pct(total, nq, 0.99), rss_before, rss_after);
    free(total);
    free(search);
    free(hits);
    vindex_free(vi);
    return 0;
}

int main(int argc, char **argv) {
    size_t nq = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    size_t k = argc > 2 ? strtoul(argv[2], NULL, 10) : 10;
    if (nq == 0 || k == 0 || k > VINDEX_MAX_K) return 2;
    double sum = 0;
    for (size_t i = 0; i < NVOCAB; i++)
        sum += 1.0 / (double)(i + 1);
    double acc = 0;
    for (size_t i = 0; i < NVOCAB; i++)
        cdf[i] = (acc += 1.0 / (double)(i + 1) / sum);
    cdf[NVOCAB - 1] = 1.0;
    char load[64] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (!fgets(load, sizeof load, lf)) snprintf(load, sizeof load, "?\n");
        fclose(lf);
    }
    printf("load average at start: %s", load);
    printf("embedder %s, %zu queries per size, k=%zu, times in ms, RSS in KiB\n\n", embed_name(),
           nq, k);
    printf("|    docs |     k | build ms | srch p50 | srch p99 | srch max | e+s p50 | e+s p99 | "
           "RSS before | RSS after |\n");
    printf("|--------:|------:|---------:|--------:|--------:|--------:|--------:|--------:|"
           "----------:|----------:|\n");
    if (run(10000, nq, k) != 0 || run(100000, nq, k) != 0) {
        fprintf(stderr, "bench_search: failed\n");
        return 1;
    }
    return 0;
}
