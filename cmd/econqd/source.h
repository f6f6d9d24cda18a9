/* The store-backed worker_source of econqd (cmd/econqd/source.c). */
#ifndef ECONQ_CMD_ECONQD_SOURCE_H
#define ECONQ_CMD_ECONQD_SOURCE_H
#include "store/store.h"
#include "workers/source.h"

/* Fills src to read collections from st (borrowed for src's life). */
void econqd_source_init(worker_source *src, store *st);

#endif
