#!/usr/bin/env bash
# `npm start`: Kiln on one machine — a master, one local agent and the server, sharing a freshly
# generated cluster token unless one is given. The server keeps its database, git mirrors, secret
# key and API token in $KILN_DATA_DIR. Ctrl-C stops all three cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

KILN_CLUSTER_TOKEN="${KILN_CLUSTER_TOKEN:-$(node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('hex'))")}"
KILN_DATA_DIR="${KILN_DATA_DIR:-./data}"
# The agent and the server find the master where it listens.
KILN_MASTER_URL="${KILN_MASTER_URL:-http://127.0.0.1:${KILN_MASTER_PORT:-5050}}"
export KILN_CLUSTER_TOKEN KILN_DATA_DIR KILN_MASTER_URL

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

# redis_answers HOST PORT: whether something answers PING there (no redis-cli needed).
redis_answers() {
  node -e '
    const socket = require("node:net").connect(Number(process.argv[2]), process.argv[1]);
    socket.setTimeout(1000, () => process.exit(1));
    socket.on("error", () => process.exit(1));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => process.exit(/^\+PONG|^-NOAUTH/.test(String(data)) ? 0 : 1));
  ' "$1" "$2"
}

# A fresh machine has no Redis: start the machine's redis-server for Kiln (installing it from the
# OS packages when running as root on Debian or Ubuntu), its data under $KILN_DATA_DIR/redis.
# A Redis elsewhere than on this machine is the operator's to run.
ensure_redis() {
  local rest host port
  rest="${REDIS_URL#*://}"
  rest="${rest##*@}"
  rest="${rest%%/*}"
  host="${rest%:*}"
  port="${rest##*:}"
  [ "$host" = "$rest" ] && port=6379
  redis_answers "$host" "$port" && return 0
  case "$host" in
  127.0.0.1 | localhost) ;;
  *)
    echo "kiln: Redis at $host:$port does not answer; start it, or unset REDIS_URL to use a local one" >&2
    exit 1
    ;;
  esac
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "kiln: no Redis on $host:$port; installing redis-server from the OS packages"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null ||
        { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; } || {
        echo "kiln: could not install redis-server; install Redis 6.2 or later and start it on $host:$port" >&2
        exit 1
      }
    else
      echo "kiln: no Redis on $host:$port and no redis-server here. Install Redis 6.2 or later and start it:" >&2
      echo "  sudo apt-get install redis-server   # Debian/Ubuntu (or: brew install redis; redis-server)" >&2
      exit 1
    fi
  fi
  mkdir -p "$KILN_DATA_DIR/redis"
  echo "kiln: starting redis-server on $host:$port, its data in $KILN_DATA_DIR/redis" \
    "(it keeps running after Kiln stops: redis-cli -p $port shutdown stops it)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$(cd "$KILN_DATA_DIR/redis" && pwd)" \
    --appendonly yes --save "" --logfile redis.log --pidfile "$(cd "$KILN_DATA_DIR/redis" && pwd)/redis.pid" >/dev/null
  for _ in $(seq 1 40); do
    redis_answers "$host" "$port" && return 0
    sleep 0.25
  done
  echo "kiln: redis-server did not answer on $host:$port; see $KILN_DATA_DIR/redis/redis.log" >&2
  exit 1
}
ensure_redis

exec node_modules/.bin/concurrently --kill-others --names master,agent,server \
  --prefix-colors blue,magenta,green \
  "KILN_DATA_DIR=$KILN_DATA_DIR/master node dist/apps/master/src/main.js" \
  "KILN_DATA_DIR=$KILN_DATA_DIR/agent node dist/apps/agent/src/main.js" \
  "node dist/apps/server/src/main.js"
