/* econq: the command-line client of econq. Global options may appear anywhere before "--":
 * --url URL (or ECONQ_URL), --api-key KEY (or ECONQ_API_KEY), --json, --quiet, --timeout S. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cli/cli.h"

#define CLI_DEFAULT_URL "http://127.0.0.1:8080"
/* Longest --timeout accepted: a week, in seconds. */
#define CLI_MAX_TIMEOUT_S 604800

static const cli_cmd cli_cmds[] = {
    {"submit",
     "Submit a job. --param k=v sets params[k] (dotted keys nest; JSON values are "
     "parsed, anything else is a string); --params-file F reads a JSON object (- is "
     "stdin). --wait waits for the job and exits 0 when it succeeded, 1 otherwise.",
     "submit TYPE [--param k=v ...|--params-file F] [--priority P] [--delay-ms MS] "
     "[--max-attempts N] [--idempotency-key K] [--webhook URL [--webhook-secret S]] [--wait]",
     cli_cmd_submit},
    {"job", "Show one job: state, attempts, times, error or result.", "job ID", cli_cmd_job},
    {"jobs", "List jobs, newest first. --all follows next_cursor to the end.",
     "jobs [--state S] [--type T] [--batch B] [--limit N] [--cursor C] [--all]", cli_cmd_jobs},
    {"wait",
     "Wait until a job ends, with progress on stderr (a live line on a terminal, a "
     "line per change otherwise). Exit 0 succeeded, 1 failed or cancelled, 5 timeout.",
     "wait ID", cli_cmd_wait},
    {"cancel", "Cancel a job: queued at once, running at its next heartbeat.", "cancel ID",
     cli_cmd_cancel},
    {"retry", "Re-queue a failed or cancelled job.", "retry ID", cli_cmd_retry},
    {"upload", "Upload a CSV, XLSX or XLS file as a dataset (type from the file's content).",
     "upload FILE [--name N] [--content-type T]", cli_cmd_upload},
    {"datasets", "List datasets, or describe one; --delete removes it.", "datasets [ID [--delete]]",
     cli_cmd_datasets},
    {"forecast", "Forecast one column of a dataset.",
     "forecast --dataset ID --column C --horizon H [--method M] [--wait]", cli_cmd_forecast},
    {"batch",
     "Forecast many columns of a dataset at once ('*' is every numeric column). With "
     "--wait a progress bar (or progress lines) follows the batch; -o writes the "
     "results (.xlsx: an Excel workbook, otherwise JSON).",
     "batch --dataset ID --columns '*'|A,B,... --horizon H [--method M] [--wait] [-o FILE] | "
     "batch status ID | batch results ID [-o FILE]",
     cli_cmd_batch},
    {"schedules", "Cron schedules that submit jobs.",
     "schedules [list] | schedules add NAME CRON TYPE [--param k=v ...|--params-file F] | "
     "schedules rm NAME",
     cli_cmd_schedules},
    {"embed",
     "Add documents to a collection (adding an id again replaces it). FILE is a JSON array or "
     "JSON lines of {\"id\", \"text\", \"metadata\"?} ('-' reads stdin); sent as embed jobs "
     "of up to 1,000 documents, then waited for.",
     "embed COLLECTION FILE [--no-wait]", cli_cmd_embed},
    {"collections",
     "List collections, describe one (with a page of document ids), show a document, or "
     "delete a document or a whole collection.",
     "collections [NAME [--document ID] [--delete]]", cli_cmd_collections},
    {"search", "Semantic search in a collection (submits a search job and waits).",
     "search COLLECTION QUERY [-k N]", cli_cmd_search},
    {"ask", "Ask the language model a question, optionally about a dataset or a collection.",
     "ask QUESTION [--dataset ID] [--collection C] [--no-wait]", cli_cmd_ask},
    {"webhook",
     "Verify a Standard Webhooks delivery. Standard input holds the headers "
     "(webhook-id, webhook-timestamp, webhook-signature; other headers are "
     "ignored), an empty line and the raw body; or give --id, --timestamp and "
     "--signature and the body alone on standard input (or --body-file). Exit 0 "
     "verified, 1 not verified. Several --secret while rotating.",
     "webhook verify --secret S [--secret S2 ...] [--tolerance SECONDS] [--now UNIX] "
     "[--id I --timestamp T --signature S] [--body-file F]",
     cli_cmd_webhook},
    {"health", "The server's health: status, store, queues, workers. Exit 4 when unhealthy.",
     "health", cli_cmd_health},
};

#define CLI_NCMDS (sizeof cli_cmds / sizeof cli_cmds[0])

static void cli_help(FILE *f) {
    fprintf(f, "usage: econq [--url URL] [--api-key KEY] [--json] [--quiet] [--timeout S] "
               "COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < CLI_NCMDS; i++)
        fprintf(f, "  %-10s %s\n", cli_cmds[i].name, cli_cmds[i].usage);
    fprintf(f, "\n'econq COMMAND --help' describes a command.\n\n"
               "options (anywhere on the line):\n"
               "  --url URL       the server (ECONQ_URL, default " CLI_DEFAULT_URL ")\n"
               "  --api-key KEY   sent as a bearer token (ECONQ_API_KEY)\n"
               "  --json          machine-readable JSON on stdout (errors too)\n"
               "  --quiet         no progress on stderr\n"
               "  --timeout S     give up waiting after S seconds (exit 5)\n\n"
               "exit codes:\n"
               "  0 done   1 job failed or cancelled (webhook: not verified)   2 bad usage\n"
               "  3 server unreachable   4 the server answered an error (problem+json)\n"
               "  5 timed out waiting\n");
}

/* Takes the global options out of argv (in place); returns the new argc, -1 on an error. */
static int cli_globals(cli *x, int argc, char **argv) {
    static const cli_cmd self = {"", "",
                                 "[--url URL] [--api-key KEY] [--json] [--quiet] "
                                 "[--timeout S] COMMAND [ARGS]",
                                 NULL};
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if ((r = cli_opt(&self, argc, argv, &i, "--url", &v)) != 0) {
            if (r < 0) return -1;
            x->url = v;
        } else if ((r = cli_opt(&self, argc, argv, &i, "--api-key", &v)) != 0) {
            if (r < 0) return -1;
            x->api_key = v;
        } else if ((r = cli_opt(&self, argc, argv, &i, "--timeout", &v)) != 0) {
            long s = r < 0 ? -1 : cli_int(&self, "--timeout", v, 0, CLI_MAX_TIMEOUT_S);
            if (s < 0) return -1;
            x->timeout_ms = s * 1000;
        } else if (strcmp(argv[i], "--json") == 0) {
            x->json = 1;
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            x->quiet = 1;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv) {
    cli x = {.timeout_ms = -1};
    const char *env_url = getenv("ECONQ_URL");
    x.url = env_url && *env_url ? env_url : CLI_DEFAULT_URL;
    x.api_key = getenv("ECONQ_API_KEY");
    argc = cli_globals(&x, argc, argv);
    if (argc < 0) return CLI_USAGE;
    x.tty = isatty(STDERR_FILENO);
    if (argc < 2) {
        cli_help(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        cli_help(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < CLI_NCMDS; i++) {
        if (strcmp(name, cli_cmds[i].name) != 0) continue;
        if (cli_wants_help(&cli_cmds[i], argc - 2, argv + 2)) return CLI_OK;
        int rc = cli_cmds[i].run(&x, &cli_cmds[i], argc - 2, argv + 2);
        econq_free(x.c);
        return rc;
    }
    fprintf(stderr, "econq: unknown command '%s'\n\n", name);
    cli_help(stderr);
    return CLI_USAGE;
}
