/* Structured logging: one JSON object per line on stderr:
 * {"time": "...", "level": "info", "msg": "...", <fields>}. The level is read-only config set at
 * start-up. Fields are given as key/value string pairs ending with NULL; values are escaped. */
#ifndef ECONQ_COMMON_LOG_H
#define ECONQ_COMMON_LOG_H

typedef enum eq_log_level { EQ_LOG_DEBUG, EQ_LOG_INFO, EQ_LOG_WARN, EQ_LOG_ERROR, EQ_LOG_OFF } eq_log_level;

void eq_log_set_level(eq_log_level lvl);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 when unknown. */
int eq_log_level_parse(const char *s);
int eq_log_enabled(eq_log_level lvl);
/* eq_log(EQ_LOG_INFO, "job leased", "job_id", id, "worker", name, NULL); */
void eq_log(eq_log_level lvl, const char *msg, ...) __attribute__((sentinel));

#endif
