/* The econq command-line client: shared context, exit codes and helpers.
 *
 * Exit codes (documented in `econq --help`):
 *   0 done (the job succeeded, the request was answered)
 *   1 a job failed or was cancelled; a webhook delivery did not verify
 *   2 bad usage (unknown command or option, missing argument, unreadable input file)
 *   3 the server could not be reached
 *   4 the server answered an error (a problem+json; 404 for routes it does not serve)
 *   5 a wait ran out of time (--timeout) */
#ifndef ECONQ_CLIENT_CLI_CLI_H
#define ECONQ_CLIENT_CLI_CLI_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "client/econq.h"

enum {
    CLI_OK = 0,
    CLI_JOB_FAILED = 1,
    CLI_USAGE = 2,
    CLI_UNREACHABLE = 3,
    CLI_API_ERROR = 4,
    CLI_TIMEOUT = 5,
};

/* Longest --params-file / --body-file / stdin read. */
#define CLI_MAX_INPUT_BYTES (16u * 1024 * 1024)
/* Most --param / --secret / --columns entries on one command line. */
#define CLI_MAX_LIST 256

typedef struct cli {
    const char *url;
    const char *api_key;
    int json;        /* --json: machine-readable output on stdout */
    int quiet;       /* --quiet: no progress */
    long timeout_ms; /* --timeout for waits; -1: none */
    int tty;         /* stderr is a terminal: draw a progress bar */
    eq_client *c;    /* made by cli_client() */
} cli;

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    const char *usage; /* full help text after "usage: econq " */
    int (*run)(cli *x, const struct cli_cmd *cmd, int argc, char **argv);
} cli_cmd;

/* The client handle (made on first use). Exits with CLI_USAGE on a bad URL. */
eq_client *cli_client(cli *x);

/* Options. `argv[*i]` is matched against `name` ("--name VALUE" or "--name=VALUE"); on a
 * match `*val` is set, *i advanced past the value, and 1 returned; -1 when the value is
 * missing (reported), 0 when the argument is not this option. */
int cli_opt(const cli_cmd *cmd, int argc, char **argv, int *i, const char *name, const char **val);
/* 1 when any argument is --help or -h (the help was printed). */
int cli_wants_help(const cli_cmd *cmd, int argc, char **argv);
/* Prints "econq NAME: message" and the usage to stderr; returns CLI_USAGE. */
int cli_usage(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a positive integer option value; -1 on error (reported). */
long cli_int(const cli_cmd *cmd, const char *name, const char *v, long min, long max);

/* Reports the last failure of x->c (human to stderr; with --json also the problem on stdout)
 * and returns its exit code. */
int cli_fail(cli *x, eq_err err);
/* Exit code of a terminal job: 0 succeeded, 1 failed or cancelled. */
int cli_job_exit(const eq_job *j);

/* Reads a whole file ("-" is stdin), NUL-terminated. Caller frees. NULL on error (reported). */
char *cli_read_file(const char *path, size_t *len);
/* Sets params[key] = value for "key=value" (dotted keys nest; a value that parses as JSON is
 * JSON, else a string). -1 on a malformed pair. */
int cli_param_set(cJSON *params, const char *kv);

/* Parses --param / --params-file into `params` and up to `npos` positional arguments into
 * `pos` (*got of them). CLI_OK, or CLI_USAGE (reported). */
int cli_collect_params(const cli_cmd *cmd, int argc, char **argv, cJSON *params, const char **pos,
                       int npos, int *got);

/* The string member `name` of o, or NULL. */
const char *cli_str(const cJSON *o, const char *name);

/* Output. */
void cli_print_json(const char *json); /* one line of JSON on stdout */
void cli_print_pretty(FILE *f, const char *json, int indent);
void cli_print_job(cli *x, const eq_job *j);
void cli_print_table(const char *const *head, int cols, const char *const *cells, int rows);

/* Waits for a job with progress on stderr; prints the final job. Returns an exit code. */
int cli_wait_job(cli *x, const char *id);

/* Subcommands (cli_jobs.c, cli_data.c, cli_more.c). */
int cli_cmd_submit(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_job(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_jobs(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_wait(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_cancel(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_retry(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_upload(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_datasets(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_forecast(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_batch(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_schedules(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_search(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_embed(cli *x, const cli_cmd *cmd, int argc, char **argv);       /* cli_coll.c */
int cli_cmd_collections(cli *x, const cli_cmd *cmd, int argc, char **argv); /* cli_coll.c */
int cli_cmd_ask(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_webhook(cli *x, const cli_cmd *cmd, int argc, char **argv);
int cli_cmd_health(cli *x, const cli_cmd *cmd, int argc, char **argv);

#endif
