// vocab.h -- the AttnGAN vocabulary and caption lists.
//
// Sources: the original `captions.pickle` ([train_captions, test_captions, ixtoword, wordtoix],
// Python 2 or 3 pickle, read through the allowlisted pickle VM), or a plain-text vocabulary
// (one "id<TAB>word" per line, id 0 = "<end>", ids dense from 0), which is what
// `t2ibench vocab build` writes from a caption table. wordtoix is never rebuilt from ixtoword
// order: lookups use the file's own mapping.
#ifndef T2I_VOCAB_H
#define T2I_VOCAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int       n;       // number of captions
    int64_t **ids;     // ids[i] has lens[i] word ids
    int      *lens;
} CaptionList;

typedef struct {
    int          n_words;     // len(ixtoword)
    char       **ixtoword;    // ixtoword[i], i < n_words
    // wordtoix as an open-addressing hash table (private layout)
    char       **keys;
    int64_t     *vals;
    size_t       nslots, nkeys;
    CaptionList  train, test; // empty for a text vocabulary
} Vocab;

int  vocab_load(const char *path, Vocab *out /* OUT */);   // detects pickle vs text
int  vocab_load_pickle(const char *path, Vocab *out /* OUT */);
int  vocab_load_text(const char *path, Vocab *out /* OUT */);
int  vocab_save_text(const Vocab *v, const char *path);
// Adds word -> id to wordtoix (used by loaders and the builder); T2I_EFORMAT on duplicates.
int  vocab_put(Vocab *v, const char *word, int64_t id);
// wordtoix[word], or -1 when absent.
int64_t vocab_lookup(const Vocab *v, const char *word);
void vocab_free(Vocab *v);   // accepts a zeroed Vocab

#endif
