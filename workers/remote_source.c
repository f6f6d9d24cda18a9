/* A worker_source that reads collections from the broker over nng (PROTO_COLL_READ), for
 * workers that cannot open the store: `econqd worker` on another machine. See
 * remote_source.h. */
#include "workers/remote_source.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/proto.h"

/* How long one read may take at the broker (a page of 8 MB is milliseconds). */
#define REMOTE_SOURCE_TIMEOUT_MS 30000
/* Documents asked for per page while a collection loads. */
#define REMOTE_SOURCE_PAGE 2000

typedef struct remote {
    nng_socket sock;
} remote;

/* One request and its reply on a context of its own (callers run in parallel). On EQ_OK the
 * reply's status is in *status and rd points after the header; free *msg. */
static eq_err call(remote *r, const eq_buf *req, nng_msg **msg, eq_rd *rd, eq_err *status) {
    nng_ctx ctx;
    nng_aio *aio = NULL;
    nng_msg *m = NULL;
    *msg = NULL;
    if (req->oom || nng_ctx_open(&ctx, r->sock) != 0)
        return EQ_ENOMEM;
    eq_err err = EQ_OK;
    if (nng_aio_alloc(&aio, NULL, NULL) != 0 || nng_msg_alloc(&m, 0) != 0 ||
        nng_msg_append(m, req->data, req->len) != 0) {
        err = EQ_ENOMEM;
        goto out;
    }
    nng_aio_set_timeout(aio, REMOTE_SOURCE_TIMEOUT_MS);
    nng_aio_set_msg(aio, m);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    if (nng_aio_result(aio) != 0) {
        err = EQ_ENET;
        goto out;
    }
    m = NULL; /* sent: nng owns it */
    nng_ctx_recv(ctx, aio);
    nng_aio_wait(aio);
    if (nng_aio_result(aio) != 0) {
        err = EQ_ENET;
        goto out;
    }
    *msg = nng_aio_get_msg(aio);
    eq_rd_init(rd, nng_msg_body(*msg), nng_msg_len(*msg));
    char *text = NULL;
    if (proto_dec_reply(rd, status, &text) != EQ_OK)
        err = EQ_EPROTO;
    free(text);
    if (err) {
        nng_msg_free(*msg);
        *msg = NULL;
    }
out:
    if (m)
        nng_msg_free(m);
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    return err;
}

/* Reads the collection head every reply starts with. */
static void read_info(eq_rd *rd, worker_coll_info *info) {
    memset(info, 0, sizeof *info);
    char *emb = eq_rd_str(rd, sizeof info->embedder - 1);
    info->dim = eq_rd_u32(rd);
    info->count = eq_rd_u64(rd);
    info->generation = eq_rd_u64(rd);
    if (!emb || info->dim == 0 || info->dim > 4096)
        rd->bad = 1;
    else
        memcpy(info->embedder, emb, strlen(emb) + 1);
    free(emb);
}

/* Sends a read; on EQ_OK the reply is in *msg (free it) with rd after the collection head. */
static eq_err read_req(remote *r, uint8_t what, const char *name, const char *key, uint64_t from,
                       uint32_t max, nng_msg **msg, eq_rd *rd, worker_coll_info *info) {
    eq_buf req;
    eq_buf_init(&req);
    proto_enc_coll_read(&req, what, name, key, from, max);
    eq_err status;
    eq_err err = call(r, &req, msg, rd, &status);
    eq_buf_fini(&req);
    if (err)
        return err;
    if (status != EQ_OK) {
        nng_msg_free(*msg);
        *msg = NULL;
        return status;
    }
    read_info(rd, info);
    if (rd->bad) {
        nng_msg_free(*msg);
        *msg = NULL;
        return EQ_EPROTO;
    }
    return EQ_OK;
}

static eq_err r_info(void *ctx, const char *name, worker_coll_info *out) {
    nng_msg *msg;
    eq_rd rd;
    eq_err err = read_req(ctx, PROTO_COLL_INFO, name, NULL, 0, 0, &msg, &rd, out);
    if (!err)
        nng_msg_free(msg);
    return err;
}

/* Calls fn for n documents of a page or a change list (`changes`: a presence byte each). */
static eq_err each_doc(eq_rd *rd, uint32_t n, uint32_t dim, int changes, worker_coll_doc_fn fn,
                       void *arg, int *stopped) {
    for (uint32_t i = 0; i < n && !*stopped; i++) {
        char *id = eq_rd_str(rd, 1024);
        int present = changes ? eq_rd_u8(rd) : 1;
        size_t vl = 0;
        const void *vec = present ? eq_rd_bytes(rd, &vl, (size_t)dim * 4) : NULL;
        if (!id || rd->bad || (present && vl != (size_t)dim * 4)) {
            free(id);
            return EQ_EPROTO;
        }
        *stopped = fn(arg, id, vec, dim);
        free(id);
    }
    return EQ_OK;
}

static eq_err r_load(void *ctx, const char *name, worker_coll_info *info, worker_coll_doc_fn fn,
                     void *arg) {
    char after[1025] = "";
    int more = 1, stopped = 0, first = 1;
    while (more && !stopped) {
        nng_msg *msg;
        eq_rd rd;
        worker_coll_info page;
        eq_err err = read_req(ctx, PROTO_COLL_PAGE, name, after, 0, REMOTE_SOURCE_PAGE, &msg, &rd,
                              &page);
        if (err)
            return err;
        /* Pages come from several snapshots: the index takes the first one's generation, and
         * its next catch-up replays whatever changed while the pages were read. */
        if (first)
            *info = page, first = 0;
        if (page.dim != info->dim || strcmp(page.embedder, info->embedder) != 0) {
            nng_msg_free(msg);
            return EQ_ESTALE; /* dropped and made again while loading */
        }
        uint32_t n = eq_rd_u32(&rd);
        /* Remember the last id of the page to continue after it. */
        eq_rd scan = rd;
        char *last = NULL;
        for (uint32_t i = 0; i < n && !scan.bad; i++) {
            free(last);
            last = eq_rd_str(&scan, 1024);
            size_t vl;
            eq_rd_bytes(&scan, &vl, (size_t)page.dim * 4);
        }
        err = each_doc(&rd, n, page.dim, 0, fn, arg, &stopped);
        more = eq_rd_u8(&rd);
        if (!err && (rd.bad || (more && !last)))
            err = EQ_EPROTO;
        if (last)
            snprintf(after, sizeof after, "%s", last);
        free(last);
        nng_msg_free(msg);
        if (err)
            return err;
    }
    return EQ_OK;
}

static eq_err r_changes(void *ctx, const char *name, uint64_t from, worker_coll_info *info,
                        worker_coll_doc_fn fn, void *arg) {
    nng_msg *msg;
    eq_rd rd;
    eq_err err = read_req(ctx, PROTO_COLL_CHANGES, name, NULL, from, 0, &msg, &rd, info);
    if (err)
        return err;
    uint64_t last = eq_rd_u64(&rd);
    uint32_t n = eq_rd_u32(&rd);
    int stopped = 0;
    err = rd.bad ? EQ_EPROTO : each_doc(&rd, n, info->dim, 1, fn, arg, &stopped);
    nng_msg_free(msg);
    if (!err && last != info->generation)
        err = EQ_ESTALE;
    return err;
}

static char *dup_bytes(const void *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static eq_err r_doc(void *ctx, const char *name, const char *id, char **text, char **meta) {
    nng_msg *msg;
    eq_rd rd;
    worker_coll_info info;
    *text = *meta = NULL;
    eq_err err = read_req(ctx, PROTO_COLL_DOC, name, id, 0, 0, &msg, &rd, &info);
    if (err)
        return err;
    size_t tl = 0, ml = 0;
    const void *t = eq_rd_bytes(&rd, &tl, 400000);
    const void *m = eq_rd_bytes(&rd, &ml, 65536);
    if (rd.bad || !t || !m) {
        err = EQ_EPROTO;
    } else {
        *text = dup_bytes(t, tl);
        *meta = dup_bytes(m, ml);
        if (!*text || !*meta) {
            free(*text);
            free(*meta);
            *text = *meta = NULL;
            err = EQ_ENOMEM;
        }
    }
    nng_msg_free(msg);
    return err;
}

static eq_err r_docs(void *ctx, const char *name, const char *const *ids, size_t n, char **texts,
                     char **metas) {
    for (size_t i = 0; i < n; i++)
        texts[i] = metas[i] = NULL;
    if (n > PROTO_COLL_DOCS_MAX)
        return EQ_EINVAL;
    eq_buf req;
    eq_buf_init(&req);
    proto_enc_coll_docs(&req, name, ids, (uint32_t)n);
    nng_msg *msg;
    eq_rd rd;
    eq_err status;
    eq_err err = call(ctx, &req, &msg, &rd, &status);
    eq_buf_fini(&req);
    if (err)
        return err;
    if (status != EQ_OK) {
        nng_msg_free(msg);
        return status;
    }
    worker_coll_info info;
    read_info(&rd, &info);
    for (size_t i = 0; i < n && !rd.bad && !err; i++) {
        if (!eq_rd_u8(&rd))
            continue; /* gone */
        size_t tl = 0, ml = 0;
        const void *t = eq_rd_bytes(&rd, &tl, 400000);
        const void *m = eq_rd_bytes(&rd, &ml, 65536);
        if (rd.bad || !t || !m)
            break;
        texts[i] = dup_bytes(t, tl);
        metas[i] = dup_bytes(m, ml);
        if (!texts[i] || !metas[i])
            err = EQ_ENOMEM;
    }
    if (!err && rd.bad)
        err = EQ_EPROTO;
    nng_msg_free(msg);
    if (err) {
        for (size_t i = 0; i < n; i++) {
            free(texts[i]);
            free(metas[i]);
            texts[i] = metas[i] = NULL;
        }
    }
    return err;
}

eq_err remote_source_open(const char *url, worker_source *out) {
    remote *r = calloc(1, sizeof *r);
    if (!r)
        return EQ_ENOMEM;
    if (nng_req0_open(&r->sock) != 0) {
        free(r);
        return EQ_ENOMEM;
    }
    /* Retries of a lost request would re-send reads: harmless, they change nothing. */
    if (nng_dial(r->sock, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
        nng_close(r->sock);
        free(r);
        return EQ_EINVAL;
    }
    *out = (worker_source){.ctx = r,
                           .coll_info = r_info,
                           .coll_load = r_load,
                           .coll_changes = r_changes,
                           .coll_doc = r_doc,
                           .coll_docs = r_docs};
    return EQ_OK;
}

void remote_source_close(worker_source *src) {
    remote *r = src ? src->ctx : NULL;
    if (!r)
        return;
    nng_close(r->sock);
    free(r);
    src->ctx = NULL;
}
