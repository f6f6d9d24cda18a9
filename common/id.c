#include "common/id.h"

#include <string.h>
#include <sys/random.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void eq_random_bytes(void *buf, size_t n) {
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r <= 0)
            continue;
        p += r;
        n -= (size_t)r;
    }
}

uint64_t eq_rand64(void) {
    static _Thread_local uint64_t s;
    if (s == 0) {
        eq_random_bytes(&s, sizeof s);
        s |= 1;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

void eq_id_new(int64_t now_ms, char *out) {
    unsigned char b[16];
    uint64_t t = (uint64_t)now_ms;
    for (int i = 5; i >= 0; i--) {
        b[i] = (unsigned char)(t & 0xff);
        t >>= 8;
    }
    uint64_t r1 = eq_rand64(), r2 = eq_rand64();
    memcpy(b + 6, &r1, 8);
    memcpy(b + 14, &r2, 2);
    /* 128 bits as 26 base32 digits: the first digit carries the top 3 bits. */
    int bit = -2;
    for (int i = 0; i < EQ_ID_LEN; i++) {
        unsigned v = 0;
        for (int k = 0; k < 5; k++, bit++) {
            v <<= 1;
            if (bit >= 0)
                v |= (b[bit / 8] >> (7 - bit % 8)) & 1;
        }
        out[i] = crockford[v];
    }
    out[EQ_ID_LEN] = '\0';
}

int eq_id_valid(const char *s) {
    if (!s)
        return 0;
    size_t i;
    for (i = 0; s[i]; i++) {
        if (i >= EQ_ID_LEN || !strchr(crockford, s[i]))
            return 0;
    }
    return i == EQ_ID_LEN && s[0] <= '7';
}
