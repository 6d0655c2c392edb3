// cmd_suite.c -- `t2ibench suite freeze|check` and `t2ibench vocab build`.
#include "args.h"
#include "cli.h"
#include "protocol.h"
#include "sha256.h"
#include "suite.h"
#include "t2i.h"
#include "tokenizer.h"
#include "vocab.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// The outputs are written to OUT.tmp and renamed over OUT: refuse an OUT that exists and is not
// a regular file (renaming over /dev/full as root would replace the device node).
static int check_out(const char *out) {
    struct stat sb;
    if (stat(out, &sb) == 0 && !S_ISREG(sb.st_mode))
        return t2i_error(T2I_EARG, "--out %s exists and is not a regular file", out);
    return T2I_OK;
}

// Path of `target` relative to the directory of `from_file` (both made absolute).
static int relpath(const char *target, const char *from_file, char *out, size_t n) {
    char abs_t[PATH_MAX], abs_d[PATH_MAX], dir[PATH_MAX];
    if (!realpath(target, abs_t)) return t2i_error(T2I_EIO, "%s: %s", target, strerror(errno));
    snprintf(dir, sizeof dir, "%s", from_file);
    char *sl = strrchr(dir, '/');
    if (sl) *sl = 0;
    else snprintf(dir, sizeof dir, ".");
    if (!realpath(dir[0] ? dir : "/", abs_d)) return t2i_error(T2I_EIO, "%s: %s", dir, strerror(errno));
    size_t common = 0, i = 0;
    while (abs_t[i] && abs_t[i] == abs_d[i]) {
        if (abs_t[i] == '/') common = i;
        i++;
    }
    if (abs_d[i] == 0 && abs_t[i] == '/') common = i;
    int ups = 0;
    for (const char *p = abs_d + common; *p; p++) ups += *p == '/';
    size_t o = 0;
    out[0] = 0;
    for (int k = 0; k < ups; k++) o += (size_t)snprintf(out + o, n - o, "../");
    snprintf(out + o, n - o, "%s", abs_t + common + 1);
    return T2I_OK;
}

static int suite_freeze_cmd(int argc, char **argv) {
    static const char *usage =
        "t2ibench suite freeze --captions TSV --protocol FILE --vocab FILE --dataset cub|coco\n"
        "                      --seed S --out SUITE [--name NAME] [--images N] [--limit N]\n"
        "                      [--block-size B] [--mismatch-storage inline|derived]\n"
        "  Writes SUITE: every sample's caption, tokens, noise seed and mismatched captions,\n"
        "  drawn from the caption table(s) with the protocol's rules and --seed, so that every\n"
        "  run of the suite scores the same samples (format: suites/README.md).\n"
        "  --images N   N evenly spaced images of the table (default: all)\n"
        "  --limit N    only the first N samples (default: all)\n"
        "  --block-size B  samples per stored block (default: the protocol's)\n"
        "  --name NAME  the suite's name (default: SUITE's file name without extension)\n"
        "  --mismatch-storage derived: the mismatched caption ids are re-drawn from the seed\n"
        "               at load (and their hash checked) instead of stored inline (default)";
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("suite freeze", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *caps = args_str(&a, "--captions", NULL);
    const char *proto = args_str(&a, "--protocol", NULL);
    const char *vocab = args_str(&a, "--vocab", NULL);
    const char *ds = args_str(&a, "--dataset", NULL);
    const char *seed_s = args_str(&a, "--seed", NULL);
    const char *out = args_str(&a, "--out", NULL);
    const char *name = args_str(&a, "--name", NULL);
    long images = args_long(&a, "--images", 0);
    long limit = args_long(&a, "--limit", 0);
    long block = args_long(&a, "--block-size", 0);
    const char *storage = args_str(&a, "--mismatch-storage", "inline");
    if (args_rest(&a, pos, 4) != 0 || !caps || !proto || !vocab || !ds || !seed_s || !out)
        return cli_usage("suite freeze", usage);
    int dataset = dataset_index(ds);
    uint64_t seed;
    if (!t2i_parse_u64(seed_s, &seed)) {
        t2i_error(T2I_EARG, "--seed '%s': plain decimal digits expected (0 to "
                            "18446744073709551615, no sign or leading zeros)", seed_s);
        return cli_usage("suite freeze", usage);
    }
    if (dataset < 0 || images < 0 || limit < 0 || block < 0 || block > 100000 ||
        (strcmp(storage, "inline") && strcmp(storage, "derived")))
        return cli_usage("suite freeze", usage);
    Protocol P;
    Vocab V;
    memset(&V, 0, sizeof V);
    if (check_out(out)) return cli_fail("suite freeze", T2I_EARG);
    int rc = protocol_load(proto, &P);
    if (rc) return cli_fail("suite freeze", rc);
    char vsha[65], rel[PATH_MAX], nm[64];
    if ((rc = vocab_load(vocab, &V)) || (rc = sha256_file(vocab, vsha)) ||
        (rc = relpath(caps, out, rel, sizeof rel))) {
        protocol_free(&P);
        vocab_free(&V);
        return cli_fail("suite freeze", rc);
    }
    if (!name) {
        const char *b = strrchr(out, '/');
        snprintf(nm, sizeof nm, "%s", b ? b + 1 : out);
        char *dot = strrchr(nm, '.');
        if (dot) *dot = 0;
        name = nm;
    }
    FreezeOpts o = {.name = name, .captions = rel, .captions_open = caps, .protocol = &P,
                    .protocol_path = proto, .vocab = &V, .vocab_sha256 = vsha,
                    .dataset = dataset, .seed = seed, .limit = limit, .n_images = images,
                    .block_size = (int)block, .derived = !strcmp(storage, "derived")};
    int64_t n = 0;
    rc = suite_freeze(&o, out, &n);
    protocol_free(&P);
    vocab_free(&V);
    if (rc) return cli_fail("suite freeze", rc);
    // Read it back: a frozen suite must load.
    Suite s;
    if ((rc = suite_load(out, &s))) return cli_fail("suite freeze", rc);
    printf("froze %s: %lld samples in %lld blocks of %d (protocol %s, seed %llu, %s mismatches)\n",
           out, (long long)s.n, (long long)suite_blocks(&s), s.block_size, s.protocol, (unsigned long long)seed,
           storage);
    suite_free(&s);
    return EXIT_OK;
}

static int suite_check_cmd(int argc, char **argv) {
    static const char *usage =
        "t2ibench suite check SUITE\n"
        "  Loads and validates a frozen suite and prints a summary: samples, blocks, protocol,\n"
        "  seed, WORDS_NUM, mismatches, caption table and SHA-256.";
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("suite check", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    if (args_rest(&a, pos, 4) != 1) return cli_usage("suite check", usage);
    Suite s;
    int rc = suite_load(pos[0], &s);
    if (rc) return cli_fail("suite check", rc);
    int64_t trunc = 0;
    for (int64_t i = 0; i < s.n; i++) trunc += s.s[i].n_words > 0;
    printf("%s: suite %s (%s), %lld samples, %lld blocks of %d, protocol %s, seed %llu,\n"
           "  WORDS_NUM %d (%lld captions truncated), %d mismatches (%s), captions %s\n"
           "  sha256 %s\n",
           pos[0], s.name, dataset_names[s.dataset], (long long)s.n, (long long)suite_blocks(&s),
           s.block_size, s.protocol, (unsigned long long)s.seed, s.words_num, (long long)trunc,
           s.mismatches, s.mismatch_derived ? "derived, hash verified" : "inline",
           s.captions_path, s.sha256);
    suite_free(&s);
    return EXIT_OK;
}

int cmd_suite(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "freeze")) return suite_freeze_cmd(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "check")) return suite_check_cmd(argc - 1, argv + 1);
    int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (argc >= 2 && !help) fprintf(stderr, "t2ibench suite: unknown subcommand '%s'\n", argv[1]);
    fprintf(help ? stdout : stderr,
            "usage: t2ibench suite freeze --captions TSV --protocol FILE --vocab FILE ... --out SUITE\n"
            "       t2ibench suite check SUITE\n"
            "  freeze writes a frozen caption suite, check validates one (t2ibench suite freeze\n"
            "  --help and suite check --help for their options)\n");
    return help ? EXIT_OK : EXIT_USAGE;
}

// ---- vocab build ---------------------------------------------------------------------------

typedef struct {
    char   **words;
    int      n, cap;
    Vocab    seen;   // word -> id (used as a set)
} Builder;

static int builder_add(Builder *b, const char *w) {
    if (vocab_lookup(&b->seen, w) >= 0) return T2I_OK;
    if (b->n == b->cap) {
        int nc = b->cap ? b->cap * 2 : 1024;
        char **nw = t2i_realloc(b->words, sizeof(char *) * (size_t)nc);
        if (!nw) return T2I_ENOMEM;
        b->words = nw;
        b->cap = nc;
    }
    b->words[b->n] = t2i_strdup(w);
    if (!b->words[b->n]) return T2I_ENOMEM;
    int rc = vocab_put(&b->seen, b->words[b->n], b->n);
    b->n++;
    return rc;
}

// argv[0] = "build".
int cmd_vocab_build(int argc, char **argv) {
    static const char *usage =
        "t2ibench vocab build --captions TSV[,TSV...] --out FILE\n"
        "  Writes a text vocabulary (\"id<TAB>word\", id 0 = <end>) of every token of the caption\n"
        "  tables, in order of first appearance. This is NOT a released AttnGAN vocabulary\n"
        "  (captions.pickle): use it only with weights trained on it, or with hash weights.";
    Args a;
    char *pos[4];
    if (args_init(&a, argc, argv)) return cli_usage("vocab build", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *caps = args_str(&a, "--captions", NULL);
    const char *out = args_str(&a, "--out", NULL);
    if (args_rest(&a, pos, 4) != 0 || !caps || !out) return cli_usage("vocab build", usage);
    if (check_out(out)) return cli_fail("vocab build", T2I_EARG);
    Builder b;
    memset(&b, 0, sizeof b);
    int rc = builder_add(&b, "<end>");
    char list[4096];
    snprintf(list, sizeof list, "%s", caps);
    int64_t ncap = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p && !rc;
         p = strtok_r(NULL, ",", &save)) {
        CaptionTable t;
        if ((rc = caption_table_load(p, &t))) break;
        for (int64_t r = 0; r < t.n_rows && !rc; r++) {
            char **tok = NULL;
            int nt = 0;
            if ((rc = tokenize_words(t.caption[r], &tok, &nt))) break;
            for (int k = 0; k < nt && !rc; k++) rc = builder_add(&b, tok[k]);
            tokenizer_free_tokens(tok, nt);
            ncap++;
        }
        caption_table_free(&t);
    }
    if (!rc) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s.tmp", out);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            rc = t2i_error(T2I_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        } else {
            int bad = 0;
            for (int i = 0; i < b.n; i++) bad |= fprintf(f, "%d\t%s\n", i, b.words[i]) < 0;
            bad |= ferror(f);
            if (fclose(f) != 0 || bad) {
                rc = t2i_error(T2I_EIO, "%s: write failed: %s", tmp, strerror(errno));
                remove(tmp);   // the previous vocabulary at `out`, if any, is left untouched
            } else if (rename(tmp, out) != 0) {
                rc = t2i_error(T2I_EIO, "%s: cannot rename to %s: %s", tmp, out, strerror(errno));
                remove(tmp);
            }
        }
    }
    for (int i = 0; i < b.n; i++) t2i_free(b.words[i]);
    t2i_free(b.words);
    vocab_free(&b.seen);
    if (rc) return cli_fail("vocab build", rc);
    Vocab v;
    if ((rc = vocab_load_text(out, &v))) return cli_fail("vocab build", rc);
    printf("wrote %s: %d words (id 0 = <end>) from %lld captions of %s\n", out, v.n_words,
           (long long)ncap, caps);
    vocab_free(&v);
    return EXIT_OK;
}
