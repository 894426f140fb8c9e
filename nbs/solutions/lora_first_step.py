"""Exercise 09.2: LoRA's first step. Wrap a freshly built `lite` LLM in LoRA (`add_lora`, r = 8). Before you run:
does the LLM's output change when it is wrapped? What share of the LLM does LoRA add, in `lite` and at `full`? Then
take one AdamW step on one batch: which of LoRA's two matrices moves, and which does on the second step?

LoRA puts beside every linear layer but the output head a product B·A, A (r × in) drawn at random and B (out × r) all
zeros. Wrapped, the output is exactly the same (largest logit difference 0.0): stage 1 starts from the text LLM as it
is. It adds r · (in + out) parameters per layer: 77,824 in `lite` (28 layers, 8.5 % of the LLM's 0.92 M) and 20.2 M at
`full` (196 layers, 0.27 % of 7,616 M). A square layer of width d gains 2 · r · d beside its d², a share of 2r/d, so
the wider the model, the smaller LoRA's share. In the first step A's gradient is exactly zero (it reaches A only
through B, which is zero) and A does not move; B moves, by up to the learning rate (0.002, stage 1's in `lite`: Adam's
first step is about the gradient's sign times the learning rate), and the output now differs (up to 0.38 in a logit).
On the second step A's gradient is no longer zero (0.0073 at most) and A moves too, since B no longer is zero.
Starting B at zero keeps the first output unchanged; starting A at random lets B learn from the first step.
"""
import warnings
import torch
from emotion_omni_lite.config import get_config
from emotion_omni_lite.scale import n_params
from emotion_omni_lite.text_llm import add_lora, build_llm


def lora_share(preset: str) -> dict:
    "LoRA's parameters on the preset's LLM, built on the meta device (no memory, no download)."
    cfg = get_config(preset)
    with torch.device('meta'), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        llm = build_llm(cfg); base = n_params(llm)
        lora = sum(p.numel() for n, p in add_lora(llm, cfg).named_parameters() if 'lora_' in n)
    return {'lora': lora, 'llm': base, 'share': round(lora / base, 4)}


def main(preset: str = 'lite', big: str = 'full', lr: float = 2e-3) -> dict:
    out = {p: lora_share(p) for p in (preset, big)}
    cfg = get_config(preset)
    torch.manual_seed(0)
    llm = build_llm(cfg).eval()                                       # random weights: no trained run needed
    ids = torch.randint(0, cfg.llm.vocab_size, (2, 16))               # one batch: two token sequences
    largest = lambda a, b: (a - b).abs().max().item()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with torch.no_grad(): before = llm(input_ids=ids).logits
        model = add_lora(llm, cfg).eval()                             # eval: LoRA's dropout off
        with torch.no_grad(): out['wrapped_change'] = largest(model(input_ids=ids).logits, before)
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}   # LoRA's A and B only
        opt = torch.optim.AdamW(params.values(), lr=lr, weight_decay=0.0)
        for step in (1, 2):
            old = {n: p.detach().clone() for n, p in params.items()}
            opt.zero_grad(); model(input_ids=ids, labels=ids).loss.backward(); opt.step()
            row = {}
            for m in ('lora_A', 'lora_B'):                             # the largest gradient and move of each kind
                mine = [n for n in params if m in n]
                row[m] = {'grad': round(max(params[n].grad.abs().max().item() for n in mine), 4),
                          'moved': round(max(largest(params[n], old[n]) for n in mine), 5)}
            with torch.no_grad(): row['output_change'] = round(largest(model(input_ids=ids).logits, before), 3)
            out[f'step {step}'] = row
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
