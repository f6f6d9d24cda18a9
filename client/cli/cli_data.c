/* econq CLI: upload, datasets, forecast, batch. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli/cli.h"

/* Longest forecast horizon (the forecast schema's maximum). */
#define CLI_MAX_HORIZON 1000

/* Prints a dataset description: id, name, rows, then its columns as a table. */
static void cli_print_dataset(const char *json) {
    cJSON *o = cJSON_Parse(json);
    const char *keys[] = {"id", "name", "frequency", "content_hash"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (cli_str(o, keys[i])) printf("%-10s %s\n", keys[i], cli_str(o, keys[i]));
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
    if (cJSON_IsNumber(rows)) printf("%-10s %.0f\n", "rows", rows->valuedouble);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(o, "columns");
    int n = cJSON_GetArraySize(cols);
    if (!cJSON_IsArray(cols) || n == 0) {
        if (!cli_str(o, "id")) cli_print_pretty(stdout, json, 0);
        cJSON_Delete(o);
        return;
    }
    static const char *const head[] = {"COLUMN", "TYPE", "MISSING"};
    const char **cells = calloc((size_t)n * 3, sizeof *cells);
    char(*miss)[24] = calloc((size_t)n, sizeof *miss);
    int r = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cols) {
        if (!cells || !miss) break;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "missing");
        snprintf(miss[r], sizeof miss[r], "%.0f", cJSON_IsNumber(m) ? m->valuedouble : 0);
        cells[r * 3] = cli_str(c, "name") ? cli_str(c, "name") : "";
        cells[r * 3 + 1] = cli_str(c, "type") ? cli_str(c, "type") : "";
        cells[r * 3 + 2] = miss[r];
        r++;
    }
    putchar('\n');
    cli_print_table(head, 3, cells, r);
    free(cells);
    free(miss);
    cJSON_Delete(o);
}

int cli_cmd_upload(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *file = NULL, *name = NULL, *type = NULL, *v;
    int r;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_opt(cmd, argc, argv, &i, "--name", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            name = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--content-type", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            type = v;
        } else if (argv[i][0] == '-' || file) {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            file = argv[i];
        }
    }
    if (!file) return cli_usage(cmd, "a file is required");
    char *json = NULL, id[ECONQ_ID_SIZE];
    eq_err err = econq_dataset_upload_file(cli_client(x), file, name, type, &json, id);
    if (err) return cli_fail(x, err);
    if (x->json)
        cli_print_json(json);
    else
        cli_print_dataset(json);
    free(json);
    return CLI_OK;
}

int cli_cmd_datasets(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *id = NULL;
    int del = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--delete") == 0)
            del = 1;
        else if (argv[i][0] == '-' || id)
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        else
            id = argv[i];
    }
    if (del && !id) return cli_usage(cmd, "--delete needs a dataset id");
    eq_client *c = cli_client(x);
    char *json = NULL;
    eq_err err;
    if (del) {
        if ((err = econq_dataset_delete(c, id)) != EQ_OK) return cli_fail(x, err);
        if (x->json)
            printf("{\"deleted\":\"%s\"}\n", id);
        else
            printf("deleted %s\n", id);
        return CLI_OK;
    }
    err = id ? econq_dataset_get(c, id, &json) : econq_datasets(c, &json);
    if (err) return cli_fail(x, err);
    if (x->json || !json) {
        cli_print_json(json);
    } else if (id) {
        cli_print_dataset(json);
    } else {
        cJSON *o = cJSON_Parse(json);
        const cJSON *list = cJSON_IsArray(o) ? o : cJSON_GetObjectItemCaseSensitive(o, "datasets");
        int n = cJSON_GetArraySize(list);
        static const char *const head[] = {"ID", "NAME", "ROWS", "COLUMNS"};
        const char **cells = calloc((size_t)n * 4 + 1, sizeof *cells);
        char(*num)[2][24] = calloc((size_t)n + 1, sizeof *num);
        int r = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, list) {
            if (!cells || !num) break;
            const cJSON *rows = cJSON_GetObjectItemCaseSensitive(d, "rows");
            const cJSON *cols = cJSON_GetObjectItemCaseSensitive(d, "columns");
            snprintf(num[r][0], 24, "%.0f", cJSON_IsNumber(rows) ? rows->valuedouble : 0);
            snprintf(num[r][1], 24, "%d",
                     cJSON_IsNumber(cols) ? cols->valueint : cJSON_GetArraySize(cols));
            cells[r * 4] = cli_str(d, "id") ? cli_str(d, "id") : "";
            cells[r * 4 + 1] = cli_str(d, "name") ? cli_str(d, "name") : "";
            cells[r * 4 + 2] = num[r][0];
            cells[r * 4 + 3] = num[r][1];
            r++;
        }
        cli_print_table(head, 4, cells, r);
        free(cells);
        free(num);
        cJSON_Delete(o);
    }
    free(json);
    return CLI_OK;
}

int cli_cmd_forecast(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *dataset = NULL, *column = NULL, *method = NULL, *v;
    long horizon = 0;
    int wait = 0, r;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_opt(cmd, argc, argv, &i, "--dataset", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            dataset = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--column", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            column = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--method", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            method = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--horizon", &v)) != 0) {
            if (r < 0 || (horizon = cli_int(cmd, "--horizon", v, 1, CLI_MAX_HORIZON)) < 0)
                return CLI_USAGE;
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    if (!dataset || !column || !horizon)
        return cli_usage(cmd, "--dataset, --column and --horizon are required");
    eq_job j;
    eq_err err = econq_forecast(cli_client(x), dataset, column, (int)horizon, method, NULL, &j);
    if (err) return cli_fail(x, err);
    int rc = CLI_OK;
    if (wait)
        rc = cli_wait_job(x, j.id);
    else if (x->json)
        cli_print_json(j.json);
    else
        printf("%s\n", j.id);
    econq_job_fini(&j);
    return rc;
}

/* Progress of a batch: a bar on a terminal, a line per change otherwise. */
typedef struct cli_batch_progress {
    cli *x;
    long last_done;
    int drew;
} cli_batch_progress;

static void cli_batch_cb(const eq_batch_status *s, void *ctx) {
    cli_batch_progress *p = ctx;
    if (p->x->quiet) return;
    long done = s->succeeded + s->failed + s->cancelled;
    if (p->x->tty) {
        int fill = s->total > 0 ? (int)(done * 30 / s->total) : 0;
        char bar[31];
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[30] = '\0';
        fprintf(stderr, "\r\033[K[%s] %ld/%ld done, %ld failed, %ld running", bar, done, s->total,
                s->failed + s->cancelled, s->running);
        p->drew = 1;
    } else if (done != p->last_done) {
        fprintf(stderr, "batch %ld/%ld done (%ld succeeded, %ld failed, %ld running)\n", done,
                s->total, s->succeeded, s->failed + s->cancelled, s->running);
    }
    fflush(stderr);
    p->last_done = done;
}

/* Writes the results of a batch to `out`: an .xlsx workbook, or JSON for any other name. */
static int cli_batch_results(cli *x, const char *id, const char *out) {
    eq_client *c = cli_client(x);
    size_t l = out ? strlen(out) : 0;
    eq_err err;
    if (l > 5 && strcmp(out + l - 5, ".xlsx") == 0) {
        if ((err = econq_batch_results_xlsx(c, id, out)) != EQ_OK) return cli_fail(x, err);
    } else {
        char *json = NULL;
        if ((err = econq_batch_results(c, id, &json)) != EQ_OK) return cli_fail(x, err);
        FILE *f = out ? fopen(out, "w") : stdout;
        if (!f) {
            free(json);
            fprintf(stderr, "econq: cannot write %s\n", out);
            return CLI_USAGE;
        }
        fprintf(f, "%s\n", json);
        free(json);
        if (f != stdout && fclose(f) != 0) {
            fprintf(stderr, "econq: cannot write %s\n", out);
            return CLI_USAGE;
        }
    }
    if (out && !x->quiet) fprintf(stderr, "wrote %s\n", out);
    return CLI_OK;
}

static int cli_batch_show(cli *x, const eq_batch_status *s) {
    if (x->json) {
        cli_print_json(s->json);
    } else {
        cJSON *o = cJSON_Parse(s->json);
        printf("batch     %s\n", cli_str(o, "id") ? cli_str(o, "id") : "?");
        printf("done      %s\n", s->done ? "yes" : "no");
        printf("jobs      %ld: %ld queued, %ld running, %ld succeeded, %ld failed, %ld "
               "cancelled\n",
               s->total, s->queued, s->running, s->succeeded, s->failed, s->cancelled);
        cJSON_Delete(o);
    }
    return s->done && (s->failed || s->cancelled) ? CLI_JOB_FAILED : CLI_OK;
}

/* "batch status ID" and "batch results ID [-o FILE]". */
static int cli_batch_sub(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *out = NULL, *id = NULL, *v;
    int r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_opt(cmd, argc, argv, &i, "-o", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            out = v;
        } else if (argv[i][0] == '-' || id) {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            id = argv[i];
        }
    }
    if (!id) return cli_usage(cmd, "a batch id is required");
    if (strcmp(argv[0], "results") == 0) return cli_batch_results(x, id, out);
    eq_batch_status s;
    eq_err err = econq_batch_get(cli_client(x), id, &s);
    if (err) return cli_fail(x, err);
    cli_batch_show(x, &s);
    econq_batch_status_fini(&s);
    return CLI_OK;
}

int cli_cmd_batch(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    if (argc > 0 && (strcmp(argv[0], "status") == 0 || strcmp(argv[0], "results") == 0))
        return cli_batch_sub(x, cmd, argc, argv);
    const char *dataset = NULL, *columns = NULL, *method = NULL, *out = NULL, *v;
    long horizon = 0;
    int wait = 0, r;
    for (int i = 0; i < argc; i++) {
        if ((r = cli_opt(cmd, argc, argv, &i, "--dataset", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            dataset = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--columns", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            columns = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--method", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            method = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "-o", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            out = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--horizon", &v)) != 0) {
            if (r < 0 || (horizon = cli_int(cmd, "--horizon", v, 1, CLI_MAX_HORIZON)) < 0)
                return CLI_USAGE;
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    if (!dataset || !columns || !horizon)
        return cli_usage(cmd, "--dataset, --columns and --horizon are required");
    if (out && !wait)
        return cli_usage(cmd, "-o needs --wait (or use 'batch results ID -o FILE' later)");
    /* Split "a,b,c" into names; "*" alone means every numeric column. */
    char *copy = strdup(columns);
    const char *names[CLI_MAX_LIST];
    size_t n = 0;
    if (!copy) return CLI_USAGE;
    if (strcmp(columns, "*") != 0) {
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            if (n == CLI_MAX_LIST) {
                free(copy);
                return cli_usage(cmd, "at most %d columns by name (use '*')", CLI_MAX_LIST);
            }
            names[n++] = t;
        }
        if (n == 0) {
            free(copy);
            return cli_usage(cmd, "--columns names no column");
        }
    }
    eq_client *c = cli_client(x);
    char *json = NULL, id[ECONQ_ID_SIZE];
    eq_err err = econq_batch_forecast(c, dataset, names, n, (int)horizon, method, &json, id);
    free(copy);
    if (err) return cli_fail(x, err);
    if (!wait) {
        if (x->json)
            cli_print_json(json);
        else
            printf("%s\n", id);
        free(json);
        return CLI_OK;
    }
    free(json);
    if (!x->quiet && !x->json) fprintf(stderr, "submitted batch %s\n", id);
    cli_batch_progress p = {.x = x, .last_done = -1};
    eq_batch_status s;
    err = econq_batch_wait(c, id, x->timeout_ms, cli_batch_cb, &p, &s);
    if (p.drew) fputc('\n', stderr);
    if (err) {
        econq_batch_status_fini(&s);
        return cli_fail(x, err);
    }
    int rc = cli_batch_show(x, &s);
    econq_batch_status_fini(&s);
    if (out) {
        int wr = cli_batch_results(x, id, out);
        if (wr != CLI_OK) return wr;
    }
    return rc;
}
