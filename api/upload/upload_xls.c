/* XLS (BIFF, Excel 97-2003) through libfreexl.
 *
 * freexl reads only from a path, so the bytes are written to a private temporary file made
 * with mkstemp() (mode 0600) in $TMPDIR (or /tmp), which is unlinked as soon as freexl_open()
 * has read it (freexl loads the whole workbook while opening). The file never outlives this
 * call, on success or failure. Dates come from the cell type freexl reports (DATE, DATETIME;
 * it applies the workbook's 1900 or 1904 date system itself). Only the first sheet is read.
 *
 * freexl sizes its cell table from the sheet's declared dimensions while opening, before we can
 * check them; BIFF8 caps a sheet at 65,536 x 256 cells, which bounds what it can allocate. */
#include <freexl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/upload/upload_internal.h"

static eq_err write_temp(const void *buf, size_t len, char *path, size_t pathlen,
                         upload_error *err)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    if ((size_t)snprintf(path, pathlen, "%s/econq-upload-XXXXXX", dir) >= pathlen)
        return upload__fail(err, EQ_EIO, 500, "internal-error", "temporary path too long");
    int fd = mkstemp(path);
    if (fd < 0)
        return upload__fail(err, EQ_EIO, 500, "internal-error", "cannot make a temporary file");
    const unsigned char *p = buf;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w <= 0) {
            close(fd);
            unlink(path);
            return upload__fail(err, EQ_EIO, 500, "internal-error",
                                "cannot write a temporary file");
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        unlink(path);
        return upload__fail(err, EQ_EIO, 500, "internal-error", "cannot write a temporary file");
    }
    return EQ_OK;
}

static eq_err put_cell(up_grid *g, unsigned r, unsigned c, const FreeXL_CellValue *v,
                       upload_error *err)
{
    double d;
    switch (v->type) {
    case FREEXL_CELL_INT:
        return upload__grid_put(g, r, c, UP_CELL_NUMBER, v->value.int_value, NULL, 0, err);
    case FREEXL_CELL_DOUBLE:
        return upload__grid_put(g, r, c, UP_CELL_NUMBER, v->value.double_value, NULL, 0, err);
    case FREEXL_CELL_TEXT:
    case FREEXL_CELL_SST_TEXT:
    case FREEXL_CELL_TIME:
        return upload__grid_put(g, r, c, UP_CELL_TEXT, 0, v->value.text_value,
                                strlen(v->value.text_value), err);
    case FREEXL_CELL_DATE:
    case FREEXL_CELL_DATETIME:
        if (upload__parse_date(v->value.text_value, 0, &d))
            return upload__grid_put(g, r, c, UP_CELL_DATE, d, NULL, 0, err);
        return upload__grid_put(g, r, c, UP_CELL_TEXT, 0, v->value.text_value,
                                strlen(v->value.text_value), err);
    default:
        return EQ_OK; /* FREEXL_CELL_NULL: an empty cell */
    }
}

eq_err upload__xls_parse(const void *buf, size_t len, up_grid *g, upload_error *err)
{
    char path[512];
    const void *h = NULL;
    eq_err rc = write_temp(buf, len, path, sizeof path, err);
    if (rc != EQ_OK)
        return rc;
    int fr = freexl_open(path, &h);
    unlink(path);
    if (fr != FREEXL_OK) {
        rc = upload__fail(err, fr == FREEXL_INSUFFICIENT_MEMORY ? EQ_ENOMEM : EQ_EINVAL,
                          fr == FREEXL_INSUFFICIENT_MEMORY ? 500 : 422,
                          fr == FREEXL_INSUFFICIENT_MEMORY ? "out-of-memory"
                                                           : "invalid-spreadsheet",
                          "not a readable XLS workbook (freexl error %d)", fr);
        goto done;
    }
    unsigned int rows = 0;
    unsigned short cols = 0;
    if (freexl_select_active_worksheet(h, 0) != FREEXL_OK ||
        freexl_worksheet_dimensions(h, &rows, &cols) != FREEXL_OK) {
        rc = upload__fail(err, EQ_EINVAL, 422, "invalid-spreadsheet",
                          "the XLS workbook has no readable first sheet");
        goto done;
    }
    if (rows > g->lim->max_rows + 1) {
        rc = upload__fail(err, EQ_ETOOBIG, 413, "too-many-rows", "more than %zu data rows",
                          g->lim->max_rows);
        goto done;
    }
    if (cols > g->lim->max_cols) {
        rc = upload__fail(err, EQ_ETOOBIG, 413, "too-many-columns", "more than %zu columns",
                          g->lim->max_cols);
        goto done;
    }
    for (unsigned r = 0; r < rows && rc == EQ_OK; r++) {
        for (unsigned short c = 0; c < cols && rc == EQ_OK; c++) {
            FreeXL_CellValue v;
            if (freexl_get_cell_value(h, r, c, &v) != FREEXL_OK)
                rc = upload__fail(err, EQ_EINVAL, 422, "invalid-spreadsheet",
                                  "cannot read cell %u,%u of the XLS sheet", r + 1,
                                  (unsigned)c + 1);
            else
                rc = put_cell(g, r, c, &v, err);
        }
    }
done:
    if (h != NULL)
        freexl_close(h);
    return rc;
}
