// t2i.h -- status codes, thread-local error messages, checked sizes and allocation.
//
// Two tiers of failure (STYLE.md §6):
//   * invariant violations inside our own code: T2I_CHECK prints file:line and aborts;
//   * bad data or environment (files, checkpoints, suites, databases): functions return
//     an int status (T2I_OK or a T2I_E* code) and set a message with t2i_error(), which
//     the caller reads with t2i_errmsg(). Only harness/main.c and tests call exit().
// All allocation goes through t2i_malloc/t2i_calloc/t2i_realloc so that tests can make
// the n-th allocation fail (t2i_alloc_fail_after) and walk the T2I_ENOMEM paths.
#ifndef T2I_H
#define T2I_H

#include <stddef.h>
#include <stdint.h>

enum {
    T2I_OK      = 0,
    T2I_EIO     = 1,   // open/read/write failed, file missing, disk full
    T2I_EFORMAT = 2,   // malformed or hostile input file
    T2I_ESHAPE  = 3,   // tensor shape/dtype/key mismatch
    T2I_ENOMEM  = 4,   // allocation failed or a size limit was exceeded
    T2I_EDB     = 5,   // SQLite error, locked or read-only database
    T2I_EARG    = 6,   // bad argument, unknown key, malformed JSON
    T2I_EINTR   = 7,   // interrupted by a signal
};

// Sets the thread-local message (printf format) and returns `code`, so that
//   return t2i_error(T2I_EFORMAT, "pickle: unknown opcode 0x%02x at byte %zu", op, off);
// works in one line.
int t2i_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prefixes the current message with "prefix: " (e.g. the file name) and returns `code`.
int t2i_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// The last message set on this thread ("" when none).
const char *t2i_errmsg(void);

// Short name of a status code ("format error", ...).
const char *t2i_strerror(int code);

// Invariant check: prints "file:line: CHECK failed: cond: message" and aborts.
#define T2I_CHECK(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) t2i_check_failed(__FILE__, __LINE__, #cond, __VA_ARGS__); \
    } while (0)
void t2i_check_failed(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

// Overflow-checked size arithmetic: returns 1 and sets *out on success, 0 on overflow.
int t2i_mul_size(size_t a, size_t b, size_t *out);
int t2i_add_size(size_t a, size_t b, size_t *out);

// Allocation. Returns NULL on failure (and sets a T2I_ENOMEM message). Memory from
// t2i_malloc_aligned is 64-byte aligned and must be released with t2i_free.
void *t2i_malloc(size_t n);
void *t2i_calloc(size_t n, size_t size);
void *t2i_realloc(void *p, size_t n);
void *t2i_malloc_aligned(size_t n);
void  t2i_free(void *p);
char *t2i_strdup(const char *s);

// Test hook: allocations after the next `n` fail (n < 0 disables, the default).
void t2i_alloc_fail_after(long n);

// Largest single allocation any loader may ask for (bytes). A file that claims more is
// refused as T2I_ENOMEM before anything is allocated.
#define T2I_MAX_ALLOC ((size_t)8 << 30)

// Reads a whole file into memory (NUL-terminated for convenience; *len excludes the NUL).
int t2i_read_file(const char *path, uint8_t **data /* OUT */, size_t *len /* OUT */);

#endif
