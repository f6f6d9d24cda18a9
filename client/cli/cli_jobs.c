/* econq CLI: submit, job, jobs, wait, cancel, retry, health. */
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"

/* Longest --delay-ms: a year, as the API allows. */
#define CLI_MAX_DELAY_MS 31536000000L
/* Most pages `jobs --all` follows (at 1000 jobs a page). */
#define CLI_MAX_PAGES 10000

/* Collects --param and --params-file into a params object. 1 when `argv[*i]` was one of them,
 * 0 when not, -1 on an error (reported). */
static int cli_params_opt(const cli_cmd *cmd, int argc, char **argv, int *i, cJSON **params) {
    const char *v;
    int r;
    if ((r = cli_opt(cmd, argc, argv, i, "--param", &v)) != 0) {
        if (r < 0) return -1;
        if (cli_param_set(*params, v) != 0) {
            cli_usage(cmd, "--param wants KEY=VALUE, got '%s'", v);
            return -1;
        }
        return 1;
    }
    if ((r = cli_opt(cmd, argc, argv, i, "--params-file", &v)) != 0) {
        if (r < 0) return -1;
        char *text = cli_read_file(v, NULL);
        if (!text) return -1;
        cJSON *o = cJSON_Parse(text);
        free(text);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            cli_usage(cmd, "%s does not hold a JSON object", v);
            return -1;
        }
        /* Members of the file first; --param after it overrides them. */
        cJSON *it = o->child;
        while (it) {
            cJSON *next = it->next;
            cJSON *m = cJSON_DetachItemViaPointer(o, it);
            cJSON_DeleteItemFromObjectCaseSensitive(*params, m->string);
            cJSON_AddItemToObject(*params, m->string, m);
            it = next;
        }
        cJSON_Delete(o);
        return 1;
    }
    return 0;
}

int cli_collect_params(const cli_cmd *cmd, int argc, char **argv, cJSON *params, const char **pos,
                       int npos, int *got) {
    *got = 0;
    for (int i = 0; i < argc; i++) {
        int r = cli_params_opt(cmd, argc, argv, &i, &params);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (argv[i][0] == '-' && argv[i][1]) return cli_usage(cmd, "unknown option %s", argv[i]);
        if (*got >= npos) return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        pos[(*got)++] = argv[i];
    }
    return CLI_OK;
}

int cli_cmd_submit(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    cJSON *params = cJSON_CreateObject();
    eq_submit_opts o = ECONQ_SUBMIT_OPTS_INIT;
    const char *type = NULL, *v;
    int wait = 0, rc = CLI_OK, r;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_params_opt(cmd, argc, argv, &i, &params)) != 0) {
            if (r < 0) goto usage;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--priority", &v)) != 0) {
            if (r < 0 || (o.priority = (int)cli_int(cmd, "--priority", v, 0, 9)) < 0) goto usage;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--max-attempts", &v)) != 0) {
            if (r < 0 || (o.max_attempts = (int)cli_int(cmd, "--max-attempts", v, 1, 100)) < 0)
                goto usage;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--delay-ms", &v)) != 0) {
            if (r < 0 || (o.delay_ms = cli_int(cmd, "--delay-ms", v, 0, CLI_MAX_DELAY_MS)) < 0)
                goto usage;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--idempotency-key", &v)) != 0) {
            if (r < 0) goto usage;
            o.idempotency_key = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--webhook-secret", &v)) != 0) {
            if (r < 0) goto usage;
            o.webhook_secret = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--webhook", &v)) != 0) {
            if (r < 0) goto usage;
            o.webhook_url = v;
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else if (argv[i][0] == '-') {
            rc = cli_usage(cmd, "unknown option %s", argv[i]);
            goto out;
        } else if (!type) {
            type = argv[i];
        } else {
            rc = cli_usage(cmd, "unexpected argument '%s'", argv[i]);
            goto out;
        }
    }
    if (!type) {
        rc = cli_usage(cmd, "a job type is required");
        goto out;
    }
    char *ptext = cJSON_PrintUnformatted(params);
    eq_job j;
    eq_err err = econq_submit(cli_client(x), type, ptext, &o, &j);
    free(ptext);
    if (err) {
        rc = cli_fail(x, err);
        goto out;
    }
    if (wait) {
        if (!x->quiet && !x->json)
            fprintf(stderr, "submitted %s%s\n", j.id, j.replayed ? " (replayed)" : "");
        rc = cli_wait_job(x, j.id);
    } else if (x->json) {
        cli_print_json(j.json);
    } else {
        printf("%s\n", j.id);
        if (!x->quiet)
            fprintf(stderr, "submitted %s job %s (%s)%s\n", j.type, j.id,
                    econq_job_state_name(j.state),
                    j.replayed ? ", replayed by its idempotency key" : "");
    }
    econq_job_fini(&j);
out:
    cJSON_Delete(params);
    return rc;
usage:
    cJSON_Delete(params);
    return CLI_USAGE;
}

/* Parses "CMD ID" with no options. NULL when the usage is wrong (reported). */
static const char *cli_one_id(const cli_cmd *cmd, int argc, char **argv) {
    if (argc != 1 || argv[0][0] == '-') {
        cli_usage(cmd, argc == 0 ? "a job id is required" : "expected one job id");
        return NULL;
    }
    return argv[0];
}

int cli_cmd_job(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *id = cli_one_id(cmd, argc, argv);
    if (!id) return CLI_USAGE;
    eq_job j;
    eq_err err = econq_get(cli_client(x), id, &j);
    if (err) return cli_fail(x, err);
    cli_print_job(x, &j);
    econq_job_fini(&j);
    return CLI_OK;
}

int cli_cmd_wait(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *id = cli_one_id(cmd, argc, argv);
    return id ? cli_wait_job(x, id) : CLI_USAGE;
}

static int cli_change(cli *x, const cli_cmd *cmd, int argc, char **argv, int cancel) {
    const char *id = cli_one_id(cmd, argc, argv);
    if (!id) return CLI_USAGE;
    eq_job j;
    eq_err err = cancel ? econq_cancel(cli_client(x), id, &j) : econq_retry(cli_client(x), id, &j);
    if (err) return cli_fail(x, err);
    if (x->json)
        cli_print_json(j.json);
    else if (!cancel)
        printf("re-queued %s (%s, attempt %d so far)\n", j.id, econq_job_state_name(j.state),
               j.attempt);
    else if (j.cancel_requested)
        printf("cancel requested for %s (running; it stops at its next heartbeat)\n", j.id);
    else
        printf("cancelled %s (%s)\n", j.id, econq_job_state_name(j.state));
    econq_job_fini(&j);
    return CLI_OK;
}

int cli_cmd_cancel(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    return cli_change(x, cmd, argc, argv, 1);
}

int cli_cmd_retry(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    return cli_change(x, cmd, argc, argv, 0);
}

static void cli_jobs_rows(const eq_job_list *l) {
    static const char *const head[] = {"ID", "TYPE", "STATE", "ATTEMPT", "CREATED"};
    const char **cells = calloc(l->n * 5 + 1, sizeof *cells);
    char(*att)[32] = calloc(l->n + 1, sizeof *att);
    char(*created)[40] = calloc(l->n + 1, sizeof *created);
    if (!cells || !att || !created) goto out;
    for (size_t i = 0; i < l->n; i++) {
        const eq_job *j = &l->jobs[i];
        cJSON *o = cJSON_Parse(j->json);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "created_at");
        snprintf(created[i], sizeof created[i], "%s", cJSON_IsString(t) ? t->valuestring : "");
        cJSON_Delete(o);
        snprintf(att[i], sizeof att[i], "%d/%d", j->attempt, j->max_attempts);
        cells[i * 5] = j->id;
        cells[i * 5 + 1] = j->type;
        cells[i * 5 + 2] = econq_job_state_name(j->state);
        cells[i * 5 + 3] = att[i];
        cells[i * 5 + 4] = created[i];
    }
    cli_print_table(head, 5, cells, (int)l->n);
out:
    free(cells);
    free(att);
    free(created);
}

int cli_cmd_jobs(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    eq_list_opts o = {0};
    int all = 0, r;
    const char *v;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_opt(cmd, argc, argv, &i, "--state", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o.state = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--type", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o.type = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o.batch = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--cursor", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o.cursor = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--limit", &v)) != 0) {
            if (r < 0 || (o.limit = (int)cli_int(cmd, "--limit", v, 1, 1000)) < 0) return CLI_USAGE;
        } else if (strcmp(argv[i], "--all") == 0) {
            all = 1;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    eq_client *c = cli_client(x);
    char cursor[ECONQ_ID_SIZE];
    size_t total = 0;
    cJSON *merged = x->json && all ? cJSON_CreateArray() : NULL;
    for (int page = 0; page < CLI_MAX_PAGES; page++) {
        eq_job_list l;
        eq_err err = econq_list(c, &o, &l);
        if (err) {
            cJSON_Delete(merged);
            return cli_fail(x, err);
        }
        if (merged) {
            for (size_t i = 0; i < l.n; i++)
                cJSON_AddItemToArray(merged, cJSON_Parse(l.jobs[i].json));
        } else if (x->json) {
            cli_print_json(l.json);
        } else if (l.n > 0 || page == 0) {
            cli_jobs_rows(&l);
        }
        total += l.n;
        snprintf(cursor, sizeof cursor, "%s", l.next_cursor);
        econq_job_list_fini(&l);
        if (!all || !cursor[0]) break;
        o.cursor = cursor;
    }
    if (merged) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "jobs", merged);
        cJSON_AddNullToObject(out, "next_cursor");
        char *s = cJSON_PrintUnformatted(out);
        cli_print_json(s);
        free(s);
        cJSON_Delete(out);
    } else if (!x->json) {
        fprintf(stderr, "%zu job%s", total, total == 1 ? "" : "s");
        if (!all && cursor[0]) fprintf(stderr, "; more with --cursor %s", cursor);
        fputc('\n', stderr);
    }
    return CLI_OK;
}

int cli_cmd_health(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    if (argc > 0) return cli_usage(cmd, "unexpected argument '%s'", argv[0]);
    char *json = NULL;
    eq_err err = econq_health(cli_client(x), &json);
    if (err && !json) return cli_fail(x, err);
    int rc = err ? CLI_API_ERROR : CLI_OK;
    if (x->json) {
        cli_print_json(json);
        free(json);
        return rc;
    }
    cJSON *o = cJSON_Parse(json);
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(o, "checks");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    printf("status   %s\n", cJSON_IsString(st) ? st->valuestring : "?");
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(checks, "store");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(checks, "workers");
    const cJSON *n;
    if ((n = cJSON_GetObjectItemCaseSensitive(store, "jobs")) && cJSON_IsNumber(n))
        printf("jobs     %.0f stored\n", n->valuedouble);
    if ((n = cJSON_GetObjectItemCaseSensitive(store, "map_usage")) && cJSON_IsNumber(n))
        printf("store    %.2f%% of the map used\n", n->valuedouble * 100);
    if ((n = cJSON_GetObjectItemCaseSensitive(w, "count")) && cJSON_IsNumber(n))
        printf("workers  %.0f connected\n", n->valuedouble);
    const cJSON *queues = cJSON_GetObjectItemCaseSensitive(checks, "queues");
    int nq = cJSON_GetArraySize(queues);
    if (nq > 0) {
        static const char *const head[] = {"QUEUE", "DEPTH", "OLDEST_MS"};
        const char **cells = calloc((size_t)nq * 3, sizeof *cells);
        char(*num)[2][24] = calloc((size_t)nq, sizeof *num);
        int row = 0;
        const cJSON *q;
        cJSON_ArrayForEach(q, queues) {
            if (!cells || !num) break;
            const cJSON *dp = cJSON_GetObjectItemCaseSensitive(q, "depth");
            const cJSON *age = cJSON_GetObjectItemCaseSensitive(q, "oldest_age_ms");
            snprintf(num[row][0], 24, "%.0f", cJSON_IsNumber(dp) ? dp->valuedouble : 0);
            snprintf(num[row][1], 24, "%.0f", cJSON_IsNumber(age) ? age->valuedouble : 0);
            cells[row * 3] = q->string;
            cells[row * 3 + 1] = num[row][0];
            cells[row * 3 + 2] = num[row][1];
            row++;
        }
        putchar('\n');
        cli_print_table(head, 3, cells, row);
        free(cells);
        free(num);
    }
    cJSON_Delete(o);
    free(json);
    return rc;
}
