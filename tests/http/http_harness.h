/* Runs an http_server on its own loop thread for the tests; see http_server_test.c. */
#ifndef ECONQ_TESTS_HTTP_HTTP_HARNESS_H
#define ECONQ_TESTS_HTTP_HTTP_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <uv.h>

#include "api/http/http_server.h"

#define HARNESS_HELD_MAX 16

enum harness_cmd { CMD_NONE, CMD_STOP, CMD_RESPOND_HELD, CMD_QUERY };

typedef struct harness {
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t timer;
    uv_thread_t thread;
    http_server *srv;
    http_server_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* written by the loop thread under mu */
    bool started, stopped;
    eq_err start_err;
    int port;
    int cmd;
    unsigned acks, sent;
    int held_seen; /* requests held so far */
    int held_gone; /* held requests found closed and answered (http_respond returned) */
    size_t conns;  /* CMD_QUERY results */
    http_server_stats stats;
    /* loop thread only */
    http_request *held[HARNESS_HELD_MAX];
    int nheld;
    bool watch;
    int depth; /* handler nesting: must stay 0 on entry */
} harness;

/* Starts the server with `cfg` (port forced to 0) on a new loop thread; fails the test on error. */
void harness_start(harness *h, const http_server_config *cfg);
/* Sends a command to the loop thread and waits until it was carried out. */
void harness_cmd(harness *h, int cmd);
/* Waits until at least n requests are held (or fails the test after 5 s). */
void harness_wait_held(harness *h, int n);
/* Waits until n held requests in all were found closed (polled or told) and answered. */
void harness_wait_held_closed(harness *h, int n);
/* Stops the server, joins the thread and checks that no libuv handle leaked. */
void harness_stop(harness *h);
/* The test configuration: small limits so that the tests stay small. */
void harness_config(http_server_config *cfg);

#endif
