/* Fuzz target: the small text parsers of untrusted settings and fields in common/:
 * eq_time_parse (RFC 3339, e.g. a job's run_at) and cfg_hostport (HOST:PORT settings).
 *
 * The first byte picks the parser; the rest is the text, cut at its first NUL as it would
 * arrive in a C string. Properties checked:
 *  - a parsed time inside years 0000..9999 formats (eq_time_format) to text that parses back
 *    to the same millisecond;
 *  - a parsed HOST:PORT has a port in 0..65535 and a host that is non-empty, fits the buffer,
 *    and is the input's host part (the text up to the port's colon, without brackets). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Texts longer than this are cut: both parsers refuse far shorter input (times over 64 bytes,
 * hosts over the buffer). */
#define FUZZ_TIME_CFG_MAX_TEXT 512
/* The host buffer given to cfg_hostport, as the config code uses. */
#define FUZZ_HOST_LEN 256
/* Last millisecond of 9999-12-31, the largest time the 4-digit format can write. */
#define FUZZ_TIME_MAX_MS INT64_C(253402300799999)

static void fuzz_time(const char *text) {
    int64_t ms = 0;
    if (eq_time_parse(text, &ms) != EQ_OK)
        return;
    if (ms < 0 || ms > FUZZ_TIME_MAX_MS)
        return; /* year 0000 with an east offset, or 9999 with a west one */
    char out[32];
    eq_time_format(ms, out, sizeof out);
    int64_t back = -1;
    if (eq_time_parse(out, &back) != EQ_OK || back != ms)
        abort();
}

static void fuzz_hostport(const char *text) {
    char host[FUZZ_HOST_LEN];
    int port = -1;
    memset(host, 'x', sizeof host);
    if (cfg_hostport(text, host, sizeof host, &port) != EQ_OK)
        return;
    size_t hl = strnlen(host, sizeof host);
    if (port < 0 || port > 65535 || hl == 0 || hl >= sizeof host)
        abort();
    const char *h = text[0] == '[' ? text + 1 : text;
    if (strncmp(h, host, hl) != 0 || h[hl] != (text[0] == '[' ? ']' : ':'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    char text[FUZZ_TIME_CFG_MAX_TEXT + 1];
    size_t n = size - 1 < FUZZ_TIME_CFG_MAX_TEXT ? size - 1 : FUZZ_TIME_CFG_MAX_TEXT;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    if (data[0] & 1)
        fuzz_hostport(text);
    else
        fuzz_time(text);
    return 0;
}
