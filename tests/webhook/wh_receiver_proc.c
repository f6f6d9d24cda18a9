#include "tests/webhook/wh_receiver_proc.h"

#include <check.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

extern char **environ;

/* Largest /deliveries answer the tests read. */
#define WH_RX_MAX_ANSWER_BYTES (8 * 1024 * 1024)

/* Starts the receiver on `host` with the given options (NULL: not given). */
static void wh_rx_spawn(wh_rx *rx, const char *host, const char *secret, const char *cert,
                        const char *key) {
    const char *src = getenv("ECONQ_SOURCE_DIR");
    ck_assert_msg(src != NULL, "ECONQ_SOURCE_DIR is not set");
    char script[PATH_MAX];
    snprintf(script, sizeof script, "%s/tests/fakes/webhook_receiver.py", src);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[12];
    int argc = 0;
    argv[argc++] = "/usr/bin/python3";
    argv[argc++] = script;
    argv[argc++] = "--host";
    argv[argc++] = (char *)host;
    if (secret != NULL) {
        argv[argc++] = "--secret";
        argv[argc++] = (char *)secret;
    }
    if (cert != NULL) {
        argv[argc++] = "--tls-cert";
        argv[argc++] = (char *)cert;
        argv[argc++] = "--tls-key";
        argv[argc++] = (char *)key;
    }
    argv[argc] = NULL;
    snprintf(rx->ca, sizeof rx->ca, "%s", cert != NULL ? cert : "");
    snprintf(rx->host, sizeof rx->host, strchr(host, ':') ? "[%s]" : "%s", host);
    int rc = posix_spawn(&rx->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    ck_assert_int_eq(rc, 0);
    FILE *f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(f);
    rx->port = 0;
    char line[64];
    if (fgets(line, sizeof line, f) != NULL) sscanf(line, "PORT %d", &rx->port);
    fclose(f);
    ck_assert_msg(rx->port > 0, "the fake receiver did not report its port");
}

void wh_rx_start(wh_rx *rx, const char *secret) {
    wh_rx_spawn(rx, "127.0.0.1", secret, NULL, NULL);
}

void wh_rx_start_on(wh_rx *rx, const char *host, const char *secret) {
    wh_rx_spawn(rx, host, secret, NULL, NULL);
}

void wh_rx_start_tls(wh_rx *rx, const char *secret, const char *cert, const char *key) {
    wh_rx_spawn(rx, "127.0.0.1", secret, cert, key);
}

void wh_tls_selfsigned(const char *cert, const char *key) {
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ck_assert(pkey != NULL && x != NULL);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    static const struct {
        int nid;
        const char *value;
    } exts[] = {{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                {NID_basic_constraints, "critical,CA:TRUE"}};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
        ck_assert_ptr_nonnull(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ck_assert_int_gt(X509_sign(x, pkey, EVP_sha256()), 0);
    FILE *f = fopen(cert, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509(f, x), 1);
    fclose(f);
    f = fopen(key, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
}

void wh_rx_stop(wh_rx *rx) {
    if (rx->pid <= 0) return;
    kill(rx->pid, SIGKILL);
    int status;
    waitpid(rx->pid, &status, 0);
    rx->pid = 0;
}

typedef struct wh_rx_buf {
    char *data;
    size_t len;
} wh_rx_buf;

static size_t wh_rx_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
    wh_rx_buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > WH_RX_MAX_ANSWER_BYTES) return 0;
    char *p = realloc(b->data, b->len + n + 1);
    if (p == NULL) return 0;
    memcpy(p + b->len, ptr, n);
    b->data = p;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

cJSON *wh_rx_deliveries(const wh_rx *rx) {
    char url[128];
    snprintf(url, sizeof url, "%s://%s:%d/deliveries", rx->ca[0] ? "https" : "http", rx->host,
             rx->port);
    wh_rx_buf b = {0};
    CURL *e = curl_easy_init();
    ck_assert_ptr_nonnull(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    if (rx->ca[0] != '\0') curl_easy_setopt(e, CURLOPT_CAINFO, rx->ca);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wh_rx_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    ck_assert_msg(rc == CURLE_OK, "GET /deliveries: %s", curl_easy_strerror(rc));
    cJSON *arr = cJSON_Parse(b.data);
    free(b.data);
    ck_assert(cJSON_IsArray(arr));
    return arr;
}

void wh_rx_control(const wh_rx *rx, const char *json) {
    char url[128];
    snprintf(url, sizeof url, "%s://%s:%d/control", rx->ca[0] ? "https" : "http", rx->host,
             rx->port);
    wh_rx_buf b = {0};
    CURL *e = curl_easy_init();
    ck_assert_ptr_nonnull(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    if (rx->ca[0] != '\0') curl_easy_setopt(e, CURLOPT_CAINFO, rx->ca);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wh_rx_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    free(b.data);
    ck_assert_msg(rc == CURLE_OK && status == 200, "POST /control failed");
}
