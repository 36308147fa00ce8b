#!/usr/bin/env bash
# `gardener backup create | restore | verify` against plain `tar | zstd` on the same data.
#
# Generates (deterministically, fixed seeds) a ~SIZE_MB MiB stand-in for ~/.codebase-gardener
# in a fake home: ~60 % of the bytes in tens of thousands of 1-64 KiB source/markdown files
# (compressible text), ~35 % in four large incompressible files, ~5 % in a SQLite memory.db.
# Then, 3 runs each (baseline and ours alternating, page cache dropped before every run when
# /proc/sys/vm/drop_caches is writable, otherwise the inputs are read once before every run so
# both sides start equally warm), median wall time of:
#   backup   tar -cf - | zstd -T0 -3            vs  gardener backup create --no-verify
#   restore  zstd -d -c | tar -xf -             vs  gardener backup restore --to DIR (verifies
#            and fsyncs before it returns; baseline + `sync` is shown for information)
#   verify   cat archive, zstd -d -c archive    vs  gardener backup verify
# and checks once that our restored tree is identical (`diff -r`) and that `tar --zstd -tf`
# reads our archive. Then a chain in a destination of its own: a full backup, three incremental
# ones each after 1 % of the files changed (compared with the full backup's time, and their
# archives with `tar | zstd -3` of just the changed files), three of the unchanged tree, then
# the restore of that 7th backup against the restore of a full backup of the same tree.
#
# Usage: bench/backup.sh [SIZE_MB]   (default 2048; needs zstd, GNU tar, python3 with sqlite3)
#   BENCH_DIR=dir  work directory (default: a new one under ${TMPDIR:-/tmp}); removed at the end
#   KEEP=1         keep the work directory; a later run with the same BENCH_DIR, SIZE_MB and
#                  SEED reuses the generated tree
#   SEED=n         data seed (default 1)
#   DROP_CACHES=0  do not drop the page cache even when allowed (warm runs instead)
# Prints a summary with ratios against the baseline and the targets: backup <= 1.00 and archive
# size within 2 %, restore <= 1.10 of zstd -d | tar -x && sync; incremental after 1 % changed
# <= 0.10 of a full backup and its archive <= 1.5 of tar | zstd -3 of the changed files,
# unchanged <= 0.05, restore of the 7th backup of a chain <= 1.20 of a full one's. A missed
# target is marked MISSED but is not an error; the exit status is non-zero only when something
# failed (or a restored copy differs).
set -euo pipefail

SIZE_MB=${1:-2048}
SEED=${SEED:-1}
RUNS=3
BACKUP_TARGET=1.00
SIZE_TARGET_PCT=2
RESTORE_TARGET=1.10
INC_TARGET=0.10
INC_SIZE_TARGET=1.5
UNCHANGED_TARGET=0.05
CHAIN_RESTORE_TARGET=1.20
ROOT=$(cd "$(dirname "$0")/.." && pwd)

die() {
  echo "bench/backup.sh: $1" >&2
  if [[ -n ${2:-} && -s ${2:-} ]]; then
    echo "--- last lines of $2:" >&2
    tail -n 20 "$2" >&2
  fi
  exit 1
}

[[ $SIZE_MB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive whole number of MiB, not '$SIZE_MB'"
[[ $SEED =~ ^[0-9]+$ ]] || die "SEED must be a whole number, not '$SEED'"
for tool in zstd tar python3 cargo diff find awk; do
  command -v "$tool" >/dev/null || die "needs '$tool' on PATH"
done
python3 -c 'import sqlite3, random; random.Random(1).randbytes(1)' 2>/dev/null ||
  die "needs python3 >= 3.9 with the sqlite3 module"
tar --help 2>/dev/null | grep -- '--zstd' >/dev/null || die "needs GNU tar with --zstd"
TIME_BIN=
[[ -x /usr/bin/time ]] && TIME_BIN=/usr/bin/time

echo "== building the release CLI" >&2
(cd "$ROOT" && cargo build --release -p gardener-cli) || die "cargo build failed"
BIN=$ROOT/target/release/gardener
[[ -x $BIN ]] || die "no binary at $BIN after the build"

# --- work directory -------------------------------------------------------------------------
MARK=.gardener-bench-backup
if [[ -n ${BENCH_DIR:-} ]]; then
  mkdir -p "$BENCH_DIR"
  WORK=$(cd "$BENCH_DIR" && pwd)
  if [[ ! -e $WORK/$MARK && -n $(ls -A "$WORK") ]]; then
    die "BENCH_DIR $WORK is not empty and was not made by this script; it would be deleted"
  fi
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/gardener-bench-backup.XXXXXX")
fi
touch "$WORK/$MARK"
cleanup() {
  if [[ ${KEEP:-} == 1 ]]; then
    echo "kept the work directory $WORK" >&2
  else
    rm -rf -- "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HOME_BENCH=$WORK/home
DATA=$HOME_BENCH/.codebase-gardener
DEST=$WORK/backups
LOG=$WORK/log
CFG=$WORK/gardener.toml
BASE=$WORK/base.tar.zst
R_BASE=$WORK/restore-base
R_OURS=$WORK/restore-ours
DONE=$WORK/tree-$SIZE_MB-seed$SEED.done

# Everything but a reusable tree starts afresh.
rm -rf -- "$WORK/xdg" "$DEST" "$LOG" "$BASE" "$R_BASE" "$R_OURS" "$CFG"
if [[ ! -e $DONE ]]; then
  rm -rf -- "$HOME_BENCH" "$WORK"/tree-*.done
fi
mkdir -p "$HOME_BENCH" "$WORK/xdg/config" "$WORK/xdg/data" "$WORK/xdg/state" "$LOG"

# Tree + our archive + base archive + two restored copies, with room to spare.
need_mb=$((SIZE_MB * 7 / 2))
[[ -e $DONE ]] && need_mb=$((SIZE_MB * 5 / 2))
avail_mb=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
((avail_mb >= need_mb)) ||
  die "needs about $need_mb MiB free in $WORK, has $avail_mb MiB (set BENCH_DIR or a smaller SIZE_MB)"

# --- data ------------------------------------------------------------------------------------
if [[ -e $DONE ]]; then
  echo "== reusing the generated tree in $DATA" >&2
else
  echo "== generating ~$SIZE_MB MiB in $DATA (seed $SEED)" >&2
  python3 - "$DATA" "$SIZE_MB" "$SEED" <<'PY' || die "generating the data failed"
import os, random, sqlite3, sys
from multiprocessing import Pool

root, size_mb, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MiB = 1 << 20
total = size_mb * MiB
text_total, blob_total = total * 60 // 100, total * 35 // 100
db_total = total - text_total - blob_total

SYL = ("ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no "
       "nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo za ze zi zo").split()
WORDS = ("the of and to in is that for it as with was on be by this are from or have an not they "
         "which you one had but all were when we there can been has more if will what about so "
         "would into them some could time these two may then do first any like my now over such "
         "our man me even most made after also did many before must through back years where much "
         "your way well down should because each just those people how too little state good very "
         "make world still own see men work long get here between both life being under never day "
         "same another know while last might us great old year off come since against go came right "
         "used take three model index query file project memory context embedding prompt token "
         "request response cache config server client update value result error user data").split()

def make_ids(rng, n):
    out = set()
    while len(out) < n:
        out.add("_".join(rng.choice(SYL) + rng.choice(SYL) for _ in range(rng.randint(1, 3))))
    return sorted(out)

def code_line(rng, ids):
    r = rng.random()
    ind = "    " * rng.choice((0, 1, 1, 2, 2, 2, 3))
    a, b, c = rng.choice(ids), rng.choice(ids), rng.choice(ids)
    if r < 0.18: return f"{ind}{a} = {b}.{c}({rng.choice(ids)}, {rng.randint(0, 999)})"
    if r < 0.28: return f"{ind}def {a}(self, {b}, {c}=None):"
    if r < 0.36: return f"{ind}if {a} is not None and {b}.{c}:"
    if r < 0.44: return f"{ind}return {a}({b}, {c})"
    if r < 0.50: return f"{ind}for {a} in self.{b}:"
    if r < 0.58: return f"{ind}# " + " ".join(rng.choices(WORDS, k=rng.randint(3, 12)))
    if r < 0.63: return f"from {a}.{b} import {c}"
    if r < 0.70: return f"{ind}let {a} = {b}::{c}(&{rng.choice(ids)})?;"
    if r < 0.76: return f"{ind}self.{a}[\"{b}\"] = {c}"
    if r < 0.82: return ""
    if r < 0.88:
        return f"{ind}raise {a.title()}Error(\"{' '.join(rng.choices(WORDS, k=rng.randint(2, 7)))}\")"
    return f"{ind}{a}.{b}({c}={rng.random():.4f})"

def md_line(rng, ids):
    r = rng.random()
    if r < 0.08:
        return "#" * rng.randint(1, 3) + " " + " ".join(rng.choices(WORDS, k=rng.randint(2, 6))).capitalize()
    if r < 0.25: return "- " + " ".join(rng.choices(WORDS, k=rng.randint(4, 14))) + f" `{rng.choice(ids)}`"
    if r < 0.32: return ""
    return " ".join(rng.choices(WORDS, k=rng.randint(8, 22))).capitalize() + "."

AREAS = (("src", "py", code_line), ("lib", "rs", code_line), ("docs", "md", md_line),
         ("notes", "md", md_line), ("tests", "py", code_line))
IDS = None

def init():
    global IDS
    IDS = make_ids(random.Random(seed), 4000)

def write_text(job):
    i, path, size, kind = job
    rng = random.Random(seed * 1_000_003 + i)
    line, out, n = AREAS[kind][2], [], 0
    while n < size:
        s = line(rng, IDS)
        out.append(s)
        n += len(s) + 1
    with open(path, "wb") as f:
        f.write(("\n".join(out) + "\n").encode()[:size])
    return size

def write_blob(job):
    i, path, size = job
    rng = random.Random(seed * 7_000_001 + i)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MiB)
            f.write(rng.randbytes(n))
            left -= n
    return size

if __name__ == "__main__":
    init()
    master = random.Random(seed)
    jobs, n, i = [], 0, 0
    while n < text_total:
        size = min(int(2 ** master.uniform(10, 16)), text_total - n)  # 1-64 KiB, log-uniform
        kind = master.randrange(len(AREAS))
        area, ext, _ = AREAS[kind]
        d = os.path.join(root, "projects", f"project-{i // 5000:02d}", area, f"{(i // 60) % 1000:03d}")
        jobs.append((i, os.path.join(d, f"{master.choice(IDS)}_{i}.{ext}"), size, kind))
        n += size
        i += 1
    for d in sorted({os.path.dirname(j[1]) for j in jobs}):
        os.makedirs(d, exist_ok=True)
    os.makedirs(os.path.join(root, "index"), exist_ok=True)
    nblobs = 4
    blobs = [(k, os.path.join(root, "index", f"embeddings-{k}.bin"),
              blob_total // nblobs + (blob_total % nblobs if k == 0 else 0)) for k in range(nblobs)]
    with Pool(os.cpu_count() or 1, initializer=init) as pool:
        pending = pool.map_async(write_blob, blobs)
        sum(pool.imap_unordered(write_text, jobs, chunksize=64))
        pending.get()
    db_path = os.path.join(root, "memory.db")
    db = sqlite3.connect(db_path)
    db.execute("create table memory (id integer primary key, project text, created text, kind text, body text)")
    rng = random.Random(seed * 13)
    while os.path.getsize(db_path) < db_total:
        rows = [(f"project-{rng.randrange(20):02d}",
                 f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
                 rng.choice(("note", "summary", "chat", "fact")),
                 "\n".join(md_line(rng, IDS) for _ in range(rng.randint(2, 12))))
                for _ in range(2000)]
        db.executemany("insert into memory (project, created, kind, body) values (?, ?, ?, ?)", rows)
        db.commit()
    db.close()
    print(f"{len(jobs)} text files, {len(blobs)} large files, memory.db", file=sys.stderr)
PY
  touch "$DONE"
fi
FILES=$(find "$DATA" -type f | wc -l)
CONTENT=$(find "$DATA" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }')

cat >"$CFG" <<TOML
[backup]
destination = "$DEST"
pause_app = false
include_gardener = false
include_ollama_manifests = false
level = 3
threads = 0
TOML

export HOME=$HOME_BENCH XDG_CONFIG_HOME=$WORK/xdg/config XDG_DATA_HOME=$WORK/xdg/data \
  XDG_STATE_HOME=$WORK/xdg/state
unset XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS
GARDENER=("$BIN" --config "$CFG")

# --- helpers ---------------------------------------------------------------------------------
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

if [[ ${DROP_CACHES:-1} != 0 ]] && (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
  CACHE=cold
else
  CACHE=warm
fi

# Before every measurement: flush what earlier steps left dirty, then either drop the page cache
# or read the inputs ($@: files or directories) so they are cached for either side alike.
prepare() {
  sync
  if [[ $CACHE == cold ]]; then
    echo 3 >/proc/sys/vm/drop_caches
  else
    find "$@" -type f -exec cat {} + >/dev/null
  fi
}

# timed CMD...: runs CMD; sets WALL (s) and CPU (user+sys s of CMD and its children, "-" when
# /usr/bin/time is missing). Returns CMD's status.
timed() {
  local t0 t1 rc=0
  t0=$(now)
  if [[ -n $TIME_BIN ]]; then
    "$TIME_BIN" -f '%U %S' -o "$LOG/cpu" "$@" || rc=$?
  else
    "$@" || rc=$?
  fi
  t1=$(now)
  WALL=$(sub "$t0" "$t1")
  CPU=-
  if [[ -n $TIME_BIN ]]; then
    CPU=$(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { printf "%.2f", $1 + $2 }' "$LOG/cpu")
  fi
  return "$rc"
}

# Seconds for `sync` right now.
sync_secs() {
  local t0
  t0=$(now)
  sync
  sub "$t0" "$(now)"
}

median() { printf '%s\n' "$@" | { grep -v '^-$' || true; } | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# "MISSED" when value $1 is above target $2.
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t + 1e-9 ? "ok" : "MISSED") }'; }
gb() { awk -v b="$1" 'BEGIN { printf "%.2f GB", b / 1e9 }'; }
jget() { # FILE KEY.PATH
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$1" "$2"
}
# ABBAAB...: round r runs ours first when r is even.
ours_first() { (($1 % 2 == 0)); }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $(nproc) cores, load average $LOAD0, $(df -PT "$WORK" | awk 'NR == 2 { print $2 }') at $WORK, page cache: $CACHE"
echo "   $FILES files, $(gb "$CONTENT") of content ($SIZE_MB MiB asked)"
if [[ $CACHE == cold ]]; then
  echo "   (page cache dropped before every run)"
else
  echo "   (cannot drop the page cache: the inputs are read once before every run, both sides warm)"
fi

# --- backup ----------------------------------------------------------------------------------
base_backup() {
  prepare "$DATA"
  rm -f -- "$BASE"
  timed bash -c 'set -o pipefail; tar -cf - -C "$1" .codebase-gardener | zstd -T0 -3 -q -o "$2"' \
    _ "$HOME_BENCH" "$BASE" 2>"$LOG/base-backup.err" || die "tar | zstd failed" "$LOG/base-backup.err"
  local s
  s=$(sync_secs)
  B_BASE+=("$WALL") BC_BASE+=("$CPU")
  B_BASE_SYNC+=("$(awk -v a="$WALL" -v b="$s" 'BEGIN { printf "%.3f", a + b }')")
  echo "   backup  tar|zstd  $WALL s (cpu $CPU s, + sync $s s)"
}
ours_backup() {
  rm -rf -- "$DEST"
  prepare "$DATA"
  timed "${GARDENER[@]}" backup create --no-verify --json >"$LOG/create.json" 2>"$LOG/create.err" ||
    die "gardener backup create failed" "$LOG/create.err"
  B_OURS+=("$WALL") BC_OURS+=("$CPU")
  echo "   backup  gardener  $WALL s (cpu $CPU s)"
}
echo "== backup ($RUNS runs each)"
B_BASE=() B_BASE_SYNC=() B_OURS=() BC_BASE=() BC_OURS=()
for ((r = 1; r <= RUNS; r++)); do
  if ours_first "$r"; then ours_backup; base_backup; else base_backup; ours_backup; fi
done
ID=$(jget "$LOG/create.json" backup.id)
ARCHIVE=$(jget "$LOG/create.json" backup.path)
[[ -f $ARCHIVE ]] || die "gardener reported archive $ARCHIVE, which does not exist"
OURS_SIZE=$(stat -c %s "$ARCHIVE")
BASE_SIZE=$(stat -c %s "$BASE")
OURS_BYTES=$(jget "$LOG/create.json" backup.bytes)
OURS_FILES=$(jget "$LOG/create.json" backup.files)
echo "   archive $ID: $OURS_FILES files, $OURS_BYTES bytes of content"

# --- restore ---------------------------------------------------------------------------------
base_restore() {
  rm -rf -- "$R_BASE"
  mkdir -p "$R_BASE"
  prepare "$BASE"
  timed bash -c 'set -o pipefail; zstd -d -c -q "$1" | tar -xf - -C "$2"' _ "$BASE" "$R_BASE" \
    2>"$LOG/base-restore.err" || die "zstd -d | tar -x failed" "$LOG/base-restore.err"
  local s
  s=$(sync_secs)
  R_BASE_T+=("$WALL") RC_BASE+=("$CPU")
  R_BASE_SYNC+=("$(awk -v a="$WALL" -v b="$s" 'BEGIN { printf "%.3f", a + b }')")
  echo "   restore zstd|tar  $WALL s (cpu $CPU s, + sync $s s)"
}
ours_restore() {
  rm -rf -- "$R_OURS"
  mkdir -p "$R_OURS"
  prepare "$ARCHIVE"
  timed "${GARDENER[@]}" backup restore "$ID" --to "$R_OURS" --yes --json >"$LOG/restore.json" \
    2>"$LOG/restore.err" || die "gardener backup restore failed" "$LOG/restore.err"
  R_OURS_T+=("$WALL") RC_OURS+=("$CPU")
  echo "   restore gardener  $WALL s (cpu $CPU s)"
}
echo "== restore ($RUNS runs each)"
R_BASE_T=() R_BASE_SYNC=() R_OURS_T=() RC_BASE=() RC_OURS=()
for ((r = 1; r <= RUNS; r++)); do
  if ours_first "$r"; then ours_restore; base_restore; else base_restore; ours_restore; fi
done
rm -rf -- "$R_BASE"

# --- correctness -----------------------------------------------------------------------------
echo "== checking the restored copy and the archive"
RESTORED=$R_OURS/app-data
[[ -d $RESTORED ]] || die "our restore did not create $RESTORED"
diff -r "$DATA" "$RESTORED" >"$LOG/diff.txt" 2>&1 ||
  die "the restored copy differs from the original ($(wc -l <"$LOG/diff.txt") lines of diff -r)" "$LOG/diff.txt"
tar --zstd -tf "$ARCHIVE" >"$LOG/tar-list.txt" 2>"$LOG/tar-list.err" ||
  die "tar --zstd -tf cannot read our archive" "$LOG/tar-list.err"
TAR_ENTRIES=$(wc -l <"$LOG/tar-list.txt")
echo "   diff -r: identical ($FILES files); tar --zstd -tf: $TAR_ENTRIES entries"
rm -rf -- "$R_OURS"

# --- verify ----------------------------------------------------------------------------------
v_cat() {
  prepare "$ARCHIVE"
  timed cat "$ARCHIVE" >/dev/null || die "cat $ARCHIVE failed"
  V_CAT+=("$WALL")
  echo "   verify  cat       $WALL s"
}
v_zstd() {
  prepare "$ARCHIVE"
  timed zstd -d -c -q "$ARCHIVE" >/dev/null 2>"$LOG/zstd-d.err" || die "zstd -d failed" "$LOG/zstd-d.err"
  V_ZSTD+=("$WALL") VC_ZSTD+=("$CPU")
  echo "   verify  zstd -d   $WALL s (cpu $CPU s)"
}
v_ours() {
  prepare "$ARCHIVE"
  timed "${GARDENER[@]}" backup verify "$ID" --json >"$LOG/verify.json" 2>"$LOG/verify.err" ||
    die "gardener backup verify failed" "$LOG/verify.err"
  V_OURS+=("$WALL") VC_OURS+=("$CPU")
  echo "   verify  gardener  $WALL s (cpu $CPU s)"
}
echo "== verify ($RUNS runs each)"
V_CAT=() V_ZSTD=() V_OURS=() VC_ZSTD=() VC_OURS=()
for ((r = 1; r <= RUNS; r++)); do
  case $((r % 3)) in
    1) v_cat; v_zstd; v_ours ;;
    2) v_ours; v_cat; v_zstd ;;
    0) v_zstd; v_ours; v_cat ;;
  esac
done
V_BYTES=$(jget "$LOG/verify.json" bytes)

# --- incremental -----------------------------------------------------------------------------
CHAIN=$WORK/chain
CFG_CHAIN=$WORK/gardener-chain.toml
sed "s|^destination = .*|destination = \"$CHAIN\"\nfull_every = 100|" "$CFG" >"$CFG_CHAIN"
GCHAIN=("$BIN" --config "$CFG_CHAIN")
rm -rf -- "$CHAIN"

# change_files STEP: rewrites 1 % of the files (chosen with the seed and STEP) with their content
# rotated by one byte (new content, same size and compressibility), as the app rewriting them;
# lists them, relative to the home, in $LOG/changed-STEP.txt.
change_files() {
  python3 - "$HOME_BENCH" "$SEED" "$1" "$LOG/changed-$1.txt" <<'PY' || die "changing files failed"
import os, random, sys
home, seed, step, listing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
files = []
for top, _, names in os.walk(os.path.join(home, ".codebase-gardener")):
    files += [os.path.join(top, n) for n in names]
files.sort()
chosen = random.Random(seed * 1000 + step).sample(files, max(1, len(files) // 100))
for path in chosen:
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[1:] + data[:1])
with open(listing, "w") as f:
    f.write("\n".join(os.path.relpath(p, home) for p in chosen) + "\n")
PY
}

# chain_backup LABEL: one incremental backup, timed from a dropped cache; sets WALL and INC_JSON.
chain_backup() {
  prepare "$DATA"
  INC_JSON=$LOG/chain-$1.json
  timed "${GCHAIN[@]}" backup create --no-verify --json >"$INC_JSON" 2>"$LOG/chain-$1.err" ||
    die "gardener backup create ($1) failed" "$LOG/chain-$1.err"
  [[ $(jget "$INC_JSON" backup.kind) == incremental ]] || die "backup $1 is not incremental" "$INC_JSON"
}

# The least any backup that looks at every file must do: list each one's inode, size and times,
# from a dropped cache, as an incremental backup does.
floor() {
  prepare "$DATA"
  timed find "$DATA" -printf '%i %s %T@ %C@\n' >/dev/null || die "find failed"
  FLOOR+=("$WALL")
}
FLOOR=()
for ((r = 1; r <= RUNS; r++)); do floor; done
echo "== listing floor: find -printf of every file's inode, size and times, cold: $(median "${FLOOR[@]}") s"

echo "== incremental: a full backup, then 3 after 1 % of the files changed, then 3 unchanged"
"${GCHAIN[@]}" backup create --no-verify --json >"$LOG/chain-full.json" 2>"$LOG/chain-full.err" ||
  die "the chain's full backup failed" "$LOG/chain-full.err"
I_T=() I_SIZE=() I_BASE=() U_T=() I_TAR=()
for step in 1 2 3; do
  change_files "$step"
  chain_backup "changed-$step"
  I_T+=("$WALL")
  size=$(stat -c %s "$(jget "$INC_JSON" backup.path)")
  prepare "$DATA"
  timed bash -c 'set -o pipefail; tar -cf - -C "$1" -T "$2" | zstd -T0 -3 -q -o "$3" -f' \
    _ "$HOME_BENCH" "$LOG/changed-$step.txt" "$WORK/changed.tar.zst" ||
    die "tar | zstd of the changed files failed"
  I_TAR+=("$WALL")
  base=$(stat -c %s "$WORK/changed.tar.zst")
  I_SIZE+=("$size") I_BASE+=("$base")
  echo "   1 % changed: ${I_T[-1]} s, $(jget "$INC_JSON" backup.stored_files) files stored, archive $size bytes; tar|zstd of them ${I_TAR[-1]} s, $base bytes"
done
for step in 1 2 3; do
  chain_backup "unchanged-$step"
  U_T+=("$WALL")
  echo "   unchanged:   $WALL s, archive $(stat -c %s "$(jget "$INC_JSON" backup.path)") bytes"
done
SEVENTH=$(jget "$INC_JSON" backup.id)
"${GCHAIN[@]}" backup create --full --no-verify --json >"$LOG/chain-refull.json" 2>"$LOG/chain-refull.err" ||
  die "the full backup of the same tree failed" "$LOG/chain-refull.err"
REFULL=$(jget "$LOG/chain-refull.json" backup.id)
chain_restore() { # ID LABEL
  rm -rf -- "$R_OURS"
  mkdir -p "$R_OURS"
  prepare "$CHAIN"
  timed "${GCHAIN[@]}" backup restore "$1" --to "$R_OURS" --yes --json >"$LOG/restore-$2.json" \
    2>"$LOG/restore-$2.err" || die "restoring $1 failed" "$LOG/restore-$2.err"
  echo "   restore $2 $WALL s"
}
echo "== restore of the 7th backup of the chain and of a full backup of the same tree ($RUNS runs each)"
R7=() RF=()
for ((r = 1; r <= RUNS; r++)); do
  if ours_first "$r"; then
    chain_restore "$SEVENTH" 7th && R7+=("$WALL")
    chain_restore "$REFULL" full && RF+=("$WALL")
  else
    chain_restore "$REFULL" full && RF+=("$WALL")
    chain_restore "$SEVENTH" 7th && R7+=("$WALL")
  fi
done
chain_restore "$SEVENTH" 7th >/dev/null
diff -r "$DATA" "$R_OURS/app-data" >"$LOG/diff-chain.txt" 2>&1 ||
  die "the 7th backup restored differs from the tree ($(wc -l <"$LOG/diff-chain.txt") lines of diff -r)" "$LOG/diff-chain.txt"
echo "   diff -r: the 7th backup restores identical to the tree"
rm -rf -- "$R_OURS" "$CHAIN"

# --- summary ---------------------------------------------------------------------------------
bo=$(median "${B_OURS[@]}") bb=$(median "${B_BASE[@]}") bbs=$(median "${B_BASE_SYNC[@]}")
ro=$(median "${R_OURS_T[@]}") rb=$(median "${R_BASE_T[@]}") rbs=$(median "${R_BASE_SYNC[@]}")
vo=$(median "${V_OURS[@]}") vc=$(median "${V_CAT[@]}") vz=$(median "${V_ZSTD[@]}")
b_ratio=$(ratio "$bo" "$bb")
size_pct=$(awk -v a="$OURS_SIZE" -v b="$BASE_SIZE" 'BEGIN { printf "%+.1f", (a - b) / b * 100 }')
r_ratio=$(ratio "$ro" "$rbs")
b_ok=$(verdict "$b_ratio" "$BACKUP_TARGET")
s_ok=$(verdict "$size_pct" "$SIZE_TARGET_PCT")
r_ok=$(verdict "$r_ratio" "$RESTORE_TARGET")
mark() { [[ $1 == ok ]] || printf ' MISSED'; }

echo
echo "== summary: median of $RUNS, $FILES files, $(gb "$CONTENT") content, page cache $CACHE, $(nproc) cores"
printf 'backup   ours %.1f s  tar|zstd %.1f s  ratio %s (target <= %s)%s  size ours %s  base %s  (%s %%, target within %s %%)%s\n' \
  "$bo" "$bb" "$b_ratio" "$BACKUP_TARGET" "$(mark "$b_ok")" "$(gb "$OURS_SIZE")" "$(gb "$BASE_SIZE")" \
  "$size_pct" "$SIZE_TARGET_PCT" "$(mark "$s_ok")"
printf '         (ours fsyncs the archive; tar|zstd + sync %.1f s, ratio %s; compression ours %.2fx base %.2fx)\n' \
  "$bbs" "$(ratio "$bo" "$bbs")" "$(ratio "$CONTENT" "$OURS_SIZE")" "$(ratio "$CONTENT" "$BASE_SIZE")"
printf 'restore  ours %.1f s  zstd|tar && sync %.1f s  ratio %s (target <= %s)%s  (ours verifies and syncs; zstd|tar without sync %.1f s, ratio %s)\n' \
  "$ro" "$rbs" "$r_ratio" "$RESTORE_TARGET" "$(mark "$r_ok")" "$rb" "$(ratio "$ro" "$rb")"
printf 'verify   ours %.2f s  = %.0f MB/s of content  zstd -d %.2f s (ratio %s)  cat %.2f s (ratio %s, %.0f MB/s read)\n' \
  "$vo" "$(awk -v b="$V_BYTES" -v t="$vo" 'BEGIN { print b / t / 1e6 }')" "$vz" "$(ratio "$vo" "$vz")" \
  "$vc" "$(ratio "$vo" "$vc")" "$(awk -v b="$OURS_SIZE" -v t="$vc" 'BEGIN { print b / t / 1e6 }')"
echo "         (a verify/zstd -d ratio near 1.00: limited by reading and decompressing, not by hashing)"
it=$(median "${I_T[@]}") ut=$(median "${U_T[@]}") r7=$(median "${R7[@]}") rf=$(median "${RF[@]}")
i_ratio=$(ratio "$it" "$bo") u_ratio=$(ratio "$ut" "$bo") c_ratio=$(ratio "$r7" "$rf")
is_ratio=$(median $(for k in 0 1 2; do ratio "${I_SIZE[$k]}" "${I_BASE[$k]}"; done))
printf 'incremental after 1 %% changed  %.2f s  ratio to a full backup %s (target <= %s)%s  archive / tar|zstd of the changed files %s (target <= %s)%s\n' \
  "$it" "$i_ratio" "$INC_TARGET" "$(mark "$(verdict "$i_ratio" "$INC_TARGET")")" \
  "$is_ratio" "$INC_SIZE_TARGET" "$(mark "$(verdict "$is_ratio" "$INC_SIZE_TARGET")")"
printf 'incremental of an unchanged tree %.2f s  ratio to a full backup %s (target <= %s)%s\n' \
  "$ut" "$u_ratio" "$UNCHANGED_TARGET" "$(mark "$(verdict "$u_ratio" "$UNCHANGED_TARGET")")"
fl=$(median "${FLOOR[@]}") itar=$(median "${I_TAR[@]}")
printf '         floor: listing every file cold (find -printf) %.2f s = %s of a full backup; unchanged / floor %s;\n' \
  "$fl" "$(ratio "$fl" "$bo")" "$(ratio "$ut" "$fl")"
printf '         1 %% changed / (floor + tar|zstd of the changed files, %.2f s) %s\n' \
  "$itar" "$(awk -v a="$it" -v b="$fl" -v c="$itar" 'BEGIN { printf "%.2f", a / (b + c) }')"
printf 'restore of the 7th backup of a chain %.1f s  of a full backup of the same tree %.1f s  ratio %s (target <= %s)%s\n' \
  "$r7" "$rf" "$c_ratio" "$CHAIN_RESTORE_TARGET" "$(mark "$(verdict "$c_ratio" "$CHAIN_RESTORE_TARGET")")"
if [[ -n $TIME_BIN ]]; then
  printf 'cpu s    backup ours %.1f base %.1f  restore ours %.1f base %.1f  verify ours %.2f zstd -d %.2f  (user+sys, medians)\n' \
    "$(median "${BC_OURS[@]}")" "$(median "${BC_BASE[@]}")" "$(median "${RC_OURS[@]}")" \
    "$(median "${RC_BASE[@]}")" "$(median "${VC_OURS[@]}")" "$(median "${VC_ZSTD[@]}")"
fi
echo "load average at the start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the times)"
