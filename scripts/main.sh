#!/usr/bin/env bash
# The main job: set up, build the data, train every stage, evaluate and write the report (preset from settings.ini,
# or EOL_PRESET=...), then assert the quality guards on a whole lite run. Re-running it reuses every finished stage.
# Arguments go to `eol run` (e.g. --preset smoke, --stages data asr, --force); `eol run --help` lists them.
set -euo pipefail
unset PYTHONHOME PYTHONPATH   # the shell's would reach .venv's Python: it would not start, or import another install's packages
cd "$(dirname "$0")/.."
bash scripts/setup.sh run     # the kit and its quality checks; `bash scripts/setup.sh` adds JupyterLab, nbdev, the test tools
# offline = true (settings.ini, the default): the hub library stays offline in everything this job starts. The kit's
# loaders never download either way: the full preset reads checkpoints fetched once beforehand.
# A bad setting prints nothing here: `eol run` names it, with the fix.
if [ "$(.venv/bin/python -c 'from emotion_omni_lite.config import get_settings; print(get_settings().offline)' 2>/dev/null)" = True ]; then
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
fi
# --guards: after a whole lite run (no --stages), the tests marked slow assert each quality figure of the run's report
.venv/bin/eol run --guards "$@"
if ! .venv/bin/python -c "import jupyterlab" 2>/dev/null; then
  echo; echo "The notebooks: bash scripts/setup.sh (adds JupyterLab and nbdev), then .venv/bin/jupyter lab nbs/"
fi
