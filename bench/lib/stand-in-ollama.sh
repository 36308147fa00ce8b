# shellcheck shell=bash
# What the models' benchmarks share: building `gardener` and the stand-in Ollama, and serving
# the stand-in on a free loopback port with a config that points `gardener` at it. Sourced
# once ROOT is set (and NEEDS: more tools to check for); sets `bin`, `work` (removed on
# exit), `config`, `port` and `server`.
# BUILD=0 uses the binaries already in target/; PROFILE picks them (default release).

PROFILE=${PROFILE:-release}
for tool in curl python3 ${NEEDS:-}; do
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
mkdir -p "$work/home/models"
config="$work/gardener.toml"
server=

# serve_stand_in [VAR=VALUE...]: (re)starts the stand-in with those knobs and waits for it.
serve_stand_in() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  env "$@" OLLAMA_HOST="127.0.0.1:$port" "$bin/stand-in-ollama" serve 2>/dev/null &
  server=$!
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null 2>&1 && break; sleep 0.1; done
  printf '[ollama]\nhost = "127.0.0.1:%s"\nmodels_dir = "%s"\n' "$port" "$work/home/models" >"$config"
}
