/* The circuit breaker; see breaker.h for the states. */
#include "workers/llm/breaker.h"

#include <time.h>

static uint64_t monotonic_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

eq_err breaker_init(breaker *b, const breaker_config *cfg) {
    *b = (breaker){0};
    if (cfg) b->cfg = *cfg;
    if (b->cfg.threshold == 0) b->cfg.threshold = BREAKER_DEFAULT_THRESHOLD;
    if (b->cfg.cooldown_ms == 0) b->cfg.cooldown_ms = BREAKER_DEFAULT_COOLDOWN_MS;
    if (!b->cfg.clock) b->cfg.clock = monotonic_ms, b->cfg.clock_ctx = NULL;
    b->state = BREAKER_CLOSED;
    return pthread_mutex_init(&b->mu, NULL) == 0 ? EQ_OK : EQ_ENOMEM;
}

void breaker_fini(breaker *b) {
    pthread_mutex_destroy(&b->mu);
}

static uint64_t now_ms(const breaker *b) {
    return b->cfg.clock(b->cfg.clock_ctx);
}

/* Milliseconds left of the cool-down at `now` (0 when over). */
static uint64_t cooldown_left(const breaker *b, uint64_t now) {
    uint64_t until = b->opened_at + b->cfg.cooldown_ms;
    return now < until ? until - now : 0;
}

static void open_locked(breaker *b, uint64_t now) {
    b->state = BREAKER_OPEN;
    b->opened_at = now;
    b->opened_total++;
    b->gen++;
}

eq_err breaker_allow(breaker *b, breaker_ticket *ticket, uint64_t *retry_after_ms) {
    eq_err err = EQ_OK;
    uint64_t wait = 0;
    pthread_mutex_lock(&b->mu);
    uint64_t now = now_ms(b);
    switch (b->state) {
    case BREAKER_CLOSED:
        *ticket = (breaker_ticket){.gen = b->gen, .probe = false};
        break;
    case BREAKER_OPEN:
        wait = cooldown_left(b, now);
        if (wait > 0) {
            err = EQ_EBUSY;
            break;
        }
        b->state = BREAKER_HALF_OPEN;
        b->gen++;
        b->probe_at = now, b->probe_out = true;
        *ticket = (breaker_ticket){.gen = b->gen, .probe = true};
        break;
    case BREAKER_HALF_OPEN:
        /* A probe given back, or lost (never reported within a cool-down): send another. */
        if (!b->probe_out || now - b->probe_at >= b->cfg.cooldown_ms) {
            b->gen++;
            b->probe_at = now, b->probe_out = true;
            *ticket = (breaker_ticket){.gen = b->gen, .probe = true};
            break;
        }
        /* Exactly one probe at a time; the others wait for its verdict. */
        err = EQ_EBUSY;
        wait = BREAKER_PROBE_RETRY_MS;
        break;
    }
    if (err != EQ_OK) b->rejected_total++;
    pthread_mutex_unlock(&b->mu);
    if (retry_after_ms) *retry_after_ms = wait;
    return err;
}

void breaker_cancel(breaker *b, breaker_ticket ticket) {
    pthread_mutex_lock(&b->mu);
    if (ticket.gen == b->gen && ticket.probe && b->state == BREAKER_HALF_OPEN) b->probe_out = false;
    pthread_mutex_unlock(&b->mu);
}

void breaker_report(breaker *b, breaker_ticket ticket, bool ok) {
    pthread_mutex_lock(&b->mu);
    if (ticket.gen != b->gen) /* from before the last state change */
        goto out;
    uint64_t now = now_ms(b);
    if (b->state == BREAKER_HALF_OPEN && ticket.probe) {
        if (ok) {
            b->state = BREAKER_CLOSED;
            b->failures = 0;
            b->gen++;
        } else {
            b->failures++;
            open_locked(b, now);
        }
    } else if (b->state == BREAKER_CLOSED) {
        if (ok) {
            b->failures = 0;
        } else if (++b->failures >= b->cfg.threshold) {
            open_locked(b, now);
        }
    }
out:
    pthread_mutex_unlock(&b->mu);
}

void breaker_get_status(breaker *b, breaker_status *out) {
    pthread_mutex_lock(&b->mu);
    uint64_t now = now_ms(b);
    *out = (breaker_status){
        .state = b->state,
        .failures = b->failures,
        .opened_at_ms = b->opened_at,
        .opened_total = b->opened_total,
        .rejected_total = b->rejected_total,
    };
    if (b->state == BREAKER_OPEN) {
        uint64_t left = cooldown_left(b, now);
        if (left == 0) out->state = BREAKER_HALF_OPEN;
        out->retry_after_s = (left + 999) / 1000;
        out->retry_after_ms = left;
    } else if (b->state == BREAKER_HALF_OPEN) {
        /* A probe that never reported is written off after one cool-down (see allow). */
        out->probing = b->probe_out && now - b->probe_at < b->cfg.cooldown_ms;
    }
    pthread_mutex_unlock(&b->mu);
}

const char *breaker_state_name(breaker_state s) {
    switch (s) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_OPEN:
        return "open";
    case BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}
