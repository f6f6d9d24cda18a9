/* multipart/form-data (RFC 7578) splitting: a pure function over the body in memory. */
#include <string.h>
#include <strings.h>

#include "api/upload/upload_internal.h"

/* Copies a header parameter value (quoted with backslash escapes, or a token) into out.
 * Returns 0 when it does not fit. */
static int copy_param(const char *v, const char *end, char *out, size_t outlen)
{
    size_t o = 0;
    if (v < end && *v == '"') {
        for (v++; v < end && *v != '"'; v++) {
            /* A backslash escapes only a quote or a backslash: browsers send Windows paths
             * (C:\\fakepath\\x.csv) unescaped. */
            if (*v == '\\' && v + 1 < end && (v[1] == '"' || v[1] == '\\'))
                v++;
            if (o + 1 >= outlen)
                return 0;
            out[o++] = *v;
        }
    } else {
        for (; v < end && *v != ';' && *v != ' ' && *v != '\t'; v++) {
            if (o + 1 >= outlen)
                return 0;
            out[o++] = *v;
        }
    }
    out[o] = '\0';
    return 1;
}

/* Finds parameter `key` (case-insensitive) in the ';'-separated parameters [p, end). */
static const char *find_param(const char *p, const char *end, const char *key)
{
    size_t klen = strlen(key);
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (semi == NULL)
            return NULL;
        p = semi + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(end - p) > klen && strncasecmp(p, key, klen) == 0 && p[klen] == '=')
            return p + klen + 1;
    }
    return NULL;
}

static eq_err bad(upload_error *err, const char *detail)
{
    return upload__fail(err, EQ_EINVAL, 400, "malformed-multipart", "%s", detail);
}

/* Parses the header block [h, end) of one part into `part`. */
static eq_err part_headers(const char *h, const char *end, multipart_part *part,
                           upload_error *err)
{
    while (h < end) {
        const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
        if (eol == NULL)
            eol = end;
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (colon == NULL)
            return bad(err, "a part header has no colon");
        size_t nlen = (size_t)(colon - h);
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        if (nlen == 19 && strncasecmp(h, "Content-Disposition", nlen) == 0) {
            if ((size_t)(eol - v) < 9 || strncasecmp(v, "form-data", 9) != 0)
                return bad(err, "a part is not form-data");
            const char *name = find_param(v, eol, "name");
            const char *file = find_param(v, eol, "filename");
            if ((name != NULL && !copy_param(name, eol, part->name, sizeof part->name)) ||
                (file != NULL && !copy_param(file, eol, part->filename, sizeof part->filename)))
                return bad(err, "a part's name or filename is too long");
        } else if (nlen == 12 && strncasecmp(h, "Content-Type", nlen) == 0) {
            size_t vlen = (size_t)(eol - v);
            if (vlen >= sizeof part->content_type)
                return bad(err, "a part's Content-Type is too long");
            memcpy(part->content_type, v, vlen);
            part->content_type[vlen] = '\0';
        }
        h = eol + 2;
    }
    return EQ_OK;
}

eq_err multipart_parse(const char *content_type_header, const void *body, size_t len,
                       multipart_part *parts, size_t max_parts, size_t *nparts,
                       upload_error *err)
{
    *nparts = 0;
    const char *ct = content_type_header;
    if (ct == NULL)
        return upload__fail(err, EQ_EINVAL, 400, "missing-boundary",
                            "no Content-Type with a boundary");
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "multipart/form-data", 19) != 0)
        return bad(err, "the Content-Type is not multipart/form-data");
    const char *ctend = ct + strlen(ct);
    const char *bp = find_param(ct, ctend, "boundary");
    char boundary[MULTIPART_MAX_BOUNDARY + 3] = "--";
    if (bp == NULL || !copy_param(bp, ctend, boundary + 2, sizeof boundary - 2) ||
        boundary[2] == '\0')
        return upload__fail(err, EQ_EINVAL, 400, "missing-boundary",
                            "the Content-Type has no usable boundary (1-%u characters)",
                            MULTIPART_MAX_BOUNDARY);
    size_t blen = strlen(boundary);
    const char *b = body, *end = b + len;

    /* The first delimiter may follow a preamble; later ones follow CRLF. */
    const char *p = len >= blen && memcmp(b, boundary, blen) == 0 ? b : NULL;
    if (p == NULL) {
        char crlf_delim[sizeof boundary + 2] = "\r\n";
        memcpy(crlf_delim + 2, boundary, blen + 1);
        p = memmem(b, len, crlf_delim, blen + 2);
        if (p == NULL)
            return bad(err, "the body has no boundary delimiter");
        p += 2;
    }
    for (;;) {
        p += blen;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return EQ_OK; /* the close delimiter; an epilogue is ignored */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return bad(err, "a boundary delimiter is not followed by CRLF");
        p += 2;
        size_t room = (size_t)(end - p);
        if (room > MULTIPART_MAX_HEADER_BYTES + 4)
            room = MULTIPART_MAX_HEADER_BYTES + 4;
        const char *hend;
        if (room >= 2 && p[0] == '\r' && p[1] == '\n')
            hend = p; /* a part without headers */
        else if ((hend = memmem(p, room, "\r\n\r\n", 4)) != NULL)
            hend += 2;
        else
            return bad(err, "a part's headers are missing or too long");
        if (*nparts >= max_parts)
            return upload__fail(err, EQ_EINVAL, 400, "too-many-parts",
                                "more than %zu parts", max_parts);
        multipart_part *part = &parts[*nparts];
        memset(part, 0, sizeof *part);
        eq_err rc = part_headers(p, hend, part, err);
        if (rc != EQ_OK)
            return rc;
        const char *data = hend + 2;
        char delim[sizeof boundary + 2] = "\r\n";
        memcpy(delim + 2, boundary, blen + 1);
        const char *next = memmem(data, (size_t)(end - data), delim, blen + 2);
        if (next == NULL)
            return bad(err, "the body ends before the closing boundary");
        part->data = (const unsigned char *)data;
        part->len = (size_t)(next - data);
        (*nparts)++;
        p = next + 2;
    }
}
