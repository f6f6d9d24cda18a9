/* The prompt builder; see llm_prompt.h. */
#include "workers/llm/llm_prompt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#define CONTEXT_HEAD "Context:\n\n"
#define QUESTION_HEAD "Question: "
#define TRUNC_MARK "\n[truncated]"

/* Bytes a section takes around its text: "### " title "\n" text "\n\n". */
static size_t section_overhead(const llm_section *s) {
    return 4 + strlen(s->title) + 1 + 2;
}

/* The longest prefix of s (len bytes) no longer than max that ends on a UTF-8 boundary. */
static size_t utf8_prefix(const char *s, size_t len, size_t max) {
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Appends to buf (cap bytes) at *len, never past the end; the budget above guarantees room,
 * this guards against a mistake in it turning into an overflow. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t cap, size_t *len,
                                                         const char *fmt, ...) {
    if (*len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len += (size_t)k < cap - *len ? (size_t)k : cap - *len - 1;
}

eq_err llm_prompt_build(const char *system, const llm_section *secs, size_t n, const char *question,
                        size_t max_bytes, llm_prompt *out) {
    *out = (llm_prompt){0};
    if (!question || !*question || (n && !secs) || n > LLM_PROMPT_MAX_SECTIONS ||
        max_bytes > LLM_PROMPT_MAX_BYTES_LIMIT)
        return EQ_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!secs[i].title || !secs[i].text || strlen(secs[i].title) > LLM_PROMPT_MAX_TITLE_BYTES)
            return EQ_EINVAL;
    if (strlen(question) > LLM_PROMPT_MAX_QUESTION_BYTES) return EQ_ETOOBIG;
    if (!system) system = LLM_PROMPT_DEFAULT_SYSTEM;
    if (!max_bytes) max_bytes = LLM_PROMPT_DEFAULT_MAX_BYTES;
    size_t fixed = strlen(system) + strlen(QUESTION_HEAD) + strlen(question);
    if (fixed > max_bytes) max_bytes = fixed; /* no room for context: it is left out */

    /* What each section may keep of its text: water-filling of the remaining budget, so
     * sections shorter than a fair share keep everything and give the rest to the others.
     * A section whose header does not fit at all is dropped. */
    size_t budget = max_bytes - fixed, want[LLM_PROMPT_MAX_SECTIONS], keep[LLM_PROMPT_MAX_SECTIONS];
    bool done[LLM_PROMPT_MAX_SECTIONS] = {0}, in[LLM_PROMPT_MAX_SECTIONS] = {0};
    size_t left = n;
    if (n && budget > strlen(CONTEXT_HEAD))
        budget -= strlen(CONTEXT_HEAD);
    else
        budget = 0, left = 0;
    for (size_t i = 0; i < n; i++) {
        want[i] = strlen(secs[i].text);
        keep[i] = 0;
        done[i] = left == 0;
    }
    while (left > 0) {
        size_t share = budget / left;
        bool settled = false;
        for (size_t i = 0; i < n; i++) {
            size_t need = section_overhead(&secs[i]) + want[i];
            if (!done[i] && need <= share) {
                keep[i] = want[i], budget -= need, done[i] = in[i] = true, left--, settled = true;
            }
        }
        if (settled) continue;
        for (size_t i = 0; i < n; i++) { /* everyone left is longer than a share: cut */
            if (done[i]) continue;
            size_t room = section_overhead(&secs[i]) + strlen(TRUNC_MARK);
            keep[i] = share > room ? utf8_prefix(secs[i].text, want[i], share - room) : 0;
            done[i] = true;
            in[i] = keep[i] > 0; /* an empty cut is no use: drop the section */
        }
        left = 0;
    }

    size_t cap = max_bytes + 1, len = 0; /* the user message is shorter than the cap */
    char *user = malloc(cap);
    char *sys = strdup(system);
    if (!user || !sys) {
        free(user);
        free(sys);
        return EQ_ENOMEM;
    }
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        bool cut = keep[i] < want[i];
        out->included[i] = in[i];
        out->kept[i] = in[i] ? keep[i] : 0;
        if (!in[i]) {
            out->truncated = true;
            continue;
        }
        if (!any) append(user, cap, &len, "%s", CONTEXT_HEAD), any = true;
        append(user, cap, &len, "### %s\n%.*s%s\n\n", secs[i].title, (int)keep[i], secs[i].text,
               cut ? TRUNC_MARK : "");
        out->truncated |= cut;
    }
    append(user, cap, &len, "%s%s", QUESTION_HEAD, question);
    out->system = sys;
    out->user = user;
    return EQ_OK;
}

void llm_prompt_hash(const char *model, const llm_prompt *p, char out[33]) {
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    /* Each part with its NUL, so that ("ab", "c") and ("a", "bc") differ. */
    XXH3_128bits_update(&st, model, strlen(model) + 1);
    XXH3_128bits_update(&st, p->system, strlen(p->system) + 1);
    XXH3_128bits_update(&st, p->user, strlen(p->user) + 1);
    XXH128_hash_t h = XXH3_128bits_digest(&st);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

void llm_prompt_fini(llm_prompt *p) {
    free(p->system);
    free(p->user);
    p->system = p->user = NULL;
}
