/* XLS (BIFF, Excel 97-2003) through libfreexl, isolated in a child process.
 *
 * Why a child: mutation testing (tests/upload/upload_fuzz_test.c) found that a corrupted XLS
 * makes libfreexl 1.0.6 overflow a stack buffer in its iconv string conversion. So freexl
 * never runs in the server's process: upload__xls_parse() forks; the child opens the file with
 * freexl and streams the first sheet's cells to the parent over a pipe as fixed records; the
 * parent validates every record and applies the limits, and treats a child that dies, exits
 * non-zero or stops before its final record as an unreadable file ("invalid-spreadsheet").
 * The child's CPU time is capped (XLS_CHILD_CPU_SECONDS) and, outside sanitizer builds, its
 * address space grows by at most XLS_CHILD_MAX_AS_BYTES over the parent's, since freexl sizes its cell table from the file's
 * declared dimensions before anything can check them. The child only calls freexl, write()
 * and _exit(); glibc keeps malloc usable after fork() in a threaded parent.
 *
 * freexl reads only from a path, so the bytes go to a private temporary file made with
 * mkostemp() (mode 0600) in $TMPDIR (or /tmp) whose name is unlinked as soon as it is
 * written; the child opens it through /proc/self/fd/N, so no file outlives the call even if
 * the process is killed (Linux only, like the rest of econq). Dates come from the cell types freexl reports (DATE, DATETIME), which apply
 * the workbook's 1900 or 1904 date system. Only the first sheet is read. */
#include <errno.h>
#include <fcntl.h>
#include <freexl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/upload/upload_internal.h"

#define XLS_CHILD_CPU_SECONDS 20                      /* a looping parser is killed */
#define XLS_CHILD_MAX_AS_BYTES (1024ull * 1024 * 1024) /* freexl's allocations: 1 GiB more */

/* One cell on the pipe; `len` bytes of text follow a TEXT record. */
typedef struct xls_rec {
    uint32_t row, col;
    uint32_t kind; /* XREC_* */
    uint32_t len;
    double num;
} xls_rec;

enum { XREC_NUMBER = 1, XREC_DATE, XREC_TEXT, XREC_END, XREC_FAIL };

/* Writes the bytes to an anonymous temporary file; *fd stays open, the name is gone. */
static eq_err write_temp(const void *buf, size_t len, int *fd, upload_error *err)
{
    char path[512];
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    if ((size_t)snprintf(path, sizeof path, "%s/econq-upload-XXXXXX", dir) >= sizeof path)
        return upload__fail(err, EQ_EIO, 500, "internal-error", "temporary path too long");
    *fd = mkostemp(path, O_CLOEXEC);
    if (*fd < 0)
        return upload__fail(err, EQ_EIO, 500, "internal-error", "cannot make a temporary file");
    unlink(path);
    const unsigned char *p = buf;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(*fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off < len) {
        close(*fd);
        return upload__fail(err, EQ_EIO, 500, "internal-error", "cannot write a temporary file");
    }
    return EQ_OK;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        p += w;
        len -= (size_t)w;
    }
    return 1;
}

static int send_rec(int fd, uint32_t row, uint32_t col, uint32_t kind, double num,
                    const char *text)
{
    xls_rec r = {.row = row, .col = col, .kind = kind, .num = num,
                 .len = text ? (uint32_t)strnlen(text, UINT32_MAX - 1) : 0};
    return write_all(fd, &r, sizeof r) && (r.len == 0 || write_all(fd, text, r.len));
}

/* The child: reads the workbook and streams cells; never returns. */
static void xls_child(int file_fd, int fd, size_t max_rows, size_t max_cols)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", file_fd);
    struct rlimit cpu = {XLS_CHILD_CPU_SECONDS, XLS_CHILD_CPU_SECONDS + 1};
    setrlimit(RLIMIT_CPU, &cpu);
#ifndef __SANITIZE_ADDRESS__
    /* On top of what the parent already maps (LMDB maps its whole map size). */
    unsigned long long pages = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm != NULL) {
        if (fscanf(statm, "%llu", &pages) != 1)
            pages = 0;
        fclose(statm);
    }
    if (pages > 0) {
        rlim_t lim = (rlim_t)(pages * (unsigned long long)sysconf(_SC_PAGESIZE) +
                              XLS_CHILD_MAX_AS_BYTES);
        struct rlimit as = {lim, lim};
        setrlimit(RLIMIT_AS, &as);
    }
#endif
    const void *h = NULL;
    unsigned int rows = 0;
    unsigned short cols = 0;
    int ok = freexl_open(path, &h) == FREEXL_OK && freexl_select_active_worksheet(h, 0) == FREEXL_OK &&
             freexl_worksheet_dimensions(h, &rows, &cols) == FREEXL_OK;
    if (!ok) {
        send_rec(fd, 0, 0, XREC_FAIL, 0, NULL);
        _exit(0);
    }
    /* Past the limits the parent refuses anyway; one cell beyond is enough to say so. */
    if (rows > max_rows + 2)
        rows = (unsigned)(max_rows + 2);
    if (cols > max_cols + 1)
        cols = (unsigned short)(max_cols + 1);
    for (unsigned r = 0; r < rows; r++) {
        for (unsigned c = 0; c < cols; c++) {
            FreeXL_CellValue v;
            double d;
            int sent = 1;
            if (freexl_get_cell_value(h, r, (unsigned short)c, &v) != FREEXL_OK) {
                send_rec(fd, r, c, XREC_FAIL, 0, NULL);
                _exit(0);
            }
            switch (v.type) {
            case FREEXL_CELL_INT:
                sent = send_rec(fd, r, c, XREC_NUMBER, v.value.int_value, NULL);
                break;
            case FREEXL_CELL_DOUBLE:
                sent = send_rec(fd, r, c, XREC_NUMBER, v.value.double_value, NULL);
                break;
            case FREEXL_CELL_DATE:
            case FREEXL_CELL_DATETIME: /* an unparsable date is kept as text */
                if (upload__parse_date(v.value.text_value, 0, &d))
                    sent = send_rec(fd, r, c, XREC_DATE, d, NULL);
                else
                    sent = send_rec(fd, r, c, XREC_TEXT, 0, v.value.text_value);
                break;
            case FREEXL_CELL_TEXT:
            case FREEXL_CELL_SST_TEXT:
            case FREEXL_CELL_TIME:
                sent = send_rec(fd, r, c, XREC_TEXT, 0, v.value.text_value);
                break;
            default:
                break; /* FREEXL_CELL_NULL: an empty cell */
            }
            if (!sent)
                _exit(1); /* the parent stopped reading */
        }
    }
    send_rec(fd, 0, 0, XREC_END, 0, NULL);
    freexl_close(h);
    _exit(0);
}

static int read_all(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

static eq_err unreadable(upload_error *err)
{
    return upload__fail(err, EQ_EINVAL, 422, "invalid-spreadsheet",
                        "not a readable XLS workbook");
}

/* The parent's side: turns records into grid cells until END. */
static eq_err xls_receive(int fd, up_grid *g, upload_error *err)
{
    char *text = malloc(g->lim->max_cell_bytes + 1);
    if (text == NULL)
        return upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
    eq_err rc = EQ_OK;
    for (;;) {
        xls_rec r;
        if (!read_all(fd, &r, sizeof r)) {
            rc = unreadable(err); /* the child died before its final record */
            break;
        }
        if (r.kind == XREC_END)
            break;
        if (r.kind == XREC_FAIL) {
            rc = unreadable(err);
            break;
        }
        if (r.kind == XREC_TEXT) {
            if (r.len > g->lim->max_cell_bytes) {
                rc = upload__fail(err, EQ_ETOOBIG, 413, "cell-too-long",
                                  "a cell in row %u is longer than %zu bytes", r.row + 1,
                                  g->lim->max_cell_bytes);
                break;
            }
            if (!read_all(fd, text, r.len)) {
                rc = unreadable(err);
                break;
            }
            rc = upload__grid_put(g, r.row, r.col, UP_CELL_TEXT, 0, text, r.len, err);
        } else if (r.kind == XREC_NUMBER || r.kind == XREC_DATE) {
            if (!isfinite(r.num)) {
                rc = unreadable(err);
                break;
            }
            rc = upload__grid_put(g, r.row, r.col,
                                  r.kind == XREC_DATE ? UP_CELL_DATE : UP_CELL_NUMBER, r.num, NULL,
                                  0, err);
        } else {
            rc = unreadable(err);
        }
        if (rc != EQ_OK)
            break;
    }
    free(text);
    return rc;
}

eq_err upload__xls_parse(const void *buf, size_t len, up_grid *g, upload_error *err)
{
    int file_fd, fds[2];
    eq_err rc = write_temp(buf, len, &file_fd, err);
    if (rc != EQ_OK)
        return rc;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        close(file_fd);
        return upload__fail(err, EQ_EIO, 500, "internal-error", "cannot make a pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        close(file_fd);
        return upload__fail(err, EQ_EIO, 500, "internal-error", "cannot start the XLS reader");
    }
    if (pid == 0) {
        close(fds[0]);
        xls_child(file_fd, fds[1], g->lim->max_rows, g->lim->max_cols);
    }
    close(fds[1]);
    rc = xls_receive(fds[0], g, err);
    if (rc != EQ_OK)
        kill(pid, SIGKILL); /* it may still be writing; its records are no longer wanted */
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    close(file_fd);
    if (rc == EQ_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        rc = unreadable(err);
    return rc;
}
