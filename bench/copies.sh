#!/usr/bin/env bash
# `gardener backup copy` to an encrypted `dir` target and to an S3-compatible server, against
# stock tools doing the same with the same bytes.
#
# Makes a ~SIZE_MB MiB backup (incompressible files, so the archive is about that size) in a
# fake home, then, 5 runs each (RUNS=n), alternating which side goes first, median wall time of:
#   dir  age -r RECIPIENT -o DRIVE/X.age ARCHIVE   vs  gardener backup copy ID --target drive
#        (encrypts to the same recipient, writes .partial, fsyncs, renames, checks the size)
#   s3   boto3 upload_file of a file as large as    vs  gardener backup copy ID --target bucket
#        our encrypted copy (multipart, its          (encrypts and uploads as it reads: signed
#        defaults: 8 MiB parts, 10 threads)          multipart, 16 MiB parts, 3 at a time)
# against `s3s-fs` on 127.0.0.1. The "drive" and the server's storage are on tmpfs (/dev/shm),
# another volume than the data, as a dir target must be; what is measured is reading,
# encrypting and sending, not the speed of a disk. Each copy (ours and age's) is deleted before
# the next run, outside the timing.
#
# Usage: bench/copies.sh [SIZE_MB]   (default 2048; needs age, s3s-fs, python3 with boto3)
#   BENCH_DIR=dir  work directory (default: a new one under ${TMPDIR:-/tmp}); removed at the end
#   SHM=dir        the tmpfs for the drive and the server (default /dev/shm)
# Prints ratios and the targets: dir copy <= 1.20 of age's time; S3 throughput >= 0.80 of
# boto3's. A missed target is marked MISSED but is not an error.
set -euo pipefail

SIZE_MB=${1:-2048}
RUNS=${RUNS:-5}
DIR_TARGET=1.20
S3_TARGET=0.80
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHM=${SHM:-/dev/shm}

die() {
  echo "bench/copies.sh: $1" >&2
  if [[ -n ${2:-} && -s ${2:-} ]]; then
    echo "--- last lines of $2:" >&2
    tail -n 20 "$2" >&2
  fi
  exit 1
}

[[ $SIZE_MB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive whole number of MiB, not '$SIZE_MB'"
for tool in age age-keygen python3 cargo awk; do
  command -v "$tool" >/dev/null || die "needs '$tool' on PATH (Debian: apt-get install age)"
done
S3S=$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")
[[ -x $S3S ]] || die "needs s3s-fs (scripts/install-deps.sh --test installs it)"
python3 -c 'import boto3' 2>/dev/null || die "needs Python's boto3 (pip install boto3)"

echo "== building the release CLI" >&2
(cd "$ROOT" && cargo build --release -p gardener-cli) || die "cargo build failed"
BIN=$ROOT/target/release/gardener

WORK=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/gardener-bench-copies.XXXXXX")}
mkdir -p "$WORK"
FAST=$(mktemp -d "$SHM/gardener-bench-copies.XXXXXX")
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
  rm -rf -- "$FAST"
  [[ -z ${BENCH_DIR:-} ]] && rm -rf -- "$WORK"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_mb=$((SIZE_MB * 2 + 256))
avail_mb=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
((avail_mb >= need_mb)) || die "needs about $need_mb MiB free in $WORK, has $avail_mb MiB"
fast_mb=$(df -Pm "$FAST" | awk 'NR == 2 { print $4 }')
((fast_mb >= SIZE_MB * 3)) || die "needs about $((SIZE_MB * 3)) MiB free in $SHM, has $fast_mb MiB (set SHM)"
[[ $(stat -c %d "$WORK") != $(stat -c %d "$FAST") ]] || die "$SHM is on the same volume as $WORK"

HOME_BENCH=$WORK/home
DATA=$HOME_BENCH/.codebase-gardener
LOG=$WORK/log
CFG=$WORK/gardener.toml
rm -rf -- "$HOME_BENCH" "$WORK/xdg" "$WORK/backups" "$LOG"
mkdir -p "$DATA" "$WORK/xdg/config" "$WORK/xdg/data" "$WORK/xdg/state" "$LOG" "$FAST/s3/bench"

echo "== generating ~$SIZE_MB MiB of incompressible files in $DATA" >&2
python3 - "$DATA" "$SIZE_MB" <<'PY' || die "generating the data failed"
import os, random, sys
root, size_mb = sys.argv[1], int(sys.argv[2])
rng, MiB = random.Random(1), 1 << 20
files = max(1, size_mb // 128)
for i in range(files):
    left = size_mb * MiB // files
    with open(os.path.join(root, f"blob-{i:03d}.bin"), "wb") as f:
        while left:
            n = min(left, 16 * MiB)
            f.write(rng.randbytes(n))
            left -= n
PY

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ACCESS=bench-access
SECRET=bench-secret-not-for-output
"$S3S" --host 127.0.0.1 --port "$PORT" --access-key "$ACCESS" --secret-key "$SECRET" "$FAST/s3" \
  >"$LOG/s3s.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
(echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "s3s-fs did not listen on port $PORT" "$LOG/s3s.log"

printf 'access_key_id = "%s"\nsecret_access_key = "%s"\n' "$ACCESS" "$SECRET" >"$WORK/bench.credentials"
chmod 600 "$WORK/bench.credentials"
cat >"$CFG" <<TOML
[backup]
destination = "$WORK/backups"
pause_app = false
include_gardener = false
include_ollama_manifests = false

[[backup.targets]]
name = "drive"
kind = "dir"
path = "$FAST/drive"

[[backup.targets]]
name = "bucket"
kind = "s3"
endpoint = "http://127.0.0.1:$PORT"
bucket = "bench"
credentials = "bench.credentials"
TOML

export HOME=$HOME_BENCH XDG_CONFIG_HOME=$WORK/xdg/config XDG_DATA_HOME=$WORK/xdg/data \
  XDG_STATE_HOME=$WORK/xdg/state
unset XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS
GARDENER=("$BIN" --config "$CFG")

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
jget() { python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if k.isdigit() else v[k]
print(v)' "$1" "$2"; }
# timed CMD...: runs CMD, sets WALL (s).
timed() {
  local t0
  t0=$(now)
  "$@"
  WALL=$(sub "$t0" "$(now)")
}

echo "== backing up (not timed)" >&2
"${GARDENER[@]}" backup create --no-verify --json >"$LOG/create.json" 2>"$LOG/create.err" || true
ID=$(jget "$LOG/create.json" backup.id) || die "gardener backup create failed" "$LOG/create.err"
ARCHIVE=$(jget "$LOG/create.json" backup.path)
ARCHIVE_SIZE=$(stat -c %s "$ARCHIVE")
# The create copied to both targets: delete those copies (and the records of them) first.
reset_targets() {
  rm -rf -- "$FAST/drive" "$FAST/s3/bench" "$WORK/xdg/state/gardener/copies.json"
  mkdir -p "$FAST/s3/bench"
}
reset_targets
"${GARDENER[@]}" backup key show >/dev/null 2>&1 || die "no recovery key"
RECIPIENT=$(age-keygen -y "$WORK/xdg/config/gardener/backup-key.txt") || die "cannot read the key's recipient"
# Warm the page cache for both sides alike.
cat "$ARCHIVE" >/dev/null

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); archive $ID: $ARCHIVE_SIZE bytes"

# --- dir -------------------------------------------------------------------------------------
D_AGE=() D_OURS=()
age_dir() {
  # As for ours, the destination starts out absent (not overwritten inside the timing).
  rm -rf -- "$FAST/age"
  mkdir -p "$FAST/age"
  timed age -r "$RECIPIENT" -o "$FAST/age/$ID.tar.zst.age" "$ARCHIVE" || die "age failed"
  D_AGE+=("$WALL")
  echo "   dir  age       $WALL s"
}
# ours TARGET LABEL: one timed `gardener backup copy` of the backup to TARGET (both targets
# emptied first); sets WALL, leaves its report in $LOG/copy-LABEL.json.
ours() {
  reset_targets
  timed "${GARDENER[@]}" backup copy "$ID" --target "$1" --json >"$LOG/copy-$2.json" 2>"$LOG/copy-$2.err" ||
    die "gardener backup copy --target $1 failed" "$LOG/copy-$2.err"
  [[ $(jget "$LOG/copy-$2.json" copies.0.report.copied.0) == "$ID" ]] || die "nothing was copied" "$LOG/copy-$2.json"
  printf '   %-4s gardener  %s s\n' "$2" "$WALL"
}
ours_dir() {
  ours drive dir
  D_OURS+=("$WALL")
}
echo "== copy to an encrypted dir target ($RUNS runs each)"
for ((r = 1; r <= RUNS; r++)); do
  if ((r % 2 == 0)); then ours_dir; age_dir; else age_dir; ours_dir; fi
done
COPY_SIZE=$(stat -c %s "$FAST/drive/$ID.tar.zst.age")
AGE_SIZE=$(stat -c %s "$FAST/age/$ID.tar.zst.age")
# The copy is a plain age file: Debian's age decrypts it to the archive, byte for byte.
age -d -i "$WORK/xdg/config/gardener/backup-key.txt" "$FAST/drive/$ID.tar.zst.age" | cmp - "$ARCHIVE" ||
  die "the dir copy does not decrypt to the archive"

# --- s3 --------------------------------------------------------------------------------------
S_BOTO=() S_OURS=()
boto() {
  rm -rf -- "$FAST/s3/bench" && mkdir -p "$FAST/s3/bench"
  timed python3 - "http://127.0.0.1:$PORT" "$FAST/age/$ID.tar.zst.age" <<PY || die "boto3 upload failed"
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="$ACCESS",
                  aws_secret_access_key="$SECRET", region_name="us-east-1")
s3.upload_file(sys.argv[2], "bench", "boto3.tar.zst.age")
PY
  S_BOTO+=("$WALL")
  echo "   s3   boto3     $WALL s"
}
ours_s3() {
  ours bucket s3
  S_OURS+=("$WALL")
}
echo "== copy to the S3-compatible server on loopback ($RUNS runs each)"
for ((r = 1; r <= RUNS; r++)); do
  if ((r % 2 == 0)); then ours_s3; boto; else boto; ours_s3; fi
done
S3_BYTES=$(jget "$LOG/copy-s3.json" copies.0.report.bytes)

# --- summary ---------------------------------------------------------------------------------
dm_age=$(median "${D_AGE[@]}") dm_ours=$(median "${D_OURS[@]}")
sm_boto=$(median "${S_BOTO[@]}") sm_ours=$(median "${S_OURS[@]}")
d_ratio=$(ratio "$dm_ours" "$dm_age")
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1048576 }'; }
boto_tp=$(mbps "$AGE_SIZE" "$sm_boto") ours_tp=$(mbps "$S3_BYTES" "$sm_ours")
s_ratio=$(awk -v a="$S3_BYTES" -v ta="$sm_ours" -v b="$AGE_SIZE" -v tb="$sm_boto" 'BEGIN { printf "%.2f", (a / ta) / (b / tb) }')
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = dir == "le" ? v <= t + 1e-9 : v >= t - 1e-9; print ok ? "ok" : "MISSED" }'; }
echo
echo "== summary (median of $RUNS; archive $ARCHIVE_SIZE bytes, copy $COPY_SIZE bytes, age's $AGE_SIZE)"
printf '   dir copy, encrypted   %7.2f s vs age %7.2f s   ratio %s (target <= %s) %s\n' \
  "$dm_ours" "$dm_age" "$d_ratio" "$DIR_TARGET" "$(verdict "$d_ratio" "$DIR_TARGET" le)"
printf '   s3 copy               %4s MiB/s vs boto3 %4s MiB/s   ratio %s (target >= %s) %s\n' \
  "$ours_tp" "$boto_tp" "$s_ratio" "$S3_TARGET" "$(verdict "$s_ratio" "$S3_TARGET" ge)"
