#!/usr/bin/python3
"""Writes tests/fixtures/argsort/: int64 key arrays and numpy's np.argsort of each.

AttnGAN's main.py gen_example orders captions with np.argsort(cap_lens)[::-1]. The default
kind='quicksort' of numpy 1.24 on int64 is an introsort that is not stable: insertion sort for
short runs, median-of-three partitioning above 16, a heapsort once the depth budget
2*floor(log2 n) is spent. Ties therefore come out in an order that only this exact algorithm
reproduces. engine/text/tokenizer.c (argsort_numpy_i64) implements it; tests/test_argsort.c checks it
against the arrays written here.

This script also carries its own Python transcription of the algorithm and asserts that it
agrees with numpy on every case before writing anything. It uses that transcription to build
McIlroy "killer" inputs (A Killer Adversary for Quicksort, 1999) that drive the partitioning to
its depth limit, so that the heapsort fallback is covered too.

Run from the repository root with Debian's python3 (numpy 1.24.2):
    /usr/bin/python3 tools/make_argsort_fixture.py
"""
import json
import os
import sys

import numpy as np

OUT = os.path.join("tests", "fixtures", "argsort")
SMALL_QUICKSORT = 15   # npysort_common.h: partition while pr - pl > 15, i.e. n >= 17
SEED = 20261126


def msb(n):
    d = 0
    while n > 1:
        n >>= 1
        d += 1
    return d


def aheapsort(less, a, lo, n):
    """numpy aheapsort_ on a[lo:lo+n] (1-based heap over the slice)."""
    def get(k):
        return a[lo + k - 1]

    def put(k, x):
        a[lo + k - 1] = x

    for l in range(n >> 1, 0, -1):
        tmp = get(l)
        i, j = l, l << 1
        while j <= n:
            if j < n and less(get(j), get(j + 1)):
                j += 1
            if less(tmp, get(j)):
                put(i, get(j))
                i = j
                j += j
            else:
                break
        put(i, tmp)
    while n > 1:
        tmp = get(n)
        put(n, get(1))
        n -= 1
        i, j = 1, 2
        while j <= n:
            if j < n and less(get(j), get(j + 1)):
                j += 1
            if less(tmp, get(j)):
                put(i, get(j))
                i = j
                j += j
            else:
                break
        put(i, tmp)


def aquicksort(less, num, stats=None, depth_limit=True):
    """numpy 1.24 aquicksort_: returns the index permutation; less(i, j) compares keys.
    depth_limit=False never falls back to heapsort (used to show that a case depends on it)."""
    a = list(range(num))
    if num < 2:
        return a
    pl, pr = 0, num - 1
    stack = []
    cdepth = msb(num) * 2
    while True:
        if cdepth < 0 and depth_limit:
            if stats is not None:
                stats["heapsort"] += 1
            aheapsort(less, a, pl, pr - pl + 1)
        else:
            while pr - pl > SMALL_QUICKSORT:
                if stats is not None:
                    stats["partitions"] += 1
                pm = pl + ((pr - pl) >> 1)
                if less(a[pm], a[pl]):
                    a[pm], a[pl] = a[pl], a[pm]
                if less(a[pr], a[pm]):
                    a[pr], a[pm] = a[pm], a[pr]
                if less(a[pm], a[pl]):
                    a[pm], a[pl] = a[pl], a[pm]
                vp = a[pm]
                pi, pj = pl, pr - 1
                a[pm], a[pj] = a[pj], a[pm]
                while True:
                    pi += 1
                    while less(a[pi], vp):
                        pi += 1
                    pj -= 1
                    while less(vp, a[pj]):
                        pj -= 1
                    if pi >= pj:
                        break
                    a[pi], a[pj] = a[pj], a[pi]
                pk = pr - 1
                a[pi], a[pk] = a[pk], a[pi]
                if pi - pl < pr - pi:
                    stack.append((pi + 1, pr))
                    pr = pi - 1
                else:
                    stack.append((pl, pi - 1))
                    pl = pi + 1
                cdepth -= 1
                stack[-1] = stack[-1] + (cdepth,)
            for pi in range(pl + 1, pr + 1):
                vi = a[pi]
                pj = pi
                while pj > pl and less(vi, a[pj - 1]):
                    a[pj] = a[pj - 1]
                    pj -= 1
                a[pj] = vi
        if not stack:
            break
        pl, pr, cdepth = stack.pop()
    return a


def argsort_py(keys, stats=None, depth_limit=True):
    return aquicksort(lambda i, j: keys[i] < keys[j], len(keys), stats, depth_limit)


def killer(n):
    """McIlroy's adversary run against aquicksort: keys that exhaust the depth budget."""
    gas = n
    val = [gas] * n
    state = {"solid": 0, "candidate": 0}

    def freeze(x):
        val[x] = state["solid"]
        state["solid"] += 1

    def less(x, y):
        if val[x] == gas and val[y] == gas:
            freeze(x if x == state["candidate"] else y)
        if val[x] == gas:
            state["candidate"] = x
        elif val[y] == gas:
            state["candidate"] = y
        return val[x] < val[y]

    aquicksort(less, n)
    return np.array(val, dtype=np.int64)


def main():
    if not np.__version__.startswith("1.24."):
        sys.exit("numpy %s: this fixture records numpy 1.24's argsort; run /usr/bin/python3"
                 % np.__version__)
    rng = np.random.default_rng(SEED)
    cases = []   # (label, keys)
    his = [1, 2, 3, 5, 18, None]   # value ranges: many ties down to all-equal; None = n
    for n in range(1, 301):
        hi = his[n % len(his)] or n
        cases.append(("random n=%d values 1..%d" % (n, hi),
                      rng.integers(1, hi + 1, size=n, dtype=np.int64)))
    for n in (17, 18, 40, 150):
        cases.append(("ascending n=%d" % n, np.arange(n, dtype=np.int64) // 3))
        cases.append(("descending n=%d" % n, (n - np.arange(n, dtype=np.int64)) // 3))
    # Adversaries, also with ties among the frozen values (halved, or capped at n/2) so that
    # the heapsort's own (unstable) tie order shows in the result.
    for n in (20, 64, 101, 300):
        k = killer(n)
        cases.append(("mcilroy killer n=%d" % n, k))
        cases.append(("mcilroy killer n=%d halved" % n, k // 2))
        cases.append(("mcilroy killer n=%d capped at n/2" % n, np.minimum(k, n // 2)))

    keys, sizes, order, meta = [], [], [], []
    heap_cases = heap_decides = 0
    for label, k in cases:
        want = np.argsort(k)   # default kind: quicksort
        stats = {"heapsort": 0, "partitions": 0}
        got = argsort_py([int(x) for x in k], stats)
        if list(want) != got:
            sys.exit("Python transcription disagrees with numpy on %s" % label)
        heap_cases += stats["heapsort"] > 0
        decides = stats["heapsort"] > 0 and argsort_py([int(x) for x in k],
                                                       depth_limit=False) != got
        heap_decides += decides
        keys.append(k)
        sizes.append(len(k))
        order.append(want.astype(np.int64))
        meta.append({"case": label, "n": len(k), "heapsort_calls": stats["heapsort"],
                     "result_depends_on_heapsort": bool(decides),
                     "partitions": stats["partitions"]})
    if heap_decides == 0:
        sys.exit("no case whose result depends on the heapsort fallback")

    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "keys.npy"), np.concatenate(keys).astype("<i8"))
    np.save(os.path.join(OUT, "sizes.npy"), np.array(sizes, dtype="<i8"))
    np.save(os.path.join(OUT, "argsort.npy"), np.concatenate(order).astype("<i8"))
    manifest = {
        "generated_by": "tools/make_argsort_fixture.py",
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "seed": SEED,
        "description": "Case i is keys[sum(sizes[:i]) : sum(sizes[:i+1])] (int64) and "
                       "argsort = np.argsort(keys) with the default kind ('quicksort') over the "
                       "same slice (indices local to the case). The Python transcription in the "
                       "script agreed with numpy on every case.",
        "cases_reaching_heapsort": heap_cases,
        "cases_whose_result_depends_on_heapsort": heap_decides,
        "cases": meta,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("%d cases (%d reach the heapsort fallback, %d depend on it), %d keys -> %s"
          % (len(cases), heap_cases, heap_decides, sum(sizes), OUT))


if __name__ == "__main__":
    main()
