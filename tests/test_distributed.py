"""Two processes on a CPU (torchrun, gloo) train as one process with the same global batch would, and one of them writes."""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from ranked import toy_fit                                     # noqa: E402
from emotion_omni_lite.train import batch_indices             # noqa: E402

HERE = Path(__file__).parent


def torchrun(out: Path, *args, **env):
    "tests/ranked.py on two processes; the output of both on failure."
    e = {k: v for k, v in os.environ.items() if not k.startswith('EOL_')}
    e.update(OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', PYTHONPATH=str(HERE.parent), **env)
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                        str(HERE / 'ranked.py'), str(out), *args], env=e, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    return r


def writes(out: Path) -> list:
    return [json.loads(l) for l in (out / 'writes.jsonl').read_text().splitlines()]


@pytest.mark.parametrize('accum', [1, 2])
def test_two_processes_train_as_one(tmp_path, accum):
    torchrun(tmp_path, 'fit', GRAD_ACCUM=str(accum))
    r0, r1 = (json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1))
    assert len(r0['seen']) == len(r1['seen']) == 6 * accum
    for step in range(6):                                      # disjoint shares that make up the global batch
        a = [i for m in r0['seen'][step * accum:(step + 1) * accum] for i in m]
        b = [i for m in r1['seen'][step * accum:(step + 1) * accum] for i in m]
        assert not set(a) & set(b) and sorted(a + b) == sorted(batch_indices(24, 8, step, 0)) and len(a) == len(b) == 4
    assert r0['params'] == r1['params']                        # DDP kept them identical
    model, history, _ = toy_fit()                               # one process, the same global batch of 8
    assert r0['history'] == r1['history']
    for h0, h in zip(r0['history'], history): assert h0['loss'] == pytest.approx(h['loss'], rel=1e-5, abs=1e-6)
    for p0, p in zip(r0['params'], model.parameters()): assert torch.allclose(torch.tensor(p0), p.detach().flatten(), atol=1e-5)
    w = writes(tmp_path)
    assert {x['rank'] for x in w} == {0} and sum(x['what'] == 'save_checkpoint' for x in w) == 2   # steps 3 and 6
    assert json.loads((tmp_path / 'ckpt' / 'checkpoint' / 'state.json').read_text())['step'] == 6


def test_the_main_job_on_two_processes(tmp_path):
    "The smoke preset's dataset and text LLM through `run_pipeline` on two processes: one writer, one finished run."
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.stages import stage_state
    torchrun(tmp_path, 'stage', EOL_PRESET='smoke', EOL_DEVICE='cpu', EOL_DATA_DIR=str(tmp_path / 'data'),
             EOL_OUT_DIR=str(tmp_path / 'runs'))
    w = writes(tmp_path)
    assert {x['rank'] for x in w} == {0}
    assert sorted(x['what'] for x in w if x['what'] != 'save_checkpoint') == ['_build', 'finish_run', 'start_run']
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    cfg = get_config('smoke')
    assert stage_state('data', cfg, s) == stage_state('text_llm', cfg, s) == 'done'
    hist = json.loads((s.run_path / 'text_llm' / 'history.json').read_text())
    assert [h['step'] for h in hist] == [1, 2, 3, 4] and all(h['loss'] > 0 for h in hist)
