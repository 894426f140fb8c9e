"""Exercise 90.2: can stage 1 just have a bigger LoRA? Raise the rank from 8 to 64 at full size (`lora.r = 64`,
`lora.alpha = 128`: the same scale α/r). Before you run `eol params --memory` on it: how many parameters does stage 1
train now, which of its memory numbers move and by how much, and does the number of GPUs it needs change?

LoRA adds two thin matrices, r × (inputs + outputs), to every linear layer, so its parameters grow exactly with r:
20.2 M → 161.5 M, eight times as many. Stage 1 then trains 230.6 M parameters instead of 89.3 M (the adapter and the
head stay as they are). Each trained parameter holds 18 bytes while it trains (its fp32 weight and gradient, AdamW's
two moments, autocast's bf16 copy), so these grow from 15.7 to 18.1 GiB; the activations hardly move (37.60 → 37.68
GiB for a batch of 16: LoRA's r-wide middle is tiny beside the layers' 3,584-wide states). Those 2.4 GiB are enough to
change the plan where stage 1 sits at the edge of a budget: with plain DDP on 40 GB GPUs each of 2 would hold 36.9 GiB
against the 36 it may use, so it needs 4 instead of 2 (and 16 instead of 8 of 24 GB). With checkpointing nothing
changes (2 GPUs of 24 GB, 21.3 GiB on each), nor on one 80 GB GPU (55.7 GiB). Rank is cheap in parameters and dear
in GPUs exactly when a stage sits at a budget's edge; read the plan before training.
"""
from emotion_omni_lite.config import get_config
from emotion_omni_lite.scale import count_parts, memory_plan


def main(preset: str = 'full', ranks=(8, 64)) -> dict:
    out = {}
    for r in ranks:
        cfg = get_config(preset, **{'lora.r': r, 'lora.alpha': 2 * r})
        p = memory_plan(cfg)['stage1']
        out[r] = {'lora_m': round(count_parts(cfg)['lora'] / 1e6, 1), 'trainable_m': round(p['trainable'] / 1e6, 1),
                  'states_gib': round(sum(p['gib'][k] for k in ('weights', 'gradients', 'optimizer', 'autocast_copies')), 2), 'activations_gib': round(p['gib_activations'], 2),
                  'gpus_ddp': p['gpus']['DDP'], 'gpus_ddp_checkpointing': p['gpus']['DDP + checkpointing']}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"LoRA rank {k}: {v}")
