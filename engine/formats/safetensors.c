// safetensors.c -- see safetensors.h. Format: https://github.com/huggingface/safetensors
// ("Format" section of the README).
#include "safetensors.h"
#include "rd.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int safetensors_sniff(const uint8_t *buf, size_t len) {
    if (len < 10) return 0;
    uint64_t n = rd_le64(buf);
    return n >= 2 && n <= len - 8 && n <= ST_MAX_HEADER && buf[8] == '{';
}

static const struct {
    const char *name;
    DType       dtype;
} st_types[] = {
    {"F64", DT_F64}, {"F32", DT_F32}, {"F16", DT_F16}, {"BF16", DT_BF16}, {"I64", DT_I64},
    {"I32", DT_I32}, {"I16", DT_I16}, {"I8", DT_I8},   {"U8", DT_U8},     {"BOOL", DT_BOOL},
};

typedef struct {
    const cJSON *item;
    DType        dtype;
    int          ndim;
    int64_t      shape[T2I_MAX_DIMS];
    uint64_t     begin, end;
} StEntry;

static int cmp_begin(const void *a, const void *b) {
    const StEntry *x = *(const StEntry *const *)a, *y = *(const StEntry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

// A JSON number that is an exact non-negative integer below 2^53.
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int parse_entry(const char *name, const cJSON *it, StEntry *e) {
    e->item = it;
    if (!cJSON_IsObject(it))
        return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"] is not an object", name, it->string);
    const cJSON *dt = NULL, *shape = NULL, *offs = NULL, *f;
    cJSON_ArrayForEach(f, it) {
        if (strcmp(f->string, "dtype") == 0 && !dt) dt = f;
        else if (strcmp(f->string, "shape") == 0 && !shape) shape = f;
        else if (strcmp(f->string, "data_offsets") == 0 && !offs) offs = f;
        else
            return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"] has an unknown or repeated key "
                             "\"%.40s\"", name, it->string, f->string);
    }
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"] needs dtype, shape and data_offsets",
                         name, it->string);
    size_t k;
    for (k = 0; k < sizeof st_types / sizeof st_types[0]; k++)
        if (strcmp(dt->valuestring, st_types[k].name) == 0) break;
    if (k == sizeof st_types / sizeof st_types[0])
        return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"].dtype \"%.20s\" is not supported",
                         name, it->string, dt->valuestring);
    e->dtype = st_types[k].dtype;
    int nd = cJSON_GetArraySize(shape);
    if (nd > T2I_MAX_DIMS)
        return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"].shape has %d dims (at most %d)", name,
                         it->string, nd, T2I_MAX_DIMS);
    e->ndim = 0;
    cJSON_ArrayForEach(f, shape) {
        uint64_t v;
        if (!json_uint(f, &v))
            return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"].shape[%d] is not a non-negative "
                             "integer", name, it->string, e->ndim);
        e->shape[e->ndim++] = (int64_t)v;
    }
    if (cJSON_GetArraySize(offs) != 2 || !json_uint(cJSON_GetArrayItem(offs, 0), &e->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &e->end) || e->end < e->begin)
        return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"].data_offsets is not [begin, end]",
                         name, it->string);
    size_t numel = 0, bytes = 0;
    if (!shape_numel(e->ndim, e->shape, &numel) || !t2i_mul_size(numel, dtype_size(e->dtype), &bytes))
        return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"].shape: the byte size overflows",
                         name, it->string);
    if (bytes != e->end - e->begin)
        return t2i_error(T2I_EFORMAT, "%s: header[\"%.80s\"]: shape and dtype need %zu bytes, "
                         "data_offsets give %llu", name, it->string, bytes,
                         (unsigned long long)(e->end - e->begin));
    return T2I_OK;
}

int safetensors_parse(const uint8_t *buf, size_t len, const char *name, StateDict *out) {
    sd_init(out);
    name = name ? name : "<memory>";
    if (len < 8) return t2i_error(T2I_EFORMAT, "%s: safetensors: file of %zu bytes is too short", name, len);
    uint64_t hlen = rd_le64(buf);
    if (hlen > ST_MAX_HEADER || hlen > len - 8)
        return t2i_error(T2I_EFORMAT, "%s: safetensors: header size %llu at byte 0 exceeds the "
                         "file or the %zu-byte limit", name, (unsigned long long)hlen, ST_MAX_HEADER);
    char *text = t2i_malloc((size_t)hlen + 1);
    if (!text) return t2i_error_prefix(T2I_ENOMEM, "%s", name);
    memcpy(text, buf + 8, (size_t)hlen);
    text[hlen] = 0;
    // The spec allows trailing spaces as padding; NULs or other bytes after the JSON are refused
    // by require_null_terminated.
    size_t tl = (size_t)hlen;
    while (tl && text[tl - 1] == ' ') text[--tl] = 0;
    const char *endp = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &endp, 1);
    StEntry *ents = NULL, **order = NULL;
    int rc = T2I_OK;
    if (!root) {
        rc = t2i_error(T2I_EFORMAT, "%s: safetensors: malformed JSON header near byte %zu", name,
                       8 + (size_t)(endp ? endp - text : 0));
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        rc = t2i_error(T2I_EFORMAT, "%s: safetensors: header is not a JSON object", name);
        goto done;
    }
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) n++;
    ents = t2i_calloc((size_t)(n ? n : 1), sizeof *ents);
    order = t2i_calloc((size_t)(n ? n : 1), sizeof *order);
    if (!ents || !order) {
        rc = t2i_error_prefix(T2I_ENOMEM, "%s", name);
        goto done;
    }
    int ne = 0, seen_meta = 0;
    cJSON_ArrayForEach(it, root) {
        if (strcmp(it->string, "__metadata__") == 0) {
            const cJSON *m;
            int okm = cJSON_IsObject(it) && !seen_meta;
            if (okm) cJSON_ArrayForEach(m, it) okm &= cJSON_IsString(m);
            if (!okm) {
                rc = t2i_error(T2I_EFORMAT, "%s: safetensors: __metadata__ must be one object of "
                               "strings", name);
                goto done;
            }
            seen_meta = 1;
            continue;
        }
        if ((rc = parse_entry(name, it, &ents[ne]))) goto done;
        order[ne] = &ents[ne];
        ne++;
    }
    qsort(order, (size_t)ne, sizeof *order, cmp_begin);
    uint64_t data_len = len - 8 - hlen, pos = 0;
    for (int i = 0; i < ne; i++) {
        if (order[i]->begin != pos) {
            rc = t2i_error(T2I_EFORMAT, "%s: safetensors: tensor \"%.80s\" starts at data byte %llu, "
                           "expected %llu (gap or overlap)", name, order[i]->item->string,
                           (unsigned long long)order[i]->begin, (unsigned long long)pos);
            goto done;
        }
        pos = order[i]->end;
    }
    if (pos != data_len) {
        rc = t2i_error(T2I_EFORMAT, "%s: safetensors: tensors end at data byte %llu but the file "
                       "holds %llu data bytes", name, (unsigned long long)pos,
                       (unsigned long long)data_len);
        goto done;
    }
    const uint8_t *data = buf + 8 + hlen;
    for (int i = 0; i < ne; i++) {
        StEntry *e = &ents[i];
        size_t bytes = (size_t)(e->end - e->begin);
        void *d = t2i_malloc_aligned(bytes);
        if (!d) {
            rc = t2i_error_prefix(T2I_ENOMEM, "%s", name);
            goto done;
        }
        if (bytes) memcpy(d, data + e->begin, bytes);
        if ((rc = sd_add(out, e->item->string, e->dtype, e->ndim, e->shape, d))) {
            rc = t2i_error_prefix(rc, "%s", name);
            goto done;
        }
    }
done:
    cJSON_Delete(root);
    t2i_free(text);
    t2i_free(ents);
    t2i_free(order);
    if (rc) sd_free(out);
    return rc;
}

static int parse_file(const uint8_t *buf, size_t len, const char *name, void *out) {
    return safetensors_parse(buf, len, name, out);
}

int safetensors_load(const char *path, StateDict *out) {
    sd_init(out);
    return rd_load_file(path, parse_file, out);
}
