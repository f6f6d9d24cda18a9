/* econq CLI: schedules, search, ask, webhook verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/cli/cli.h"

/* Longest webhook header value kept (the verifier has its own, smaller limits). */
#define CLI_MAX_HEADER_VALUE 8192

/* ---- schedules ---- */

static void cli_print_schedules(const char *json) {
    cJSON *o = cJSON_Parse(json);
    const cJSON *list = cJSON_IsArray(o) ? o : cJSON_GetObjectItemCaseSensitive(o, "schedules");
    int n = cJSON_GetArraySize(list);
    static const char *const head[] = {"NAME", "CRON", "TYPE", "NEXT"};
    const char **cells = calloc((size_t)n * 4 + 1, sizeof *cells);
    int r = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, list) {
        if (!cells) break;
        const cJSON *job = cJSON_GetObjectItemCaseSensitive(s, "job");
        const char *next =
            cli_str(s, "next_run_at") ? cli_str(s, "next_run_at") : cli_str(s, "next");
        cells[r * 4] = cli_str(s, "name") ? cli_str(s, "name") : "";
        cells[r * 4 + 1] = cli_str(s, "cron") ? cli_str(s, "cron") : "";
        cells[r * 4 + 2] = cli_str(job, "type") ? cli_str(job, "type") : "";
        cells[r * 4 + 3] = next ? next : "";
        r++;
    }
    cli_print_table(head, 4, cells, r);
    free(cells);
    cJSON_Delete(o);
}

int cli_cmd_schedules(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *sub = argc > 0 ? argv[0] : "list";
    eq_client *c = cli_client(x);
    char *json = NULL;
    eq_err err;
    if (strcmp(sub, "list") == 0) {
        if (argc > 1) return cli_usage(cmd, "unexpected argument '%s'", argv[1]);
        if ((err = econq_schedules(c, &json)) != EQ_OK) return cli_fail(x, err);
        if (x->json)
            cli_print_json(json);
        else
            cli_print_schedules(json);
        free(json);
        return CLI_OK;
    }
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "delete") == 0) {
        if (argc != 2) return cli_usage(cmd, "schedules rm takes one name");
        if ((err = econq_schedule_delete(c, argv[1])) != EQ_OK) return cli_fail(x, err);
        if (x->json)
            printf("{\"deleted\":true}\n");
        else
            printf("deleted schedule %s\n", argv[1]);
        return CLI_OK;
    }
    if (strcmp(sub, "add") != 0) return cli_usage(cmd, "unknown schedules command '%s'", sub);
    const char *pos[3];
    int got = 0;
    cJSON *params = cJSON_CreateObject();
    int rc = cli_collect_params(cmd, argc - 1, argv + 1, params, pos, 3, &got);
    if (rc == CLI_OK && got != 3) rc = cli_usage(cmd, "schedules add needs NAME, CRON and TYPE");
    if (rc != CLI_OK) {
        cJSON_Delete(params);
        return rc;
    }
    cJSON *job = cJSON_CreateObject();
    cJSON_AddStringToObject(job, "type", pos[2]);
    cJSON_AddItemToObject(job, "params", params);
    char *job_json = cJSON_PrintUnformatted(job);
    cJSON_Delete(job);
    err = econq_schedule_create(c, pos[0], pos[1], job_json, &json);
    free(job_json);
    if (err) return cli_fail(x, err);
    if (x->json)
        cli_print_json(json);
    else
        printf("scheduled %s (%s): %s\n", pos[0], pos[1], pos[2]);
    free(json);
    return CLI_OK;
}

/* ---- search and ask ---- */

static void cli_print_hits(const eq_job *j) {
    cJSON *o = cJSON_Parse(j->json);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "result");
    const cJSON *hits = NULL;
    const char *keys[] = {"results", "hits", "documents"};
    for (size_t i = 0; i < 3 && !cJSON_IsArray(hits); i++)
        hits = cJSON_GetObjectItemCaseSensitive(res, keys[i]);
    if (!cJSON_IsArray(hits)) {
        char *s = cJSON_PrintUnformatted(res);
        cli_print_pretty(stdout, s ? s : "null", 0);
        free(s);
        cJSON_Delete(o);
        return;
    }
    int n = cJSON_GetArraySize(hits);
    static const char *const head[] = {"RANK", "SCORE", "ID", "TEXT"};
    const char **cells = calloc((size_t)n * 4 + 1, sizeof *cells);
    char(*num)[2][24] = calloc((size_t)n + 1, sizeof *num);
    int r = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, hits) {
        if (!cells || !num) break;
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(h, "score");
        snprintf(num[r][0], 24, "%d", r + 1);
        snprintf(num[r][1], 24, "%.4f", cJSON_IsNumber(score) ? score->valuedouble : 0);
        cells[r * 4] = num[r][0];
        cells[r * 4 + 1] = num[r][1];
        cells[r * 4 + 2] = cli_str(h, "id") ? cli_str(h, "id") : "";
        cells[r * 4 + 3] = cli_str(h, "text") ? cli_str(h, "text") : "";
        r++;
    }
    cli_print_table(head, 4, cells, r);
    free(cells);
    free(num);
    cJSON_Delete(o);
}

int cli_cmd_search(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *pos[2], *v;
    int got = 0, r;
    long k = 0;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_opt(cmd, argc, argv, &i, "-k", &v)) != 0) {
            if (r < 0 || (k = cli_int(cmd, "-k", v, 1, 100)) < 0) return CLI_USAGE;
        } else if (argv[i][0] == '-' || got == 2) {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            pos[got++] = argv[i];
        }
    }
    if (got != 2) return cli_usage(cmd, "a collection and a query are required");
    eq_job j;
    eq_err err = econq_search(cli_client(x), pos[0], pos[1], (int)k, x->timeout_ms, &j);
    if (err) {
        econq_job_fini(&j);
        return cli_fail(x, err);
    }
    if (x->json)
        cli_print_json(j.json);
    else if (j.state == EQ_JOB_SUCCEEDED)
        cli_print_hits(&j);
    else
        cli_print_job(x, &j);
    int rc = cli_job_exit(&j);
    econq_job_fini(&j);
    return rc;
}

int cli_cmd_ask(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *question = NULL, *dataset = NULL, *collection = NULL, *v;
    int nowait = 0, r;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_opt(cmd, argc, argv, &i, "--dataset", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            dataset = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--collection", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            collection = v;
        } else if (strcmp(argv[i], "--no-wait") == 0) {
            nowait = 1;
        } else if (argv[i][0] == '-' || question) {
            return cli_usage(cmd, "unexpected argument '%s' (quote the question)", argv[i]);
        } else {
            question = argv[i];
        }
    }
    if (!question) return cli_usage(cmd, "a question is required");
    eq_client *c = cli_client(x);
    eq_job j, w;
    eq_err err = econq_ask(c, question, dataset, collection, NULL, &j);
    if (err) return cli_fail(x, err);
    if (nowait) {
        if (x->json)
            cli_print_json(j.json);
        else
            printf("%s\n", j.id);
        econq_job_fini(&j);
        return CLI_OK;
    }
    err = econq_wait(c, j.id, x->timeout_ms, NULL, NULL, &w);
    econq_job_fini(&j);
    if (err) {
        econq_job_fini(&w);
        return cli_fail(x, err);
    }
    cJSON *o = cJSON_Parse(w.json);
    const char *answer = cli_str(cJSON_GetObjectItemCaseSensitive(o, "result"), "answer");
    if (x->json)
        cli_print_json(w.json);
    else if (w.state == EQ_JOB_SUCCEEDED && answer)
        printf("%s\n", answer);
    else
        cli_print_job(x, &w);
    cJSON_Delete(o);
    int rc = cli_job_exit(&w);
    econq_job_fini(&w);
    return rc;
}

/* ---- webhook verify ---- */

/* Copies the value of header `name` from one "Name: value" line into `out` when it matches. */
static void cli_header(const char *line, size_t len, const char *name, char **out) {
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    size_t vl = (size_t)(end - v);
    if (vl > CLI_MAX_HEADER_VALUE) vl = CLI_MAX_HEADER_VALUE;
    free(*out);
    *out = strndup(v, vl);
}

int cli_cmd_webhook(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "verify") != 0)
        return cli_usage(cmd, "the subcommand is 'verify'");
    const char *secrets[CLI_MAX_LIST];
    size_t ns = 0;
    const char *id = NULL, *ts = NULL, *sig = NULL, *body_file = NULL, *v;
    long long now = 0, tol = 0;
    int r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(cmd, argc, argv, &i, "--secret", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            if (ns == CLI_MAX_LIST) return cli_usage(cmd, "too many --secret");
            secrets[ns++] = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--id", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            id = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--timestamp", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            ts = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--signature", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            sig = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--body-file", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            body_file = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--now", &v)) != 0) {
            if (r < 0 || (now = cli_int(cmd, "--now", v, 1, INT32_MAX * 100LL)) < 0)
                return CLI_USAGE;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--tolerance", &v)) != 0) {
            if (r < 0 || (tol = cli_int(cmd, "--tolerance", v, 1, 100L * 365 * 86400)) < 0)
                return CLI_USAGE;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    const char *env_secret = getenv("ECONQ_WEBHOOK_SECRET");
    if (ns == 0 && env_secret && *env_secret) secrets[ns++] = env_secret;
    if (ns == 0) return cli_usage(cmd, "--secret (or ECONQ_WEBHOOK_SECRET) is required");
    size_t len = 0;
    char *in = cli_read_file(body_file ? body_file : "-", &len);
    if (!in) return CLI_USAGE;
    char *hid = NULL, *hts = NULL, *hsig = NULL;
    const char *body = in;
    size_t blen = len;
    if (!(id && ts && sig)) {
        /* Headers up to the first empty line; the body is every byte after it. */
        const char *p = in, *end = in + len;
        int blank = 0;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll = (size_t)((nl ? nl : end) - p);
            const char *next = nl ? nl + 1 : end;
            if (ll == 0 || (ll == 1 && p[0] == '\r')) {
                p = next;
                blank = 1;
                break;
            }
            cli_header(p, ll, "webhook-id", &hid);
            cli_header(p, ll, "webhook-timestamp", &hts);
            cli_header(p, ll, "webhook-signature", &hsig);
            p = next;
        }
        if (!blank) {
            free(in), free(hid), free(hts), free(hsig);
            return cli_usage(cmd, "standard input needs the headers, an empty line, the body");
        }
        body = p;
        blen = (size_t)(end - p);
    }
    const char *why = NULL;
    eq_err err = econq_webhook_verify(secrets, ns, id ? id : hid, ts ? ts : hts, sig ? sig : hsig,
                                      body, blen, now, tol, &why);
    free(in), free(hid), free(hts), free(hsig);
    if (x->json) printf("{\"verified\":%s,\"reason\":\"%s\"}\n", err ? "false" : "true", why);
    if (err == EQ_EINVAL) {
        fprintf(stderr, "econq: %s\n", why);
        return CLI_USAGE;
    }
    if (err) {
        if (!x->json) fprintf(stderr, "not verified: %s\n", why);
        return CLI_JOB_FAILED;
    }
    if (!x->json) printf("verified\n");
    return CLI_OK;
}
