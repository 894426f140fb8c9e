#!/usr/bin/env bash
# The tests: set up, check notebooks and package agree, run pytest, then run every notebook (smoke preset).
set -euo pipefail
unset PYTHONHOME PYTHONPATH   # the shell's would reach .venv's Python: it would not start, or import another install's packages
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
status=0

echo "== notebooks and package in step (nbdev-export, nbdev-clean change nothing)"
checkout() { local d=$PWD; until [ -e "$d/.git" ]; do [ "$d" != / ] || return 1; d=$(dirname "$d"); done; }   # here or above
if ! command -v git >/dev/null 2>&1 && checkout; then             # a checkout, but no git to compare it with: not a pass
  echo "FAILED: git is not installed, and this checkout's notebooks and package are compared through it: install it"
  echo "(sudo apt install git; on macOS: xcode-select --install), then run this again"; status=1
elif git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  state() {              # each file of the kit's folder (it may sit in a larger repository) that differs from the last
    { git diff HEAD --name-only --relative -z; git ls-files -o --exclude-standard -z; } |   # commit or is untracked, and
      while IFS= read -r -d '' f; do echo "$([ -f "$f" ] && cksum < "$f" || echo gone -) $f"; done | sort   # what it holds
  }
  before=$(state)
  # the package is written from the notebooks: an edit made to a package file alone would be replaced by the export,
  # so each one is copied aside first and put back if the export changed it (said below, nothing of it lost); a trap
  # puts them back too when the run is stopped (Ctrl-C, kill) while the tools run, so no copy is left only in /tmp
  edited=""; lost=""; kept=$(mktemp -d)
  putback() { local f; for f in $edited; do
    if [ -f "$kept/$f" ] && ! cmp -s "$f" "$kept/$f"; then cp "$kept/$f" "$f"; lost="$lost $f"; fi; done; }
  stopped() { lost=""; putback; [ -z "$lost" ] || echo "stopped: put back as you left them, package files edited by hand:$lost" >&2
              rm -rf "$kept"; }
  trap stopped EXIT; trap 'exit 130' INT; trap 'exit 143' TERM   # Ctrl-C, kill: exit, and with it stopped
  edited=$(git diff HEAD --name-only --relative -- emotion_omni_lite)   # paths from here, not the top
  for f in $edited; do if [ -f "$f" ]; then mkdir -p "$kept/$(dirname "$f")"; cp "$f" "$kept/$f"; fi; done
  if .venv/bin/nbdev-export && .venv/bin/nbdev-clean; then
    putback; after=$(state)                       # what the tools changed besides the edits put back: named as well
    changed=$({ diff <(echo "$before") <(echo "$after") || true; } | sed -n 's/^[<>] [^ ]* [^ ]* //p' | sort -u)
    if [ -n "$lost" ]; then
      echo "FAILED:$lost changed here, and not as its notebook now exports it (each file's first lines name its notebook):"
      echo "an edit made to the package file alone, or an export older than the notebook's last edit. Kept as it was."
      echo "Make the edit in the notebook, or take the notebook's version with .venv/bin/nbdev-export; then run this again."
      status=1
    fi
    if [ -n "$changed" ]; then
      echo "FAILED: nbdev-export / nbdev-clean changed what these held before this run:" $changed
      echo "(a notebook not exported, or one saved after running it: nbdev-clean removes its execution counts). They are"
      echo "left as the tools wrote them: look them over (git diff), commit notebooks and package together, and run this again."
      status=1
    fi
    if [ -z "$lost$changed" ]; then echo "ok"; fi
  else
    putback                                                                          # a half-run export: the edits back
    echo "FAILED: nbdev-export / nbdev-clean did not run (above: why)"; status=1
  fi
  trap - EXIT INT TERM; rm -rf "$kept"
elif checkout && ! why=$(git rev-parse --git-dir 2>&1 >/dev/null); then   # git refuses the checkout (a root CI over one
  echo "NOT COMPARED: git cannot read this checkout, so its notebooks and package were not compared with it; git says:"
  echo "$why" | sed 's/^/  /'                                               # another user owns: safe.directory, named)
  echo "Do what it says (or run this as the checkout's owner) to have them compared; the tests below run either way."
else
  echo "skipped: not a git checkout with a commit, so there are no committed files to compare with"
fi

echo "== pytest (tests marked slow train the lite preset and run in the main job: scripts/main.sh)"
.venv/bin/python -m pytest tests -q -p no:cacheprovider -m "not slow" || status=1

echo "== notebooks (nbdev-test, preset smoke; cells flagged slow run on lite only: eol course --preset lite)"
fresh=(); for v in $(compgen -e); do [[ $v == EOL_* ]] && fresh+=(-u "$v"); done   # as a fresh checkout runs them: none
(cd nbs && env ${fresh[@]+"${fresh[@]}"} EOL_PRESET=smoke ../.venv/bin/nbdev-test --n-workers 1) || status=1   # of the shell's EOL_*

exit $status
