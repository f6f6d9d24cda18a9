/* Stored charts and workbooks (broker side): files under <data-dir>/charts/<id>.<ext> with an
 * index entry each in the `charts` table (store/store_sched.h).
 *
 * The index and the files never disagree in the way that matters (an index entry without its
 * file): a chart's file is written first (temporary name, fsync, rename, directory fsync) and
 * its entry is put after, in the transaction that completes the job; clean-up deletes entries
 * first and unlinks their files only after that transaction committed. A crash in between
 * leaves a file without an entry (an orphan), and every clean-up pass removes orphans older
 * than the grace period, so they do not pile up. */
#ifndef ECONQ_BROKER_CHART_STORE_H
#define ECONQ_BROKER_CHART_STORE_H
#include "broker/lifecycle.h"
#include "workers/chart/chart_gc.h"
#include <stddef.h>

#define CHART_STORE_MAX_BYTES (256u << 20) /* decoded size of one stored file */
#define CHART_STORE_GC_MAX 100000          /* index entries one clean-up pass considers */

/* Paths to unlink once the transaction commits. */
typedef struct chart_unlinks {
    char **paths;
    size_t n, cap;
} chart_unlinks;

/* For a completed chart or report job whose result carries data_b64: stores the bytes and
 * replaces o->result with {chart_id, url, content_type, format, bytes}. Other outcomes are left
 * alone. Returns a store error that poisons the transaction; a bad payload turns the outcome
 * into a failure (o->failed) instead. */
eq_err chart_store_outcome(const char *data_dir, lc_ctx *c, proto_outcome *o);
/* One clean-up pass as of `now` (the scheduler's clock): deletes the entries chart_gc_select
 * picks (files queued in u), removes orphan files; writes a JSON summary into result. */
eq_err chart_store_gc(const char *data_dir, lc_ctx *c, int64_t now, const chart_gc_policy *pol,
                      chart_unlinks *u, char *result, size_t rlen);
/* Unlinks the queued files when committed; forgets them either way. */
void chart_unlinks_run(chart_unlinks *u, int committed);

#endif
