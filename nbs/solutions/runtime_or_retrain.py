"""Exercise 01a.2: which changes cost a training run? For each change below, say before you look which runs it would
put out of date: one data worker instead of two (`data.workers`), sampling the speech units at temperature 0.7
(`decoder.temperature`), stage 1 with `grad_accum = 4`, stage 1 with gradient checkpointing, stage 1 in bf16
(`mixed_precision`), three reply states per streaming chunk instead of five (`decoder.reply_per_chunk`), and seed 1
instead of 0. Then compare each run's hash (`stage_hash`) before and after: a run whose hash moved is no longer
current (`stage_state` says 'other') and `eol run` would train it again.

On `lite`: the first four move no hash at all. The worker count changes how fast the data is built, the temperature
how a finished decoder is used, checkpointing how much memory a step takes, not what the run learns (beyond float
rounding), and `grad_accum` how a machine cuts each batch: the same step for a loss averaged per example, but stage 1's
reply loss averages over tokens, each micro-batch over its own, so its step would be a near neighbour and its weights
differ slightly. It counts as a knob of the machine, like the number of GPUs (which re-weights tokens the same way):
all four are `RUNTIME_ONLY`, and a finished run stays current. bf16 moves four: stage 1 and its ablation, whose forward
passes it computes with 8 bits of mantissa, and both stage-2 runs, which learned from stage 1's reply states. Three
states per chunk moves two, stage 2 and its ablation: the streaming mask they were trained with changes, though no
parameter does. Seed 1 moves all eleven, the dataset first (which sentences are held out, which voice says each query,
each reply's phrasing and each jitter are drawn from it), and through the upstream hashes everything that learned from
it. So a change costs nothing when it only says how a finished run is used, and reaches as far as the runs that read
what it changed. (These are the runs `eol run` trains; the studies behind a switch move with the runs they read.)
"""
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.stages import job_stages, stage_hash

CHANGES = {'one data worker': {'data.workers': 1}, 'temperature 0.7': {'decoder.temperature': 0.7},
           'stage 1 grad_accum 4': {'stages.stage1.grad_accum': 4},
           'stage 1 checkpointing': {'stages.stage1.gradient_checkpointing': True},
           'stage 1 in bf16': {'stages.stage1.mixed_precision': 'bf16'},
           '3 reply states per chunk': {'decoder.reply_per_chunk': 3}}


def main(preset: str = None) -> dict:
    preset = preset or get_settings().preset
    cfg, seed = get_config(preset), 0
    main_job = job_stages(cfg)                                      # what `eol run` trains: no study behind a switch
    base = {n: stage_hash(n, cfg, seed) for n in main_job}          # what the finished runs were trained with
    moved = lambda c, sd: [n for n in main_job if stage_hash(n, c, sd) != base[n]]
    out = {name: moved(get_config(preset, **change), seed) for name, change in CHANGES.items()}
    out['seed 1'] = moved(cfg, seed + 1)
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {len(v)} out of date {v}")
