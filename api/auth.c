/* API keys: the keys file, bearer tokens checked by their SHA-256 in constant time, keygen. */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/prod.h"

typedef struct api_key {
    char name[AUTH_NAME_MAX + 1];
    unsigned char hash[32];
} api_key;

struct api_auth {
    api_key *keys;
    size_t n;
};

static int valid_key_name(const char *s, size_t n) {
    if (n == 0 || n > AUTH_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int sha256(const void *p, size_t n, unsigned char out[32]) {
    unsigned len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

/* Parses one line (already trimmed, not a comment) into k; 0 or -1. */
static int parse_line(const char *s, size_t n, api_key *k) {
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return -1;
    size_t nl = (size_t)(colon - s), hl = n - nl - 1;
    if (!valid_key_name(s, nl) || hl != 64)
        return -1;
    memcpy(k->name, s, nl);
    k->name[nl] = '\0';
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(colon[1 + 2 * i]), lo = hexval(colon[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        k->hash[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

eq_err api_auth_load(const char *path, api_auth **out, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    api_auth *a = NULL;
    eq_err rc = EQ_EINVAL;
    *out = NULL;
    if (!f) {
        snprintf(err, errlen, "cannot read the API keys file %s: %s", path, strerror(errno));
        return EQ_EIO;
    }
    text = malloc(AUTH_MAX_FILE_BYTES + 1);
    a = calloc(1, sizeof *a);
    if (!text || !a || !(a->keys = calloc(AUTH_MAX_KEYS, sizeof *a->keys))) {
        snprintf(err, errlen, "out of memory");
        rc = EQ_ENOMEM;
        goto fail;
    }
    size_t len = fread(text, 1, AUTH_MAX_FILE_BYTES + 1, f);
    if (ferror(f) || len > AUTH_MAX_FILE_BYTES) {
        snprintf(err, errlen, "the API keys file %s is unreadable or larger than %u bytes", path,
                 AUTH_MAX_FILE_BYTES);
        goto fail;
    }
    text[len] = '\0';
    size_t lineno = 0;
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        char *end = nl ? nl : text + len;
        char *next = nl ? nl + 1 : text + len;
        lineno++;
        while (p < end && isspace((unsigned char)*p))
            p++;
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
        if (p < end && *p != '#') {
            if (a->n == AUTH_MAX_KEYS) {
                snprintf(err, errlen, "%s: more than %d keys", path, AUTH_MAX_KEYS);
                goto fail;
            }
            if (parse_line(p, (size_t)(end - p), &a->keys[a->n]) != 0) {
                /* The line is not echoed: it may be a key pasted by mistake. */
                snprintf(err, errlen, "%s line %zu: expected NAME:SHA256HEX (64 hex digits)", path,
                         lineno);
                goto fail;
            }
            a->n++;
        }
        p = next;
    }
    if (a->n == 0) {
        snprintf(err, errlen, "%s holds no API key", path);
        goto fail;
    }
    fclose(f);
    free(text);
    *out = a;
    return EQ_OK;
fail:
    fclose(f);
    free(text);
    api_auth_free(a);
    return rc;
}

void api_auth_free(api_auth *a) {
    if (!a)
        return;
    OPENSSL_cleanse(a->keys, AUTH_MAX_KEYS * sizeof *a->keys);
    free(a->keys);
    free(a);
}

size_t api_auth_count(const api_auth *a) {
    return a ? a->n : 0;
}

const char *api_auth_check(const api_auth *a, const char *authorization) {
    unsigned char h[32];
    if (!a || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    size_t n = strlen(tok);
    if (n == 0 || n > AUTH_MAX_TOKEN || !sha256(tok, n, h))
        return NULL;
    /* Every entry is compared, so the time does not depend on which key matched. */
    size_t found = a->n;
    for (size_t i = 0; i < a->n; i++) {
        int eq = CRYPTO_memcmp(h, a->keys[i].hash, sizeof h) == 0;
        found = eq && found == a->n ? i : found;
    }
    OPENSSL_cleanse(h, sizeof h);
    return found < a->n ? a->keys[found].name : NULL;
}

eq_err api_auth_keygen(const char *name, char *key, size_t keylen, char *line, size_t linelen) {
    unsigned char raw[32], h[32];
    static const char hex[] = "0123456789abcdef";
    size_t plen = strlen(AUTH_KEY_PREFIX);
    if (!valid_key_name(name, strlen(name)) || keylen < plen + 65 ||
        linelen < strlen(name) + 66)
        return EQ_EINVAL;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return EQ_EIO;
    memcpy(key, AUTH_KEY_PREFIX, plen);
    for (size_t i = 0; i < 32; i++) {
        key[plen + 2 * i] = hex[raw[i] >> 4];
        key[plen + 2 * i + 1] = hex[raw[i] & 15];
    }
    key[plen + 64] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    if (!sha256(key, plen + 64, h))
        return EQ_EIO;
    size_t at = (size_t)snprintf(line, linelen, "%s:", name);
    for (size_t i = 0; i < 32; i++) {
        line[at + 2 * i] = hex[h[i] >> 4];
        line[at + 2 * i + 1] = hex[h[i] & 15];
    }
    line[at + 64] = '\0';
    return EQ_OK;
}
