#!/usr/bin/env bash
# Serve the registry over HTTP on the embedded SQLite store under MODELPLANE_HOME, and show
# the URL and an admin token that works with it.
set -euo pipefail
export MODELPLANE_HOME="${MODELPLANE_HOME:-$HOME/.modelplane}"
port="${MODELPLANE_PORT:-8237}"
mp="${MODELPLANE_CLI:-.venv/bin/modelplane}"
url="http://127.0.0.1:$port"
token_file="$MODELPLANE_HOME/server-admin-token"
echo "== serving $url (store: $MODELPLANE_HOME/modelplane.db; API docs: $url/docs)"
if [ -f "$token_file" ]; then
  echo "== admin token: $(cat "$token_file")"
else
  echo "== first start on this store: the server prints its new admin token below"
fi
echo "== then: export MODELPLANE_SERVER_URL=$url MODELPLANE_API_TOKEN=<token>; $mp model list"
exec $mp server start --port "$port"
