#!/usr/bin/env bash
# A real Slurm in CI: installs slurm-wlm and munge (Debian) when missing, starts a
# single-node cluster on loopback, runs an 8-shard array job over a generated archive
# through run-plan.sh, merges, compares with the same plan run on one machine, and
# stops only the daemons it started (by pid).
# Usage: scripts/slurm/ci-test.sh [STAGEWATCH_BIN]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(realpath "${1:-$ROOT/target/release/stagewatch}")
T0=$(date +%s)
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2; do
    if apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null; then break; fi
    [ "$attempt" = 2 ] && { echo "apt-get install slurm-wlm munge failed" >&2; exit 1; }
    sleep 5
  done
fi
D=$(mktemp -d /tmp/stagewatch-slurm.XXXXXX)
chmod 755 "$D"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$D"
}
trap cleanup EXIT

HOST=$(hostname -s)
CPUS=$(nproc)
export SLURM_CONF=$D/slurm.conf
mkdir -p "$D/state" "$D/spool" "$D/munge"
cat > "$SLURM_CONF" <<CONF
ClusterName=stagewatch-ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

# munge, as the munge user, on its own socket.
chown munge:munge "$D/munge"
MUNGE_SOCK=$D/munge/munge.socket
setpriv --reuid=munge --regid=munge --init-groups \
  munged --foreground --socket="$MUNGE_SOCK" --pid-file="$D/munge/munged.pid" \
  --seed-file="$D/munge/seed" --log-file="$D/munge/munged.log" >"$D/munge/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$MUNGE_SOCK" ] && break; sleep 0.1; done
# Slurm's munge plugins take the socket from AuthInfo.
echo "AuthInfo=socket=$MUNGE_SOCK" >> "$SLURM_CONF"

slurmctld -D -i -f "$SLURM_CONF" >"$D/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$HOST" >"$D/slurmd.out" 2>&1 &
PIDS+=($!)
ready=""
for _ in $(seq 100); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then ready=1; break; fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "Slurm did not come up" >&2
  tail -n 20 "$D/slurmctld.log" "$D/slurmd.log" "$D/slurmctld.out" "$D/slurmd.out" >&2 || true
  exit 1
fi
echo "slurm up after $(( $(date +%s) - T0 )) s: $(sinfo -h -o '%P %D %T %c')"

# The archive, the plan, and the single-machine reference.
"$BIN" --quiet synth --series withdrawal-series --out "$D/archive"
"$BIN" --quiet plan --images "$D/archive/catalog.csv" --sites "$D/archive/sites.geojson" \
  --pairs baseline:2026-03-02 --out "$D/plan.jsonl"
"$BIN" --quiet run --plan "$D/plan.jsonl" --out "$D/single"
"$BIN" --quiet merge --plan "$D/plan.jsonl" --out "$D/single"

STAGEWATCH_BIN=$BIN POLL_S=0.5 "$ROOT/scripts/slurm/run-plan.sh" "$D/plan.jsonl" "$D/slurm" 8
tasks=$(ls "$D/slurm/slurm-logs" | grep -c '^slurm-' || true)
# Lose the outputs of shards 3 and 5 (as if their nodes died): the driver must submit
# exactly those shards again and merge the same bytes.
lost=0
i=0
while IFS= read -r line; do
  if [ $((i % 8)) = 3 ] || [ $((i % 8)) = 5 ]; then
    key=$(printf '%s' "$line" | sed -n 's/^{"key":"\([0-9a-f]*\)".*/\1/p')
    rm -f "$D/slurm/jobs/$key.json" && lost=$((lost + 1))
  fi
  i=$((i + 1))
done < "$D/plan.jsonl"
resub=$(STAGEWATCH_BIN=$BIN POLL_S=0.5 "$ROOT/scripts/slurm/run-plan.sh" "$D/plan.jsonl" "$D/slurm" 8)
echo "$resub"
echo "$resub" | grep -q -- '--array=3,5$' || { echo "expected a resubmission of shards 3,5" >&2; exit 1; }
rm -rf "$D/slurm/slurm-logs"
if diff -r "$D/single" "$D/slurm" >/dev/null; then
  echo "slurm: 8-shard array ($tasks task logs), then shards 3,5 resubmitted after losing $lost job outputs: merged byte-identical to the single-machine run"
else
  echo "slurm: merged outputs differ from the single-machine run" >&2
  diff -rq "$D/single" "$D/slurm" >&2 || true
  exit 1
fi
echo "slurm test took $(( $(date +%s) - T0 )) s"
