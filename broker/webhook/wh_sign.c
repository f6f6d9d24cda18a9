#include "broker/webhook/wh_sign.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define WH_SECRET_PREFIX "whsec_"
#define WH_MSG_ID_PREFIX "msg_"
#define WH_HMAC_BYTES 32
/* Random bytes in a generated secret and in a generated message id. */
#define WH_SECRET_RANDOM_BYTES 32
#define WH_MSG_ID_RANDOM_BYTES 16
/* A timestamp is at most 19 decimal digits (fits int64_t). */
#define WH_TIMESTAMP_MAX_DIGITS 19

static const char wh_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding. `out` must hold 4 * ceil(len / 3) + 1 bytes. */
static void wh_b64_encode(const unsigned char *in, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = wh_b64_alphabet[(v >> 18) & 63];
        out[o++] = wh_b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? wh_b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? wh_b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

static int wh_b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict base64 decoding; padding is optional, anything else is an error.
 * Decodes at most `cap` bytes into `out`; EQ_ETOOBIG beyond. */
static eq_err wh_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                            size_t *out_len) {
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1) return EQ_EINVAL;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > cap) return EQ_ETOOBIG;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = wh_b64_value(in[i]);
        if (v < 0) return EQ_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out_len = o;
    return EQ_OK;
}

eq_err wh_key_parse(const char *secret, wh_key *out) {
    if (secret == NULL || out == NULL) return EQ_EINVAL;
    size_t len = strnlen(secret, WH_SECRET_MAX_CHARS + 1);
    if (len > WH_SECRET_MAX_CHARS) return EQ_ETOOBIG;
    size_t plen = strlen(WH_SECRET_PREFIX);
    if (len >= plen && memcmp(secret, WH_SECRET_PREFIX, plen) == 0) {
        eq_err err =
            wh_b64_decode(secret + plen, len - plen, out->bytes, sizeof out->bytes, &out->len);
        if (err != EQ_OK) return err;
    } else {
        if (len > sizeof out->bytes) return EQ_ETOOBIG;
        memcpy(out->bytes, secret, len);
        out->len = len;
    }
    return out->len == 0 ? EQ_EINVAL : EQ_OK;
}

/* HMAC-SHA256 over "{id}.{timestamp}.{body}" without building the concatenation. */
static eq_err wh_hmac(const wh_key *key, const char *msg_id, int64_t timestamp, const void *body,
                      size_t body_len, unsigned char mac[WH_HMAC_BYTES]) {
    eq_err err = EQ_ENOMEM;
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    if (ctx == NULL) goto fail;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    char ts[32];
    int ts_len = snprintf(ts, sizeof ts, ".%" PRId64 ".", timestamp);
    size_t mac_len = 0;
    if (!EVP_MAC_init(ctx, key->bytes, key->len, params) ||
        !EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) ||
        !EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)ts_len) ||
        (body_len > 0 && !EVP_MAC_update(ctx, body, body_len)) ||
        !EVP_MAC_final(ctx, mac, &mac_len, WH_HMAC_BYTES) || mac_len != WH_HMAC_BYTES)
        goto fail;
    err = EQ_OK;
fail:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    return err;
}

eq_err wh_sign(const wh_key *key, const char *msg_id, int64_t timestamp, const void *body,
               size_t body_len, char *out, size_t out_size) {
    if (key == NULL || key->len == 0 || msg_id == NULL || msg_id[0] == '\0' || out == NULL ||
        out_size < WH_SIGNATURE_SIZE || (body == NULL && body_len > 0))
        return EQ_EINVAL;
    unsigned char mac[WH_HMAC_BYTES];
    eq_err err = wh_hmac(key, msg_id, timestamp, body, body_len, mac);
    if (err != EQ_OK) return err;
    memcpy(out, "v1,", 3);
    wh_b64_encode(mac, sizeof mac, out + 3);
    return EQ_OK;
}

eq_err wh_sign_secret(const char *secret, const char *msg_id, int64_t timestamp, const void *body,
                      size_t body_len, char *out, size_t out_size) {
    wh_key key;
    eq_err err = wh_key_parse(secret, &key);
    if (err == EQ_OK) err = wh_sign(&key, msg_id, timestamp, body, body_len, out, out_size);
    OPENSSL_cleanse(&key, sizeof key);
    return err;
}

/* Parses an unsigned decimal timestamp of at most WH_TIMESTAMP_MAX_DIGITS digits. */
static int wh_parse_timestamp(const char *s, int64_t *out) {
    size_t n = 0;
    int64_t v = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        int d = s[n] - '0';
        if (n >= WH_TIMESTAMP_MAX_DIGITS || v > (INT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (n == 0 || s[n] != '\0') return -1;
    *out = v;
    return 0;
}

static wh_verify_reason wh_verify_reason_of(const wh_delivery_headers *h,
                                            const char *const *secrets, size_t n_secrets,
                                            int64_t now, int64_t tolerance_s) {
    if (h->id == NULL || h->timestamp == NULL || h->signature == NULL ||
        (h->body == NULL && h->body_len > 0))
        return WH_VERIFY_MALFORMED;
    size_t id_len = strnlen(h->id, WH_MSG_ID_MAX_CHARS + 1);
    size_t sig_len = strnlen(h->signature, WH_SIGNATURE_HEADER_MAX_CHARS + 1);
    if (id_len == 0 || id_len > WH_MSG_ID_MAX_CHARS || sig_len == 0 ||
        sig_len > WH_SIGNATURE_HEADER_MAX_CHARS)
        return WH_VERIFY_MALFORMED;
    int64_t ts;
    if (wh_parse_timestamp(h->timestamp, &ts) != 0) return WH_VERIFY_MALFORMED;
    /* Both sides are clamped to >= 0, so neither difference can overflow. */
    if (tolerance_s < 0) tolerance_s = 0;
    if (now < 0) now = 0;
    if (now > ts && now - ts > tolerance_s) return WH_VERIFY_TOO_OLD;
    if (ts > now && ts - now > tolerance_s) return WH_VERIFY_TOO_NEW;

    /* A secret that does not parse is reported: a misconfigured receiver should hear of it. */
    unsigned char expected[WH_HMAC_BYTES];
    unsigned char given[WH_HMAC_BYTES + 3];
    wh_verify_reason reason = WH_VERIFY_NO_MATCH;
    int any_v1 = 0;
    for (size_t k = 0; k < n_secrets && reason == WH_VERIFY_NO_MATCH; k++) {
        wh_key key;
        if (secrets[k] == NULL || wh_key_parse(secrets[k], &key) != EQ_OK) {
            reason = WH_VERIFY_BAD_SECRET;
            break;
        }
        eq_err err = wh_hmac(&key, h->id, ts, h->body, h->body_len, expected);
        OPENSSL_cleanse(&key, sizeof key);
        if (err != EQ_OK) {
            reason = WH_VERIFY_BAD_SECRET;
            break;
        }
        /* Walk the space-separated "version,signature" list; unknown versions are skipped. */
        const char *p = h->signature;
        while (*p != '\0') {
            while (*p == ' ')
                p++;
            const char *end = p;
            while (*end != '\0' && *end != ' ')
                end++;
            if (end - p > 3 && memcmp(p, "v1,", 3) == 0) {
                size_t glen = 0;
                any_v1 = 1;
                if (wh_b64_decode(p + 3, (size_t)(end - p - 3), given, sizeof given, &glen) ==
                        EQ_OK &&
                    glen == WH_HMAC_BYTES && CRYPTO_memcmp(given, expected, WH_HMAC_BYTES) == 0) {
                    reason = WH_VERIFY_OK;
                    break;
                }
            }
            p = end;
        }
    }
    if (n_secrets == 0) reason = WH_VERIFY_BAD_SECRET;
    if (reason == WH_VERIFY_NO_MATCH && !any_v1) reason = WH_VERIFY_MALFORMED;
    OPENSSL_cleanse(expected, sizeof expected);
    return reason;
}

eq_err wh_verify(const wh_delivery_headers *h, const char *const *secrets, size_t n_secrets,
                 int64_t now, int64_t tolerance_s, wh_verify_reason *reason) {
    wh_verify_reason r = WH_VERIFY_MALFORMED;
    if (h != NULL && (secrets != NULL || n_secrets == 0))
        r = wh_verify_reason_of(h, secrets, n_secrets, now, tolerance_s);
    if (reason != NULL) *reason = r;
    switch (r) {
    case WH_VERIFY_OK:
        return EQ_OK;
    case WH_VERIFY_BAD_SECRET:
        return EQ_EINVAL;
    case WH_VERIFY_TOO_OLD:
    case WH_VERIFY_TOO_NEW:
        return EQ_ESTALE;
    case WH_VERIFY_MALFORMED:
    case WH_VERIFY_NO_MATCH:
        break;
    }
    return EQ_EPROTO;
}

const char *wh_verify_reason_str(wh_verify_reason reason) {
    switch (reason) {
    case WH_VERIFY_OK:
        return "verified";
    case WH_VERIFY_BAD_SECRET:
        return "a secret is not valid";
    case WH_VERIFY_MALFORMED:
        return "missing or malformed webhook headers";
    case WH_VERIFY_TOO_OLD:
        return "timestamp too old";
    case WH_VERIFY_TOO_NEW:
        return "timestamp too far in the future";
    case WH_VERIFY_NO_MATCH:
        return "no matching signature";
    }
    return "unknown verification result";
}

eq_err wh_msg_id_new(char *out, size_t out_size) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[WH_MSG_ID_RANDOM_BYTES];
    if (out == NULL || out_size < WH_MSG_ID_SIZE) return EQ_EINVAL;
    if (RAND_bytes(rnd, sizeof rnd) != 1) return EQ_EIO;
    size_t o = strlen(WH_MSG_ID_PREFIX);
    memcpy(out, WH_MSG_ID_PREFIX, o);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof rnd; i++) {
        acc = (acc << 8) | rnd[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 31];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0) out[o++] = alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return EQ_OK;
}

eq_err wh_secret_new(char *out, size_t out_size) {
    unsigned char rnd[WH_SECRET_RANDOM_BYTES];
    if (out == NULL || out_size < WH_SECRET_SIZE) return EQ_EINVAL;
    if (RAND_bytes(rnd, sizeof rnd) != 1) return EQ_EIO;
    size_t plen = strlen(WH_SECRET_PREFIX);
    memcpy(out, WH_SECRET_PREFIX, plen);
    wh_b64_encode(rnd, sizeof rnd, out + plen);
    OPENSSL_cleanse(rnd, sizeof rnd);
    return EQ_OK;
}
