"The shared training loop: checkpoints, resume, seeds."
import json
import pytest
import torch
from torch import nn
from emotion_omni_lite.config import TrainConfig
from emotion_omni_lite.train import fit, set_seed

XS = torch.linspace(-1, 1, 64)[:, None]
YS = 3 * XS + 0.5
DATA = list(zip(XS, YS))
collate = lambda b: (torch.stack([x for x, _ in b]), torch.stack([y for _, y in b]))
loss = lambda m, b: ((m(b[0]) - b[1]) ** 2).mean()
TCFG = TrainConfig(steps=30, batch_size=8, lr=0.3, ckpt_every=10, log_every=5)


def test_fit_learns_and_checkpoints(tmp_path):
    set_seed(0); m = nn.Linear(1, 1)
    r = fit(m, DATA, collate, loss, TCFG, ckpt_dir=tmp_path, progress=False)
    assert r.final_loss < r.history[0]['loss']
    ck = tmp_path / 'checkpoint'
    assert sorted(p.name for p in ck.iterdir()) == ['model.safetensors', 'optimizer.safetensors', 'state.json']
    st = json.loads((ck / 'state.json').read_text())
    assert st['step'] == 30 and 'rng' in st and st['history']


# Resuming after a crash reproduces the uninterrupted run: checked in nbs/01_train.ipynb (cell 03f3e5dc).


def test_frozen_model_is_refused():
    m = nn.Linear(1, 1)
    for p in m.parameters(): p.requires_grad_(False)
    with pytest.raises(ValueError, match='no trainable'):
        fit(m, DATA, collate, loss, TCFG, progress=False)


def test_rng_state_is_read_back_without_eval(tmp_path):
    "A checkpoint's Python RNG state is plain numbers: a crafted string is refused, never executed."
    import random
    from emotion_omni_lite.train import _rng_state, _set_rng_state
    set_seed(3); st = json.loads(json.dumps(_rng_state()))                  # through JSON, as on disk
    a = [random.random() for _ in range(3)]
    _set_rng_state(st)
    assert [random.random() for _ in range(3)] == a
    marker = tmp_path / 'ran'
    st['python'] = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    with pytest.raises((TypeError, KeyError, ValueError)): _set_rng_state(st)
    assert not marker.exists()
