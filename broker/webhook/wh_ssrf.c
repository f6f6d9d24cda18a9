#include "broker/webhook/wh_ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* A refused IPv4 range, in host order. */
typedef struct wh_range4 {
    uint32_t net;
    unsigned prefix;
    const char *why;
} wh_range4;

#define WH_IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((c) << 8) | (d))

static const wh_range4 wh_refused4[] = {
    {WH_IP4(0, 0, 0, 0), 8, "unspecified or this-network address (0.0.0.0/8)"},
    {WH_IP4(10, 0, 0, 0), 8, "private address (10.0.0.0/8)"},
    {WH_IP4(100, 64, 0, 0), 10, "carrier-grade NAT address (100.64.0.0/10)"},
    {WH_IP4(127, 0, 0, 0), 8, "loopback address (127.0.0.0/8)"},
    {WH_IP4(169, 254, 0, 0), 16, "link-local or metadata address (169.254.0.0/16)"},
    {WH_IP4(172, 16, 0, 0), 12, "private address (172.16.0.0/12)"},
    {WH_IP4(192, 0, 0, 0), 24, "IETF protocol address (192.0.0.0/24)"},
    {WH_IP4(192, 168, 0, 0), 16, "private address (192.168.0.0/16)"},
    {WH_IP4(198, 18, 0, 0), 15, "benchmarking address (198.18.0.0/15)"},
    {WH_IP4(224, 0, 0, 0), 4, "multicast address (224.0.0.0/4)"},
    {WH_IP4(240, 0, 0, 0), 4, "reserved or broadcast address (240.0.0.0/4)"},
};

/* Refused IPv6 ranges that do not embed an IPv4 address. */
static const struct {
    uint8_t net[16];
    unsigned prefix;
    const char *why;
} wh_refused6[] = {
    {{0}, 128, "unspecified address (::)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback address (::1)"},
    {{0xfc}, 7, "unique local address (fc00::/7)"},
    {{0xfe, 0x80}, 10, "link-local address (fe80::/10)"},
    {{0xfe, 0xc0}, 10, "site-local address (fec0::/10)"},
    {{0xff}, 8, "multicast address (ff00::/8)"},
};

static int wh_prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix) {
    unsigned bytes = prefix / 8, bits = prefix % 8;
    if (memcmp(a, net, bytes) != 0) return 0;
    if (bits == 0) return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - bits));
    return (a[bytes] & mask) == (net[bytes] & mask);
}

static void wh_mapped(uint32_t v4_host_order, uint8_t out[16]) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    uint32_t be = htonl(v4_host_order);
    memcpy(out + 12, &be, 4);
}

static const char *wh_refused_v4(uint32_t v4) {
    for (size_t i = 0; i < sizeof wh_refused4 / sizeof wh_refused4[0]; i++) {
        uint32_t mask = wh_refused4[i].prefix == 0 ? 0 : ~0u << (32 - wh_refused4[i].prefix);
        if ((v4 & mask) == wh_refused4[i].net) return wh_refused4[i].why;
    }
    return NULL;
}

static uint32_t wh_load4(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Finds the refused range of an IPv6 address, looking inside the forms that embed IPv4. */
static const char *wh_refused_v6(const uint8_t a[16]) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t compat[12] = {0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    for (size_t i = 0; i < sizeof wh_refused6 / sizeof wh_refused6[0]; i++)
        if (wh_prefix_match(a, wh_refused6[i].net, wh_refused6[i].prefix))
            return wh_refused6[i].why;
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, compat, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return wh_refused_v4(wh_load4(a + 12));
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 carries A.B.C.D */
        return wh_refused_v4(wh_load4(a + 2));
    return NULL;
}

static int wh_allowed(const wh_allowlist *allow, const uint8_t a[16]) {
    if (allow == NULL) return 0;
    for (size_t i = 0; i < allow->n; i++)
        if (wh_prefix_match(a, allow->cidr[i].addr, allow->cidr[i].prefix)) return 1;
    return 0;
}

eq_err wh_ssrf_check(const wh_allowlist *allow, const struct sockaddr *sa, const char **why) {
    uint8_t a[16];
    const char *refused;
    if (sa == NULL) {
        refused = "no address";
    } else if (sa->sa_family == AF_INET) {
        uint32_t v4 = ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr);
        wh_mapped(v4, a);
        refused = wh_refused_v4(v4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        refused = wh_refused_v6(a);
        /* An IPv4-mapped address is the IPv4 host for the allowlist as well. */
    } else {
        refused = "address family other than IPv4 and IPv6";
        sa = NULL;
    }
    if (refused == NULL || (sa != NULL && wh_allowed(allow, a))) {
        if (why != NULL) *why = NULL;
        return EQ_OK;
    }
    if (why != NULL) *why = refused;
    return EQ_EINVAL;
}

/* Parses one "addr[/prefix]" entry of `len` bytes. */
static eq_err wh_cidr_parse(const char *s, size_t len, wh_cidr *out) {
    char buf[WH_ADDR_STR_SIZE + 8];
    if (len == 0 || len >= sizeof buf) return EQ_EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        if (slash[1] < '0' || slash[1] > '9') return EQ_EINVAL;
        prefix = strtol(slash + 1, &end, 10);
        if (*end != '\0') return EQ_EINVAL;
    }
    struct in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        if (prefix > 32) return EQ_EINVAL;
        wh_mapped(ntohl(v4.s_addr), out->addr);
        out->prefix = (unsigned)(prefix < 0 ? 32 : prefix) + 96;
        return EQ_OK;
    }
    if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        if (prefix > 128) return EQ_EINVAL;
        out->prefix = (unsigned)(prefix < 0 ? 128 : prefix);
        return EQ_OK;
    }
    return EQ_EINVAL;
}

eq_err wh_allowlist_parse(const char *s, wh_allowlist *out) {
    if (s == NULL || out == NULL) return EQ_EINVAL;
    size_t len = strnlen(s, WH_ALLOW_MAX_CHARS + 1);
    if (len > WH_ALLOW_MAX_CHARS) return EQ_ETOOBIG;
    wh_allowlist list;
    list.n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && s[i] != ',' && s[i] != ' ')
            i++;
        size_t end = i;
        while (i < len && s[i] == ' ')
            i++;
        if (i < len && s[i] != ',') return EQ_EINVAL;
        if (end == start) {
            if (i < len) /* an empty entry between commas */
                return EQ_EINVAL;
            break;
        }
        if (list.n == WH_ALLOW_MAX_ENTRIES) return EQ_ETOOBIG;
        eq_err err = wh_cidr_parse(s + start, end - start, &list.cidr[list.n]);
        if (err != EQ_OK) return err;
        list.n++;
        if (i < len) i++; /* the comma */
    }
    *out = list;
    return EQ_OK;
}

eq_err wh_url_parse(const char *url, wh_url *out) {
    if (url == NULL || out == NULL) return EQ_EINVAL;
    if (strnlen(url, WH_URL_MAX_CHARS + 1) > WH_URL_MAX_CHARS) return EQ_ETOOBIG;
    eq_err err = EQ_EINVAL;
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLU *u = curl_url();
    if (u == NULL) return EQ_ENOMEM;
    /* No CURLU_GUESS_SCHEME and no default scheme: a URL must say http:// or https://. */
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        goto fail;
    if (strcasecmp(scheme, "http") == 0) {
        out->https = 0;
    } else if (strcasecmp(scheme, "https") == 0) {
        out->https = 1;
    } else {
        err = EQ_EUNSUPPORTED;
        goto fail;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto fail;
    size_t hlen = strlen(host);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        /* An IPv6 literal; a zone id ("%eth0") would make inet_pton fail, which is refused. */
        host[hlen - 1] = '\0';
        memmove(host, host + 1, hlen - 1);
        hlen -= 2;
    }
    if (hlen == 0) {
        err = EQ_EINVAL;
        goto fail;
    }
    if (hlen >= sizeof out->host) {
        err = EQ_ETOOBIG;
        goto fail;
    }
    memcpy(out->host, host, hlen + 1);
    char *end;
    long p = strtol(port, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) goto fail;
    out->port = (unsigned)p;
    unsigned char tmp[16];
    out->host_is_ip =
        inet_pton(AF_INET, out->host, tmp) == 1 || inet_pton(AF_INET6, out->host, tmp) == 1;
    err = EQ_OK;
fail:
    curl_free(port);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return err;
}

eq_err wh_addr_str(const struct sockaddr *sa, char *out, size_t out_size) {
    const void *src;
    if (sa == NULL || out == NULL) return EQ_EINVAL;
    if (sa->sa_family == AF_INET)
        src = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    else
        return EQ_EINVAL;
    if (inet_ntop(sa->sa_family, src, out, (socklen_t)out_size) == NULL) return EQ_ETOOBIG;
    return EQ_OK;
}
