/* The data disk failing under a running econqd: the data directory on a small tmpfs, remounted
 * read-only (or, where the kernel refuses that while econqd holds data.mdb open for writing,
 * filled up so writes fail with ENOSPC). Submits get a clear 5xx problem instead of a crash,
 * /health says unhealthy (503), earlier jobs stay readable, and once the disk is writable again
 * the service recovers without a restart. Needs root and permission to mount; skipped (passing,
 * with the reason printed) otherwise. Always unmounts. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/chaos/chaos_util.h"
#include "tests/support/eqtest.h"

#define TMPFS_OPTS "size=64m"   /* the data disk */
#define MAX_TRIES 400           /* submits before one must fail on the broken disk */
#define PAYLOAD_BYTES 32768     /* each such submit needs fresh pages, so the file must grow */
#define BALLAST_CHUNK (1 << 20) /* bytes written at a time to fill the disk */

static char base[256], data[300], pidfile[300];
static int mounted;

static int health_status(int port) {
    http_resp r;
    if (http_do(port, "GET", "/health", NULL, NULL, 0, &r) != 0) return -1;
    int st = r.status;
    cJSON *h = http_json(&r);
    if (st == 503) ck_assert_str_eq(eqt_str(h, "status"), "unhealthy");
    cJSON_Delete(h);
    http_resp_free(&r);
    return st;
}

/* Fills the tmpfs with a ballast file until ENOSPC. */
static void fill_disk(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    char *chunk = calloc(1, BALLAST_CHUNK);
    for (;;) {
        ssize_t w = write(fd, chunk, BALLAST_CHUNK);
        if (w <= 0) break;
    }
    /* The last partial pages too. */
    while (write(fd, chunk, 4096) > 0) {
    }
    free(chunk);
    close(fd);
}

/* Submits until one fails; asserts that failure is a 5xx problem and econqd still runs. */
static int submit_until_refused(eqd *d, int *accepted) {
    char *body = malloc(PAYLOAD_BYTES + 128);
    int status = 0;
    *accepted = 0;
    for (int k = 0; k < MAX_TRIES; k++) {
        int n =
            snprintf(body, PAYLOAD_BYTES + 128, "{\"type\":\"noop\",\"params\":{\"payload\":\"");
        memset(body + n, 'a' + k % 26, PAYLOAD_BYTES);
        snprintf(body + n + PAYLOAD_BYTES, 128, "\"}}");
        http_resp r;
        ck_assert_msg(http_do(d->port, "POST", "/v1/jobs", "Content-Type: application/json\r\n",
                              body, strlen(body), &r) == 0,
                      "econqd did not answer a submit on the broken disk");
        status = r.status;
        if (status != 202) {
            char ct[128];
            ck_assert_msg(status >= 500 && status < 600, "submit on a broken disk answered %d",
                          status);
            ck_assert_ptr_nonnull(http_header(&r, "Content-Type", ct, sizeof ct));
            ck_assert(strstr(ct, "application/problem+json") != NULL);
            cJSON *p = http_json(&r);
            ck_assert_ptr_nonnull(eqt_str(p, "type"));
            printf("chaos_disk_fault: submit answered %d %s (%s)\n", status, eqt_str(p, "type"),
                   eqt_str(p, "detail"));
            cJSON_Delete(p);
            http_resp_free(&r);
            break;
        }
        (*accepted)++;
        http_resp_free(&r);
    }
    free(body);
    ck_assert_msg(status != 202, "%d submits accepted on a broken disk", MAX_TRIES);
    ck_assert_int_eq(waitpid(d->pid, NULL, WNOHANG), 0); /* not crashed */
    return status;
}

START_TEST(data_disk_failure_gives_5xx_and_unhealthy_then_recovers) {
    if (getuid() != 0) {
        printf("chaos_disk_fault: SKIPPED: not root (mounting a tmpfs needs root)\n");
        return;
    }
    if (mount("tmpfs", data, "tmpfs", 0, TMPFS_OPTS) != 0) {
        printf("chaos_disk_fault: SKIPPED: mounting a tmpfs is not permitted here (%s)\n",
               strerror(errno));
        return;
    }
    mounted = 1;
    int rounds = chaos_rounds(1);
    eqd d;
    /* The log stays outside the tmpfs (eqd_start puts it in its dir); the store goes on it. */
    const char *args[] = {"--data-dir", data, "--map-size-mb", "1024", "--log-level",
                          "error",      NULL};
    ck_assert_int_eq(eqd_start(&d, "serve", base, args), 0);
    FILE *pf = fopen(pidfile, "w");
    ck_assert_ptr_nonnull(pf);
    fprintf(pf, "%d\n", (int)d.pid);
    fclose(pf);
    char keep[32], ballast[340];
    snprintf(ballast, sizeof ballast, "%s/ballast", data);
    ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{\"payload\":7}}", keep),
                     202);
    cJSON_Delete(eqt_wait_terminal(d.port, keep, 60));
    int ro_rounds = 0, full_rounds = 0, refused = 0, accepted_total = 0;
    for (int r = 0; r < rounds; r++) {
        ck_assert_int_eq(health_status(d.port), 200);
        int readonly = mount("tmpfs", data, "tmpfs", MS_REMOUNT | MS_RDONLY, TMPFS_OPTS) == 0;
        if (readonly) {
            ro_rounds++;
        } else {
            if (r == 0)
                printf("chaos_disk_fault: remount read-only refused (%s: econqd holds data.mdb "
                       "open for writing); testing a full disk (ENOSPC) instead\n",
                       strerror(errno));
            fill_disk(ballast);
            full_rounds++;
        }
        int accepted;
        submit_until_refused(&d, &accepted);
        accepted_total += accepted;
        refused++;
        ck_assert_int_eq(health_status(d.port), 503);
        cJSON *j = eqt_job(d.port, keep, 0);
        ck_assert_msg(j != NULL, "an earlier job is unreadable on the broken disk");
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        cJSON_Delete(j);
        /* The disk comes back. */
        if (readonly)
            ck_assert_int_eq(mount("tmpfs", data, "tmpfs", MS_REMOUNT, TMPFS_OPTS), 0);
        else
            ck_assert_int_eq(unlink(ballast), 0);
        long long deadline = eqt_now_ms() + 20000;
        while (health_status(d.port) != 200) {
            ck_assert_msg(eqt_now_ms() < deadline, "/health still unhealthy after recovery");
            eqt_sleep_ms(100);
        }
        char id[32];
        ck_assert_int_eq(eqt_submit(d.port, "{\"type\":\"noop\",\"params\":{\"payload\":8}}", id),
                         202);
        j = eqt_wait_terminal(d.port, id, 60);
        ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
        cJSON_Delete(j);
    }
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    unlink(pidfile);
    /* The store reopens cleanly. */
    ck_assert_int_eq(eqd_start(&d, "serve", base, args), 0);
    cJSON *j = eqt_job(d.port, keep, 0);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(eqt_str(j, "state"), "succeeded");
    cJSON_Delete(j);
    eqd_signal(&d, SIGTERM);
    ck_assert_int_eq(eqd_wait(&d), 0);
    printf("chaos_disk_fault: rounds %d (read-only %d, full %d), submits refused %d, accepted "
           "before the failure showed %d\n",
           rounds, ro_rounds, full_rounds, refused, accepted_total);
}
END_TEST

/* In the parent, whatever the test did: stop a left-over econqd, unmount, remove. */
static void cleanup(void) {
    FILE *pf = fopen(pidfile, "r");
    int pid = 0;
    if (pf != NULL) {
        if (fscanf(pf, "%d", &pid) == 1 && pid > 0) {
            kill(pid, SIGKILL);
            eqt_sleep_ms(200);
        }
        fclose(pf);
    }
    if (umount2(data, MNT_DETACH) != 0 && errno != EINVAL && errno != EPERM)
        fprintf(stderr, "umount %s: %s\n", data, strerror(errno));
    eqt_rmdir(base);
}

int main(void) {
    eqt_tmpdir(base, sizeof base);
    snprintf(data, sizeof data, "%s/data", base);
    snprintf(pidfile, sizeof pidfile, "%s/econqd.pid", base);
    if (mkdir(data, 0700) != 0) return 1;
    (void)mounted;
    Suite *s = suite_create("chaos_disk_fault");
    TCase *tc = tcase_create("disk_fault");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, data_disk_failure_gives_5xx_and_unhealthy_then_recovers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup();
    return failed ? 1 : 0;
}
