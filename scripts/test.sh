#!/usr/bin/env bash
# The tests: set up, check notebooks and package agree, run pytest, then run every notebook (smoke preset).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
status=0

echo "== notebooks and package in step (nbdev-export, nbdev-clean change nothing)"
if git rev-parse --git-dir >/dev/null 2>&1; then
  before=$(git status --porcelain)
  .venv/bin/nbdev-export && .venv/bin/nbdev-clean
  after=$(git status --porcelain)
  if [ "$before" != "$after" ]; then
    echo "FAILED: nbdev-export / nbdev-clean changed committed files:"; git status --porcelain; git diff --stat; status=1
  else echo "ok"; fi
fi

echo "== pytest (tests marked slow train the lite preset and run in the main job: scripts/main.sh)"
.venv/bin/python -m pytest tests -q -p no:cacheprovider -m "not slow" || status=1

echo "== notebooks (nbdev-test, preset smoke; cells flagged slow run in the main job)"
(cd nbs && EOL_PRESET=smoke ../.venv/bin/nbdev-test --n-workers 1) || status=1

exit $status
