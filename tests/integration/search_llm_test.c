/* embed, search and llm jobs against a real `econqd serve` and the fake LLM server
 * (tests/fakes/fake_llm.py): collections in LMDB, search quality over the corpus in
 * tests/fixtures/corpus, updates and deletes, the search and answer caches, an llm question with
 * a dataset summary and search results in its prompt, and the circuit breaker (open, fail fast,
 * /health and /metrics, recovery). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fakes/fake_llm_spawn.h"
#include "tests/support/eqtest.h"

static eqd d;
static fake_llm fake;
static char dir[256];

static void start(void) {
    ck_assert_int_eq(fake_llm_start(&fake, NULL), 0);
    eqt_tmpdir(dir, sizeof dir);
    const char *args[] = {"--durability", "nosync", "--backoff-base-ms", "100",
                          "--llm-url", fake.base_url, "--llm-breaker-cooldown-ms", "4000",
                          "--lease-wait-ms", "2000", NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
}

static void stop(void) {
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    eqt_rmdir(dir);
    fake_llm_stop(&fake);
}

static cJSON *call(const char *method, const char *path, const char *body, int want_status) {
    http_resp r;
    const char *h = body ? "Content-Type: application/json\r\n" : NULL;
    ck_assert_int_eq(http_do(d.port, method, path, h, body, body ? strlen(body) : 0, &r), 0);
    if (r.status != want_status)
        ck_abort_msg("%s %s: status %d, want %d: %s", method, path, r.status, want_status, r.body);
    cJSON *j = r.len ? http_json(&r) : NULL;
    http_resp_free(&r);
    return j;
}

/* Submits a job and waits for it to end in want_state; returns the job (caller deletes). */
static cJSON *submit_wait(const char *body, const char *want_state) {
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "POST", "/v1/jobs", "Content-Type: application/json\r\n", body,
                             strlen(body), &r),
                     0);
    if (r.status != 202 && r.status != 200)
        ck_abort_msg("submit: %d %s", r.status, r.body);
    cJSON *j = http_json(&r);
    http_resp_free(&r);
    char id[64];
    snprintf(id, sizeof id, "%s", eqt_str(j, "id"));
    cJSON_Delete(j);
    j = eqt_wait_terminal(d.port, id, 30);
    ck_assert_ptr_nonnull(j);
    if (strcmp(eqt_str(j, "state"), want_state) != 0) {
        char *txt = cJSON_PrintUnformatted(j);
        ck_abort_msg("job %s is %s, want %s: %s", id, eqt_str(j, "state"), want_state, txt);
    }
    return j;
}

static char *read_file(const char *rel) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", getenv("ECONQ_SOURCE_DIR"), rel);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Embeds the test corpus into collection `name`; returns the corpus (caller deletes). */
static cJSON *embed_corpus(const char *name) {
    char *text = read_file("tests/fixtures/corpus/econ_notes.json");
    cJSON *corpus = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(corpus);
    cJSON *body = cJSON_CreateObject(), *params = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "type", "embed");
    cJSON_AddStringToObject(params, "collection", name);
    cJSON_AddItemToObject(params, "documents",
                          cJSON_Duplicate(cJSON_GetObjectItem(corpus, "documents"), 1));
    cJSON_AddItemToObject(body, "params", params);
    char *b = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    cJSON *j = submit_wait(b, "succeeded");
    free(b);
    const cJSON *res = cJSON_GetObjectItem(j, "result");
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(corpus, "documents"));
    ck_assert_int_eq((int)eqt_num(res, "added"), n);
    ck_assert_int_eq((int)eqt_num(res, "count"), n);
    ck_assert_str_eq(eqt_str(res, "embedder"), "econq-hash-v1/384");
    /* The vectors stay in the store, not in the result. */
    ck_assert_ptr_null(cJSON_GetObjectItem(res, "vectors"));
    cJSON_Delete(j);
    return corpus;
}

/* Searches and returns the job (caller deletes). */
static cJSON *search(const char *coll, const char *query, int k) {
    cJSON *body = cJSON_CreateObject(), *params = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "type", "search");
    cJSON_AddStringToObject(params, "collection", coll);
    cJSON_AddStringToObject(params, "query", query);
    cJSON_AddNumberToObject(params, "k", k);
    cJSON_AddItemToObject(body, "params", params);
    char *b = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    cJSON *j = submit_wait(b, "succeeded");
    free(b);
    return j;
}

static const char *top_id(const cJSON *job) {
    const cJSON *hits = cJSON_GetObjectItem(cJSON_GetObjectItem(job, "result"), "hits");
    return eqt_str(cJSON_GetArrayItem(hits, 0), "id");
}

START_TEST(corpus_search_ranks_the_right_document_first) {
    cJSON *corpus = embed_corpus("notes");
    cJSON *list = call("GET", "/v1/collections", NULL, 200);
    const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "collections"), 0);
    ck_assert_str_eq(eqt_str(c0, "name"), "notes");
    ck_assert_int_eq((int)eqt_num(c0, "dim"), 384);
    cJSON_Delete(list);
    const cJSON *q;
    cJSON_ArrayForEach(q, cJSON_GetObjectItem(corpus, "queries")) {
        cJSON *j = search("notes", eqt_str(q, "query"), 3);
        const cJSON *res = cJSON_GetObjectItem(j, "result");
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(res, "hits")), 3);
        if (strcmp(top_id(j), eqt_str(q, "expect")) != 0)
            ck_abort_msg("\"%s\": %s ranked first, want %s", eqt_str(q, "query"), top_id(j),
                         eqt_str(q, "expect"));
        /* Hits carry their text and metadata. */
        const cJSON *h0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "hits"), 0);
        ck_assert(strlen(eqt_str(h0, "text")) > 10);
        ck_assert(cJSON_IsObject(cJSON_GetObjectItem(h0, "metadata")));
        ck_assert(eqt_num(h0, "score") > 0 && eqt_num(h0, "score") <= 1.0001);
        cJSON_Delete(j);
    }
    cJSON_Delete(corpus);
}
END_TEST

START_TEST(update_delete_and_cache_follow_the_collection) {
    cJSON *corpus = embed_corpus("notes");
    const cJSON *q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(corpus, "queries"), 0);
    char query[512], expect[256];
    snprintf(query, sizeof query, "%s", eqt_str(q0, "query"));
    snprintf(expect, sizeof expect, "%s", eqt_str(q0, "expect"));
    /* The same search again is answered from the cache. */
    cJSON *a = search("notes", query, 5), *b = search("notes", query, 5);
    ck_assert(!cJSON_IsTrue(cJSON_GetObjectItem(a, "cached")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(b, "cached")));
    ck_assert_str_eq(top_id(b), expect);
    double gen = eqt_num(cJSON_GetObjectItem(a, "result"), "generation");
    cJSON_Delete(a);
    cJSON_Delete(b);
    /* Replacing the document's text moves it out of first place; the cache does not answer
     * for the changed collection. */
    char body[1024];
    snprintf(body, sizeof body,
             "{\"type\":\"embed\",\"params\":{\"collection\":\"notes\",\"documents\":[{\"id\":"
             "\"%s\",\"text\":\"Copper mines in Chile expanded output as smelters reopened.\","
             "\"metadata\":{\"topic\":\"mining\"}}]}}",
             expect);
    cJSON *e = submit_wait(body, "succeeded");
    ck_assert_int_eq((int)eqt_num(cJSON_GetObjectItem(e, "result"), "replaced"), 1);
    ck_assert_int_eq((int)eqt_num(cJSON_GetObjectItem(e, "result"), "added"), 0);
    cJSON_Delete(e);
    a = search("notes", query, 5);
    ck_assert(!cJSON_IsTrue(cJSON_GetObjectItem(a, "cached")));
    ck_assert(eqt_num(cJSON_GetObjectItem(a, "result"), "generation") > gen);
    ck_assert_str_ne(top_id(a), expect);
    cJSON_Delete(a);
    a = search("notes", "copper mining output in Chile", 1);
    ck_assert_str_eq(top_id(a), expect);
    cJSON_Delete(a);
    /* The worker's index caught up on the change instead of loading the collection again. */
    http_resp mr;
    ck_assert_int_eq(http_do(d.port, "GET", "/metrics", NULL, NULL, 0, &mr), 0);
    ck_assert_ptr_nonnull(strstr(mr.body, "econq_search_index_loads_total{how=\"whole\"} 1"));
    ck_assert_ptr_nonnull(strstr(mr.body, "econq_search_index_loads_total{how=\"changes\"} 1"));
    http_resp_free(&mr);
    /* A document can be read and deleted; search no longer finds it. */
    char path[512];
    snprintf(path, sizeof path, "/v1/collections/notes/documents/%s", expect);
    cJSON *doc = call("GET", path, NULL, 200);
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(doc, "metadata"), "topic"), "mining");
    cJSON_Delete(doc);
    cJSON_Delete(call("DELETE", path, NULL, 204));
    cJSON_Delete(call("DELETE", path, NULL, 404));
    a = search("notes", "copper mining output in Chile", 3);
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(cJSON_GetObjectItem(a, "result"), "hits"))
        ck_assert_str_ne(eqt_str(h, "id"), expect);
    cJSON_Delete(a);
    ck_assert_int_eq(http_do(d.port, "GET", "/metrics", NULL, NULL, 0, &mr), 0);
    ck_assert_ptr_nonnull(strstr(mr.body, "econq_search_index_loads_total{how=\"changes\"} 2"));
    http_resp_free(&mr);
    cJSON *info = call("GET", "/v1/collections/notes?limit=5", NULL, 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(corpus, "documents"));
    ck_assert_int_eq((int)eqt_num(info, "documents"), n - 1);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(info, "items")), 5);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(info, "next")));
    cJSON_Delete(info);
    /* The whole collection goes; searching it is then a clear error at submit. */
    cJSON_Delete(call("DELETE", "/v1/collections/notes", NULL, 204));
    cJSON_Delete(call("GET", "/v1/collections/notes", NULL, 404));
    cJSON *p = call("POST", "/v1/jobs",
                    "{\"type\":\"search\",\"params\":{\"collection\":\"notes\",\"query\":\"x\"}}",
                    422);
    ck_assert_str_eq(eqt_str(p, "type"), "/problems/collection-not-found");
    cJSON_Delete(p);
    cJSON_Delete(corpus);
}
END_TEST

START_TEST(bad_embed_and_search_input_is_refused) {
    /* Past the schema's limits: 422 before anything is queued. */
    cJSON *p = call("POST", "/v1/jobs",
                    "{\"type\":\"search\",\"params\":{\"collection\":\"n\",\"query\":\"x\",\"k\":"
                    "1000}}",
                    422);
    ck_assert_str_eq(eqt_str(p, "type"), "/problems/invalid-job");
    cJSON_Delete(p);
    p = call("POST", "/v1/jobs",
             "{\"type\":\"embed\",\"params\":{\"collection\":\"bad name!\",\"documents\":[{\"id\":"
             "\"a\",\"text\":\"t\"}]}}",
             422);
    cJSON_Delete(p);
    p = call("POST", "/v1/jobs",
             "{\"type\":\"embed\",\"params\":{\"collection\":\"n\",\"documents\":[]}}", 422);
    cJSON_Delete(p);
    /* Text with no words fails the job permanently, and nothing is stored. */
    cJSON *j = submit_wait("{\"type\":\"embed\",\"params\":{\"collection\":\"n\",\"documents\":["
                           "{\"id\":\"a\",\"text\":\"Real words here\"},{\"id\":\"b\",\"text\":"
                           "\"  ... !!! \"}]}}",
                           "failed");
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(j, "error"), "code"), "empty_text");
    ck_assert_int_eq((int)eqt_num(j, "attempt"), 1);
    cJSON_Delete(j);
    cJSON_Delete(call("GET", "/v1/collections/n", NULL, 404));
    /* An llm question about an unknown dataset or collection. */
    p = call("POST", "/v1/jobs",
             "{\"type\":\"llm\",\"params\":{\"question\":\"q\",\"collection\":\"nope\"}}", 422);
    ck_assert_str_eq(eqt_str(p, "type"), "/problems/collection-not-found");
    cJSON_Delete(p);
    p = call("POST", "/v1/jobs",
             "{\"type\":\"llm\",\"params\":{\"question\":\"q\",\"dataset\":"
             "\"01M8K07B7W28BHG6J0DGJK7F53\"}}",
             422);
    ck_assert_str_eq(eqt_str(p, "type"), "/problems/dataset-not-found");
    cJSON_Delete(p);
}
END_TEST

/* Uploads a small monthly CSV whose column name is a marker the fake echoes. */
static void upload_dataset(char *id, size_t len) {
    const char *csv = "date,MARK_CPI_SERIES\n2024-01-01,3.1\n2024-02-01,3.2\n2024-03-01,3.5\n"
                      "2024-04-01,3.4\n2024-05-01,3.3\n2024-06-01,3.0\n2024-07-01,2.9\n";
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "POST", "/v1/datasets?name=cpi", "Content-Type: text/csv\r\n",
                             csv, strlen(csv), &r),
                     0);
    ck_assert_int_eq(r.status, 201);
    cJSON *j = http_json(&r);
    snprintf(id, len, "%s", eqt_str(j, "id"));
    cJSON_Delete(j);
    http_resp_free(&r);
}

START_TEST(llm_question_uses_dataset_and_search_context) {
    cJSON *e = submit_wait(
        "{\"type\":\"embed\",\"params\":{\"collection\":\"memos\",\"documents\":["
        "{\"id\":\"m1\",\"text\":\"Consumer price inflation cooled in the spring as energy "
        "prices fell. MARK_DOC_INFLATION\"},{\"id\":\"m2\",\"text\":\"Housing starts "
        "dropped sharply. MARK_DOC_HOUSING\"}]}}",
        "succeeded");
    cJSON_Delete(e);
    char ds[64], body[1024], fc_id[64];
    upload_dataset(ds, sizeof ds);
    /* A forecast of the column: the summary quotes it as the latest forecast. */
    snprintf(body, sizeof body,
             "{\"type\":\"forecast\",\"params\":{\"series\":{\"dataset\":\"%s\",\"column\":"
             "\"MARK_CPI_SERIES\"},\"horizon\":3,\"method\":\"naive\"}}",
             ds);
    cJSON *fc = submit_wait(body, "succeeded");
    snprintf(fc_id, sizeof fc_id, "%s", eqt_str(fc, "id"));
    cJSON_Delete(fc);
    snprintf(body, sizeof body,
             "{\"type\":\"llm\",\"params\":{\"question\":\"How did consumer price inflation "
             "move this spring?\",\"dataset\":\"%s\",\"collection\":\"memos\"}}",
             ds);
    cJSON *j = submit_wait(body, "succeeded");
    const cJSON *res = cJSON_GetObjectItem(j, "result");
    const char *answer = eqt_str(res, "answer");
    /* The fake echoes the markers it received: the dataset summary and the best document. */
    ck_assert_ptr_nonnull(strstr(answer, "fake answer from qwen2.5:14b"));
    ck_assert_ptr_nonnull(strstr(answer, "MARK_CPI_SERIES"));
    ck_assert_ptr_nonnull(strstr(answer, "MARK_DOC_INFLATION"));
    ck_assert_str_eq(eqt_str(res, "model"), "qwen2.5:14b");
    ck_assert(eqt_num(res, "prompt_tokens") > 0);
    ck_assert(eqt_num(res, "completion_tokens") > 0);
    /* The context used is in the result: the summary (latest values with dates) and the hits. */
    const cJSON *ctx = cJSON_GetObjectItem(res, "context");
    ck_assert_int_eq(cJSON_GetArraySize(ctx), 2);
    const char *summary = eqt_str(cJSON_GetArrayItem(ctx, 0), "text");
    ck_assert_ptr_nonnull(strstr(summary, "monthly"));
    ck_assert_ptr_nonnull(strstr(summary, "2024-07-01 2.9"));
    ck_assert_ptr_nonnull(strstr(summary, "latest forecast (Naive"));
    ck_assert_ptr_nonnull(strstr(summary, fc_id));
    ck_assert_ptr_nonnull(strstr(summary, "2024-08-01 2.9"));
    const char *docs = eqt_str(cJSON_GetArrayItem(ctx, 1), "text");
    ck_assert_ptr_nonnull(strstr(docs, "[m1]"));
    ck_assert(strstr(docs, "[m1]") < strstr(docs, "[m2]")); /* best first */
    cJSON_Delete(j);
    /* The request the server got is Ollama's /api/chat shape with the context in it. */
    char *reqs = fake_llm_requests(&fake);
    ck_assert_ptr_nonnull(reqs);
    ck_assert_ptr_nonnull(strstr(reqs, "/api/chat"));
    ck_assert_ptr_nonnull(strstr(reqs, "\"stream\": false"));
    ck_assert_ptr_nonnull(strstr(reqs, "\"num_ctx\": 8192")); /* room for the context */
    free(reqs);
    /* The same question about the same data and model: answered from the cache. */
    j = submit_wait(body, "succeeded");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "cached")));
    cJSON_Delete(j);
    /* A model that is not installed: the server's 404 fails the job (a refusal is permanent). */
    j = submit_wait("{\"type\":\"llm\",\"max_attempts\":3,\"params\":{\"question\":\"q\","
                    "\"model\":\"missing-model\"}}",
                    "failed");
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(j, "error"), "code"), "llm_error");
    ck_assert_int_eq((int)eqt_num(j, "attempt"), 1);
    cJSON_Delete(j);
}
END_TEST

/* The llm check of /health: its circuit and status. Caller deletes. */
static cJSON *health_llm(char *status, size_t len) {
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "GET", "/health", NULL, NULL, 0, &r), 0);
    cJSON *j = http_json(&r);
    http_resp_free(&r);
    snprintf(status, len, "%s", eqt_str(j, "status"));
    cJSON *llm = cJSON_DetachItemFromObject(cJSON_GetObjectItem(j, "checks"), "llm");
    cJSON_Delete(j);
    ck_assert_ptr_nonnull(llm);
    return llm;
}

static int count_chats(const char *needle) {
    char *reqs = fake_llm_requests(&fake);
    ck_assert_ptr_nonnull(reqs);
    int n = 0;
    for (const char *p = reqs; (p = strstr(p, needle)); p++)
        n++;
    free(reqs);
    return n;
}

START_TEST(breaker_opens_fails_fast_and_recovers) {
    char st[32], id[4][64];
    cJSON *llm = NULL;
    /* Healthy once the in-process workers have checked in. */
    for (int t = 0; t < 100; t++) {
        cJSON_Delete(llm);
        llm = health_llm(st, sizeof st);
        if (strcmp(st, "healthy") == 0)
            break;
        eqt_sleep_ms(50);
    }
    ck_assert_str_eq(eqt_str(llm, "circuit"), "closed");
    ck_assert_str_eq(st, "healthy");
    cJSON_Delete(llm);
    ck_assert_int_eq(fake_llm_mode(&fake, "500", 0), 0);
    /* Three questions fail against the broken server: the breaker opens. */
    for (int i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"type\":\"llm\",\"max_attempts\":20,\"params\":{\"question\":\"Q%d_BREAKER\"}}",
                 i);
        ck_assert_int_eq(eqt_submit(d.port, body, id[i]), 202);
    }
    int open = 0;
    for (int t = 0; t < 200 && !open; t++) {
        llm = health_llm(st, sizeof st);
        open = strcmp(eqt_str(llm, "circuit"), "open") == 0;
        if (open) {
            ck_assert_str_eq(st, "degraded");
            ck_assert_str_eq(eqt_str(llm, "status"), "degraded");
            ck_assert(eqt_num(llm, "retry_after_s") >= 1);
            ck_assert_int_eq((int)eqt_num(llm, "opened_total"), 1);
        }
        cJSON_Delete(llm);
        if (!open)
            eqt_sleep_ms(50);
    }
    ck_assert_msg(open, "the breaker did not open");
    /* The metric shows it (1 open; 2 if the probe has started meanwhile). */
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    const char *m = strstr(r.body, "econq_circuit_state{name=\"llm\"} ");
    ck_assert_ptr_nonnull(m);
    int v = m[strlen("econq_circuit_state{name=\"llm\"} ")] - '0';
    ck_assert(v == 1 || v == 2);
    http_resp_free(&r);
    /* While open, a new question is not sent: the llm workers stop leasing (or a thread that
     * was already waiting for work hands it back at once as llm_unavailable), and it waits in
     * the queue without using up its one attempt. */
    ck_assert_int_eq(eqt_submit(d.port,
                                "{\"type\":\"llm\",\"max_attempts\":1,\"params\":{\"question\":"
                                "\"Q3_FAST\"}}",
                                id[3]),
                     202);
    eqt_sleep_ms(500);
    cJSON *q3 = eqt_job(d.port, id[3], 0);
    ck_assert_str_eq(eqt_str(q3, "state"), "queued");
    const cJSON *q3err = cJSON_GetObjectItem(q3, "error");
    if (cJSON_IsObject(q3err))
        ck_assert_str_eq(eqt_str(q3err, "code"), "llm_unavailable");
    cJSON_Delete(q3);
    ck_assert_int_eq(count_chats("Q3_FAST"), 0);
    /* The server comes back: after the cool-down one probe closes the breaker and every
     * question is answered, even the one allowed a single attempt. */
    ck_assert_int_eq(fake_llm_mode(&fake, "ok", 0), 0);
    for (int i = 0; i < 4; i++) {
        cJSON *j = eqt_wait_terminal(d.port, id[i], 40);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        cJSON_Delete(j);
    }
    llm = health_llm(st, sizeof st);
    ck_assert_str_eq(eqt_str(llm, "circuit"), "closed");
    ck_assert_int_eq((int)eqt_num(llm, "consecutive_failures"), 0);
    ck_assert_str_eq(st, "healthy");
    cJSON_Delete(llm);
    ck_assert_int_eq(count_chats("Q3_FAST"), 1);
}
END_TEST

/* econqd server with remote workers: an embed worker without the store serves embed and search
 * (it reads collections from the broker over nng, and catches up on changes); an llm worker
 * that reads the server's store (--store-dir, same host) answers with search context and
 * reports its breaker, which the server's /health shows. */
START_TEST(remote_workers_search_and_report_their_breaker) {
    char broker[64], cooldown[] = "60000";
    eqd srv, we, wl;
    fake_llm f;
    ck_assert_int_eq(fake_llm_start(&f, NULL), 0);
    eqt_tmpdir(dir, sizeof dir);
    snprintf(broker, sizeof broker, "tcp://127.0.0.1:%d", eqt_free_port());
    const char *sargs[] = {"--broker-listen", broker, "--durability", "nosync",
                           "--backoff-base-ms", "100", NULL};
    const char *eargs[] = {"--connect", broker, "--kind", "embed", "--lease-wait-ms", "1000",
                           NULL};
    const char *largs[] = {"--connect", broker, "--kind", "llm", "--store-dir", dir,
                           "--llm-url", f.base_url,
                           "--llm-breaker-cooldown-ms", cooldown, "--lease-wait-ms", "1000", NULL};
    ck_assert_int_eq(eqd_start(&srv, "server", dir, sargs), 0);
    ck_assert_int_eq(eqd_start(&we, "worker", dir, eargs), 0);
    ck_assert_int_eq(eqd_start(&wl, "worker", dir, largs), 0);
    d = srv; /* the helpers talk to d */
    cJSON *corpus = embed_corpus("remote");
    const cJSON *q = cJSON_GetArrayItem(cJSON_GetObjectItem(corpus, "queries"), 1);
    cJSON *j = search("remote", eqt_str(q, "query"), 3);
    ck_assert_str_eq(top_id(j), eqt_str(q, "expect"));
    cJSON_Delete(j);
    /* A change reaches the remote worker's index. */
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\":\"embed\",\"params\":{\"collection\":\"remote\",\"documents\":[{\"id\":"
             "\"%s\",\"text\":\"Copper mines in Chile expanded output.\"}]}}",
             eqt_str(q, "expect"));
    j = submit_wait(body, "succeeded");
    cJSON_Delete(j);
    j = search("remote", "copper mining output in Chile", 1);
    ck_assert_str_eq(top_id(j), eqt_str(q, "expect"));
    cJSON_Delete(j);
    cJSON_Delete(corpus);
    /* The llm worker reads the collection through the server's store for its context. */
    j = submit_wait("{\"type\":\"llm\",\"params\":{\"question\":\"Where did copper output "
                    "grow?\",\"collection\":\"remote\"}}",
                    "succeeded");
    const cJSON *ctx = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"), "context");
    ck_assert_int_eq(cJSON_GetArraySize(ctx), 1);
    ck_assert_ptr_nonnull(strstr(eqt_str(cJSON_GetArrayItem(ctx, 0), "text"), "Copper mines"));
    cJSON_Delete(j);
    /* The remote llm worker's breaker opens; the server's /health says so. */
    ck_assert_int_eq(fake_llm_mode(&f, "500", 0), 0);
    char id[3][64];
    for (int i = 0; i < 3; i++) {
        char qbody[160];
        snprintf(qbody, sizeof qbody,
                 "{\"type\":\"llm\",\"max_attempts\":20,\"params\":{\"question\":\"R%d\"}}", i);
        ck_assert_int_eq(eqt_submit(d.port, qbody, id[i]), 202);
    }
    int open = 0;
    char st[32];
    for (int t = 0; t < 200 && !open; t++) {
        http_resp r;
        ck_assert_int_eq(http_do(d.port, "GET", "/health", NULL, NULL, 0, &r), 0);
        cJSON *h = http_json(&r);
        http_resp_free(&r);
        const cJSON *llm = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "checks"), "llm");
        open = llm && strcmp(eqt_str(llm, "circuit"), "open") == 0;
        snprintf(st, sizeof st, "%s", eqt_str(h, "status"));
        if (open)
            ck_assert_int_ge((int)eqt_num(llm, "workers"), 1); /* one per worker thread */
        cJSON_Delete(h);
        if (!open)
            eqt_sleep_ms(50);
    }
    ck_assert_msg(open, "the server's /health never showed the remote breaker open");
    ck_assert_str_eq(st, "degraded");
    /* /metrics too; the worker's status is not mistaken for a kind. */
    http_resp r;
    ck_assert_int_eq(http_do(d.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.body, "econq_circuit_state{name=\"llm\"} 1"));
    ck_assert_ptr_nonnull(strstr(r.body, "econq_workers_connected{kind=\"llm\"}"));
    ck_assert_ptr_null(strstr(r.body, "llm_breaker"));
    http_resp_free(&r);
    eqd_signal(&wl, SIGTERM);
    ck_assert_int_eq(eqd_wait(&wl), 0);
    eqd_signal(&we, SIGTERM);
    ck_assert_int_eq(eqd_wait(&we), 0);
    eqd_signal(&srv, SIGTERM);
    ck_assert_int_eq(eqd_wait(&srv), 0);
    eqt_rmdir(dir);
    fake_llm_stop(&f);
}
END_TEST

/* An OpenAI-compatible server with an API key for answers and embeddings; a collection made by
 * that embedder refuses the built-in one after a restart without --embed-model. */
START_TEST(openai_backend_and_embedders_do_not_mix) {
    fake_llm f;
    const char *fargs[] = {"--api-key", "sk-test-123", "--dim", "16", NULL};
    ck_assert_int_eq(fake_llm_start(&f, fargs), 0);
    eqt_tmpdir(dir, sizeof dir);
    const char *args[] = {"--durability", "nosync", "--llm-api", "openai", "--llm-url",
                          f.base_url, "--llm-api-key", "sk-test-123", "--llm-model", "gpt-fake",
                          "--embed-model", "fake-embed", "--llm-breaker-cooldown-ms", "1500",
                          "--backoff-base-ms", "100", NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args), 0);
    cJSON *j = submit_wait(
        "{\"type\":\"embed\",\"params\":{\"collection\":\"remote\",\"documents\":["
        "{\"id\":\"a\",\"text\":\"Exports of soybeans rose.\"},{\"id\":\"b\",\"text\":"
        "\"Steel tariffs were raised in March.\"},{\"id\":\"c\",\"text\":\"Rents kept "
        "climbing.\"}]}}",
        "succeeded");
    const cJSON *res = cJSON_GetObjectItem(j, "result");
    ck_assert_str_eq(eqt_str(res, "embedder"), "openai:fake-embed");
    ck_assert_int_eq((int)eqt_num(res, "dim"), 16);
    cJSON_Delete(j);
    /* The fake's vectors hash the text: the exact text finds its document with score 1. */
    j = search("remote", "Steel tariffs were raised in March.", 2);
    ck_assert_str_eq(top_id(j), "b");
    const cJSON *h0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"),
                                                             "hits"), 0);
    ck_assert(eqt_num(h0, "score") > 0.9999);
    cJSON_Delete(j);
    j = submit_wait("{\"type\":\"llm\",\"params\":{\"question\":\"What about tariffs?\","
                    "\"collection\":\"remote\"}}",
                    "succeeded");
    ck_assert_ptr_nonnull(strstr(eqt_str(cJSON_GetObjectItem(j, "result"), "answer"),
                                 "fake answer from gpt-fake"));
    cJSON_Delete(j);
    char *reqs = fake_llm_requests(&f);
    ck_assert_ptr_nonnull(strstr(reqs, "/v1/chat/completions"));
    ck_assert_ptr_nonnull(strstr(reqs, "/v1/embeddings"));
    ck_assert_ptr_nonnull(strstr(reqs, "Bearer sk-test-123"));
    free(reqs);
    /* Embeddings go through the same server's breaker: failing embed jobs open it, and they
     * all succeed once the server is back. */
    ck_assert_int_eq(fake_llm_mode(&f, "500", 0), 0);
    char eids[3][64];
    for (int i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"type\":\"embed\",\"max_attempts\":20,\"params\":{\"collection\":"
                 "\"remote\",\"documents\":[{\"id\":\"e%d\",\"text\":\"Freight rates %d\"}]}}",
                 i, i);
        ck_assert_int_eq(eqt_submit(d.port, body, eids[i]), 202);
    }
    int open = 0;
    for (int t = 0; t < 200 && !open; t++) {
        http_resp hr;
        ck_assert_int_eq(http_do(d.port, "GET", "/health", NULL, NULL, 0, &hr), 0);
        cJSON *h = http_json(&hr);
        http_resp_free(&hr);
        const cJSON *llm = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "checks"), "llm");
        open = llm && strcmp(eqt_str(llm, "circuit"), "open") == 0;
        cJSON_Delete(h);
        if (!open)
            eqt_sleep_ms(50);
    }
    ck_assert_msg(open, "failing embeddings did not open the server's breaker");
    ck_assert_int_eq(fake_llm_mode(&f, "ok", 0), 0);
    for (int i = 0; i < 3; i++) {
        j = eqt_wait_terminal(d.port, eids[i], 60);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        cJSON_Delete(j);
    }
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    /* The key never reaches the logs. */
    char *log = NULL;
    FILE *lf = fopen(d.log, "rb");
    if (lf) {
        log = calloc(1, 1 << 20);
        size_t n = fread(log, 1, (1 << 20) - 1, lf);
        log[n] = '\0';
        fclose(lf);
        ck_assert_ptr_null(strstr(log, "sk-test-123"));
        free(log);
    }
    /* Back with the built-in embedder: the collection refuses it, and keeps its documents. */
    const char *args2[] = {"--durability", "nosync", "--llm-url", f.base_url, NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", dir, args2), 0);
    j = submit_wait("{\"type\":\"search\",\"params\":{\"collection\":\"remote\",\"query\":"
                    "\"tariffs\"}}",
                    "failed");
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(j, "error"), "code"), "embedder_mismatch");
    cJSON_Delete(j);
    j = submit_wait("{\"type\":\"embed\",\"params\":{\"collection\":\"remote\",\"documents\":"
                    "[{\"id\":\"d\",\"text\":\"Wages grew.\"}]}}",
                    "failed");
    ck_assert_str_eq(eqt_str(cJSON_GetObjectItem(j, "error"), "code"), "embedder_mismatch");
    cJSON_Delete(j);
    cJSON *info = call("GET", "/v1/collections/remote", NULL, 200);
    ck_assert_int_eq((int)eqt_num(info, "documents"), 6);
    ck_assert_str_eq(eqt_str(info, "embedder"), "openai:fake-embed");
    cJSON_Delete(info);
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    eqt_rmdir(dir);
    fake_llm_stop(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("search_llm");
    TCase *tc = tcase_create("e2e");
    tcase_add_checked_fixture(tc, start, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, corpus_search_ranks_the_right_document_first);
    tcase_add_test(tc, update_delete_and_cache_follow_the_collection);
    tcase_add_test(tc, bad_embed_and_search_input_is_refused);
    tcase_add_test(tc, llm_question_uses_dataset_and_search_context);
    tcase_add_test(tc, breaker_opens_fails_fast_and_recovers);
    suite_add_tcase(s, tc);
    TCase *remote = tcase_create("remote");
    tcase_set_timeout(remote, 120);
    tcase_add_test(remote, remote_workers_search_and_report_their_breaker);
    tcase_add_test(remote, openai_backend_and_embedders_do_not_mix);
    suite_add_tcase(s, remote);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
