"""The memory plan's estimate (`scale.stage_memory`) against the peak memory PyTorch's profiler measures while small
versions of the kit's own stage-1 and stage-2 models (LoRA dropout 0) train on a CPU (a batch of 4, two AdamW steps
each): in fp32, in fp32 with gradient checkpointing, and under bf16 autocast with a bf16 LLM base (as full size loads
it). Printed: the estimate, the measured peak and measured ÷ estimated. `tests/test_scale.py` checks these ratios' range
with this code; `benchmarks/bench_memory_gpu.py` checks the plan at full size on a GPU.

    .venv/bin/python benchmarks/bench_memory_cpu.py   # about a minute on a 2-core CPU; nothing is downloaded or written
"""
import argparse, json, tempfile

import torch

B, SECONDS, REPLY, N, M = 4, 6.0, 24, 24, 150   # batch; stage 1's query and reply; stage 2's reply tokens and units


def profiled_peak(step, n: int = 2) -> int:
    "Peak bytes on the CPU over `n` calls of `step`, from PyTorch's profiler (parameters, optimizer state, inputs, activations, gradients, temporaries)."
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        for _ in range(n): step()
    with tempfile.TemporaryDirectory() as d:
        prof.export_memory_timeline(f'{d}/m.json', device='cpu')
        _, sizes = json.load(open(f'{d}/m.json'))
    return max(sum(s) for s in sizes)


def measure(mp: str) -> dict:
    "{(stage, checkpointing): (estimated bytes, measured bytes)} for both stages in precision `mp` ('no' or 'bf16'); checkpointing in fp32 only."
    from emotion_omni_lite.adapter import build_adapter
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.scale import stage_memory
    from emotion_omni_lite.stage1 import Stage1Model, build_emotion_head, collate_stage1
    from emotion_omni_lite.stage2 import Stage2Model, collate_stage2
    from emotion_omni_lite.text_llm import SYSTEM_PROMPT, add_lora, build_llm, build_prompt, train_tokenizer
    from emotion_omni_lite.train import enable_checkpointing, freeze
    cfg = get_config('smoke', **{'llm.num_layers': 2, 'llm.hidden_size': 64, 'decoder.d_model': 64, 'llm.intermediate_size': 192,
                                 'llm.num_heads': 4, 'llm.num_kv_heads': 2, 'semantic_encoder.d_model': 48, 'emotion_encoder.dim': 32,
                                 'fusion.adaln_cond_dim': 32, 'adapter.hidden': 64, 'decoder.ffn': 192, 'decoder.heads': 4,
                                 'decoder.pre_layers': 2, 'decoder.layers': 2, 'units.n_units': 512,
                                 'stages.stage1.mixed_precision': mp, 'stages.stage2.mixed_precision': mp,
                                 # bf16: the plan told its LLM base is a pretrained 16-bit checkpoint, as the one built below
                                 # (nothing is loaded); without one it plans the kit's own text_llm run, fp32
                                 **({'llm.pretrained': 'Qwen/Qwen2.5-7B-Instruct'} if mp == 'bf16' else {})})
    torch.manual_seed(0)
    tok = train_tokenizer([SYSTEM_PROMPT, 'hello there how are you', 'i am fine thank you'] * 5, 1024)
    llm = add_lora(freeze(build_llm(cfg).to(torch.bfloat16 if mp == 'bf16' else torch.float32)), cfg)
    for q in llm.parameters():                                  # trainable weights in fp32, as `fit` keeps them
        if q.requires_grad: q.data = q.data.float()
    m1 = Stage1Model(build_adapter(cfg), llm, build_emotion_head(cfg), tok.convert_tokens_to_ids('<speech>'), cfg).train()
    p, T = build_prompt(tok)['input_ids'], int(SECONDS * 50)
    b1 = collate_stage1([{'input_ids': p + list(range(10, 10 + REPLY)), 'labels': [-100] * len(p) + list(range(10, 10 + REPLY)),
                          'sem': torch.randn(T, 48), 'emo': torch.randn(T, 32), 'n50': T, 'emotion_vec_true': torch.randn(32)}
                         for _ in range(B)], 0)
    m2 = Stage2Model(cfg).train()
    b2 = collate_stage2([{'h': torch.randn(N, 64), 'e': torch.randn(N, 64), 'emotion_vec_true': torch.randn(32),
                          'emotion_vec_pred': torch.randn(32), 'units': torch.randint(0, 512, (M,))} for _ in range(B)])
    flags = torch.ones(B, dtype=torch.bool)
    runs = {'stage1': (m1, lambda: m1(b1)['loss'], dict(query_seconds=SECONDS, reply_tokens=REPLY, prompt_tokens=len(p) - 1)),
            'stage2': (m2, lambda: m2(b2, flags, flags), dict(reply_tokens=N, reply_seconds=M / cfg.units.rate_hz))}
    out = {}
    for stage, (model, loss, shapes) in runs.items():       # each model's forward runs under its stage's autocast
        opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad])
        def step(): loss().backward(); opt.step(); opt.zero_grad(set_to_none=True)
        est = stage_memory(cfg, stage, **shapes)
        states = est['weights'] + est['gradients'] + est['optimizer'] + est['autocast_copies']
        out[stage, False] = (states + B * est['activations_per_example'], profiled_peak(step))
        if mp == 'no':
            enable_checkpointing(model)
            out[stage, True] = (states + B * est['checkpointed_per_example'], profiled_peak(step))
    return out


def main():
    argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split())).parse_args()   # no options: --help, or refused
    import warnings
    warnings.simplefilter('ignore')                                     # the profiler's and transformers' notices
    print(f"{'stage':8s} {'precision':10s} {'checkpointing':14s} {'estimated MiB':>14s} {'measured MiB':>13s} {'measured ÷ estimated':>21s}")
    for mp in ('no', 'bf16'):
        for (stage, ck), (est, peak) in measure(mp).items():
            print(f"{stage:8s} {'fp32' if mp == 'no' else 'bf16':10s} {'yes' if ck else 'no':14s} {est / 2**20:14.2f} "
                  f"{peak / 2**20:13.2f} {peak / est:21.2f}")


if __name__ == '__main__':
    main()
