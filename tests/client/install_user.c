/* A program built against an installed libeconq through pkg-config (tests/client/install_check.sh):
 * verifies the Standard Webhooks reference vector and reports an unreachable server. */
#include <econq.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    const char *secrets[] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    const char *body = "{\"test\": 2432232314}";
    eq_err v = econq_webhook_verify(secrets, 1, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body,
                                    strlen(body), 1614265330, 0, NULL);
    eq_client *c = econq_new("http://127.0.0.1:1", NULL);
    if (!c) return 2;
    char *json = NULL;
    eq_err h = econq_health(c, &json);
    int ok = v == EQ_OK && h == EQ_ENET && econq_problem(c)->status == 0 && json == NULL;
    printf("verify: %s, health: %s\n", econq_strerror(v), econq_strerror(h));
    econq_free(c);
    return ok ? 0 : 1;
}
