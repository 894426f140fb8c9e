"""Exercise 90.1: the memory plan for longer replies. Print `eol params --preset full --memory`, then again with
`--reply-seconds 16` (twice the default 8). Before you run it: which of stage 2's numbers move, by about how much,
and does stage 1 change at all?

Weights, gradients and AdamW state are the parameters' and do not move. Stage 2's activations grow with the length
of its sequence (the reply's tokens, then its units at 25 a second): 64 + 200 + 3 positions become 64 + 400 + 3,
1.75× as many, and less than that in memory, because the pre-layers, the fusion gate and AdaLN see only the 64 reply
states. Stage 1 does not read the reply's speech at all. Counted on the meta device: stage 2's activations 4.77 →
7.96 GiB for a global batch of 16 (1.67×); stage 1 unchanged at 37.60 GiB.
"""
from emotion_omni_lite.config import get_config
from emotion_omni_lite.scale import memory_plan


def main(preset: str = 'full') -> dict:
    cfg = get_config(preset)
    return {secs: {st: round(p['gib_activations'], 2) for st, p in memory_plan(cfg, reply_seconds=secs).items()}
            for secs in (8.0, 16.0)}


if __name__ == '__main__':
    for k, v in main().items(): print(f"reply {k:g} s: activations (GiB) {v}")
