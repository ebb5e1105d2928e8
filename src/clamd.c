#include "clamd.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define CHUNK (64u * 1024u)

static void set_detail(char *detail, size_t n, const char *s)
{
    if (n)
        snprintf(detail, n, "%s", s);
}

clamd_verdict clamd_parse_reply(const char *reply, char *detail, size_t detail_len)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", reply ? reply : "");
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    const char *v = strncmp(buf, "stream:", 7) == 0 ? buf + 7 : buf;
    while (*v == ' ')
        v++;
    size_t vn = strlen(v);
    if (strcmp(v, "OK") == 0) {
        set_detail(detail, detail_len, "");
        return CLAMD_CLEAN;
    }
    if (vn > 6 && strcmp(v + vn - 6, " FOUND") == 0) {
        if (detail_len) {
            size_t k = vn - 6 < detail_len - 1 ? vn - 6 : detail_len - 1;
            memcpy(detail, v, k);
            detail[k] = '\0';
        }
        return CLAMD_INFECTED;
    }
    set_detail(detail, detail_len, n ? buf : "empty answer");
    return CLAMD_ERROR;
}

static int connect_unix(const char *path, const struct timeval *tv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, sizeof(*tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, sizeof(*tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* host:port, or [v6]:port. Linux bounds connect() by SO_SNDTIMEO. */
static int connect_tcp(const char *hostport, const struct timeval *tv)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host) || !colon[1])
        return -1;
    const char *h = hostport;
    size_t hn = (size_t)(colon - hostport);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']')
        h++, hn -= 2;
    memcpy(host, h, hn);
    host[hn] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, sizeof(*tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, sizeof(*tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static bool send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

clamd_verdict clamd_scan(const char *address, unsigned timeout_s, const void *data, size_t len,
                         char *detail, size_t detail_len)
{
    struct timeval tv = {.tv_sec = timeout_s ? timeout_s : 1};
    int fd;
    if (strncmp(address, "unix:", 5) == 0)
        fd = connect_unix(address + 5, &tv);
    else if (address[0] == '/')
        fd = connect_unix(address, &tv);
    else
        fd = connect_tcp(strncmp(address, "tcp:", 4) == 0 ? address + 4 : address, &tv);
    if (fd < 0) {
        set_detail(detail, detail_len, "cannot connect to clamd");
        return CLAMD_ERROR;
    }
    clamd_verdict v = CLAMD_ERROR;
    bool sent = send_all(fd, "zINSTREAM", 10); /* with its NUL */
    const unsigned char *p = data;
    for (size_t off = 0; sent && off < len; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                (unsigned char)(n >> 8), (unsigned char)n};
        sent = send_all(fd, hdr, 4) && send_all(fd, p + off, n);
    }
    /* A zero-length chunk ends the stream. clamd may answer early (size
     * limit) and close: its answer is still read below. */
    if (sent)
        sent = send_all(fd, "\0\0\0\0", 4);
    char reply[512];
    size_t got = 0;
    while (got < sizeof(reply) - 1) {
        ssize_t r = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(reply, '\0', got))
            break;
    }
    reply[got] = '\0';
    close(fd);
    if (got == 0)
        set_detail(detail, detail_len, sent ? "no answer from clamd" : "clamd closed the stream");
    else
        v = clamd_parse_reply(reply, detail, detail_len);
    return v;
}
