/* CSV: encoding check and conversion, delimiter sniffing, libcsv parsing into the grid.
 *
 * Encoding: a UTF-8 byte-order mark is skipped; a UTF-16 one is refused. Text that is valid
 * UTF-8 is taken as UTF-8. Otherwise it is taken as Latin-1 (ISO 8859-1) and converted, unless
 * it holds a byte in 0x80-0x9F: those are C1 control codes in Latin-1, never seen in real
 * Latin-1 text, and mean another encoding (Windows-1252, say), so the file is refused with
 * "invalid-encoding". NUL and C0 control bytes other than tab, CR, LF and form feed mean
 * binary content ("content-mismatch").
 *
 * Delimiter: the one of ',', ';' and tab that occurs most often outside quotes on the first
 * line (ties and none go to ','). With ';' or tab, numbers may use a decimal comma
 * ("1.234,5"); see upload__table_build(). */
#include <csv.h>
#include <stdlib.h>
#include <string.h>

#include "api/upload/upload_internal.h"

/* Bytes fed to libcsv at a time, so that a limit hit in a callback stops parsing early. */
#define CSV_CHUNK_BYTES (64u * 1024u)
/* Bytes of the first line examined to choose the delimiter. */
#define CSV_SNIFF_BYTES (64u * 1024u)

static unsigned char sniff_delimiter(const unsigned char *s, size_t len)
{
    size_t comma = 0, semi = 0, tab = 0;
    int quoted = 0;
    if (len > CSV_SNIFF_BYTES)
        len = CSV_SNIFF_BYTES;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (s[i] == '\n' || s[i] == '\r')
            break;
        else if (s[i] == ',')
            comma++;
        else if (s[i] == ';')
            semi++;
        else if (s[i] == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

typedef struct csv_ctx {
    up_grid *g;
    upload_error *err;
    eq_err rc;
    size_t row, col;
} csv_ctx;

static void csv_field_cb(void *field, size_t len, void *data)
{
    csv_ctx *c = data;
    if (c->rc == EQ_OK)
        c->rc = upload__grid_put(c->g, c->row, c->col, UP_CELL_TEXT, 0, field, len, c->err);
    c->col++;
}

static void csv_record_cb(int term, void *data)
{
    csv_ctx *c = data;
    (void)term;
    c->row++;
    c->col = 0;
    if (c->rc == EQ_OK && c->row > c->g->lim->max_rows + 1)
        c->rc = upload__fail(c->err, EQ_ETOOBIG, 413, "too-many-rows",
                             "more than %zu data rows", c->g->lim->max_rows);
}

static int space_not_tab(unsigned char c)
{
    return c == ' ';
}

static int space_or_tab(unsigned char c)
{
    return c == ' ' || c == '\t';
}

eq_err upload__csv_parse(const void *buf, size_t len, up_grid *g, upload_error *err)
{
    const unsigned char *s = buf;
    unsigned char *latin = NULL;
    if (len >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF)))
        return upload__fail(err, EQ_EINVAL, 422, "invalid-encoding",
                            "UTF-16 text is not accepted; use UTF-8 or Latin-1");
    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        s += 3, len -= 3;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f')
            return upload__fail(err, EQ_EINVAL, 415, "content-mismatch",
                                "claimed to be CSV but holds binary byte 0x%02x at offset %zu",
                                s[i], i);
    if (upload__utf8_prefix(s, len) != len) {
        size_t extra = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] >= 0x80 && s[i] <= 0x9F)
                return upload__fail(err, EQ_EINVAL, 422, "invalid-encoding",
                                    "the text is neither UTF-8 nor Latin-1 (byte 0x%02x at "
                                    "offset %zu)", s[i], i);
            extra += s[i] >= 0x80;
        }
        latin = malloc(len + extra);
        if (latin == NULL)
            return upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < 0x80) {
                latin[o++] = s[i];
            } else {
                latin[o++] = (unsigned char)(0xC0 | (s[i] >> 6));
                latin[o++] = (unsigned char)(0x80 | (s[i] & 0x3F));
            }
        }
        s = latin;
        len = o;
    }

    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        free(latin);
        return upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
    }
    unsigned char delim = sniff_delimiter(s, len);
    csv_set_delim(&p, delim);
    csv_set_space_func(&p, delim == '\t' ? space_not_tab : space_or_tab);
    g->decimal_comma_ok = delim != ',';
    csv_ctx ctx = {.g = g, .err = err, .rc = EQ_OK};
    for (size_t off = 0; off < len && ctx.rc == EQ_OK; off += CSV_CHUNK_BYTES) {
        size_t n = len - off < CSV_CHUNK_BYTES ? len - off : CSV_CHUNK_BYTES;
        if (csv_parse(&p, s + off, n, csv_field_cb, csv_record_cb, &ctx) != n) {
            if (ctx.rc == EQ_OK)
                ctx.rc = upload__fail(err, EQ_EINVAL, 422, "malformed-csv",
                                      "CSV syntax error near record %zu: %s", ctx.row + 1,
                                      csv_strerror(csv_error(&p)));
        }
    }
    if (ctx.rc == EQ_OK && csv_fini(&p, csv_field_cb, csv_record_cb, &ctx) != 0 &&
        ctx.rc == EQ_OK)
        ctx.rc = upload__fail(err, EQ_EINVAL, 422, "malformed-csv",
                              "CSV syntax error at the end (an unclosed quote?)");
    csv_free(&p);
    free(latin);
    return ctx.rc;
}
