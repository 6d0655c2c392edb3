// t2i.c -- see t2i.h.
#include "t2i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Thread_local char errbuf[1024];
static long alloc_budget = -1;  // < 0: unlimited (test hook only; not thread-safe by design)

int t2i_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}

int t2i_error_prefix(int code, const char *fmt, ...) {
    char prefix[512], old[sizeof errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    snprintf(errbuf, sizeof errbuf, "%s: %s", prefix, old);
    return code;
}

const char *t2i_errmsg(void) { return errbuf; }

void t2i_error_clear(void) { errbuf[0] = '\0'; }

int t2i_error_name_file(int code, const char *path) {
    if (code == T2I_OK) return code;
    if (errbuf[0] == '\0')
        snprintf(errbuf, sizeof errbuf, "%s: %s", path, t2i_strerror(code));
    else if (code == T2I_ENOMEM && !strstr(errbuf, path))
        t2i_error_prefix(code, "%s", path);
    return code;
}

const char *t2i_strerror(int code) {
    switch (code) {
    case T2I_OK: return "ok";
    case T2I_EIO: return "I/O error";
    case T2I_EFORMAT: return "format error";
    case T2I_ESHAPE: return "shape error";
    case T2I_ENOMEM: return "out of memory";
    case T2I_EDB: return "database error";
    case T2I_EARG: return "bad argument";
    case T2I_EINTR: return "interrupted";
    default: return "unknown error";
    }
}

void t2i_check_failed(const char *file, int line, const char *cond, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

int t2i_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int t2i_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

int t2i_parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || (s[0] == '0' && s[1])) return 0;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    *out = x;
    return 1;
}

void t2i_alloc_fail_after(long n) { alloc_budget = n; }

static int alloc_allowed(size_t n) {
    if (n > T2I_MAX_ALLOC) {
        t2i_error(T2I_ENOMEM, "allocation of %zu bytes exceeds the %zu-byte limit", n,
                  (size_t)T2I_MAX_ALLOC);
        return 0;
    }
    if (alloc_budget == 0) {
        t2i_error(T2I_ENOMEM, "allocation of %zu bytes failed (injected)", n);
        return 0;
    }
    if (alloc_budget > 0) alloc_budget--;
    return 1;
}

void *t2i_malloc(size_t n) {
    if (!alloc_allowed(n)) return NULL;
    void *p = malloc(n ? n : 1);
    if (!p) t2i_error(T2I_ENOMEM, "allocation of %zu bytes failed", n);
    return p;
}

void *t2i_calloc(size_t n, size_t size) {
    size_t total;
    if (!t2i_mul_size(n, size, &total)) {
        t2i_error(T2I_ENOMEM, "allocation size overflow (%zu x %zu)", n, size);
        return NULL;
    }
    if (!alloc_allowed(total)) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) t2i_error(T2I_ENOMEM, "allocation of %zu bytes failed", total);
    return p;
}

void *t2i_realloc(void *p, size_t n) {
    if (!alloc_allowed(n)) return NULL;
    void *q = realloc(p, n ? n : 1);
    if (!q) t2i_error(T2I_ENOMEM, "allocation of %zu bytes failed", n);
    return q;
}

void *t2i_malloc_aligned(size_t n) {
    if (!alloc_allowed(n)) return NULL;
    size_t rounded = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) t2i_error(T2I_ENOMEM, "allocation of %zu bytes failed", n);
    return p;
}

void t2i_free(void *p) { free(p); }

char *t2i_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = t2i_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int t2i_open_input(const char *path, FILE **out, size_t *size) {
    *out = NULL;
    *size = 0;
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return t2i_error(T2I_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int isdir = S_ISDIR(sb.st_mode);
        close(fd);
        return t2i_error(T2I_EIO, "%s: %s", path,
                         isdir ? "Is a directory (expected a file)"
                               : "not a regular file (a device, FIFO or socket cannot be an input)");
    }
    if ((uint64_t)sb.st_size > T2I_MAX_INPUT_BYTES) {
        close(fd);
        return t2i_error(T2I_ENOMEM, "%s: %lld bytes, more than the %llu GiB an input may have",
                         path, (long long)sb.st_size,
                         (unsigned long long)(T2I_MAX_INPUT_BYTES >> 30));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return t2i_error(T2I_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    *out = f;
    *size = (size_t)sb.st_size;
    return T2I_OK;
}

int t2i_read_file(const char *path, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f;
    size_t size;
    int rc = t2i_open_input(path, &f, &size);
    if (rc) return rc;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 1 >= cap) {
            // The stat size first; a file that grows while read is followed up to the limit.
            size_t ncap = cap ? cap * 2 : size + 1 > 65536 ? size + 2 : 65536;
            if (ncap > T2I_MAX_INPUT_BYTES + 2) {
                t2i_free(buf);
                fclose(f);
                return t2i_error(T2I_ENOMEM, "%s: grows past the input size limit while read", path);
            }
            uint8_t *nb = t2i_realloc(buf, ncap);
            if (!nb) {
                t2i_free(buf);
                fclose(f);
                return t2i_error_prefix(T2I_ENOMEM, "%s", path);
            }
            buf = nb;
            cap = ncap;
        }
        errno = 0;
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f), eno = errno;
    fclose(f);
    if (err) {
        t2i_free(buf);
        return t2i_error(T2I_EIO, "%s: read error at byte %zu: %s", path, n,
                         eno ? strerror(eno) : "I/O error");
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return T2I_OK;
}
