#include "tests/chaos/chaos_util.h"

#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/eqtest.h"

extern char **environ;

#define CHAOS_MAX_ROUNDS 10000
/* Longest line of the receiver's log read back (a record with its body; econq sends <= 1 MiB). */
#define CHAOS_RX_MAX_LINE (2 * 1024 * 1024)

int chaos_rounds(int dflt) {
    const char *v = getenv("ECONQ_CHAOS_ROUNDS");
    if (v == NULL || *v == '\0') return dflt;
    long n = strtol(v, NULL, 10);
    return n >= 1 && n <= CHAOS_MAX_ROUNDS ? (int)n : dflt;
}

uint64_t chaos_seed(const char *name) {
    const char *v = getenv("ECONQ_CHAOS_SEED");
    uint64_t seed;
    if (v != NULL && *v != '\0') {
        seed = strtoull(v, NULL, 10);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20);
        seed %= 1000000000u;
    }
    if (seed == 0) seed = 1;
    printf("%s: seed %llu (ECONQ_CHAOS_SEED=%llu repeats it)\n", name, (unsigned long long)seed,
           (unsigned long long)seed);
    fflush(stdout);
    return seed * 0x9E3779B97F4A7C15ull | 1;
}

uint64_t chaos_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int chaos_between(uint64_t *state, int lo, int hi) {
    return lo + (int)(chaos_rand(state) % (uint64_t)(hi - lo + 1));
}

double chaos_wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

cJSON *chaos_delivery(int port, const char *job_id) {
    char path[128];
    http_resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s/deliveries", job_id);
    if (http_do(port, "GET", path, NULL, NULL, 0, &r) != 0) return NULL;
    cJSON *j = r.status == 200 ? http_json(&r) : NULL;
    http_resp_free(&r);
    cJSON *arr = cJSON_GetObjectItem(j, "deliveries");
    cJSON *first = cJSON_GetArraySize(arr) > 0 ? cJSON_DetachItemFromArray(arr, 0) : NULL;
    cJSON_Delete(j);
    return first;
}

cJSON *chaos_settled_delivery(int port, const char *job_id, int timeout_s) {
    long long deadline = eqt_now_ms() + timeout_s * 1000LL;
    for (;;) {
        cJSON *del = chaos_delivery(port, job_id);
        const char *st = eqt_str(del, "state");
        if ((st != NULL && strcmp(st, "pending") != 0) || eqt_now_ms() > deadline) return del;
        cJSON_Delete(del);
        eqt_sleep_ms(100);
    }
}

void chaos_record_job_id(const cJSON *rec, char *out, size_t len) {
    out[0] = '\0';
    const char *body = eqt_str(rec, "body");
    cJSON *b = body != NULL ? cJSON_Parse(body) : NULL;
    const char *id = eqt_str(cJSON_GetObjectItem(b, "data"), "id");
    if (id != NULL) snprintf(out, len, "%s", id);
    cJSON_Delete(b);
}

int chaos_rx_start(chaos_rx *rx, int port, const char *log) {
    const char *src = getenv("ECONQ_SOURCE_DIR");
    if (src == NULL) return -1;
    char script[PATH_MAX], portarg[16];
    snprintf(script, sizeof script, "%s/tests/fakes/webhook_receiver.py", src);
    snprintf(portarg, sizeof portarg, "%d", port);
    snprintf(rx->log, sizeof rx->log, "%s", log);
    rx->port = 0;
    int fds[2];
    if (pipe(fds) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = {"/usr/bin/python3", script,       "--host", "127.0.0.1", "--port", portarg,
                    "--secret",         CHAOS_SECRET, "--log",  rx->log,     NULL};
    int rc = posix_spawn(&rx->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    FILE *f = fdopen(fds[0], "r");
    char line[64];
    if (f != NULL && fgets(line, sizeof line, f) != NULL) sscanf(line, "PORT %d", &rx->port);
    if (f != NULL) fclose(f);
    return rx->port > 0 ? 0 : -1;
}

void chaos_rx_stop(chaos_rx *rx) {
    if (rx->pid <= 0) return;
    kill(rx->pid, SIGKILL);
    int status;
    waitpid(rx->pid, &status, 0);
    rx->pid = 0;
}

cJSON *chaos_rx_records(const chaos_rx *rx) {
    cJSON *all = cJSON_CreateArray();
    FILE *f = fopen(rx->log, "r");
    if (f == NULL) return all;
    char *line = malloc(CHAOS_RX_MAX_LINE);
    while (line != NULL && fgets(line, CHAOS_RX_MAX_LINE, f) != NULL) {
        cJSON *rec = cJSON_Parse(line);
        if (rec != NULL) cJSON_AddItemToArray(all, rec);
    }
    free(line);
    fclose(f);
    return all;
}
