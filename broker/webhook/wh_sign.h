/* Standard Webhooks signing and verification (https://www.standardwebhooks.com/).
 *
 * A delivery carries three headers: `webhook-id` (stable across retries of one message),
 * `webhook-timestamp` (Unix seconds) and `webhook-signature`, a space-separated list of
 * `v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` (several while a secret is being
 * rotated). Secrets are written `whsec_<base64 of the key>`; a secret without that prefix is used
 * as raw key bytes.
 *
 * Pure functions over OpenSSL's libcrypto: no I/O, no loop, no globals. Linked by the broker's
 * dispatcher and by libeconq (receivers verify deliveries with wh_verify()). */
#ifndef ECONQ_BROKER_WEBHOOK_WH_SIGN_H
#define ECONQ_BROKER_WEBHOOK_WH_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "common/eq_err.h"

/* Longest key accepted, in bytes after base64 decoding. The specification uses 24 to 64. */
#define WH_KEY_MAX_BYTES 128
/* Longest secret string accepted (prefix + base64 of WH_KEY_MAX_BYTES, with room to spare). */
#define WH_SECRET_MAX_CHARS 256
/* Longest `webhook-id` accepted on verification; ids we generate are far shorter. */
#define WH_MSG_ID_MAX_CHARS 256
/* Longest `webhook-signature` header accepted on verification (many rotated signatures fit). */
#define WH_SIGNATURE_HEADER_MAX_CHARS 4096
/* Size of a buffer that holds one "v1,<base64 of 32 bytes>" signature and its NUL. */
#define WH_SIGNATURE_SIZE 48
/* Size of a buffer that holds a generated message id ("msg_" + 26 base32 chars) and its NUL. */
#define WH_MSG_ID_SIZE 32
/* Size of a buffer that holds a generated secret ("whsec_" + base64 of 32 bytes) and its NUL. */
#define WH_SECRET_SIZE 52
/* Default tolerance between `webhook-timestamp` and the receiver's clock, in seconds. */
#define WH_TOLERANCE_DEFAULT_S 300

/* An HMAC key decoded from a secret. Embedded object; holds no heap memory. */
typedef struct wh_key {
    unsigned char bytes[WH_KEY_MAX_BYTES];
    size_t len;
} wh_key;

/* Decodes `secret` ("whsec_<base64>" or raw bytes) into `out`.
 * EQ_EINVAL if the secret is empty, its base64 is malformed or the key is empty;
 * EQ_ETOOBIG if it exceeds WH_SECRET_MAX_CHARS or WH_KEY_MAX_BYTES. */
eq_err wh_key_parse(const char *secret, wh_key *out);

/* Writes "v1,<base64 HMAC-SHA256 over "{msg_id}.{timestamp}.{body}">" into `out`
 * (at least WH_SIGNATURE_SIZE bytes, NUL-terminated). `body` may contain NUL bytes.
 * EQ_EINVAL on a NULL/empty id or a small buffer; EQ_ENOMEM if libcrypto fails. */
eq_err wh_sign(const wh_key *key, const char *msg_id, int64_t timestamp, const void *body,
               size_t body_len, char *out, size_t out_size);

/* wh_key_parse() followed by wh_sign(). */
eq_err wh_sign_secret(const char *secret, const char *msg_id, int64_t timestamp, const void *body,
                      size_t body_len, char *out, size_t out_size);

/* Why a verification failed; WH_VERIFY_OK when it did not. */
typedef enum wh_verify_reason {
    WH_VERIFY_OK = 0,
    WH_VERIFY_BAD_SECRET, /* a secret did not parse */
    WH_VERIFY_MALFORMED,  /* a header is missing, too long or not in the expected form */
    WH_VERIFY_TOO_OLD,    /* timestamp older than now - tolerance */
    WH_VERIFY_TOO_NEW,    /* timestamp later than now + tolerance */
    WH_VERIFY_NO_MATCH,   /* no v1 signature matched any secret */
} wh_verify_reason;

/* What a receiver got: the three headers (NUL-terminated, as received) and the raw body. */
typedef struct wh_delivery_headers {
    const char *id;        /* webhook-id */
    const char *timestamp; /* webhook-timestamp */
    const char *signature; /* webhook-signature */
    const void *body;
    size_t body_len;
} wh_delivery_headers;

/* Verifies a delivery against `n_secrets` secrets (any one matching suffices, so a receiver can
 * hold the old and new secret while rotating). The timestamp must be within `tolerance_s` of
 * `now` (Unix seconds; pass time(NULL) outside tests). Signatures compare in constant time.
 * Returns EQ_OK when verified; otherwise EQ_EINVAL (bad secret), EQ_EPROTO (malformed headers or
 * no matching signature) or EQ_ESTALE (timestamp out of tolerance), and sets `*reason` (may be
 * NULL) to the precise cause. */
eq_err wh_verify(const wh_delivery_headers *h, const char *const *secrets, size_t n_secrets,
                 int64_t now, int64_t tolerance_s, wh_verify_reason *reason);

/* Returns a static description of `reason`. */
const char *wh_verify_reason_str(wh_verify_reason reason);

/* Writes a new random message id "msg_<26 lowercase base32 chars>" (128 random bits) into
 * `out` (at least WH_MSG_ID_SIZE bytes). EQ_EIO if the random generator fails. */
eq_err wh_msg_id_new(char *out, size_t out_size);

/* Writes a new random secret "whsec_<base64 of 32 random bytes>" into `out` (at least
 * WH_SECRET_SIZE bytes). EQ_EIO if the random generator fails. */
eq_err wh_secret_new(char *out, size_t out_size);

#endif
