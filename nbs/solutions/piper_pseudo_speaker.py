"""Exercise 03.2: make a ninth Piper pseudo-speaker, formants ×1.25 and register +12 semitones (a child-sized voice),
and speak one sentence neutral with it and with `piper:joe+p0`. How far did the pitch move, and how far the formants
(the spectral centroid of the voiced part)? Would an emotion encoder that reads pitch relative to the utterance hear
the same emotion?

The pitch moves by the register, an octave: the median F0 doubles (165.6 → 342.6 Hz, ×2.07). The spectral centroid
rises by ×1.44 (494 → 711 Hz): more than the formant factor alone (×1.25), because the harmonics are twice as far
apart too and the lowest ones fall away — the centroid mixes the voice's pitch and its tract. The contour's shape, the
relative pitch row the lite encoder reads (semitones from the utterance's mean), mostly stays: in 73 % of the frames
voiced in both readings the two rows agree within a semitone, and most of the rest (21 %) differ by more than half an
octave, mostly a whole one, where the tracker slipped an octave in one reading; the rows' middle halves span 4.0 and
3.5 semitones. The absolute pitch row and the timbre are new, so the encoder hears a neutral sentence from an unheard
speaker: exactly what the held-out pseudo-speakers test.
"""
import torch
from emotion_omni_lite.audio import SAMPLE_RATE, pitch_contour, resample
from emotion_omni_lite.emotion_encoder import pitch_rows
from emotion_omni_lite.tts import EMOTION_PROSODY, get_tts, world_prosody


def centroid(w: torch.Tensor) -> float:
    "Power-weighted mean frequency (Hz) of the louder half of 32 ms frames."
    spec = torch.stft(w, 512, 160, window=torch.hann_window(512), return_complex=True).abs().pow(2)   # [257, frames]
    loud = spec.sum(0) >= spec.sum(0).median()
    f = torch.linspace(0, SAMPLE_RATE / 2, spec.shape[0])[:, None]
    return float((spec[:, loud] * f).sum() / spec[:, loud].sum())


def main(sentence: str = 'The meeting was moved to Thursday afternoon.') -> dict:
    piper = get_tts('piper')
    w, sr = piper.neutral(sentence)                                     # Piper's own reading, 22.05 kHz
    x = resample(torch.from_numpy(w), sr, SAMPLE_RATE).numpy()
    p = EMOTION_PROSODY['neutral']
    voices = {'joe+p0': (1.0, 0.0), 'child-sized': (1.25, 12.0)}
    out, rel = {}, []
    for name, (formant, register) in voices.items():
        y = torch.from_numpy(world_prosody(x, SAMPLE_RATE, p, 'neutral', formant, register))
        f0 = pitch_contour(y)
        octaves, voiced = pitch_rows(y, len(f0))                          # the encoder's pitch rows: log2(F0 / 100 Hz), 0/1
        voiced = voiced > 0
        rel.append((12 * (octaves - octaves[voiced].mean()), voiced))   # its relative row, in semitones from the mean
        q1, q3 = torch.quantile(rel[-1][0][voiced], torch.tensor([0.25, 0.75]))
        out[name] = {'median_f0_hz': round(float(f0[f0 > 0].median()), 1), 'centroid_hz': round(centroid(y), 1),
                     'relative_spread_st': round(float(q3 - q1), 1)}    # the relative row's middle half
    a, b = out['joe+p0'], out['child-sized']
    (ra, va), (rb, vb) = rel                                            # one reading re-rendered: frame for frame
    both = va & vb
    return {'voices': out, 'f0_ratio': round(b['median_f0_hz'] / a['median_f0_hz'], 2),
            'centroid_ratio': round(b['centroid_hz'] / a['centroid_hz'], 2),
            'relative_within_1_st': round(float(((ra - rb)[both].abs() < 1).float().mean()), 2),
            'relative_over_6_st': round(float(((ra - rb)[both].abs() > 6).float().mean()), 2)}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
