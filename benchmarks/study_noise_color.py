"""A study: where pink and brown noise drawn from 0 Hz put their power, and how far `augment` moves with torch's threads.

The training chains draw their noise from 0 Hz (`AugmentRecipe.noise_low_hz = 0`): `colored_noise(n, color, seed,
low_hz=0)`, over `--seeds` seeds for each of the kit's query lengths (1–4 s at 16 kHz). For each colour and length it
prints the share of the noise's power below 50 Hz and in its constant offset (mean and median over the seeds, from the
noise's spectrum), and what the 10 dB SNR asked of `add_noise` is above 50 Hz and over a phone's 300–3400 Hz (medians:
speech has its power there). Then `augment`'s first `--chains` chains of one espeak sentence, each drawn on one torch
thread and on two: the largest sample difference, in the chains with a phone line (8-bit μ-law) and in the others.
The audio notebook's augmentation section quotes both. It reads no run and trains nothing; it takes about half a
minute.

    .venv/bin/python benchmarks/study_noise_color.py [--seeds 200] [--chains 200]
"""
import argparse, math, os

os.environ.setdefault('HF_HUB_OFFLINE', '1')
import torch
from emotion_omni_lite.audio import SAMPLE_RATE, augment, colored_noise
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.tts import fresh_espeak, speak

SECONDS = (1, 2, 3, 4)                       # the kit's queries: 1–4 s
SNR_DB = 10.0
SENTENCE, VOICE, EMOTION = "I just got the results back.", 'en-us+m1', 'happy'


def shares(x: torch.Tensor, sr: int = SAMPLE_RATE) -> dict:
    "Shares of the power of `x` (from its one-sided spectrum, every bin but 0 Hz and Nyquist counted twice, as Parseval has it)."
    p = torch.fft.rfft(x.double()).abs().pow(2)
    p[1:len(p) - (len(x) % 2 == 0)] *= 2
    f = torch.arange(len(p)) * sr / len(x)
    share = lambda keep: float(p[keep].sum() / p.sum())
    return {'below_50': share(f < 50), 'offset': share(f == 0), 'above_50': share(f >= 50), 'phone': share((f >= 300) & (f <= 3400))}


def noise_table(seeds: int):
    mean = lambda v: sum(v) / len(v)
    median = lambda v: sorted(v)[len(v) // 2]
    heard = lambda share: SNR_DB - 10 * math.log10(share)             # only that share of the noise lies where speech is
    print(f"colored_noise(n, color, seed, low_hz=0), {seeds} seeds per length: shares of its power (mean / median over the "
          f"seeds), and add_noise's {SNR_DB:g} dB SNR as heard where speech is (median)")
    print(f"  {'colour':6s} {'seconds':>7s}  {'below 50 Hz':>13s}  {'offset (0 Hz)':>13s}  {'SNR above 50 Hz':>15s}  {'SNR 300–3400 Hz':>15s}")
    for color in ('pink', 'brown'):
        for sec in SECONDS:
            s = [shares(colored_noise(sec * SAMPLE_RATE, color, seed, low_hz=0)) for seed in range(seeds)]
            col = lambda k: [r[k] for r in s]
            print(f"  {color:6s} {sec:7d}  {mean(col('below_50')):5.1%} / {median(col('below_50')):5.1%}  "
                  f"{mean(col('offset')):5.1%} / {median(col('offset')):5.1%}  {median([heard(v) for v in col('above_50')]):12.1f} dB  "
                  f"{median([heard(v) for v in col('phone')]):12.1f} dB")


def thread_table(chains: int):
    with fresh_espeak() as engine: w = speak(SENTENCE, VOICE, EMOTION, engine=engine, seed=0)   # the same samples every run
    was, runs = torch.get_num_threads(), {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            runs[threads] = [augment(w, k) for k in range(chains)]
    finally: torch.set_num_threads(was)
    diff = [float((a - b).abs().max()) for (a, _), (b, _) in zip(runs[1], runs[2])]
    phone = [bool(did.get('phone')) for _, did in runs[1]]
    print(f"\naugment's first {chains} chains of {SENTENCE!r} ({VOICE}, {EMOTION}, {len(w) / SAMPLE_RATE:.2f} s), each on one "
          "torch thread and on two: the largest sample difference (full scale 1)")
    for name, mine in (('with a phone line (8-bit μ-law)', [d for d, p in zip(diff, phone) if p]),
                       ('without one', [d for d, p in zip(diff, phone) if not p])):
        print(f"  {len(mine):3d} chains {name}: " + (f"{max(mine):.1e}, {sum(d > 0 for d in mine)} of them moved" if mine else 'none drawn'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seeds', type=int, default=200, help='noise draws per colour and clip length')
    ap.add_argument('--chains', type=int, default=200, help="augment's chains of the sentence, each on one thread and on two")
    a = ap.parse_args()
    if a.seeds < 1: ap.error(f"--seeds {a.seeds}: draw at least one")
    if a.chains < 1: ap.error(f"--chains {a.chains}: draw at least one chain")
    noise_table(a.seeds)
    thread_table(a.chains)


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))
