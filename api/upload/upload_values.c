/* Cell values: missing tokens, numbers, dates and Excel serial dates. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/upload/upload_internal.h"

/* The longest number or date we try to parse; longer text is text. */
#define VALUE_MAX_CHARS 64

/* Copies s without surrounding blanks into buf; returns 0 when it does not fit. */
static int trim_copy(const char *s, char *buf, size_t buflen)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n >= buflen)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 1;
}

int upload__is_missing(const char *s)
{
    if ((*s >= '0' && *s <= '9') || ((*s == '-' || *s == '+') && s[1] >= '0' && s[1] <= '9'))
        return 0; /* the common case, a number */
    static const char *const tokens[] = {"", "NA", "N/A", "#N/A", "null", "NaN", ".", "-"};
    char buf[16];
    if (!trim_copy(s, buf, sizeof buf))
        return 0;
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        if (strcasecmp(buf, tokens[i]) == 0)
            return 1;
    return 0;
}

/* Accepts digits with optional separators in strict groups of three ("1,234,567"); removes the
 * separators into *o. Returns the number of input characters used, 0 on a malformed group. */
static size_t copy_int_part(const char *p, char sep, char **o)
{
    size_t n = 0, group = 0, groups = 0;
    int seen_sep = 0;
    while (p[n] != '\0') {
        if (isdigit((unsigned char)p[n])) {
            *(*o)++ = p[n];
            group++;
        } else if (p[n] == sep && group > 0) {
            if ((groups == 0 && group > 3) || (groups > 0 && group != 3))
                return 0;
            if (!isdigit((unsigned char)p[n + 1]))
                return 0;
            seen_sep = 1;
            groups++;
            group = 0;
        } else {
            break;
        }
        n++;
    }
    if (seen_sep && group != 3)
        return 0;
    return n;
}

int upload__parse_number(const char *s, int decimal_comma, double *v)
{
    char buf[VALUE_MAX_CHARS], clean[VALUE_MAX_CHARS];
    if (!trim_copy(s, buf, sizeof buf) || buf[0] == '\0')
        return 0;
    char dec = decimal_comma ? ',' : '.';
    char sep = decimal_comma ? '.' : ',';
    const char *p = buf;
    char *o = clean;
    if (*p == '+' || *p == '-')
        *o++ = *p++;
    size_t used = copy_int_part(p, sep, &o);
    int digits = used > 0;
    if (used == 0 && isdigit((unsigned char)*p))
        return 0; /* malformed thousands grouping */
    p += used;
    if (*p == dec) {
        *o++ = '.';
        p++;
        while (isdigit((unsigned char)*p)) {
            *o++ = *p++;
            digits = 1;
        }
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        *o++ = *p++;
        if (*p == '+' || *p == '-')
            *o++ = *p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            *o++ = *p++;
    }
    if (*p == '%' || *p != '\0')
        return 0;
    *o = '\0';
    char *end;
    double d = strtod(clean, &end);
    if (*end != '\0' || !isfinite(d))
        return 0;
    *v = d;
    return 1;
}

int64_t upload__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

/* Reads exactly n digits. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

/* Reads 1 or 2 digits. */
static int read_12(const char **p, int *out)
{
    if (!isdigit((unsigned char)**p))
        return 0;
    int v = *(*p)++ - '0';
    if (isdigit((unsigned char)**p))
        v = v * 10 + (*(*p)++ - '0');
    *out = v;
    return 1;
}

/* An optional time of day after a date: " HH:MM[:SS[.fff]]" or "THH:MM..." (ignored). */
static int time_tail(const char *p)
{
    if (*p == '\0')
        return 1;
    if (*p != ' ' && *p != 'T')
        return 0;
    p++;
    int h, mi;
    if (!read_12(&p, &h) || *p++ != ':' || !read_digits(&p, 2, &mi) || h > 23 || mi > 59)
        return 0;
    while (isdigit((unsigned char)*p) || *p == ':' || *p == '.')
        p++;
    if (*p == 'Z')
        p++;
    return *p == '\0';
}

int upload__parse_date(const char *s, int allow_year, double *days)
{
    char buf[VALUE_MAX_CHARS];
    if (!trim_copy(s, buf, sizeof buf))
        return 0;
    const char *p = buf;
    int y, m = 1, d = 1;
    if (!read_digits(&p, 4, &y) || y < 1000)
        return 0;
    if (*p == '\0') {
        if (!allow_year)
            return 0;
    } else if (*p == 'Q' || *p == 'q' || ((*p == '-' || *p == ' ') && (p[1] == 'Q' || p[1] == 'q'))) {
        p += (*p == 'Q' || *p == 'q') ? 1 : 2;
        if (*p < '1' || *p > '4' || p[1] != '\0')
            return 0;
        m = 3 * (*p - '1') + 1;
    } else if (*p == 'M' || (*p == '-' && p[1] == 'M')) {
        p += *p == 'M' ? 1 : 2;
        if (!read_12(&p, &m) || *p != '\0' || m < 1 || m > 12)
            return 0;
    } else if (*p == '-' || *p == '/') {
        char sep = *p++;
        if (!read_12(&p, &m) || m < 1 || m > 12)
            return 0;
        if (*p == sep) {
            p++;
            if (!read_12(&p, &d) || d < 1 || d > days_in_month(y, m) || !time_tail(p))
                return 0;
        } else if (*p != '\0' || sep != '-') {
            return 0;
        }
    } else {
        return 0;
    }
    *days = (double)upload__days_from_civil(y, (unsigned)m, (unsigned)d);
    return 1;
}

double upload__excel_days(double serial, int date1904)
{
    /* Excel's range: 1900-01-00 (serial 0) to 9999-12-31 (serial 2958465). */
    if (!isfinite(serial) || serial < 0 || serial >= 2958466)
        return NAN;
    double whole = floor(serial);
    if (date1904)
        return whole - 24107; /* 1904-01-01 is serial 0 */
    if (whole < 61)
        return whole - 25568; /* before Excel's phantom 1900-02-29 */
    return whole - 25569;     /* serial 25569 is 1970-01-01 */
}

int upload__dateish_name(const char *name)
{
    /* Whole words only: "fiscal_year" and "Date" qualify, "update_count" does not. */
    static const char *const words[] = {"date", "year", "time", "period", "yr"};
    const char *p = name;
    while (*p != '\0') {
        while (*p != '\0' && !isalnum((unsigned char)*p))
            p++;
        const char *w = p;
        while (isalnum((unsigned char)*p))
            p++;
        size_t n = (size_t)(p - w);
        for (size_t i = 0; n > 0 && i < sizeof words / sizeof words[0]; i++)
            if (strlen(words[i]) == n && strncasecmp(w, words[i], n) == 0)
                return 1;
    }
    return 0;
}

size_t upload__utf8_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned v, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            n = 2, v = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            n = 3, v = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            n = 4, v = c & 0x07, min = 0x10000;
        else
            return i;
        if (i + n > len)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            v = (v << 6) | (s[i + k] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return i;
        i += n;
    }
    return i;
}
