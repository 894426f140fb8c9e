#!/usr/bin/env bash
# Set up the kit in ./.venv with pip alone (no GPU needed; a C++ compiler and Python's headers for pyworld, see below). Safe to run again: it skips what is done.
#   bash scripts/setup.sh        everything: the kit, JupyterLab and nbdev for the notebooks, the test tools
#   bash scripts/setup.sh run    what the main job needs: the kit and its quality checks (half the install's time)
set -euo pipefail
# A PYTHONHOME or PYTHONPATH in the shell (another install's, an IDE's) reaches .venv's Python too: it would not start,
# or import another install's packages, and a working .venv would be taken for a broken one and made again.
unset PYTHONHOME PYTHONPATH
cd "$(dirname "$0")/.."
MODE=${1:-dev}
case "$MODE" in
  dev) EXTRA=dev; NEEDS="emotion_omni_lite, pytest, hypothesis, playwright, nbdev, jupyterlab";;
  run) EXTRA=check; NEEDS="emotion_omni_lite, pytest, hypothesis";;
  *) echo "[setup] unknown mode '$MODE': use 'bash scripts/setup.sh' (everything) or 'bash scripts/setup.sh run' (the main job's part)" >&2
     exit 2;;
esac
if [ ! -w . ]; then                                                 # a read-only copy: said before venv's "Permission denied"
  echo "[setup] $(pwd -P) cannot be written: copy the kit to a folder you can write" >&2
  exit 1
fi
trap 'echo; echo "[setup] interrupted: nothing is marked installed; run it again to finish" >&2; exit 130' INT   # pip ends 1 on Ctrl-C:
                                                                    # without this the script would go on to its fallback
old_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }   # NumPy 2.4, pandas 3: 3.11+
PY=${PYTHON:-}                                                      # unnamed: .venv is made again (moved, broken) with the
if [ -z "$PY" ] && [ -f .venv/pyvenv.cfg ]; then                    # Python it was made with, where that is still there
  cfg() { sed -n "s/^$1 *= *//p" .venv/pyvenv.cfg | head -n 1; }
  V=$(cfg 'version\(_info\)\{0,1\}' | cut -d. -f1,2)                # venv writes version, uv version_info
  for p in "$(cfg executable)" "$(cfg home)/python${V:-3}"; do
    if [ -n "$p" ] && [ -f "$p" ] && [ -x "$p" ] && old_enough "$p"; then PY=$p; break; fi   # else python3, as before
  done
fi
PY=${PY:-python3}
intel_mac() {                                                       # torch stopped at 2.2 for Intel Macs: asked of the Python
  if "$1" -c 'import platform, sys; sys.exit(not (platform.system() == "Darwin" and platform.machine() == "x86_64"))' 2>/dev/null; then
    echo "[setup] $1 is an Intel (x86_64) Python on macOS: torch has no release for it since 2.2, and the kit needs 2.6 or" >&2
    echo "[setup] newer (2.11 pinned). On Apple silicon name an arm64 Python (PYTHON=/opt/homebrew/bin/python3 bash $0);" >&2
    echo "[setup] else use Linux or Colab (the notebooks' badge)" >&2
    exit 1
  fi
}
if command -v flock >/dev/null 2>&1; then                           # two set-ups into one .venv at once (main.sh and test.sh
  exec 9>.eol-setup.lock                                            # in two terminals) would install over each other:
  flock -n 9 || { echo "[setup] another set-up of this checkout is running: waiting for it to finish"; flock 9; }   # one waits
fi
fit() {                                                             # $PY can make .venv, or its fix is named and nothing
  local why=${1:+[setup] $1: .venv is to be made again, and is kept as it is until a Python can make it}   # is removed
  if ! command -v "$PY" >/dev/null 2>&1; then                       # ($1: why .venv is made again; '' for a new one)
    [ -z "$why" ] || echo "$why" >&2
    echo "[setup] no Python found at '$PY': install Python 3.11 or newer, or name one: PYTHON=/path/to/python3 bash $0" >&2
    exit 1
  fi
  if ! old_enough "$PY"; then
    [ -z "$why" ] || echo "$why" >&2
    echo "[setup] $PY is $("$PY" --version 2>&1); the kit needs Python 3.11 or newer: install one and name it," \
         "PYTHON=/path/to/python3.12 bash $0 (on macOS the system's python3 may be 3.9: python.org or Homebrew have newer)" >&2
    exit 1
  fi
  if ! "$PY" -c "import ensurepip, venv" 2>/dev/null; then
    [ -z "$why" ] || echo "$why" >&2
    echo "[setup] $PY cannot make a virtual environment with pip in it (no ensurepip): on Debian or Ubuntu install" >&2
    echo "[setup] python3-venv (python3.X-venv for another Python than the system's: sudo apt install python3-venv), or" >&2
    echo "[setup] name another Python: PYTHON=/path/to/python3 bash $0" >&2
    exit 1
  fi
  intel_mac "$PY"
}
remake() { fit "$1"; echo "[setup] $1: making .venv again with $PY"; rm -rf .venv; }   # removed once $PY can make it
HERE=$(pwd -P)                                                      # the checkout, links resolved
if [ -f .venv/.eol-making ]; then                                   # venv (or the ensurepip in it) was stopped while it made
  remake ".venv's making was stopped before it finished"            # .venv: nothing of the kit is in it yet
elif [ -L .venv/bin/python ] && [ ! -e .venv/bin/python ]; then     # its Python was removed (an upgrade, another machine)
  remake ".venv's Python ($(readlink .venv/bin/python)) is gone"
elif [ -e .venv ] && ! .venv/bin/python -c '' 2>/dev/null; then    # half made, or its Python no longer starts
  remake ".venv's Python does not start"
elif [ -x .venv/bin/python ] && ! old_enough .venv/bin/python; then
  echo "[setup] .venv was made with $(.venv/bin/python --version 2>&1); the kit needs Python 3.11 or newer: remove it" >&2
  echo "[setup] (rm -rf .venv) and run this again with a newer Python: PYTHON=/path/to/python3.12 bash $0" >&2
  exit 1
elif [ -x .venv/bin/python ] && [ -n "${PYTHON:-}" ] && [ "$("$PY" -c 'import sys; print(sys.version)' 2>/dev/null)" != "$(.venv/bin/python -c 'import sys; print(sys.version)')" ]; then
  echo "[setup] note: PYTHON=$PYTHON is not the Python .venv was made with ($(.venv/bin/python --version 2>&1)): .venv" \
       "is kept as it is; to use $PYTHON, remove it (rm -rf .venv) and run this again"
fi
if [ -x .venv/bin/python ] && [ -f .venv/.eol-home ] && [ "$(cat .venv/.eol-home)" != "$HERE" ]; then
  remake ".venv was made in $(cat .venv/.eol-home), not here ($HERE): its programs point there"
fi
if [ -x .venv/bin/python ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1 && [ ! -f .venv/.eol-home ] \
   && [ -z "$(ls -A .venv/lib/python*/site-packages 2>/dev/null)" ]; then
  remake ".venv holds no packages and no pip (its making was stopped)"   # empty: nothing in it is lost
fi
VER=$([ -x .venv/bin/python ] && .venv/bin/python -c 'import sys; print("python%d.%d" % sys.version_info[:2])' || true)
if [ -n "$VER" ] && [ ! -d ".venv/lib/$VER" ]; then               # its Python upgraded in place: the packages are another's
  echo "[setup] .venv's Python is now $VER, but its packages were installed for $(ls .venv/lib 2>/dev/null | tr '\n' ' ')" >&2
  echo "[setup] (the Python it was made with was upgraded in place): remove it (rm -rf .venv) and run this again" >&2
  exit 1
fi
if [ -x .venv/bin/python ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  echo "[setup] .venv has no pip (made by a Python without its venv module's ensurepip?): remove it (rm -rf .venv) and run" >&2
  echo "[setup] this again; on Debian or Ubuntu first: sudo apt install python3-venv, or PYTHON=/path/to/python3 bash $0" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  fit ""
  echo "[setup] creating .venv with $("$PY" --version)"
  mkdir -p .venv; : > .venv/.eol-making                             # until venv has ended, pip in (its ensurepip): a .venv
  "$PY" -m venv .venv                                               # stopped before is marked, and made again next time, not
  rm .venv/.eol-making                                              # refused as one a Python without ensurepip made
  echo "$HERE" > .venv/.eol-home                                    # where its programs' first lines point
fi
[ -f .venv/.eol-home ] || echo "$HERE" > .venv/.eol-home
VPY=.venv/bin/python
intel_mac $VPY
# pyworld (the WORLD vocoder that puts emotion and speakers into the Piper voice) ships wheels for Windows only: on Linux
# and macOS pip builds it, which needs a C++ compiler and Python's headers. Said now, not after the rest downloaded.
if ! $VPY -c "import pyworld" 2>/dev/null; then
  MISSING=""                                                        # a compiler that compiles (macOS has stubs that do not)
  read -ra CXXW <<< "${CXX:-c++}"                                  # CXX="ccache g++": its words, as setuptools splits it
  printf 'int main() { return 0; }\n' | "${CXXW[@]:-c++}" -x c++ - -o /dev/null 2>/dev/null || MISSING="a C++ compiler"
  if ! $VPY -c "import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"; then
    MISSING="${MISSING:+$MISSING and }Python's headers (Python.h)"
  fi
  if [ -n "$MISSING" ]; then
    echo "[setup] pyworld, the vocoder of the kit's second voice, is built from source here and needs $MISSING:" >&2
    echo "[setup] on Debian or Ubuntu: sudo apt install build-essential python3-dev (python3.X-dev for another" \
         "Python than the system's; Colab has both); on macOS: xcode-select --install; then run this again" >&2
    exit 1
  fi
fi
# The versions the README's figures were measured with: pinned, so a fresh machine computes the same numbers.
# A Python for which a pinned version has no release falls back to the newest compatible versions, and says so.
PIN="-c constraints.txt"
# The installer: uv, through pip's interface, links each package from its cache where pip unpacks it file by file.
# torch's wheels bring 2.7 GB of CUDA libraries that the CPU presets never load: pip spends about 100 s on them from a warm
# cache, uv 2 s (30 s from a cold one). Where uv does not install, pip does the same work; EOL_INSTALLER=pip chooses pip.
# uv reads no pip.conf: a mirror reaches it only from the environment's PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, passed on here.
UV=""
if [ -n "${PIP_INDEX_URL:-}" ]; then export UV_INDEX_URL=${UV_INDEX_URL:-$PIP_INDEX_URL}; fi      # a mirror pip is told
if [ -n "${PIP_EXTRA_INDEX_URL:-}" ]; then export UV_EXTRA_INDEX_URL=${UV_EXTRA_INDEX_URL:-$PIP_EXTRA_INDEX_URL}; fi   # of, uv too
case "${EOL_INSTALLER:-uv}" in
  uv|pip) ;;
  *) echo "[setup] EOL_INSTALLER=$EOL_INSTALLER: use uv (the default) or pip" >&2; exit 2;;
esac
LOG=$(mktemp "${TMPDIR:-/tmp}/eol-setup.XXXXXX"); trap 'rm -f "$LOG"' EXIT     # what pip said, to read its reason
NET='NewConnectionError|failed to establish a new connection|network is unreachable|temporary failure in name resolution|'
NET+='name or service not known|connection refused|timed out|ProxyError|SSLError|could not fetch URL|HTTP error [45][0-9][0-9]'
said() { { grep -m1 -iE "$NET" "$LOG" || true; tail -n 3 "$LOG"; } | sed -E 's/^(.{60}).{20,}(.{120})$/\1 … \2/; s/^/[setup]   /'; }
pip_install() {
  if [ -n "$UV" ]; then
    if $UV pip install -q --python $VPY $PIN "$@"; then return; fi
    echo "[setup] uv could not install these: trying pip"
  fi
  # --no-compile: pip would turn every module of every package into bytecode (about 40 s, most of it for modules the
  # kit never imports); what the kit imports is compiled once below instead. uv compiles nothing unless asked.
  if ! { $VPY -m pip install -q --no-compile $PIN "$@" 2>&1 >&3 | tee "$LOG" >&2; } 3>&1; then   # shown, and kept
    # A pinned version with no release for this Python: pip says no version matches (with constraints: "conflicting
    # dependencies"), or builds the pinned one from source and fails (the newest may have a wheel for it). Anything
    # else (no index reached, a full disk) is not fixed by going unpinned.
    if grep -qiE "$NET" "$LOG" || ! grep -qiE 'no matching distribution|could not find a version|conflicting dependencies|failed to build|metadata-generation-failed|failed-wheel-build' "$LOG"; then
      echo "[setup] the install failed$(grep -qiE "$NET" "$LOG" && echo ': pip could not reach the package index'); pip's last lines:" >&2
      said >&2
      echo "[setup] check the network (a proxy? a mirror: PIP_INDEX_URL, now $(printf '%s' "${PIP_INDEX_URL:-unset: PyPI, or pip.conf}" | sed -E 's#//[^/@]*@#//****@#')) and" \
           "the free disk space (torch needs several GB), then run this again: what is done is kept" >&2
      exit 1
    fi
    echo "[setup] WARNING: a pinned version (constraints.txt) has no release for $($VPY --version) (pip's reason above):"
    echo "[setup]          installing the newest compatible versions instead, torch and torchaudio still $TORCH_PIN (a pair:"
    echo "[setup]          newer torch has no torchaudio): the kit works, but figures may differ from README's by more than"
    echo "[setup]          the seeds' spread"
    echo "loose" > .venv/.eol-loose                                 # said on every later run's ready line, until pinned
    local a loose=("torch==$TORCH_PIN" "torchaudio==$TORCH_PIN")
    for a in "$@"; do case "$a" in torch==*|torchaudio==*) ;; *) loose+=("$a");; esac; done
    $VPY -m pip install -q --no-compile "${loose[@]}" || {
      echo "[setup] the install failed (pip's reason above): check the network (a proxy? PIP_INDEX_URL for a mirror) and" >&2
      echo "[setup] the free disk space (torch needs several GB), then run this again: what is done is kept; if pip says no" >&2
      echo "[setup] torch $TORCH_PIN matches this Python or platform, use a Python torch $TORCH_PIN has wheels for (3.11 to 3.13)" >&2
      exit 1; }
  fi
}
# torch and torchaudio must come from the same release, or torchaudio (and with it transformers) fails to import.
TORCH_PIN=$(sed -n 's/^torch==\([0-9.]*\).*/\1/p' constraints.txt)     # the pair's version: constraints.txt alone says it
TORCH=""
if ! $VPY -c "import torch, torchaudio; assert torch.__version__.split('+')[0] == torchaudio.__version__.split('+')[0]" 2>/dev/null; then
  TORCH="torch==$TORCH_PIN torchaudio==$TORCH_PIN"
fi
MARK=.venv/.eol-installed-$EXTRA                                   # the extra installed, for which requirements: what pip
WANT=$({ $VPY -c "import json, tomllib; d = tomllib.load(open('pyproject.toml', 'rb'))   # reads of pyproject.toml (its
print(json.dumps({k: d.get(k) for k in ('project', 'build-system')}, sort_keys=True))"; cat constraints.txt; } | cksum)
                                                                    # [tool.*] settings are not installs), and the pins
# -I: the import from .venv's own paths, not this folder's (here the package imports without being installed)
if [ -n "$TORCH" ] || ! $VPY -I -c "import $NEEDS" 2>/dev/null \
   || [ "$(cat $MARK 2>/dev/null)" != "$WANT" ]; then
  # one run for both (one resolution, not two): on a fresh machine torch's wheels are most of the install
  rm -f .venv/.eol-loose                                            # tried pinned again: said again if it falls back
  if [ "${EOL_INSTALLER:-uv}" = uv ]; then                          # here, not on a run with nothing to install (offline)
    if [ -x .venv/bin/uv ] || $VPY -m pip install -q $PIN uv >"$LOG" 2>&1; then UV=.venv/bin/uv
    else echo "[setup] uv did not install: pip installs instead (slower, the same packages); pip said:"; said; fi
  fi
  echo "[setup] installing ${TORCH:+torch + torchaudio $TORCH_PIN (a matching pair; several GB) and }the kit and its dependencies (${UV:+uv }pip install -e '.[$EXTRA]')"
  pip_install $TORCH -e ".[$EXTRA]"
  $VPY -I -c "import importlib, pkgutil, emotion_omni_lite as e, peft, accelerate, transformers, pytest, torch
for m in pkgutil.iter_modules(e.__path__): importlib.import_module('emotion_omni_lite.' + m.name)
from transformers import Qwen2ForCausalLM, PreTrainedTokenizerFast, Wav2Vec2Model, get_cosine_schedule_with_warmup
print('[setup] ready: torch', torch.__version__, '| transformers', transformers.__version__, '| emotion_omni_lite', e.__version__)" \
    || { echo "[setup] the kit did not import: see the error above" >&2; exit 1; }
  echo "$WANT" > $MARK
  if [ "$EXTRA" = dev ]; then echo "$WANT" > .venv/.eol-installed-check; fi    # dev holds the main job's part too
else
  READY=$($VPY -I -c 'import torch, transformers, emotion_omni_lite as e; print("torch", torch.__version__, "| transformers", transformers.__version__, "| emotion_omni_lite", e.__version__)') \
    || { echo "[setup] .venv's packages do not import (above: why; a package changed by hand?): remove .venv (rm -rf .venv) and run this again" >&2; exit 1; }
  echo "[setup] ready: $READY"
  # what the record cannot see: a pinned package changed since (by hand, %pip in JupyterLab, pip without the pins)
  [ -f .venv/.eol-loose ] || DRIFT=$($VPY -I -c 'import importlib.metadata as md, re
out = []
for line in open("constraints.txt"):
    m = re.match(r"\s*([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
    try: have = md.version(m[1]) if m else None
    except md.PackageNotFoundError: have = None
    if have and have.split("+")[0] != m[2].split("+")[0]: out.append(f"{m[1]} {have} (pinned {m[2]})")
print(", ".join(out))' 2>/dev/null) || DRIFT=""
  if [ -n "${DRIFT:-}" ]; then
    echo "[setup] note: UNPINNED: changed since the pinned install (by hand, %pip, or pip without -c constraints.txt): $DRIFT;"
    echo "[setup] figures may differ from README's by more than the seeds' spread; to put the pins back: rm .venv/.eol-installed-*; bash $0 $MODE"
  fi
fi
if [ -f .venv/.eol-loose ]; then
  echo "[setup] note: UNPINNED: constraints.txt did not install here, so figures may differ from README's by more than the"
  echo "[setup] seeds' spread; fix what stopped it (above, when it happened) and run: rm .venv/.eol-installed-*; bash $0 $MODE"
fi
