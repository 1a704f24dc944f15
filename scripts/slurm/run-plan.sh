#!/usr/bin/env bash
# Drive a stagewatch plan through Slurm: submit an N-task array, wait by polling squeue,
# resubmit the shards `stagewatch status` reports missing (Slurm never retries a failed
# task by itself), then merge.
# Usage: run-plan.sh PLAN OUT N [MAX_ROUNDS]
# Env: STAGEWATCH_BIN (default: stagewatch on PATH), SBATCH_EXTRA (extra sbatch flags),
#      POLL_S (default 1).
set -euo pipefail
PLAN=$(realpath "$1")
OUT=$(realpath -m "$2")
N=$3
ROUNDS=${4:-3}
BIN=${STAGEWATCH_BIN:-stagewatch}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT/slurm-logs"
missing() {
  { "$BIN" status --plan "$PLAN" --out "$OUT" --shards "$N" --json || true; } \
    | sed -n 's/.*"missing_shards":"\([^"]*\)".*/\1/p'
}
# Only the shards with missing jobs are submitted (all of them on a fresh run), so
# rerunning this driver after a crash resumes where the last run stopped.
array=$(missing)
for round in $(seq 1 "$ROUNDS"); do
  [ -z "$array" ] && break
  # shellcheck disable=SC2086
  jobid=$(cd "$OUT/slurm-logs" && STAGEWATCH_BIN="$BIN" sbatch --parsable --export=ALL \
    --array="$array" ${SBATCH_EXTRA:-} "$HERE/stagewatch-array.sbatch" "$PLAN" "$OUT" "$N")
  jobid=${jobid%%;*}
  echo "round $round: submitted array job $jobid --array=$array"
  while [ -n "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ]; do sleep "${POLL_S:-1}"; done
  array=$(missing)
  [ -n "$array" ] && echo "round $round: shards still missing: $array"
done
if [ -n "$array" ]; then
  echo "giving up after $ROUNDS rounds; missing shards: $array" >&2
  exit 1
fi
"$BIN" --quiet merge --plan "$PLAN" --out "$OUT"
