/* Tests for common/config.c: defaults < environment < flags, value checks, HOST:PORT. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

#define CMD_SERVE 1u
#define CMD_WORKER 2u

static const cfg_setting settings[] = {
    {.name = "listen",
     .env = "ECONQ_TEST_LISTEN",
     .def = "127.0.0.1:8080",
     .type = CFG_HOSTPORT,
     .commands = CMD_SERVE,
     .help = "address to listen on"},
    {.name = "lease-ms",
     .env = "ECONQ_TEST_LEASE_MS",
     .def = "30000",
     .type = CFG_INT,
     .min = 1000,
     .max = 600000,
     .commands = CMD_SERVE | CMD_WORKER,
     .help = "lease length"},
    {.name = "log-level",
     .env = "ECONQ_TEST_LOG_LEVEL",
     .def = "info",
     .type = CFG_ENUM,
     .choices = "debug|info|warn|error",
     .commands = CMD_SERVE | CMD_WORKER,
     .help = "log level"},
    {.name = "data-dir",
     .env = "ECONQ_TEST_DATA_DIR",
     .def = "./data",
     .type = CFG_STRING,
     .commands = CMD_SERVE,
     .help = "where the store lives"},
    {.name = "nosync",
     .env = "ECONQ_TEST_NOSYNC",
     .def = "false",
     .type = CFG_BOOL,
     .commands = CMD_SERVE,
     .help = "skip fsync"},
    {.name = "kinds",
     .env = "ECONQ_TEST_KINDS",
     .def = "",
     .type = CFG_STRING,
     .commands = CMD_WORKER,
     .help = "worker kinds"},
};
#define NSET (sizeof settings / sizeof settings[0])

static void clear_env(void) {
    for (size_t i = 0; i < NSET; i++)
        unsetenv(settings[i].env);
}

static eq_err parse(eq_config *c, unsigned cmd, int argc, const char **argv, char *err,
                    size_t errlen) {
    err[0] = '\0';
    return eq_config_parse(c, settings, NSET, cmd, argc, (char **)argv, err, errlen);
}

START_TEST(defaults) {
    clear_env();
    eq_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, CMD_SERVE, 0, NULL, err, sizeof err), EQ_OK);
    ck_assert_str_eq(cfg_str(&c, "listen"), "127.0.0.1:8080");
    ck_assert(cfg_int(&c, "lease-ms") == 30000);
    ck_assert_str_eq(cfg_str(&c, "log-level"), "info");
    ck_assert_str_eq(cfg_str(&c, "data-dir"), "./data");
    ck_assert_int_eq(cfg_bool(&c, "nosync"), 0);
    for (size_t i = 0; i < NSET; i++)
        ck_assert_str_eq(c.source[i], "default");
}
END_TEST

START_TEST(env_overrides_default_and_flag_overrides_env) {
    clear_env();
    setenv("ECONQ_TEST_LEASE_MS", "45000", 1);
    setenv("ECONQ_TEST_LOG_LEVEL", "debug", 1);
    eq_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, CMD_SERVE, 0, NULL, err, sizeof err), EQ_OK);
    ck_assert(cfg_int(&c, "lease-ms") == 45000);
    ck_assert_str_eq(c.source[1], "env");
    ck_assert_str_eq(cfg_str(&c, "log-level"), "debug");
    const char *argv[] = {"--lease-ms=50000"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, argv, err, sizeof err), EQ_OK);
    ck_assert(cfg_int(&c, "lease-ms") == 50000);
    ck_assert_str_eq(c.source[1], "flag");
    ck_assert_str_eq(cfg_str(&c, "log-level"), "debug"); /* env still applies to the others */
    ck_assert_str_eq(c.source[2], "env");
}
END_TEST

START_TEST(env_of_another_command_is_ignored) {
    clear_env();
    /* kinds belongs to the worker only; for serve even a bad value is not looked at. */
    setenv("ECONQ_TEST_LISTEN", "not an address", 1);
    eq_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, CMD_WORKER, 0, NULL, err, sizeof err), EQ_OK);
    ck_assert_str_eq(cfg_str(&c, "listen"), "127.0.0.1:8080");
    ck_assert_int_eq(parse(&c, CMD_SERVE, 0, NULL, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "ECONQ_TEST_LISTEN"));
    /* A flag of another command is unknown. */
    clear_env();
    const char *argv[] = {"--kinds", "forecast"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 2, argv, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--kinds"));
    ck_assert_int_eq(parse(&c, CMD_WORKER, 2, argv, err, sizeof err), EQ_OK);
    ck_assert_str_eq(cfg_str(&c, "kinds"), "forecast");
}
END_TEST

START_TEST(flag_forms) {
    clear_env();
    eq_config c;
    char err[256];
    const char *argv[] = {"--lease-ms",  "2000", "--data-dir=/var/lib/econq",
                          "--log-level", "warn", "--listen=[::1]:80"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 6, argv, err, sizeof err), EQ_OK);
    ck_assert(cfg_int(&c, "lease-ms") == 2000);
    ck_assert_str_eq(cfg_str(&c, "data-dir"), "/var/lib/econq");
    ck_assert_str_eq(cfg_str(&c, "log-level"), "warn");
    ck_assert_str_eq(cfg_str(&c, "listen"), "[::1]:80");
    /* The later of two flags wins. */
    const char *twice[] = {"--lease-ms=2000", "--lease-ms=3000"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 2, twice, err, sizeof err), EQ_OK);
    ck_assert(cfg_int(&c, "lease-ms") == 3000);
    /* An empty value given with '=' is a value. */
    const char *empty[] = {"--data-dir="};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, empty, err, sizeof err), EQ_OK);
    ck_assert_str_eq(cfg_str(&c, "data-dir"), "");
}
END_TEST

START_TEST(bool_flags) {
    clear_env();
    eq_config c;
    char err[256];
    const char *bare[] = {"--nosync"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, bare, err, sizeof err), EQ_OK);
    ck_assert_int_eq(cfg_bool(&c, "nosync"), 1);
    const char *followed[] = {"--nosync", "--lease-ms=2000"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 2, followed, err, sizeof err), EQ_OK);
    ck_assert_int_eq(cfg_bool(&c, "nosync"), 1);
    ck_assert(cfg_int(&c, "lease-ms") == 2000);
    const char *no[] = {"--nosync=no"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, no, err, sizeof err), EQ_OK);
    ck_assert_int_eq(cfg_bool(&c, "nosync"), 0);
    const char *bad[] = {"--nosync=maybe"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, bad, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "nosync"));
    setenv("ECONQ_TEST_NOSYNC", "yes", 1);
    ck_assert_int_eq(parse(&c, CMD_SERVE, 0, NULL, err, sizeof err), EQ_OK);
    ck_assert_int_eq(cfg_bool(&c, "nosync"), 1);
}
END_TEST

START_TEST(int_range_errors) {
    clear_env();
    eq_config c;
    char err[256];
    const char *ok_edges[][1] = {{"--lease-ms=1000"}, {"--lease-ms=600000"}};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(parse(&c, CMD_SERVE, 1, ok_edges[i], err, sizeof err), EQ_OK);
    const char *bad[] = {"--lease-ms=999",
                         "--lease-ms=600001",
                         "--lease-ms=-5",
                         "--lease-ms=abc",
                         "--lease-ms=12x",
                         "--lease-ms=",
                         "--lease-ms=99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[1] = {bad[i]};
        ck_assert_msg(parse(&c, CMD_SERVE, 1, argv, err, sizeof err) == EQ_EINVAL, "%s accepted",
                      bad[i]);
        ck_assert_msg(strstr(err, "lease-ms") != NULL, "error '%s' does not name the setting", err);
    }
    /* A bad value in the environment is reported the same way, naming the variable. */
    setenv("ECONQ_TEST_LEASE_MS", "5", 1);
    ck_assert_int_eq(parse(&c, CMD_SERVE, 0, NULL, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "ECONQ_TEST_LEASE_MS"));
    /* A bad environment value is an error even when a flag would override it. */
    const char *argv[] = {"--lease-ms=2000"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, argv, err, sizeof err), EQ_EINVAL);
}
END_TEST

START_TEST(enum_errors) {
    clear_env();
    eq_config c;
    char err[256];
    const char *bad[] = {"--log-level=verbose", "--log-level=INFO",      "--log-level=",
                         "--log-level=inf",     "--log-level=info|warn", "--log-level=debug|"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[1] = {bad[i]};
        ck_assert_msg(parse(&c, CMD_SERVE, 1, argv, err, sizeof err) == EQ_EINVAL, "%s accepted",
                      bad[i]);
        ck_assert_ptr_nonnull(strstr(err, "debug|info|warn|error"));
    }
    const char *good[] = {"--log-level=error"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, good, err, sizeof err), EQ_OK);
    ck_assert_str_eq(cfg_str(&c, "log-level"), "error");
}
END_TEST

START_TEST(unknown_flags_and_positionals) {
    clear_env();
    eq_config c;
    char err[256];
    const char *unknown[] = {"--no-such=1"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, unknown, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--no-such"));
    /* A prefix of a real name is not that name. */
    const char *prefix[] = {"--lease=2000"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, prefix, err, sizeof err), EQ_EINVAL);
    const char *positional[] = {"serve"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, positional, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "serve"));
    const char *single_dash[] = {"-lease-ms=2000"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, single_dash, err, sizeof err), EQ_EINVAL);
    const char *missing[] = {"--lease-ms"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 1, missing, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "lease-ms"));
}
END_TEST

START_TEST(hostport_parsing) {
    char host[64];
    int port = -1;
    ck_assert_int_eq(cfg_hostport("127.0.0.1:8080", host, sizeof host, &port), EQ_OK);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 8080);
    ck_assert_int_eq(cfg_hostport("[::1]:80", host, sizeof host, &port), EQ_OK);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 80);
    ck_assert_int_eq(cfg_hostport("[fe80::1:2]:65535", host, sizeof host, &port), EQ_OK);
    ck_assert_str_eq(host, "fe80::1:2");
    ck_assert_int_eq(port, 65535);
    ck_assert_int_eq(cfg_hostport("localhost:0", host, sizeof host, &port), EQ_OK);
    ck_assert_str_eq(host, "localhost");
    ck_assert_int_eq(port, 0);
    const char *bad[] = {"localhost", ":80",  "host:", "host:65536", "host:-1", "host:8o",
                         "[::1]80",   "[::1", "[]:80", "[::1]:",     "host:80 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        port = -7;
        ck_assert_msg(cfg_hostport(bad[i], host, sizeof host, &port) == EQ_EINVAL, "'%s' accepted",
                      bad[i]);
        ck_assert_int_eq(port, -7);
    }
    /* A host that does not fit the caller's buffer is refused, not truncated. */
    char small[4];
    ck_assert_int_eq(cfg_hostport("abcd:1", small, sizeof small, &port), EQ_EINVAL);
    ck_assert_int_eq(cfg_hostport("abc:1", small, sizeof small, &port), EQ_OK);
    ck_assert_str_eq(small, "abc");
    /* Through the parser: a bad HOST:PORT flag names the setting. */
    clear_env();
    eq_config c;
    char err[256];
    const char *argv[] = {"--listen", "nohost"};
    ck_assert_int_eq(parse(&c, CMD_SERVE, 2, argv, err, sizeof err), EQ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "listen"));
}
END_TEST

START_TEST(too_many_settings_refused) {
    static cfg_setting many[CFG_MAX_SETTINGS + 1];
    for (size_t i = 0; i < CFG_MAX_SETTINGS + 1; i++)
        many[i] = (cfg_setting){.name = "x", .def = "", .type = CFG_STRING, .commands = 1};
    eq_config c;
    char err[64] = "";
    ck_assert_int_eq(eq_config_parse(&c, many, CFG_MAX_SETTINGS + 1, 1, 0, NULL, err, sizeof err),
                     EQ_EINVAL);
}
END_TEST

START_TEST(help_lists_the_command_settings) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    eq_config_help(f, settings, NSET, CMD_WORKER);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "--lease-ms"));
    ck_assert_ptr_nonnull(strstr(text, "ECONQ_TEST_LEASE_MS"));
    ck_assert_ptr_nonnull(strstr(text, "--kinds"));
    ck_assert_ptr_nonnull(strstr(text, "one of debug|info|warn|error"));
    ck_assert_ptr_nonnull(strstr(text, "(none)")); /* kinds has an empty default */
    ck_assert_ptr_null(strstr(text, "--listen"));  /* serve only */
    free(text);
}
END_TEST

int main(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, env_overrides_default_and_flag_overrides_env);
    tcase_add_test(tc, env_of_another_command_is_ignored);
    tcase_add_test(tc, flag_forms);
    tcase_add_test(tc, bool_flags);
    tcase_add_test(tc, int_range_errors);
    tcase_add_test(tc, enum_errors);
    tcase_add_test(tc, unknown_flags_and_positionals);
    tcase_add_test(tc, hostport_parsing);
    tcase_add_test(tc, too_many_settings_refused);
    tcase_add_test(tc, help_lists_the_command_settings);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    /* Each test sets environment variables: keep them in their own process. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
