#include "cmd/econqd/check.h"

#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/webhook/wh_sign.h"
#include "cmd/econqd/econqd.h"
#include "common/log.h"
#include "workers/runtime.h"

/* Secrets found in examples and tutorials: never acceptable in production. */
static const char *const known_secrets[] = {
    "changeme", "change-me", "secret",   "whsec_test", "test",     "password",
    "default",  "example",   "webhook",  "whsec_changeme", "whsec_secret", NULL,
};

static int known_secret(const char *s) {
    const char *bare = strncmp(s, "whsec_", 6) == 0 ? s + 6 : s;
    for (size_t i = 0; known_secrets[i]; i++)
        if (strcasecmp(s, known_secrets[i]) == 0 || strcasecmp(bare, known_secrets[i]) == 0)
            return 1;
    return 0;
}

static const char *const rate_settings[] = {"rate-submit", "rate-read", "rate-upload"};

static int check_rates(const eq_config *c, rl_limit *limits, FILE *err) {
    int bad = 0;
    for (int g = 0; g < RL_NGROUPS; g++) {
        const char *v = cfg_str(c, rate_settings[g]);
        if (api_rate_parse(v, &limits[g]) != EQ_OK) {
            fprintf(err, "econqd: --%s \"%s\" is not RATE/BURST requests per second (e.g. "
                         "\"200/400\", \"0\" = off)\n",
                    rate_settings[g], v);
            bad = 1;
        }
    }
    return bad;
}

/* The data directory: writable by us, not readable by others. A missing directory is created
 * by the store (mode 0750) if its parent is writable. */
static int check_data_dir(const char *dir, int production, FILE *err) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", dir);
        const char *parent = dirname(copy);
        if (errno == ENOENT && access(parent, W_OK | X_OK) == 0)
            return 0;
        fprintf(err, "econqd: the data directory %s does not exist and cannot be created\n", dir);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(err, "econqd: the data directory %s is not a directory\n", dir);
        return 1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(err, "econqd: the data directory %s is not writable by this user\n", dir);
        return 1;
    }
    if (production && (st.st_mode & 0007)) {
        fprintf(err, "econqd: refusing to start in production: the data directory %s is open to "
                     "other users (mode %03o); chmod o-rwx it\n",
                dir, (unsigned)(st.st_mode & 0777));
        return 1;
    }
    return 0;
}

static int check_one_secret(const char *secret, int production, FILE *err) {
    wh_key key;
    if (!secret[0]) {
        if (!production)
            return 0;
        fprintf(err, "econqd: refusing to start in production: no webhook secret "
                     "(--webhook-secret / ECONQ_WEBHOOK_SECRET)\n");
        return 1;
    }
    /* The secret itself is never printed. */
    if (production && known_secret(secret)) {
        fprintf(err, "econqd: refusing to start in production: the webhook secret is a well-known "
                     "example value\n");
        return 1;
    }
    if (wh_key_parse(secret, &key) != EQ_OK) {
        fprintf(err, "econqd: --webhook-secret is not a valid whsec_<base64> secret\n");
        return 1;
    }
    if (!production)
        return 0;
    if (key.len < CHECK_SECRET_MIN_BYTES) {
        fprintf(err, "econqd: refusing to start in production: the webhook secret is %zu bytes; "
                     "at least %d are needed\n",
                key.len, CHECK_SECRET_MIN_BYTES);
        return 1;
    }
    return 0;
}

/* While a secret is being rotated the setting holds several, space-separated; each is checked. */
static int check_webhook_secret(const char *secret, int production, FILE *err) {
    if (!secret[0])
        return check_one_secret(secret, production, err);
    int bad = 0, n = 0;
    for (const char *p = secret; *p;) {
        char tok[WH_SECRET_MAX_CHARS + 1];
        while (*p == ' ')
            p++;
        size_t tl = strcspn(p, " ");
        if (tl == 0)
            break;
        if (tl > WH_SECRET_MAX_CHARS) {
            fprintf(err, "econqd: --webhook-secret holds a secret longer than %d characters\n",
                    WH_SECRET_MAX_CHARS);
            return 1;
        }
        memcpy(tok, p, tl);
        tok[tl] = '\0';
        bad |= check_one_secret(tok, production, err);
        p += tl;
        n++;
    }
    return n ? bad : check_one_secret("", production, err);
}

/* The LLM server's address (serve and worker): an http or https URL. */
static int check_llm_url(const eq_config *c, FILE *err) {
    const char *u = cfg_str(c, "llm-url");
    if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)
        return 0;
    fprintf(err, "econqd: --llm-url \"%s\" is not an http:// or https:// URL\n", u);
    return 1;
}

int econqd_check(const eq_config *c, unsigned command, FILE *err) {
    int production = strcmp(cfg_str(c, "env"), "production") == 0, bad = 0;
    char msg[512];
    if (command & (CMD_SERVE | CMD_WORKER))
        bad |= check_llm_url(c, err);
    if (command == CMD_WORKER) {
        if (!worker_kind_find(cfg_str(c, "kind"))) {
            fprintf(err, "econqd: unknown worker kind \"%s\"\n", cfg_str(c, "kind"));
            bad = 1;
        }
        if (!cfg_str(c, "connect")[0]) {
            fprintf(err, "econqd: --connect is empty\n");
            bad = 1;
        }
        return bad;
    }
    const char *keys = cfg_str(c, "api-keys-file");
    if (keys[0]) {
        api_auth *a = NULL;
        if (api_auth_load(keys, &a, msg, sizeof msg) != EQ_OK) {
            fprintf(err, "econqd: %s\n", msg);
            bad = 1;
        }
        api_auth_free(a);
    } else if (production) {
        fprintf(err, "econqd: refusing to start in production: no API keys "
                     "(--api-keys-file / ECONQ_API_KEYS_FILE; make one with 'econqd keygen NAME')\n");
        bad = 1;
    } else {
        char host[256];
        int port;
        if (cfg_bool(c, "metrics-auth"))
            fprintf(err, "econqd: warning: --metrics-auth has no effect without API keys\n");
        if (cfg_hostport(cfg_str(c, "listen"), host, sizeof host, &port) == EQ_OK &&
            strcmp(host, "127.0.0.1") != 0 && strcmp(host, "::1") != 0 &&
            strcmp(host, "localhost") != 0)
            fprintf(err, "econqd: warning: no API keys and listening on %s: anyone who can reach "
                         "it may submit jobs\n",
                    host);
    }
    rl_limit limits[RL_NGROUPS];
    bad |= check_rates(c, limits, err);
    int limited = limits[RL_SUBMIT].rate > 0 || limits[RL_READ].rate > 0 ||
                  limits[RL_UPLOAD].rate > 0;
    if (limited && cfg_int(c, "api-processes") > 1)
        fprintf(err, "econqd: warning: rate limits are kept per process; with %lld api processes a "
                     "client may get up to %lld times each limit\n",
                (long long)cfg_int(c, "api-processes"), (long long)cfg_int(c, "api-processes"));
    bad |= check_webhook_secret(cfg_str(c, "webhook-secret"), production, err);
    bad |= check_data_dir(cfg_str(c, "data-dir"), production, err);
    return bad;
}

eq_err econqd_guards_open(const eq_config *c, api_auth **auth, api_ratelimit **rl) {
    char msg[512];
    rl_limit limits[RL_NGROUPS];
    eq_err err;
    *auth = NULL;
    *rl = NULL;
    const char *keys = cfg_str(c, "api-keys-file");
    if (keys[0] && (err = api_auth_load(keys, auth, msg, sizeof msg))) {
        fprintf(stderr, "econqd: %s\n", msg);
        return err;
    }
    if (check_rates(c, limits, stderr)) {
        api_auth_free(*auth);
        *auth = NULL;
        return EQ_EINVAL;
    }
    if ((limits[RL_SUBMIT].rate > 0 || limits[RL_READ].rate > 0 || limits[RL_UPLOAD].rate > 0) &&
        (err = api_rl_new(limits, 0, rl))) {
        api_auth_free(*auth);
        *auth = NULL;
        return err;
    }
    if (*auth)
        eq_log(EQ_LOG_INFO, "api keys loaded", "file", keys, NULL);
    return EQ_OK;
}

int econqd_keygen(int argc, char **argv) {
    char key[128], line[AUTH_NAME_MAX + 80];
    if (argc != 1 || strcmp(argv[0], "--help") == 0) {
        fprintf(argc == 1 ? stdout : stderr,
                "usage: econqd keygen NAME\n\n"
                "Prints a new API key for NAME ([A-Za-z0-9._-], at most %d characters) and the\n"
                "line to add to the API keys file (--api-keys-file). The file keeps only the\n"
                "key's SHA-256; the key is shown once.\n",
                AUTH_NAME_MAX);
        return argc == 1 ? 0 : 2;
    }
    eq_err err = api_auth_keygen(argv[0], key, sizeof key, line, sizeof line);
    if (err == EQ_EINVAL) {
        fprintf(stderr, "econqd keygen: \"%s\" is not a key name ([A-Za-z0-9._-], 1-%d chars)\n",
                argv[0], AUTH_NAME_MAX);
        return 2;
    }
    if (err) {
        fprintf(stderr, "econqd keygen: %s\n", eq_strerror(err));
        return 1;
    }
    printf("key: %s\nline: %s\n", key, line);
    return 0;
}
