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

exec node_modules/.bin/concurrently --kill-others --names master,agent,server \
  --prefix-colors blue,magenta,green \
  "KILN_DATA_DIR=$KILN_DATA_DIR/master node dist/apps/master/src/main.js" \
  "KILN_DATA_DIR=$KILN_DATA_DIR/agent node dist/apps/agent/src/main.js" \
  "node dist/apps/server/src/main.js"
