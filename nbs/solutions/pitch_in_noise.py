"""Exercise 02.1: pitch in a noisy room. Take one query, add white noise at 20, 10 and 0 dB signal-to-noise ratio,
and track its pitch each time. How do the median F0 and the share of voiced frames change, and what does that mean
for an emotion encoder that reads the pitch contour of a student's recording?

One happy query ("The train left without us."): clean, the median F0 is 125.4 Hz with 66.4 % of the frames voiced;
at 20 dB (a quiet room) 125.3 Hz and 66.4 %, nothing changes; at 10 dB 127.4 Hz and 59.7 %; at 0 dB 127.5 Hz and
26.1 %. The median hardly moves (where the tracker still finds a period, it is the right one), but at 0 dB it finds
one in only a third of the frames it found before: the pitch rows then say "unvoiced" where there is speech, and the
pitch range the encoder reads for happy and surprised shrinks. A recording from a noisy room loses the cue that
matters most first.
"""
import torch
from emotion_omni_lite.audio import pitch_contour
from emotion_omni_lite.tts import fresh_espeak, speak


def with_noise(wave: torch.Tensor, snr_db: float, seed: int = 0) -> torch.Tensor:
    "White noise at `snr_db` below the wave's power."
    noise = torch.randn(len(wave), generator=torch.Generator().manual_seed(seed))
    return wave + noise * (wave.pow(2).mean() / noise.pow(2).mean() / 10 ** (snr_db / 10)).sqrt()


def main() -> dict:
    with fresh_espeak() as e:                                       # a fresh library: the same wave on every run
        wave = speak("The train left without us.", 'en-us+m1', 'happy', engine=e, seed=0)
    out = {}
    for snr in (None, 20, 10, 0):
        f0 = pitch_contour(wave if snr is None else with_noise(wave, snr))
        voiced = f0[f0 > 0]
        out['clean' if snr is None else f'{snr} dB'] = {'median_f0_hz': round(float(voiced.median()), 1) if len(voiced) else None,
                                                       'voiced_share': round(len(voiced) / len(f0), 3)}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
