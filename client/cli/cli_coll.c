/* econq CLI: embed (documents into a collection) and collections (list, describe, delete). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"

/* Documents per embed job (the embed schema's limit) and the body bytes one job may carry
 * (the server's default --max-body-bytes is 1 MiB; leave room for the envelope). */
#define CLI_EMBED_DOCS_PER_JOB 1000
#define CLI_EMBED_BYTES_PER_JOB (900u * 1024u)
/* Jobs one `econq embed` submits at most (a million documents). */
#define CLI_EMBED_MAX_JOBS 1000

/* The documents of FILE: a JSON array, or JSON lines (one document per line). */
static cJSON *read_documents(const char *path) {
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text)
        return NULL;
    cJSON *docs = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsArray(docs)) {
        cJSON_Delete(docs);
        docs = cJSON_CreateArray();
        int line = 0;
        for (char *p = text, *nl; docs && p && *p; p = nl ? nl + 1 : NULL) {
            nl = strchr(p, '\n');
            if (nl)
                *nl = '\0';
            line++;
            if (strspn(p, " \t\r") == strlen(p))
                continue;
            cJSON *d = cJSON_Parse(p);
            if (!cJSON_IsObject(d)) {
                fprintf(stderr, "econq: %s line %d is not a JSON document\n", path, line);
                cJSON_Delete(d);
                cJSON_Delete(docs);
                docs = NULL;
                break;
            }
            cJSON_AddItemToArray(docs, d);
        }
    }
    free(text);
    return docs;
}

int cli_cmd_embed(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *pos[2];
    int got = 0, nowait = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--no-wait") == 0)
            nowait = 1;
        else if ((argv[i][0] == '-' && argv[i][1]) || got == 2)
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        else
            pos[got++] = argv[i];
    }
    if (got != 2)
        return cli_usage(cmd, "a collection and a file of documents are required");
    cJSON *docs = read_documents(pos[1]);
    if (!docs)
        return CLI_USAGE;
    int total = cJSON_GetArraySize(docs);
    if (total == 0) {
        cJSON_Delete(docs);
        return cli_usage(cmd, "%s holds no documents", pos[1]);
    }
    eq_client *c = cli_client(x);
    char(*ids)[64] = calloc(CLI_EMBED_MAX_JOBS, sizeof *ids);
    int njobs = 0, rc = CLI_OK;
    /* Chunks bounded by count and by bytes. */
    while (ids && cJSON_GetArraySize(docs) > 0 && rc == CLI_OK) {
        if (njobs == CLI_EMBED_MAX_JOBS) {
            fprintf(stderr, "econq: more than %d jobs' worth of documents\n", CLI_EMBED_MAX_JOBS);
            rc = CLI_USAGE;
            break;
        }
        cJSON *chunk = cJSON_CreateArray();
        size_t bytes = 0;
        while (cJSON_GetArraySize(docs) > 0 && cJSON_GetArraySize(chunk) < CLI_EMBED_DOCS_PER_JOB) {
            char *one = cJSON_PrintUnformatted(cJSON_GetArrayItem(docs, 0));
            size_t l = one ? strlen(one) : 0;
            free(one);
            if (cJSON_GetArraySize(chunk) > 0 && bytes + l > CLI_EMBED_BYTES_PER_JOB)
                break;
            bytes += l + 1;
            cJSON_AddItemToArray(chunk, cJSON_DetachItemFromArray(docs, 0));
        }
        char *json = cJSON_PrintUnformatted(chunk);
        cJSON_Delete(chunk);
        eq_job j;
        eq_err err = econq_embed(c, pos[0], json, NULL, &j);
        free(json);
        if (err) {
            rc = cli_fail(x, err);
            break;
        }
        snprintf(ids[njobs++], sizeof ids[0], "%s", j.id);
        econq_job_fini(&j);
    }
    cJSON_Delete(docs);
    if (!ids)
        rc = CLI_USAGE;
    /* Then each job in turn: added, replaced, or why it failed. */
    int added = 0, replaced = 0, failed = 0;
    for (int i = 0; rc == CLI_OK && i < njobs; i++) {
        if (nowait) {
            if (!x->json)
                printf("%s\n", ids[i]);
            continue;
        }
        eq_job w;
        eq_err err = econq_wait(c, ids[i], x->timeout_ms, NULL, NULL, &w);
        if (err) {
            econq_job_fini(&w);
            rc = cli_fail(x, err);
            break;
        }
        cJSON *o = cJSON_Parse(w.json);
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "result");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(res, "added");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(res, "replaced");
        if (w.state == EQ_JOB_SUCCEEDED) {
            added += cJSON_IsNumber(a) ? a->valueint : 0;
            replaced += cJSON_IsNumber(r) ? r->valueint : 0;
        } else {
            failed++;
            if (!x->json)
                cli_print_job(x, &w);
        }
        cJSON_Delete(o);
        econq_job_fini(&w);
    }
    if (rc == CLI_OK && !nowait) {
        if (x->json)
            printf("{\"collection\":\"%s\",\"jobs\":%d,\"documents\":%d,\"added\":%d,"
                   "\"replaced\":%d,\"failed_jobs\":%d}\n",
                   pos[0], njobs, total, added, replaced, failed);
        else
            printf("%s: %d documents in %d job%s: %d added, %d replaced%s\n", pos[0], total,
                   njobs, njobs == 1 ? "" : "s", added, replaced, failed ? ", some jobs failed" : "");
        rc = failed ? CLI_JOB_FAILED : CLI_OK;
    }
    free(ids);
    return rc;
}

int cli_cmd_collections(cli *x, const cli_cmd *cmd, int argc, char **argv) {
    const char *name = NULL, *doc = NULL, *v;
    int del = 0, r;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--delete") == 0) {
            del = 1;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--document", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            doc = v;
        } else if (argv[i][0] == '-' || name) {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            name = argv[i];
        }
    }
    if ((del || doc) && !name)
        return cli_usage(cmd, "--delete and --document need a collection name");
    eq_client *c = cli_client(x);
    eq_err err;
    if (del) {
        if ((err = econq_collection_delete(c, name, doc)) != EQ_OK)
            return cli_fail(x, err);
        if (x->json)
            printf("{\"deleted\":\"%s\"%s%s%s}\n", name, doc ? ",\"document\":\"" : "",
                   doc ? doc : "", doc ? "\"" : "");
        else
            printf("deleted %s%s%s\n", doc ? doc : name, doc ? " from " : "", doc ? name : "");
        return CLI_OK;
    }
    char *json = NULL;
    err = doc ? econq_collection_document(c, name, doc, &json)
          : name ? econq_collection_get(c, name, &json)
                 : econq_collections(c, &json);
    if (err)
        return cli_fail(x, err);
    if (x->json || name) {
        if (x->json)
            cli_print_json(json);
        else
            cli_print_pretty(stdout, json, 0);
        free(json);
        return CLI_OK;
    }
    cJSON *o = cJSON_Parse(json);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "collections");
    int n = cJSON_GetArraySize(list);
    static const char *const head[] = {"NAME", "DOCUMENTS", "EMBEDDER", "UPDATED"};
    const char **cells = calloc((size_t)n * 4 + 1, sizeof *cells);
    char(*num)[24] = calloc((size_t)n + 1, sizeof *num);
    int rows = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        if (!cells || !num)
            break;
        const cJSON *docs = cJSON_GetObjectItemCaseSensitive(e, "documents");
        snprintf(num[rows], sizeof num[0], "%.0f", cJSON_IsNumber(docs) ? docs->valuedouble : 0);
        cells[rows * 4] = cli_str(e, "name") ? cli_str(e, "name") : "";
        cells[rows * 4 + 1] = num[rows];
        cells[rows * 4 + 2] = cli_str(e, "embedder") ? cli_str(e, "embedder") : "";
        cells[rows * 4 + 3] = cli_str(e, "updated_at") ? cli_str(e, "updated_at") : "";
        rows++;
    }
    cli_print_table(head, 4, cells, rows);
    free(cells);
    free(num);
    cJSON_Delete(o);
    free(json);
    return CLI_OK;
}
