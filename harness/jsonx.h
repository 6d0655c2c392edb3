// jsonx.h -- strict JSON reading on top of cJSON (STYLE.md §21).
//
// Every protocol, suite header and card is read through these helpers: an unknown key, a
// missing key or a wrong type is T2I_EARG with a message "FILE: $.a.b: ..." naming the JSON
// path. Syntax errors name the line and column (from cJSON_ParseWithOpts' end pointer, never
// the global cJSON_GetErrorPtr). Nothing here has defaults: callers read every key.
#ifndef T2I_JSONX_H
#define T2I_JSONX_H

#include <cjson/cJSON.h>
#include <stdint.h>

// Parses a whole file (or a buffer, `what` names it in messages). *out must be cJSON_Delete'd.
int jx_parse_file(const char *path, cJSON **out /* OUT */);
int jx_parse_buf(const char *what, const char *buf, size_t len, cJSON **out /* OUT */);

// Checks that `o` is an object whose keys are all in the NULL-terminated `keys` and that every
// key of `keys` is present (duplicates are errors too). `path` is the object's JSON path.
int jx_keys(const cJSON *o, const char *file, const char *path, const char *const *keys);

// Typed getters; each errors on a missing key or wrong type.
int jx_obj(const cJSON *o, const char *file, const char *path, const char *key,
           const cJSON **out /* OUT */);
int jx_str(const cJSON *o, const char *file, const char *path, const char *key,
           const char **out /* OUT */);
int jx_str_copy(const cJSON *o, const char *file, const char *path, const char *key, char *buf,
                size_t n);
int jx_int(const cJSON *o, const char *file, const char *path, const char *key, long lo, long hi,
           long *out /* OUT */);
int jx_u64(const cJSON *o, const char *file, const char *path, const char *key,
           uint64_t *out /* OUT */);
int jx_num(const cJSON *o, const char *file, const char *path, const char *key, double lo,
           double hi, double *out /* OUT */);
int jx_bool(const cJSON *o, const char *file, const char *path, const char *key, int *out /* OUT */);
// A string that must be one of the NULL-terminated `names`; *out = its index.
int jx_enum(const cJSON *o, const char *file, const char *path, const char *key,
            const char *const *names, int *out /* OUT */);

#endif
