/* econqd's configuration checks (--check-config, ECONQ_ENV=production), its API keys and rate
 * limiters, and `econqd keygen`. */
#ifndef ECONQ_CMD_ECONQD_CHECK_H
#define ECONQ_CMD_ECONQD_CHECK_H
#include <stdio.h>
#include "api/prod.h"
#include "common/config.h"

#define CHECK_SECRET_MIN_BYTES 24 /* a production webhook secret's key is at least this long */

/* Validates the configuration of `command` (CMD_SERVE, CMD_SERVER or CMD_WORKER). Problems go to
 * `err`, one line each; warnings too. Returns 0 when it may start, 1 when it must not: any
 * invalid setting, and in production (env = production) no API keys, a missing, known or short
 * webhook secret, or a data directory that is not writable or is open to other users. */
int econqd_check(const eq_config *c, unsigned command, FILE *err);

/* Loads the API keys (NULL when none is configured) and builds the rate limiter (NULL when
 * every limit is off). EQ_OK or an error already printed to stderr. Caller frees both. */
eq_err econqd_guards_open(const eq_config *c, api_auth **auth, api_ratelimit **rl);

/* econqd keygen NAME: prints a new key and its keys-file line; returns the exit status. */
int econqd_keygen(int argc, char **argv);

#endif
