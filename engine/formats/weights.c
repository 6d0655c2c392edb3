// weights.c -- see weights.h: dispatches a weight spec to the right loader by content.
#include "weights.h"
#include "npz.h"
#include "pth.h"
#include "safetensors.h"
#include "sha256.h"
#include "sstable.h"
#include "t2i.h"
#include "tfckpt.h"
#include "zip.h"

#include <string.h>

// A zip is either a torch checkpoint (has "<stem>/data.pkl") or an .npz of named arrays.
static int is_npz(const uint8_t *buf, size_t len, const char *path) {
    Zip z;
    if (zip_open(&z, buf, len, path)) return 0;
    int npz = z.n > 0;
    for (int i = 0; i < z.n && npz; i++) {
        size_t n = strlen(z.e[i].name);
        npz = n > 4 && strcmp(z.e[i].name + n - 4, ".npy") == 0;
    }
    zip_close(&z);
    return npz;
}

static int npz_to_state_dict(const uint8_t *buf, size_t len, const char *path, StateDict *out) {
    Npz z;
    int rc = npz_parse(buf, len, path, &z);
    if (rc) return rc;
    for (int i = 0; i < z.n && !rc; i++) {
        rc = sd_add(out, z.names[i], z.arrays[i].dtype, z.arrays[i].ndim, z.arrays[i].shape,
                    z.arrays[i].data);
        z.arrays[i].data = NULL;  // owned by the state dict now (even on failure)
        if (rc) rc = t2i_error_prefix(rc, "%s", path);
    }
    npz_free(&z);
    if (rc) sd_free(out);
    return rc;
}

int weights_load_file(const char *path, StateDict *out) {
    sd_init(out);
    if (tf_is_bundle_prefix(path)) return tf_bundle_load(path, out);   // TF V2 "model.ckpt"
    uint8_t *buf;
    size_t len;
    int rc = t2i_read_file(path, &buf, &len);
    if (rc) return rc;
    int tf = TF_NONE;
    size_t n = strlen(path);
    if (sstable_sniff(buf, len)) {   // a TensorFlow checkpoint table (V1 file or V2 index)
        if (!(rc = tf_table_kind(buf, len, path, &tf)))
            rc = tf == TF_CKPT_V1 ? tf_ckpt_v1_parse(buf, len, path, out)
                 : n > 6 && strcmp(path + n - 6, ".index") == 0
                     ? tf_bundle_load(path, out)
                     : t2i_error(T2I_EFORMAT, "%s: a TensorFlow V2 checkpoint index; its data "
                                 "files are found as PREFIX.data-*: name it PREFIX.index", path);
    } else if (zip_sniff(buf, len) && is_npz(buf, len, path))
        rc = npz_to_state_dict(buf, len, path, out);
    else if (pth_sniff(buf, len))
        rc = pth_parse(buf, len, path, out);
    else if (safetensors_sniff(buf, len))
        rc = safetensors_parse(buf, len, path, out);
    else if (tf_sniff(buf, len) == TF_GRAPHDEF)   // last: the weakest sniff (a NodeDef name)
        rc = tf_graphdef_parse(buf, len, path, out);
    else
        rc = t2i_error(T2I_EFORMAT, "%s: unknown weight format (not a torch .pth, .safetensors, "
                       ".npz, TensorFlow checkpoint or GraphDef .pb; first bytes at byte 0)",
                       path);
    t2i_free(buf);
    return rc;
}

int weights_load(const char *spec, const BindList *keys, StateDict *out) {
    if (strncmp(spec, "hash:", 5) == 0) {
        sd_init(out);
        if (strcmp(spec, T2I_HASH_WEIGHTS) != 0)
            return t2i_error(T2I_EARG, "unknown hash weight rule '%s' (known: %s)", spec,
                             T2I_HASH_WEIGHTS);
        if (!keys) return t2i_error(T2I_EARG, "%s needs the network's key list", spec);
        return hash_weights_fill(keys, out);
    }
    return weights_load_file(spec, out);
}

int weights_sha256(const char *path, char hex[65]) {
    size_t n = strlen(path);
    if (tf_is_bundle_prefix(path) || (n > 6 && strcmp(path + n - 6, ".index") == 0))
        return tf_bundle_sha256(path, hex);
    return sha256_file(path, hex);
}
