/* One line per event on stderr: `ts=... level=... event=... key=value ...`.
 * Values are quoted when needed and control characters escaped, so a value
 * coming from a client can never forge a second line or a field.
 * Never pass a password, a token or a session id as a value. */
#ifndef DADM_COMMON_LOG_H
#define DADM_COMMON_LOG_H

#include <stddef.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Lines below this level are dropped (default LOG_INFO). */
void log_set_level(log_level l);
/* Parses "debug", "info", "warn", "error"; -1 when unknown. */
int log_level_parse(const char *s);

/* Writes one line: the variadic part is key, value pairs of const char *
 * ending with a NULL key. A NULL value is written as key=-. */
void log_kv(log_level l, const char *event, ...) __attribute__((sentinel));

/* Appends `value` to buf (size n, always NUL-terminated) in the escaped form
 * used by log_kv; returns the length the full escape needs (like snprintf). */
size_t log_escape(char *buf, size_t n, const char *value);

#endif
