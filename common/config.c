#include "common/config.h"

#include <stdlib.h>
#include <string.h>

eq_err cfg_hostport(const char *s, char *host, size_t hostlen, int *port) {
    const char *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return EQ_EINVAL;
        hl = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return EQ_EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return EQ_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return EQ_EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)p;
    return EQ_OK;
}

static int enum_has(const char *choices, const char *v) {
    size_t vl = strlen(v);
    for (const char *p = choices; *p;) {
        size_t l = strcspn(p, "|");
        if (l == vl && strncmp(p, v, l) == 0)
            return 1;
        p += l;
        if (*p == '|')
            p++;
    }
    return 0;
}

static eq_err check_value(const cfg_setting *s, const char *v, const char *from, char *err,
                          size_t errlen) {
    char host[256];
    int port;
    switch (s->type) {
    case CFG_INT: {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (*v == '\0' || *end || x < s->min || x > s->max) {
            snprintf(err, errlen, "%s %s: \"%s\" is not a whole number from %lld to %lld", from,
                     s->name, v, (long long)s->min, (long long)s->max);
            return EQ_EINVAL;
        }
        return EQ_OK;
    }
    case CFG_ENUM:
        if (!enum_has(s->choices, v)) {
            snprintf(err, errlen, "%s %s: \"%s\" is not one of %s", from, s->name, v, s->choices);
            return EQ_EINVAL;
        }
        return EQ_OK;
    case CFG_BOOL:
        if (!enum_has("true|false|1|0|yes|no", v)) {
            snprintf(err, errlen, "%s %s: \"%s\" is not true or false", from, s->name, v);
            return EQ_EINVAL;
        }
        return EQ_OK;
    case CFG_HOSTPORT:
        if (cfg_hostport(v, host, sizeof host, &port) != EQ_OK) {
            snprintf(err, errlen, "%s %s: \"%s\" is not HOST:PORT", from, s->name, v);
            return EQ_EINVAL;
        }
        return EQ_OK;
    default:
        return EQ_OK;
    }
}

eq_err eq_config_parse(eq_config *c, const cfg_setting *settings, size_t n, unsigned command,
                       int argc, char **argv, char *err, size_t errlen) {
    if (n > CFG_MAX_SETTINGS)
        return EQ_EINVAL;
    c->settings = settings;
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        c->values[i] = settings[i].def;
        c->source[i] = "default";
        const char *e = settings[i].env ? getenv(settings[i].env) : NULL;
        if (e && (settings[i].commands & command)) {
            char from[80];
            snprintf(from, sizeof from, "environment variable %s for", settings[i].env);
            if (check_value(&settings[i], e, from, err, errlen))
                return EQ_EINVAL;
            c->values[i] = e;
            c->source[i] = "env";
        }
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\"", arg);
            return EQ_EINVAL;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        size_t i;
        for (i = 0; i < n; i++)
            if (strlen(settings[i].name) == nl && strncmp(settings[i].name, name, nl) == 0 &&
                (settings[i].commands & command))
                break;
        if (i == n) {
            snprintf(err, errlen, "unknown flag --%.*s (see --help)", (int)nl, name);
            return EQ_EINVAL;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (settings[i].type == CFG_BOOL && (a + 1 >= argc || strncmp(argv[a + 1], "--", 2) == 0)) {
                v = "true";
            } else if (a + 1 < argc) {
                v = argv[++a];
            } else {
                snprintf(err, errlen, "flag --%s needs a value", settings[i].name);
                return EQ_EINVAL;
            }
        }
        if (check_value(&settings[i], v, "flag", err, errlen))
            return EQ_EINVAL;
        c->values[i] = v;
        c->source[i] = "flag";
    }
    return EQ_OK;
}

static size_t find(const eq_config *c, const char *name) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->settings[i].name, name) == 0)
            return i;
    abort(); /* a misspelt setting name is a programming error */
}

const char *cfg_str(const eq_config *c, const char *name) {
    return c->values[find(c, name)];
}

int64_t cfg_int(const eq_config *c, const char *name) {
    return strtoll(cfg_str(c, name), NULL, 10);
}

int cfg_bool(const eq_config *c, const char *name) {
    const char *v = cfg_str(c, name);
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0;
}

void eq_config_help(FILE *f, const cfg_setting *settings, size_t n, unsigned command) {
    for (size_t i = 0; i < n; i++) {
        const cfg_setting *s = &settings[i];
        if (!(s->commands & command))
            continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", s->name);
        fprintf(f, "  %-26s %s\n", flag, s->help);
        fprintf(f, "  %-26s env %s, default %s%s%s\n", "", s->env ? s->env : "-",
                s->def[0] ? s->def : "(none)", s->type == CFG_ENUM ? ", one of " : "",
                s->type == CFG_ENUM ? s->choices : "");
    }
}
