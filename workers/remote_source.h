/* A worker_source (workers/source.h) that reads collections from the broker over nng, for
 * workers that cannot open the store (another machine): search jobs and the llm job's search
 * context work there too. A collection loads in pages; the index then catches up on its
 * changes as it does with a local store. */
#ifndef ECONQ_WORKERS_REMOTE_SOURCE_H
#define ECONQ_WORKERS_REMOTE_SOURCE_H
#include "common/eq_err.h"
#include "workers/source.h"

/* Dials the broker at url (e.g. tcp://host:7070) and fills *out. Errors: EQ_EINVAL (a bad
 * address), EQ_ENOMEM. */
eq_err remote_source_open(const char *url, worker_source *out);
void remote_source_close(worker_source *src);

#endif
