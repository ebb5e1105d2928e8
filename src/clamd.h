/* A client of clamd's INSTREAM command (ClamAV), over TCP or a Unix
 * socket: the file goes in chunks, clamd answers "stream: OK" or
 * "stream: <signature> FOUND". */
#ifndef DADM_CLAMD_H
#define DADM_CLAMD_H

#include <stddef.h>

typedef enum {
    CLAMD_CLEAN = 0,
    CLAMD_INFECTED, /* detail: the signature's name */
    CLAMD_ERROR,    /* unreachable, timed out, or an answer that is not a verdict;
                     * detail: what went wrong, for the log */
} clamd_verdict;

/* Scans `len` bytes. `address` is "unix:/path", "/path", "tcp:host:port" or
 * "host:port"; every connect, send and receive waits at most timeout_s
 * seconds. The detail (signature or error) is written to detail[detail_len],
 * always NUL-terminated. */
clamd_verdict clamd_scan(const char *address, unsigned timeout_s, const void *data, size_t len,
                         char *detail, size_t detail_len);

/* Reads clamd's answer to INSTREAM ("stream: OK", "stream: X FOUND", "…
 * ERROR"), with or without its trailing NUL or newline. */
clamd_verdict clamd_parse_reply(const char *reply, char *detail, size_t detail_len);

#endif
