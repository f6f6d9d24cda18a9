/* Chart clean-up policy (pure): which stored charts to remove. The store applies the answer.
 *
 * A chart is removed when it is older than max_age or not among the keep_newest newest
 * (by creation time, ties broken by id), unless it is being written or was created or
 * requested within grace of now: those are never removed, so the total may briefly exceed
 * keep_newest. For the index and the files to agree after a crash half-way, the caller
 * should delete the index entry first and the file second, and on start remove files that
 * have no index entry (orphans) once they are older than the grace period. */
#ifndef ECONQ_WORKERS_CHART_GC_H
#define ECONQ_WORKERS_CHART_GC_H

#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

#define CHART_GC_DEFAULT_MAX_AGE_MS (INT64_C(7) * 24 * 3600 * 1000) /* the original's 7 days */
#define CHART_GC_DEFAULT_KEEP 100                                   /* the original's 100 */
#define CHART_GC_DEFAULT_GRACE_MS INT64_C(60000) /* a minute protects just-made charts */
#define CHART_GC_MAX_ENTRIES 10000000            /* index entries considered in one pass */

typedef struct chart_gc_entry {
    const char *id;      /* borrowed; used only to order equal creation times */
    int64_t created_ms;  /* when the chart was written (unix ms) */
    int64_t accessed_ms; /* last request (unix ms), 0 if never */
    int writing;         /* the chart is being written */
} chart_gc_entry;

typedef struct chart_gc_policy {
    int64_t max_age_ms; /* <= 0: no age limit */
    size_t keep_newest; /* 0: no count limit */
    int64_t grace_ms;
} chart_gc_policy;

/* Returns the defaults above. */
chart_gc_policy chart_gc_policy_default(void);

/* Chooses the entries to remove. Writes their indexes into `remove` (room for n, caller's),
 * in ascending order, and their number into *nremove. EQ_EINVAL for NULL arguments,
 * EQ_ETOOBIG above CHART_GC_MAX_ENTRIES, EQ_ENOMEM. */
eq_err chart_gc_select(const chart_gc_entry *entries, size_t n, int64_t now_ms,
                       const chart_gc_policy *policy, size_t *remove, size_t *nremove);

#endif
