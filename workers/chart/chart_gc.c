/* Chart clean-up selection; see chart_gc.h. */
#include "workers/chart/chart_gc.h"

#include <stdlib.h>
#include <string.h>

chart_gc_policy chart_gc_policy_default(void) {
    return (chart_gc_policy){.max_age_ms = CHART_GC_DEFAULT_MAX_AGE_MS,
                             .keep_newest = CHART_GC_DEFAULT_KEEP,
                             .grace_ms = CHART_GC_DEFAULT_GRACE_MS};
}

typedef struct chart_gc_rank {
    const chart_gc_entry *e;
    size_t idx;
} chart_gc_rank;

/* Newest first; equal times by id, then by position, so the order is total. */
static int chart__gc_cmp(const void *a, const void *b) {
    const chart_gc_rank *x = a, *y = b;
    if (x->e->created_ms != y->e->created_ms) return x->e->created_ms > y->e->created_ms ? -1 : 1;
    int c = strcmp(x->e->id ? x->e->id : "", y->e->id ? y->e->id : "");
    if (c) return -c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

eq_err chart_gc_select(const chart_gc_entry *entries, size_t n, int64_t now_ms,
                       const chart_gc_policy *policy, size_t *remove, size_t *nremove) {
    if ((n && (!entries || !remove)) || !policy || !nremove) return EQ_EINVAL;
    if (n > CHART_GC_MAX_ENTRIES) return EQ_ETOOBIG;
    *nremove = 0;
    if (n == 0) return EQ_OK;
    chart_gc_rank *r = malloc(n * sizeof *r);
    unsigned char *drop = calloc(n, 1);
    if (!r || !drop) {
        free(r);
        free(drop);
        return EQ_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = (chart_gc_rank){.e = &entries[i], .idx = i};
    qsort(r, n, sizeof *r, chart__gc_cmp);
    for (size_t k = 0; k < n; k++) {
        const chart_gc_entry *e = r[k].e;
        int64_t last_touch = e->accessed_ms > e->created_ms ? e->accessed_ms : e->created_ms;
        int protect = e->writing || now_ms - last_touch < policy->grace_ms;
        int too_old = policy->max_age_ms > 0 && now_ms - e->created_ms > policy->max_age_ms;
        int too_many = policy->keep_newest > 0 && k >= policy->keep_newest;
        if (!protect && (too_old || too_many)) drop[r[k].idx] = 1;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (drop[i]) remove[m++] = i;
    *nremove = m;
    free(r);
    free(drop);
    return EQ_OK;
}
