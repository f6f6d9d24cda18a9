/* Job and object ids: 26-character Crockford base32 ULIDs (48-bit milliseconds, 80 random bits),
 * so ids sort by creation time. */
#ifndef ECONQ_COMMON_ID_H
#define ECONQ_COMMON_ID_H
#include <stddef.h>
#include <stdint.h>

#define EQ_ID_LEN 26

/* Writes a new id and a NUL into out (at least EQ_ID_LEN + 1 bytes). Thread-safe. */
void eq_id_new(int64_t now_ms, char *out);
/* 1 when s is a well-formed id of exactly EQ_ID_LEN characters. */
int eq_id_valid(const char *s);
/* Fills buf with n random bytes from the kernel (getrandom). */
void eq_random_bytes(void *buf, size_t n);
/* A fast per-thread pseudo-random 64-bit number (jitter, not secrets). */
uint64_t eq_rand64(void);

#endif
