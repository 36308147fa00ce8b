#!/usr/bin/env bash
# CPU cost of a model's pull while its progress streams: `gardener models pull` against the
# project's stand-in Ollama, release builds. The stream goes through the same core code the
# dashboard runs (NDJSON reading, the space check, the one progress throttle). Two rates:
# Ollama's own (it reports a layer's progress every 60 ms, server/download.go's ticker) and a
# stress of about 1000 lines a second; each with the progress bar drawn on a terminal (a pty
# from script(1), whose own CPU is counted too) and with `--json` (nothing drawn).
#
# Usage: bench/pull-cpu.sh     (needs perf: Debian's linux-perf)
#        BUILD=0 uses the binaries already in target/ instead of building them.
# Prints the CPU time over the wall time of each pull as a percentage of one core (target <= 1%).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NEEDS="script perf"
. "$ROOT/bench/lib/stand-in-ollama.sh"

# Runs one pull and prints "<wall s> <cpu s>": the CPU time is perf's task-clock of the
# process and its children (scheduler-exact; getrusage's tick sampling overstates processes
# that wake often and run briefly).
measure() {
  local out start end
  start=$(date +%s%N)
  out=$(HOME="$work/home" perf stat -x, -e task-clock -- "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ {print $1}')
  end=$(date +%s%N)
  python3 -c "import sys; print(f'{(int(sys.argv[2])-int(sys.argv[1]))/1e9:.3f} {float(sys.argv[3])/1e3:.3f}')" "$start" "$end" "$out"
}
pull=("$bin/gardener" --config "$config" models pull tinyllama:1.1b)
report() {
  local what=$1 wall cpu
  read -r wall cpu
  python3 -c "import sys; w,c,n=map(float,sys.argv[1:4]); print(f'  {sys.argv[4]:<28} {w:6.2f} s wall  {c:6.3f} s CPU  = {100*c/w:5.2f} % of a core  ({n/w:,.0f} lines/s)')" \
    "$wall" "$cpu" "$lines" "$what"
}
# STEPS DELAY_MS TITLE
rate() {
  serve_stand_in STAND_IN_OLLAMA_PULL_STEPS="$1" STAND_IN_OLLAMA_PULL_DELAY_MS="$2"
  # The stand-in streams a pull of an installed model all the same.
  lines=$(curl -fsS -d '{"model":"tinyllama:1.1b"}' "http://127.0.0.1:$port/api/pull" | wc -l)
  echo "$3: $lines lines per pull, one every $2 ms"
  measure script -qec "$(printf '%q ' "${pull[@]}")" /dev/null | report "progress bar on a terminal"
  measure "${pull[@]}" --json | report "--json (nothing drawn)"
}
rate 80 60 "as Ollama reports"
rate 5000 1 "stress"
echo "target: <= 1 % of a core"
