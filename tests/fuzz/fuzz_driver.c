/* A Check-free stand-in for libFuzzer, linked with one fuzz target's LLVMFuzzerTestOneInput
 * in the normal (gcc, ASan/UBSan) build so that ctest runs every target for a few seconds.
 *
 *   fuzz_<target> [-r RUNS] [-t SECONDS] [-s SEED] PATH...
 *   fuzz_<target> -x FILE...
 *
 * Each PATH is a corpus directory (every regular file in it is one input) or a single input
 * file. The driver runs every input once, then RUNS pseudo-random mutations of them (default
 * FUZZ_DRIVER_RUNS) from a seeded xorshift generator, so a run is reproducible: the same
 * corpus and seed give the same inputs in the same order. It stops early once SECONDS of wall
 * time have passed, so a slow target under ASan still ends in bounded time.
 *
 * A crash is reported by the sanitizers (or an abort() in the target). To recover the input,
 * set FUZZ_DRIVER_SAVE=FILE: each input is written there before it runs, so after a crash
 * FILE holds the input that crashed (slow; for reproducing only).
 *
 * -x runs each FILE in a child process and expects it to fail (a sanitizer report, abort, any
 * signal or non-zero exit): it exits 0 when every file still fails and 1 when one no longer
 * does. This is how known, unfixed findings (tests/fuzz/known/) are kept honest. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Mutations run after the corpus when -r is not given. */
#define FUZZ_DRIVER_RUNS 50000
/* Wall-clock budget in seconds when -t is not given: ctest runs every target under ASan. */
#define FUZZ_DRIVER_SECONDS 6.0
/* Corpus files larger than this are cut: the targets' parsers refuse far smaller inputs. */
#define FUZZ_DRIVER_MAX_FILE (4u << 20)
/* Corpus entries kept; later files are ignored (with a note). */
#define FUZZ_DRIVER_MAX_SEEDS 4096
/* A mutated input grows to at most this many bytes beyond its seed. */
#define FUZZ_DRIVER_MAX_GROWTH 4096
/* Mutations stacked on one input: 1 to this many. */
#define FUZZ_DRIVER_MAX_STACK 8

typedef struct fuzz_seed {
    uint8_t *data;
    size_t len;
} fuzz_seed;

typedef struct fuzz_corpus {
    fuzz_seed *seeds;
    size_t n;
} fuzz_corpus;

static uint64_t fuzz_rng_state;

static uint64_t fuzz_rng(void) {
    uint64_t x = fuzz_rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return fuzz_rng_state = x;
}

static size_t fuzz_below(size_t n) {
    return n ? (size_t)(fuzz_rng() % n) : 0;
}

static double fuzz_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fuzz_run(const uint8_t *data, size_t len) {
    const char *save = getenv("FUZZ_DRIVER_SAVE");
    if (save && *save) {
        FILE *f = fopen(save, "wb");
        if (f) {
            fwrite(data, 1, len, f);
            fclose(f);
        }
    }
    /* A private copy, so the target sees exactly len readable bytes (ASan catches overreads). */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        fprintf(stderr, "fuzz_driver: out of memory\n");
        exit(2);
    }
    memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

static int fuzz_add_file(fuzz_corpus *c, const char *path) {
    if (c->n == FUZZ_DRIVER_MAX_SEEDS) {
        fprintf(stderr, "fuzz_driver: more than %d inputs; ignoring %s\n", FUZZ_DRIVER_MAX_SEEDS,
                path);
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_driver: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(FUZZ_DRIVER_MAX_FILE);
    size_t len = buf ? fread(buf, 1, FUZZ_DRIVER_MAX_FILE, f) : 0;
    fclose(f);
    if (!buf)
        return -1;
    if (!c->seeds) {
        c->seeds = calloc(FUZZ_DRIVER_MAX_SEEDS, sizeof *c->seeds);
        if (!c->seeds) {
            free(buf);
            return -1;
        }
    }
    c->seeds[c->n].data = buf;
    c->seeds[c->n].len = len;
    c->n++;
    return 0;
}

static int fuzz_name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every regular file of dir, in name order so that runs are reproducible. */
static int fuzz_add_dir(fuzz_corpus *c, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz_driver: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof *names);
            if (!p) {
                rc = -1;
                break;
            }
            names = p;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, fuzz_name_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = fuzz_add_file(c, path);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Builds one mutant of a random seed into out (capacity cap); returns its length. */
static size_t fuzz_mutate(const fuzz_corpus *c, uint8_t *out, size_t cap) {
    static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, '0', '9', ':', '"', '\\',
                                          '\n', '\r', '{', '[', ',', '-', '.', 'e', 0xfe, ' '};
    const fuzz_seed *s = &c->seeds[fuzz_below(c->n)];
    size_t len = s->len < cap ? s->len : cap;
    memcpy(out, s->data, len);
    size_t stack = 1 + fuzz_below(FUZZ_DRIVER_MAX_STACK);
    for (size_t k = 0; k < stack; k++) {
        size_t at = fuzz_below(len + 1);
        switch (fuzz_below(9)) {
        case 0: /* flip a bit */
            if (len)
                out[fuzz_below(len)] ^= (uint8_t)(1u << fuzz_below(8));
            break;
        case 1: /* set a byte to a value parsers care about */
            if (len)
                out[fuzz_below(len)] = interesting[fuzz_below(sizeof interesting)];
            break;
        case 2: /* set a byte to anything */
            if (len)
                out[fuzz_below(len)] = (uint8_t)fuzz_rng();
            break;
        case 3: { /* insert random bytes */
            size_t n = 1 + fuzz_below(16);
            if (len + n > cap)
                break;
            memmove(out + at + n, out + at, len - at);
            for (size_t i = 0; i < n; i++)
                out[at + i] = (uint8_t)fuzz_rng();
            len += n;
            break;
        }
        case 4: { /* delete a range */
            size_t n = fuzz_below(len - at + 1);
            memmove(out + at, out + at + n, len - at - n);
            len -= n;
            break;
        }
        case 5: { /* duplicate a range at another place */
            if (!len)
                break;
            size_t from = fuzz_below(len);
            size_t n = 1 + fuzz_below(len - from < 64 ? len - from : 64);
            if (len + n > cap)
                break;
            uint8_t tmp[64];
            memcpy(tmp, out + from, n);
            memmove(out + at + n, out + at, len - at);
            memcpy(out + at, tmp, n);
            len += n;
            break;
        }
        case 6: /* truncate */
            len = at;
            break;
        case 7: { /* overwrite with a piece of another seed */
            const fuzz_seed *o = &c->seeds[fuzz_below(c->n)];
            if (!o->len || at >= len)
                break;
            size_t from = fuzz_below(o->len);
            size_t n = 1 + fuzz_below(o->len - from);
            if (n > len - at)
                n = len - at;
            memcpy(out + at, o->data + from, n);
            break;
        }
        default: { /* overwrite 1, 2, 4 or 8 bytes with a boundary integer (little-endian) */
            static const uint64_t edges[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff,
                                             0xffffffff, 0x10000, UINT64_MAX, INT64_MAX};
            size_t w = (size_t)1 << fuzz_below(4);
            if (len < w || at + w > len)
                break;
            uint64_t v = edges[fuzz_below(sizeof edges / sizeof edges[0])];
            for (size_t i = 0; i < w; i++)
                out[at + i] = (uint8_t)(v >> (8 * i));
            break;
        }
        }
    }
    return len;
}

/* -x: 0 when every file makes the target fail in a child process. */
static int fuzz_expect_failures(int argc, char **argv) {
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        fuzz_corpus c = {0};
        if (fuzz_add_file(&c, argv[i]) != 0)
            return 2;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0) {
            fuzz_run(c.seeds[0].data, c.seeds[0].len);
            _exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid)
            return 2;
        int failed = !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        printf("fuzz_driver: %s %s\n", argv[i],
               failed ? "still fails (known bug)" : "NO LONGER FAILS: move it into the corpus");
        rc |= !failed;
        free(c.seeds[0].data);
        free(c.seeds);
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "-x") == 0)
        return fuzz_expect_failures(argc - 2, argv + 2);
    long runs = FUZZ_DRIVER_RUNS;
    double seconds = FUZZ_DRIVER_SECONDS;
    uint64_t seed = 0x9e3779b97f4a7c15u;
    const char *env = getenv("FUZZ_DRIVER_RUNS");
    if (env && *env)
        runs = strtol(env, NULL, 10);
    fuzz_corpus c = {0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "usage: %s [-r RUNS] [-t SECONDS] [-s SEED] PATH...\n", argv[0]);
            return 2;
        }
        if (strcmp(argv[i], "-r") == 0)
            runs = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-t") == 0)
            seconds = strtod(argv[i + 1], NULL);
        else if (strcmp(argv[i], "-s") == 0)
            seed = strtoull(argv[i + 1], NULL, 0);
        else {
            fprintf(stderr, "fuzz_driver: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    fuzz_rng_state = seed ? seed : 1;
    for (; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz_driver: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        if ((S_ISDIR(st.st_mode) ? fuzz_add_dir(&c, argv[i]) : fuzz_add_file(&c, argv[i])) != 0)
            return 2;
    }
    double start = fuzz_now();
    fuzz_run((const uint8_t *)"", 0);
    for (size_t k = 0; k < c.n; k++)
        fuzz_run(c.seeds[k].data, c.seeds[k].len);
    long done = 0;
    size_t maxlen = 0;
    for (size_t k = 0; k < c.n; k++)
        if (c.seeds[k].len > maxlen)
            maxlen = c.seeds[k].len;
    uint8_t *buf = c.n ? malloc(maxlen + FUZZ_DRIVER_MAX_GROWTH) : NULL;
    for (; buf && done < runs; done++) {
        /* The clock is read every 16 runs: cheap, and still within a fraction of the budget. */
        if ((done & 15) == 0 && fuzz_now() - start > seconds)
            break;
        size_t len = fuzz_mutate(&c, buf, maxlen + FUZZ_DRIVER_MAX_GROWTH);
        fuzz_run(buf, len);
    }
    free(buf);
    printf("fuzz_driver: %zu corpus inputs, %ld of %ld mutations in %.1f s, no crash\n", c.n, done,
           runs, fuzz_now() - start);
    for (size_t k = 0; k < c.n; k++)
        free(c.seeds[k].data);
    free(c.seeds);
    return 0;
}
