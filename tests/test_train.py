"The shared training loop: checkpoints, resume, seeds."
import contextlib, json, random, re
from pathlib import Path
import numpy as np
import pytest
import torch
from torch import nn
from emotion_omni_lite.config import TrainConfig
from emotion_omni_lite.train import fit, set_seed


class _OneCpuProcess:
    "accelerate's Accelerator as one process on the CPU: the calls `fit` makes, doing what a single process does."
    def __init__(self, **kw): pass
    def no_sync(self, m): return contextlib.nullcontext()
    def autocast(self): return contextlib.nullcontext()
    def backward(self, loss): loss.backward()
    def clip_grad_norm_(self, *a): pass
    def wait_for_everyone(self): pass
    def unwrap_model(self, m): return m


XS = torch.linspace(-1, 1, 64)[:, None]
YS = 3 * XS + 0.5
DATA = list(zip(XS, YS))
collate = lambda b: (torch.stack([x for x, _ in b]), torch.stack([y for _, y in b]))
loss = lambda m, b: ((m(b[0]) - b[1]) ** 2).mean()
TCFG = TrainConfig(steps=30, batch_size=8, lr=0.3, ckpt_every=10, log_every=5)
# a random view of each example, drawn from each global generator `set_seed` seeds: a resume that left one unrestored
# would draw other views after its checkpoint and end on other weights
noisy = lambda b: [(x + 0.1 * (torch.randn(()) + random.gauss(0, 1) + float(np.random.randn())), y) for x, y in b]


def test_fit_learns_and_checkpoints(tmp_path):
    set_seed(0); m = nn.Linear(1, 1)
    r = fit(m, DATA, collate, loss, TCFG, ckpt_dir=tmp_path, progress=False)
    assert r.final_loss < r.history[0]['loss']
    ck = tmp_path / 'checkpoint'
    assert sorted(p.name for p in ck.iterdir()) == ['model-30.safetensors', 'optimizer-30.safetensors', 'state.json']   # step 20's went
    st = json.loads((ck / 'state.json').read_text())
    assert st['step'] == 30 and 'rng' in st and st['history'] and st['files']['model'] == 'model-30.safetensors'


def test_a_save_stopped_halfway_resumes_from_the_checkpoint_before(tmp_path, monkeypatch):
    "Killed after writing step 20's weight files but before its state.json: step 10's checkpoint is still whole, and resuming from it ends where an uninterrupted run does, random views (torch's, Python's and NumPy's draws) and all."
    import emotion_omni_lite.train as train
    set_seed(0); a = nn.Linear(1, 1)
    fit(a, DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'a', progress=False, augment=noisy)
    real = train.save_json
    def stop_at_20(obj, path):
        if obj.get('step') == 20: raise KeyboardInterrupt('stopped while saving')
        real(obj, path)
    monkeypatch.setattr(train, 'save_json', stop_at_20)
    set_seed(0)
    with pytest.raises(KeyboardInterrupt): fit(nn.Linear(1, 1), DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'b', progress=False, augment=noisy)
    monkeypatch.setattr(train, 'save_json', real)
    ck = tmp_path / 'b' / 'checkpoint'
    assert json.loads((ck / 'state.json').read_text())['step'] == 10
    assert {'model-10.safetensors', 'model-20.safetensors', 'optimizer-20.safetensors'} <= {p.name for p in ck.iterdir()}
    set_seed(0); b = nn.Linear(1, 1)
    r = fit(b, DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'b', progress=False, augment=noisy)
    assert r.resumed_from == 10
    assert torch.allclose(a.weight, b.weight, atol=1e-6) and torch.allclose(a.bias, b.bias, atol=1e-6)
    assert sorted(p.name for p in ck.iterdir()) == ['model-30.safetensors', 'optimizer-30.safetensors', 'state.json']



def test_a_checkpoint_of_the_earlier_layout_resumes(tmp_path):
    "A checkpoint written before the weight files were named by step (`model.safetensors`, no 'files' in state.json) and before NumPy's RNG state was kept still resumes."
    set_seed(0); a = nn.Linear(1, 1)
    fit(a, DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'a', progress=False)
    calls = []
    def stops_after_15(m, b):
        calls.append(1)
        if len(calls) > 15: raise KeyboardInterrupt('stopped')
        return loss(m, b)
    set_seed(0)
    with pytest.raises(KeyboardInterrupt): fit(nn.Linear(1, 1), DATA, collate, stops_after_15, TCFG, ckpt_dir=tmp_path / 'b', progress=False)
    ck = tmp_path / 'b' / 'checkpoint'
    st = json.loads((ck / 'state.json').read_text())
    for k, f in st.pop('files').items(): (ck / f).rename(ck / f'{k}.safetensors')
    st['sha256'] = {f'{k}.safetensors': v for k, v in zip(('model', 'optimizer'), st['sha256'].values())}
    del st['rng']['numpy']
    (ck / 'state.json').write_text(json.dumps(st))
    set_seed(0); b = nn.Linear(1, 1)
    r = fit(b, DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'b', progress=False)
    assert r.resumed_from == 10 and torch.allclose(a.weight, b.weight, atol=1e-6)
    assert sorted(p.name for p in ck.iterdir()) == ['model-30.safetensors', 'optimizer-30.safetensors', 'state.json']

# Resuming after a crash reproduces the uninterrupted run: checked in nbs/01_train.ipynb (cell 03f3e5dc).


def test_frozen_model_is_refused():
    m = nn.Linear(1, 1)
    for p in m.parameters(): p.requires_grad_(False)
    with pytest.raises(ValueError, match='no trainable'):
        fit(m, DATA, collate, loss, TCFG, progress=False)


def test_rng_state_is_read_back_without_eval(tmp_path):
    "A checkpoint's Python and NumPy RNG states are plain numbers: a crafted string is refused, never executed; a NumPy state of other numbers is refused before any generator is set."
    from emotion_omni_lite.train import _rng_state, _set_rng_state
    set_seed(3); st = json.loads(json.dumps(_rng_state()))                  # through JSON, as on disk
    a = [random.random() for _ in range(3)] + np.random.rand(3).tolist()
    _set_rng_state(st)
    assert [random.random() for _ in range(3)] + np.random.rand(3).tolist() == a
    for bad in ({'keys': ['x'] * 624}, {'keys': [2**40] * 624}, {'kind': 'PCG64'}, {'keys': st['numpy']['keys'][:5]}):
        now = torch.get_rng_state(), random.getstate()
        with pytest.raises((TypeError, KeyError, ValueError)): _set_rng_state({**st, 'numpy': {**st['numpy'], **bad}})
        assert torch.equal(torch.get_rng_state(), now[0]) and random.getstate() == now[1]
    marker = tmp_path / 'ran'
    st['python'] = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    with pytest.raises((TypeError, KeyError, ValueError)): _set_rng_state(st)
    assert not marker.exists()


def test_a_checkpoint_whose_files_do_not_belong_together_is_refused(tmp_path):
    "Weights from another step, or weights zeroed on disk, no longer match the checksums in state.json: named, not resumed."
    import shutil
    from safetensors.torch import load_file, save_file
    from emotion_omni_lite.train import CheckpointError
    set_seed(0); m = nn.Linear(1, 1)
    fit(m, DATA, collate, loss, TrainConfig(steps=10, batch_size=8, lr=0.3, ckpt_every=5, log_every=5), ckpt_dir=tmp_path / 'a', progress=False)
    shutil.copytree(tmp_path / 'a', tmp_path / 'b')
    w = tmp_path / 'b' / 'checkpoint' / 'model-10.safetensors'
    save_file({k: torch.zeros_like(v) for k, v in load_file(str(w)).items()}, str(w))         # zeroed on disk
    with pytest.raises(CheckpointError, match='checksum'):
        fit(nn.Linear(1, 1), DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'b', progress=False)
    set_seed(0); fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(steps=5, batch_size=8, lr=0.3, ckpt_every=5, log_every=5),
                     ckpt_dir=tmp_path / 'c', progress=False)                            # the weights of step 5 …
    shutil.copytree(tmp_path / 'a', tmp_path / 'd')
    shutil.copy(tmp_path / 'c' / 'checkpoint' / 'model-5.safetensors', tmp_path / 'd' / 'checkpoint' / 'model-10.safetensors')
    with pytest.raises(CheckpointError, match='checksum'):                                # … beside step 10's state
        fit(nn.Linear(1, 1), DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'd', progress=False)
    set_seed(0); r = fit(nn.Linear(1, 1), DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'a', progress=False)  # intact: resumes
    assert r.resumed_from == 10 and r.history[0]['step'] <= 10 < r.history[-1]['step']


def test_finished_runs_are_checked_and_one_process_trains_a_stage_at_a_time(tmp_path, capsys):
    "A finished run whose weights changed on disk is 'damaged', not reused, and running it again restores it from its final checkpoint (no step trained again); a second trainer waits for the first."
    import threading
    from emotion_omni_lite.config import get_config, get_settings, set_field
    from emotion_omni_lite.stages import STAGES, StageJob, StageLock, StageMissing, require_stage, run_stage, stage_folder, stage_hash, stage_state
    s = get_settings(preset='smoke', out_dir=str(tmp_path / 'runs'), data_dir=str(tmp_path / 'data'))
    c = set_field(get_config('smoke'), 'stages.vocoder.steps', 3)
    for u in STAGES['vocoder'].depends:                                    # pretend the dataset is built
        stage_folder(u, s).mkdir(parents=True, exist_ok=True)
        (stage_folder(u, s) / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': stage_hash(u, c, s.seed)}))
    job = lambda c_, s_: StageJob(data=DATA, build=lambda: nn.Linear(1, 1), collate=collate, loss=loss)
    folder = stage_folder('vocoder', s)
    with StageLock(folder):                                                 # another process is writing this stage
        t = threading.Thread(target=run_stage, args=('vocoder', c, job, s)); t.start()
        for _ in range(200):
            if 'waiting for another process' in capsys.readouterr().out: break
            t.join(0.05)
        else: raise AssertionError('the second trainer did not wait')
        assert not (folder / 'metrics.json').exists()
    t.join()
    assert stage_state('vocoder', c, s) == 'done'
    w = folder / 'model.safetensors'; w.write_bytes(b'\0' * w.stat().st_size)  # damaged on disk
    assert stage_state('vocoder', c, s) == 'damaged'
    with pytest.raises(StageMissing, match=r'(?s)damaged.*restores the run from its final checkpoint there, training no step again'):
        require_stage('vocoder', c, s)
    from safetensors.torch import load_file
    final = load_file(str(folder / 'checkpoint' / 'model-3.safetensors'))
    run_stage('vocoder', c, job, s)                                         # restored from its final checkpoint: no step trained
    assert json.loads((folder / 'metrics.json').read_text())['resumed_from'] == 3 == c.stages.vocoder.steps
    saved = load_file(str(w))
    assert saved.keys() == final.keys() and all(torch.equal(saved[k], final[k]) for k in final)
    assert stage_state('vocoder', c, s) == 'done'                           # checksums written anew


def _toy_vocoder(tmp_path):
    "A toy job for the vocoder stage (3 steps) in a fresh runs folder, its dataset pretended built."
    from emotion_omni_lite.config import get_config, get_settings, set_field
    from emotion_omni_lite.stages import STAGES, StageJob, stage_folder, stage_hash
    s = get_settings(preset='smoke', out_dir=str(tmp_path / 'runs'), data_dir=str(tmp_path / 'data'))
    c = set_field(get_config('smoke'), 'stages.vocoder.steps', 3)
    for u in STAGES['vocoder'].depends:
        stage_folder(u, s).mkdir(parents=True, exist_ok=True)
        (stage_folder(u, s) / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': stage_hash(u, c, s.seed)}))
    job = lambda c_, s_: StageJob(data=DATA, build=lambda: nn.Linear(1, 1), collate=collate, loss=loss)
    return c, s, job, stage_folder('vocoder', s)


def _files(folder):
    import hashlib
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.mark.parametrize('field, value, said', [
    ('mixed_precision', 'fp16', "mixed_precision='fp16' trains on a GPU only"),        # another hash: the run would be replaced
    ('batch_size', 128, 'only 64 training examples, fewer than batch_size=128'),
    ('gradient_checkpointing', True, 'holds no transformers model that supports it')])  # the same hash: asked with --force
def test_a_setting_fit_refuses_leaves_the_finished_run_whole(tmp_path, field, value, said):
    "What `fit` would refuse is refused before the run folder is touched: a finished run of the settings before stays as it was, even under `force`."
    from emotion_omni_lite.config import ConfigError, set_field
    from emotion_omni_lite.stages import run_stage, stage_state
    c, s, job, folder = _toy_vocoder(tmp_path)
    run_stage('vocoder', c, job, s); before = _files(folder)
    with pytest.raises(ConfigError, match=rf"vocoder: .*{said}.*nothing was trained, and .*vocoder is left as it was"):
        run_stage('vocoder', set_field(c, f'stages.vocoder.{field}', value), job, s, force=field == 'gradient_checkpointing')
    assert _files(folder) == before and stage_state('vocoder', c, s) == 'done'


def test_fit_refuses_before_it_changes_the_model():
    "A batch that does not split is refused before the trainable weights are made fp32 copies."
    from emotion_omni_lite.config import ConfigError
    m = nn.Linear(1, 1).to(torch.bfloat16)
    with pytest.raises(ConfigError, match='multiple of 3'):
        fit(m, DATA, collate, loss, TrainConfig(steps=2, batch_size=8, grad_accum=3), progress=False, device='cpu')
    assert m.weight.dtype == torch.bfloat16


def test_too_few_examples_for_one_batch_are_refused():
    "8 examples, batch_size 16: refused, naming the data and the batch size, never trained on smaller batches."
    from emotion_omni_lite.config import ConfigError
    with pytest.raises(ConfigError, match=r'only 8 training examples, fewer than batch_size=16: make more training data .*at most 8$'):
        fit(nn.Linear(1, 1), DATA[:8], collate, lambda m, b: pytest.fail('trained'), TrainConfig(steps=2, batch_size=16),
            progress=False, device='cpu')


def test_a_file_where_the_run_folder_goes_is_named_before_the_job_is_built(tmp_path):
    from emotion_omni_lite.config import ConfigError
    from emotion_omni_lite.stages import run_stage, stage_folder
    c, s, job, folder = _toy_vocoder(tmp_path)
    folder.parent.mkdir(parents=True); folder.write_text('notes')
    with pytest.raises(ConfigError, match=r'vocoder, where stage .vocoder. keeps its run, is not a folder: move or delete this file'):
        run_stage('vocoder', c, lambda *a: pytest.fail('the job was built'), s)
    assert folder.read_text() == 'notes'


def test_a_stage_with_no_steps_and_no_checkpoint_names_the_part_to_load_first(tmp_path):
    "full's vocoder (CosyVoice2, loaded and never trained) with no folder given: the fix is vocoder.pretrained, not training steps; a part that loads a checkpoint names its `pretrained` first; griffin_lim, which reads none, its steps alone. Nothing written."
    from emotion_omni_lite.config import ConfigError, get_config, get_settings
    from emotion_omni_lite.stages import run_stage
    s = get_settings(preset='full', out_dir=str(tmp_path / 'runs'), data_dir=str(tmp_path / 'data'))
    full = get_config('full')
    with pytest.raises(ConfigError, match=r"stages\.vocoder\.steps = 0: .*: set vocoder\.pretrained to your CosyVoice2 checkpoint "
                                          r"folder .*or use vocoder\.kind='griffin_lim' .*stages\.vocoder\.steps \(lite: 300\)$"):
        run_stage('vocoder', full, lambda *a: pytest.fail('the job was built'), s)
    with pytest.raises(ConfigError, match=r"stages\.asr\.steps = 0: .*: set semantic_encoder\.pretrained to the checkpoint it loads "
                                          r"\(full: openai/whisper-large-v3\), or set stages\.asr\.steps \(lite: \d+\)$"):
        run_stage('asr', get_config('full', **{'semantic_encoder.pretrained': None}), lambda *a: pytest.fail('the job was built'), s)
    smoke = get_settings(preset='smoke', out_dir=str(tmp_path / 'runs'), data_dir=str(tmp_path / 'data'))
    with pytest.raises(ConfigError, match=r"finished run: set stages\.vocoder\.steps \(lite: 300\)$"):
        run_stage('vocoder', get_config('smoke', **{'stages.vocoder.steps': 0}), lambda *a: pytest.fail('the job was built'), smoke)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


RECORD_DAMAGE = {   # state.json fields the checksums do not cover: each refused with the fix before anything is set
    'step a word': ({'step': 'abc'}, r"records step 'abc', not a step from 1 to 4"),
    'step null': ({'step': None}, r'records step None'),
    'step 0': ({'step': 0}, r'records step 0'),
    'step past the end': ({'step': 999}, r'records step 999, not a step from 1 to 4 of this training'),
    'history a mapping': ({'history': {}}, 'holds no loss history'),
    'history of numbers': ({'history': [1, 2]}, 'holds no loss history'),
    'scheduler a list': ({'scheduler': []}, 'holds a learning-rate schedule this training cannot take'),
    'scheduler emptied': ({'scheduler': {}}, 'holds a learning-rate schedule this training cannot take'),
    'scheduler step a word': ({'scheduler': {'base_lrs': [0.1], 'last_epoch': 'two', '_step_count': 3, '_last_lr': [0.1],
                                             'lr_lambdas': [None]}}, 'holds a learning-rate schedule .*not numbers')}


@pytest.mark.parametrize('case', list(RECORD_DAMAGE))
def test_a_checkpoint_record_this_training_cannot_go_on_from_is_refused(tmp_path, case):
    from emotion_omni_lite.train import CheckpointError, _load_sharded, _save_sharded
    patch, said = RECORD_DAMAGE[case]
    set_seed(0); fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(steps=4, batch_size=8, lr=0.1, ckpt_every=2, log_every=2),
                     ckpt_dir=tmp_path / 'a', progress=False)
    st = tmp_path / 'a' / 'checkpoint' / 'state.json'; st.write_text(json.dumps({**json.loads(st.read_text()), **patch}))
    before, m = _files(tmp_path), nn.Linear(1, 1); w0 = m.weight.detach().clone()
    with pytest.raises(CheckpointError, match=rf"state\.json {said}.*delete .*checkpoint to train this stage from its start"):
        fit(m, DATA, collate, lambda m, b: pytest.fail('trained'), TrainConfig(steps=4, batch_size=8, lr=0.1, ckpt_every=2),
            ckpt_dir=tmp_path / 'a', progress=False)
    assert _files(tmp_path) == before and torch.equal(m.weight, w0)     # nothing loaded, nothing written
    sched = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), lambda s: 1.0)
    _save_sharded(ShardingAccelerator(torch.tensor([1.0])), tmp_path / 'b', sched, 2, [{'step': 2, 'loss': 1.0}])
    st = tmp_path / 'b' / 'checkpoint' / 'state.json'; st.write_text(json.dumps({**json.loads(st.read_text()), **patch}))
    back = torch.tensor([0.0])                                           # sharded: refused before a shard is read
    with pytest.raises(CheckpointError, match=said): _load_sharded(ShardingAccelerator(back), tmp_path / 'b', sched, 4)
    assert back.item() == 0.0 and sched.last_epoch == 0


def test_a_step_the_loss_scaler_skipped_moves_no_schedule_and_the_scale_is_checkpointed(tmp_path, monkeypatch):
    "fp16 (on GPUs): a step whose gradients overflowed is skipped by the loss scaler, and so is its learning-rate step; the scale it has reached is saved with the checkpoint and restored, a damaged one refused before anything is set."
    import contextlib, accelerate
    from accelerate.utils import DistributedType
    from emotion_omni_lite.train import CheckpointError, load_checkpoint
    scaler = torch.amp.GradScaler('cpu', init_scale=256.0, growth_interval=7)
    scaler.scale(torch.ones(()))                                         # its scale made, as the first scaled loss makes it
    class Skipping:                                                      # every other step overflows
        def __init__(self, opt): self.opt, self.calls, self.step_was_skipped = opt, 0, False
        def step(self):
            self.calls += 1; self.step_was_skipped = self.calls % 2 == 0
            if self.step_was_skipped: scaler.update(scaler.get_scale() / 2)   # an overflow: the scale backs off, as GradScaler's
            else: self.opt.step()
        def __getattr__(self, k): return getattr(self.opt, k)
    class FP16Launch(_OneCpuProcess):                                     # one process, a scaler that skips steps
        distributed_type, num_processes, process_index, is_main_process, device = DistributedType.NO, 1, 0, True, 'cpu'
        def prepare(self, m, o): return m, Skipping(o)
    FP16Launch.scaler = scaler
    monkeypatch.setattr(accelerate, 'Accelerator', FP16Launch)
    fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(steps=4, batch_size=8, lr=0.1, ckpt_every=4), ckpt_dir=tmp_path, progress=False)
    st = json.loads((tmp_path / 'checkpoint' / 'state.json').read_text())
    assert st['scheduler']['last_epoch'] == 2                            # two of the four steps were taken
    assert st['scaler']['scale'] == 64.0 and st['scaler']['growth_interval'] == 7   # 256, halved at each of the two overflows
    m = nn.Linear(1, 1); opt = torch.optim.AdamW(m.parameters()); sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    scaler = torch.amp.GradScaler('cpu')
    assert load_checkpoint(tmp_path, m, opt, sched, 4, scaler)[0] == 4 and scaler.get_scale() == 64.0
    (tmp_path / 'checkpoint' / 'state.json').write_text(json.dumps({**st, 'scaler': {'scale': 'big'}}))
    m = nn.Linear(1, 1); w0 = m.weight.detach().clone(); opt = torch.optim.AdamW(m.parameters())
    fresh = torch.amp.GradScaler('cpu')
    with pytest.raises(CheckpointError, match="loss scaler's state lacks a number it keeps"):
        load_checkpoint(tmp_path, m, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), 4, fresh)
    assert torch.equal(m.weight, w0) and not opt.state and fresh.get_scale() == 65536.0


def test_gradient_checkpointing_changes_memory_not_results():
    "The LLM with LoRA (stage 1) and the speech decoder (stage 2): the same loss and gradients with checkpointing on."
    import warnings
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.stage2 import Stage2Model, collate_stage2
    from emotion_omni_lite.text_llm import add_lora, build_llm
    from emotion_omni_lite.train import enable_checkpointing, freeze
    cfg = get_config('smoke', **{'llm.num_layers': 2, 'decoder.layers': 2})
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(4, 1000, (2, 12), generator=g)
    b2 = collate_stage2([{'h': torch.randn(6, 32, generator=g), 'e': torch.randn(6, 32, generator=g),
                          'emotion_vec_true': torch.randn(16, generator=g), 'emotion_vec_pred': torch.randn(16, generator=g),
                          'units': torch.randint(0, 32, (20,), generator=g)} for _ in range(2)])
    flags = torch.tensor([True, False])
    def run(which, ckpt):
        torch.manual_seed(0)
        if which == 'llm':
            m = add_lora(freeze(build_llm(cfg)), cfg).train(); f = lambda: m(input_ids=ids, labels=ids).loss
        else:
            m = Stage2Model(cfg).train(); f = lambda: m(b2, flags, flags)
        if ckpt: assert enable_checkpointing(m) >= 1
        torch.manual_seed(2)                                        # the same dropout draws in both runs
        saved = []                                                  # what the forward keeps for backward (its memory)
        def pack(t): saved.append(t.numel() * t.element_size()); return t
        with warnings.catch_warnings(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            warnings.simplefilter('ignore')
            loss = f()
            kept = sum(saved)                                       # before backward recomputes the layers
        loss.backward()
        return loss.item(), {n: p.grad for n, p in m.named_parameters() if p.grad is not None}, kept
    for which in ('llm', 'decoder'):
        (l0, g0, k0), (l1, g1, k1) = run(which, False), run(which, True)
        assert l0 == pytest.approx(l1, abs=1e-6) and set(g0) == set(g1) and g0
        for n in g0: assert torch.allclose(g0[n], g1[n], atol=1e-6), (which, n)
        assert k1 < 0.8 * k0, (which, k0, k1)                       # the layers' activations are not kept: recomputed
    with pytest.raises(ValueError, match='gradient_checkpointing'): enable_checkpointing(torch.nn.Linear(2, 2))


class ShardingAccelerator:
    "What `_save_sharded` / `_load_sharded` ask of accelerate: each process writes its shard into a folder; one process here."
    is_main_process = True
    def __init__(self, weight, fail_after: int = 0, processes: int = 2):
        from accelerate.utils import DistributedType
        self.weight, self.fail_after, self.num_processes, self.distributed_type = weight, fail_after, processes, DistributedType.FSDP
    def wait_for_everyone(self): pass
    def save_state(self, folder):
        from pathlib import Path
        f = Path(folder); f.mkdir(parents=True)
        (f / 'shard_0.bin').write_bytes(b'x' * 64)                      # the first shard lands …
        if self.fail_after: raise KeyboardInterrupt('stopped while the shards were written')   # … then the job stops
        torch.save({'w': self.weight.clone()}, f / 'shard_1.bin')
    def load_state(self, folder):
        from pathlib import Path
        self.weight.copy_(torch.load(Path(folder) / 'shard_1.bin', weights_only=True)['w'])


def test_a_sharded_checkpoint_stopped_midway_resumes_from_the_last_whole_one(tmp_path):
    "FSDP/DeepSpeed write a checkpoint shard by shard: each goes to a folder of its own and state.json names it only once whole."
    from emotion_omni_lite.train import CheckpointError, _load_sharded, _save_sharded
    sched = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), lambda s: 1.0)
    w = torch.tensor([1.0])
    _save_sharded(ShardingAccelerator(w), tmp_path, sched, 10, [{'step': 10, 'loss': 1.0}])
    w.fill_(2.0); _save_sharded(ShardingAccelerator(w), tmp_path, sched, 20, [{'step': 20, 'loss': 1.0}])
    ck = tmp_path / 'checkpoint'
    assert sorted(p.name for p in ck.iterdir()) == ['sharded-20', 'state.json']          # the older one went after
    w.fill_(3.0)
    with pytest.raises(KeyboardInterrupt): _save_sharded(ShardingAccelerator(w, fail_after=1), tmp_path, sched, 30, [])
    back = torch.tensor([0.0])
    assert _load_sharded(ShardingAccelerator(back), tmp_path, sched) == (20, [{'step': 20, 'loss': 1.0}]) and back.item() == 2.0
    (ck / 'sharded-20' / 'shard_1.bin').write_bytes(b'cut')                              # a damaged shard: named, with the fix
    with pytest.raises(CheckpointError, match='sharded-20 does not load .*delete .*checkpoint to train this stage'):
        _load_sharded(ShardingAccelerator(back), tmp_path, sched)
    w.fill_(4.0)                                                         # the stopped step saved again: into a clean folder
    _save_sharded(ShardingAccelerator(w), tmp_path, sched, 30, [{'step': 30, 'loss': 1.0}])
    assert sorted(p.name for p in ck.iterdir()) == ['sharded-30', 'state.json']
    assert _load_sharded(ShardingAccelerator(back), tmp_path, sched) == (30, [{'step': 30, 'loss': 1.0}]) and back.item() == 4.0
    import shutil; shutil.rmtree(ck / 'sharded-30')
    with pytest.raises(CheckpointError, match='sharded-30, the checkpoint .*state.json names, is missing'):
        _load_sharded(ShardingAccelerator(back), tmp_path, sched)


def test_the_next_save_deletes_the_temporary_files_of_writes_killed_midway(tmp_path):
    "SIGKILL, out of memory or power loss stop a write before its `finally`: its `.<name>.tmp<PID>` stays, so the next checkpoint saved in that folder deletes those whose process no longer runs, and keeps a running one's (another rank's)."
    import os, subprocess, sys
    from emotion_omni_lite.train import _save_sharded
    dead = subprocess.Popen([sys.executable, '-c', 'pass']); dead.wait()   # its PID: no longer a process
    live = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        for ck in (tmp_path / 'plain' / 'checkpoint', tmp_path / 'sharded' / 'checkpoint'):
            ck.mkdir(parents=True)
            for f in (f'.model-10.safetensors.tmp{dead.pid}', f'.state.json.tmp{dead.pid}', f'.model-10.safetensors.tmp{os.getpid()}',
                      f'.optimizer-10.safetensors.tmp{live.pid}', '.notes.tmpx'):
                (ck / f).write_bytes(b'x' * 100)
        set_seed(0); fit(nn.Linear(1, 1), DATA, collate, loss, TCFG, ckpt_dir=tmp_path / 'plain', progress=False)
        sched = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), lambda s: 1.0)
        _save_sharded(ShardingAccelerator(torch.tensor([1.0])), tmp_path / 'sharded', sched, 10, [])
        kept = [f'.notes.tmpx', f'.optimizer-10.safetensors.tmp{live.pid}']   # this process's own: a PID a killed run had before
        assert sorted(p.name for p in (tmp_path / 'plain' / 'checkpoint').iterdir()) == sorted(
            kept + ['model-30.safetensors', 'optimizer-30.safetensors', 'state.json'])
        assert sorted(p.name for p in (tmp_path / 'sharded' / 'checkpoint').iterdir()) == sorted(kept + ['sharded-10', 'state.json'])
    finally: live.kill(); live.wait()


def test_a_damaged_sharded_state_json_is_called_damaged(tmp_path):
    "A state.json cut short is a damaged checkpoint, not one of another launch."
    from emotion_omni_lite.train import CheckpointError, _load_sharded, _save_sharded
    sched = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), lambda s: 1.0)
    _save_sharded(ShardingAccelerator(torch.tensor([1.0])), tmp_path, sched, 10, [])
    st = tmp_path / 'checkpoint' / 'state.json'
    for damaged, why in ((st.read_text()[:40], 'is not readable JSON'), ('[1, 2]', 'holds no checkpoint record')):
        st.write_text(damaged)
        with pytest.raises(CheckpointError, match=rf"state.json {why} \(a damaged checkpoint\): delete .*checkpoint to train this stage "
                                                  r"from its start \(or run it with --force\)"):
            _load_sharded(ShardingAccelerator(torch.tensor([0.0])), tmp_path, sched)


@pytest.mark.parametrize('accum, groups', [(2, 1), (1, 2)])
def test_deepspeed_refuses_micro_batches(monkeypatch, accum, groups):
    "DeepSpeed's engine steps the optimizer at every backward: grad_accum or length groups would each be a step of their own."
    import accelerate
    from accelerate.utils import DistributedType
    class DeepSpeedLaunch:                                                # only what `fit` reads before the refusal
        distributed_type, num_processes, process_index = DistributedType.DEEPSPEED, 1, 0
        def __init__(self, **kw): pass
        def prepare(self, *a): raise AssertionError('prepared: the refusal came too late')
    monkeypatch.setattr(accelerate, 'Accelerator', DeepSpeedLaunch)
    cfg = TrainConfig(steps=2, batch_size=8, lr=0.1, grad_accum=accum, length_groups=groups)
    lengths = [1] * len(DATA) if groups > 1 else None
    with pytest.raises(ValueError, match=rf"grad_accum={accum} × length_groups={groups} under DeepSpeed: .*set both to 1"):
        fit(nn.Linear(1, 1), DATA, collate, loss, cfg, progress=False, lengths=lengths)


def test_deepspeed_hands_back_its_fp32_weights_and_its_word_to_transformers(monkeypatch):
    "After DeepSpeed trains, the whole weights are its fp32 master copies (the engine's own are bf16), asked of every process, and transformers no longer builds models under ZeRO-3: a model the main process alone loads next would wait for the others forever."
    import sys, types, contextlib, accelerate, transformers.integrations
    from accelerate.utils import DistributedType
    master = lambda p: torch.full_like(p.data, 7.0)                      # what the optimizer's fp32 copy would hold
    monkeypatch.setitem(sys.modules, 'deepspeed', types.ModuleType('deepspeed'))
    monkeypatch.setitem(sys.modules, 'deepspeed.utils', types.SimpleNamespace(safe_get_full_fp32_param=master))
    told = []
    monkeypatch.setattr(transformers.integrations, 'unset_hf_deepspeed_config', lambda: told.append('unset'))
    class DeepSpeedLaunch(_OneCpuProcess):                                # one process of a DeepSpeed launch, on the CPU
        distributed_type, num_processes, process_index, is_main_process, device = DistributedType.DEEPSPEED, 1, 0, True, 'cpu'
        state = types.SimpleNamespace(deepspeed_plugin=types.SimpleNamespace(deepspeed_config={}))
        def prepare(self, *a): return a
        def get_state_dict(self, m): raise AssertionError("the engine's bf16 weights were saved")
    monkeypatch.setattr(accelerate, 'Accelerator', DeepSpeedLaunch)
    m = nn.Linear(1, 1)
    res = fit(m, DATA, collate, loss, TrainConfig(steps=2, batch_size=8, lr=0.1, log_every=1), progress=False)
    assert set(res.state) == {'weight', 'bias'} and all((v == 7.0).all() for v in res.state.values())
    assert told == ['unset']

def test_a_sharded_checkpoint_resumes_only_on_the_launch_that_cut_it(tmp_path):
    "FSDP/DeepSpeed shards fit the number of processes that wrote them: another launch is told which one, not 'damaged'."
    from emotion_omni_lite.train import CheckpointError, _load_sharded, _save_sharded, load_checkpoint
    sched = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), lambda s: 1.0)
    _save_sharded(ShardingAccelerator(torch.tensor([1.0]), processes=8), tmp_path, sched, 10, [{'step': 10, 'loss': 1.0}])
    back = torch.tensor([0.0])
    with pytest.raises(CheckpointError, match=r"was written by FSDP on 8 processes; this launch is FSDP on 4 processes: resume "
                                              r"it with the launch that wrote it"):
        _load_sharded(ShardingAccelerator(back, processes=4), tmp_path, sched)
    assert back.item() == 0.0                                             # nothing read
    m = nn.Linear(1, 1)
    with pytest.raises(CheckpointError, match=r"was written by sharded training \(FSDP on 8 processes\): resume it with that launch"):
        load_checkpoint(tmp_path, m, torch.optim.SGD(m.parameters(), lr=0.1), sched)
    assert _load_sharded(ShardingAccelerator(back, processes=8), tmp_path, sched) == (10, [{'step': 10, 'loss': 1.0}]) and back.item() == 1.0
    from types import SimpleNamespace                                    # ZeRO-2's shards are not ZeRO-3's: said, not read
    from accelerate.utils import DistributedType
    zero = lambda n: SimpleNamespace(deepspeed_plugin=SimpleNamespace(zero_stage=n), fsdp_plugin=None)
    two = ShardingAccelerator(torch.tensor([3.0]), processes=8); two.state, two.distributed_type = zero(2), DistributedType.DEEPSPEED
    _save_sharded(two, tmp_path / 'ds', sched, 10, [])
    three = ShardingAccelerator(torch.tensor([0.0]), processes=8); three.state, three.distributed_type = zero(3), DistributedType.DEEPSPEED
    with pytest.raises(CheckpointError, match=r"written by DEEPSPEED ZeRO-2 on 8 processes; this launch is DEEPSPEED ZeRO-3 on 8"):
        _load_sharded(three, tmp_path / 'ds', sched)
    assert three.weight.item() == 0.0
    from emotion_omni_lite.train import _same_launch                     # a record written before stages were recorded
    assert _same_launch('FSDP on 8 processes', 'FSDP 2 (SHARDED_STATE_DICT) on 8 processes')
    assert not _same_launch('FSDP on 8 processes', 'FSDP 2 (SHARDED_STATE_DICT) on 4 processes')
    assert not _same_launch('DEEPSPEED ZeRO-2 on 8 processes', 'DEEPSPEED ZeRO-3 on 8 processes')


def test_decoding_passes_the_key_value_cache_by_the_name_this_transformers_takes():
    "transformers renamed `past_key_values` to `cache` (the old name goes in 5.40): the ASR's beam search, the speech decoder's batch and streamed decoding and the LLM's cached steps pass and read it by the installed version's name, with no deprecation warning."
    import warnings
    from transformers import DynamicCache, Qwen2Config, Qwen2Model
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.decoder import build_speech_decoder, decode_batch, stream_decode
    from emotion_omni_lite.semantic_encoder import build_asr_model, transcribe
    from emotion_omni_lite.train import kv, kv_of
    cfg = get_config('smoke', **{'decoder.max_units': 6})
    torch.manual_seed(0)
    m = Qwen2Model(Qwen2Config(vocab_size=16, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                               num_attention_heads=2, num_key_value_heads=1)).eval()
    dec, asr = build_speech_decoder(cfg).eval(), build_asr_model(cfg).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('error', FutureWarning)                  # a deprecated keyword fails here
        cache = DynamicCache()
        m(inputs_embeds=torch.randn(1, 3, 16), **kv(cache), use_cache=True)
        out = m(inputs_embeds=torch.randn(1, 1, 16), **kv(cache), use_cache=True)
        assert kv_of(out) is cache and cache.get_seq_length() == 4
        x = torch.randn(5, cfg.decoder.d_model)
        batch = decode_batch(dec, [x, x[:3]])
        assert [u for c in stream_decode(dec, x[None].split(2, 1)) for u in c] == batch[0]   # fed as a reply arrives: the same
        assert len(transcribe(asr, [torch.randn(cfg.audio.n_mels, 120)], max_chars=4, beam=2)) == 1
    import inspect
    from emotion_omni_lite.train import _kv_name
    takes = inspect.signature(Qwen2Model.forward).parameters             # what the installed forward takes, by name:
    assert _kv_name() in takes and (_kv_name() == 'cache' or 'cache' not in takes)   # the new name wherever there is one


def test_a_sharded_cache_whose_shard_was_altered_is_computed_again(tmp_path):
    "A shard whose bytes changed after it was written (same size, same build) makes the cache damaged, not read as valid; a shard only touched (a copy) is hashed and read; an index written before checksums were recorded is read as before."
    import os
    from emotion_omni_lite.train import ShardedCache, _read_cache, load_cache, save_cache
    path = tmp_path / 'c.pt'
    c = ShardedCache(path, keys=('x',), shard_bytes=64)
    for i in range(4): c.put('x', i, torch.full((8,), float(i + 1)))    # 32 bytes each: two shards
    c.close({'n': 4})
    shard = tmp_path / 'c.00001.pt'
    data, was = shard.read_bytes(), shard.stat().st_mtime_ns
    at = data.find(torch.full((8,), 3.0).numpy().tobytes()); assert at > 0
    os.utime(shard, ns=(was, was + 10**9))                               # the same bytes, another time: hashed, read,
    assert load_cache(path)['x'][2].tolist() == [3.0] * 8
    assert shard.stat().st_mtime_ns == was                               # and its recorded time put back: trusted next time
    shard.write_bytes(data[:at] + torch.full((8,), 7.0).numpy().tobytes() + data[at + 32:])   # same size, other values
    os.utime(shard, ns=(was, was + 2 * 10**9))
    with pytest.warns(UserWarning, match=r'c\.pt is damaged \(ShardError: its shard c\.00001\.pt was changed since it was written'):
        assert load_cache(path) is None
    old = _read_cache(path)                                              # an index of before: no checksums in it
    for k in ('stats', 'sha256'): del old['_shards'][k]
    save_cache(old, path)
    assert load_cache(path)['x'][2].tolist() == [7.0] * 8                # read as it was read before


def test_timed_caches_counts_only_the_caches_a_call_makes(tmp_path):
    "A call that writes a cache (or replaces one, written whole under a new name) reports its seconds; one that finds every cache it reads, or only hears of a temporary file beside them, reports 0 and reuse."
    import time
    from emotion_omni_lite.train import load_cache, save_cache, timed_caches
    folder, path = tmp_path / 'feats', tmp_path / 'feats' / 'a.pt'
    def build(p):
        def make():
            time.sleep(0.2)
            return load_cache(p) or (save_cache({'x': 1}, p) or load_cache(p))
        return make
    out, cost = timed_caches(folder, build(path))                       # no folder yet: it builds the cache
    assert out == {'x': 1} and cost['features_cache_reused'] is False and cost['features_seconds'] >= 0.2, cost
    out, cost = timed_caches(folder, build(path))                       # found: 0 s, however long the call took
    assert out == {'x': 1} and cost == {'features_seconds': 0.0, 'features_cache_reused': True}
    _, cost = timed_caches(folder, lambda: save_cache({'x': 2}, path))  # replaced in place (a damaged cache computed again)
    assert cost['features_cache_reused'] is False and load_cache(path) == {'x': 2}
    _, cost = timed_caches(folder, lambda: (folder / '.a.pt.tmp1').write_bytes(b'half'))   # a write still under way
    assert cost == {'features_seconds': 0.0, 'features_cache_reused': True}


def test_a_run_records_which_cpu_and_vector_instructions_made_it():
    "The last bits of a dataset's samples follow the CPU's vector instructions: a run's environment names the CPU and torch's capability (platform.processor() is empty on Linux), each checked against what the system itself says."
    from emotion_omni_lite.train import environment
    env = environment()
    assert env['cpu_capability'] in ('DEFAULT', 'NO AVX', 'AVX2', 'AVX512', 'VSX', 'Z VECTOR', 'ZVECTOR', 'SVE', 'SVE128', 'SVE256', 'SVE512')
    info = Path('/proc/cpuinfo').read_text() if Path('/proc/cpuinfo').exists() else ''
    names = [l.split(':', 1)[1].strip() for l in info.splitlines() if l.startswith('model name')]
    if names: assert env['cpu_model'] == names[0]                         # the first core's name, as the kernel gives it
    flags = next((set(l.split(':', 1)[1].split()) for l in info.splitlines() if l.startswith('flags')), None)
    if flags is not None:                                                 # x86: the instructions it names are the CPU's
        assert {'AVX512': 'avx512f', 'AVX2': 'avx2'}.get(env['cpu_capability'], 'fpu') in flags, env['cpu_capability']


def test_a_checkpoint_of_another_seed_or_settings_is_refused_naming_each(tmp_path):
    "Resumed with another lr or seed, the optimizer's state would bring the old lr back and the run go on as the checkpoint's: refused, each differing field named with the fix, before anything is set. A longer run, another grad_accum or a checkpoint written before the record was kept resumes."
    import shutil
    from emotion_omni_lite.train import CheckpointError, _load_sharded, _save_sharded
    base = dict(steps=10, batch_size=8, lr=0.3, ckpt_every=5, log_every=5)
    set_seed(0); fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(**base), ckpt_dir=tmp_path / 'a', progress=False)
    st = json.loads((tmp_path / 'a' / 'checkpoint' / 'state.json').read_text())
    assert st['run'] == {'seed': 0, 'steps': 10, 'lr': 0.3, 'batch_size': 8, 'warmup_frac': 0.03, 'weight_decay': 0.0,
                         'grad_clip': 1.0, 'mixed_precision': 'no', 'length_groups': 1}
    for d in 'bcd': shutil.copytree(tmp_path / 'a', tmp_path / d)
    before, m = _files(tmp_path), nn.Linear(1, 1); w0 = m.weight.detach().clone()
    with pytest.raises(CheckpointError, match=r"state\.json was written by a training with seed=0, lr=0\.3; this one has seed=1, "
                                              r"lr=0\.1: .*Set them back to resume it, or delete .*b.checkpoint to train this stage"):
        fit(m, DATA, collate, lambda m, b: pytest.fail('trained'), TrainConfig(**{**base, 'lr': 0.1}), seed=1, ckpt_dir=tmp_path / 'b', progress=False)
    assert _files(tmp_path) == before and torch.equal(m.weight, w0)     # nothing loaded, nothing written
    with pytest.raises(CheckpointError, match=r"with weight_decay=0\.0; this one has weight_decay=0\.1: .*Set it back"):
        fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(**{**base, 'weight_decay': 0.1}), ckpt_dir=tmp_path / 'b', progress=False)
    r = fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(**{**base, 'steps': 20, 'grad_accum': 2, 'ckpt_every': 4}),
            ckpt_dir=tmp_path / 'c', progress=False)                     # longer, and cut in two a step: goes on
    assert r.resumed_from == 10
    f = tmp_path / 'd' / 'checkpoint' / 'state.json'                     # a checkpoint of before the record: taken as it was
    f.write_text(json.dumps({k: v for k, v in json.loads(f.read_text()).items() if k != 'run'}))
    assert fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(**{**base, 'lr': 0.1}), ckpt_dir=tmp_path / 'd', progress=False).resumed_from == 10
    sched = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), lambda s: 1.0)
    _save_sharded(ShardingAccelerator(torch.tensor([1.0])), tmp_path / 's', sched, 2, [], st['run'])   # sharded: the same
    back = torch.tensor([0.0])
    with pytest.raises(CheckpointError, match=r"with batch_size=8; this one has batch_size=16"):
        _load_sharded(ShardingAccelerator(back), tmp_path / 's', sched, 10, {**st['run'], 'batch_size': 16})
    assert back.item() == 0.0 and _load_sharded(ShardingAccelerator(back), tmp_path / 's', sched, 10, st['run'])[0] == 2


def test_a_refused_checkpoint_leaves_the_weights_dtypes_and_seeds_as_they_were(tmp_path):
    "A checkpoint of another lr is refused before `fit` seeds the generators or makes a bf16 trainable weight an fp32 copy: the model and the global RNG states are as they were."
    from emotion_omni_lite.train import CheckpointError
    base = dict(steps=10, batch_size=8, lr=0.3, ckpt_every=5, log_every=5)
    set_seed(0); fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(**base), ckpt_dir=tmp_path, progress=False)
    m = nn.Linear(1, 1).to(torch.bfloat16); w0 = m.weight.detach().clone()
    torch.manual_seed(123); random.seed(123); np.random.seed(123)
    states = lambda: (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist(), np.random.get_state()[2])
    before = states()
    with pytest.raises(CheckpointError, match=r"with lr=0\.3; this one has lr=0\.1"):
        fit(m, DATA, collate, lambda m, b: pytest.fail('trained'), TrainConfig(**{**base, 'lr': 0.1}), ckpt_dir=tmp_path,
            progress=False, device='cpu')
    assert m.weight.dtype == m.bias.dtype == torch.bfloat16 and torch.equal(m.weight, w0)
    now = states()
    assert torch.equal(now[0], before[0]) and now[1:] == before[1:]


def test_a_count_below_one_in_a_hand_made_config_is_refused_before_training(tmp_path):
    "TrainConfig(log_every=0) and the like skip the config's checks: once a ZeroDivisionError after a step trained (or in the batch split), now refused before anything changes, naming the field and the fix."
    from emotion_omni_lite.config import ConfigError
    from emotion_omni_lite.train import fit_problem
    for field in ('log_every', 'ckpt_every', 'grad_accum', 'batch_size', 'length_groups'):
        for v in (0, -2):
            tcfg = TrainConfig(**{'steps': 4, 'batch_size': 8, field: v})
            said = rf"train: {field}={v} must be a whole number of at least 1 \(.+\): set it to an int \(2, not 2\.0\)"
            with pytest.raises(ConfigError, match=said):
                fit(nn.Linear(1, 1), DATA, collate, lambda m, b: pytest.fail('trained'), tcfg, ckpt_dir=tmp_path, progress=False, device='cpu')
            assert re.fullmatch(said, fit_problem(tcfg, 'cpu', len(DATA)))
    assert not any(tmp_path.iterdir())                                   # nothing written


def test_a_float_count_in_a_hand_made_config_is_refused_before_training(tmp_path):
    "grad_accum=2.0 once passed the check and failed in `range` once fit had begun; log_every=2.5 was taken, though the message asks for a whole number: a count that is not an int is refused before anything changes, naming the field and the fix."
    from emotion_omni_lite.config import ConfigError
    from emotion_omni_lite.train import fit_problem
    for field, v in (('grad_accum', 2.0), ('log_every', 2.5), ('ckpt_every', 5.0), ('batch_size', 8.0), ('length_groups', 1.0)):
        tcfg = TrainConfig(**{'steps': 4, 'batch_size': 8, field: v})
        said = rf"train: {field}={v} must be a whole number of at least 1 \(.+\): set it to an int \(2, not 2\.0\)"
        assert re.fullmatch(said, fit_problem(tcfg, 'cpu', len(DATA)))
        with pytest.raises(ConfigError, match=said):
            fit(nn.Linear(1, 1), DATA, collate, lambda m, b: pytest.fail('trained'), tcfg, ckpt_dir=tmp_path, progress=False, device='cpu')
    assert fit_problem(TrainConfig(steps=4, batch_size=8, grad_accum=np.int64(2)), 'cpu', len(DATA)) == ''   # NumPy's ints count
    assert not any(tmp_path.iterdir())                                   # nothing written


def test_a_checkpoint_of_another_model_is_refused_before_fit_seeds_or_upcasts(tmp_path):
    "Weights of another shape are refused from the file's header, before `fit` seeds the generators or makes a bf16 trainable weight an fp32 copy (once found only as they were set, after both)."
    from emotion_omni_lite.train import CheckpointError
    base = dict(steps=10, batch_size=8, lr=0.3, ckpt_every=5, log_every=5)
    set_seed(0); fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(**base), ckpt_dir=tmp_path, progress=False)
    m = nn.Linear(1, 2).to(torch.bfloat16); w0 = m.weight.detach().clone()   # the same settings, another shape
    torch.manual_seed(123); random.seed(123); np.random.seed(123)
    states = lambda: (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist(), np.random.get_state()[2])
    before = states()
    with pytest.raises(CheckpointError, match=r"does not fit this model .*shapes it differs in: \[.*'weight'"):
        fit(m, DATA, collate, lambda m, b: pytest.fail('trained'), TrainConfig(**base), ckpt_dir=tmp_path, progress=False, device='cpu')
    assert m.weight.dtype == m.bias.dtype == torch.bfloat16 and torch.equal(m.weight, w0)
    now = states()
    assert torch.equal(now[0], before[0]) and now[1:] == before[1:]


def _frozen(m, *names):
    for n in names: getattr(m, n).requires_grad_(False)
    return m


def _state_of_another_shape(d):
    "The optimiser file rewritten with its first weight's moment in another shape, its checksum recorded anew: whole, but of another training."
    from safetensors.torch import load_file, save_file
    from emotion_omni_lite.train import sha256
    st = json.loads((d / 'state.json').read_text()); f = d / st['files']['optimizer']
    save_file({**load_file(str(f)), '0.exp_avg': torch.zeros(3)}, str(f))
    st['sha256'][f.name] = sha256(f); (d / 'state.json').write_text(json.dumps(st))


@pytest.mark.parametrize('trained, resumed, damage, said', [
    ((), ('bias',), None, r"optimiser's groups hold \[2\] weights, this training's \[1\] \(a part frozen or unfrozen"),
    (('bias',), (), None, r"lacks weights this training trains \(a part unfrozen since\): \['bias'\]"),
    (('bias',), ('weight',), None, r"lacks weights this training trains \(a part unfrozen since\): \['bias'\]"),
    ((), (), _state_of_another_shape, r"optimiser's state 0\.exp_avg has shape \[3\], this training's weight 0: \[1, 1\]"),
], ids=['a part frozen since', 'a part unfrozen since', 'another part trained', 'an optimiser state of another shape'])
def test_a_checkpoint_whose_optimiser_does_not_fit_is_refused_before_fit_seeds_or_upcasts(tmp_path, trained, resumed, damage, said):
    "A checkpoint of another set of trainable weights, or whose optimiser holds states of other shapes, is refused from its record and the files' headers before `fit` seeds the generators or makes a bf16 trainable weight an fp32 copy (the groups were found only as the optimiser was set, after both; the states' shapes only by the first step, after the weights were set)."
    from emotion_omni_lite.train import CheckpointError
    base = dict(steps=10, batch_size=8, lr=0.3, ckpt_every=5, log_every=5)
    set_seed(0); fit(_frozen(nn.Linear(1, 1), *trained), DATA, collate, loss, TrainConfig(**base), ckpt_dir=tmp_path, progress=False)
    if damage: damage(tmp_path / 'checkpoint')
    m = _frozen(nn.Linear(1, 1).to(torch.bfloat16), *resumed); w0, b0 = m.weight.detach().clone(), m.bias.detach().clone()
    torch.manual_seed(123); random.seed(123); np.random.seed(123)
    states = lambda: (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist(), np.random.get_state()[2])
    before = states()
    with pytest.raises(CheckpointError, match=rf"does not fit this model .*{said}.*to train this stage from its start"):
        fit(m, DATA, collate, lambda m, b: pytest.fail('trained'), TrainConfig(**base), ckpt_dir=tmp_path, progress=False, device='cpu')
    assert m.weight.dtype == m.bias.dtype == torch.bfloat16 and torch.equal(m.weight, w0) and torch.equal(m.bias, b0)
    now = states()
    assert torch.equal(now[0], before[0]) and now[1:] == before[1:]
    m = _frozen(nn.Linear(1, 1), *trained)                               # the training that wrote it goes on from it
    if not damage: assert fit(m, DATA, collate, loss, TrainConfig(**base), ckpt_dir=tmp_path, progress=False).resumed_from == 10


def test_a_cache_this_process_cannot_read_is_named_not_replaced(tmp_path, monkeypatch):
    "No permission, a disk error or too little memory is no damage of the file: raised naming it and the fix, the cache left as it is. A file cut short (torch's zip reader says EINVAL of some) or garbage is damaged: computed again."
    import errno, warnings
    from emotion_omni_lite.train import load_cache, save_cache
    path = tmp_path / 'c.pt'; save_cache({'x': torch.ones(3)}, path); written = path.read_bytes()
    real = torch.load
    for err, kind, fix in ((OSError(errno.EACCES, 'Permission denied'), PermissionError, 'check its permissions'),
                           (OSError(errno.EIO, 'Input/output error'), OSError, 'the disk it is on'),
                           (MemoryError(), MemoryError, 'free memory')):
        def unreadable(*a, **k): raise err
        monkeypatch.setattr(torch, 'load', unreadable)
        with warnings.catch_warnings():
            warnings.simplefilter('error')                               # never called damaged
            with pytest.raises(kind, match=rf"{re.escape(str(path))} .*left as it is.*{fix}"): load_cache(path)
        assert path.read_bytes() == written
    def cut_short(*a, **k): raise OSError(errno.EINVAL, 'Invalid argument')
    monkeypatch.setattr(torch, 'load', cut_short)
    with pytest.warns(UserWarning, match=r'c\.pt is damaged \(OSError\)'): assert load_cache(path) is None
    monkeypatch.setattr(torch, 'load', real)
    for name, data in (('cut.pt', written[:-20]), ('half.pt', written[:len(written) // 2]), ('junk.pt', b'not a cache')):
        (tmp_path / name).write_bytes(data)
        with pytest.warns(UserWarning, match=rf'{name} is damaged'): assert load_cache(tmp_path / name) is None


def test_checkpointing_switched_on_twice_is_not_called_unsupported():
    "A model trained twice in one process (a stage run again) already has checkpointing on: 0 switched on, no error; only a model with nothing that supports it is refused."
    from transformers import Qwen2Config, Qwen2Model
    from emotion_omni_lite.train import enable_checkpointing
    m = nn.Sequential(Qwen2Model(Qwen2Config(vocab_size=8, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                             num_attention_heads=2, num_key_value_heads=1)), nn.Linear(8, 1))
    assert enable_checkpointing(m) == 1 and enable_checkpointing(m) == 0
    with pytest.raises(ValueError, match='holds no transformers model that supports it; set it to false'): enable_checkpointing(nn.Linear(2, 2))


def test_saving_a_cache_deletes_the_temporary_files_of_cache_writes_killed_midway(tmp_path):
    "A cache or shard write killed before its `finally` leaves `.<name>.tmp<PID>`: the next cache saved in that folder deletes those whose process no longer runs, and keeps a running one's, this process's own (a thread of it may be writing) and any written in the last minutes (a folder shared between machines: its PID may be another machine's)."
    import os, subprocess, sys
    from emotion_omni_lite.train import ShardedCache, save_cache
    dead = subprocess.Popen([sys.executable, '-c', 'pass']); dead.wait()   # its PID: no longer a process
    live = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        for folder in (tmp_path / 'whole', tmp_path / 'sharded'):
            folder.mkdir()
            for f in (f'.feats.pt.tmp{dead.pid}', f'.feats.00000.pt.tmp{dead.pid}', f'.other.pt.tmp{live.pid}', f'.mine.pt.tmp{os.getpid()}'):
                (folder / f).write_bytes(b'x' * 100); os.utime(folder / f, (1e9, 1e9))   # written long ago
            (folder / f'.fresh.pt.tmp{dead.pid}').write_bytes(b'x')    # just written: another machine's PID may be the same
        save_cache({'x': 1}, tmp_path / 'whole' / 'feats.pt')
        c = ShardedCache(tmp_path / 'sharded' / 'feats.pt', keys=('x',)); c.put('x', 0, torch.ones(2)); c.close({})
        kept = [f'.other.pt.tmp{live.pid}', f'.mine.pt.tmp{os.getpid()}', f'.fresh.pt.tmp{dead.pid}']
        assert sorted(p.name for p in (tmp_path / 'whole').iterdir()) == sorted(kept + ['feats.pt'])
        assert sorted(p.name for p in (tmp_path / 'sharded').iterdir()) == sorted(kept + ['feats.00000.pt', 'feats.pt'])
    finally: live.kill(); live.wait()


def test_a_fit_on_another_device_than_the_one_before_gets_the_device_asked(tmp_path):
    "accelerate keeps one device a process: a fit on the GPU, then one on the CPU, in one process. No GPU here: the state a GPU fit leaves is made by initialising it and setting its device as a GPU's would read (cuda:0); the next fit on the CPU must train there, not fail or go on elsewhere."
    from accelerate.state import AcceleratorState, PartialState
    seen = []
    def on(m, b): seen.append(b[0].device.type); return loss(m, b)
    try:
        set_seed(0); fit(nn.Linear(1, 1), DATA, collate, loss, TrainConfig(steps=2, batch_size=8, mixed_precision='bf16'), device='cpu', progress=False)
        for state in (PartialState._shared_state, AcceleratorState._shared_state): state['device'] = torch.device('cuda', 0)
        fit(nn.Linear(1, 1), DATA, collate, on, TrainConfig(steps=2, batch_size=8), device='cpu', progress=False)
        assert seen == ['cpu', 'cpu'] and PartialState().device.type == 'cpu' and AcceleratorState().mixed_precision == 'no'
    finally: AcceleratorState._reset_state(reset_partial_state=True)    # the next test's fit starts afresh


def test_a_launch_fit_cannot_train_is_refused_before_the_model_or_the_seeds_change(monkeypatch):
    "The second look, at the launch accelerate made (DeepSpeed here, with two micro-batches a step), refuses before a trainable weight is upcast, checkpointing switched on or a seed set."
    import accelerate
    from accelerate.utils import DistributedType
    from transformers import Qwen2Config, Qwen2Model
    from emotion_omni_lite.config import ConfigError
    class DeepSpeedLaunch(_OneCpuProcess):                               # what accelerate made: not what the environment asked
        distributed_type, num_processes, process_index, is_main_process, device = DistributedType.DEEPSPEED, 1, 0, True, 'cpu'
    monkeypatch.setattr(accelerate, 'Accelerator', DeepSpeedLaunch)
    llm = Qwen2Model(Qwen2Config(vocab_size=8, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 num_key_value_heads=1))
    m = nn.Sequential(llm, nn.Linear(1, 1).to(torch.bfloat16))
    torch.manual_seed(123); torch.rand(3); rng = torch.get_rng_state()
    with pytest.raises(ConfigError, match=r'grad_accum=2 × length_groups=1 under DeepSpeed'):
        fit(m, DATA, collate, loss, TrainConfig(steps=2, batch_size=8, grad_accum=2, gradient_checkpointing=True), device='cpu', progress=False)
    on = getattr(llm, 'is_activation_checkpointing', None)             # transformers' newer name, where it has one
    assert m[1].weight.dtype == torch.bfloat16 and not (llm.is_gradient_checkpointing if on is None else on)
    assert torch.equal(torch.get_rng_state(), rng)


def test_a_dataset_is_shared_with_the_group_up_to_its_data_folder_and_no_further(tmp_path):
    "A dataset is data_dir/<preset>: it and data_dir are made readable by the group whatever the umask; the folder data_dir sits in (the working directory, a home folder) is not the kit's to open. (A manifest of two lines: the cheapest build.)"
    import os, stat
    import numpy as np, soundfile as sf
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.dataset import build_dataset
    home = tmp_path / 'home'; (home / 'mine').mkdir(parents=True)
    t = np.arange(16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)   # 1 s, voiced
    for n in ('q', 'q2', 'r'): sf.write(str(home / 'mine' / f'{n}.wav'), tone, 16000)
    np.save(home / 'mine' / 'r.npy', np.arange(25) % 8)                  # its reply at 25 tokens a second
    line = lambda q, text, split: json.dumps({'query_audio': q, 'query_text': text, 'user_emotion': 'happy', 'reply_audio': 'r.wav',
                                              'reply_text': 'Oh, hi!', 'reply_emotion': 'happy', 'reply_units': 'r.npy', 'split': split}) + '\n'
    (home / 'mine' / 'm.jsonl').write_text(line('q.wav', 'Hello there.', 'train') + line('q2.wav', 'Good day.', 'test'))
    cfg = get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(home / 'mine' / 'm.jsonl'), 'units.rate_hz': 25})
    home.chmod(0o700); old = os.umask(0o077)
    try: root = build_dataset(cfg, get_settings(preset='smoke', data_dir=str(home / 'data'), out_dir=str(home / 'runs')))
    finally: os.umask(old)
    for p in [root, *root.rglob('*'), root.parent]:
        mode = p.stat().st_mode
        assert mode & stat.S_IRGRP and (not p.is_dir() or mode & stat.S_IXGRP), (p, oct(mode))
    assert root.parent == home / 'data' and stat.S_IMODE(home.stat().st_mode) == 0o700


def test_too_few_examples_name_the_manifest_for_dialogues_you_bring():
    "data.n_dialogues sizes the kit's own dataset only (units.kind='external' reads the manifest's lines): the refusal "
    "names both, not the one knob that would change nothing for dialogues you bring."
    from emotion_omni_lite.train import fit_problem
    why = fit_problem(TrainConfig(steps=2, batch_size=16), 'cpu', 8)
    assert ("make more training data (raise data.n_dialogues for the kit's own dataset; with units.kind='external', list more "
            "training lines in units.manifest, which data.n_dialogues does not change), or set the stage's batch_size to at "
            "most 8") in why
