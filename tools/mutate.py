#!/usr/bin/python3
"""make mutate -- mutation testing of engine/, metrics/ and harness/ against the test suite.

Reads tests/mutants.txt (format described at its top). For each mutant, one at a time, in a
scratch copy of the working tree (mkdtemp under /tmp; the developer's files are never touched):
replaces the original text (which must occur exactly once in the file) by the replacement,
rebuilds with make -j2, runs the mutant's tests (and `t2ibench verify` on the fixture folders it
names), puts the source back byte for byte, and records CAUGHT (a test failed, crashed or timed
out), SURVIVED (everything passed) or STILLBORN (the mutant does not compile; not counted).
Before the first mutant the unmutated tree must build and pass every test the list names.

A test entry may name test cases: test_runs:test_sigint_mid_block+test_help_cmd runs only those
cases of that binary (through T2I_TEST_ONLY, see tests/test.h), which keeps slow binaries cheap.

Usage: tools/mutate.py [--only ID[,ID...]] [--file PATH[,PATH...]] [--keep] [--jobs N] [--timeout S]
  --only   the mutants with these ids;  --file  the mutants of these source files (a path such as
  harness/runner.c, or just runner.c); both given: mutants matching either.
Exit status 0 when every mutant was caught, 1 when some survived, 2 on a setup error.
"""
import argparse
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_list(path):
    """Mutant lines: ID <TAB> file <TAB> original <TAB> replacement <TAB> tests.
    Text fields use C-like escapes \\t \\n \\\\ ; tests is a comma list of test binaries
    (test_npy, or test_runs:case+case for some cases only) and verify:<fixture folder> entries."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 5:
                sys.exit(f"{path}:{n}: expected 5 tab-separated fields, found {len(parts)}")
            mid, fname, orig, repl, tests = parts
            unesc = lambda s: s.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
            out.append({"id": mid, "file": fname, "orig": unesc(orig), "repl": unesc(repl),
                        "tests": [t.strip() for t in tests.split(",") if t.strip()], "line": n})
    ids = [m["id"] for m in out]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit(f"{path}: duplicate mutant ids {sorted(dup)}")
    return out


def copy_tree(dst):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.split(b"\0")
    for rel in files:
        if not rel:
            continue
        rel = rel.decode()
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue
        d = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy2(src, d)


def run(cmd, cwd, timeout, env=None):
    """Returns (exit status, output); a timeout counts as status 124."""
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, start_new_session=True)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or b"").decode("utf-8", "replace") + "\n[timeout]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma list of mutant ids to run")
    ap.add_argument("--file", help="comma list of source files whose mutants to run")
    ap.add_argument("--list", default=os.path.join(ROOT, "tests", "mutants.txt"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per test binary")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree (path printed)")
    a = ap.parse_args()

    mutants = parse_list(a.list)
    if a.only or a.file:
        want = set(a.only.split(",")) if a.only else set()
        files = [f.strip() for f in a.file.split(",") if f.strip()] if a.file else []
        unknown = want - {m["id"] for m in mutants}
        if unknown:
            sys.exit(f"--only: no mutant with id {', '.join(sorted(unknown))}")
        match_file = lambda m: any(m["file"] == f or m["file"].endswith("/" + f) for f in files)
        mutants = [m for m in mutants if m["id"] in want or match_file(m)]
        if not mutants:
            sys.exit("no mutant matches --only / --file")

    scratch = tempfile.mkdtemp(prefix="t2i_mutate_")
    # Readable by others: test_harness runs the binary as an unprivileged user when run as root.
    os.chmod(scratch, 0o755)
    tree = os.path.join(scratch, "tree")
    current = {}   # file path -> original bytes while a mutant is applied

    def restore():
        for path, data in list(current.items()):
            with open(path, "wb") as f:
                f.write(data)
            del current[path]

    def cleanup():
        restore()
        if a.keep:
            print(f"scratch tree kept: {tree}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    atexit.register(cleanup)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, fr: sys.exit(128 + s))

    os.makedirs(tree)
    copy_tree(tree)
    fixtures = os.environ.get("T2I_FIXTURES") or os.path.join(ROOT, "..", "shared", "fixtures")
    env = dict(os.environ, T2I_FIXTURES=os.path.abspath(fixtures), T2I_BIN="build/t2ibench")
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)

    # Every mutant must name an existing, unique original text.
    for m in mutants:
        p = os.path.join(tree, m["file"])
        if not os.path.isfile(p):
            sys.exit(f"mutant {m['id']} (line {m['line']}): no file {m['file']}")
        with open(p, encoding="utf-8") as f:
            c = f.read().count(m["orig"])
        if c != 1:
            sys.exit(f"mutant {m['id']} (line {m['line']}): original text occurs {c} times in "
                     f"{m['file']} (must be exactly once): {m['orig']!r}")

    pristine = {m["file"]: open(os.path.join(tree, m["file"]), "rb").read() for m in mutants}
    bins = sorted({t.split(":")[0] for m in mutants for t in m["tests"] if not t.startswith("verify:")})
    targets = ["build/t2ibench"] + [f"build/tests/{b}" for b in bins]

    def build(m=None):
        """Builds the binary and the test binaries of mutant m (all named ones when None)."""
        t = targets if m is None else ["build/t2ibench"] + sorted(
            {f"build/tests/{x.split(':')[0]}" for x in m["tests"] if not x.startswith("verify:")})
        return run(["make", f"-j{a.jobs}", "-s"] + t, tree, 3600, env)

    def tests_of(m):
        """Returns (caught, reason)."""
        for t in m["tests"]:
            if t.startswith("verify:"):
                rc, out = run(["build/t2ibench", "verify", os.path.join(env["T2I_FIXTURES"],
                                                                       t[7:])], tree, a.timeout, env)
            else:
                name, _, cases = t.partition(":")
                e = dict(env, T2I_TEST_ONLY=cases.replace("+", ","))
                rc, out = run([f"build/tests/{name}"], tree, a.timeout, e)
                # A case name that matches nothing must not pass silently.
                want = len(set(cases.split("+"))) if cases else 0
                summary = [l for l in out.splitlines() if " passed, " in l and " failed" in l]
                if rc == 0 and want and not any(l.split(": ")[-1].startswith(f"{want} passed")
                                                for l in summary):
                    return True, f"{t}: expected {want} cases to run, output: {summary[-1:]}"
            if rc != 0:
                fails = [l for l in out.splitlines() if "FAIL" in l][:1]
                return True, f"{t} exit {rc}" + (f": {fails[0].strip()[:100]}" if fails else "")
        return False, ""

    print(f"mutate: {len(mutants)} mutants, scratch {scratch}", flush=True)
    rc, out = build()
    if rc:
        print(out[-4000:])
        sys.exit("mutate: the unmutated tree does not build")
    # Baseline: each binary once, with the union of the cases named (all of it if any mutant
    # runs it whole), plus the verify folders.
    cases = {}
    for m in mutants:
        for t in m["tests"]:
            if t.startswith("verify:"):
                continue
            name, _, cs = t.partition(":")
            if not cs or cases.get(name, 1) is None:
                cases[name] = None
            else:
                cases[name] = cases.get(name, set()) | set(cs.split("+"))
    base = {"id": "baseline", "tests": [n + (":" + "+".join(sorted(c)) if c else "")
                                        for n, c in sorted(cases.items())] +
            sorted({t for m in mutants for t in m["tests"] if t.startswith("verify:")})}
    caught, why = tests_of(base)
    if caught:
        sys.exit(f"mutate: the unmutated tree fails its tests ({why}); fix that first")

    results = []
    t0 = time.time()
    for i, m in enumerate(mutants, 1):
        path = os.path.join(tree, m["file"])
        with open(path, "rb") as f:
            orig = f.read()
        current[path] = orig
        mutated = orig.decode("utf-8").replace(m["orig"], m["repl"], 1).encode("utf-8")
        with open(path, "wb") as f:
            f.write(mutated)
        try:
            rc, out = build(m)
            if rc:
                status, why = "STILLBORN", "does not compile"
            else:
                c, why = tests_of(m)
                status = "CAUGHT" if c else "SURVIVED"
        finally:
            restore()
        results.append((m, status, why))
        print(f"[{i}/{len(mutants)} {time.time() - t0:.0f}s] {status:9} {m['id']:24} "
              f"{m['file']}: {why}", flush=True)

    # Catch a restore that went wrong: every mutated file equals its copy taken at the start.
    unrestored = sorted(f for f, data in pristine.items()
                        if open(os.path.join(tree, f), "rb").read() != data)

    counted = [r for r in results if r[1] != "STILLBORN"]
    n_caught = sum(1 for r in counted if r[1] == "CAUGHT")
    print(f"\nmutate: {n_caught} caught / {len(counted)} total"
          f" ({len(results) - len(counted)} stillborn not counted)")
    surv = [r for r in counted if r[1] == "SURVIVED"]
    for m, _, _ in surv:
        print(f"  survived: {m['id']} {m['file']}: {m['orig'].strip()!r} -> {m['repl'].strip()!r}")
    if unrestored:
        print(f"mutate: NOT restored exactly in the scratch tree: {', '.join(unrestored)}")
        return 2
    return 1 if surv else 0


if __name__ == "__main__":
    sys.exit(main())
