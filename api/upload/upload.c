/* Entry point of an upload: limits, the magic-number check, dispatch to the format parser;
 * plus the helpers the HTTP handler needs around it (kind detection, name cleaning). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/upload/upload_internal.h"

eq_err upload__fail(upload_error *err, eq_err ret, int status, const char *type,
                    const char *fmt, ...)
{
    if (err != NULL) {
        err->status = status;
        snprintf(err->type, sizeof err->type, "%s", type);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->detail, sizeof err->detail, fmt, ap);
        va_end(ap);
        /* Details may quote the upload; keep them printable ASCII so they are safe to echo. */
        for (char *p = err->detail; *p != '\0'; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
    }
    return ret;
}

void upload_limits_defaults(upload_limits *l)
{
    l->max_bytes = UPLOAD_MAX_BYTES;
    l->max_rows = UPLOAD_MAX_ROWS;
    l->max_cols = UPLOAD_MAX_COLS;
    l->max_cells = UPLOAD_MAX_CELLS;
    l->max_cell_bytes = UPLOAD_MAX_CELL_BYTES;
    l->xlsx_max_entries = UPLOAD_XLSX_MAX_ENTRIES;
    l->xlsx_max_uncompressed = UPLOAD_XLSX_MAX_UNCOMPRESSED;
    l->xlsx_max_ratio = UPLOAD_XLSX_MAX_RATIO;
}

static const unsigned char MAGIC_ZIP[] = {'P', 'K', 3, 4};
static const unsigned char MAGIC_OLE[] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};

static int has_prefix(const void *buf, size_t len, const void *magic, size_t mlen)
{
    return len >= mlen && memcmp(buf, magic, mlen) == 0;
}

/* Names the binary format a CSV claim actually holds, or NULL when it may be text. */
static const char *binary_signature(const unsigned char *b, size_t len)
{
    static const struct {
        const char *name;
        const char *magic;
        size_t len;
    } sigs[] = {
        {"an ELF executable", "\x7f" "ELF", 4},
        {"a Windows executable", "MZ", 2},
        {"a ZIP archive (XLSX?)", "PK\x03\x04", 4},
        {"an empty ZIP archive", "PK\x05\x06", 4},
        {"an OLE document (XLS?)", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8},
        {"a gzip stream", "\x1f\x8b", 2},
        {"a PDF document", "%PDF-", 5},
        {"a Mach-O executable", "\xcf\xfa\xed\xfe", 4},
    };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (has_prefix(b, len, sigs[i].magic, sigs[i].len))
            return sigs[i].name;
    return NULL;
}

eq_err upload_parse(const void *buf, size_t len, const char *kind, const upload_limits *l,
                    ds_table **out, upload_error *err)
{
    upload_limits defaults;
    if (l == NULL) {
        upload_limits_defaults(&defaults);
        l = &defaults;
    }
    *out = NULL;
    if (kind == NULL ||
        (strcmp(kind, "csv") != 0 && strcmp(kind, "xlsx") != 0 && strcmp(kind, "xls") != 0))
        return upload__fail(err, EQ_EUNSUPPORTED, 415, "unsupported-media-type",
                            "only CSV, XLSX and XLS files are accepted");
    if (len > l->max_bytes)
        return upload__fail(err, EQ_ETOOBIG, 413, "upload-too-large",
                            "the file is %zu bytes; the limit is %zu", len, l->max_bytes);
    if (len == 0 || buf == NULL)
        return upload__fail(err, EQ_EINVAL, 422, "empty-file", "the file is empty");

    up_grid g;
    upload__grid_init(&g, l);
    eq_err rc;
    if (strcmp(kind, "xlsx") == 0) {
        if (!has_prefix(buf, len, MAGIC_ZIP, sizeof MAGIC_ZIP))
            return upload__fail(err, EQ_EINVAL, 415, "content-mismatch",
                                "an XLSX file must start with the ZIP signature PK\\3\\4");
        rc = upload__xlsx_parse(buf, len, &g, err);
    } else if (strcmp(kind, "xls") == 0) {
        if (!has_prefix(buf, len, MAGIC_OLE, sizeof MAGIC_OLE))
            return upload__fail(err, EQ_EINVAL, 415, "content-mismatch",
                                "an XLS file must start with the OLE signature D0 CF 11 E0");
        rc = upload__xls_parse(buf, len, &g, err);
    } else {
        const char *what = binary_signature(buf, len);
        if (what != NULL)
            return upload__fail(err, EQ_EINVAL, 415, "content-mismatch",
                                "claimed to be CSV but the content is %s", what);
        rc = upload__csv_parse(buf, len, &g, err);
    }
    if (rc != EQ_OK) {
        upload__grid_fini(&g);
        return rc;
    }
    return upload__table_build(&g, kind, out, err);
}

/* Content-Type values, compared without parameters and case-insensitively. */
static const struct {
    const char *type;
    const char *kind;
} media_types[] = {
    {"text/csv", "csv"},
    {"application/csv", "csv"},
    {"text/comma-separated-values", "csv"},
    {"text/plain", "csv"},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
    {"application/vnd.ms-excel", "xls"},
    {"application/msexcel", "xls"},
    {"application/x-msexcel", "xls"},
};

const char *upload_kind_from_type(const char *content_type, const char *filename)
{
    if (content_type != NULL) {
        while (*content_type == ' ')
            content_type++;
        size_t n = strcspn(content_type, "; \t");
        for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++)
            if (strlen(media_types[i].type) == n &&
                strncasecmp(content_type, media_types[i].type, n) == 0)
                return media_types[i].kind;
    }
    if (filename != NULL) {
        const char *dot = strrchr(filename, '.');
        if (dot != NULL) {
            if (strcasecmp(dot, ".csv") == 0 || strcasecmp(dot, ".txt") == 0 ||
                strcasecmp(dot, ".tsv") == 0)
                return "csv";
            if (strcasecmp(dot, ".xlsx") == 0)
                return "xlsx";
            if (strcasecmp(dot, ".xls") == 0)
                return "xls";
        }
    }
    return NULL;
}

/* Length of the UTF-8 sequence at s (1-4), 0 when invalid; *cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n;
    unsigned v, min;
    if ((s[0] & 0xE0) == 0xC0)
        n = 2, v = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        n = 3, v = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        n = 4, v = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

eq_err upload_clean_name(const char *in, char *out, size_t outlen, upload_error *err)
{
    if (out == NULL || outlen == 0)
        return EQ_EINVAL;
    out[0] = '\0';
    if (in == NULL)
        return upload__fail(err, EQ_EINVAL, 400, "invalid-name", "a name is required");
    size_t inlen = strnlen(in, UPLOAD_NAME_MAX_INPUT + 1);
    if (inlen > UPLOAD_NAME_MAX_INPUT)
        return upload__fail(err, EQ_EINVAL, 400, "invalid-name",
                            "the name is longer than %u bytes", UPLOAD_NAME_MAX_INPUT);
    /* Refuse invalid UTF-8 and control characters anywhere, before any cleaning. */
    for (size_t i = 0; i < inlen;) {
        unsigned cp;
        size_t n = utf8_seq((const unsigned char *)in + i, &cp);
        if (n == 0)
            return upload__fail(err, EQ_EINVAL, 400, "invalid-name",
                                "the name is not valid UTF-8");
        if ((cp < 0x20 && cp != '\t') || (cp >= 0x7F && cp <= 0x9F))
            return upload__fail(err, EQ_EINVAL, 400, "invalid-name",
                                "the name contains a control character");
        i += n;
    }
    const char *base = in;
    for (const char *p = in; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t cap = outlen - 1 < UPLOAD_NAME_MAX ? outlen - 1 : UPLOAD_NAME_MAX;
    size_t o = 0;
    int pending_space = 0;
    const char *p = base;
    while (*p == ' ' || *p == '\t' || *p == '.')
        p++;
    while (*p != '\0') {
        unsigned cp;
        size_t n = utf8_seq((const unsigned char *)p, &cp);
        if (*p == ' ' || *p == '\t') {
            pending_space = 1;
            p++;
            continue;
        }
        if (*p == '.' && p[1] == '.') {
            p++; /* keep only the last dot of a run */
            continue;
        }
        size_t need = n + (pending_space ? 1 : 0);
        if (o + need > cap)
            break;
        if (pending_space)
            out[o++] = ' ';
        pending_space = 0;
        memcpy(out + o, p, n);
        o += n;
        p += n;
    }
    out[o] = '\0';
    if (o == 0)
        return upload__fail(err, EQ_EINVAL, 400, "invalid-name",
                            "the name is empty once cleaned");
    return EQ_OK;
}
