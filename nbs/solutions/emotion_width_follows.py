"""Exercise 00.2: sizes that must move together. Halve `lite`'s emotion vector: ask for
`get_config('lite', **{'emotion_encoder.dim': 32})` and read what it says. Then change the field it names in the same
call, and count each part's parameters before and after (the parameter table's `count_parts`, meta device). Before
you count: which parts change size, and which do not?

Alone, the change is refused before anything is built: "fusion.adaln_cond_dim: 64 differs from the emotion vector size
emotion_encoder.dim=32; AdaLN is conditioned on that vector, set both alike". Both fields in one call build. Four
parts change, the ones that carry the emotion encoder's width: the encoder itself (130,054 → 54,022 parameters: nearly
every weight has that width on one side or both), the adapter (304,000 → 263,040: its emotion stream's first layer
reads 5 × 32 stacked values instead of 5 × 64, 40,960 weights fewer), the emotion predict head (12,416 → 10,336: its
last layer writes the vector) and AdaLN (16,640 → 8,448: it reads the vector to scale and shift the decoder's states).
The semantic encoder, the LLM and LoRA, the fusion gate and the speech decoder keep their sizes: none of them reads or
writes at that width. `set_fields` applies all the changes of one call first and checks them together, which is why
two sizes that must match can move only in one call.
"""
from emotion_omni_lite.config import ConfigError, get_config
from emotion_omni_lite.scale import count_parts


def main(preset: str = 'lite', dim: int = 32) -> dict:
    try:
        get_config(preset, **{'emotion_encoder.dim': dim}); alone = 'accepted'
    except ConfigError as e: alone = str(e)
    before = count_parts(get_config(preset))
    both = {'emotion_encoder.dim': dim, 'fusion.adaln_cond_dim': dim}             # changed in one call
    after = count_parts(get_config(preset, **both))
    return {'alone': alone, 'before': before, 'after': after,
            'changed': [p for p in before if before[p] != after[p]],
            'unchanged': [p for p in before if before[p] == after[p]]}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
