/* Starts and drives tests/fakes/fake_llm.py from a C test. */
#ifndef ECONQ_TESTS_FAKES_FAKE_LLM_SPAWN_H
#define ECONQ_TESTS_FAKES_FAKE_LLM_SPAWN_H

#include <sys/types.h>

typedef struct fake_llm {
    pid_t pid;
    int port;
    char base_url[64]; /* "http://127.0.0.1:<port>" */
} fake_llm;

/* Starts the fake with extra command-line arguments (NULL-terminated list, may be NULL) and
 * waits until it prints its port. The script is found under $ECONQ_SOURCE_DIR.
 * Returns 0, or -1 (with a message on stderr). */
int fake_llm_start(fake_llm *f, const char *const *args);
/* Stops it (SIGTERM, then waits). */
void fake_llm_stop(fake_llm *f);

/* POSTs {"mode": mode, "seconds": seconds} to /_mode. Returns 0 or -1. */
int fake_llm_mode(const fake_llm *f, const char *mode, double seconds);
/* Forgets recorded requests and returns to mode "ok". Returns 0 or -1. */
int fake_llm_reset(const fake_llm *f);
/* The JSON of GET /_requests; caller frees. NULL on failure. */
char *fake_llm_requests(const fake_llm *f);

#endif
