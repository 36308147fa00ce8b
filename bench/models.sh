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
PROFILE=${PROFILE:-release}
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
if [[ "${BUILD:-1}" != 0 ]]; then
  flag=(); [[ $PROFILE == release ]] && flag=(--release)
  (cd "$ROOT" && cargo build -q "${flag[@]}" -p gardener-cli -p gardener-e2e \
    --bin gardener --bin stand-in-ollama)
fi
bin="$ROOT/target/$PROFILE"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The stand-in knows two models; the rest are generated, each with its own digest.
STAND_IN_OLLAMA_EXTRA_MODELS=$((MODELS - 2)) OLLAMA_HOST="127.0.0.1:$port" \
  "$bin/stand-in-ollama" serve 2>/dev/null &
server=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null 2>&1 && break; sleep 0.1; done
mkdir -p "$work/home/models"
config="$work/gardener.toml"
printf '[ollama]\nhost = "127.0.0.1:%s"\nmodels_dir = "%s"\n' "$port" "$work/home/models" >"$config"
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
