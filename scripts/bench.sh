#!/usr/bin/env bash
# `make bench`: release builds measured on loopback against a throwaway Postgres. Prints the
# tables, and writes docs/benchmarks.md and bench/results/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
# 10,000 open streams need 20,000+ sockets in the data plane, the mock and the client.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse/target}
cargo build --release --locked -p control-plane -p mock-provider -p gatehouse-bench
# The data plane as it ships: the dist profile (release with whole-program LTO).
cargo build --profile dist --locked -p data-plane
bin="$CARGO_TARGET_DIR/release" dist="$CARGO_TARGET_DIR/dist"

work=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
chmod 755 "$work"
pids=()
# Servers run under subshells and taskset: stop each one's children, then it.
stop() { for pid in "$@"; do pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done; }
cleanup() {
  stop "${pids[@]}"
  scripts/pg-throwaway.sh stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The server under test on core 0, the load generator on core 1 (when taskset exists).
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }

db=$(scripts/pg-throwaway.sh start "$work/pg" "$(free_port)")
api_port=$(free_port)
admin_key="bench-admin-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
GATEHOUSE_DATABASE_URL="${db%/*}/bench" GATEHOUSE_ADMIN_API_KEY="$admin_key" \
  GATEHOUSE_INTERNAL_TOKEN_SECRET="bench-internal-secret-0123456789abcdef0123" \
  GATEHOUSE_AUTH_SECRET="bench-auth-secret-0123456789abcdef0123" \
  GATEHOUSE_API_ADDR="127.0.0.1:$api_port" GATEHOUSE_DATA_DIR="$work/data" GATEHOUSE_LOG_LEVEL=warn \
  pin 0 "$bin/gatehouse-control-plane" >"$work/control-plane.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api_port/readyz" >/dev/null && break; sleep 0.1; done

mkdir -p bench/results docs
out=$(GATEHOUSE_ADMIN_API_KEY="$admin_key" pin 1 "$bin/gatehouse-bench" control-plane \
  --url "http://127.0.0.1:$api_port" --rate 200 --seconds "${BENCH_SECONDS:-20}" \
  --json bench/results/control-plane.json)
echo "$out"
cache=$(pin 1 "$bin/gatehouse-bench" config-cache --json bench/results/config-cache.json)
echo "$cache"
policies=$(pin 1 "$bin/gatehouse-bench" policies --json bench/results/policies.json)
echo "$policies"
usage=$(GATEHOUSE_ADMIN_API_KEY="$admin_key" \
  GATEHOUSE_INTERNAL_TOKEN_SECRET="bench-internal-secret-0123456789abcdef0123" \
  pin 1 "$bin/gatehouse-bench" usage --url "http://127.0.0.1:$api_port" \
  --json bench/results/usage.json)
echo "$usage"

# Data plane with metrics and tracing off, then on (spans to a sink), same mock upstream.
# Every data plane sends its interaction records (serialized and compressed by the worker, as
# always) to the sink too: the control plane and Postgres would otherwise share core 0 with
# the worker under test. Their ingest capacity is the `interaction records` figure above.
internal_secret="bench-internal-secret-0123456789abcdef0123"
mock_port=$(free_port) sink_port=$(free_port)
pin 1 "$bin/mock-provider" --addr "127.0.0.1:$mock_port" >"$work/mock.log" 2>&1 &
pids+=($!)
pin 1 "$bin/gatehouse-bench" otlp-sink --addr "127.0.0.1:$sink_port" >"$work/sink.log" 2>&1 &
pids+=($!)
# Starts a data plane named $1 with the extra environment "${@:2}"; sets $target to name=URL.
start_data_plane() {
  local port; port=$(free_port)
  (
    export GATEHOUSE_PROXY_ADDR="127.0.0.1:$port" GATEHOUSE_CONTROL_PLANE_URL="http://127.0.0.1:$api_port" \
      GATEHOUSE_INTERNAL_TOKEN_SECRET="$internal_secret" GATEHOUSE_OPENAI_BASE_URL="http://127.0.0.1:$mock_port/v1" \
      GATEHOUSE_PROXY_THREADS=1 GATEHOUSE_LOG_LEVEL=warn GATEHOUSE_METRICS_ADDR="127.0.0.1:$(free_port)" \
      GATEHOUSE_USAGE_INGEST_URL="http://127.0.0.1:$sink_port" "${@:2}"
    pin 0 "$dist/gatehouse-data-plane"
  ) >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  target="$1=http://127.0.0.1:$port"
}
start_data_plane off GATEHOUSE_METRICS_ENABLED=false
off=$target
start_data_plane metrics GATEHOUSE_METRICS_ENABLED=true
metrics=$target
start_data_plane metrics+traces-10% GATEHOUSE_METRICS_ENABLED=true \
  GATEHOUSE_OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" \
  OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1
sampled=$target
start_data_plane metrics+traces-100% GATEHOUSE_METRICS_ENABLED=true \
  GATEHOUSE_OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port"
traced=$target
# The same configuration as the first: how far apart two identical runs land (noise floor).
start_data_plane off-again GATEHOUSE_METRICS_ENABLED=false
again=$target
profile=$(curl -sf -X POST "http://127.0.0.1:$api_port/api/v1/profiles" -H "Authorization: Bearer $admin_key" \
  -H 'content-type: application/json' -d '{"name":"bench-data-plane"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
observability=$(pin 1 "$bin/gatehouse-bench" data-plane --target "$off" --target "$metrics" --target "$sampled" --target "$traced" --target "$again" --profile "$profile" --rounds 5 --seconds 3 \
  --json bench/results/observability.json)
echo "$observability"

# Gatehouse beside nginx as a plain reverse proxy (the floor for a proxy that does nothing)
# and the mock upstream itself, each server pinned to core 0.
if ! command -v nginx >/dev/null; then
  echo "bench: installing nginx" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream mock { server 127.0.0.1:$mock_port; keepalive 128; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
pin 0 nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >"$work/nginx.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/healthz" && break; sleep 0.1; done
start_data_plane gatehouse GATEHOUSE_METRICS_ENABLED=true
gatehouse=$target
proxies=$(pin 1 "$bin/gatehouse-bench" data-plane \
  --target "nginx=http://127.0.0.1:$nginx_port/v1/chat/completions" --target "$gatehouse" \
  --target "direct=http://127.0.0.1:$mock_port/v1/chat/completions" \
  --profile "$profile" --rounds 5 --seconds 3 --json bench/results/proxies.json)
echo "$proxies"

# Peer gateways (installed once into ~/.cache/gatehouse/bench-peers; skipped where they do
# not install): LiteLLM's proxy (PyPI, no database, local cost map) and Portkey's gateway
# (npm), each pinned to core 0 like the others, on the same mock upstream.
peers="$HOME/.cache/gatehouse/bench-peers"
mkdir -p "$peers"
contenders=(--target "direct=http://127.0.0.1:$mock_port/v1/chat/completions"
  --target "nginx=http://127.0.0.1:$nginx_port/v1/chat/completions")
peer_targets=() peer_pids=()
if [ -x "$peers/litellm-venv/bin/litellm" ] || { python3 -m venv "$peers/litellm-venv" \
    && "$peers/litellm-venv/bin/pip" install -q 'litellm[proxy]' >"$work/litellm-install.log" 2>&1; }; then
  litellm_port=$(free_port)
  litellm_key="sk-bench-master-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  cat > "$work/litellm.yaml" <<YAML
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:$mock_port/v1
      api_key: sk-bench
YAML
  (cd "$work" && LITELLM_MASTER_KEY="$litellm_key" LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
    pin 0 "$peers/litellm-venv/bin/litellm" --config "$work/litellm.yaml" --port "$litellm_port" --num_workers 1) \
    >"$work/litellm.log" 2>&1 &
  pids+=($!) peer_pids+=($!)
  for _ in $(seq 120); do curl -sf -o /dev/null "http://127.0.0.1:$litellm_port/health/liveliness" && break; sleep 0.5; done
  peer_targets+=(--target "litellm=http://127.0.0.1:$litellm_port/v1/chat/completions|Authorization: Bearer $litellm_key")
else
  echo "bench: LiteLLM did not install; left out (see $work/litellm-install.log)" >&2
fi
if [ -x "$peers/portkey/node_modules/.bin/gateway" ] || { mkdir -p "$peers/portkey" \
    && (cd "$peers/portkey" && npm install --silent @portkey-ai/gateway) >"$work/portkey-install.log" 2>&1; }; then
  portkey_port=$(free_port)
  pin 0 "$peers/portkey/node_modules/.bin/gateway" --port="$portkey_port" --headless >"$work/portkey.log" 2>&1 &
  pids+=($!) peer_pids+=($!)
  for _ in $(seq 60); do curl -s -o /dev/null "http://127.0.0.1:$portkey_port/" && break; sleep 0.5; done
  peer_targets+=(--target "portkey=http://127.0.0.1:$portkey_port/v1/chat/completions|x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:$mock_port/v1")
else
  echo "bench: Portkey's gateway did not install; left out (see $work/portkey-install.log)" >&2
fi
# Gatehouse's scenarios: passthrough, a virtual key, and a profile with 100 policies whose
# answer is a tool call the guard judges.
mapfile -t scenario < <(GATEHOUSE_ADMIN_API_KEY="$admin_key" "$bin/gatehouse-bench" scenarios --url "http://127.0.0.1:$api_port")
gh="${gatehouse#*=}"
contenders+=(--target "gatehouse=$gh/v1/openai/$profile/chat/completions"
  --target "gatehouse-virtual-key=$gh/v1/openai/${scenario[1]}/chat/completions|Authorization: Bearer ${scenario[2]}"
  --target "gatehouse-100-policies=$gh/v1/openai/${scenario[0]}/chat/completions" --tool-call gatehouse-100-policies
  "${peer_targets[@]}")
# The peers go last, and run a fixed rate above their maximum only once, after every round:
# one that falls behind keeps working off its backlog on core 0 for a while, and the run waits
# for the core to go quiet before each measurement.
quiet=(); if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then quiet=(--server-core 0); fi
peers_table=$(pin 1 "$bin/gatehouse-bench" contenders "${contenders[@]}" --rate 500 --rate 2000 --seconds 3 --rounds 4 \
  "${quiet[@]}" --json bench/results/contenders.json)
echo "$peers_table"
# The streams below share core 0 with nothing that is still busy.
stop "${peer_pids[@]}"

# Streams: the gap between chunks as clients see them (200 chunks 5 ms apart), and the
# data plane's resident memory with 1,000 and 10,000 streams open at once.
start_data_plane gatehouse GATEHOUSE_METRICS_ENABLED=true
streams_target=$target
dp_pid=$(pgrep -n -f "$dist/gatehouse-data-plane")
streaming=$(pin 1 "$bin/gatehouse-bench" streams --target "$streams_target" \
  --target "nginx=http://127.0.0.1:$nginx_port/v1/chat/completions" \
  --target "direct=http://127.0.0.1:$mock_port/v1/chat/completions" \
  --profile "$profile" --open 1000 --open 10000 --pid "$dp_pid" --memory-target "$streams_target" \
  --json bench/results/streams.json)
echo "$streaming"

{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` on $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -m)), loopback only,"
  echo "release builds (the data plane in the \`dist\` profile it ships with: release plus whole-program LTO); the server under test pinned to core 0 and the load generator to core 1."
  echo
  echo "## Control-plane CRUD latency"
  echo
  echo "Mixed load (reads of profiles and virtual keys, lists, creates, updates, deletes) over a"
  echo "real Postgres, open loop: every request is timed from when it was due, so queueing shows."
  echo "The baseline is \`/healthz\` (no database) at the same rate in the same run."
  echo
  echo "$out" | sed -n '2,$p'
  echo
  echo "Raw figures: \`bench/results/control-plane.json\`."
  echo
  echo "## Data-plane config cache hit"
  echo
  echo "What every proxied request pays to find its profile and virtual key when they are cached"
  echo "(the normal case: entries live until a change event drops them), single-threaded,"
  echo "beside a bare moka lookup in the same run."
  echo
  echo "$cache" | sed -n '2,$p'
  echo
  echo "Propagation of a change to three workers (two control-plane replicas) is measured by"
  echo "\`tests/e2e/test_config_distribution.py\` in \`make test\`, which prints p50 / p99 over 100"
  echo "changes. Raw figures: \`bench/results/config-cache.json\`."
  echo
  echo "## Policy evaluation"
  echo
  echo "One tool call judged against 100 tool-invocation policies (globs, argument conditions,"
  echo "every action), and a 200-chunk text-only chat stream through the tool-call guard with 100"
  echo "policies, with none, and without a guard, in process. Raw figures:"
  echo "\`bench/results/policies.json\`."
  echo
  echo "$policies" | sed -n '2,$p'
  echo
  echo "## Interaction records"
  echo
  echo "The hot path: building one request's record and putting it into the worker's queue,"
  echo "single-threaded. The pipeline: 200,000 records through one worker's queue, and then four"
  echo "workers' queues, in gzip batches to the running control plane and into Postgres. Every"
  echo "record is checked as stored before the figure counts. Raw figures:"
  echo "\`bench/results/usage.json\`."
  echo
  echo "$usage" | sed -n '2,$p'
  echo
  echo "In the data-plane runs below, workers send their records (serialized and compressed by"
  echo "the worker) to a sink on core 1 rather than to the control plane: on two cores, the"
  echo "control plane and Postgres storing 10,000+ records a second would share the core of the"
  echo "worker under test."
  echo
  echo "## Cost of metrics and tracing"
  echo
  echo "The same data plane (one proxy thread, pinned to one core together with its span"
  echo "exporter thread) with metrics and tracing off; metrics on; metrics on and 10% of requests"
  echo "traced (\`OTEL_TRACES_SAMPLER=parentbased_traceidratio\`, \`OTEL_TRACES_SAMPLER_ARG=0.1\`);"
  echo "metrics on and every request traced, spans exported over OTLP/HTTP to a sink. Configurations"
  echo "alternate so drift hits all alike, and the ratio is the median over rounds of each round's"
  echo "ratio. \`off-again\` repeats \`off\`: its distance from 1.00 is the noise floor of this"
  echo "machine, and a configuration within it has no measurable cost. The exporter and record"
  echo "threads run at a lower priority (nice 10) than the proxy thread, so on this one busy core"
  echo "tracing every request shows the exporter's own CPU, not waiting behind it."
  echo
  echo "$observability" | sed -n '2,$p'
  echo
  echo "Raw figures: \`bench/results/observability.json\`."
  echo
  echo "## Gatehouse beside a plain proxy"
  echo
  echo "Non-streaming chat completions, closed loop, the same mock upstream: nginx as a plain"
  echo "reverse proxy (one worker, upstream keep-alive, no buffering), the Gatehouse data plane"
  echo "(one proxy thread, metrics on, a cached profile), and the upstream called directly. Each"
  echo "server is pinned to core 0 and the load generator to core 1; ratios are to nginx, added"
  echo "latency is over calling the upstream directly. Peer gateways and fixed rates: the next section."
  echo
  echo "$proxies" | sed -n '2,$p'
  echo
  echo "Raw figures: \`bench/results/proxies.json\`."
  echo
  echo "## Contenders and scenarios"
  echo
  echo "Each contender alone on core 0 (the load generator and the mock upstream on core 1), the"
  echo "same mock upstream, non-streaming chat completions: the most requests per second with 16"
  echo "clients back to back, then fixed rates of 500 and 2,000 requests per second (open loop:"
  echo "each request is timed from when it was due, so a contender that falls behind shows it),"
  echo "in four alternating rounds of 3 s. Added p99 is the median over rounds of the round's p99"
  echo "less the upstream's own p99 in the same round; \`added p99 ÷ nginx's\` compares it with"
  echo "nginx's. p50 and p99 pool every round. \`failed\` counts errors and requests dropped because"
  echo "2,000 were already waiting. A contender whose most requests/s is below a rate runs at it"
  echo "once, after all the rounds: it works off its backlog long after and would slow the rounds"
  echo "that followed. LiteLLM runs its proxy (one worker, no database, local cost"
  echo "map); Portkey its Node.js gateway. Gatehouse runs passthrough (the client's key goes"
  echo "upstream), with a virtual key (swapped for a stored provider key), and on a profile with"
  echo "100 tool-invocation policies, where the answer is a tool call the guard judges."
  echo
  echo "$peers_table" | sed -n '2,$p'
  echo
  echo "Raw figures: \`bench/results/contenders.json\`."
  echo
  echo "## Streams"
  echo
  echo "Twenty concurrent streams of 200 chunks, 5 ms apart at the upstream, through each"
  echo "configuration in three alternating rounds: the gap between chunks as the client receives"
  echo "them. Added figures are the median over rounds of the difference to calling the upstream"
  echo "directly in the same round. Then the resident memory of one data-plane worker (one"
  echo "proxy thread, metrics on) holding 1,000 and 10,000 streams open at once, each upstream"
  echo "sending one event a second."
  echo
  echo "$streaming" | sed -n '2,$p'
  echo
  echo "Raw figures: \`bench/results/streams.json\`."
} > docs/benchmarks.md
