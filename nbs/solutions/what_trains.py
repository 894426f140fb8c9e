"""Exercise 00a.1: what trains where, at the paper's sizes? With the parameter table (built on the meta device),
count what stage 1 and stage 2 train and what they hold frozen, and say why stage 1 can train a 7-billion-parameter
model on one GPU while stage 2 trains "only" 1.3 billion parameters and still needs more memory for its states.

At full size stage 1 uses 8,436 M parameters and trains 89.3 M of them (adapter, LoRA, emotion head: 1.1 %);
stage 2 uses 9,748 M and trains 1,311.5 M (fusion gate, AdaLN, the speech decoder) with 8,436 M frozen. A frozen
parameter costs its two bf16 bytes and nothing else; a trained one costs 4 (fp32 weight) + 4 (gradient) + 8 (AdamW's
two moments) + 2 (autocast's bf16 copy) = 18 bytes. So stage 2's 1.3 B trained parameters need 22 GiB of states,
more than stage 1's 15.7 GiB for its frozen LLM and 89 M trained ones; and stage 2 reads stage 1's cached reply
states, so the frozen 8.4 B are not on its GPU at all (`eol params --memory`).
"""
from emotion_omni_lite.config import get_config
from emotion_omni_lite.scale import param_table


def main(preset: str = 'full') -> dict:
    t = param_table(get_config(preset))
    return {st: {k: round(v / 1e6, 1) for k, v in d.items()} for st, d in t['stages'].items()}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k} (millions of parameters): {v}")
