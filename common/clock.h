/* Clocks and RFC 3339 times. Wall-clock milliseconds since the Unix epoch are the unit of every
 * stored time; monotonic milliseconds measure durations. */
#ifndef ECONQ_COMMON_CLOCK_H
#define ECONQ_COMMON_CLOCK_H
#include <stddef.h>
#include <stdint.h>
#include "common/eq_err.h"

int64_t eq_now_ms(void);
int64_t eq_mono_ms(void);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) into out (at least 32 bytes). */
void eq_time_format(int64_t ms, char *out, size_t outlen);
/* Parses an RFC 3339 date-time ("2026-01-02T03:04:05Z", fractional seconds and numeric offsets
 * allowed) into milliseconds since the epoch. EQ_EINVAL when malformed. */
eq_err eq_time_parse(const char *s, int64_t *ms);
/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t eq_days_from_civil(int64_t y, unsigned m, unsigned d);
void eq_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
