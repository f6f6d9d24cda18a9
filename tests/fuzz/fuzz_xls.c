/* Fuzz target: XLS uploads (upload_parse with kind "xls", api/upload/upload.h). The XLS path
 * is left out of tests/upload's target because libfreexl runs in a forked child per call, which
 * is slow (a fork and a temporary file per input); here it gets its own target so the parent's
 * side, which must survive anything the child sends or a child that dies, is fuzzed too.
 * libFuzzer's coverage comes from the parent only (the child's counters die with it).
 *
 * Under libFuzzer the child inherits the fuzzer's crash handlers, so freexl's known overflow in
 * the child would be saved as a "crash" although the parent handles it as designed. A fork
 * handler therefore makes a dying child just exit (sanitizer death callback, default signal
 * actions); a failure in the parent is still caught and saved as usual.
 *
 * Properties checked on an accepted file: the table is within the default limits, column names
 * are non-empty and unique, each column's missing count matches its values, the date column
 * index is valid, and the table survives ds_table_encode/ds_table_decode. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/upload/upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef FUZZ_UNDER_LIBFUZZER
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

/* The exit status of a child that a sanitizer stopped: any non-zero status reads as failure. */
#define FUZZ_XLS_CHILD_DIED 70

static void fuzz_xls_child_death(void) {
    _exit(FUZZ_XLS_CHILD_DIED);
}

static void fuzz_xls_in_child(void) {
    __sanitizer_set_death_callback(fuzz_xls_child_death);
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
}
#endif

static void fuzz_xls_check(const ds_table *t) {
    if (t->ncols == 0 || t->ncols > UPLOAD_MAX_COLS || t->nrows > UPLOAD_MAX_ROWS ||
        t->date_col < -1 || t->date_col >= (int)t->ncols || strcmp(t->kind, "xls") != 0)
        abort();
    if (t->date_col >= 0 && t->cols[t->date_col].type != DS_TYPE_DATE)
        abort();
    for (size_t c = 0; c < t->ncols; c++) {
        const ds_column *col = &t->cols[c];
        if (!col->name || col->name[0] == '\0')
            abort();
        for (size_t k = 0; k < c; k++)
            if (strcmp(t->cols[k].name, col->name) == 0)
                abort();
        size_t missing = 0;
        for (size_t r = 0; r < t->nrows; r++) {
            if (col->type == DS_TYPE_TEXT)
                missing += col->text[r] == NULL;
            else
                missing += isnan(col->num[r]) != 0;
        }
        if (missing != col->missing)
            abort();
    }
    unsigned char *enc = NULL;
    size_t len = 0;
    if (ds_table_encode(t, &enc, &len) != EQ_OK)
        return; /* out of memory only */
    ds_table *back = NULL;
    if (ds_table_decode(enc, len, &back) != EQ_OK || back->nrows != t->nrows ||
        back->ncols != t->ncols)
        abort();
    ds_table_free(back);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#ifdef FUZZ_UNDER_LIBFUZZER
    static int forks_handled;
    if (!forks_handled) {
        if (pthread_atfork(NULL, NULL, fuzz_xls_in_child) != 0)
            abort();
        forks_handled = 1;
    }
#endif
    ds_table *t = NULL;
    upload_error e;
    memset(&e, 0, sizeof e);
    eq_err rc = upload_parse(data, size, "xls", NULL, &t, &e);
    if (rc == EQ_OK) {
        if (!t)
            abort();
        fuzz_xls_check(t);
        ds_table_free(t);
    } else if (t || e.status < 400 || e.status > 599 || e.type[0] == '\0' ||
               !memchr(e.detail, '\0', sizeof e.detail)) {
        abort(); /* a refusal always says why, with a problem+json status and slug */
    }
    return 0;
}
