"""The memory plan (`eol params --preset full --memory`) against a real GPU: each training stage at the preset's sizes,
with random weights in the dtypes a run holds them in (stage 1: the LLM base in bf16, LoRA, adapter and head in fp32),
trained for two steps by the kit's own `fit` with the stage's own model, collate and loss, on one micro-batch of
synthetic examples of the plan's shapes; printed: the peak memory PyTorch allocated, the plan's figure for that
micro-batch, and their ratio.

    .venv/bin/python benchmarks/bench_memory_gpu.py                 # full: stage 1 and 2, micro-batches of 1 and 4, ± checkpointing
    .venv/bin/python benchmarks/bench_memory_gpu.py --stages stage2 --batches 16
    .venv/bin/python benchmarks/bench_memory_gpu.py --preset smoke --device cpu   # the script itself, on a CPU (no peak to read)

Stage 1 at full size needs a GPU of about 40 GB (the 7.6 B LLM alone is 14.2 GiB in bf16); nothing is downloaded.
"""
import argparse, gc, json, re, time
from dataclasses import replace
from pathlib import Path

import torch


def stage1_parts(cfg, dev, q_seconds: float, reply_tokens: int, batch: int):
    "Stage 1's model (a random LLM base in bf16 with LoRA, adapter, head) and `batch` examples of the plan's shapes."
    from emotion_omni_lite.stage1 import assemble_stage1
    from emotion_omni_lite.text_llm import build_llm
    with torch.device(dev):
        torch.set_default_dtype(torch.bfloat16 if cfg.stages.stage1.mixed_precision == 'bf16' else torch.float32)
        try: llm = build_llm(cfg)                                        # the base as a checkpoint holds it
        finally: torch.set_default_dtype(torch.float32)
        speech_id = cfg.llm.vocab_size - 1
        model = assemble_stage1(cfg, llm, speech_id)
    frames = int(q_seconds * cfg.semantic_encoder.frame_rate)
    frames -= frames % cfg.adapter.k
    g = torch.Generator().manual_seed(0)
    ids = lambda n: torch.randint(10, min(cfg.llm.vocab_size - 2, 30000), (n,), generator=g).tolist()
    d_emo = model.head.mlp[-1].out_features
    data = []
    for _ in range(batch):                                              # a 32-token prompt around <speech>, then the reply
        prompt = ids(8) + [speech_id] + ids(23)
        reply = ids(reply_tokens)
        data.append({'input_ids': prompt + reply, 'labels': [-100] * len(prompt) + reply,
                     'sem': torch.randn(frames, cfg.semantic_encoder.d_model, generator=g).half(),   # the caches' fp16
                     'emo': torch.randn(frames, cfg.emotion_encoder.dim, generator=g).half(),
                     'n50': torch.tensor(frames), 'emotion_vec_true': torch.randn(d_emo, generator=g)})
    return model, data


def stage2_parts(cfg, dev, reply_tokens: int, reply_seconds: float, batch: int):
    "Stage 2's model (fusion, AdaLN, speech decoder in fp32) and `batch` examples of the plan's shapes."
    from emotion_omni_lite.stage2 import Stage2Model
    with torch.device(dev): model = Stage2Model(cfg)
    g = torch.Generator().manual_seed(0)
    units, d, d_emo = int(reply_seconds * cfg.units.rate_hz), cfg.decoder.d_model, cfg.fusion.adaln_cond_dim
    data = [{'h': torch.randn(reply_tokens, d, generator=g).half(), 'e': torch.randn(reply_tokens, d, generator=g).half(),
             'emotion_vec_true': torch.randn(d_emo, generator=g), 'emotion_vec_pred': torch.randn(d_emo, generator=g),
             'units': torch.randint(0, cfg.units.n_units, (units,), generator=g)} for _ in range(batch)]
    return model, data


def measure(cfg, stage: str, batch: int, checkpointing: bool, dev: str, shapes: dict) -> dict:
    "Two steps of `fit` on one micro-batch of `batch` examples → the peak allocated and the plan's figure (bytes)."
    from emotion_omni_lite.scale import per_gpu_bytes, stage_memory
    from emotion_omni_lite.stage1 import collate_stage1, stage1_loss
    from emotion_omni_lite.stage2 import collate_stage2, stage2_loss
    from emotion_omni_lite.train import fit
    gc.collect()
    if dev == 'cuda': torch.cuda.empty_cache()
    torch.manual_seed(0)
    if stage == 'stage1':
        model, data = stage1_parts(cfg, dev, shapes['query_seconds'], shapes['reply_tokens'], batch)
        collate, loss = collate_stage1, stage1_loss
    else:
        model, data = stage2_parts(cfg, dev, shapes['reply_tokens'], shapes['reply_seconds'], batch)
        collate, loss = collate_stage2, stage2_loss
    tc = replace(getattr(cfg.stages, stage), steps=2, batch_size=batch, grad_accum=1, length_groups=1, log_every=1,
                 gradient_checkpointing=checkpointing, ckpt_every=10**9)
    if dev == 'cuda': torch.cuda.reset_peak_memory_stats()           # from the weights in place on: what training adds
    t0 = time.time()
    res = fit(model, data, collate, loss, tc, device=dev, name=f'{stage} memory', progress=False)
    seconds = time.time() - t0
    peak = torch.cuda.max_memory_allocated() if dev == 'cuda' else None
    m = {**stage_memory(cfg, stage, **shapes), 'batch': batch, 'micro_batches': 1}
    plan = per_gpu_bytes(m, 1, shard=False, checkpointing=checkpointing)
    del model, data, res
    return {'stage': stage, 'batch': batch, 'checkpointing': checkpointing, 'plan_bytes': int(plan), 'peak_bytes': peak,
            'plan_gib': round(plan / 2**30, 2),
            'measured_gib': None if peak is None else round(peak / 2**30, 2),
            'ratio': None if peak is None else round(peak / plan, 2), 'seconds_two_steps': round(seconds, 1)}


def device_arg(v: str) -> str:
    "`--device` of the GPU scripts (this one, rehearse_gpu): cuda or cpu; cuda:N is refused with the fix (`fit` trains on the current GPU whatever the index, as the kit's settings say)."
    if re.fullmatch(r'cuda:\d+', v):
        raise argparse.ArgumentTypeError(f"{v!r}: to use one GPU of several, give --device cuda and choose the GPU with "
                                         f"CUDA_VISIBLE_DEVICES={v.split(':')[1]}")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--preset', default='full')
    ap.add_argument('--device', default='cuda', type=device_arg, choices=('cuda', 'cpu'),
                    help='cuda (one GPU of several: choose it with CUDA_VISIBLE_DEVICES=N), or cpu to check the script alone')
    ap.add_argument('--stages', nargs='+', default=['stage1', 'stage2'], choices=['stage1', 'stage2'])
    ap.add_argument('--batches', nargs='+', type=int, default=[1, 4], help='examples in the one micro-batch measured')
    ap.add_argument('--query-seconds', type=float, default=15.0)
    ap.add_argument('--reply-tokens', type=int, default=64)
    ap.add_argument('--reply-seconds', type=float, default=8.0)
    ap.add_argument('--json', help='also write the rows to this file (an existing one only with --replace)')
    ap.add_argument('--replace', action='store_true', help='write the rows over an existing --json file')
    a = ap.parse_args()
    if bad := [b for b in a.batches if b < 1]: ap.error(f"--batches {bad[0]}: give micro-batches of 1 or more examples")
    for name in ('query_seconds', 'reply_seconds', 'reply_tokens'):   # shapes of nothing: no step to measure
        if not getattr(a, name) > 0: ap.error(f"--{name.replace('_', '-')} {getattr(a, name)}: give a length above 0")
    out = None if a.json is None else Path(a.json)
    if out is not None and out.is_dir(): ap.error(f"--json {a.json}: that is a folder: name a file")
    if out is not None and out.exists() and not a.replace:              # an earlier run's rows are kept
        ap.error(f"--json {a.json}: the file exists (an earlier run's rows): name another, or give --replace to write over it")
    from emotion_omni_lite.config import get_config
    if a.device == 'cuda' and not torch.cuda.is_available(): raise SystemExit("no CUDA GPU here: --device cpu checks the script alone")
    cfg = get_config(a.preset)
    shapes = {'query_seconds': min(a.query_seconds, cfg.audio.max_seconds), 'reply_tokens': a.reply_tokens,
              'reply_seconds': min(a.reply_seconds, cfg.decoder.max_units / cfg.units.rate_hz)}
    print(f"preset {a.preset!r} on {torch.cuda.get_device_name() if a.device == 'cuda' else a.device}, torch {torch.__version__}; "
          f"shapes {shapes}")
    print(f"{'stage':7s} {'batch':>5s} {'ckpt':>5s} {'plan GiB':>9s} {'peak GiB':>9s} {'peak/plan':>9s} {'2 steps s':>9s}", flush=True)
    rows = []
    for st in a.stages:
        for b in a.batches:
            for ck in (False, True):
                r = measure(cfg, st, b, ck, a.device, shapes)
                rows.append(r)
                f = lambda v: '-' if v is None else f'{v:.2f}'
                print(f"{st:7s} {b:5d} {str(ck):>5s} {r['plan_gib']:9.2f} {f(r['measured_gib']):>9s} {f(r['ratio']):>9s} "
                      f"{r['seconds_two_steps']:9.1f}", flush=True)
    if out is not None:                                                 # whole or not at all
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(out.name + '.part'); part.write_text(json.dumps(rows, indent=1)); part.replace(out)


if __name__ == '__main__':
    import os
    from emotion_omni_lite.cli import run_script
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
