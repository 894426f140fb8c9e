"""The lean install beside another torch/torchaudio pair, as a class meets it on Colab: a fresh virtual environment with
torch and torchaudio 2.10 (scripts/setup.sh pins 2.11), ipykernel, then the kit from this tree with no extra — nothing
may replace that torch or bring JupyterLab, nbdev or playwright — and a smoke notebook run in a kernel of it."""
import json, os, re, subprocess, sys, tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OTHER = '2.10.0'                                          # a torch/torchaudio pair other than the pinned one
NOTEBOOKS = ('02_audio',)                                  # the audio front end: where torchaudio versions differ


def pinned(name: str) -> str:
    return re.search(rf'^{name}==(\S+)$', (ROOT / 'constraints.txt').read_text(), re.M).group(1)


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=1200, **kw)


NETWORK = (r'(?i)NewConnectionError|failed to establish a new connection|network is unreachable|'
           r'temporary failure in name resolution|connection refused|connection timed out')


def no_such_torch(stderr: str):
    "Why the class's torch could not be installed, when the cause is the index, not the kit: no index reached, or one without that version."
    errors = [l.strip() for l in stderr.splitlines() if re.match(r'\s*ERROR:', l)]   # pip's verdict, not a retry's warning before it
    missing = any(re.search(rf'(?i)(could not find a version that satisfies the requirement|no matching distribution found for) '
                            rf'torch(audio)?=={re.escape(OTHER)}', l) for l in errors)
    if any(re.search(NETWORK, l) for l in errors) or missing and '(from versions: none)' in stderr and re.search(NETWORK, stderr):
        return f"no package index reachable for torch {OTHER}: {errors[-1][:160]}"   # its retries gave up: no version seen
    if missing:                                                          # a mirror or proxy that answers without it
        return f"the package index has no torch/torchaudio {OTHER} for this Python: {errors[-1][:160]}"


@pytest.fixture
def venv():
    "A fresh virtual environment, removed afterwards (with CUDA's libraries, torch takes about 7 GB)."
    with tempfile.TemporaryDirectory() as d: yield Path(d) / 'venv'


def test_lean_install_beside_another_torch(tmp_path, monkeypatch, venv):
    assert pinned('torch').split('+')[0] != OTHER and pinned('torchaudio').split('+')[0] != OTHER
    assert run([sys.executable, '-m', 'venv', venv]).returncode == 0
    py = venv / 'bin' / 'python'
    got = run([py, '-m', 'pip', 'install', '-q', f'torch=={OTHER}', f'torchaudio=={OTHER}', 'ipykernel'])
    if got.returncode and no_such_torch(got.stderr): pytest.skip(no_such_torch(got.stderr))
    assert got.returncode == 0, got.stderr[-3000:]
    import shutil
    src = tmp_path / 'src'                                 # a copy: building the package writes build/ beside its source
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns('.git', '.venv', 'data', 'runs', 'build', '*.egg-info', '__pycache__'))
    got = run([py, '-m', 'pip', 'install', '-q', src])   # the lean install: no extra, no constraints
    assert got.returncode == 0, got.stderr[-3000:]
    away = tmp_path / 'away'; away.mkdir()                 # python puts the folder it runs in first on sys.path: run it
    v = run([py, '-c', 'import torch, torchaudio, emotion_omni_lite as k; print(torch.__version__, torchaudio.__version__); '
             'print(k.__file__)'], cwd=away)              # outside the checkout, or it imports the checkout's package
    assert v.returncode == 0, v.stderr[-2000:]
    versions, kit = v.stdout.strip().splitlines()[-2:]
    assert [x.split('+')[0] for x in versions.split()] == [OTHER, OTHER], v.stdout       # the class's torch stayed
    assert Path(kit).resolve().is_relative_to(venv.resolve()), f"imported {kit}, not the kit installed in {venv}"
    for heavy in ('jupyterlab', 'nbdev', 'playwright'):
        assert run([py, '-m', 'pip', 'show', heavy], cwd=away).returncode != 0, f"the lean install brought {heavy}"
    # each notebook, smoke preset, in a kernel of that environment
    import nbformat
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    kdir = tmp_path / 'kernels' / 'lean'
    kdir.mkdir(parents=True)
    (kdir / 'kernel.json').write_text(json.dumps({'argv': [str(py), '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                                                   'display_name': 'lean', 'language': 'python'}))
    for k in [k for k in os.environ if k.startswith('EOL_')]: monkeypatch.delenv(k)
    env = {**os.environ, 'EOL_PRESET': 'smoke', 'EOL_DATA_DIR': str(tmp_path / 'data'), 'EOL_OUT_DIR': str(tmp_path / 'runs'),
           'EOL_DEVICE': 'cpu', 'HF_HUB_OFFLINE': '1', 'PYTHONWARNINGS': 'ignore::FutureWarning'}
    for name in NOTEBOOKS:
        nb = nbformat.read(str(ROOT / 'nbs' / f'{name}.ipynb'), as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell('import torch, torchaudio; print("versions", torch.__version__, torchaudio.__version__)'))
        with tempfile.TemporaryDirectory() as sock:
            km = KernelManager(kernel_name='lean', kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / 'kernels')]),
                               transport='ipc', ip=str(Path(sock) / 'kernel'))
            try: NotebookClient(nb, km=km, timeout=600, resources={'metadata': {'path': str(ROOT / 'nbs')}}).execute(env=env)
            finally:
                if km.has_kernel: km.shutdown_kernel(now=True)
        last = ''.join(o.get('text', '') for o in nb.cells[-1].outputs)
        assert f'versions {OTHER}' in last, last


def test_the_lean_install_is_skipped_only_when_the_index_cannot_give_that_torch():
    "No index reached, or an index without torch 2.10: skipped, saying which; any other failure of the install fails the test."
    refused = ("WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by "
               "'NewConnectionError(...: Failed to establish a new connection: [Errno 111] Connection refused')': /simple/torch/\n"
               f"ERROR: Could not find a version that satisfies the requirement torch=={OTHER} (from versions: none)\n")
    mirror = (f"ERROR: Could not find a version that satisfies the requirement torch=={OTHER} (from versions: 2.11.0)\n"
              f"ERROR: No matching distribution found for torch=={OTHER}\n")
    assert no_such_torch(refused).startswith('no package index reachable') and f'no torch/torchaudio {OTHER}' in no_such_torch(mirror)
    assert 'No matching distribution found' in no_such_torch(mirror)
    for other in ("ERROR: No matching distribution found for ipykernel\n",
                  f"ERROR: Cannot install torch=={OTHER} and torchaudio=={OTHER} because these package versions have conflicting dependencies.\n",
                  "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n",
                  refused.splitlines(keepends=True)[0] + "ERROR: Could not install packages due to an OSError: [Errno 28] No space "
                  "left on device\n"):                                   # a retry on the way, then a full disk: not the index
        assert no_such_torch(other) is None, other
