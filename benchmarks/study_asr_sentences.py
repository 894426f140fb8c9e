"""A study: would a broader sentence set teach the ASR stand-in to spell new sentences, and at what cost?

The stand-in learns the hundred-odd query sentences of the lite dataset. This script adds `--extra` generated
sentences, each spoken once by one of espeak's training voices in one of the six emotions, trains a fresh stand-in
for `--steps` steps on the training queries plus those, and prints the CER on each split (the dataset's own held-out
sentences are never among the generated ones). The words come from Faker's English word lists with their parts of
speech (`faker.providers.lorem.en_US`), so the vocabulary is not chosen by looking at the test sentences; Faker is not
one of the kit's dependencies: `.venv/bin/pip install faker` first.

    .venv/bin/python benchmarks/study_asr_sentences.py --extra 3000 --steps 1800

Needs the lite dataset (`eol run --stages data`); trains in the foreground, nothing is saved. Decoding: the kit's
`transcribe` (add `--decoder-alone` for the greedy decoder).
"""
import argparse, time
from dataclasses import replace

import numpy as np
import torch

from emotion_omni_lite.audio import log_mel
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.dataset import load_query_mels
from emotion_omni_lite.metrics import cer
from emotion_omni_lite.semantic_encoder import CharTokenizer, _asr_collate, build_asr_model, transcribe
from emotion_omni_lite.train import fit
from emotion_omni_lite.tts import engine_of, get_tts, query_voices, seed_espeak, speak

DET = ('the', 'a', 'my', 'your', 'this', 'that', 'our', 'their', 'every', 'some')
PREP = ('in', 'on', 'at', 'with', 'for', 'from', 'about', 'near', 'under', 'after')
SUBJ = ('i', 'we', 'you', 'they', 'she', 'he')
MOD = ('will', 'can', 'should', 'must', 'might', 'could', 'did not', 'want to', 'need to', 'have to')
TEMPLATES = ("{det} {adj} {noun} {mod} {verb} {det2} {noun2}", "{subj} {mod} {verb} {det} {noun} {prep} {det2} {noun2}",
             "{det} {noun} is {adv} {adj}", "{subj} {adv} {verb} {det} {adj} {noun}", "{det} {noun} and {det2} {noun2} are {adj}",
             "{subj} saw {det} {noun} {prep} {det2} {adj} {noun2}", "where is {det} {adj} {noun}", "{subj} {mod} {verb} it {adv}")


def sentences(n: int, avoid: set, seed: int = 1234) -> list:
    "`n` generated sentences from Faker's word lists, none of them in `avoid` (normalised)."
    try: from faker.providers.lorem.en_US import Provider
    except ImportError: raise SystemExit("this study needs Faker's word lists: .venv/bin/pip install faker")
    pos, rng, out = Provider.parts_of_speech, np.random.default_rng(seed), []
    pick = lambda xs: xs[int(rng.integers(len(xs)))]
    while len(out) < n:
        t = pick(TEMPLATES).format(det=pick(DET), det2=pick(DET), adj=pick(pos['adjective']), noun=pick(pos['noun']),
                                   noun2=pick(pos['noun']), mod=pick(MOD), verb=pick(pos['verb']), subj=pick(SUBJ),
                                   prep=pick(PREP), adv=pick(pos['adverb']))
        if CharTokenizer.normalize(t) not in avoid: out.append(t)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--extra', type=int, default=3000, help='generated sentences to add (0: the training queries alone)')
    ap.add_argument('--steps', type=int, default=900, help="training steps (lite's ASR: 900)")
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--decoder-alone', action='store_true', help='score greedy transcripts of the decoder alone')
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE', help="config overrides, e.g. stages.asr.ctc_weight=0.8")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    s = get_settings(preset='lite'); cfg = get_config('lite', **{k: eval(v) for k, v in (x.split('=', 1) for x in a.set)})
    rows, mels = load_query_mels(cfg, s)
    tok, t0 = CharTokenizer(), time.time()
    texts = sentences(a.extra, {CharTokenizer.normalize(r['query_text']) for r in rows if r['split'] != 'train'})
    dc = cfg.data
    train_v, _ = query_voices(dc.n_query_voices, dc.n_test_voices, dc.n_piper_voices, dc.n_test_piper_voices)
    voices, eng = [v for v in train_v if engine_of(v) == 'espeak'], get_tts('espeak')
    extra = []
    for i, t in enumerate(texts):
        seed_espeak(i)
        w = speak(t, voices[i % len(voices)], EMOTIONS[i % len(EMOTIONS)], np.random.default_rng(i), dc.prosody_jitter, eng,
                  sr=cfg.audio.sample_rate, max_seconds=0.98 * cfg.semantic_encoder.max_source_positions / 50)
        extra.append((log_mel(w, cfg.audio).half(), tok.encode(t)))
    print(f"{len(texts)} generated sentences spoken in {time.time() - t0:.0f} s, e.g. {texts[:3]}", flush=True)
    data = [(mels[i], tok.encode(r['query_text'])) for i, r in enumerate(rows) if r['split'] == 'train'] + extra
    sc = cfg.semantic_encoder
    n_frames, ceps = 2 * sc.max_source_positions, sc.envelope_ceps
    model, t0 = build_asr_model(cfg), time.time()
    res = fit(model, data, lambda b: _asr_collate(b, n_frames, ceps, sc.fit_window), lambda m, b: m(b), replace(cfg.stages.asr, steps=a.steps),
              seed=0, progress=False, live=False)
    print(f"trained {a.steps} steps in {time.time() - t0:.0f} s (final loss {res.final_loss:.3f})", flush=True)
    kw = dict(beam=1, ctc_weight=0.0) if a.decoder_alone else {}
    for sp in ('train', 'test_voice', 'test_sentence'):
        idx = [i for i, r in enumerate(rows) if r['split'] == sp]
        idx = idx[::max(1, -(-len(idx) // 300))]                             # the utterances evaluate_asr scores
        print(f"CER {sp:13s} {cer([rows[i]['query_text'] for i in idx], transcribe(model, [mels[i] for i in idx], **kw)):.1%}")


if __name__ == '__main__':
    main()
