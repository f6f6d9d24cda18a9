#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"

static eq_log_level log_level = EQ_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void eq_log_set_level(eq_log_level lvl) {
    log_level = lvl;
}

int eq_log_level_parse(const char *s) {
    for (int i = 0; i <= EQ_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int eq_log_enabled(eq_log_level lvl) {
    return lvl >= log_level && lvl != EQ_LOG_OFF;
}

/* Appends s as a JSON string body (without quotes), truncating at the end of the buffer. */
static size_t put_escaped(char *out, size_t pos, size_t cap, const char *s) {
    for (; s && *s && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

static size_t put_raw(char *out, size_t pos, size_t cap, const char *s) {
    size_t n = strlen(s);
    if (pos + 1 >= cap)
        return pos;
    if (pos + n >= cap)
        n = cap - pos - 1;
    memcpy(out + pos, s, n);
    return pos + n;
}

void eq_log(eq_log_level lvl, const char *msg, ...) {
    if (!eq_log_enabled(lvl))
        return;
    /* Content stops EQ_LOG_RESERVE bytes short of the end, so the closing quote and brace of a
     * truncated line always fit and the line stays valid JSON. */
    enum { EQ_LOG_RESERVE = 8 };
    char line[4096], ts[32];
    size_t cap = sizeof line - EQ_LOG_RESERVE, pos = 0;
    eq_time_format(eq_now_ms(), ts, sizeof ts);
    pos = put_raw(line, pos, cap, "{\"time\":\"");
    pos = put_raw(line, pos, cap, ts);
    pos = put_raw(line, pos, cap, "\",\"level\":\"");
    pos = put_raw(line, pos, cap, level_names[lvl]);
    pos = put_raw(line, pos, cap, "\",\"msg\":\"");
    pos = put_escaped(line, pos, cap, msg);
    line[pos++] = '"';
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (pos + 16 + strlen(k) > cap)
            continue; /* no room for this field: leave it out whole */
        pos = put_raw(line, pos, cap, ",\"");
        pos = put_escaped(line, pos, cap, k);
        pos = put_raw(line, pos, cap, "\":\"");
        pos = put_escaped(line, pos, cap - 1, v ? v : "");
        line[pos++] = '"';
    }
    va_end(ap);
    line[pos++] = '}';
    line[pos++] = '\n';
    fwrite(line, 1, pos, stderr);
}
