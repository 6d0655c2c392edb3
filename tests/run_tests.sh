#!/usr/bin/env bash
# Runs every test binary given on the command line (from the repository root) and sums their
# "<suite>: N passed, N failed" lines into one final "N passed, N failed" line. A binary that
# crashes or prints no summary counts as one failure. Exit status: 0 only when nothing failed.
set -u
total_pass=0
total_fail=0
for bin in "$@"; do
    name=$(basename "$bin")
    out=$("$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' | grep -E 'FAIL|passed, [0-9]+ failed|CHECK|ERROR|error' | sed "s/^/[$name] /" >&2
    line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -n 20 >&2
        echo "[$name] crashed or printed no summary (exit $rc)" >&2
        total_fail=$((total_fail + 1))
        continue
    fi
    p=$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
    f=$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
