/* econq CLI helpers: options, error reporting and exit codes, input files, --param, output
 * (tables, JSON), and waiting for a job with progress. */
#include "client/cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Width of the progress bar, in characters. */
#define CLI_BAR_WIDTH 30
/* Widest table cell printed; longer values are cut with "...". */
#define CLI_CELL_MAX 60

eq_client *cli_client(cli *x) {
    if (!x->c) {
        x->c = econq_new(x->url, x->api_key);
        if (!x->c) {
            fprintf(stderr, "econq: %s is not an http:// or https:// URL\n", x->url);
            exit(CLI_USAGE);
        }
        if (x->tty && !x->quiet && !x->json)
            econq_set_long_poll_s(x->c, 1); /* a live progress line */
    }
    return x->c;
}

int cli_usage(const cli_cmd *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "econq %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: econq %s\n", cmd->usage);
    return CLI_USAGE;
}

int cli_wants_help(const cli_cmd *cmd, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: econq %s\n\n%s\n", cmd->usage, cmd->summary);
            return 1;
        }
    }
    return 0;
}

int cli_opt(const cli_cmd *cmd, int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        cli_usage(cmd, "%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

long cli_int(const cli_cmd *cmd, const char *name, const char *v, long min, long max) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        cli_usage(cmd, "%s must be a whole number from %ld to %ld", name, min, max);
        return -1;
    }
    return n;
}

int cli_fail(cli *x, eq_err err) {
    const eq_problem *p = econq_problem(x->c);
    int code;
    if (p->status > 0)
        code = CLI_API_ERROR;
    else if (err == EQ_ENET)
        code = CLI_UNREACHABLE;
    else if (err == EQ_ETIMEDOUT)
        code = CLI_TIMEOUT;
    else if (err == EQ_EINVAL || err == EQ_EIO || err == EQ_ETOOBIG)
        code = CLI_USAGE; /* bad input given on the command line or in a file */
    else
        code = CLI_API_ERROR;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddNumberToObject(e, "status", p->status);
        cJSON_AddStringToObject(e, "type", p->type);
        cJSON_AddStringToObject(e, "title", p->title);
        cJSON_AddStringToObject(e, "detail", p->detail);
        if (p->field[0]) cJSON_AddStringToObject(e, "field", p->field);
        cJSON_AddNumberToObject(o, "exit", code);
        char *s = cJSON_PrintUnformatted(o);
        if (s) printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
    if (p->status > 0) {
        fprintf(stderr, "econq: %s (HTTP %d, %s)", p->title, p->status, p->type);
        if (p->detail[0]) fprintf(stderr, ": %s", p->detail);
        if (p->field[0]) fprintf(stderr, " [at %s]", p->field);
        if (p->status == 404 && strcmp(p->type, "/problems/not-found") == 0)
            fprintf(stderr, "\n  (this server does not serve that route: an older econqd, or a "
                            "feature not built yet)");
        fputc('\n', stderr);
    } else {
        fprintf(stderr, "econq: %s: %s\n", econq_strerror(err), p->detail);
    }
    return code;
}

int cli_job_exit(const eq_job *j) {
    return j->state == EQ_JOB_SUCCEEDED ? CLI_OK : CLI_JOB_FAILED;
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "econq: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= CLI_MAX_INPUT_BYTES) {
                fprintf(stderr, "econq: %s is over %u bytes\n", path, CLI_MAX_INPUT_BYTES);
                free(buf);
                buf = NULL;
                break;
            }
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0) break;
    }
    if (buf && ferror(f)) {
        fprintf(stderr, "econq: cannot read %s\n", path);
        free(buf);
        buf = NULL;
    }
    if (f != stdin) fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = n;
    }
    return buf;
}

int cli_param_set(cJSON *params, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return -1;
    const char *v = eq + 1;
    const char *end = NULL;
    cJSON *val = cJSON_ParseWithOpts(v, &end, 1);
    if (!val || (*v == '\0')) val = (cJSON_Delete(val), cJSON_CreateString(v));
    if (!val) return -1;
    /* Walk the dotted key, creating objects as needed. */
    cJSON *at = params;
    const char *k = kv;
    for (;;) {
        const char *dot = memchr(k, '.', (size_t)(eq - k));
        size_t kl = (size_t)((dot ? dot : eq) - k);
        char key[256];
        if (kl == 0 || kl >= sizeof key) {
            cJSON_Delete(val);
            return -1;
        }
        memcpy(key, k, kl);
        key[kl] = '\0';
        if (!dot) {
            cJSON_DeleteItemFromObjectCaseSensitive(at, key);
            cJSON_AddItemToObject(at, key, val);
            return 0;
        }
        cJSON *next = cJSON_GetObjectItemCaseSensitive(at, key);
        if (!cJSON_IsObject(next)) {
            cJSON_DeleteItemFromObjectCaseSensitive(at, key);
            next = cJSON_AddObjectToObject(at, key);
        }
        at = next;
        k = dot + 1;
    }
}

void cli_print_json(const char *json) {
    printf("%s\n", json ? json : "null");
}

void cli_print_pretty(FILE *f, const char *json, int indent) {
    cJSON *o = cJSON_Parse(json);
    char *s = o ? cJSON_Print(o) : NULL;
    const char *text = s ? s : json;
    /* cJSON indents with tabs and writes "key":<tab>value; JSON strings escape their own
     * tabs, so every raw tab is layout: two spaces for indentation, one after a colon. */
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "%*s", indent, "");
        for (size_t i = 0; i < l; i++) {
            if (p[i] != '\t')
                fputc(p[i], f);
            else
                fputs(i > 0 && p[i - 1] == ':' ? " " : "  ", f);
        }
        fputc('\n', f);
        p = nl ? nl + 1 : p + l;
    }
    free(s);
    cJSON_Delete(o);
}

void cli_print_table(const char *const *head, int cols, const char *const *cells, int rows) {
    int w[32] = {0};
    if (cols > 32) cols = 32;
    for (int c = 0; c < cols; c++) {
        w[c] = (int)strlen(head[c]);
        for (int r = 0; r < rows; r++) {
            int l = (int)strlen(cells[r * cols + c]);
            if (l > w[c]) w[c] = l > CLI_CELL_MAX ? CLI_CELL_MAX : l;
        }
    }
    for (int c = 0; c < cols; c++)
        printf("%-*s%s", c + 1 < cols ? w[c] : 0, head[c], c + 1 < cols ? "  " : "\n");
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            const char *s = cells[r * cols + c];
            int l = (int)strlen(s);
            if (l > CLI_CELL_MAX)
                printf("%.*s...", CLI_CELL_MAX - 3, s);
            else
                printf("%-*s", c + 1 < cols ? w[c] : 0, s);
            fputs(c + 1 < cols ? "  " : "\n", stdout);
        }
    }
}

static const char *cli_jstr(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void cli_print_job(cli *x, const eq_job *j) {
    if (x->json) {
        cli_print_json(j->json);
        return;
    }
    cJSON *o = cJSON_Parse(j->json);
    printf("id          %s\n", j->id);
    printf("type        %s\n", j->type);
    printf("state       %s%s%s\n", econq_job_state_name(j->state), j->cached ? " (cached)" : "",
           j->cancel_requested ? " (cancel requested)" : "");
    printf("attempt     %d of %d\n", j->attempt, j->max_attempts);
    printf("priority    %d\n", j->priority);
    const char *times[] = {"created_at", "run_at", "started_at", "finished_at"};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        const char *t = cli_jstr(o, times[i]);
        if (t) printf("%-12s%s\n", times[i], t);
    }
    if (j->batch[0]) printf("batch       %s\n", j->batch);
    if (j->error_code[0]) printf("error       %s: %s\n", j->error_code, j->error_message);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "result");
    if (res) {
        char *s = cJSON_PrintUnformatted(res);
        printf("result\n");
        cli_print_pretty(stdout, s, 2);
        free(s);
    }
    cJSON_Delete(o);
}

/* Progress of one job: a live line on a terminal, a line per change otherwise. */
typedef struct cli_job_progress {
    cli *x;
    long long start_ms;
    eq_job_state last_state;
    int last_attempt;
    int drew;
} cli_job_progress;

static long long cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cli_job_progress_cb(const eq_job *j, void *ctx) {
    cli_job_progress *p = ctx;
    if (p->x->quiet) return;
    double secs = (double)(cli_now_ms() - p->start_ms) / 1000.0;
    if (p->x->tty) {
        static const char spin[] = "|/-\\";
        int done = econq_job_state_terminal(j->state);
        fprintf(stderr, "\r\033[K%c job %s  %-9s  attempt %d/%d  %.1fs",
                done ? '*' : spin[(int)secs % 4], j->id, econq_job_state_name(j->state), j->attempt,
                j->max_attempts, secs);
        if (done) fputc('\n', stderr);
        p->drew = !done;
    } else if (j->state != p->last_state || j->attempt != p->last_attempt) {
        fprintf(stderr, "job %s %s attempt=%d elapsed=%.1fs\n", j->id,
                econq_job_state_name(j->state), j->attempt, secs);
    }
    fflush(stderr);
    p->last_state = j->state;
    p->last_attempt = j->attempt;
}

int cli_wait_job(cli *x, const char *id) {
    eq_client *c = cli_client(x);
    cli_job_progress p = {.x = x, .start_ms = cli_now_ms(), .last_attempt = -1};
    eq_job j;
    eq_err err = econq_wait(c, id, x->timeout_ms, cli_job_progress_cb, &p, &j);
    if (p.drew) fputc('\n', stderr);
    int rc;
    if (err == EQ_OK) {
        cli_print_job(x, &j);
        rc = cli_job_exit(&j);
    } else {
        rc = cli_fail(x, err);
    }
    econq_job_fini(&j);
    return rc;
}

const char *cli_str(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
