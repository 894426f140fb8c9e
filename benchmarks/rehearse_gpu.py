"""The `full` preset's code path on a GPU, at toy sizes: the pretrained loaders, bf16 mixed precision and the streaming
token-to-wave contract on CUDA in one process, then FSDP 2 through `accelerate launch` with a sharded checkpoint that is
killed midway, refused by a launch of another kind, and resumed. It uses the tiny checkpoints of
`tests/test_full_rehearsal.py` (random weights in the real formats and dtypes), so any CUDA machine runs it, with
nothing downloaded; `--device cpu` runs the one-process part alone (22 s on a 2-core CPU).

    .venv/bin/python benchmarks/rehearse_gpu.py prepare /tmp/rehearsal   # the checkpoints and dialogues (needs espeak-ng: the kit's install)
    .venv/bin/python benchmarks/rehearse_gpu.py run /tmp/rehearsal       # on the GPU machine; --gpus N for an FSDP launch on N GPUs

`run` prints one line a check and ends non-zero when any fails; `--json` writes them too (over a file that exists only
with `--replace`). `--gpus` goes up to the rehearsal's 8 training dialogues: each process takes one a step. The
rehearsal's own settings file decides: EOL_PRESET, EOL_DATA_DIR, EOL_OUT_DIR, EOL_SEED and EOL_DEVICE set in the shell
are left out of its runs (and said so).
"""
import argparse, json, math, os, signal, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FSDP_CONFIG = HERE.parent / 'emotion_omni_lite' / 'configs' / 'fsdp.yaml'
sys.path.insert(0, str(HERE.parent / 'tests'))                     # the rehearsal's checkpoint and dialogue writers


def writers():
    "The rehearsal's checkpoint and dialogue writers (they live with its test, which needs pytest: the kit's `[check]` extra)."
    try: import test_full_rehearsal
    except ModuleNotFoundError as e:
        raise SystemExit(f"rehearse_gpu: {e.name} is not installed; the rehearsal's writers live in tests/ and need the "
                         f"kit's test tools: pip install -e '.[check]' (or bash scripts/setup.sh run)") from None
    return test_full_rehearsal


def check_prepared(d: Path):
    "`run` needs a folder `prepare` made, not yet rehearsed: a finished run there would pass the checkpoint checks on old files."
    if not (d / 'dialogues.jsonl').is_file() or not (d / 'whisper').is_dir():
        raise SystemExit(f"{d} was not made by `prepare`: run `.venv/bin/python benchmarks/rehearse_gpu.py prepare NEW_FOLDER` first, then `run NEW_FOLDER`")
    done = [x.name for x in (d / 'runs', d / 'runs_fsdp') if x.exists()]
    if done: raise SystemExit(f"{d} was rehearsed already ({' and '.join(done)} there): its checks would read the old run's "
                              f"files; prepare a new folder (or delete {' and '.join(done)} in it) and run again")


def prepare(d: Path):
    "Tiny checkpoints in the formats `full` loads, and spoken dialogues with their reply tokens (as tests/test_full_rehearsal.py)."
    write_checkpoints, write_dialogues = writers().write_checkpoints, writers().write_dialogues
    d.mkdir(parents=True, exist_ok=True)
    if any(d.iterdir()): raise SystemExit(f"{d} is not empty: give a new folder")
    write_checkpoints(d); write_dialogues(d)
    print(f"prepared {d}: {sum(f.stat().st_size for f in d.rglob('*') if f.is_file()) / 2**20:.1f} MB")


def fsdp_settings(d: Path, gpus: int) -> Path:
    "The FSDP launch's settings: a long stage 1 (400 steps, checkpoints every 40) whose batch gives each of `gpus` processes one training dialogue a step (`fit` splits a batch over the processes into whole examples)."
    train = sum(json.loads(l)['split'] == 'train' for l in (d / 'dialogues.jsonl').read_text().splitlines() if l.strip())
    if not 1 <= gpus <= train:
        raise SystemExit(f"--gpus {gpus}: the FSDP launch gives each process one of the {train} training dialogues in {d} a "
                         f"step: give --gpus from 1 to {train}")
    return writers().write_settings(d, device='cuda', steps=400, ckpt_every=40, batch_size=gpus, name='settings_fsdp.ini')


def fsdp_launch(gpus: int) -> str:
    "The launch a sharded checkpoint of fsdp.yaml on `gpus` processes records, worded as `train._launch` words it ('FSDP 2 (SHARDED_STATE_DICT) on 2 processes')."
    import yaml
    c = yaml.safe_load(FSDP_CONFIG.read_text())['fsdp_config']
    return f"FSDP {c['fsdp_version']} ({c['fsdp_state_dict_type']}) on {gpus} processes"


class Checks:
    "One line a check: its name, passed or not, and what was seen."
    def __init__(self): self.rows = []
    def __call__(self, name: str, ok: bool, seen=''):
        self.rows.append({'check': name, 'ok': bool(ok), 'seen': str(seen)})
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {seen}", flush=True)
        return ok


LAUNCHED = []   # the process groups of every launch: stopped with this script (each runs in a session of its own)


def kill_group(pid: int):
    "Stop a launch's whole process group (its workers too); one that has ended already, workers and all, is left be."
    try: os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError): pass               # already ended (a failed launch ends on its own)


def stop_launches(signum, frame):
    "On SIGTERM (`timeout`, a job scheduler): stop every launch this script started, so none keeps the GPU, then exit."
    for pid in LAUNCHED: kill_group(pid)
    raise SystemExit(128 + signum)


SHELL_SETTINGS = tuple(f'EOL_{k}' for k in ('PRESET', 'DATA_DIR', 'OUT_DIR', 'SEED', 'DEVICE'))   # would override its settings file


def without_shell_settings():
    "Drop the shell's EOL_* settings from this process, whose own `get_settings()` and launches read it: the rehearsal's settings file decides."
    if gone := [k for k in SHELL_SETTINGS if os.environ.pop(k, None) is not None]:
        print(f"rehearse_gpu: {', '.join(gone)} from the shell left out: the rehearsal's settings file decides", flush=True)


def eol(d: Path, settings: str, *args, out_dir: str = 'runs', launch=None, wait=True, timeout=600):
    "`python -m emotion_omni_lite.cli run --preset full ARGS` in `d` (under `launch`, e.g. accelerate's), its output in a log."
    env = {**{k: v for k, v in os.environ.items() if k not in SHELL_SETTINGS}, 'EOL_SETTINGS': str(d / settings),
           'EOL_OUT_DIR': str(d / out_dir), 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1',
           'PYTHONPATH': os.pathsep.join([str(HERE.parent), os.environ.get('PYTHONPATH', '')])}
    cmd = [*(launch or [sys.executable]), '-m', 'emotion_omni_lite.cli', 'run', '--preset', 'full', *args]
    log = open(d / f"log-{int(time.time() * 1000)}.txt", 'w')
    p = subprocess.Popen(cmd, cwd=d, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    LAUNCHED.append(p.pid)
    p.log = Path(log.name)
    if wait:
        try: p.wait(timeout=timeout)
        except subprocess.TimeoutExpired: kill_group(p.pid); p.wait()
    return p


def tail(p, n=1500) -> str: return p.log.read_text()[-n:].replace('\n', ' | ')


def run(d: Path, gpus: int, device: str = 'cuda') -> Checks:
    import torch
    without_shell_settings()                                           # before its launches and its own get_settings()
    standin_token2wav, write_settings = writers().standin_token2wav, writers().write_settings
    if device == 'cuda': fsdp_settings(d, gpus)                       # --gpus refused before anything runs
    ok = Checks()
    if device == 'cuda': ok('CUDA', torch.cuda.is_available(), f"{torch.cuda.device_count()} × {torch.cuda.get_device_name() if torch.cuda.is_available() else '-'}, "
       f"torch {torch.__version__}")
    import accelerate, peft, transformers
    print(f"transformers {transformers.__version__}, peft {peft.__version__}, accelerate {accelerate.__version__}", flush=True)
    write_settings(d, device=device)                                 # 3 steps a stage, checkpoints at 2 and 3

    # 1. one process on the GPU: the dataset from the manifest, stages 1 and 2 in bf16
    t0 = time.time()
    p = eol(d, 'settings.ini', '--stages', 'data', 'stage1', 'stage2')
    if not ok(f'one process: data, stage 1, stage 2 on {device}', p.returncode == 0, f"{time.time() - t0:.0f} s; " + tail(p, 600)):
        return ok
    run1 = d / 'runs' / 'full'
    prec = json.loads((run1 / 'stage1' / 'config.json').read_text())['precision']
    ok('stage 1 dtypes', prec['mixed_precision'] == 'bf16' and prec['parameters']['llm'] == {'frozen': 'bfloat16', 'trainable': 'float32'},
       prec)
    hist = json.loads((run1 / 'stage1' / 'history.json').read_text())
    ok('stage 1 losses finite', len(hist) == 3 and all(math.isfinite(h['loss']) for h in hist), [h['loss'] for h in hist])

    # 2. the trained model answers on the GPU, its speech streamed through a token-to-wave vocoder
    os.environ.update(EOL_SETTINGS=str(d / 'settings.ini'), EOL_OUT_DIR=str(d / 'runs'))
    from emotion_omni_lite import vocoder
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.omni import load_omni
    vocoder.VOCODERS['cosyvoice2'] = lambda cfg, s: vocoder.TokenToWave(standin_token2wav, 24000, hop=25, lookahead=3,
                                                                                 first_pad=13, max_hop=100, scale=2)
    omni = load_omni(get_config('full'), get_settings())
    got = []
    r = omni.respond(str(d / 'q6.wav'), on_audio=got.append)
    on = {p.device.type for p in omni.parameters()}
    ok(f'respond on {device}', on == {device} and len(r['units']) > 0 and len(r['audio']) == 960 * len(r['units'])
       and sum(len(a) for a in got) == len(r['audio']), f"parameters on {on}, {len(r['units'])} units, "
       f"{len(r['audio']) / 24000:.2f} s of audio in {len(got)} pieces")
    del omni
    if device != 'cuda': return ok                                     # FSDP: accelerate shards on GPUs only
    torch.cuda.empty_cache()
    return fsdp_checks(ok, d, gpus)


def fsdp_checks(ok: Checks, d: Path, gpus: int) -> Checks:
    "3. FSDP 2: a long stage 1 killed after its first sharded checkpoint, refused by one process, then resumed."
    import torch
    fsdp = [sys.executable, '-m', 'accelerate.commands.launch', '--config_file', str(FSDP_CONFIG), '--num_processes', str(gpus)]
    state = d / 'runs_fsdp' / 'full' / 'stage1' / 'checkpoint' / 'state.json'
    t0 = time.time()
    p = eol(d, 'settings_fsdp.ini', '--stages', 'stage1', out_dir='runs_fsdp', launch=fsdp, wait=False)
    while not state.exists() and p.poll() is None and time.time() - t0 < 300: time.sleep(0.2)
    time.sleep(0.5)
    kill_group(p.pid); p.wait()                                       # a launch that failed has ended: its log is the check's
    if not ok('FSDP launch writes a sharded checkpoint', state.exists(), f"{time.time() - t0:.0f} s; " + tail(p, 800)):
        return ok
    st = json.loads(state.read_text())
    shards = sorted(x.name for x in (state.parent / st['sharded']).iterdir())
    ok('the checkpoint says its launch', st.get('launch') == fsdp_launch(gpus),
       f"step {st['step']}, {st.get('launch')!r} (meant: {fsdp_launch(gpus)!r}), files {shards}")
    p = eol(d, 'settings_fsdp.ini', '--stages', 'stage1', out_dir='runs_fsdp')
    ok('one process refuses the sharded checkpoint', p.returncode != 0 and 'written by sharded training' in p.log.read_text(),
       tail(p, 400))
    t0 = time.time()
    p = eol(d, 'settings_fsdp.ini', '--stages', 'stage1', 'stage2', out_dir='runs_fsdp', launch=fsdp)
    if not ok('FSDP relaunch finishes stages 1 and 2', p.returncode == 0, f"{time.time() - t0:.0f} s; " + tail(p, 600)):
        return ok
    run2 = d / 'runs_fsdp' / 'full'
    m = json.loads((run2 / 'stage1' / 'metrics.json').read_text())
    h = json.loads((run2 / 'stage1' / 'history.json').read_text())
    ok('it resumed from the killed run', m.get('resumed_from', 0) >= st['step'] and [x['step'] for x in h] == list(range(1, 401)),
       f"resumed_from {m.get('resumed_from')}, {len(h)} logged steps, final loss {m.get('final_loss')}")
    from safetensors.torch import load_file
    w = load_file(str(run2 / 'stage1' / 'model.safetensors'))
    ok('the trained weights were saved whole', w and all(v.dtype == torch.float32 for v in w.values()) and any('lora' in k for k in w),
       f"{len(w)} tensors, {sum(v.numel() for v in w.values())} numbers")
    return ok


def main():
    import bench_memory_gpu                                            # its --device rule (torch, only now)
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('what', choices=['prepare', 'run'])
    ap.add_argument('folder', type=Path)
    ap.add_argument('--gpus', type=int, default=1, help='processes of the FSDP launch (one GPU each)')
    ap.add_argument('--device', default='cuda', type=bench_memory_gpu.device_arg, choices=('cuda', 'cpu'),
                    help='cuda, or cpu: the one-process checks alone (FSDP needs GPUs)')
    ap.add_argument('--json', type=Path, help="also write the checks to this file (an existing one only with --replace)")
    ap.add_argument('--replace', action='store_true', help='write the checks over an existing --json file')
    a = ap.parse_args()
    if a.what == 'prepare': return prepare(a.folder)
    if a.device == 'cpu' and a.gpus != 1: ap.error(f"--gpus {a.gpus} with --device cpu: the CPU runs the one-process checks alone "
                                                   "(FSDP shards over GPUs): leave --gpus out, or give --device cuda")
    if a.json is not None and a.json.is_dir(): ap.error(f"--json {a.json}: that is a folder: name a file")
    if a.json is not None and a.json.exists() and not a.replace:       # an earlier rehearsal's checks are kept
        ap.error(f"--json {a.json}: the file exists (an earlier rehearsal's checks): name another, or give --replace to write over it")
    check_prepared(a.folder)
    signal.signal(signal.SIGTERM, stop_launches)                     # a time limit stops the launches too, not this alone
    res = run(a.folder.resolve(), a.gpus, a.device)
    if a.json is not None:                                             # whole or not at all
        a.json.parent.mkdir(parents=True, exist_ok=True)
        part = a.json.with_name(a.json.name + '.part'); part.write_text(json.dumps(res.rows, indent=1)); part.replace(a.json)
    bad = [r['check'] for r in res.rows if not r['ok']]
    print(f"\n{len(res.rows) - len(bad)} of {len(res.rows)} checks passed" + (f"; failed: {', '.join(bad)}" if bad else ''))
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
