"""Exercise 14a.1: what streaming buys. Answer the same held-out query with `respond(..., streaming=True)` and with
`streaming=False`, three times each, and compare when the first text token, the first audio and the last sample
arrive. Which of the three does streaming change, and why?

On `lite` (seed 0), the first `test_both` query, median of three: streaming gives the first text token at 17.6 ms,
the first audio at 78.3 ms and the last sample at 426.3 ms; decoding the whole reply first gives 17.8, 107.2 and
405.3 ms (alone on an idle 2-core machine). The first token does not depend on the speech side at all. The first audio comes earlier with streaming,
because the decoder starts once five reply states exist instead of all of them; on this reply that is 29 ms, and it
grows with the reply's length. The total is longer with streaming: more, smaller decoder calls and a vocoder call per
chunk. Latency numbers move with the machine's load; run it on an idle one.
"""
import statistics
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.dataset import audio_path, load_dialogues
from emotion_omni_lite.omni import load_omni


def main(preset: str = None, settings=None, repeats: int = 3) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['stage2'], cfg, s)
    omni = load_omni(cfg, s)
    row = next(r for r in load_dialogues(cfg, s).remove_columns(['units']) if r['split'] == 'test_both')
    out = {}
    for streaming in (True, False):
        runs = [omni.respond(str(audio_path(row, s)), streaming=streaming)['timings'] for _ in range(repeats)]
        out['streaming' if streaming else 'whole reply first'] = {
            k: round(statistics.median(t[k] for t in runs), 1) for k in ('first_text_token_ms', 'first_audio_ms', 'total_ms')}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
