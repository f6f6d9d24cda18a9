#include "tests/webhook/wh_fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "broker/webhook/wh_event.h"
#include "broker/webhook/wh_schedule.h"
#include "broker/webhook/wh_sign.h"
#include "broker/webhook/wh_ssrf.h"

/* Inputs beyond this are cut: every parser here refuses far shorter inputs anyway. */
#define WH_FUZZ_MAX_INPUT 8192

#define WH_FUZZ_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static uint64_t wh_fuzz_rng(void *ctx) {
    uint64_t *s = ctx;
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s;
}

static int wh_fuzz_schedule(const char *text, size_t len) {
    wh_schedule s;
    if (wh_schedule_parse(text, len, &s) != EQ_OK) return 0;
    if (s.n == 0 || s.n > WH_SCHEDULE_MAX_ENTRIES) return 1;
    uint64_t state = len;
    for (size_t i = 0; i < s.n; i++) {
        int64_t next;
        if (s.delay_s[i] > WH_SCHEDULE_MAX_DELAY_S) return 1;
        if (wh_schedule_next(&s, i, 1000, wh_fuzz_rng, &state, &next) != EQ_OK) return 1;
        double lo = 1000 + s.delay_s[i] * 1000.0 * (1 - s.jitter) - 1;
        double hi = 1000 + s.delay_s[i] * 1000.0 * (1 + s.jitter) + 1;
        if ((double)next < lo || (double)next > hi) return 1;
    }
    int64_t next;
    return wh_schedule_next(&s, s.n, 0, NULL, NULL, &next) != EQ_ENOTFOUND;
}

static int wh_fuzz_allowlist(const char *text) {
    wh_allowlist a;
    if (wh_allowlist_parse(text, &a) != EQ_OK) return 0;
    if (a.n > WH_ALLOW_MAX_ENTRIES) return 1;
    for (size_t i = 0; i < a.n; i++)
        if (a.cidr[i].prefix > 128) return 1;
    return 0;
}

static int wh_fuzz_url(const char *text) {
    wh_url u;
    if (wh_url_parse(text, &u) != EQ_OK) return 0;
    return u.port == 0 || u.port > 65535 || u.host[0] == '\0' || (u.https != 0 && u.https != 1);
}

static int wh_fuzz_key(const char *text) {
    wh_key k;
    if (wh_key_parse(text, &k) != EQ_OK) return 0;
    return k.len == 0 || k.len > WH_KEY_MAX_BYTES;
}

/* "id\ntimestamp\nsignature\nbody": a verification must only pass for a true signature. */
static int wh_fuzz_verify(char *text, size_t len) {
    char *parts[4] = {text, NULL, NULL, NULL};
    for (int i = 1; i < 4; i++) {
        char *nl = strchr(parts[i - 1], '\n');
        if (nl == NULL) return 0;
        *nl = '\0';
        parts[i] = nl + 1;
    }
    size_t body_len = len - (size_t)(parts[3] - text);
    wh_delivery_headers h = {.id = parts[0],
                             .timestamp = parts[1],
                             .signature = parts[2],
                             .body = parts[3],
                             .body_len = body_len};
    const char *secrets[] = {WH_FUZZ_SECRET};
    wh_verify_reason why;
    eq_err err = wh_verify(&h, secrets, 1, 1614265330, 1000000000, &why);
    if ((err == EQ_OK) != (why == WH_VERIFY_OK)) return 1;
    if (err != EQ_OK) return 0;
    char sig[WH_SIGNATURE_SIZE];
    int64_t ts = strtoll(parts[1], NULL, 10);
    if (wh_sign_secret(WH_FUZZ_SECRET, parts[0], ts, parts[3], body_len, sig, sizeof sig) != EQ_OK)
        return 1;
    /* The header must carry the true MAC. Padding is optional on input and the last base64
     * character has 4 unused bits, so the first 42 characters are what must match. */
    sig[3 + 42] = '\0';
    return strstr(parts[2], sig + 3) == NULL;
}

static int wh_fuzz_event(const char *text, size_t len) {
    char *body = NULL;
    size_t body_len = 0;
    if (wh_event_body(WH_EVENT_JOB_SUCCEEDED, 1614265330123, text, len, &body, &body_len) != EQ_OK)
        return 0;
    cJSON *root = cJSON_ParseWithLength(body, body_len);
    int bad = !cJSON_IsObject(cJSON_GetObjectItem(root, "data")) || strlen(body) != body_len;
    cJSON_Delete(root);
    free(body);
    return bad;
}

int wh_fuzz_one(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char text[WH_FUZZ_MAX_INPUT + 1];
    size_t len = size - 1 > WH_FUZZ_MAX_INPUT ? WH_FUZZ_MAX_INPUT : size - 1;
    memcpy(text, data + 1, len);
    text[len] = '\0';
    /* Text parsers see the input up to its first NUL, as they would from a C string. */
    switch (data[0] % 6) {
    case 0:
        return wh_fuzz_schedule(text, len);
    case 1:
        return wh_fuzz_allowlist(text);
    case 2:
        return wh_fuzz_url(text);
    case 3:
        return wh_fuzz_key(text);
    case 4:
        return wh_fuzz_verify(text, len);
    default:
        return wh_fuzz_event(text, len);
    }
}

#ifdef ECONQ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (wh_fuzz_one(data, size)) abort();
    return 0;
}
#endif
