/* Private structures shared by the files of api/http/. Nothing outside this folder includes it
 * (tests may). */
#ifndef ECONQ_API_HTTP_HTTP_INTERNAL_H
#define ECONQ_API_HTTP_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "api/http/http_parse.h"
#include "api/http/http_server.h"

#define HTTP_READ_BUF_BYTES                                                                        \
    ((size_t)64 * 1024)        /* one read; shared by every connection of a server */
#define HTTP_REQUEST_ID_MAX 64 /* longest X-Request-Id kept from a client */
#define HTTP_ADDR_MAX 48       /* textual IPv6 address + NUL */
#define HTTP_STASH_READ_BYTES ((size_t)16 * 1024) /* unparsed bytes kept before reading stops */
#define HTTP_WRITE_BATCH 16                       /* pipelined responses written by one writev */
#define HTTP_HEAD_STACK_BYTES 1024 /* response heads up to this are built on the stack */
#define HTTP_LINGER_MS 2000        /* after our last response: drain the client this long */
#define HTTP_LINGER_MAX_BYTES                                                                      \
    ((size_t)1024 * 1024)    /* ... or until this many bytes were discarded */
#define HTTP_REJECT_EXTRA 64 /* connections being answered 503 at once, beyond max */

typedef struct http_conn http_conn;

typedef struct http_header {
    const char *name;
    const char *value;
} http_header;

struct http_request {
    http_conn *conn;    /* NULL once the connection is gone (detached) */
    http_request *next; /* the connection's queue, in arrival order */
    int method;         /* enum http_method, -1 for the server's own error answers */
    unsigned short http_major, http_minor;
    bool keep_alive;   /* the connection may carry another request after this one */
    bool dispatched;   /* handed to the handler (or answered by the server) */
    bool responded;    /* http_respond() was called */
    bool closed;       /* the client went away while the handler held the request */
    const char *url;   /* raw request-target */
    const char *path;  /* percent-decoded */
    const char *query; /* raw, or NULL */
    http_header *headers;
    size_t nheaders;
    char *body; /* malloc'd (NUL-terminated) or NULL */
    size_t body_len, body_cap;
    void *userdata;
    void (*close_cb)(void *arg, http_request *r); /* http_request_on_close() */
    void *close_arg;
    bool notify_pending; /* detached; close_cb runs from the connection's close callback */
    char *out;           /* the response bytes not yet written (malloc'd) */
    size_t out_len, out_off;
    char id[HTTP_REQUEST_ID_MAX + 1];
    char remote[HTTP_ADDR_MAX];
    /* One allocation: this struct, then headers[], then url, names, values, decoded path. */
};

typedef enum http_conn_state {
    HTTP_CONN_OPEN,     /* reading and answering requests */
    HTTP_CONN_SHUTDOWN, /* the last response is written; FIN is being sent */
    HTTP_CONN_LINGER,   /* draining what the client still sends, then close */
    HTTP_CONN_CLOSING,  /* uv_close() called */
} http_conn_state;

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    http_server *srv;
    http_conn *prev, *next; /* the server's list */
    http_reqparser parser;
    http_request *qhead, *qtail; /* parsed, not yet fully written */
    size_t nqueued;
    http_request *dispatch_next; /* first queued request not yet handed to the handler */
    http_request *detached;      /* held requests whose close_cb is still to run */
    char *stash;                 /* bytes read but not parsed while the queue was full */
    size_t stash_len, stash_off;
    size_t inflight;              /* queued requests whose bytes the pending uv_write carries */
    uint64_t head_since;          /* loop time a request head started (0: none) */
    uint64_t deadline, timer_due; /* loop times; 0: none */
    uint64_t requests_seen;
    size_t linger_bytes; /* read and dropped after the last request */
    http_conn_state state;
    int pending_closes;
    bool rejected; /* answered 503 and closed; never parses */
    bool reading, writing, pumping, repump;
    bool no_more;  /* parse no further request (close after the queue) */
    bool draining; /* the server is stopping */
    bool peer_eof;
    bool continue_writing; /* the pending uv_write is a 100 Continue */
    bool pump_scheduled;   /* in the server's pump_list */
    http_conn *pump_next;
    char remote[HTTP_ADDR_MAX];
};

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    http_server_config cfg;
    char *host;
    http_handler_fn fn;
    void *ctx;
    http_conn *conns;
    size_t nconns, nrejecting;
    uv_idle_t pump_idle; /* runs conn_pump() for pump_list outside user callbacks */
    http_conn *pump_list;
    int open_handles; /* listener and pump_idle, until their close callbacks */
    int port;
    bool stopping;
    void (*done)(void *arg);
    void *done_arg;
    uint32_t id_prefix;
    uint64_t id_counter;
    int64_t date_sec;
    char date[40];
    http_server_stats stats;
    char readbuf[HTTP_READ_BUF_BYTES];
};

/* Request objects (http_request.c). */
http_request *http__request_new_bare(void);
void http__request_free(http_request *r);
/* Decodes %XX (and '+' as space when plus_space) from s[len] into out (room for len + 1).
 * Returns the decoded length, or -1 for a malformed escape or a NUL byte. */
long http__percent_decode(const char *s, size_t len, char *out, bool plus_space);

/* Responses (http_response.c). */
void http__respond_bytes(http_request *r, const char *head, size_t hlen, const void *body,
                         size_t blen);
const char *http__date(http_server *s);

/* Connections (http_conn.c). */
void http__conn_accept(http_server *s);
void http__conn_stop(http_conn *c);
void http__conn_pump_pending(uv_idle_t *h);
/* Sends or queues the response of r (r->conn != NULL): head and body are copied if needed. */
void http__conn_respond(http_conn *c, http_request *r, const char *head, size_t hlen,
                        const void *body, size_t blen);
bool http__conn_closing_after(const http_conn *c, const http_request *r);
/* The server hears that a connection was freed. */
void http__server_conn_gone(http_server *s, http_conn *c);

#endif
