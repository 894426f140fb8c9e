"""Exercise 10.2: switch the adapter from `concat` to `interleave`. How many LLM positions does a 3-second query take
now, and how much more does self-attention over it cost?

On `lite` (what `main` runs unless given another preset), `concat` mixes the two streams into one embedding per 10 Hz
step: 30 positions. `interleave` keeps them apart, semantic then emotion for every step: 60 positions (at full size 29
and 58: wav2vec2 gives 149 frames for the 3 s, not 150). Self-attention grows with the square of the length, so its cost
over the speech part is 4× (the MLPs only 2×).
"""
from emotion_omni_lite.config import get_config
from emotion_omni_lite.adapter import sequence_lengths


def main(preset: str = 'lite') -> dict:               # the preset whose numbers the docstring gives, whatever settings.ini says
    n = {m: sequence_lengths(3 * 16000, get_config(preset, **{'adapter.mode': m}))['llm_tokens'] for m in ('concat', 'interleave')}
    return {'positions': n, 'attention_cost_ratio': (n['interleave'] / n['concat']) ** 2}


if __name__ == '__main__':
    print(main())
