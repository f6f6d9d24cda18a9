/* A deterministic mutation smoke test of every api/upload parser: seeded inputs are mutated
 * (byte changes, interesting characters, deletions, duplications, truncations) and parsed
 * under the sanitizers. Every call must either succeed with a consistent table or refuse
 * with a slug and a 4xx status; nothing may crash or leak. The same pure functions are the
 * entry points for a coverage-guided fuzzer. */
#include <math.h>

#include "tests/upload/upload_test_util.h"

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

/* Mutates src into a new buffer (caller frees); *len in/out. */
static unsigned char *mutate(rng *r, const unsigned char *src, size_t *len, size_t keep_prefix)
{
    static const unsigned char interesting[] = {'"', ',', ';', '\t', '\n', '\r', '<', '>', '&',
                                                '/', '0', '9', '-', '.', 'Q', 'e', 0x80, 0xC3,
                                                0xFF, 0, ' ', 'N', 'A', '1'};
    size_t n = *len;
    unsigned char *b = malloc(2 * n + 16);
    ck_assert_ptr_nonnull(b);
    memcpy(b, src, n);
    int ops = 1 + (int)(next(r) % 6);
    for (int k = 0; k < ops && n > keep_prefix; k++) {
        size_t span = n - keep_prefix;
        size_t at = keep_prefix + next(r) % span;
        switch (next(r) % 6) {
        case 0:
            b[at] = (unsigned char)next(r);
            break;
        case 1:
        case 2:
            b[at] = interesting[next(r) % sizeof interesting];
            break;
        case 3: { /* delete up to 16 bytes */
            size_t del = 1 + next(r) % 16;
            if (del > n - at)
                del = n - at;
            memmove(b + at, b + at + del, n - at - del);
            n -= del;
            break;
        }
        case 4: { /* duplicate up to 16 bytes, within the 2x budget */
            size_t dup = 1 + next(r) % 16;
            if (dup > n - at)
                dup = n - at;
            if (n + dup <= 2 * *len + 16) {
                memmove(b + at + dup, b + at, n - at);
                n += dup;
            }
            break;
        }
        default:
            n = keep_prefix + next(r) % (n - keep_prefix + 1);
            break;
        }
    }
    *len = n;
    return b;
}

/* Returns 1 when the input was accepted (and checked), 0 when refused properly. */
static int parse_and_check(const void *buf, size_t len, const char *kind)
{
    ds_table *t = NULL;
    upload_error e = {0};
    eq_err rc = upload_parse(buf, len, kind, NULL, &t, &e);
    if (rc != EQ_OK) {
        ck_assert_ptr_null(t);
        ck_assert_msg(e.type[0] != '\0' && e.detail[0] != '\0', "refusal without a slug");
        ck_assert_msg(e.status >= 400 && e.status < 500, "status %d for %s", e.status, e.type);
        return 0;
    }
    ck_assert_uint_gt(t->nrows, 0);
    ck_assert_uint_gt(t->ncols, 0);
    size_t numeric = 0;
    for (size_t c = 0; c < t->ncols; c++) {
        const ds_column *col = &t->cols[c];
        size_t miss = 0;
        for (size_t r = 0; r < t->nrows; r++)
            miss += col->type == DS_TYPE_TEXT ? col->text[r] == NULL : isnan(col->num[r]);
        ck_assert_uint_eq(miss, col->missing);
        numeric += col->type == DS_TYPE_NUMBER;
    }
    ck_assert_uint_gt(numeric, 0);
    unsigned char *enc;
    size_t elen;
    ds_table *back;
    ck_assert_int_eq(ds_table_encode(t, &enc, &elen), EQ_OK);
    ck_assert_int_eq(ds_table_decode(enc, elen, &back), EQ_OK);
    cJSON *j = ds_table_describe(back, 1);
    ck_assert_ptr_nonnull(j);
    cJSON_Delete(j);
    ds_table_free(back);
    free(enc);
    ds_table_free(t);
    return 1;
}

static const char CSV_SEED[] = "date;value;note\n2020-01;1,5;\"a;b\"\n2020-02;NA;\"x\"\"y\"\n"
                               "2020Q3;3;\"multi\nline\"\n";

START_TEST(csv_mutations)
{
    rng r = {0x9E3779B97F4A7C15u};
    size_t flen;
    unsigned char *real = fixture_read("us_macro_monthly.csv", &flen);
    if (flen > 1500)
        flen = 1500;
    size_t accepted = 0;
    for (int i = 0; i < 4000; i++) {
        const unsigned char *seed = i % 2 ? real : (const unsigned char *)CSV_SEED;
        size_t len = i % 2 ? flen : sizeof CSV_SEED - 1;
        unsigned char *m = mutate(&r, seed, &len, 0);
        accepted += parse_and_check(m, len, "csv");
        free(m);
    }
    ck_assert_uint_gt(accepted, 400); /* the mutations reach the inference, not just refusals */
    free(real);
}
END_TEST

#define NS "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\""
static const char WB[] = "<workbook " NS " xmlns:r=\"r\"><workbookPr date1904=\"0\"/><sheets>"
                         "<sheet name=\"a\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
static const char RELS[] = "<Relationships><Relationship Id=\"rId1\" Type=\"x/worksheet\" "
                           "Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" "
                           "Type=\"x/sharedStrings\" Target=\"sharedStrings.xml\"/>"
                           "<Relationship Id=\"rId3\" Type=\"x/styles\" Target=\"styles.xml\"/>"
                           "</Relationships>";
static const char STY[] = "<styleSheet><numFmts><numFmt numFmtId=\"164\" formatCode=\"yyyy-mm\"/>"
                          "</numFmts><cellXfs><xf numFmtId=\"0\"/><xf numFmtId=\"164\"/>"
                          "</cellXfs></styleSheet>";
static const char SST[] = "<sst><si><t>date</t></si><si><r><t>val</t></r><r><t>ue</t></r></si>"
                          "<si><t>NA</t></si></sst>";
static const char SHEET[] =
    "<worksheet " NS "><sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" "
    "t=\"s\"><v>1</v></c><c r=\"C1\" t=\"inlineStr\"><is><t>flag</t></is></c></row>"
    "<row r=\"2\"><c r=\"A2\" s=\"1\"><v>43831</v></c><c r=\"B2\"><v>1.5</v></c><c r=\"C2\" "
    "t=\"b\"><v>1</v></c></row><row r=\"3\"><c r=\"A3\" s=\"1\"><v>43862</v></c><c r=\"B3\" "
    "t=\"s\"><v>2</v></c><c r=\"C3\" t=\"e\"><v>#N/A</v></c></row><row><c s=\"1\"><v>43891"
    "</v></c><c><f>B2</f><v>2</v></c></row></sheetData></worksheet>";

START_TEST(xlsx_mutations)
{
    rng r = {0xD1B54A32D192ED03u};
    size_t accepted = 0;
    for (int i = 0; i < 400; i++) {
        size_t sl = sizeof SHEET - 1, tl = sizeof SST - 1, yl = sizeof STY - 1;
        unsigned char *sheet = i % 3 == 0 ? mutate(&r, (const void *)SHEET, &sl, 0) : NULL;
        unsigned char *sst = i % 3 == 1 ? mutate(&r, (const void *)SST, &tl, 0) : NULL;
        unsigned char *sty = i % 3 == 2 ? mutate(&r, (const void *)STY, &yl, 0) : NULL;
        /* zip_build treats len 0 as "use strlen": keep at least one byte. */
        xentry e[] = {{"xl/workbook.xml", WB, 0},
                      {"xl/_rels/workbook.xml.rels", RELS, 0},
                      {"xl/styles.xml", sty ? (void *)sty : STY, sty ? (yl ? yl : 1) : 0},
                      {"xl/sharedStrings.xml", sst ? (void *)sst : SST, sst ? (tl ? tl : 1) : 0},
                      {"xl/worksheets/sheet1.xml", sheet ? (void *)sheet : SHEET,
                       sheet ? (sl ? sl : 1) : 0}};
        size_t len;
        unsigned char *zip = zip_build(e, 5, &len);
        accepted += parse_and_check(zip, len, "xlsx");
        free(zip);
        free(sheet);
        free(sst);
        free(sty);
    }
    /* Raw archive bytes, too: mostly refused by libzip, never a crash. */
    size_t xlen;
    unsigned char *real = fixture_read("us_macro_monthly.xlsx", &xlen);
    for (int i = 0; i < 200; i++) {
        size_t len = xlen;
        unsigned char *m = mutate(&r, real, &len, 4);
        parse_and_check(m, len, "xlsx");
        free(m);
    }
    ck_assert_uint_gt(accepted, 5); /* most XML mutations break well-formedness */
    free(real);
}
END_TEST

/* Some of these inputs make libfreexl 1.0.6 read past a stack buffer (its iconv conversion;
 * ASan in the reader child prints the report). They pass only because api/upload runs freexl
 * in a child process and refuses what the child cannot finish. */
START_TEST(xls_mutations)
{
    rng r = {0xA0761D6478BD642Fu};
    size_t accepted = 0;
    size_t xlen;
    unsigned char *real = fixture_read("us_macro_quarterly.xls", &xlen);
    for (int i = 0; i < 150; i++) {
        size_t len = xlen;
        unsigned char *m = mutate(&r, real, &len, 8);
        accepted += parse_and_check(m, len, "xls");
        free(m);
    }
    ck_assert_uint_gt(accepted, 10);
    free(real);
}
END_TEST

START_TEST(multipart_mutations)
{
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"
                               "macro\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                               "filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nd,x\r\n1,2"
                               "\r\n--XyZ--\r\n";
    rng r = {0x2545F4914F6CDD1Du};
    for (int i = 0; i < 4000; i++) {
        size_t len = sizeof body - 1;
        unsigned char *m = mutate(&r, (const void *)body, &len, 0);
        multipart_part parts[3];
        size_t n = 0;
        upload_error e = {0};
        if (multipart_parse("multipart/form-data; boundary=XyZ", m, len, parts, 3, &n, &e) ==
            EQ_OK) {
            for (size_t k = 0; k < n; k++) {
                ck_assert(parts[k].data >= m && parts[k].data + parts[k].len <= m + len);
                char name[64];
                upload_clean_name(parts[k].filename, name, sizeof name, NULL);
            }
        } else {
            ck_assert_int_eq(e.status, 400);
        }
        free(m);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upload_fuzz");
    TCase *tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, csv_mutations);
    tcase_add_test(tc, xlsx_mutations);
    tcase_add_test(tc, xls_mutations);
    tcase_add_test(tc, multipart_mutations);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
