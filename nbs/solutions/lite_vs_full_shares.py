"""Exercise 00a.2: is `lite` a scale model of `full`? Count the parameters of each part at both sizes (the parameter
table, meta device). Before you count: is the share of parameters stage 1 trains larger or smaller in `lite`, and
which part is the largest at each size? What does that mean when you read `lite`'s timings and losses?

Not a scale model. At `full` the LLM holds 7,616 M of 9,748 M parameters (78 %) and stage 1 trains 1.1 % of what it
uses (89 M of 8,436 M); at `lite` the LLM holds 0.92 M of 3.20 M (29 %) and stage 1 trains 22.7 % of what it uses
(0.39 M of 1.74 M). The LLM shrank most between the presets (width 3,584 → 128, 28 layers → 4: its weights, which grow
with the width squared, fell about 8,000-fold), the adapter far less (hidden layer 2,048 → 256: about 200-fold), so
the adapter is a third of the LLM's size in `lite` and under 1 % of it at `full`. The largest part in `lite` is the
speech decoder (1.41 M, 44 %), larger than the LLM; at `full` it is the LLM, and the decoder is 13 %. Stage 2 trains
46 % of all `lite` parameters but 13.5 % of `full`'s. So a `lite` run divides its memory and compute among the parts
in other proportions than a `full` one: its timings and losses say how the recipe behaves, not where a full-size run
spends its hours (for that, `eol params --memory`).
"""
from emotion_omni_lite.config import get_config
from emotion_omni_lite.scale import param_table


def main(presets: tuple = ('lite', 'full')) -> dict:
    out = {}
    for p in presets:
        t = param_table(get_config(p))                      # built on the meta device: no memory, no download
        share = {k: round(n / t['total'], 3) for k, n in t['parts'].items()}
        out[p] = {'total_millions': round(t['total'] / 1e6, 2),
                  'largest_part': max(t['parts'], key=t['parts'].get),
                  'part_share': share,
                  # what each stage trains, as a share of what it uses
                  'stage1_trains': round(t['stages']['stage1']['trainable'] / t['stages']['stage1']['total'], 4),
                  'stage2_trains_of_all': round(t['stages']['stage2']['trainable'] / t['total'], 3)}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
