#!/bin/sh
# slurm_test.sh -- `make test-slurm`: a real single-node Slurm on localhost (Debian's slurmctld,
# slurmd and munge; `make deps` installs them). Runs a 3-task array of `t2ibench run --shard
# slurm` plus a merge job that depends on it (afterany), and compares the merged run with a
# single-process run bit for bit (every per-sample row and every metric value/std/n).
#
# Everything lives in one mktemp directory: the munge key and socket, slurm.conf, Slurm state and
# spool, logs, the databases. The daemons listen on localhost ports 16817/16818 and are stopped
# by their pid (from their pid files) when the script exits. ProctrackType=proctrack/pgid: with
# proctrack/linuxproc, cancelled jobs escaped inside containers.
#
# Usage (from the repository root): tests/slurm_test.sh [BIN]   (BIN default build/t2ibench)
set -u
BIN=${1:-build/t2ibench}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
REPO=$(pwd)
for p in slurmctld slurmd munged sbatch squeue sqlite3; do
    if ! command -v $p >/dev/null 2>&1 && [ ! -x /usr/sbin/$p ]; then
        echo "slurm_test: $p is missing (make deps installs slurmctld slurmd slurm-client munge sqlite3)"
        exit 2
    fi
done
PATH=$PATH:/usr/sbin
T=$(mktemp -d /tmp/t2islurm.XXXXXX) || exit 2
pids=""
cleanup() {
    # The daemons by the pids they wrote; wait (up to 10 s) until they are gone.
    for f in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munged.pid"; do
        [ -s "$f" ] && pids="$pids $(cat "$f")"
    done
    for p in $pids; do kill "$p" 2>/dev/null; done
    i=0
    alive=""
    while [ $i -lt 20 ]; do
        alive=""
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
        [ -z "$alive" ] && break
        i=$((i + 1)); sleep 0.5
    done
    for p in $alive; do kill -9 "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ] || [ "$status" != 0 ]; then
        echo "slurm_test: logs kept in $T"
    else
        rm -rf "$T"
    fi
}
status=1
trap cleanup EXIT
fail() {
    echo "slurm_test: FAIL: $*"
    for l in "$T"/*.log "$T"/out/*; do [ -f "$l" ] && { echo "--- $l"; tail -20 "$l"; }; done
    exit 1
}

HOST=$(hostname -s)
mkdir -p "$T/state" "$T/spool" "$T/out" "$T/shards" "$T/munge"
chmod 700 "$T/munge"
# munge: own key, socket and pid file under $T.
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$T/munge/munge.key"
munged --key-file="$T/munge/munge.key" --socket="$T/munge/munge.sock" \
       --pid-file="$T/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/seed" \
       --force >/dev/null 2>&1 || fail "munged did not start"
cat >"$T/slurm.conf" <<EOF
ClusterName=t2ibench
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
KillWait=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=t2i Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$T/slurm.conf"
slurmctld -i -f "$SLURM_CONF" >/dev/null 2>&1 || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" >/dev/null 2>&1 || fail "slurmd did not start"
i=0
until sinfo -h -o %T 2>/dev/null | grep -q idle; do
    i=$((i + 1)); [ $i -gt 60 ] && fail "the node never became idle: $(sinfo 2>&1)"
    sleep 1
done

# A 12-sample suite in blocks of 4: 3 blocks, one per array task.
"$BIN" suite freeze --captions suites/data/cub/test_captions.tsv --protocol \
    suites/protocols/smoke.json --vocab suites/vocab/cub_test.vocab.txt --dataset cub --seed 7 \
    --images 12 --block-size 4 --name slurm --out "$T/t.suite" >"$T/freeze.log" 2>&1 ||
    fail "suite freeze"
ARGS="--suite $T/t.suite --model $REPO/suites/models/demo_bird.json \
      --protocol $REPO/suites/protocols/smoke.json --evaluators $REPO/suites/evaluators/demo_cub.json \
      --batch 2 --threads 1"
cat >"$T/shards.sbatch" <<EOF
#!/bin/sh
#SBATCH --array=0-2 --cpus-per-task=1 --output=$T/out/shard_%a.out
cd $REPO && exec $BIN run $ARGS --shard slurm --db $T/shards/\$SLURM_ARRAY_TASK_ID.db
EOF
cat >"$T/merge.sbatch" <<EOF
#!/bin/sh
#SBATCH --output=$T/out/merge.out
cd $REPO && exec $BIN merge --out $T/merged/t2ibench.db $T/shards/0.db $T/shards/1.db $T/shards/2.db
EOF
jid=$(sbatch --parsable "$T/shards.sbatch") || fail "sbatch shards"
mid=$(sbatch --parsable --dependency=afterany:$jid "$T/merge.sbatch") || fail "sbatch merge"
# The single-process reference, meanwhile.
"$BIN" run $ARGS --db "$T/single.db" -q >"$T/single.log" 2>&1 || fail "single-process run"
i=0
while squeue -h -j "$jid,$mid" 2>/dev/null | grep -q .; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "jobs still queued after 10 minutes: $(squeue)"
    sleep 1
done
[ -f "$T/merged/t2ibench.db" ] || fail "merge wrote no database"
for k in 0 1 2; do
    grep -q "shard $k/3" "$T/out/shard_$k.out" || fail "task $k did not run shard $k/3"
done
grep -q "merged 3 runs" "$T/out/merge.out" || fail "merge did not merge 3 runs"
# Bit for bit: every row and metric of the merged run equals the single-process run's.
q() { sqlite3 "$T/merged/t2ibench.db" "ATTACH '$T/single.db' AS s; $1"; }
rows=$(q "SELECT count(*) FROM samples x JOIN s.samples y ON x.sample = y.sample
          WHERE x.is_logits IS y.is_logits AND x.rp_rank IS y.rp_rank AND x.rp_scores IS y.rp_scores
          AND x.fid_feat IS y.fid_feat AND x.image_sha256 IS y.image_sha256
          AND x.checksum IS y.checksum")
mets=$(q "SELECT count(*) FROM metrics x JOIN s.metrics y ON x.name = y.name
          WHERE x.value IS y.value AND x.std IS y.std AND x.n = y.n")
nmet=$(q "SELECT count(*) FROM s.metrics")
st=$(q "SELECT status FROM runs")
[ "$rows" = 12 ] || fail "$rows of 12 sample rows identical"
[ "$mets" = "$nmet" ] && [ "$nmet" -ge 3 ] || fail "$mets of $nmet metrics identical"
[ "$st" = complete ] || fail "merged run status '$st'"
echo "slurm_test: 3-task array + afterany merge = single-process run (12 rows, $nmet metrics, bit for bit)"
status=0
