"""Run under `torchrun --standalone --nproc_per_node 2 tests/ranked.py OUT [fit|stage]` by tests/test_distributed.py.

`fit`: a toy regression whose examples carry their index, trained by `fit` with a checkpoint folder; each process
writes the examples it saw per step, its loss history and its parameters. `stage`: the smoke preset's main job (every
stage and the evaluation) through its own code (`run_pipeline`), every write of a run's files recorded with its rank."""
import json, os, sys
from pathlib import Path

import torch


def toy(n: int = 24) -> list:
    "Examples (index, x [4], y [1]) of a linear target."
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    return [(i, x[i], x[i].sum(0, keepdim=True) * 0.5) for i in range(n)]

def collate(b): return torch.tensor([i for i, _, _ in b]), torch.stack([x for _, x, _ in b]), torch.stack([y for _, _, y in b])

def toy_config(accum: int = 1):
    from emotion_omni_lite.config import TrainConfig
    return TrainConfig(steps=6, batch_size=8, lr=0.05, log_every=1, ckpt_every=3, grad_accum=accum)

DRAWS = []

def toy_fit(ckpt_dir=None, accum: int = 1):
    "Train the toy model; returns (model, history, the example indices each loss call saw)."
    from emotion_omni_lite.train import fit
    seen = []
    def loss_fn(model, b):
        seen.append(b[0].tolist()); DRAWS.append(torch.rand(1).item())   # a draw like dropout's: each process its own
        return ((model(b[1]) - b[2]) ** 2).mean()
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    res = fit(model, toy(), collate, loss_fn, toy_config(accum), ckpt_dir=ckpt_dir, device='cpu', progress=False)
    return model, res.history, seen


def record_writes(out: Path, rank: int):
    "Note the rank of every call that writes a run's files (checkpoints, run folders, metrics, the dataset), and of every file written through the kit's one writer (`_atomic`), with its path."
    import emotion_omni_lite.cli                                     # every module of the kit loaded: each holds the writer by name
    from emotion_omni_lite import config, dataset, stages, train
    def note(name, **more):
        with open(out / 'writes.jsonl', 'a') as fh: fh.write(json.dumps({'rank': rank, 'what': name, **more}) + '\n')
    def wrap(mod, name):
        f = getattr(mod, name)
        def noted(*a, **k): note(name); return f(*a, **k)
        setattr(mod, name, noted)
    for mod, name in ((train, 'save_checkpoint'), (stages, 'start_run'), (stages, 'finish_run'), (dataset, '_build')):
        wrap(mod, name)
    atomic = config._atomic
    def atomic_noted(path, write): note('_atomic', path=str(path)); return atomic(path, write)
    for m in list(sys.modules.values()):    # `from .config import _atomic` copies the name (train, report, architecture):
        if getattr(m, '__name__', '').startswith('emotion_omni_lite') and getattr(m, '_atomic', None) is atomic:   # each copy: a
            m._atomic = atomic_noted        # module imported later takes config's, replaced too


if __name__ == '__main__':
    out, what = Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else 'fit'
    rank = int(os.environ['RANK'])
    torch.set_num_threads(1)
    record_writes(out, rank)
    if what == 'fit':
        model, history, seen = toy_fit(out / 'ckpt', int(os.environ.get('GRAD_ACCUM', 1)))
        (out / f'rank{rank}.json').write_text(json.dumps({'seen': seen, 'history': history, 'draws': DRAWS,
                                                          'params': [p.detach().flatten().tolist() for p in model.parameters()]}))
    else:
        from emotion_omni_lite.cli import run_pipeline
        run_pipeline('smoke')                                               # every stage, then the evaluation
    if torch.distributed.is_initialized():                                  # its threads joined before exit: a gloo group
        torch.distributed.destroy_process_group()                           # left to the interpreter can abort at teardown
