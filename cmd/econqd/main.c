/* econqd serve | server | worker: wires the store, broker, api and workers together. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <uv.h>
#include <gsl/gsl_errno.h>

#include "api/api.h"
#include "broker/broker.h"
#include "broker/webhook/wh_schedule.h"
#include "broker/webhook/wh_sign.h"
#include "cmd/econqd/econqd.h"
#include "cmd/econqd/check.h"
#include "common/log.h"
#include "schemas/schemas.h"
#include "store/store.h"
#include "cmd/econqd/source.h"
#include "workers/llm_kind.h"
#include "workers/remote_source.h"
#include "workers/runtime.h"

#define ECONQD_VERSION "0.1.0"
#define ECONQD_MMAP_THRESHOLD (256 * 1024) /* bytes from which malloc uses mmap */

/* The job types this build accepts at submit. */
static const char *const job_types[] = {"noop", "forecast", "chart", "report", "embed", "search", "llm",
                                        "maintenance.cache", "maintenance.retention",
                                        "maintenance.backup", "maintenance.charts", NULL};

typedef struct node {
    eq_config cfg;
    unsigned command;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    store *st;
    broker *br;
    api *api;
    worker_pool *workers;
    int stopping;
    int exit_code;
} node;

/* The llm and embed libraries read ECONQ_LLM_* and ECONQ_EMBED_MODEL from the environment:
 * export the resolved settings (flags win over the environment) before workers start. */
static void export_worker_settings(node *n) {
    static const char *const names[] = {
        "llm-url", "llm-api", "llm-model", "llm-api-key", "llm-connect-timeout-ms",
        "llm-timeout-ms", "llm-num-ctx", "llm-breaker-threshold", "llm-breaker-cooldown-ms",
        "embed-model"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (size_t k = 0; k < econqd_nsettings; k++) {
            if (strcmp(econqd_settings[k].name, names[i]) != 0)
                continue;
            const char *v = cfg_str(&n->cfg, names[i]);
            char num[32];
            if (econqd_settings[k].type == CFG_INT) {
                snprintf(num, sizeof num, "%lld", (long long)cfg_int(&n->cfg, names[i]));
                v = num;
            }
            setenv(econqd_settings[k].env, v, 1);
        }
    }
}

static int llm_breaker_status(int *state, unsigned *failures, uint64_t *retry_after_s,
                              uint64_t *opened_total, const char **url) {
    breaker_status st;
    if (worker_llm_status(&st, url) != 0)
        return -1;
    *state = (int)st.state;
    *failures = st.failures;
    *retry_after_s = st.retry_after_s;
    *opened_total = st.opened_total;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "econqd " ECONQD_VERSION " — econq, a job queue for economic analysis\n\n"
            "usage: econqd COMMAND [flags]\n\n"
            "commands:\n"
            "  serve    everything in one process: HTTP api, broker, LMDB store, workers\n"
            "  server   api and broker without workers; remote workers connect over TCP\n"
            "  worker   a worker of one kind that connects to a server\n"
            "  keygen   a new API key and its keys-file line: econqd keygen NAME\n"
            "  backup   a compacting copy of the store: --data-dir D --out FILE\n"
            "  restore  replaces a stopped store with a backup: --data-dir D --from FILE\n\n"
            "Run 'econqd COMMAND --help' for its settings. Flags override ECONQ_* environment\n"
            "variables, which override the defaults.\n");
}

static void command_help(const char *name, unsigned cmd) {
    printf("usage: econqd %s [flags]\n\nsettings:\n", name);
    eq_config_help(stdout, econqd_settings, econqd_nsettings, cmd);
}

static void stop_all(node *n) {
    if (n->workers) {
        worker_pool_stop(n->workers, cfg_int(&n->cfg, "shutdown-grace-ms"));
        n->workers = NULL;
    }
    if (n->br) {
        broker_stop(n->br);
        n->br = NULL;
    }
    if (n->st) {
        store_close(n->st);
        n->st = NULL;
    }
}

static void api_stopped(void *arg) {
    node *n = arg;
    n->api = NULL;
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&n->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
    node *n = h->data;
    if (n->stopping)
        return;
    n->stopping = 1;
    eq_log(EQ_LOG_INFO, "stopping", "signal", signum == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    api_stop(n->api, api_stopped, n);
}

static int run_node(node *n) {
    char host[256], num[32];
    int port;
    eq_err err;
    store_opts so;
    store_opts_defaults(&so);
    so.nosync = strcmp(cfg_str(&n->cfg, "durability"), "nosync") == 0;
    so.map_size = (uint64_t)cfg_int(&n->cfg, "map-size-mb") << 20;
    /* One econqd per data directory: a second one would re-run the first one's jobs. The lock
     * is released by the kernel when the process ends, however it ends. */
    const char *dd = cfg_str(&n->cfg, "data-dir");
    char lock_path[4200];
    mkdir(dd, 0750);
    snprintf(lock_path, sizeof lock_path, "%s/econqd.lock", dd);
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "econqd: the data directory %s is in use by another econqd\n", dd);
        if (lock_fd >= 0)
            close(lock_fd);
        return 1;
    }
    if ((err = store_open(cfg_str(&n->cfg, "data-dir"), &so, &n->st))) {
        fprintf(stderr, "econqd: cannot open the store in %s: %s\n", cfg_str(&n->cfg, "data-dir"),
                eq_strerror(err));
        return 1;
    }
    broker_config bc;
    broker_config_defaults(&bc);
    bc.st = n->st;
    bc.policy.lease_ms = cfg_int(&n->cfg, "lease-ms");
    bc.policy.backoff_base_ms = cfg_int(&n->cfg, "backoff-base-ms");
    bc.policy.backoff_max_ms = cfg_int(&n->cfg, "backoff-max-ms");
    bc.policy.idem_ttl_ms = cfg_int(&n->cfg, "idempotency-ttl-s") * 1000;
    bc.retention_ms = cfg_int(&n->cfg, "retention-s") * 1000;
    if (cfg_int(&n->cfg, "forecast-cache-max") > 0 && cfg_int(&n->cfg, "forecast-cache-ttl-s") > 0) {
        bc.policy.caches[0] = (lc_cache_policy){
            .type = "forecast",
            .ttl_ms = cfg_int(&n->cfg, "forecast-cache-ttl-s") * 1000,
            .max_entries = (uint64_t)cfg_int(&n->cfg, "forecast-cache-max")};
        bc.policy.ncaches = 1;
    }
    /* Search results are keyed by the collection's generation too, llm answers by the question,
     * its context's sources (dataset, collection generation) and the model. */
    if (cfg_int(&n->cfg, "search-cache-max") > 0 && cfg_int(&n->cfg, "search-cache-ttl-s") > 0)
        bc.policy.caches[bc.policy.ncaches++] = (lc_cache_policy){
            .type = "search",
            .ttl_ms = cfg_int(&n->cfg, "search-cache-ttl-s") * 1000,
            .max_entries = (uint64_t)cfg_int(&n->cfg, "search-cache-max")};
    if (cfg_int(&n->cfg, "llm-cache-max") > 0 && cfg_int(&n->cfg, "llm-cache-ttl-s") > 0)
        bc.policy.caches[bc.policy.ncaches++] = (lc_cache_policy){
            .type = "llm",
            .ttl_ms = cfg_int(&n->cfg, "llm-cache-ttl-s") * 1000,
            .max_entries = (uint64_t)cfg_int(&n->cfg, "llm-cache-max")};
    bc.local_worker_prefix = "local:";
    bc.sched = (sched_config){.clock_offset_ms = cfg_int(&n->cfg, "clock-offset-ms"),
                              .retention_ms = bc.retention_ms,
                              .backups_keep = (unsigned)cfg_int(&n->cfg, "backups-keep"),
                              .data_dir = cfg_str(&n->cfg, "data-dir"),
                              .builtins = 1,
                              .chart_max_age_ms = cfg_int(&n->cfg, "chart-max-age-s") * 1000,
                              .chart_keep = (size_t)cfg_int(&n->cfg, "chart-max-count")};
    /* Webhooks: the schedule, the default secret, the dispatcher's limits. */
    static wh_schedule schedule;
    const char *sched = cfg_str(&n->cfg, "webhook-schedule");
    const char *secret = cfg_str(&n->cfg, "webhook-secret");
    wh_key key;
    if (wh_schedule_parse(sched, strlen(sched), &schedule) != EQ_OK) {
        fprintf(stderr, "econqd: --webhook-schedule \"%s\" is not a list of seconds\n", sched);
        stop_all(n);
        return 2;
    }
    /* Several space-separated secrets while one is rotated: each must parse. */
    for (const char *sp = secret; *sp;) {
        char tok[WH_SECRET_MAX_CHARS + 1];
        size_t tl;
        while (*sp == ' ')
            sp++;
        tl = strcspn(sp, " ");
        if (tl == 0)
            break;
        if (tl > WH_SECRET_MAX_CHARS) {
            tl = 0;
        } else {
            memcpy(tok, sp, tl);
            tok[tl] = '\0';
        }
        if (tl == 0 || wh_key_parse(tok, &key) != EQ_OK) {
            fprintf(stderr, "econqd: --webhook-secret is not a list of whsec_<base64> secrets\n");
            stop_all(n);
            return 2;
        }
        sp += tl;
    }
    bc.policy.webhook_schedule = &schedule;
    bc.policy.webhook_secret = secret[0] ? secret : NULL;
    bc.webhooks = 1;
    wh_config_default(&bc.webhook_http);
    bc.webhook_http.connect_timeout_ms = (long)cfg_int(&n->cfg, "webhook-connect-timeout-ms");
    bc.webhook_http.total_timeout_ms = (long)cfg_int(&n->cfg, "webhook-timeout-ms");
    if (cfg_str(&n->cfg, "webhook-allow")[0] &&
        wh_allowlist_parse(cfg_str(&n->cfg, "webhook-allow"), &bc.webhook_http.allow) != EQ_OK) {
        fprintf(stderr, "econqd: --webhook-allow is not a list of CIDR ranges\n");
        stop_all(n);
        return 2;
    }
    if (n->command == CMD_SERVER)
        bc.urls[1] = cfg_str(&n->cfg, "broker-listen");
    if ((err = broker_start(&bc, &n->br))) {
        fprintf(stderr, "econqd: the broker cannot start: %s\n", eq_strerror(err));
        stop_all(n);
        return 1;
    }
    static worker_source source;
    if (n->command == CMD_SERVE) {
        econqd_source_init(&source, n->st);
        worker_source_set(&source);
        export_worker_settings(n);
        worker_pool_config wc;
        char prefix[128], hostname[64] = "host";
        gethostname(hostname, sizeof hostname - 1);
        snprintf(prefix, sizeof prefix, "local:%s:%d:", hostname, (int)getpid());
        worker_pool_config_defaults(&wc);
        wc.url = bc.urls[0];
        for (size_t i = 0; worker_kinds[i] && i < 7; i++)
            wc.kinds[i] = worker_kinds[i]->name;
        wc.threads = (unsigned)cfg_int(&n->cfg, "worker-threads");
        wc.name_prefix = prefix;
        wc.lease_ms = bc.policy.lease_ms;
        wc.lease_wait_ms = (uint32_t)cfg_int(&n->cfg, "lease-wait-ms");
        wc.lease_batch = (unsigned)cfg_int(&n->cfg, "lease-batch");
        if ((err = worker_pool_start(&wc, &n->workers))) {
            fprintf(stderr, "econqd: workers cannot start: %s\n", eq_strerror(err));
            stop_all(n);
            return 1;
        }
    }
    api_auth *auth = NULL;
    api_ratelimit *rl = NULL;
    if (econqd_guards_open(&n->cfg, &auth, &rl) != EQ_OK) {
        stop_all(n);
        return 1;
    }
    cfg_hostport(cfg_str(&n->cfg, "listen"), host, sizeof host, &port);
    api_config ac = {
        .host = host,
        .port = port,
        .st = n->st,
        .broker_url = bc.urls[0],
        .events_url = bc.events_url,
        .max_body_bytes = (size_t)cfg_int(&n->cfg, "max-body-bytes"),
        .upload_max_bytes = (size_t)cfg_int(&n->cfg, "upload-max-bytes"),
        .webhook_secret_set = cfg_str(&n->cfg, "webhook-secret")[0] != '\0',
        .max_connections = (size_t)cfg_int(&n->cfg, "max-connections"),
        .header_timeout_ms = (unsigned)cfg_int(&n->cfg, "header-timeout-ms"),
        .idle_timeout_ms = (unsigned)cfg_int(&n->cfg, "idle-timeout-ms"),
        .job_types = job_types,
        .max_attempts_default = (int)cfg_int(&n->cfg, "max-attempts"),
        .health_worker_window_ms = bc.policy.lease_ms + 30000,
        .llm_breaker = n->command == CMD_SERVE ? llm_breaker_status : NULL,
    };
    ac.auth = auth;
    ac.rl = rl;
    ac.metrics_auth = cfg_bool(&n->cfg, "metrics-auth");
    uv_loop_init(&n->loop);
    if ((err = api_start(&n->loop, &ac, &n->api))) {
        fprintf(stderr, "econqd: cannot listen on %s: %s\n", cfg_str(&n->cfg, "listen"),
                eq_strerror(err));
        uv_run(&n->loop, UV_RUN_DEFAULT);
        uv_loop_close(&n->loop);
        stop_all(n);
        api_auth_free(auth);
        api_rl_free(rl);
        return 1;
    }
    uv_signal_init(&n->loop, &n->sigint);
    uv_signal_init(&n->loop, &n->sigterm);
    n->sigint.data = n->sigterm.data = n;
    uv_signal_start(&n->sigint, on_signal, SIGINT);
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    snprintf(num, sizeof num, "%d", api_port(n->api));
    eq_log(EQ_LOG_INFO, "listening", "address", host, "port", num, "data_dir",
           cfg_str(&n->cfg, "data-dir"), "durability", cfg_str(&n->cfg, "durability"), "mode",
           n->command == CMD_SERVE ? "serve" : "server", NULL);
    /* A line on stdout for scripts and tests that start econqd on port 0. */
    printf("econqd listening on http://%s:%d\n", host, api_port(n->api));
    fflush(stdout);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    uv_loop_close(&n->loop);
    stop_all(n);
    api_auth_free(auth);
    api_rl_free(rl);
    eq_log(EQ_LOG_INFO, "stopped", NULL);
    return n->exit_code;
}

static int run_worker(node *n) {
    sigset_t set;
    int sig;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads started below inherit the mask */
    worker_pool_config wc;
    char prefix[128], hostname[64] = "host";
    gethostname(hostname, sizeof hostname - 1);
    snprintf(prefix, sizeof prefix, "%s:%d:", hostname, (int)getpid());
    worker_pool_config_defaults(&wc);
    wc.url = cfg_str(&n->cfg, "connect");
    wc.kinds[0] = cfg_str(&n->cfg, "kind");
    wc.threads = (unsigned)cfg_int(&n->cfg, "worker-threads");
    wc.name_prefix = prefix;
    wc.lease_ms = cfg_int(&n->cfg, "lease-ms");
    wc.lease_wait_ms = (uint32_t)cfg_int(&n->cfg, "lease-wait-ms");
    wc.lease_batch = (unsigned)cfg_int(&n->cfg, "lease-batch");
    if (!worker_kind_find(wc.kinds[0])) {
        fprintf(stderr, "econqd: unknown worker kind \"%s\"; kinds:", wc.kinds[0]);
        for (size_t i = 0; worker_kinds[i]; i++)
            fprintf(stderr, " %s", worker_kinds[i]->name);
        fprintf(stderr, "\n");
        return 2;
    }
    export_worker_settings(n);
    static worker_source source;
    store *st = NULL;
    int remote = 0;
    if (cfg_str(&n->cfg, "store-dir")[0]) {
        /* The server's store must exist: a wrong path would make a new, empty one. */
        char mdb[4200];
        snprintf(mdb, sizeof mdb, "%s/data.mdb", cfg_str(&n->cfg, "store-dir"));
        if (access(mdb, R_OK) != 0) {
            fprintf(stderr, "econqd: no econq store in %s (--store-dir names the server's data "
                            "directory)\n",
                    cfg_str(&n->cfg, "store-dir"));
            return 1;
        }
        store_opts so;
        store_opts_defaults(&so);
        so.map_size = 0; /* the server's */
        eq_err serr = store_open(cfg_str(&n->cfg, "store-dir"), &so, &st);
        if (serr) {
            fprintf(stderr, "econqd: cannot open the store in %s: %s\n",
                    cfg_str(&n->cfg, "store-dir"), eq_strerror(serr));
            return 1;
        }
        econqd_source_init(&source, st);
        worker_source_set(&source);
    } else if (remote_source_open(wc.url, &source) == EQ_OK) {
        /* No store here: collections are read from the broker. */
        worker_source_set(&source);
        remote = 1;
    }
    eq_err err = worker_pool_start(&wc, &n->workers);
    if (err) {
        fprintf(stderr, "econqd: the worker cannot start: %s\n", eq_strerror(err));
        worker_source_set(NULL);
        if (remote)
            remote_source_close(&source);
        store_close(st);
        return 1;
    }
    eq_log(EQ_LOG_INFO, "worker started", "kind", wc.kinds[0], "broker", wc.url, NULL);
    printf("econqd worker %s connected to %s\n", wc.kinds[0], wc.url);
    fflush(stdout);
    sigwait(&set, &sig);
    eq_log(EQ_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    worker_pool_stop(n->workers, cfg_int(&n->cfg, "shutdown-grace-ms"));
    worker_source_set(NULL);
    if (remote)
        remote_source_close(&source);
    store_close(st);
    return 0;
}

int main(int argc, char **argv) {
    static node n;
    char err[512];
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("econqd %s\n", ECONQD_VERSION);
        return 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "keygen") == 0)
        return econqd_keygen(argc - 2, argv + 2);
    n.command = strcmp(cmd, "serve") == 0    ? CMD_SERVE
                : strcmp(cmd, "server") == 0 ? CMD_SERVER
                : strcmp(cmd, "worker") == 0 ? CMD_WORKER
                : strcmp(cmd, "backup") == 0 ? CMD_BACKUP
                : strcmp(cmd, "restore") == 0 ? CMD_RESTORE
                                             : 0;
    if (!n.command) {
        fprintf(stderr, "econqd: unknown command \"%s\"\n\n", cmd);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            command_help(cmd, n.command);
            return 0;
        }
    }
    if (eq_config_parse(&n.cfg, econqd_settings, econqd_nsettings, n.command, argc - 2, argv + 2,
                        err, sizeof err) != EQ_OK) {
        fprintf(stderr, "econqd %s: %s\n", cmd, err);
        /* --check-config answers 0 or 1, whatever is wrong. */
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], "--check-config") == 0)
                return 1;
        return 2;
    }
    eq_log_set_level((eq_log_level)eq_log_level_parse(cfg_str(&n.cfg, "log-level")));
    /* Large buffers (request bodies, embed results of a few MB) straight from mmap, so that
     * their memory goes back to the system when freed instead of staying in a thread's arena:
     * loading 100,000 documents otherwise left ~200 MB of freed heap behind. */
    mallopt(M_MMAP_THRESHOLD, ECONQD_MMAP_THRESHOLD);
    /* GSL's default handler aborts; the forecast engine checks every status itself. */
    gsl_set_error_handler_off();
    signal(SIGPIPE, SIG_IGN);
    if (n.command & CMD_ALL) {
        /* Production refusals and --check-config (cmd/econqd/check.c). */
        int bad = econqd_check(&n.cfg, n.command, stderr);
        if (bad || cfg_bool(&n.cfg, "check-config")) {
            if (!bad)
                printf("econqd %s: the configuration is valid\n", cmd);
            return bad;
        }
    }
    if (n.command == CMD_WORKER)
        return run_worker(&n);
    if (n.command == CMD_BACKUP)
        return econqd_backup(&n.cfg);
    if (n.command == CMD_RESTORE)
        return econqd_restore(&n.cfg);
    if (schemas_init() != EQ_OK) {
        fprintf(stderr, "econqd: the embedded schemas do not compile\n");
        return 1;
    }
    int rc = run_node(&n);
    schemas_fini();
    return rc;
}
