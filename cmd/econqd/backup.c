/* econqd backup and econqd restore.
 *
 * backup opens the store (also while a server runs: LMDB allows other processes) and writes a
 * compacting copy with store_backup(). restore refuses a data directory that a process has open
 * (store_in_use), copies the backup into a staging directory and opens it there (a file that is
 * not a store is refused before anything is replaced), keeps the current data.mdb as
 * data.mdb.pre-restore and renames the staged copy to data.mdb. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/econqd/econqd.h"
#include "store/store.h"
#include "store/store_sched.h"

#define RESTORE_CHUNK (1u << 20) /* bytes copied per read */

int econqd_backup(const eq_config *cfg) {
    const char *dir = cfg_str(cfg, "data-dir"), *out = cfg_str(cfg, "out");
    char path[4096];
    store *st;
    store_opts so;
    if (!out[0]) {
        fprintf(stderr, "econqd backup: --out FILE is required\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "econqd backup: there is no store in %s\n", dir);
        return 1;
    }
    store_opts_defaults(&so);
    eq_err err = store_open(dir, &so, &st);
    if (err) {
        fprintf(stderr, "econqd backup: cannot open the store in %s: %s\n", dir, eq_strerror(err));
        return 1;
    }
    err = store_backup(st, out);
    store_close(st);
    if (err) {
        fprintf(stderr, "econqd backup: cannot write %s: %s\n", out,
                err == EQ_EEXIST ? "it exists already" : eq_strerror(err));
        return 1;
    }
    printf("econqd backup: wrote %s\n", out);
    return 0;
}

static int copy_file(const char *from, const char *to) {
    static char buf[RESTORE_CHUNK];
    int in = open(from, O_RDONLY | O_CLOEXEC), rc = -1;
    if (in < 0) return -1;
    int outfd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (outfd < 0) {
        close(in);
        return -1;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        if (n == 0) {
            rc = fsync(outfd);
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(outfd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) goto done;
            off += w;
        }
    }
done:
    close(in);
    if (close(outfd) != 0) rc = -1;
    return rc;
}

int econqd_restore(const eq_config *cfg) {
    const char *dir = cfg_str(cfg, "data-dir"), *from = cfg_str(cfg, "from");
    char data[4096], stage[4096], staged[4200], keep[4200], lock[4200];
    struct stat sb;
    if (!from[0]) {
        fprintf(stderr, "econqd restore: --from FILE is required\n");
        return 2;
    }
    if (stat(from, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "econqd restore: %s is not a readable file\n", from);
        return 1;
    }
    if (store_in_use(dir)) {
        fprintf(stderr, "econqd restore: the store in %s is in use; stop econqd first\n", dir);
        return 1;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "econqd restore: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    /* The copy is staged in a directory of its own and opened there once, so that a file that
     * is not a store never replaces one. */
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(stage, sizeof stage, "%s/restore-stage", dir);
    snprintf(staged, sizeof staged, "%s/data.mdb", stage);
    snprintf(keep, sizeof keep, "%s.pre-restore", data);
    if (mkdir(stage, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "econqd restore: cannot create %s: %s\n", stage, strerror(errno));
        return 1;
    }
    int rc = 1;
    store *st;
    store_opts so;
    store_opts_defaults(&so);
    if (copy_file(from, staged) != 0) {
        fprintf(stderr, "econqd restore: cannot copy %s: %s\n", from, strerror(errno));
        goto done;
    }
    eq_err err = store_open(stage, &so, &st);
    if (err) {
        fprintf(stderr, "econqd restore: %s is not an econq store: %s\n", from, eq_strerror(err));
        goto done;
    }
    store_close(st);
    if (access(data, F_OK) == 0 && rename(data, keep) != 0) {
        fprintf(stderr, "econqd restore: cannot keep the current store: %s\n", strerror(errno));
        goto done;
    }
    if (rename(staged, data) != 0) {
        fprintf(stderr, "econqd restore: cannot install the copy: %s\n", strerror(errno));
        goto done;
    }
    snprintf(lock, sizeof lock, "%s/lock.mdb", dir);
    unlink(lock); /* reader slots of the old store mean nothing to the new one */
    printf("econqd restore: %s restored into %s\n", from, dir);
    rc = 0;
done:
    unlink(staged);
    snprintf(lock, sizeof lock, "%s/lock.mdb", stage);
    unlink(lock);
    rmdir(stage);
    return rc;
}
