// cmd_tensors.c -- `t2ibench tensors FILE [--json]` (every key, dtype and shape of a weight file,
// like printing a state_dict, plus the file's SHA-256) and `t2ibench vocab FILE [--sample N]`
// (vocabulary size, caption counts and a sample of words).
#include "args.h"
#include "cli.h"
#include "pth.h"
#include "safetensors.h"
#include "sha256.h"
#include "t2i.h"
#include "tfckpt.h"
#include "vocab.h"
#include "weights.h"
#include "zip.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

// A label for the layout, from the content (the loader itself detects it the same way).
static const char *format_name(const char *path) {
    uint8_t *buf;
    size_t len;
    if (tf_is_bundle_prefix(path)) return "tf-checkpoint-v2";
    if (t2i_read_file(path, &buf, &len)) return "unknown";
    const char *fmt = "unknown";
    int k = pth_sniff(buf, len), tf = tf_sniff(buf, len);
    if (tf != TF_NONE) {
        fmt = tf == TF_CKPT_V1 ? "tf-checkpoint-v1" : tf == TF_CKPT_V2 ? "tf-checkpoint-v2"
                                                                      : "tf-graphdef";
    } else if (k == 1) {
        Zip z;
        fmt = "zip";
        if (zip_open(&z, buf, len, path) == T2I_OK) {
            fmt = "npz";
            for (int i = 0; i < z.n; i++) {
                size_t n = strlen(z.e[i].name);
                if (n >= 9 && strcmp(z.e[i].name + n - 9, "/data.pkl") == 0) fmt = "torch-zip";
            }
            zip_close(&z);
        }
    } else if (k == 2) {
        fmt = "torch-legacy";
    } else if (safetensors_sniff(buf, len)) {
        fmt = "safetensors";
    }
    t2i_free(buf);
    return fmt;
}

int cmd_tensors(int argc, char **argv) {
    const char *usage = "t2ibench tensors FILE [--json]";
    Args a;
    if (args_init(&a, argc, argv)) return cli_usage(argv[0], usage);
    if (args_flag(&a, "--help"))
        return printf("usage: %s\nLists every tensor (name, dtype, shape) of a weight file: torch "
                      ".pth, .safetensors, .npz,\nTensorFlow V1 checkpoint, V2 checkpoint (the "
                      "prefix model.ckpt or model.ckpt.index) or GraphDef .pb.\nsha256 is the file's (for a V2 "
                      "checkpoint: of the SHA-256s of its index and data files, as run\n"
                      "fingerprints record it).\n",
                      usage),
               EXIT_OK;
    int json = args_flag(&a, "--json");
    char *pos[2];
    int np = args_rest(&a, pos, 2);
    if (np != 1) return cli_usage(argv[0], usage);
    const char *path = pos[0];
    char hex[65];
    int rc = weights_sha256(path, hex);
    if (rc) return cli_fail(argv[0], rc);
    StateDict sd;
    if ((rc = weights_load_file(path, &sd))) return cli_fail(argv[0], rc);
    size_t total = 0;
    for (int i = 0; i < sd.n; i++) total += sd.e[i].numel;
    int skipped = tf_skipped();   // TF tensors of non-numeric dtypes (strings), not loaded
    if (json) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
        cJSON_AddStringToObject(root, "file", path);
        cJSON_AddStringToObject(root, "sha256", hex);
        cJSON_AddStringToObject(root, "format", format_name(path));
        cJSON_AddNumberToObject(root, "tensors", sd.n);
        cJSON_AddNumberToObject(root, "elements", (double)total);
        if (skipped) cJSON_AddNumberToObject(root, "skipped_non_numeric", skipped);
        for (int i = 0; i < sd.n; i++) {
            cJSON *t = cJSON_CreateObject(), *sh = cJSON_CreateArray();
            cJSON_AddStringToObject(t, "key", sd.e[i].name);
            cJSON_AddStringToObject(t, "dtype", dtype_name(sd.e[i].dtype));
            for (int d = 0; d < sd.e[i].ndim; d++)
                cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)sd.e[i].shape[d]));
            cJSON_AddItemToObject(t, "shape", sh);
            cJSON_AddItemToArray(arr, t);
        }
        cJSON_AddItemToObject(root, "state_dict", arr);
        char *s = cJSON_Print(root);
        if (s) printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(root);
        sd_free(&sd);
        return s ? EXIT_OK : cli_fail(argv[0], t2i_error(T2I_ENOMEM, "JSON output failed"));
    }
    printf("file    %s\nsha256  %s\nformat  %s\ntensors %d (%zu elements)\n", path, hex,
           format_name(path), sd.n, total);
    if (skipped) printf("skipped %d tensor(s) of non-numeric dtype (strings)\n", skipped);
    int w = 10;
    for (int i = 0; i < sd.n; i++)
        if ((int)strlen(sd.e[i].name) > w) w = (int)strlen(sd.e[i].name);
    for (int i = 0; i < sd.n; i++) {
        char shape[256];
        sd_shape_str(&sd.e[i], shape, sizeof shape);
        printf("  %-*s %-8s %s\n", w, sd.e[i].name, dtype_name(sd.e[i].dtype), shape);
    }
    sd_free(&sd);
    return EXIT_OK;
}

int cmd_vocab(int argc, char **argv) {
    const char *usage = "t2ibench vocab FILE [--sample N]";
    if (argc >= 2 && strcmp(argv[1], "build") == 0) return cmd_vocab_build(argc - 1, argv + 1);
    Args a;
    if (args_init(&a, argc, argv)) return cli_usage(argv[0], usage);
    if (args_flag(&a, "--help"))
        return printf("usage: %s\n"
                      "       t2ibench vocab build --captions TSV[,TSV...] --out FILE   (see "
                      "vocab build --help)\n"
                      "Prints the size of an AttnGAN captions.pickle or a text vocabulary "
                      "(id<TAB>word), its\nfirst N words (default 10) and, for a pickle, its "
                      "caption counts and first caption.\n",
                      usage),
               EXIT_OK;
    long sample = args_long(&a, "--sample", 10);
    char *pos[2];
    int np = args_rest(&a, pos, 2);
    if (np == 1 && sample < 0) t2i_error(T2I_EARG, "--sample %ld is negative", sample);
    if (np != 1 || sample < 0) return cli_usage(argv[0], usage);
    Vocab v;
    int rc = vocab_load(pos[0], &v);
    if (rc) return cli_fail(argv[0], rc);
    printf("file      %s\nwords     %d\ncaptions  %d train, %d test\n", pos[0], v.n_words, v.train.n,
           v.test.n);
    for (int i = 0; i < v.n_words && i < sample; i++) printf("  %6d  %s\n", i, v.ixtoword[i]);
    if (v.n_words > sample) printf("  ... (%d more)\n", v.n_words - (int)sample);
    const CaptionList *c = v.train.n ? &v.train : &v.test;
    if (c->n && sample) {
        printf("first %s caption:", c == &v.train ? "train" : "test");
        for (int k = 0; k < c->lens[0]; k++) printf(" %s", v.ixtoword[c->ids[0][k]]);
        printf("\n");
    }
    vocab_free(&v);
    return EXIT_OK;
}
