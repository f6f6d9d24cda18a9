/* api/upload XLSX on workbooks the test builds with libzip: cell kinds, styles and date
 * systems, sparse cells, and the refusals (zip bomb, DTDs and entities, truncation). */
#include <math.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "tests/upload/upload_test_util.h"

#define NS "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\""
#define RNS "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""

static const char WORKBOOK[] = "<?xml version=\"1.0\"?><workbook " NS " " RNS ">"
                               "<workbookPr/><sheets><sheet name=\"first\" sheetId=\"1\" "
                               "r:id=\"rId7\"/><sheet name=\"second\" sheetId=\"2\" "
                               "r:id=\"rId8\"/></sheets></workbook>";
static const char WORKBOOK_1904[] = "<workbook " NS " " RNS "><workbookPr date1904=\"1\"/><sheets>"
                                    "<sheet name=\"s\" sheetId=\"1\" r:id=\"rId7\"/></sheets>"
                                    "</workbook>";
static const char RELS[] =
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId8\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships/worksheet\" Target=\"worksheets/sheet2.xml\"/>"
    "<Relationship Id=\"rId7\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships/worksheet\" Target=\"/xl/worksheets/data.xml\"/>"
    "<Relationship Id=\"rId9\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships/sharedStrings\" Target=\"sharedStrings.xml\"/>"
    "<Relationship Id=\"rId10\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships/styles\" Target=\"styles.xml\"/></Relationships>";
/* xf 0 general, 1 built-in 14 (m/d/yyyy), 2 custom "dd/mm/yyyy;@", 3 "0.00", 4 custom
 * "[h]:mm" (a duration, not a date). */
static const char STYLES[] =
    "<styleSheet " NS "><numFmts count=\"2\"><numFmt numFmtId=\"164\" "
    "formatCode=\"dd/mm/yyyy;@\"/><numFmt numFmtId=\"165\" formatCode=\"[h]:mm\"/></numFmts>"
    "<cellStyleXfs count=\"1\"><xf numFmtId=\"14\"/></cellStyleXfs>"
    "<cellXfs count=\"5\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\" applyNumberFormat=\"1\"/>"
    "<xf numFmtId=\"164\"/><xf numFmtId=\"2\"/><xf numFmtId=\"165\"/></cellXfs></styleSheet>";
static const char STRINGS[] =
    "<sst " NS " count=\"3\" uniqueCount=\"3\"><si><t>date</t></si>"
    "<si><r><t>fl</t></r><r><rPr><b/></rPr><t>ag</t></r><rPh><t>PHONETIC</t></rPh></si>"
    "<si><t xml:space=\"preserve\">a &amp; b</t></si></sst>";
/* Row 4 is absent (dropped); row 5 is sparse (B5, C5 absent); cells without r follow on. */
static const char SHEET[] =
    "<worksheet " NS "><sheetData>"
    "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"inlineStr\"><is><t>value"
    "</t></is></c><c t=\"s\"><v>1</v></c><c r=\"D1\" t=\"inlineStr\"><is><t>formula</t></is>"
    "</c><c r=\"E1\" t=\"inlineStr\"><is><t>label</t></is></c><c r=\"F1\" t=\"inlineStr\"><is>"
    "<t>hours</t></is></c></row>"
    "<row r=\"2\"><c r=\"A2\" s=\"1\"><v>43831</v></c><c r=\"B2\" s=\"3\"><v>1.5</v></c>"
    "<c r=\"C2\" t=\"b\"><v>1</v></c><c r=\"D2\"><f>B2*2</f><v>3</v></c>"
    "<c r=\"E2\" t=\"str\"><f>\"a\"&amp;\"bc\"</f><v>abc</v></c><c r=\"F2\" s=\"4\"><v>1.25</v>"
    "</c></row>"
    "<row r=\"3\"><c r=\"A3\" s=\"2\" t=\"n\"><v>43862</v></c><c r=\"B3\" t=\"e\"><v>#N/A</v>"
    "</c><c r=\"C3\" t=\"b\"><v>0</v></c><c r=\"D3\"><f>B3</f><v>5</v></c>"
    "<c r=\"E3\" t=\"s\"><v>2</v></c><c r=\"F3\" s=\"4\"/></row>"
    "<row r=\"5\"><c r=\"A5\" s=\"1\"><v>43891.75</v></c><c r=\"D5\"><v>7</v></c></row>"
    "</sheetData></worksheet>";
static const char SHEET2[] = "<worksheet " NS "><sheetData><row r=\"1\"><c t=\"inlineStr\">"
                             "<is><t>wrong sheet</t></is></c></row></sheetData></worksheet>";

static unsigned char *book(const char *workbook, const char *sheet, size_t *len)
{
    xentry e[] = {{"xl/workbook.xml", workbook, 0},   {"xl/_rels/workbook.xml.rels", RELS, 0},
                  {"xl/styles.xml", STYLES, 0},       {"xl/sharedStrings.xml", STRINGS, 0},
                  {"xl/worksheets/data.xml", sheet, 0}, {"xl/worksheets/sheet2.xml", SHEET2, 0}};
    return zip_build(e, sizeof e / sizeof e[0], len);
}

static ds_table *parse_ok(const unsigned char *b, size_t len)
{
    ds_table *t = NULL;
    upload_error e = {0};
    ck_assert_msg(upload_parse(b, len, "xlsx", NULL, &t, &e) == EQ_OK, "%s: %s", e.type,
                  e.detail);
    return t;
}

START_TEST(cell_kinds)
{
    size_t len;
    unsigned char *b = book(WORKBOOK, SHEET, &len);
    ds_table *t = parse_ok(b, len);
    ck_assert_uint_eq(t->nrows, 3);
    ck_assert_uint_eq(t->ncols, 6);
    ck_assert_str_eq(t->cols[0].name, "date");
    ck_assert_str_eq(t->cols[1].name, "value");
    ck_assert_str_eq(t->cols[2].name, "flag"); /* rich text runs joined, phonetic dropped */
    ck_assert_int_eq(t->date_col, 0);
    ck_assert_double_eq(t->cols[0].num[0], 18262); /* 2020-01-01 */
    ck_assert_double_eq(t->cols[0].num[1], 18293); /* 2020-02-01, custom dd/mm/yyyy */
    ck_assert_double_eq(t->cols[0].num[2], 18322); /* 2020-03-01, time of day dropped */
    ck_assert_str_eq(t->frequency, "monthly");
    ck_assert_double_eq(t->cols[1].num[0], 1.5);
    ck_assert(isnan(t->cols[1].num[1])); /* #N/A error */
    ck_assert(isnan(t->cols[1].num[2])); /* absent in a sparse row */
    ck_assert_uint_eq(t->cols[1].missing, 2);
    ck_assert_int_eq(t->cols[2].type, DS_TYPE_NUMBER); /* booleans */
    ck_assert_double_eq(t->cols[2].num[0], 1);
    ck_assert_double_eq(t->cols[2].num[1], 0);
    ck_assert_double_eq(t->cols[3].num[0], 3); /* formula cells by cached value */
    ck_assert_double_eq(t->cols[3].num[1], 5);
    ck_assert_double_eq(t->cols[3].num[2], 7);
    ck_assert_int_eq(t->cols[4].type, DS_TYPE_TEXT);
    ck_assert_str_eq(t->cols[4].text[0], "abc");
    ck_assert_str_eq(t->cols[4].text[1], "a & b");
    ck_assert_ptr_null(t->cols[4].text[2]);
    ck_assert_int_eq(t->cols[5].type, DS_TYPE_NUMBER); /* [h]:mm is not a date format */
    ck_assert_double_eq(t->cols[5].num[0], 1.25);
    ds_table_free(t);
    free(b);
}
END_TEST

START_TEST(date_systems)
{
    /* 1904: serial 0 is 1904-01-01 (-24107 days from 1970). */
    const char sheet[] = "<worksheet " NS "><sheetData><row><c t=\"inlineStr\"><is><t>d</t>"
                         "</is></c><c t=\"inlineStr\"><is><t>x</t></is></c></row>"
                         "<row><c s=\"1\"><v>0</v></c><c><v>1</v></c></row>"
                         "<row><c s=\"1\"><v>366</v></c><c><v>2</v></c></row></sheetData>"
                         "</worksheet>";
    size_t len;
    unsigned char *b = book(WORKBOOK_1904, sheet, &len);
    ds_table *t = parse_ok(b, len);
    ck_assert_double_eq(t->cols[0].num[0], -24107);
    ck_assert_double_eq(t->cols[0].num[1], -24107 + 366); /* 1905-01-01, 1904 is leap */
    ck_assert_str_eq(t->frequency, "annual");
    ds_table_free(t);
    free(b);

    /* 1900: serial 1 = 1900-01-01, 59 = 1900-02-28, 60 = Excel's phantom 1900-02-29
     * (mapped to 03-01), 61 = 1900-03-01. 1900-01-01 is -25567 days from 1970. */
    const char s1900[] = "<worksheet " NS "><sheetData><row><c t=\"inlineStr\"><is><t>d</t>"
                         "</is></c><c t=\"inlineStr\"><is><t>x</t></is></c></row>"
                         "<row><c s=\"1\"><v>1</v></c><c><v>1</v></c></row>"
                         "<row><c s=\"1\"><v>59</v></c><c><v>1</v></c></row>"
                         "<row><c s=\"1\"><v>60</v></c><c><v>1</v></c></row>"
                         "<row><c s=\"1\"><v>61</v></c><c><v>1</v></c></row>"
                         "<row><c s=\"1\"><v>25569</v></c><c><v>1</v></c></row>"
                         "</sheetData></worksheet>";
    b = book(WORKBOOK, s1900, &len);
    t = parse_ok(b, len);
    ck_assert_double_eq(t->cols[0].num[0], -25567);
    ck_assert_double_eq(t->cols[0].num[1], -25567 + 58);
    ck_assert_double_eq(t->cols[0].num[2], -25567 + 59);
    ck_assert_double_eq(t->cols[0].num[3], -25567 + 59);
    ck_assert_double_eq(t->cols[0].num[4], 0);
    char buf[16];
    ds_date_format(t->cols[0].num[1], buf, sizeof buf);
    ck_assert_str_eq(buf, "1900-02-28");
    ds_date_format(t->cols[0].num[3], buf, sizeof buf);
    ck_assert_str_eq(buf, "1900-03-01");
    ds_table_free(t);
    free(b);
}
END_TEST

START_TEST(dtd_and_entities_refused)
{
    const char doctype[] = "<?xml version=\"1.0\"?><!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "
                           "\"file:///etc/passwd\">]><worksheet " NS "><sheetData><row><c "
                           "t=\"inlineStr\"><is><t>&xxe;</t></is></c></row></sheetData>"
                           "</worksheet>";
    size_t len;
    unsigned char *b = book(WORKBOOK, doctype, &len);
    expect_refused(b, len, "xlsx", NULL, "xml-dtd-forbidden", 422);
    free(b);
    /* A billion-laughs style internal entity in the workbook itself. */
    const char laughs[] = "<!DOCTYPE w [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">"
                          "]><workbook " NS "><sheets>&b;</sheets></workbook>";
    b = book(laughs, SHEET, &len);
    expect_refused(b, len, "xlsx", NULL, "xml-dtd-forbidden", 422);
    free(b);
    /* An undeclared entity reference without any DTD is malformed XML. */
    const char undeclared[] = "<worksheet " NS "><sheetData><row><c t=\"inlineStr\"><is><t>"
                              "&xxe;</t></is></c></row></sheetData></worksheet>";
    b = book(WORKBOOK, undeclared, &len);
    expect_refused(b, len, "xlsx", NULL, "malformed-xml", 422);
    free(b);
}
END_TEST

START_TEST(zip_bomb_refused)
{
    /* 4 MiB of one repeated byte deflates about 1000:1, far over the 100:1 limit. */
    size_t big = 4u << 20;
    char *zeros = malloc(big);
    ck_assert_ptr_nonnull(zeros);
    memset(zeros, ' ', big);
    xentry e[] = {{"xl/workbook.xml", WORKBOOK, 0},
                  {"xl/_rels/workbook.xml.rels", RELS, 0},
                  {"xl/worksheets/data.xml", SHEET, 0},
                  {"xl/styles.xml", STYLES, 0},
                  {"xl/sharedStrings.xml", STRINGS, 0},
                  {"xl/media/padding.bin", zeros, big}};
    size_t len;
    unsigned char *b = zip_build(e, 6, &len);
    ck_assert_uint_lt(len, big / 100);
    expect_refused(b, len, "xlsx", NULL, "archive-bomb", 422);
    /* The same archive is read when the ratio limit allows it (the bomb entry is unused). */
    upload_limits l;
    upload_limits_defaults(&l);
    l.xlsx_max_ratio = 1e6;
    ds_table *t = NULL;
    ck_assert_int_eq(upload_parse(b, len, "xlsx", &l, &t, NULL), EQ_OK);
    ds_table_free(t);
    /* Total uncompressed size and entry count limits. */
    upload_limits_defaults(&l);
    l.xlsx_max_uncompressed = big;
    expect_refused(b, len, "xlsx", &l, "archive-bomb", 422);
    upload_limits_defaults(&l);
    l.xlsx_max_entries = 3;
    expect_refused(b, len, "xlsx", &l, "archive-bomb", 422);
    free(b);
    free(zeros);
}
END_TEST

START_TEST(truncated_and_broken)
{
    size_t len;
    unsigned char *b = book(WORKBOOK, SHEET, &len);
    for (size_t cut = 4; cut < len; cut += len / 7)
        expect_refused(b, cut, "xlsx", NULL, "invalid-archive", 422);
    free(b);
    const char junk[] = "PK\x03\x04 this is not really a zip archive at all";
    expect_refused(junk, sizeof junk - 1, "xlsx", NULL, "invalid-archive", 422);
    /* No workbook part. */
    xentry e[] = {{"xl/worksheets/data.xml", SHEET, 0}};
    b = zip_build(e, 1, &len);
    expect_refused(b, len, "xlsx", NULL, "invalid-spreadsheet", 422);
    free(b);
    /* A shared string index past the table. */
    const char badsst[] = "<worksheet " NS "><sheetData><row><c t=\"s\"><v>99</v></c></row>"
                          "</sheetData></worksheet>";
    b = book(WORKBOOK, badsst, &len);
    expect_refused(b, len, "xlsx", NULL, "invalid-spreadsheet", 422);
    free(b);
    const char unclosed[] = "<worksheet " NS "><sheetData><row><c><v>1</v></c>";
    b = book(WORKBOOK, unclosed, &len);
    expect_refused(b, len, "xlsx", NULL, "malformed-xml", 422);
    free(b);
}
END_TEST

START_TEST(sparse_limits)
{
    const char far_col[] = "<worksheet " NS "><sheetData><row r=\"1\"><c r=\"XFD1\"><v>1</v>"
                           "</c></row></sheetData></worksheet>";
    size_t len;
    unsigned char *b = book(WORKBOOK, far_col, &len);
    expect_refused(b, len, "xlsx", NULL, "too-many-columns", 413);
    free(b);
    const char far_row[] = "<worksheet " NS "><sheetData><row r=\"1048576\"><c r=\"A1048576\">"
                           "<v>1</v></c></row></sheetData></worksheet>";
    b = book(WORKBOOK, far_row, &len);
    expect_refused(b, len, "xlsx", NULL, "too-many-rows", 413);
    free(b);
    /* In range for rows and columns separately, but not as a grid. */
    const char corner[] = "<worksheet " NS "><sheetData><row r=\"1\"><c r=\"A1\"><v>1</v></c>"
                          "</row><row r=\"900000\"><c r=\"ALL900000\"><v>1</v></c></row>"
                          "</sheetData></worksheet>";
    b = book(WORKBOOK, corner, &len);
    expect_refused(b, len, "xlsx", NULL, "too-many-cells", 413);
    free(b);
    upload_limits l;
    upload_limits_defaults(&l);
    l.max_cell_bytes = 5;
    b = book(WORKBOOK, SHEET, &len);
    expect_refused(b, len, "xlsx", &l, "cell-too-long", 413);
    free(b);
}
END_TEST

/* The workbook found through _rels/.rels at a non-standard path, with relative targets. */
START_TEST(package_relationships)
{
    const char root[] = "<Relationships><Relationship Id=\"r1\" Type=\"http://schemas."
                        "openxmlformats.org/officeDocument/2006/relationships/officeDocument\" "
                        "Target=\"/book/./main.xml\"/></Relationships>";
    const char rels[] = "<Relationships><Relationship Id=\"rId7\" Type=\"x/worksheet\" "
                        "Target=\"sheets/../sheets/s1.xml\"/><Relationship Id=\"s\" "
                        "Type=\"x/sharedStrings\" Target=\"../shared/strings.xml\"/>"
                        "</Relationships>";
    const char sheet[] = "<worksheet><sheetData><row><c t=\"s\"><v>0</v></c><c t=\"s\">"
                         "<v>2</v></c></row><row><c><v>1</v></c><c><v>2</v></c></row>"
                         "</sheetData></worksheet>";
    xentry e[] = {{"_rels/.rels", root, 0},
                  {"book/main.xml", WORKBOOK, 0},
                  {"book/_rels/main.xml.rels", rels, 0},
                  {"book/sheets/s1.xml", sheet, 0},
                  {"shared/strings.xml", STRINGS, 0}};
    size_t len;
    unsigned char *b = zip_build(e, 5, &len);
    ds_table *t = parse_ok(b, len);
    ck_assert_str_eq(t->cols[0].name, "date");
    ck_assert_str_eq(t->cols[1].name, "a & b");
    ck_assert_double_eq(t->cols[1].num[0], 2);
    ds_table_free(t);
    free(b);
    /* A target climbing above the archive's root names no part. */
    const char escape[] = "<Relationships><Relationship Id=\"rId7\" Type=\"x/worksheet\" "
                          "Target=\"../../../etc/passwd\"/></Relationships>";
    xentry e2[] = {{"xl/workbook.xml", WORKBOOK, 0}, {"xl/_rels/workbook.xml.rels", escape, 0}};
    b = zip_build(e2, 2, &len);
    expect_refused(b, len, "xlsx", NULL, "invalid-spreadsheet", 422);
    free(b);
}
END_TEST

/* A workbook written by another writer, libxlsxwriter: shared strings, a custom date format,
 * formulas with stored results, booleans, a blank row, numbers as text. */
START_TEST(libxlsxwriter_workbook)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/upload-xlsx-test-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    lxw_workbook *wb = workbook_new(path);
    ck_assert_ptr_nonnull(wb);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "series");
    lxw_format *datefmt = workbook_add_format(wb);
    format_set_num_format(datefmt, "d mmm yyyy");
    worksheet_write_string(ws, 0, 0, "Quarter", NULL);
    worksheet_write_string(ws, 0, 1, "gdp", NULL);
    worksheet_write_string(ws, 0, 2, "double", NULL);
    worksheet_write_string(ws, 0, 3, "ok", NULL);
    worksheet_write_string(ws, 0, 4, "as text", NULL);
    for (int r = 0; r < 8; r++) {
        int row = r < 4 ? r + 1 : r + 2; /* row 5 (0-based) stays blank */
        lxw_datetime dt = {.year = 2000 + r / 4, .month = (uint8_t)(1 + 3 * (r % 4)), .day = 1};
        worksheet_write_datetime(ws, (lxw_row_t)row, 0, &dt, datefmt);
        worksheet_write_number(ws, (lxw_row_t)row, 1, 100.25 + r, NULL);
        char formula[32];
        snprintf(formula, sizeof formula, "=B%d*2", row + 1);
        worksheet_write_formula_num(ws, (lxw_row_t)row, 2, formula, NULL, 2 * (100.25 + r));
        worksheet_write_boolean(ws, (lxw_row_t)row, 3, r % 2, NULL);
        char text[16];
        snprintf(text, sizeof text, "%d", 10 * r);
        worksheet_write_string(ws, (lxw_row_t)row, 4, text, NULL);
    }
    ck_assert_int_eq(workbook_close(wb), LXW_NO_ERROR);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    size_t len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    unlink(path);
    ds_table *t = parse_ok(buf, len);
    ck_assert_uint_eq(t->nrows, 8);
    ck_assert_uint_eq(t->ncols, 5);
    ck_assert_str_eq(t->cols[0].name, "Quarter");
    ck_assert_int_eq(t->date_col, 0);
    ck_assert_str_eq(t->frequency, "quarterly");
    ck_assert_double_eq(t->cols[0].num[0], 10957); /* 2000-01-01 */
    ck_assert_double_eq(t->cols[1].num[7], 107.25);
    ck_assert_double_eq(t->cols[2].num[7], 214.5);
    ck_assert_double_eq(t->cols[3].num[1], 1);
    ck_assert_int_eq(t->cols[4].type, DS_TYPE_NUMBER); /* numeric text is a number */
    ck_assert_double_eq(t->cols[4].num[7], 70);
    char d[16];
    ds_date_format(t->cols[0].num[7], d, sizeof d);
    ck_assert_str_eq(d, "2001-10-01");
    ds_table_free(t);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upload_xlsx");
    TCase *tc = tcase_create("xlsx");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cell_kinds);
    tcase_add_test(tc, date_systems);
    tcase_add_test(tc, dtd_and_entities_refused);
    tcase_add_test(tc, zip_bomb_refused);
    tcase_add_test(tc, truncated_and_broken);
    tcase_add_test(tc, sparse_limits);
    tcase_add_test(tc, libxlsxwriter_workbook);
    tcase_add_test(tc, package_relationships);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
