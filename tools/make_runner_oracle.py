#!/usr/bin/python3
"""make_runner_oracle.py -- the runner's input preparation, done the ORIGINAL AttnGAN way.

Developer tool (Debian's /usr/bin/python3 with python3-torch and python3-numpy). It writes
tests/fixtures/runner_oracle/, which tests/test_runner_oracle.c compares with what
`t2ibench run` and `t2ibench generate --run ... --tensors` produce for the same captions with the
demo cards (suites/models/demo_bird.json, demo_coco.json: hash weights, no download).

What is computed here as taoxugit/AttnGAN code/ does it (commit 0d000e6), per caption:
  text      datasets.py load_captions: cap.replace("\\ufffd\\ufffd", " "), RegexpTokenizer(r'\\w+')
            on cap.lower() (nltk's RegexpTokenizer with its default flags is
            re.findall(pattern, text, re.UNICODE | re.MULTILINE | re.DOTALL); nltk itself is used
            when it is installed), each token t.encode('ascii', 'ignore'), empty tokens dropped;
            build_dictionary: words missing from wordtoix dropped (wordtoix = the demo card's
            vocabulary file, id<TAB>word).
  subset    datasets.py get_caption: x = zeros(WORDS_NUM); a caption longer than WORDS_NUM keeps
            np.sort(shuffled positions[:WORDS_NUM]); shorter ones are zero padded.
  encoder   RNN_ENCODER (model.py): init_hidden(1) zeros, forward(captions (1, WORDS_NUM),
            cap_lens, hidden) with pack_padded_sequence; words_emb (1, 256, cap_len),
            sent_emb (1, 256).
  mask      trainer.py sampling: mask = (captions == 0), cut to words_embs.size(2).
  G_NET     netG(noise, sent_emb, words_embs, mask) at batch size 1 (t2ibench's default
            per-sample attention mask is the original at batch size 1, DESIGN.md §3); CA_NET's eps
            is a stored one (same op order eps * exp(0.5 * logvar) + mu), as in the fixtures.
  uint8     trainer.py sampling: im = (im + 1.0) * 127.5; im = im.astype(np.uint8) (float32,
            truncation), then HWC.
The network definitions are tools/torch_baseline.py's (written from model.py /
GlobalAttention.py, same state_dict keys); before anything is written they are checked against
../shared/fixtures (text_encoder, generator_r2: outputs of the original code) and the tool stops
when they disagree by more than the manifests' suggested tolerances. Weights: the hash formula
of ../shared/fixtures/README.md (torch_baseline.hash_state_dict).

The only inputs taken from t2ibench are the ones it defines by design, each recomputed here from
engine/core/rng.c (nothing is read from a t2ibench run):
  z         rng_normal of stream RNG_STREAM_Z (1) of (suite seed, sample id), cast to float32
  eps       the same for RNG_STREAM_EPS (2)
  shuffle   the positions shuffled by Fisher-Yates with rng_below(i + 1), i = n-1 .. 1, of stream
            RNG_STREAM_WORDS (3) (engine/text/tokenizer.c caption_truncate; the original uses
            np.random.shuffle, the same algorithm on numpy's global generator)
The suites are frozen by the test itself from the caption tables written here (one caption per
pseudo image, so sample k is caption row k).

Also, for every sample of every committed suite (suites/*.suite), the word ids and cap_len the
original caption handling gives with the suite's own seed; the tool stops when a suite's frozen
`ntok` or `words` field disagrees. Those of the small suites in REAL_SUITES are stored
(suites.npz) for the test's check of the runner's sample_word_ids / sample_encode.

Usage:  /usr/bin/python3 tools/make_runner_oracle.py [--fixtures ../shared/fixtures]
        [--out tests/fixtures/runner_oracle]
"""
import argparse
import copy
import json
import math
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_baseline as tb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 100                      # the suite seed the test freezes with
ROWS = (0, 1, 2, 31, 32, 61, 62, 63)   # image rows stored, as fractions of 64 (x4 for 256 px)

# Caption rows: (source table, image_idx, cap_idx) rows of the real caption tables, or crafted
# rows (image key, text) for what the tables lack (every word of them is in the vocabularies
# built from them, and none is non-ASCII).
CASES = {
    "cub": {
        "card": "suites/models/demo_bird.json",
        "table": "suites/data/cub/test_captions.tsv",
        "rows": [
            ("short", (902, 5)),
            ("subset (longer than WORDS_NUM)", (2766, 4)),
            ("apostrophes, duplicate words", (1, 3)),
            ("subset + apostrophe", (2745, 0)),
            ("unknown words, non-ASCII", ("oracle_nonascii", 9001,
                                          "This bird has a caf\u00e9-colored crest, a "
                                          "zygodactyl foot, BLAC\u212a wi\u00e9ngs\u2019 tips and "
                                          "red\u00b2 feathers \u2014 tr\u00e8s jolie! \u0130t "
                                          "sings\u00a0loudly.")),
        ],
    },
    "coco": {
        "card": "suites/models/demo_coco.json",
        "table": "suites/data/coco/test_captions.tsv",
        "rows": [
            ("short", (29, 3)),
            ("subset (longer than WORDS_NUM)", (16649, 1)),
            ("embedded newlines, '!'", (7592, 1)),
            ("apostrophe, capitals", (127, 0)),
            ("unknown words, non-ASCII", ("oracle_nonascii", 90001,
                                          "Un caf\u00e9 au lait and a croissant on a na\u00efve "
                                          "wooden table\u00a0\u2014 2 cups, \u00bd eaten?")),
        ],
    },
}


REAL_SUITES = [("cub_smoke", "suites/cub_smoke.suite", "cub"),
               ("cub_examples", "suites/cub_examples.suite", "cub"),
               ("coco_smoke", "suites/coco_smoke.suite", "coco"),
               ("coco_examples", "suites/coco_examples.suite", "coco")]


# ---- t2ibench's counter RNG (engine/core/rng.c) ---------------------------------------------

M64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Rng:
    def __init__(self, seed, sample, stream):
        k = mix64((seed + 0x9E3779B97F4A7C15) & M64)
        k = mix64(k ^ ((sample + 0x632BE59BD9B4E019) & M64))
        k = mix64(k ^ ((stream * 0xD1B54A32D192ED03 + 0x8CB92BA72F3D8DD7) & M64))
        self.key, self.counter = k, 0

    def u64(self):
        self.counter += 1
        return mix64((self.key + self.counter * 0x9E3779B97F4A7C15) & M64)

    def uniform(self):
        return float(self.u64() >> 11) * 2.0 ** -53

    def normal(self):
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * 3.14159265358979323846 * u2)

    def below(self, n):
        limit = M64 - M64 % n
        while True:
            x = self.u64()
            if x < limit:
                return x % n


STREAM_Z, STREAM_EPS, STREAM_WORDS = 1, 2, 3


def check_rng():
    """The first draws pinned in tests/golden.h (seed 7, sample 0 / 3)."""
    assert Rng(7, 0, STREAM_Z).u64() == 0x270128c44c9dce63, "RNG key/u64 port"
    assert Rng(7, 3, STREAM_EPS).normal() == float.fromhex("-0x1.950734891da4ap+0"), "rng_normal"
    r = Rng(7, 3, 5)   # RNG_STREAM_CAPTION: golden.h draws below(10) after one normal
    r.normal()
    assert r.below(10) == 5, "rng_below port"


# ---- the original caption handling ----------------------------------------------------------

def regexp_tokenize(text):
    try:
        from nltk.tokenize import RegexpTokenizer
        return RegexpTokenizer(r"\w+").tokenize(text)
    except ImportError:
        return re.findall(r"\w+", text, re.UNICODE | re.MULTILINE | re.DOTALL)


def load_caption_tokens(cap):
    """datasets.py load_captions for one caption line."""
    cap = cap.replace("\ufffd\ufffd", " ")
    tokens = regexp_tokenize(cap.lower())
    out = []
    for t in tokens:
        t = t.encode("ascii", "ignore").decode("ascii")
        if len(t) > 0:
            out.append(t)
    return out


def caption_ids(tokens, wordtoix):
    """build_dictionary: unknown words dropped."""
    return [wordtoix[w] for w in tokens if w in wordtoix]


def get_caption(sent_caption, words_num, shuffle):
    """datasets.py get_caption; `shuffle(ix)` stands for np.random.shuffle."""
    sent_caption = np.asarray(sent_caption).astype("int64")
    num_words = len(sent_caption)
    x = np.zeros((words_num, 1), dtype="int64")
    x_len = num_words
    if num_words <= words_num:
        x[:num_words, 0] = sent_caption
    else:
        ix = list(np.arange(num_words))
        shuffle(ix)
        ix = ix[:words_num]
        ix = np.sort(ix)
        x[:, 0] = sent_caption[ix]
        x_len = words_num
    return x, x_len


def t2i_shuffle(rng):
    """np.random.shuffle's Fisher-Yates with t2ibench's draws (tokenizer.c caption_truncate)."""
    def shuffle(ix):
        for i in range(len(ix) - 1, 0, -1):
            j = rng.below(i + 1)
            ix[i], ix[j] = ix[j], ix[i]
    return shuffle


# ---- tables ---------------------------------------------------------------------------------

def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def read_table(path):
    with open(path, encoding="utf8") as f:
        lines = f.read().split("\n")
    head = lines[0].split("\t")
    ii = head.index("image_idx") if "image_idx" in head else head.index("attngan_test_idx")
    rows = {}
    for ln in lines[1:]:
        if not ln:
            continue
        f = ln.split("\t")
        rows[(int(f[ii]), int(f[head.index("cap_idx")]))] = (
            f[head.index("image_key")], int(f[head.index("class_id")]), f[head.index("caption")])
    return rows


def read_vocab(path):
    w2i = {}
    with open(path, encoding="utf8") as f:
        for ln in f:
            i, w = ln.rstrip("\n").split("\t")
            w2i[w] = int(i)
    return w2i


def smoke_words_num(dataset):
    with open(os.path.join(ROOT, "suites/protocols/smoke.json")) as f:
        return json.load(f)["sampling"]["words_num"][dataset]


# ---- networks -------------------------------------------------------------------------------

def hash_load(model):
    model.load_state_dict(tb.hash_state_dict(model))
    model.eval()
    return model


def card_vocab(card):
    with open(os.path.join(ROOT, card)) as f:
        c = json.load(f)
    return os.path.normpath(os.path.join(os.path.dirname(os.path.join(ROOT, card)),
                                         c["vocabulary"]))


def build(card):
    with open(os.path.join(ROOT, card)) as f:
        c = json.load(f)
    g, t = c["generator"]["config"], c["text_encoder"]["config"]
    assert (g["Z_DIM"], g["CONDITION_DIM"], g["EMBEDDING_DIM"]) == (tb.Z_DIM, tb.COND_DIM,
                                                                  tb.EMB_DIM)
    r_num = g["R_NUM"]
    net_g = hash_load(tb.GNet(g["GF_DIM"], lambda ngf, size: tb.NextStage(ngf, r_num)))
    enc = hash_load(tb.RNNEncoder(t["ntoken"], t["ninput"], t["nhidden"]))
    return net_g, enc, card_vocab(card)


def init_hidden(enc, bsz):
    """RNN_ENCODER.init_hidden: (h0, c0) zeros of (nlayers * num_directions, bsz, nhidden)."""
    w = next(enc.parameters())
    n = enc.nhidden // 2
    return (w.new_zeros(2, bsz, n), w.new_zeros(2, bsz, n))


def rnn_encode(enc, captions, cap_lens, hidden):
    """RNN_ENCODER.forward (LSTM, bidirectional) with an explicit hidden state."""
    emb = enc.drop(enc.encoder(captions))
    emb = torch.nn.utils.rnn.pack_padded_sequence(emb, cap_lens.tolist(), batch_first=True)
    output, hidden = enc.rnn(emb, hidden)
    output = torch.nn.utils.rnn.pad_packed_sequence(output, batch_first=True)[0]
    words_emb = output.transpose(1, 2)
    sent_emb = hidden[0].transpose(0, 1).contiguous().view(-1, enc.nhidden)
    return words_emb, sent_emb


def self_check(fixtures):
    """The definitions against the original code's outputs (../shared/fixtures)."""
    def load(case, name):
        return torch.from_numpy(np.load(os.path.join(fixtures, case, name + ".npy")))
    enc = tb.RNNEncoder(60, 24, 32)
    enc.load_state_dict(torch.load(os.path.join(fixtures, "text_encoder", "model.pth")))
    enc.eval()
    cap, lens = load("text_encoder", "captions"), load("text_encoder", "cap_lens")
    with torch.no_grad():
        w, s = rnn_encode(enc, cap, lens, init_hidden(enc, cap.shape[0]))
    errs = {"text_encoder.words_emb": float((w - load("text_encoder", "words_emb")).abs().max()),
            "text_encoder.sent_emb": float((s - load("text_encoder", "sent_emb")).abs().max())}
    worst = tb.verify_generators(fixtures)
    errs["generators (r2, dmgan, dfgan)"] = worst
    for k, v in errs.items():
        print("self-check %-32s max abs error %.3g" % (k, v))
        if v > 1e-5:
            sys.exit("make_runner_oracle: %s disagrees with the original code's fixture" % k)
    return errs


def suggested_atol(d):
    a = 10.0 * d
    if a <= 1e-6:
        return 1e-6
    e = math.floor(math.log10(a))
    return float("%.0e" % a) if round(a / 10 ** e) < 10 else 10.0 ** (e + 1)


# ---- one sample -----------------------------------------------------------------------------

def sample(net_g, enc, net_g64, enc64, wordtoix, words_num, sample_id, caption):
    tokens = load_caption_tokens(caption)
    ids = caption_ids(tokens, wordtoix)
    assert ids, "caption %r has no known word" % caption
    x, x_len = get_caption(ids, words_num, t2i_shuffle(Rng(SEED, sample_id, STREAM_WORDS)))
    captions = torch.from_numpy(x[:, 0][None, :])          # prepare_data: (1, WORDS_NUM)
    cap_lens = torch.tensor([x_len])
    zr, er = Rng(SEED, sample_id, STREAM_Z), Rng(SEED, sample_id, STREAM_EPS)
    z = torch.tensor([[zr.normal() for _ in range(tb.Z_DIM)]], dtype=torch.float32)
    eps = torch.tensor([[er.normal() for _ in range(tb.COND_DIM)]], dtype=torch.float32)
    with torch.no_grad():
        words_embs, sent_emb = rnn_encode(enc, captions, cap_lens, init_hidden(enc, 1))
        mask = captions == 0
        num_words = words_embs.size(2)
        if mask.size(1) > num_words:
            mask_g = mask[:, :num_words]
        else:
            mask_g = mask
        net_g.ca_net.eps = eps
        fake_imgs, _, _, _ = net_g(z, sent_emb, words_embs, mask_g)
        # The same in float64 (weights and inputs converted exactly): the float32 rounding noise
        # the tolerances are derived from, as in ../shared/fixtures (f32_vs_f64).
        w64, s64 = rnn_encode(enc64, captions, cap_lens, init_hidden(enc64, 1))
        net_g64.ca_net.eps = eps.double()
        imgs64, _, _, _ = net_g64(z.double(), s64, w64, mask_g)
    f64 = {"sent_emb": float((sent_emb.double() - s64).abs().max()),
           "words_emb": float((words_embs.double() - w64).abs().max()),
           "img64": float((fake_imgs[0].double() - imgs64[0]).abs().max()),
           "img256": float((fake_imgs[2].double() - imgs64[2]).abs().max())}
    out = {"tokens": tokens, "ids": ids, "captions": x[:, 0], "cap_len": x_len,
           "mask": mask[0].numpy().astype(np.int64), "z": z[0].numpy(), "eps": eps[0].numpy(),
           "sent_emb": sent_emb[0].numpy(), "f32_vs_f64": f64}
    we = np.zeros((enc.nhidden, words_num), np.float32)
    we[:, :num_words] = words_embs[0].numpy()
    out["words_emb"] = we
    for k, px in ((0, 64), (2, 256)):
        im = fake_imgs[k][0].numpy()                        # (3, px, px) float32
        rows = [r * px // 64 for r in ROWS]
        out["img%d" % px] = im[:, rows, :]
        u8 = (im + 1.0) * 127.5                             # trainer.py sampling
        u8 = u8.astype(np.uint8)
        out["u8_%d" % px] = np.transpose(u8, (1, 2, 0))[rows]   # HWC rows
        out["img%d_full" % px] = im
    return out


def real_suite(name, path, wordtoix):
    """Word ids (N, WORDS_NUM) and cap_lens of every sample of a committed suite."""
    with open(os.path.join(ROOT, path), encoding="utf8") as f:
        lines = f.read().split("\n")
    head = json.loads(lines[1])
    W, seed = head["words_num"], int(head["seed"])
    caps, lens, n_subset = [], [], 0
    for ln in lines[3:]:
        if not ln:
            continue
        fld = ln.split("\t")
        sid, ntok, words = int(fld[0]), int(fld[7]), fld[8]
        ids = caption_ids(load_caption_tokens(unescape(fld[10])), wordtoix)
        pos = []

        def shuffle(ix):
            t2i_shuffle(Rng(seed, sid, STREAM_WORDS))(ix)
            pos.extend(sorted(ix[:W]))
        x, x_len = get_caption(ids, W, shuffle)
        if len(ids) != ntok or (words != "-") != bool(pos) or \
                (pos and [int(v) for v in words.split(",")] != [int(v) for v in pos]):
            sys.exit("make_runner_oracle: %s sample %d: frozen ntok %d words %s, the original "
                     "caption handling gives %d tokens, subset %s" % (path, sid, ntok, words,
                                                                      len(ids), pos))
        n_subset += bool(pos)
        caps.append(x[:, 0])
        lens.append(x_len)
    print("%s: %d samples (%d with a word subset) agree with the frozen ntok/words fields" %
          (path, len(caps), n_subset))
    return np.stack(caps), np.array(lens, np.int64), {"path": path, "words_num": W,
                                                      "seed": seed, "samples": len(caps),
                                                      "with_subset": n_subset}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "..", "shared", "fixtures"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "runner_oracle"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    check_rng()
    checks = self_check(a.fixtures)
    os.makedirs(a.out, exist_ok=True)
    manifest = {"tool": "tools/make_runner_oracle.py", "seed": SEED, "rows_of_64": list(ROWS),
                "self_check_max_abs_error": checks, "torch": torch.__version__,
                "numpy": np.__version__, "datasets": {}}
    for ds, case in CASES.items():
        table = read_table(os.path.join(ROOT, case["table"]))
        net_g, enc, vocab_path = build(case["card"])
        net_g64, enc64 = copy.deepcopy(net_g).double(), copy.deepcopy(enc).double()
        wordtoix = read_vocab(vocab_path)
        W = smoke_words_num(ds)
        tsv = ["image_idx\timage_key\tclass_id\tcap_idx\tcaption"]
        res, info = [], []
        for k, (tag, src) in enumerate(case["rows"]):
            if len(src) == 2:
                key, cls, cap = table[src]
                cap = unescape(cap)
                origin = "%s image_idx %d cap_idx %d" % (case["table"], src[0], src[1])
            else:
                key, cls, cap = src
                origin = "crafted"
            tsv.append("%d\t%s\t%d\t0\t%s" % (k, key, cls, escape(cap)))
            r = sample(net_g, enc, net_g64, enc64, wordtoix, W, k, cap)
            unknown = [t for t in r["tokens"] if t not in wordtoix]
            res.append(r)
            info.append({"sample": k, "case": tag, "origin": origin, "caption": cap,
                         "tokens": r["tokens"], "unknown": unknown, "ntok": len(r["ids"]),
                         "cap_len": int(r["cap_len"]),
                         "ids": [int(v) for v in r["captions"][:r["cap_len"]]]})
            print("%s %d (%s): %d tokens, %d known, %d used, unknown %s" %
                  (ds, k, tag, len(r["tokens"]), len(r["ids"]), r["cap_len"], unknown))
        with open(os.path.join(a.out, ds + "_captions.tsv"), "w", encoding="utf8") as f:
            f.write("\n".join(tsv) + "\n")
        arr = {n: np.stack([r[n] for r in res]) for n in
               ("captions", "mask", "z", "eps", "sent_emb", "words_emb", "img64", "img256",
                "u8_64", "u8_256")}
        # Tolerances: 10x the largest float32-vs-float64 difference over the samples, one
        # significant digit, floor 1e-6 (the rule of the shared fixtures' suggested_atol).
        f64 = {n: max(r["f32_vs_f64"][n] for r in res) for n in res[0]["f32_vs_f64"]}
        atol = {n: suggested_atol(v) for n, v in f64.items()}
        for n, v in atol.items():
            arr["atol_" + n] = np.array([v], np.float32)
        arr["cap_lens"] = np.array([r["cap_len"] for r in res], np.int64)
        arr["rows64"] = np.array([r for r in ROWS], np.int64)
        arr["rows256"] = np.array([r * 4 for r in ROWS], np.int64)
        np.savez(os.path.join(a.out, ds + ".npz"), **arr)
        # How many stored uint8 values lie within 127.5 * d of a step, for the test's bound.
        v = np.stack([(r["img256_full"] + np.float32(1.0)) * np.float32(127.5) for r in res])
        frac = np.abs(v - np.round(v))
        manifest["datasets"][ds] = {
            "card": case["card"], "words_num": W, "samples": info, "f32_vs_f64": f64,
            "suggested_atol": atol,
            "near_step_256": int((frac <= 127.5 * atol["img256"]).sum()),
            "values_256": int(v.size)}
    arr, manifest["real_suites"] = {}, {}
    vocabs = {ds: read_vocab(card_vocab(c["card"])) for ds, c in CASES.items()}
    for name, path, ds in REAL_SUITES:
        caps, lens, info = real_suite(name, path, vocabs[ds])
        arr[name + "_captions"], arr[name + "_cap_lens"] = caps, lens
        manifest["real_suites"][name] = info
    # Every other committed suite: the frozen fields are checked, nothing is stored.
    stored = {p for _, p, _ in REAL_SUITES}
    for fn in sorted(os.listdir(os.path.join(ROOT, "suites"))):
        path = "suites/" + fn
        if fn.endswith(".suite") and path not in stored:
            with open(os.path.join(ROOT, path), encoding="utf8") as f:
                f.readline()
                ds = json.loads(f.readline())["dataset"]
            manifest["real_suites"][fn[:-6]] = real_suite(fn[:-6], path, vocabs[ds])[2]
    np.savez(os.path.join(a.out, "suites.npz"), **arr)
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
