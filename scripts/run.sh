#!/usr/bin/env bash
# `make run`: builds, then starts the control plane (with an embedded Postgres unless
# GATEHOUSE_DATABASE_URL is set), the data plane, and the mock provider as the OpenAI
# upstream unless GATEHOUSE_OPENAI_BASE_URL is set. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse/target}
profile=${PROFILE:-dev}
case "$profile" in dev) out=debug ;; *) out=$profile ;; esac
bin="$CARGO_TARGET_DIR/$out"

cargo build --locked --profile "$profile" -p control-plane -p data-plane -p mock-provider \
  -p terraform-provider-gatehouse

# As root, the embedded Postgres runs as user `postgres`, which must be able to enter the data
# directory; a checkout under a private home (e.g. /root) cannot hold it.
default_data_dir=$PWD/.gatehouse
if [ -z "${GATEHOUSE_DATA_DIR:-}" ] && [ -z "${GATEHOUSE_DATABASE_URL:-}" ] && [ "$(id -u)" = 0 ] \
  && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$PWD"; then
  default_data_dir=/var/lib/gatehouse
  echo "run: postgres cannot enter $PWD; keeping data in $default_data_dir" >&2
fi
export GATEHOUSE_DATA_DIR=${GATEHOUSE_DATA_DIR:-$default_data_dir}
mkdir -p "$GATEHOUSE_DATA_DIR"
chmod 755 "$GATEHOUSE_DATA_DIR"

# Keys generated on the first run are kept (mode 0600) so later runs reuse them.
secrets="$GATEHOUSE_DATA_DIR/run.env"
if [ ! -f "$secrets" ]; then
  (umask 077 && {
    echo "saved_admin_key=gh_admin_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "saved_internal_token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  } > "$secrets")
fi
# shellcheck source=/dev/null
. "$secrets"
export GATEHOUSE_ADMIN_API_KEY=${GATEHOUSE_ADMIN_API_KEY:-$saved_admin_key}
export GATEHOUSE_INTERNAL_TOKEN_SECRET=${GATEHOUSE_INTERNAL_TOKEN_SECRET:-$saved_internal_token}
export GATEHOUSE_API_ADDR=${GATEHOUSE_API_ADDR:-0.0.0.0:9000}
export GATEHOUSE_PROXY_ADDR=${GATEHOUSE_PROXY_ADDR:-0.0.0.0:8080}
api_port=${GATEHOUSE_API_ADDR##*:}
proxy_port=${GATEHOUSE_PROXY_ADDR##*:}
export GATEHOUSE_CONTROL_PLANE_URL=${GATEHOUSE_CONTROL_PLANE_URL:-http://127.0.0.1:$api_port}

# The freshly built Terraform provider, in a filesystem mirror `terraform init` can use.
tf_dir="$GATEHOUSE_DATA_DIR/terraform"
mirror="$tf_dir/mirror/registry.terraform.io/gatehouse/gatehouse/0.1.0/linux_amd64"
mkdir -p "$mirror"
cp "$bin/terraform-provider-gatehouse" "$mirror/terraform-provider-gatehouse_v0.1.0"
cat > "$tf_dir/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$tf_dir/mirror"
    include = ["registry.terraform.io/gatehouse/gatehouse"]
  }
  direct {
    exclude = ["registry.terraform.io/gatehouse/gatehouse"]
  }
}
RC

pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT INT TERM

wait_ready() {
  for _ in $(seq 1 120); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" \
      2>/dev/null && return 0
    sleep 0.5
  done
  echo "run: $1 did not become ready" >&2
  return 1
}

# Every provider without a GATEHOUSE_<PROVIDER>_BASE_URL is served by the mock provider, at
# the path prefix its real API uses, so each SDK works against `make run` unchanged.
upstream="${GATEHOUSE_OPENAI_BASE_URL:-}"
export MOCK_PROVIDER_ADDR=${MOCK_PROVIDER_ADDR:-127.0.0.1:8081}
mocked=()
for provider in openai anthropic gemini azure bedrock cohere groq mistral xai openrouter cerebras \
  vllm ollama zhipuai perplexity minimax deepseek; do
  var="GATEHOUSE_$(echo "$provider" | tr a-z A-Z)_BASE_URL"
  [ -n "${!var:-}" ] && continue
  case "$provider" in
    openai) prefix=/v1 ;;
    azure) prefix=/openai ;;
    anthropic | gemini | bedrock | cohere) prefix= ;;
    *) prefix=/$provider/v1 ;;
  esac
  export "$var=http://$MOCK_PROVIDER_ADDR$prefix"
  mocked+=("$provider")
done
if [ "${#mocked[@]}" -gt 0 ]; then
  "$bin/mock-provider" --chunk-delay-ms 20 & pids+=($!)
  wait_ready "http://$MOCK_PROVIDER_ADDR/healthz"
fi
[ -z "$upstream" ] && upstream="$GATEHOUSE_OPENAI_BASE_URL (mock provider)"

"$bin/gatehouse-control-plane" & pids+=($!)
wait_ready "http://127.0.0.1:$api_port/readyz"
"$bin/gatehouse-data-plane" & pids+=($!)
wait_ready "http://127.0.0.1:$proxy_port/readyz"

cat <<BANNER

  Gatehouse is running.
    control plane (REST API)  http://localhost:$api_port/api/v1   (OpenAPI: /openapi.json)
    data plane (LLM traffic)  http://localhost:$proxy_port/v1/{provider}/{profile_id}/...
    OpenAI upstream           $upstream
    mocked providers          ${mocked[*]:-none}
    admin API key             $GATEHOUSE_ADMIN_API_KEY

  Next, in another shell (see README.md, "Quickstart"):
    export TF_CLI_CONFIG_FILE=$tf_dir/terraformrc
    export GATEHOUSE_BASE_URL=http://localhost:$api_port
    export GATEHOUSE_API_KEY=$GATEHOUSE_ADMIN_API_KEY
    cd terraform-examples/quickstart && terraform init && terraform apply

  Ctrl-C stops everything.

BANNER
wait -n "${pids[@]}"
