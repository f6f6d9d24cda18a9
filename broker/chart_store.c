/* Stored charts and workbooks (see broker/chart_store.h). Runs on the broker's writer thread. */
#include "broker/chart_store.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/id.h"
#include "common/job.h"
#include "common/log.h"
#include "store/store_sched.h"

static int b64_val(int ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* Standard base64 with padding; NULL when malformed or too large. */
static unsigned char *b64_decode(const char *s, size_t *len) {
    size_t n = strlen(s);
    if (n % 4 || n / 4 * 3 > CHART_STORE_MAX_BYTES) return NULL;
    unsigned char *out = malloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; out && i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = s[i + k] == '=' && i + 4 == n && k >= 2 ? 0 : b64_val((unsigned char)s[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 || (s[i + 2] == '=' && s[i + 3] != '=')) {
            free(out);
            return NULL;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (s[i + 2] != '=') out[o++] = (unsigned char)(w >> 8);
        if (s[i + 3] != '=') out[o++] = (unsigned char)w;
    }
    *len = o;
    return out;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes the file whole or not at all (temporary name, fsync, rename, directory fsync). */
static eq_err write_file(const char *dir, const char *name, const unsigned char *p, size_t n) {
    char path[4096], tmp[4200];
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) return EQ_EIO;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return EQ_EIO;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == n && fsync(fd) == 0;
    if (close(fd) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0 || fsync_dir(dir) != 0) {
        unlink(tmp);
        return EQ_EIO;
    }
    return EQ_OK;
}

static void to_failure(proto_outcome *o, const char *msg) {
    free(o->result);
    o->result = NULL;
    o->failed = 1;
    o->code = strdup("chart_store_failed");
    o->message = strdup(msg);
    o->retryable = 1;
}

eq_err chart_store_outcome(const char *data_dir, lc_ctx *c, proto_outcome *o) {
    if (o->failed || !o->result || !strstr(o->result, "\"data_b64\"")) return EQ_OK;
    eq_job j;
    eq_err err = store_job_get(c->txn, o->id, &j);
    if (err) return err == EQ_ENOTFOUND ? EQ_OK : err;
    int mine = (strcmp(j.type, "chart") == 0 || strcmp(j.type, "report") == 0) &&
               j.state == JOB_RUNNING && j.attempt == o->attempt;
    char job_id[EQ_ID_LEN + 1];
    snprintf(job_id, sizeof job_id, "%s", j.id);
    eq_job_fini(&j);
    if (!mine) return EQ_OK; /* a stale outcome: lc_complete refuses it */
    cJSON *res = cJSON_Parse(o->result);
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(res, "data_b64");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(res, "content_type");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(res, "format");
    size_t len = 0;
    unsigned char *bytes = cJSON_IsString(b64) ? b64_decode(b64->valuestring, &len) : NULL;
    int fmt_ok = cJSON_IsString(fmt) &&
                 (strcmp(fmt->valuestring, "png") == 0 || strcmp(fmt->valuestring, "svg") == 0 ||
                  strcmp(fmt->valuestring, "xlsx") == 0);
    if (!bytes || !fmt_ok || !cJSON_IsString(ct) ||
        strlen(ct->valuestring) >= sizeof(((store_chart *)0)->content_type)) {
        free(bytes);
        cJSON_Delete(res);
        to_failure(o, "the worker's chart payload is malformed");
        return EQ_OK;
    }
    store_chart sc = {.created_ms = c->now, .size = len};
    char id[EQ_ID_LEN + 1], dir[4096], name[64];
    eq_id_new(c->now, id);
    snprintf(sc.content_type, sizeof sc.content_type, "%s", ct->valuestring);
    snprintf(sc.ext, sizeof sc.ext, "%s", fmt->valuestring);
    snprintf(sc.job_id, sizeof sc.job_id, "%s", job_id);
    snprintf(dir, sizeof dir, "%s/charts", data_dir);
    snprintf(name, sizeof name, "%s.%s", id, sc.ext);
    err = write_file(dir, name, bytes, len);
    free(bytes);
    cJSON_Delete(res);
    if (err) {
        eq_log(EQ_LOG_ERROR, "cannot write a chart", "dir", dir, "error", eq_strerror(err), NULL);
        to_failure(o, "the chart could not be written to disk");
        return EQ_OK;
    }
    if ((err = store_chart_put(c->txn, id, &sc))) return err;
    char *text = NULL;
    if (asprintf(&text,
                 "{\"chart_id\":\"%s\",\"url\":\"/v1/charts/%s\",\"content_type\":\"%s\","
                 "\"format\":\"%s\",\"bytes\":%zu}",
                 id, id, sc.content_type, sc.ext, len) < 0)
        return EQ_ENOMEM;
    free(o->result);
    o->result = text;
    return EQ_OK;
}

static void unlinks_add(chart_unlinks *u, const char *path) {
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16;
        char **p = realloc(u->paths, cap * sizeof *p);
        if (!p) return; /* the file stays an orphan; the next pass removes it */
        u->paths = p;
        u->cap = cap;
    }
    if ((u->paths[u->n] = strdup(path))) u->n++;
}

void chart_unlinks_run(chart_unlinks *u, int committed) {
    for (size_t i = 0; i < u->n; i++) {
        if (committed && unlink(u->paths[i]) != 0 && errno != ENOENT)
            eq_log(EQ_LOG_WARN, "cannot remove a chart", "path", u->paths[i], NULL);
        free(u->paths[i]);
    }
    free(u->paths);
    memset(u, 0, sizeof *u);
}

typedef struct gc_list {
    const char *dir;
    chart_gc_entry *e;
    char (*ids)[EQ_ID_LEN + 1];
    char (*ext)[8];
    size_t n, cap;
} gc_list;

static int gc_collect(void *arg, const char *id, const store_chart *c) {
    gc_list *g = arg;
    if (g->n == g->cap) return 1;
    char path[4200];
    struct stat sb;
    snprintf(g->ids[g->n], EQ_ID_LEN + 1, "%s", id);
    snprintf(g->ext[g->n], 8, "%s", c->ext);
    snprintf(path, sizeof path, "%s/%s.%s", g->dir, id, c->ext);
    g->e[g->n] = (chart_gc_entry){.id = g->ids[g->n], .created_ms = c->created_ms};
    if (stat(path, &sb) == 0)
        g->e[g->n].accessed_ms = (int64_t)sb.st_atim.tv_sec * 1000 + sb.st_atim.tv_nsec / 1000000;
    g->n++;
    return 0;
}

/* Files without an index entry (and leftover temporaries) older than the grace period. */
static size_t remove_orphans(const char *dir, lc_ctx *c, int64_t now, int64_t grace_ms) {
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[4200], id[EQ_ID_LEN + 1];
        struct stat sb;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        int64_t mtime = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        if (now - mtime < grace_ms) continue;
        int orphan = strstr(e->d_name, ".tmp") != NULL || strlen(e->d_name) < EQ_ID_LEN;
        if (!orphan) {
            store_chart sc;
            memcpy(id, e->d_name, EQ_ID_LEN);
            id[EQ_ID_LEN] = '\0';
            orphan = store_chart_get(c->txn, id, &sc) == EQ_ENOTFOUND;
        }
        if (orphan && unlink(path) == 0) n++;
    }
    closedir(d);
    return n;
}

eq_err chart_store_gc(const char *data_dir, lc_ctx *c, int64_t now, const chart_gc_policy *pol,
                      chart_unlinks *u, char *result, size_t rlen) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/charts", data_dir);
    gc_list g = {.dir = dir, .cap = CHART_STORE_GC_MAX};
    size_t nsel = 0, *sel = NULL;
    g.e = calloc(g.cap, sizeof *g.e);
    g.ids = calloc(g.cap, sizeof *g.ids);
    g.ext = calloc(g.cap, sizeof *g.ext);
    /* Orphans first: files whose entries this pass deletes are not orphans until it commits. */
    size_t orphans = remove_orphans(dir, c, now, pol->grace_ms);
    eq_err err = g.e && g.ids && g.ext ? store_charts_each(c->txn, gc_collect, &g) : EQ_ENOMEM;
    if (!err && g.n) {
        sel = calloc(g.n, sizeof *sel);
        err = sel ? chart_gc_select(g.e, g.n, now, pol, sel, &nsel) : EQ_ENOMEM;
    }
    for (size_t i = 0; !err && i < nsel; i++) {
        char path[4200];
        err = store_chart_del(c->txn, g.ids[sel[i]]);
        snprintf(path, sizeof path, "%s/%s.%s", dir, g.ids[sel[i]], g.ext[sel[i]]);
        if (!err) unlinks_add(u, path);
    }
    if (!err)
        snprintf(result, rlen, "{\"removed\":%zu,\"kept\":%zu,\"orphans_removed\":%zu}", nsel,
                 g.n - nsel, orphans);
    free(sel);
    free(g.e);
    free(g.ids);
    free(g.ext);
    return err;
}
