/* Starts and stops tests/fakes/webhook_receiver.py for the dispatcher tests, and reads what it
 * recorded. Test helper: failures abort the test through Check. */
#ifndef ECONQ_TESTS_WEBHOOK_WH_RECEIVER_PROC_H
#define ECONQ_TESTS_WEBHOOK_WH_RECEIVER_PROC_H

#include <sys/types.h>

#include <cjson/cJSON.h>

typedef struct wh_rx {
    pid_t pid;
    int port;
    char ca[256];  /* the certificate to trust when it speaks https, "" for http */
    char host[64]; /* as written in a URL: "127.0.0.1" or "[::1]" */
} wh_rx;

/* Starts the receiver on 127.0.0.1 with `secret` (NULL: no verification) and waits for its port. */
void wh_rx_start(wh_rx *rx, const char *secret);

/* Like wh_rx_start(), listening on `host` ("127.0.0.1" or "::1"). */
void wh_rx_start_on(wh_rx *rx, const char *host, const char *secret);

/* Like wh_rx_start(), speaking https with the PEM certificate and key at the given paths. */
void wh_rx_start_tls(wh_rx *rx, const char *secret, const char *cert, const char *key);

/* Writes a self-signed P-256 certificate for "localhost" and 127.0.0.1 to `cert` and its key to
 * `key` (paths). */
void wh_tls_selfsigned(const char *cert, const char *key);

/* Kills the receiver and reaps it. */
void wh_rx_stop(wh_rx *rx);

/* POST /control with `json` (e.g. {"mode":"status","code":503}): the default answer changes. */
void wh_rx_control(const wh_rx *rx, const char *json);

/* GET /deliveries: the parsed array (caller frees with cJSON_Delete). */
cJSON *wh_rx_deliveries(const wh_rx *rx);

#endif
