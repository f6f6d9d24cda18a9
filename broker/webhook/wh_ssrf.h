/* The SSRF guard of webhook deliveries: which URLs and addresses the dispatcher may connect to.
 *
 * Only http and https URLs are accepted. After resolution, every candidate address is checked;
 * loopback, private, link-local (with cloud metadata), CGNAT, unspecified, multicast, broadcast
 * and reserved ranges are refused, also when written as IPv4-mapped, IPv4-compatible, NAT64 or
 * 6to4 IPv6 addresses, unless an allowlist of CIDRs opens them (ECONQ_WEBHOOK_ALLOW, e.g.
 * "127.0.0.0/8,::1/128"). The dispatcher connects to the checked address itself (pinned with
 * CURLOPT_CONNECT_TO), so a second DNS answer cannot change where it goes.
 *
 * Pure functions apart from wh_url_parse(), which uses libcurl's URL parser. */
#ifndef ECONQ_BROKER_WEBHOOK_WH_SSRF_H
#define ECONQ_BROKER_WEBHOOK_WH_SSRF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/eq_err.h"

/* Most CIDRs an allowlist holds. */
#define WH_ALLOW_MAX_ENTRIES 32
/* Longest allowlist string accepted. */
#define WH_ALLOW_MAX_CHARS 2048
/* Longest webhook URL accepted. */
#define WH_URL_MAX_CHARS 2048
/* Longest host name (RFC 1035: 253 characters) plus brackets of an IPv6 literal. */
#define WH_HOST_MAX_CHARS 256
/* Size of a buffer holding a numeric address as text (INET6_ADDRSTRLEN, rounded up). */
#define WH_ADDR_STR_SIZE 48

/* One range; IPv4 ranges are stored in their IPv4-mapped IPv6 form (prefix + 96). */
typedef struct wh_cidr {
    uint8_t addr[16];
    unsigned prefix; /* 0..128 */
} wh_cidr;

typedef struct wh_allowlist {
    wh_cidr cidr[WH_ALLOW_MAX_ENTRIES];
    size_t n;
} wh_allowlist;

/* Parses "a.b.c.d/n,x::y/m,..." (a bare address means a single host; spaces around entries and
 * an empty string are accepted) into `out`. EQ_EINVAL on a malformed entry or a prefix too long
 * for its family; EQ_ETOOBIG beyond WH_ALLOW_MAX_CHARS or WH_ALLOW_MAX_ENTRIES. */
eq_err wh_allowlist_parse(const char *s, wh_allowlist *out);

/* The parts of a webhook URL the dispatcher needs. */
typedef struct wh_url {
    int https;                    /* 1 for https, 0 for http */
    char host[WH_HOST_MAX_CHARS]; /* without the brackets of an IPv6 literal */
    int host_is_ip;               /* 1 if `host` is a numeric IPv4 or IPv6 address */
    unsigned port;                /* explicit or the scheme's default */
} wh_url;

/* Parses `url` with curl_url(). EQ_EINVAL if malformed or without host; EQ_EUNSUPPORTED for a
 * scheme other than http/https; EQ_ETOOBIG beyond WH_URL_MAX_CHARS or WH_HOST_MAX_CHARS. */
eq_err wh_url_parse(const char *url, wh_url *out);

/* Checks one resolved address (AF_INET or AF_INET6). Returns EQ_OK if the dispatcher may
 * connect to it, EQ_EINVAL (with `*why`, a static string, naming the range) if refused.
 * `allow` may be NULL (nothing opened). */
eq_err wh_ssrf_check(const wh_allowlist *allow, const struct sockaddr *sa, const char **why);

/* Writes the numeric form of `sa` into `out` (WH_ADDR_STR_SIZE bytes); IPv6 without brackets. */
eq_err wh_addr_str(const struct sockaddr *sa, char *out, size_t out_size);

#endif
