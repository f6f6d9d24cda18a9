/* Coverage-guided fuzz target for api/upload (libFuzzer's LLVMFuzzerTestOneInput).
 *
 * The first byte picks the parser: 0 CSV, 1 raw XLSX bytes, 2 XLSX parts (the rest is
 * "styles\0sharedStrings\0sheet", zipped here so the fuzzer works on XML rather than on
 * deflate), 3 multipart, 4 the storage decoder, 5 name cleaning. XLS is left out: freexl runs
 * in a forked child per call, too slow for fuzzing, and upload_fuzz_test.c mutates it.
 *
 * Built two ways (tests/upload/CMakeLists.txt): with clang, `-fsanitize=fuzzer` makes it a
 * libFuzzer binary (-DECONQ_LIBFUZZER, target upload_fuzzer, not a ctest test); with any
 * compiler, the main() below replays files given on the command line, or a built-in seed set,
 * so the seeds run under ASan/UBSan in ctest (upload_fuzz_replay). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "api/upload/upload.h"

static const char WB[] = "<workbook xmlns:r=\"r\"><workbookPr/><sheets><sheet name=\"a\" "
                         "sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
static const char RELS[] = "<Relationships><Relationship Id=\"rId1\" Type=\"x/worksheet\" "
                           "Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" "
                           "Type=\"x/sharedStrings\" Target=\"sharedStrings.xml\"/>"
                           "<Relationship Id=\"rId3\" Type=\"x/styles\" Target=\"styles.xml\"/>"
                           "</Relationships>";

/* Zips the parts; NULL on any libzip failure (the harness then skips the input). */
static unsigned char *zip_parts(const char *const names[], const void *const data[],
                                const size_t lens[], size_t n, size_t *len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (src == NULL)
        return NULL;
    zip_source_keep(src);
    zip_t *z = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    unsigned char *out = NULL;
    if (z == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(z, data[i], lens[i], 0);
        if (s == NULL || zip_file_add(z, names[i], s, ZIP_FL_OVERWRITE) < 0) {
            zip_source_free(s);
            zip_discard(z);
            goto done;
        }
    }
    if (zip_close(z) != 0) {
        zip_discard(z);
        goto done;
    }
    zip_stat_t st;
    if (zip_source_open(src) == 0) {
        if (zip_source_stat(src, &st) == 0 && (out = malloc(st.size + 1)) != NULL &&
            zip_source_read(src, out, st.size) != (zip_int64_t)st.size) {
            free(out);
            out = NULL;
        }
        *len = out ? st.size : 0;
        zip_source_close(src);
    }
done:
    zip_source_free(src);
    return out;
}

static void parse(const void *buf, size_t len, const char *kind)
{
    ds_table *t = NULL;
    upload_error e;
    if (upload_parse(buf, len, kind, NULL, &t, &e) != EQ_OK)
        return;
    unsigned char *enc;
    size_t elen;
    if (ds_table_encode(t, &enc, &elen) == EQ_OK) {
        ds_table *back = NULL;
        if (ds_table_decode(enc, elen, &back) != EQ_OK)
            abort(); /* what we encode must decode */
        ds_table_free(back);
        free(enc);
    }
    cJSON_Delete(ds_table_describe(t, 1));
    if (t->ncols > 0)
        cJSON_Delete(ds_column_json(t, t->cols[t->ncols - 1].name));
    for (size_t c = 0; c < t->ncols; c++) {
        cJSON *s = NULL;
        if (ds_table_series_json(t, t->cols[c].name, &s, &e) == EQ_OK)
            cJSON_Delete(s);
    }
    ds_table_free(t);
}

static void xlsx_parts(const uint8_t *p, size_t n)
{
    const void *part[3] = {"", "", ""};
    size_t plen[3] = {0, 0, 0};
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n && k < 3; i++) {
        if (i == n || p[i] == 0) {
            part[k] = p + start;
            plen[k++] = i - start;
            start = i + 1;
        }
    }
    const char *const names[] = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                                 "xl/styles.xml", "xl/sharedStrings.xml",
                                 "xl/worksheets/sheet1.xml"};
    const void *const data[] = {WB, RELS, part[0], part[1], part[2]};
    const size_t lens[] = {sizeof WB - 1, sizeof RELS - 1, plen[0], plen[1], plen[2]};
    size_t len;
    unsigned char *zip = zip_parts(names, data, lens, 5, &len);
    if (zip != NULL)
        parse(zip, len, "xlsx");
    free(zip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0:
        parse(p, n, "csv");
        break;
    case 1:
        parse(p, n, "xlsx");
        break;
    case 2:
        xlsx_parts(p, n);
        break;
    case 3: {
        multipart_part parts[4];
        size_t np;
        upload_error e;
        multipart_parse("multipart/form-data; boundary=B", p, n, parts, 4, &np, &e);
        break;
    }
    case 4: {
        ds_table *t = NULL;
        if (ds_table_decode(p, n, &t) == EQ_OK) {
            cJSON_Delete(ds_table_describe(t, 1));
            ds_table_free(t);
        }
        break;
    }
    default: {
        char *s = malloc(n + 1), out[64];
        if (s == NULL)
            return 0;
        memcpy(s, p, n);
        s[n] = '\0';
        upload_clean_name(s, out, sizeof out, NULL);
        free(s);
        break;
    }
    }
    return 0;
}

#ifndef ECONQ_LIBFUZZER
/* Seeds, one per parser, replayed when no file is given. */
static const char *const seeds[] = {
    "\0date;v\n2020-01;1,5\n2020-02;\"2\"\n",
    "\2<styleSheet><numFmts><numFmt numFmtId=\"164\" formatCode=\"yyyy\"/></numFmts><cellXfs>"
    "<xf numFmtId=\"0\"/><xf numFmtId=\"164\"/></cellXfs></styleSheet>\1<sst><si><t>d</t></si>"
    "</sst>\1<worksheet><sheetData><row><c t=\"s\"><v>0</v></c><c t=\"inlineStr\"><is><t>v</t>"
    "</is></c></row><row><c s=\"1\"><v>40000</v></c><c><v>1</v></c></row></sheetData>"
    "</worksheet>",
    "\3--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--B--",
    "\5../a/b..c",
};

/* Replays a fixture file with the given mode byte in front; 0 if it cannot be read. */
static int replay_fixture(const char *name, uint8_t mode)
{
    const char *root = getenv("ECONQ_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/data/%s", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    unsigned char *b = malloc(UPLOAD_MAX_BYTES + 2);
    size_t len = b ? fread(b + 1, 1, UPLOAD_MAX_BYTES, f) : 0;
    fclose(f);
    if (b == NULL)
        return 0;
    b[0] = mode;
    LLVMFuzzerTestOneInput(b, len + 1);
    free(b);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 && (!replay_fixture("us_macro_monthly.csv", 0) ||
                     !replay_fixture("us_macro_monthly.xlsx", 1))) {
        fprintf(stderr, "cannot read the fixtures (ECONQ_SOURCE_DIR?)\n");
        return 1;
    }
    for (size_t i = 0; argc < 2 && i < sizeof seeds / sizeof seeds[0]; i++) {
        /* The seeds are C strings with \1 standing for the NUL separators of mode 2. */
        size_t len = 1 + strlen(seeds[i] + 1);
        unsigned char *b = malloc(len);
        if (b == NULL)
            return 1;
        memcpy(b, seeds[i], len);
        for (size_t k = 1; k < len; k++)
            if (b[k] == 1)
                b[k] = 0;
        LLVMFuzzerTestOneInput(b, len);
        free(b);
    }
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        unsigned char *b = malloc(UPLOAD_MAX_BYTES + 2);
        size_t len = b ? fread(b, 1, UPLOAD_MAX_BYTES + 1, f) : 0;
        fclose(f);
        if (b == NULL)
            return 1;
        LLVMFuzzerTestOneInput(b, len);
        free(b);
    }
    return 0;
}
#endif
