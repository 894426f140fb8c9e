#!/usr/bin/env bash
# The main job: set up, build the data, train every stage, evaluate and write the report (preset from settings.ini,
# or EOL_PRESET=...). Re-running it reuses every finished stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/eol run "$@"
