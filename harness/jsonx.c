// jsonx.c -- strict cJSON helpers (see jsonx.h).
#include "jsonx.h"

#include "t2i.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// Line and column (from 1) of byte `off` of buf.
static void line_col(const char *buf, size_t len, size_t off, int *line, int *col) {
    *line = *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

// The byte of the first number with a leading zero ("007", "-05"; exponents such as 1e-07 may
// have them), or -1. JSON has no such numbers and cJSON reads them as decimal: refused, so that
// a value has one spelling in the files identified by their digests.
static long leading_zero(const char *s, size_t n) {
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (s[i] == '\\') i++;
            else if (s[i] == '"') in_str = 0;
            continue;
        }
        if (s[i] == '"') in_str = 1;
        if (s[i] != '0' || i + 1 >= n || s[i + 1] < '0' || s[i + 1] > '9') continue;
        char p = i ? s[i - 1] : ' ';
        if (p == '-') p = i > 1 ? s[i - 2] : ' ';   // a sign: what stands before it
        if (!((p >= '0' && p <= '9') || p == '.' || p == 'e' || p == 'E' || p == '+'))
            return (long)i;
    }
    return -1;
}

int jx_parse_buf(const char *what, const char *buf, size_t len, cJSON **out) {
    *out = NULL;
    const char *end = NULL;
    char *z = t2i_malloc(len + 1);   // cJSON wants a NUL-terminated buffer for the trailing check
    if (!z) return T2I_ENOMEM;
    memcpy(z, buf, len);
    z[len] = 0;
    if (memchr(z, 0, len)) {
        t2i_free(z);
        return t2i_error(T2I_EARG, "%s: NUL byte in JSON text", what);
    }
    cJSON *j = cJSON_ParseWithOpts(z, &end, 1);
    if (end) end = buf + (end - z);
    t2i_free(z);
    int line, col;
    if (!j) {
        size_t off = end && end >= buf ? (size_t)(end - buf) : 0;
        line_col(buf, len, off, &line, &col);
        return t2i_error(T2I_EARG, "%s: malformed JSON at line %d, column %d (byte %zu)", what,
                         line, col, off);
    }
    long z0 = leading_zero(buf, len);
    if (z0 >= 0) {
        cJSON_Delete(j);
        line_col(buf, len, (size_t)z0, &line, &col);
        return t2i_error(T2I_EARG, "%s: number with a leading zero at line %d, column %d (byte "
                                   "%ld): JSON numbers have none (7, not 007)",
                         what, line, col, z0);
    }
    *out = j;
    return T2I_OK;
}

int jx_parse_file(const char *path, cJSON **out) {
    uint8_t *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = t2i_read_file(path, &data, &len);
    if (rc) return rc;
    rc = jx_parse_buf(path, (const char *)data, len, out);
    t2i_free(data);
    return rc;
}

static int in_list(const char *k, const char *const *keys) {
    for (int i = 0; keys[i]; i++)
        if (strcmp(k, keys[i]) == 0) return 1;
    return 0;
}

int jx_keys(const cJSON *o, const char *file, const char *path, const char *const *keys) {
    if (!cJSON_IsObject(o)) return t2i_error(T2I_EARG, "%s: %s: expected an object", file, path);
    for (const cJSON *c = o->child; c; c = c->next) {
        if (!c->string) return t2i_error(T2I_EARG, "%s: %s: key without a name", file, path);
        if (!in_list(c->string, keys))
            return t2i_error(T2I_EARG, "%s: %s.%s: unknown key", file, path, c->string);
        for (const cJSON *d = c->next; d; d = d->next)
            if (d->string && strcmp(d->string, c->string) == 0)
                return t2i_error(T2I_EARG, "%s: %s.%s: duplicate key", file, path, c->string);
    }
    for (int i = 0; keys[i]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(o, keys[i]))
            return t2i_error(T2I_EARG, "%s: %s.%s: missing key", file, path, keys[i]);
    return T2I_OK;
}

static const cJSON *get(const cJSON *o, const char *file, const char *path, const char *key,
                        int *rc) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!v) *rc = t2i_error(T2I_EARG, "%s: %s.%s: missing key", file, path, key);
    else *rc = T2I_OK;
    return v;
}

int jx_obj(const cJSON *o, const char *file, const char *path, const char *key,
           const cJSON **out) {
    int rc;
    const cJSON *v = get(o, file, path, key, &rc);
    if (rc) return rc;
    if (!cJSON_IsObject(v))
        return t2i_error(T2I_EARG, "%s: %s.%s: expected an object", file, path, key);
    *out = v;
    return T2I_OK;
}

int jx_str(const cJSON *o, const char *file, const char *path, const char *key, const char **out) {
    int rc;
    const cJSON *v = get(o, file, path, key, &rc);
    if (rc) return rc;
    if (!cJSON_IsString(v) || !v->valuestring)
        return t2i_error(T2I_EARG, "%s: %s.%s: expected a string", file, path, key);
    *out = v->valuestring;
    return T2I_OK;
}

int jx_str_copy(const cJSON *o, const char *file, const char *path, const char *key, char *buf,
                size_t n) {
    const char *s;
    int rc = jx_str(o, file, path, key, &s);
    if (rc) return rc;
    if (strlen(s) >= n)
        return t2i_error(T2I_EARG, "%s: %s.%s: string longer than %zu bytes", file, path, key,
                         n - 1);
    memcpy(buf, s, strlen(s) + 1);
    return T2I_OK;
}

int jx_num(const cJSON *o, const char *file, const char *path, const char *key, double lo,
           double hi, double *out) {
    int rc;
    const cJSON *v = get(o, file, path, key, &rc);
    if (rc) return rc;
    if (!cJSON_IsNumber(v))
        return t2i_error(T2I_EARG, "%s: %s.%s: expected a number", file, path, key);
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi))
        return t2i_error(T2I_EARG, "%s: %s.%s: %g is outside [%g, %g]", file, path, key, d, lo,
                         hi);
    *out = d;
    return T2I_OK;
}

int jx_int(const cJSON *o, const char *file, const char *path, const char *key, long lo, long hi,
           long *out) {
    double d;
    int rc = jx_num(o, file, path, key, (double)lo, (double)hi, &d);
    if (rc) return rc;
    if (d != floor(d))
        return t2i_error(T2I_EARG, "%s: %s.%s: expected an integer, got %g", file, path, key, d);
    *out = (long)d;
    return T2I_OK;
}

int jx_u64(const cJSON *o, const char *file, const char *path, const char *key, uint64_t *out) {
    // Seeds may exceed 2^53, so they are written as decimal strings or as small numbers.
    int rc;
    const cJSON *v = get(o, file, path, key, &rc);
    if (rc) return rc;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
            return t2i_error(T2I_EARG, "%s: %s.%s: expected an integer in [0, 2^53] or a string",
                             file, path, key);
        *out = (uint64_t)d;
        return T2I_OK;
    }
    if (cJSON_IsString(v) && v->valuestring) {
        if (!t2i_parse_u64(v->valuestring, out))
            return t2i_error(T2I_EARG, "%s: %s.%s: bad unsigned integer \"%s\" (plain decimal "
                                       "digits up to 18446744073709551615, no leading zeros)",
                             file, path, key, v->valuestring);
        return T2I_OK;
    }
    return t2i_error(T2I_EARG, "%s: %s.%s: expected an unsigned integer", file, path, key);
}

int jx_bool(const cJSON *o, const char *file, const char *path, const char *key, int *out) {
    int rc;
    const cJSON *v = get(o, file, path, key, &rc);
    if (rc) return rc;
    if (!cJSON_IsBool(v))
        return t2i_error(T2I_EARG, "%s: %s.%s: expected true or false", file, path, key);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return T2I_OK;
}

int jx_enum(const cJSON *o, const char *file, const char *path, const char *key,
            const char *const *names, int *out) {
    const char *s;
    int rc = jx_str(o, file, path, key, &s);
    if (rc) return rc;
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return T2I_OK;
        }
    char list[512] = "";
    for (int i = 0; names[i]; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    return t2i_error(T2I_EARG, "%s: %s.%s: \"%s\" is not one of: %s", file, path, key, s, list);
}
