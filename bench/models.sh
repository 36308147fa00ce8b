#!/usr/bin/env bash
# Time of `gardener models` with 50 installed models against the same HTTP requests made by
# one curl process one after the other (`/api/tags`, `/api/ps`, then one `/api/show` per
# model, over one kept-alive connection), both
# talking to the project's stand-in Ollama over loopback, release builds. `gardener models`
# asks `/api/tags` and `/api/ps` at the same time and `/api/show` once per manifest digest.
#
# Usage: bench/models.sh [RUNS]   (default 10)
#        BUILD=0 uses the binaries already in target/ instead of building them.
#        MODELS=N installs N models instead of 50.
# Prints each side's median over RUNS and their ratio (target <= 1.2).
set -euo pipefail
RUNS=${1:-10}
MODELS=${MODELS:-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib/stand-in-ollama.sh"
# The stand-in knows two models; the rest are generated, each with its own digest.
serve_stand_in STAND_IN_OLLAMA_EXTRA_MODELS=$((MODELS - 2))
names=$(curl -fsS "http://127.0.0.1:$port/api/tags" |
  python3 -c 'import json,sys; print("\n".join(m["name"] for m in json.load(sys.stdin)["models"]))')
count=$(wc -l <<<"$names")
[[ $count == "$MODELS" ]] || { echo "the stand-in lists $count models, not $MODELS" >&2; exit 1; }

# One curl process making every request in sequence over one kept-alive connection (`--next`),
# so the baseline is the requests themselves, not a process start per request.
requests=(-fsS -o /dev/null "http://127.0.0.1:$port/api/tags" --next -fsS -o /dev/null "http://127.0.0.1:$port/api/ps")
while read -r name; do
  requests+=(--next -fsS -o /dev/null -d "{\"model\":\"$name\"}" "http://127.0.0.1:$port/api/show")
done <<<"$names"
curl_all() {
  curl "${requests[@]}"
}
gardener_models() {
  HOME="$work/home" "$bin/gardener" --config "$config" models --json >/dev/null
}
ms() { # runs "$@" once, prints its wall time in ms
  local start end
  start=$(date +%s%N); "$@"; end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

gardener_models # warm the page cache and the stand-in
ours=(); theirs=()
for _ in $(seq "$RUNS"); do
  ours+=("$(ms gardener_models)")
  theirs+=("$(ms curl_all)")
done
a=$(printf '%s\n' "${ours[@]}" | median)
b=$(printf '%s\n' "${theirs[@]}" | median)
echo "models installed: $MODELS; runs: $RUNS"
echo "gardener models --json   median ${a} ms (runs: ${ours[*]})"
echo "curl, the same requests  median ${b} ms (runs: ${theirs[*]})"
python3 -c "print(f'ratio {$a / $b:.2f} (target <= 1.2)')"
