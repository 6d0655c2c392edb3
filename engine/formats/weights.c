// weights.c -- see weights.h: dispatches a weight spec to the right loader by content.
#include "weights.h"
#include "npz.h"
#include "pth.h"
#include "safetensors.h"
#include "t2i.h"
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
    uint8_t *buf;
    size_t len;
    int rc = t2i_read_file(path, &buf, &len);
    if (rc) return rc;
    if (zip_sniff(buf, len) && is_npz(buf, len, path))
        rc = npz_to_state_dict(buf, len, path, out);
    else if (pth_sniff(buf, len))
        rc = pth_parse(buf, len, path, out);
    else if (safetensors_sniff(buf, len))
        rc = safetensors_parse(buf, len, path, out);
    else
        rc = t2i_error(T2I_EFORMAT, "%s: unknown weight format (not a torch .pth, .safetensors or "
                       ".npz; first bytes at byte 0)", path);
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
