// npz.h -- NumPy .npz archives (a zip of .npy members): read stored and deflated members
// (zlib), write stored members. The format of pytorch-fid statistics files (`mu`, `sigma`).
#ifndef T2I_NPZ_H
#define T2I_NPZ_H

#include "npy.h"

typedef struct {
    int       n;
    char    **names;    // member names without the ".npy" suffix
    NpyArray *arrays;
} Npz;

int  npz_load(const char *path, Npz *out /* OUT */);
// Same, from an in-memory archive; `path` names it in messages.
int  npz_parse(const uint8_t *buf, size_t len, const char *path, Npz *out /* OUT */);
void npz_free(Npz *z);   // accepts a zeroed Npz
const NpyArray *npz_get(const Npz *z, const char *name);   // NULL when absent

// Writes n named arrays (names without ".npy") as a stored zip.
int  npz_save(const char *path, int n, const char *const *names, const NpyArray *arrays);

#endif
