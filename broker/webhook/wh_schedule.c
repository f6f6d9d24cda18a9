#include "broker/webhook/wh_schedule.h"

#include <math.h>
#include <string.h>

#include <openssl/rand.h>

uint64_t wh_rng_default(void *ctx) {
    (void)ctx;
    uint64_t v = 0;
    /* On the (practically impossible) failure of RAND_bytes the jitter is simply zero-centred. */
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1) v = UINT64_MAX / 2;
    return v;
}

void wh_schedule_default(wh_schedule *out) {
    static const uint32_t def[] = {0, 5, 300, 1800, 7200, 18000, 36000, 36000};
    memset(out, 0, sizeof *out);
    memcpy(out->delay_s, def, sizeof def);
    out->n = sizeof def / sizeof def[0];
    out->jitter = WH_SCHEDULE_JITTER_DEFAULT;
}

eq_err wh_schedule_parse(const char *s, size_t len, wh_schedule *out) {
    if (s == NULL || out == NULL) return EQ_EINVAL;
    if (len > WH_SCHEDULE_MAX_CHARS) return EQ_ETOOBIG;
    wh_schedule sch;
    memset(&sch, 0, sizeof sch);
    sch.jitter = WH_SCHEDULE_JITTER_DEFAULT;
    size_t i = 0;
    for (;;) {
        while (i < len && s[i] == ' ')
            i++;
        uint64_t v = 0;
        size_t digits = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            v = v * 10 + (uint64_t)(s[i] - '0');
            if (v > WH_SCHEDULE_MAX_DELAY_S) return EQ_ETOOBIG;
        }
        if (digits == 0) return EQ_EINVAL;
        if (sch.n == WH_SCHEDULE_MAX_ENTRIES) return EQ_ETOOBIG;
        sch.delay_s[sch.n++] = (uint32_t)v;
        while (i < len && s[i] == ' ')
            i++;
        if (i == len) break;
        if (s[i] != ',') return EQ_EINVAL;
        i++;
    }
    *out = sch;
    return EQ_OK;
}

eq_err wh_schedule_next(const wh_schedule *s, size_t attempts_made, int64_t now_ms, wh_rng_fn rng,
                        void *rng_ctx, int64_t *next_ms) {
    if (s == NULL || next_ms == NULL || s->n > WH_SCHEDULE_MAX_ENTRIES || !(s->jitter >= 0) ||
        s->jitter > WH_SCHEDULE_JITTER_MAX)
        return EQ_EINVAL;
    if (attempts_made >= s->n) return EQ_ENOTFOUND;
    double base_ms = (double)s->delay_s[attempts_made] * 1000.0;
    double delay_ms = base_ms;
    if (base_ms > 0 && s->jitter > 0) {
        uint64_t bits = (rng != NULL ? rng : wh_rng_default)(rng_ctx);
        /* The top 53 bits give a uniform double in [0, 1]; map it to [-jitter, +jitter]. */
        double u = (double)(bits >> 11) / (double)(UINT64_C(1) << 53);
        delay_ms = base_ms * (1.0 + s->jitter * (2.0 * u - 1.0));
    }
    int64_t delay = (int64_t)llround(delay_ms);
    if (now_ms > INT64_MAX - delay) return EQ_EINVAL; /* a clock beyond any real date */
    *next_ms = now_ms + delay;
    return EQ_OK;
}
