"""Exercise 90.2: can stage 1 just have a bigger LoRA? Raise the rank from 8 to 64 at full size (`lora.r = 64`,
`lora.alpha = 128`: the same scale α/r). Before you run `eol params --memory` on it: how many parameters does stage 1
train now, which of its memory numbers move and by how much, and does the number of GPUs it needs change?

LoRA adds two thin matrices, r × (inputs + outputs), to every linear layer, so its parameters grow exactly with r:
20.2 M → 161.5 M, eight times as many. Stage 1 then trains 230.6 M parameters instead of 89.3 M (the adapter and the
head stay as they are). Each trained parameter costs 18 bytes, so weights, gradients, AdamW and the bf16 copies grow
from 15.7 to 18.1 GiB; the activations hardly move (54.22 → 54.38 GiB for a batch of 16: LoRA's r-wide middle is
tiny beside the layers' 3,584-wide states). Those 2.5 GiB are enough to change the plan, because stage 1 sits at the
edge of two budgets: on one 80 GB GPU with DDP it no longer fits (72.4 GiB against the 72 it may use), and with
checkpointing on 24 GB GPUs it needs 4 instead of 2 (21.62 GiB on each of 2, 0.02 over). Rank is cheap in
parameters and dear in GPUs exactly when a stage sits at a budget's edge; read the plan before training.
"""
from emotion_omni_lite.config import get_config
from emotion_omni_lite.scale import count_parts, memory_plan


def main(preset: str = 'full', ranks=(8, 64)) -> dict:
    out = {}
    for r in ranks:
        cfg = get_config(preset, **{'lora.r': r, 'lora.alpha': 2 * r})
        p = memory_plan(cfg)['stage1']
        out[r] = {'lora_m': round(count_parts(cfg)['lora'] / 1e6, 1), 'trainable_m': round(p['trainable'] / 1e6, 1),
                  'states_gib': round(sum(p['gib'].values()), 2), 'activations_gib': round(p['gib_activations'], 2),
                  'gpus_ddp': p['gpus']['DDP'], 'gpus_ddp_checkpointing': p['gpus']['DDP + checkpointing']}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"LoRA rank {k}: {v}")
