/* The fuzz target of the cron parser; see cron_fuzz.h. Built into cron_test, and with clang
 * as a libFuzzer binary (-DECONQ_LIBFUZZER=ON, see tests/cron/CMakeLists.txt). */
#include "tests/cron/cron_fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "broker/cron/cron.h"

/* Inputs beyond this are cut: the parser refuses anything over CRON_EXPR_MAX_LEN anyway. */
#define CRON_FUZZ_MAX_INPUT (4 * CRON_EXPR_MAX_LEN)

int cron_fuzz_one(const uint8_t *data, size_t size) {
    char text[CRON_FUZZ_MAX_INPUT + 1];
    if (size > CRON_FUZZ_MAX_INPUT) size = CRON_FUZZ_MAX_INPUT;
    memcpy(text, data, size);
    text[size] = '\0';
    cron_expr c;
    char err[128];
    if (cron_parse(text, &c, err, sizeof err) != EQ_OK) return err[0] == '\0';
    /* A start time from the input's bytes, within 1970..2100. */
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211u;
    int64_t t = (int64_t)(h % UINT64_C(4102444800));
    int64_t n = cron_next(&c, t);
    if (n != -1 && (n <= t || n % 60 != 0 || !cron_matches(&c, n))) return 1;
    int64_t p = cron_prev(&c, t);
    if (p != -1 && (p >= t || p % 60 != 0 || !cron_matches(&c, p))) return 1;
    if (n != -1 && p != -1 && cron_next(&c, p) > n) return 1;
    return 0;
}

#ifdef ECONQ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (cron_fuzz_one(data, size)) abort();
    return 0;
}
#endif
