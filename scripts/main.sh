#!/usr/bin/env bash
# The main job: set up, build the data, train every stage, evaluate and write the report (preset from settings.ini,
# or EOL_PRESET=...). Re-running it reuses every finished stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run     # the kit and its quality checks; `bash scripts/setup.sh` adds JupyterLab, nbdev, the test tools
# offline = true (settings.ini, the default): nothing is downloaded; offline = false lets the full preset fetch checkpoints
if [ "$(.venv/bin/python -c 'from emotion_omni_lite.config import get_settings; print(get_settings().offline)')" = True ]; then
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
fi
# The quality guards read every stage of the lite run: they follow a whole lite run, not a part (--stages) or --help.
PRESET=""; WHOLE=1; HELP=""; PREV=""
for a in "$@"; do
  case "$a" in
    -h|--help) WHOLE=0; HELP=1;;
    --stages|--stages=*) WHOLE=0;;
    --preset=*) PRESET="${a#--preset=}";;
  esac
  if [ "$PREV" = --preset ]; then PRESET=$a; fi
  PREV=$a
done
.venv/bin/eol run "$@"
[ -n "$PRESET" ] || PRESET=$(.venv/bin/python -c 'from emotion_omni_lite.config import get_settings; print(get_settings().preset)')
# The quality guards, asserted on the trained lite run (tests marked slow; they read what the runs above wrote).
if [ "$WHOLE" = 1 ] && [ "$PRESET" = lite ]; then
  echo; echo "== quality guards on the lite run (pytest -m slow; the report card above shows each figure against its target)"
  .venv/bin/python -m pytest tests -q -p no:cacheprovider -m slow
elif [ "$PRESET" = lite ] && [ -z "$HELP" ]; then
  echo; echo "The quality guards follow a whole lite run: bash scripts/main.sh (without --stages) asserts them."
fi
if ! .venv/bin/python -c "import jupyterlab" 2>/dev/null; then
  echo; echo "The notebooks: bash scripts/setup.sh (adds JupyterLab and nbdev), then .venv/bin/jupyter lab nbs/"
fi
