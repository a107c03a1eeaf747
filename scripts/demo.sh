#!/usr/bin/env bash
# A short tour through the CLI on a fresh embedded store: register, version, promote with a
# reason, and read the promotion history back from the event log.
set -euo pipefail
export MODELPLANE_HOME="${MODELPLANE_HOME:-$(mktemp -d)/modelplane}"
mp="${MODELPLANE_CLI:-.venv/bin/modelplane}"  # the tests run it with their own interpreter
echo "== store: $MODELPLANE_HOME"
set -x
$mp model register iris_classifier --license MIT --description "Classification model for the Iris dataset" -t sklearn
$mp model version create iris_classifier
$mp model version create iris_classifier --name 1.2.3 --description "more trees"
$mp model version update iris_classifier 1 --stage production --reason "first release"
$mp model version update iris_classifier 1.2.3 --stage production --force --reason "accuracy 0.97 vs 0.94"
$mp model version list iris_classifier
$mp model history iris_classifier
# time travel: which version was in production at the first promotion's log position?
first=$($mp model history iris_classifier --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["position"])')
$mp model version describe iris_classifier production --at "$first"
$mp events --model iris_classifier --limit 20
