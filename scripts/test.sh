#!/usr/bin/env bash
# The tests: set up, check notebooks and package agree, run pytest, then run every notebook (smoke preset).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
status=0

echo "== notebooks and package in step (nbdev-export, nbdev-clean change nothing)"
if ! command -v git >/dev/null 2>&1 && [ -e .git ]; then          # a checkout, but no git to compare it with: not a pass
  echo "FAILED: git is not installed, and this checkout's notebooks and package are compared through it: install it"
  echo "(sudo apt install git; on macOS: xcode-select --install), then run this again"; status=1
elif git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  state() {                                   # which files differ and how (a second change to an edited file shows too),
    git status --porcelain; git diff HEAD --binary | cksum          # and what the untracked ones hold
    git ls-files -o --exclude-standard -z | xargs -0 -r cksum
  }
  before=$(state)
  # the package is written from the notebooks: an edit made to a package file alone would be replaced by the export,
  # so each one is copied aside first and put back if the export changed it (said below, nothing of it lost)
  kept=$(mktemp -d); edited=$(git diff HEAD --name-only -- emotion_omni_lite)
  for f in $edited; do if [ -f "$f" ]; then mkdir -p "$kept/$(dirname "$f")"; cp "$f" "$kept/$f"; fi; done
  if .venv/bin/nbdev-export && .venv/bin/nbdev-clean; then
    lost=""
    for f in $edited; do if [ -f "$kept/$f" ] && ! cmp -s "$f" "$kept/$f"; then cp "$kept/$f" "$f"; lost="$lost $f"; fi; done
    if [ -n "$lost" ]; then
      echo "FAILED:$lost changed here, and not as its notebook now exports it (each file's first lines name its notebook):"
      echo "an edit made to the package file alone, or an export older than the notebook's last edit. Kept as it was."
      echo "Make the edit in the notebook, or take the notebook's version with .venv/bin/nbdev-export; then run this again."
      status=1
    elif [ "$before" != "$(state)" ]; then
      echo "FAILED: nbdev-export / nbdev-clean changed files (export the notebooks and commit both):"; git status --porcelain; git diff --stat; status=1
    else echo "ok"; fi
  else
    for f in $edited; do if [ -f "$kept/$f" ]; then cp "$kept/$f" "$f"; fi; done    # a half-run export: the edits back
    echo "FAILED: nbdev-export / nbdev-clean did not run (above: why)"; status=1
  fi
  rm -rf "$kept"
else
  echo "skipped: not a git checkout with a commit, so there are no committed files to compare with"
fi

echo "== pytest (tests marked slow train the lite preset and run in the main job: scripts/main.sh)"
.venv/bin/python -m pytest tests -q -p no:cacheprovider -m "not slow" || status=1

echo "== notebooks (nbdev-test, preset smoke; cells flagged slow run on lite only: eol course --preset lite)"
fresh=(); for v in $(compgen -e); do [[ $v == EOL_* ]] && fresh+=(-u "$v"); done   # as a fresh checkout runs them: none
(cd nbs && env ${fresh[@]+"${fresh[@]}"} EOL_PRESET=smoke ../.venv/bin/nbdev-test --n-workers 1) || status=1   # of the shell's EOL_*

exit $status
