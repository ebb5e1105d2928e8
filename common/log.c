#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static log_level min_level = LOG_INFO;

void log_set_level(log_level l)
{
    min_level = l;
}

int log_level_parse(const char *s)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const char *level_name(log_level l)
{
    switch (l) {
    case LOG_DEBUG:
        return "debug";
    case LOG_INFO:
        return "info";
    case LOG_WARN:
        return "warn";
    case LOG_ERROR:
        return "error";
    }
    return "info";
}

size_t log_escape(char *buf, size_t n, const char *value)
{
    size_t len = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (len + 1 < n)                                                                           \
            buf[len] = (c);                                                                        \
        len++;                                                                                     \
    } while (0)
    int quote = value[0] == '\0';
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            quote = 1;
    if (quote)
        PUT('"');
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\') {
            PUT('\\');
            PUT((char)*p);
        } else if (*p == '\n') {
            PUT('\\');
            PUT('n');
        } else if (*p < ' ' || *p == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            PUT('\\');
            PUT('x');
            PUT(hex[*p >> 4]);
            PUT(hex[*p & 15]);
        } else {
            PUT((char)*p);
        }
    }
    if (quote)
        PUT('"');
#undef PUT
    if (n)
        buf[len < n ? len : n - 1] = '\0';
    return len;
}

void log_kv(log_level l, const char *event, ...)
{
    if (l < min_level)
        return;
    char line[4096];
    size_t len = 0;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    len += strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    len += (size_t)snprintf(line + len, sizeof(line) - len,
                            ".%03ldZ level=%s event=", ts.tv_nsec / 1000000, level_name(l));
    len += log_escape(line + len, sizeof(line) - len, event ? event : "-");

    va_list ap;
    va_start(ap, event);
    for (const char *key; (key = va_arg(ap, const char *)) != NULL;) {
        const char *val = va_arg(ap, const char *);
        if (len + 2 >= sizeof(line))
            break;
        len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=", key);
        if (len >= sizeof(line))
            break;
        len += log_escape(line + len, sizeof(line) - len, val ? val : "-");
    }
    va_end(ap);
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2; /* truncated: keep the line a line */
    line[len++] = '\n';
    /* One write per line keeps lines whole when threads log at once. */
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}
