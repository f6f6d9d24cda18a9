/* Shared between the store's files; not for other modules. */
#ifndef ECONQ_STORE_INTERNAL_H
#define ECONQ_STORE_INTERNAL_H
#include <lmdb.h>
#include "store/store.h"

#define STORE_FORMAT 1          /* the environment's layout version, in meta "format" */
#define STORE_REC_VERSION 1     /* the version byte at the start of each record */

enum store_dbi {
    DBI_META,
    DBI_JOBS,
    DBI_QUEUE,
    DBI_LEASES,
    DBI_BY_STATE,
    DBI_DONE,
    DBI_RESULTS,
    DBI_IDEM,
    DBI_WORKERS,
    DBI_CACHE,
    DBI_CACHE_LRU,
    DBI_DATASETS,
    DBI_DATASET_FILES,
    DBI_DATASET_HASH,
    DBI_BATCHES,
    DBI_BATCH_JOBS,
    DBI_SCHEDULES,
    DBI_CHARTS,
    DBI_OUTBOX,
    DBI_OUTBOX_DUE,
    DBI_DELIVERIES,
    DBI_DELIVERY_LOG,
    DBI_COLLS,
    DBI_COLL_DOCS,
    DBI_COLL_LOG,
    DBI_DATASET_FC,
    DBI_COUNT
};

struct store {
    MDB_env *env;
    MDB_dbi dbi[DBI_COUNT];
    char *path;
};

struct store_txn {
    store *s;
    MDB_txn *txn;
    int write;
};

/* LMDB's default MDB_MAXKEYSIZE. */
#define STORE_KEY_MAX 511

eq_err store__err(int rc);
void store__put_be64(unsigned char *p, uint64_t v);
uint64_t store__get_be64(const unsigned char *p);

#endif
