/* XLSX: libzip over the bytes in memory, expat over the parts we need.
 *
 * The archive is checked before any entry is inflated: at most xlsx_max_entries entries, a sum
 * of declared uncompressed sizes at most xlsx_max_uncompressed, and for each entry of at least
 * UPLOAD_XLSX_RATIO_MIN_BYTES a compression ratio at most xlsx_max_ratio; and an entry that
 * inflates to more than it declared is refused while it is read. All are "archive-bomb".
 * XML is parsed with expat with DTDs refused: a DOCTYPE, an entity declaration or an external
 * entity reference stops the parse ("xml-dtd-forbidden"), so no entity is ever expanded.
 *
 * Parts read: _rels/.rels (where the workbook is; xl/workbook.xml when absent), the workbook
 * (first <sheet>, date1904), its relationships (the sheet's, shared strings' and styles' paths), xl/sharedStrings.xml, xl/styles.xml (which cell
 * styles are dates: built-in formats 14-22 and 45-47, custom formats with d, m or y outside
 * quotes and brackets), and the first worksheet. Cells take their position from their `r`
 * reference when present, so sparse rows and columns land in place. */
#include <expat.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "api/upload/upload_internal.h"

#define XLSX_PATH_MAX 512          /* a part name inside the archive */
#define XLSX_MAX_STYLES 65536u     /* cellXfs and custom numFmts entries */
#define XLSX_XML_CHUNK (1u << 20)  /* bytes given to expat at a time */

/* First member of every parse context, so the shared handlers can stop the parse. */
typedef struct xml_base {
    XML_Parser p;
    upload_error *err;
    eq_err rc;
    int dtd; /* a DOCTYPE or entity declaration was seen */
} xml_base;

static const char *local_name(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static const char *attr(const char **atts, const char *want)
{
    for (size_t i = 0; atts[i] != NULL; i += 2)
        if (strcmp(local_name(atts[i]), want) == 0)
            return atts[i + 1];
    return NULL;
}

static void xml_stop(xml_base *b, eq_err rc)
{
    if (b->rc == EQ_OK)
        b->rc = rc;
    XML_StopParser(b->p, XML_FALSE);
}

static void xml_oom(xml_base *b)
{
    xml_stop(b, upload__fail(b->err, EQ_ENOMEM, 500, "out-of-memory", "out of memory"));
}

static void XMLCALL doctype_cb(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int internal)
{
    xml_base *b = ud;
    b->dtd = 1;
    xml_stop(b, upload__fail(b->err, EQ_EINVAL, 422, "xml-dtd-forbidden",
                             "the workbook's XML declares a DOCTYPE"));
}

static void XMLCALL entity_cb(void *ud, const XML_Char *name, int is_param,
                              const XML_Char *value, int value_len, const XML_Char *base,
                              const XML_Char *sysid, const XML_Char *pubid,
                              const XML_Char *notation)
{
    xml_base *b = ud;
    b->dtd = 1;
    xml_stop(b, upload__fail(b->err, EQ_EINVAL, 422, "xml-dtd-forbidden",
                             "the workbook's XML declares an entity"));
}

static int XMLCALL external_entity_cb(XML_Parser p, const XML_Char *context,
                                      const XML_Char *base, const XML_Char *sysid,
                                      const XML_Char *pubid)
{
    return XML_STATUS_ERROR; /* never fetch anything */
}

/* Parses `data` with the given handlers; `b` is the first member of the context. */
static eq_err xml_run(const char *data, size_t len, xml_base *b, const char *part,
                      XML_StartElementHandler start, XML_EndElementHandler end,
                      XML_CharacterDataHandler chars)
{
    XML_Parser p = XML_ParserCreate("UTF-8");
    if (p == NULL)
        return upload__fail(b->err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
    b->p = p;
    b->rc = EQ_OK;
    XML_SetUserData(p, b);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetStartDoctypeDeclHandler(p, doctype_cb);
    XML_SetEntityDeclHandler(p, entity_cb);
    XML_SetExternalEntityRefHandler(p, external_entity_cb);
    XML_SetElementHandler(p, start, end);
    if (chars != NULL)
        XML_SetCharacterDataHandler(p, chars);
    size_t off = 0;
    do {
        size_t n = len - off < XLSX_XML_CHUNK ? len - off : XLSX_XML_CHUNK;
        int final = off + n == len;
        if (XML_Parse(p, data + off, (int)n, final) != XML_STATUS_OK) {
            if (b->rc == EQ_OK)
                upload__fail(b->err, b->rc = EQ_EINVAL, 422, "malformed-xml",
                             "%s: %s at line %lu", part, XML_ErrorString(XML_GetErrorCode(p)),
                             (unsigned long)XML_GetCurrentLineNumber(p));
            break;
        }
        off += n;
    } while (off < len);
    XML_ParserFree(p);
    b->p = NULL;
    return b->rc;
}

/* Checks the archive's directory against the limits before inflating anything. */
static eq_err check_archive(zip_t *z, const upload_limits *l, upload_error *err)
{
    zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || (uint64_t)n > l->xlsx_max_entries)
        return upload__fail(err, EQ_EINVAL, 422, "archive-bomb",
                            "the archive has more than %zu entries", l->xlsx_max_entries);
    uint64_t total = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0 ||
            !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
            return upload__fail(err, EQ_EINVAL, 422, "invalid-archive",
                                "cannot read entry %lld of the archive", (long long)i);
        total += st.size;
        if (total > l->xlsx_max_uncompressed)
            return upload__fail(err, EQ_EINVAL, 422, "archive-bomb",
                                "the archive inflates to more than %llu bytes",
                                (unsigned long long)l->xlsx_max_uncompressed);
        double ratio = (double)st.size / (double)(st.comp_size ? st.comp_size : 1);
        if (st.size >= UPLOAD_XLSX_RATIO_MIN_BYTES && ratio > l->xlsx_max_ratio)
            return upload__fail(err, EQ_EINVAL, 422, "archive-bomb",
                                "an entry is compressed %.0f:1, more than %.0f:1", ratio,
                                l->xlsx_max_ratio);
    }
    return EQ_OK;
}

/* Reads a whole entry (NUL-terminated). A missing optional entry gives *out = NULL. */
static eq_err read_entry(zip_t *z, const char *name, int required, char **out, size_t *outlen,
                         upload_error *err)
{
    *out = NULL;
    *outlen = 0;
    zip_stat_t st;
    if (zip_stat(z, name, 0, &st) != 0) {
        if (!required)
            return EQ_OK;
        return upload__fail(err, EQ_EINVAL, 422, "invalid-spreadsheet",
                            "the workbook has no part %.200s", name);
    }
    zip_file_t *f = zip_fopen_index(z, st.index, 0);
    char *buf = malloc(st.size + 1);
    if (f == NULL || buf == NULL) {
        if (f != NULL)
            zip_fclose(f);
        free(buf);
        if (buf == NULL)
            return upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
        return upload__fail(err, EQ_EINVAL, 422, "invalid-archive",
                            "cannot open %.200s in the archive", name);
    }
    zip_uint64_t got = 0;
    while (got < st.size) {
        zip_int64_t r = zip_fread(f, buf + got, st.size - got);
        if (r <= 0)
            break;
        got += (zip_uint64_t)r;
    }
    char probe;
    zip_int64_t extra = got == st.size ? zip_fread(f, &probe, 1) : -1;
    zip_fclose(f);
    if (got != st.size || extra != 0) {
        free(buf);
        if (extra > 0)
            return upload__fail(err, EQ_EINVAL, 422, "archive-bomb",
                                "%.200s inflates to more than it declares", name);
        return upload__fail(err, EQ_EINVAL, 422, "invalid-archive",
                            "%.200s is truncated or corrupt", name);
    }
    buf[st.size] = '\0';
    *out = buf;
    *outlen = st.size;
    return EQ_OK;
}

/* ---- workbook.xml and its relationships ---- */

typedef struct wb_ctx {
    xml_base base;
    char workbook_path[XLSX_PATH_MAX];
    char base_dir[XLSX_PATH_MAX]; /* the workbook's folder with its '/', e.g. "xl/" */
    int date1904;
    char sheet_rid[128];
    char sheet_path[XLSX_PATH_MAX], strings_path[XLSX_PATH_MAX], styles_path[XLSX_PATH_MAX];
} wb_ctx;

static void XMLCALL wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    wb_ctx *w = ud;
    const char *n = local_name(name);
    if (strcmp(n, "workbookPr") == 0) {
        const char *v = attr(atts, "date1904");
        w->date1904 = v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
    } else if (strcmp(n, "sheet") == 0 && w->sheet_rid[0] == '\0') {
        const char *rid = attr(atts, "id");
        if (rid != NULL)
            snprintf(w->sheet_rid, sizeof w->sheet_rid, "%s", rid);
    }
}

/* Part name of a relationship target: absolute, or relative to `base_dir`; "." and ".."
 * segments are resolved (a ".." above the root leaves a name that matches no part). */
static void resolve_target(const char *base_dir, const char *target, char *out, size_t outlen)
{
    char joined[2 * XLSX_PATH_MAX];
    if (target[0] == '/')
        snprintf(joined, sizeof joined, "%s", target + 1);
    else
        snprintf(joined, sizeof joined, "%s%s", base_dir, target);
    size_t o = 0;
    out[0] = '\0';
    for (char *seg = joined, *next; seg != NULL; seg = next) {
        next = strchr(seg, '/');
        if (next != NULL)
            *next++ = '\0';
        if (seg[0] == '\0' || strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            if (o == 0) {
                snprintf(out, outlen, "../");
                return;
            }
            while (o > 0 && out[o - 1] != '/')
                o--;
            o = o > 0 ? o - 1 : 0;
            out[o] = '\0';
            continue;
        }
        int n = snprintf(out + o, outlen - o, "%s%s", o ? "/" : "", seg);
        if (n < 0 || (size_t)n >= outlen - o) {
            out[0] = '\0';
            return;
        }
        o += (size_t)n;
    }
}

static void XMLCALL root_rels_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    wb_ctx *w = ud;
    if (strcmp(local_name(name), "Relationship") != 0 || w->workbook_path[0] != '\0')
        return;
    const char *type = attr(atts, "Type"), *target = attr(atts, "Target");
    size_t tl = type ? strlen(type) : 0;
    if (target != NULL && tl >= 15 && strcmp(type + tl - 15, "/officeDocument") == 0)
        resolve_target("", target, w->workbook_path, sizeof w->workbook_path);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void XMLCALL rels_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    wb_ctx *w = ud;
    if (strcmp(local_name(name), "Relationship") != 0)
        return;
    const char *id = attr(atts, "Id"), *type = attr(atts, "Type"), *target = attr(atts, "Target");
    if (id == NULL || type == NULL || target == NULL)
        return;
    if (strcmp(id, w->sheet_rid) == 0)
        resolve_target(w->base_dir, target, w->sheet_path, sizeof w->sheet_path);
    else if (ends_with(type, "/sharedStrings"))
        resolve_target(w->base_dir, target, w->strings_path, sizeof w->strings_path);
    else if (ends_with(type, "/styles"))
        resolve_target(w->base_dir, target, w->styles_path, sizeof w->styles_path);
}

static void XMLCALL no_end(void *ud, const XML_Char *name)
{
}

/* ---- styles.xml ---- */

typedef struct style_ctx {
    xml_base base;
    int in_cellxfs, in_numfmts;
    unsigned *fmt_ids; /* custom numFmt ids that are dates */
    size_t nfmt;
    unsigned char *xf_date; /* per cellXfs index: is a date style */
    size_t nxf;
} style_ctx;

/* A custom number format is a date when it has d, y, or m without h/s (minutes), outside
 * quoted text, backslash escapes and [brackets] ([Red], [$-409]); [h]:mm is a duration. */
static int format_is_date(const char *f)
{
    int d = 0, m = 0, hs = 0;
    for (const char *p = f; *p != '\0'; p++) {
        if (*p == '"') {
            p = strchr(p + 1, '"');
            if (p == NULL)
                break;
        } else if (*p == '[') {
            const char *close = strchr(p + 1, ']');
            if (close == NULL)
                break;
            /* [h], [mm], [ss]: elapsed time, so a following "mm" is minutes. */
            if (strspn(p + 1, "hHmMsS") == (size_t)(close - p - 1) && close > p + 1)
                hs = 1;
            p = close;
        } else if (*p == '\\' && p[1] != '\0') {
            p++;
        } else if (*p == 'd' || *p == 'D' || *p == 'y' || *p == 'Y') {
            d = 1;
        } else if (*p == 'm' || *p == 'M') {
            m = 1;
        } else if (*p == 'h' || *p == 'H' || *p == 's' || *p == 'S') {
            hs = 1;
        }
    }
    return d || (m && !hs);
}

static int builtin_is_date(unsigned id)
{
    return (id >= 14 && id <= 22) || (id >= 45 && id <= 47);
}

static void XMLCALL style_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    style_ctx *s = ud;
    const char *n = local_name(name);
    if (strcmp(n, "cellXfs") == 0) {
        s->in_cellxfs = 1;
    } else if (strcmp(n, "numFmts") == 0) {
        s->in_numfmts = 1; /* not the numFmt of differential formats (dxfs) */
    } else if (strcmp(n, "numFmt") == 0 && s->in_numfmts) {
        const char *id = attr(atts, "numFmtId"), *code = attr(atts, "formatCode");
        if (id == NULL || code == NULL || !format_is_date(code))
            return;
        if (s->nfmt >= XLSX_MAX_STYLES) {
            xml_stop(&s->base, upload__fail(s->base.err, EQ_EINVAL, 422, "invalid-spreadsheet",
                                            "too many number formats"));
            return;
        }
        unsigned *f = realloc(s->fmt_ids, (s->nfmt + 1) * sizeof *f);
        if (f == NULL) {
            xml_oom(&s->base);
            return;
        }
        s->fmt_ids = f;
        s->fmt_ids[s->nfmt++] = (unsigned)strtoul(id, NULL, 10);
    } else if (strcmp(n, "xf") == 0 && s->in_cellxfs) {
        if (s->nxf >= XLSX_MAX_STYLES) {
            xml_stop(&s->base, upload__fail(s->base.err, EQ_EINVAL, 422, "invalid-spreadsheet",
                                            "too many cell styles"));
            return;
        }
        unsigned char *x = realloc(s->xf_date, s->nxf + 1);
        if (x == NULL) {
            xml_oom(&s->base);
            return;
        }
        s->xf_date = x;
        const char *id = attr(atts, "numFmtId");
        unsigned fid = id ? (unsigned)strtoul(id, NULL, 10) : 0;
        int date = builtin_is_date(fid);
        for (size_t i = 0; i < s->nfmt && !date; i++)
            date = s->fmt_ids[i] == fid;
        s->xf_date[s->nxf++] = (unsigned char)date;
    }
}

static void XMLCALL style_end(void *ud, const XML_Char *name)
{
    style_ctx *s = ud;
    if (strcmp(local_name(name), "cellXfs") == 0)
        s->in_cellxfs = 0;
    else if (strcmp(local_name(name), "numFmts") == 0)
        s->in_numfmts = 0;
}

/* ---- sharedStrings.xml and the sheet share a text accumulator ---- */

typedef struct text_buf {
    char *s;
    size_t len, cap, limit;
    int too_long;
} text_buf;

static int text_add(text_buf *t, const char *s, int len)
{
    if (t->len + (size_t)len > t->limit) {
        t->too_long = 1;
        return 1;
    }
    if (t->len + (size_t)len + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->len + (size_t)len + 1)
            cap *= 2;
        char *n = realloc(t->s, cap);
        if (n == NULL)
            return 0;
        t->s = n;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, (size_t)len);
    t->len += (size_t)len;
    t->s[t->len] = '\0';
    return 1;
}

typedef struct sst_ctx {
    xml_base base;
    char **strings;
    size_t n, cap, max;
    int in_si, in_t, in_rph;
    text_buf cur;
} sst_ctx;

static void XMLCALL sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    sst_ctx *s = ud;
    const char *n = local_name(name);
    if (strcmp(n, "si") == 0) {
        s->in_si = 1;
        s->cur.len = 0;
        s->cur.too_long = 0;
    } else if (strcmp(n, "rPh") == 0) {
        s->in_rph = 1; /* phonetic runs are not part of the text */
    } else if (strcmp(n, "t") == 0 && s->in_si && !s->in_rph) {
        s->in_t = 1;
    }
}

static void XMLCALL sst_end(void *ud, const XML_Char *name)
{
    sst_ctx *s = ud;
    const char *n = local_name(name);
    if (strcmp(n, "t") == 0) {
        s->in_t = 0;
    } else if (strcmp(n, "rPh") == 0) {
        s->in_rph = 0;
    } else if (strcmp(n, "si") == 0 && s->in_si) {
        s->in_si = 0;
        if (s->n >= s->max) {
            xml_stop(&s->base, upload__fail(s->base.err, EQ_ETOOBIG, 413, "too-many-cells",
                                            "more than %zu shared strings", s->max));
            return;
        }
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            char **a = realloc(s->strings, cap * sizeof *a);
            if (a == NULL) {
                xml_oom(&s->base);
                return;
            }
            s->strings = a;
            s->cap = cap;
        }
        /* An over-long string is kept as NULL and refused only if a cell uses it. */
        char *copy = NULL;
        if (!s->cur.too_long && (copy = strndup(s->cur.s ? s->cur.s : "", s->cur.len)) == NULL) {
            xml_oom(&s->base);
            return;
        }
        s->strings[s->n++] = copy;
    }
}

static void XMLCALL sst_chars(void *ud, const XML_Char *data, int len)
{
    sst_ctx *s = ud;
    if (s->in_t && !text_add(&s->cur, data, len))
        xml_oom(&s->base);
}


/* ---- the worksheet ---- */

typedef struct sheet_ctx {
    xml_base base;
    up_grid *g;
    const sst_ctx *sst;
    const style_ctx *styles;
    int date1904;
    size_t row;     /* current row index, 0-based */
    int any_row;    /* a <row> was seen */
    size_t next_col;
    size_t c_row, c_col;
    char c_type[16];
    size_t c_style;
    int in_c, in_v, in_is, in_t;
    text_buf val;
} sheet_ctx;

/* Parses a cell reference such as "AB12" into 0-based row and column. */
static int parse_ref(const char *r, size_t *row, size_t *col)
{
    size_t c = 0, n = 0, letters = 0, digits = 0;
    for (; *r >= 'A' && *r <= 'Z' && letters < 3; r++, letters++)
        c = c * 26 + (size_t)(*r - 'A' + 1);
    for (; *r >= '0' && *r <= '9' && digits < 8; r++, digits++)
        n = n * 10 + (size_t)(*r - '0');
    if (letters == 0 || digits == 0 || n == 0 || *r != '\0')
        return 0;
    *row = n - 1;
    *col = c - 1;
    return 1;
}

static void XMLCALL sheet_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    sheet_ctx *s = ud;
    const char *n = local_name(name);
    if (strcmp(n, "row") == 0) {
        const char *r = attr(atts, "r");
        char *end;
        unsigned long v = r ? strtoul(r, &end, 10) : 0;
        if (r != NULL && (*end != '\0' || v == 0 || v > 1048576)) {
            xml_stop(&s->base, upload__fail(s->base.err, EQ_EINVAL, 422, "invalid-spreadsheet",
                                            "bad row number %.20s", r));
            return;
        }
        s->row = r ? v - 1 : (s->any_row ? s->row + 1 : 0);
        s->any_row = 1;
        s->next_col = 0;
    } else if (strcmp(n, "c") == 0) {
        const char *r = attr(atts, "r"), *t = attr(atts, "t"), *st = attr(atts, "s");
        s->c_row = s->row;
        s->c_col = s->next_col;
        if (r != NULL && !parse_ref(r, &s->c_row, &s->c_col)) {
            xml_stop(&s->base, upload__fail(s->base.err, EQ_EINVAL, 422, "invalid-spreadsheet",
                                            "bad cell reference %.20s", r));
            return;
        }
        s->next_col = s->c_col + 1;
        snprintf(s->c_type, sizeof s->c_type, "%s", t ? t : "n");
        s->c_style = st ? (size_t)strtoul(st, NULL, 10) : 0;
        s->in_c = 1;
        s->val.len = 0;
        s->val.too_long = 0;
    } else if (s->in_c && strcmp(n, "v") == 0) {
        s->in_v = 1;
    } else if (s->in_c && strcmp(n, "is") == 0) {
        s->in_is = 1;
    } else if (s->in_is && strcmp(n, "t") == 0) {
        s->in_t = 1;
    }
}

static void sheet_cell_end(sheet_ctx *s)
{
    upload_error *err = s->base.err;
    const char *v = s->val.s && s->val.len ? s->val.s : "";
    const char *t = s->c_type;
    eq_err rc = EQ_OK;
    if (s->val.too_long) {
        rc = upload__fail(err, EQ_ETOOBIG, 413, "cell-too-long",
                          "a cell in row %zu is longer than %zu bytes", s->c_row + 1,
                          s->g->lim->max_cell_bytes);
    } else if (*v == '\0') {
        return; /* an empty or style-only cell */
    } else if (strcmp(t, "s") == 0) {
        char *end;
        unsigned long i = strtoul(v, &end, 10);
        if (*end != '\0' || i >= s->sst->n)
            rc = upload__fail(err, EQ_EINVAL, 422, "invalid-spreadsheet",
                              "cell in row %zu uses a shared string that does not exist",
                              s->c_row + 1);
        else if (s->sst->strings[i] == NULL)
            rc = upload__fail(err, EQ_ETOOBIG, 413, "cell-too-long",
                              "a cell in row %zu is longer than %zu bytes", s->c_row + 1,
                              s->g->lim->max_cell_bytes);
        else
            rc = upload__grid_put(s->g, s->c_row, s->c_col, UP_CELL_TEXT, 0,
                                  s->sst->strings[i], strlen(s->sst->strings[i]), err);
    } else if (strcmp(t, "inlineStr") == 0 || strcmp(t, "str") == 0) {
        rc = upload__grid_put(s->g, s->c_row, s->c_col, UP_CELL_TEXT, 0, v, s->val.len, err);
    } else if (strcmp(t, "b") == 0) {
        rc = upload__grid_put(s->g, s->c_row, s->c_col, UP_CELL_BOOL, strcmp(v, "0") != 0,
                              NULL, 0, err);
    } else if (strcmp(t, "e") == 0) {
        rc = upload__grid_put(s->g, s->c_row, s->c_col, UP_CELL_ERROR, NAN, NULL, 0, err);
    } else {
        double d = NAN, num;
        char *end;
        if (strcmp(t, "d") == 0 && upload__parse_date(v, 0, &d)) {
            rc = upload__grid_put(s->g, s->c_row, s->c_col, UP_CELL_DATE, d, NULL, 0, err);
        } else if ((num = strtod(v, &end)), *end == '\0' && isfinite(num)) {
            int is_date = s->c_style < s->styles->nxf && s->styles->xf_date[s->c_style];
            if (is_date)
                d = upload__excel_days(num, s->date1904);
            if (!isnan(d))
                rc = upload__grid_put(s->g, s->c_row, s->c_col, UP_CELL_DATE, d, NULL, 0, err);
            else
                rc = upload__grid_put(s->g, s->c_row, s->c_col, UP_CELL_NUMBER, num, NULL, 0,
                                      err);
        } else {
            rc = upload__grid_put(s->g, s->c_row, s->c_col, UP_CELL_TEXT, 0, v, s->val.len, err);
        }
    }
    if (rc != EQ_OK)
        xml_stop(&s->base, rc);
}

static void XMLCALL sheet_end(void *ud, const XML_Char *name)
{
    sheet_ctx *s = ud;
    const char *n = local_name(name);
    if (strcmp(n, "c") == 0 && s->in_c) {
        s->in_c = s->in_v = s->in_is = s->in_t = 0;
        sheet_cell_end(s);
    } else if (strcmp(n, "v") == 0) {
        s->in_v = 0;
    } else if (strcmp(n, "is") == 0) {
        s->in_is = 0;
    } else if (strcmp(n, "t") == 0) {
        s->in_t = 0;
    }
}

static void XMLCALL sheet_chars(void *ud, const XML_Char *data, int len)
{
    sheet_ctx *s = ud;
    if ((s->in_v || s->in_t) && !text_add(&s->val, data, len))
        xml_oom(&s->base);
}

eq_err upload__xlsx_parse(const void *buf, size_t len, up_grid *g, upload_error *err)
{
    zip_error_t zerr;
    zip_error_init(&zerr);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &zerr);
    zip_t *z = NULL;
    char *data = NULL;
    size_t dlen;
    wb_ctx wb = {.base.err = err};
    style_ctx styles = {.base.err = err};
    sst_ctx sst = {.base.err = err, .max = g->lim->max_cells,
                   .cur.limit = g->lim->max_cell_bytes};
    sheet_ctx sh = {.base.err = err, .g = g, .sst = &sst, .styles = &styles,
                    .val.limit = g->lim->max_cell_bytes};
    eq_err rc;
    if (src == NULL) {
        rc = upload__fail(err, EQ_ENOMEM, 500, "out-of-memory", "out of memory");
        goto done;
    }
    z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (z == NULL) {
        zip_source_free(src);
        rc = upload__fail(err, EQ_EINVAL, 422, "invalid-archive", "not a readable ZIP archive: %s",
                          zip_error_strerror(&zerr));
        goto done;
    }
    if ((rc = check_archive(z, g->lim, err)) != EQ_OK)
        goto done;

    if ((rc = read_entry(z, "_rels/.rels", 0, &data, &dlen, err)) != EQ_OK ||
        (data != NULL && (rc = xml_run(data, dlen, &wb.base, "package relationships",
                                       root_rels_start, no_end, NULL)) != EQ_OK))
        goto done;
    free(data);
    data = NULL;
    if (wb.workbook_path[0] == '\0')
        snprintf(wb.workbook_path, sizeof wb.workbook_path, "xl/workbook.xml");
    const char *slash = strrchr(wb.workbook_path, '/');
    size_t dirlen = slash ? (size_t)(slash - wb.workbook_path) + 1 : 0;
    snprintf(wb.base_dir, sizeof wb.base_dir, "%.*s", (int)dirlen, wb.workbook_path);
    char rels_path[2 * XLSX_PATH_MAX + 16];
    snprintf(rels_path, sizeof rels_path, "%s_rels/%s.rels", wb.base_dir,
             wb.workbook_path + dirlen);

    if ((rc = read_entry(z, wb.workbook_path, 1, &data, &dlen, err)) != EQ_OK ||
        (rc = xml_run(data, dlen, &wb.base, "workbook", wb_start, no_end, NULL)) != EQ_OK)
        goto done;
    free(data);
    data = NULL;
    if (wb.sheet_rid[0] == '\0') {
        rc = upload__fail(err, EQ_EINVAL, 422, "invalid-spreadsheet", "the workbook has no sheet");
        goto done;
    }
    if ((rc = read_entry(z, rels_path, 1, &data, &dlen, err)) != EQ_OK ||
        (rc = xml_run(data, dlen, &wb.base, "workbook relationships", rels_start, no_end,
                      NULL)) != EQ_OK)
        goto done;
    free(data);
    data = NULL;
    if (wb.sheet_path[0] == '\0') {
        rc = upload__fail(err, EQ_EINVAL, 422, "invalid-spreadsheet",
                          "the first sheet's part is not in the relationships");
        goto done;
    }
    if ((rc = read_entry(z, wb.styles_path[0] ? wb.styles_path : "xl/styles.xml", 0, &data,
                         &dlen, err)) != EQ_OK ||
        (data != NULL &&
         (rc = xml_run(data, dlen, &styles.base, "styles", style_start, style_end, NULL)) !=
             EQ_OK))
        goto done;
    free(data);
    data = NULL;
    if ((rc = read_entry(z, wb.strings_path[0] ? wb.strings_path : "xl/sharedStrings.xml", 0,
                         &data, &dlen, err)) != EQ_OK ||
        (data != NULL &&
         (rc = xml_run(data, dlen, &sst.base, "shared strings", sst_start, sst_end, sst_chars)) !=
             EQ_OK))
        goto done;
    free(data);
    data = NULL;
    sh.date1904 = wb.date1904;
    if ((rc = read_entry(z, wb.sheet_path, 1, &data, &dlen, err)) != EQ_OK)
        goto done;
    rc = xml_run(data, dlen, &sh.base, "worksheet", sheet_start, sheet_end, sheet_chars);
done:
    free(data);
    free(sh.val.s);
    for (size_t i = 0; i < sst.n; i++)
        free(sst.strings[i]);
    free(sst.strings);
    free(sst.cur.s);
    free(styles.fmt_ids);
    free(styles.xf_date);
    if (z != NULL)
        zip_discard(z);
    return rc;
}
