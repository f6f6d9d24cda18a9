/* The process's worker_source; see source.h. */
#include "workers/source.h"

#include <stdatomic.h>
#include <stddef.h>

static _Atomic(const worker_source *) current;

void worker_source_set(const worker_source *src) {
    atomic_store(&current, src);
}

const worker_source *worker_source_get(void) {
    return atomic_load(&current);
}
