// state_dict.h -- a name -> tensor map (what torch's state_dict() returns) and strict binding.
//
// Every weight source (.pth in its three layouts, safetensors, .npz, hash weights) fills a
// StateDict; networks never read files. A network declares the tensors it needs as a BindList
// (name, shape, where to store the float32 pointer), and sd_bind() checks them all at once like
// load_state_dict(strict=True): missing keys, unexpected keys and shape mismatches are listed by
// name in one error. `num_batches_tracked` may be missing (pre-0.4 checkpoints have none) and is
// never needed. Non-float32 tensors are converted to float32 copies owned by the entry.
#ifndef T2I_STATE_DICT_H
#define T2I_STATE_DICT_H

#include "tensor.h"

typedef struct {
    char    *name;
    DType    dtype;
    int      ndim;
    int64_t  shape[T2I_MAX_DIMS];
    size_t   numel;
    void    *data;   // numel * dtype_size(dtype) bytes, owned (t2i_malloc_aligned)
    float   *f32;    // float32 view: == data for DT_F32, else a converted copy made by sd_f32()
} SDEntry;

typedef struct {
    SDEntry *e;
    int      n, cap;
    int     *slots;    // open-addressing name index: entry index + 1, 0 = empty
    size_t   nslots;   // power of two, > 2n; 0 until the first sd_add
    char     container[64];   // where a checkpoint kept it: "" = the pickled object itself,
                              // "['state_dict']", "['model']['netG']" (pth.c)
} StateDict;

void sd_init(StateDict *sd);
void sd_free(StateDict *sd);   // accepts a zeroed or freed StateDict

// Adds an entry; takes ownership of `data` (allocated with t2i_malloc_aligned) even on failure.
// A duplicate name is T2I_EFORMAT.
int sd_add(StateDict *sd, const char *name, DType dtype, int ndim, const int64_t *shape,
           void *data);

const SDEntry *sd_find(const StateDict *sd, const char *name);

// When EVERY key starts with `prefix` (and more follows), removes it from all of them and
// returns the number of keys renamed; otherwise changes nothing and returns 0. -1 (T2I_ENOMEM
// message) when out of memory, with `sd` unchanged.
int sd_strip_prefix(StateDict *sd, const char *prefix);

// float32 data of an entry, converting once if needed; NULL with T2I_ENOMEM message on failure.
float *sd_f32(SDEntry *e);

// Shape as "(32, 3, 3, 3)".
void sd_shape_str(const SDEntry *e, char *buf, size_t n);

// ---- binding -----------------------------------------------------------------------------

typedef struct {
    char   *name;
    int     ndim;
    int64_t shape[T2I_MAX_DIMS];
    DType   dtype;      // DT_F32 for parameters, DT_I64 for num_batches_tracked
    float **dst;        // receives the float32 pointer; NULL for bookkeeping keys
    int     optional;   // 1 for num_batches_tracked
} BindRow;

typedef struct {
    BindRow *rows;
    int      n, cap;
    int      failed;    // set when an add ran out of memory; sd_bind then fails
} BindList;

void bindlist_init(BindList *bl);
void bindlist_free(BindList *bl);

// Declares a float32 parameter `name` (printf format) of the given shape (ndim values).
void bind_param(BindList *bl, float **dst, int ndim, const int *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

// Declares a BatchNorm2d/1d at `prefix` with C channels: weight, bias, running_mean,
// running_var (float32, bound to the four pointers; weight/bias may be NULL for affine=False)
// and the optional int64 num_batches_tracked.
void bind_batchnorm(BindList *bl, float **weight, float **bias, float **mean, float **var, int C,
                    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

// Binds every row against `sd`. Keys of `sd` that start with one of `ignore_prefixes`
// (NULL-terminated list, may be NULL) are accepted and ignored (e.g. "AuxLogits.").
// On failure returns T2I_ESHAPE with a message listing missing / unexpected / mismatched
// keys; `what` names the network and file in the message.
int sd_bind(StateDict *sd, const BindList *bl, const char *const *ignore_prefixes,
            const char *what);

#endif
