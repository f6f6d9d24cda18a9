/* Configuration: flags override ECONQ_* environment variables, which override defaults.
 * Settings are described once, in a table (cmd/econqd/settings.c); this module parses and
 * validates them and prints help. Values are read-only after parsing. */
#ifndef ECONQ_COMMON_CONFIG_H
#define ECONQ_COMMON_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/eq_err.h"

typedef enum cfg_type { CFG_STRING, CFG_INT, CFG_ENUM, CFG_HOSTPORT, CFG_BOOL } cfg_type;

typedef struct cfg_setting {
    const char *name;      /* flag: --name */
    const char *env;       /* ECONQ_... */
    const char *def;       /* default as text */
    cfg_type type;
    int64_t min, max;      /* CFG_INT range */
    const char *choices;   /* CFG_ENUM: "a|b|c" */
    unsigned commands;     /* bit mask of the subcommands that use it */
    const char *help;
} cfg_setting;

#define CFG_MAX_SETTINGS 96

typedef struct eq_config {
    const cfg_setting *settings;
    size_t n;
    const char *values[CFG_MAX_SETTINGS]; /* borrowed from argv, environ or the table */
    const char *source[CFG_MAX_SETTINGS]; /* "default", "env", "flag" */
} eq_config;

/* Parses argv (after the subcommand) for `command` (a bit of cfg_setting.commands).
 * Returns EQ_OK, or EQ_EINVAL with a message in err naming the setting. Positional arguments
 * are refused. */
eq_err eq_config_parse(eq_config *c, const cfg_setting *settings, size_t n, unsigned command,
                       int argc, char **argv, char *err, size_t errlen);
const char *cfg_str(const eq_config *c, const char *name);
int64_t cfg_int(const eq_config *c, const char *name);
int cfg_bool(const eq_config *c, const char *name);
/* Splits HOST:PORT ("[::1]:80" allowed) into host (hostlen bytes) and port. */
eq_err cfg_hostport(const char *s, char *host, size_t hostlen, int *port);
/* Prints each setting the command uses: flag, variable, default, help. */
void eq_config_help(FILE *f, const cfg_setting *settings, size_t n, unsigned command);

#endif
