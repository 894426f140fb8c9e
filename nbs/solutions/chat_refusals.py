"""Exercise 91.2: what does `eol chat` refuse, and when? Call it (in-process, as the terminal would) four ways that must
fail: with `--out` naming the recording itself, with `--out` naming a file that exists, on a silent recording and on a
text file named `.wav`. Then answer the recording properly. Before you run it: which refusals come before the model is
loaded, how long does each take, and what is left of the files afterwards?

On `lite` (seed 0) every refusal ends with exit status 2 and one line that names the file, the problem and the fix
("--out query.wav is the recording being answered: choose another file for the reply", "… already exists: choose
another file, or pass --overwrite to replace it", "… is silent", "… cannot be decoded"), in 6 to 7 ms each: all four
are caught before any model is loaded, no reply file is written, and the recording and the existing file are left
byte for byte as they were. The proper answer takes about a second: 1.06 s in all, 0.56 s of it loading the
model (`load_ms`), the rest hearing, answering and speaking (alone on an idle 2-core machine; beside another
CPU-bound job it took 5.1 s once: times move with the machine's load). A slip in a path costs a student milliseconds, not a model load, and can never overwrite the
question it was meant to answer.
"""
import contextlib, io, json, tempfile, time
from pathlib import Path
import torch
from emotion_omni_lite.config import get_settings
from emotion_omni_lite.audio import save_wav
from emotion_omni_lite.cli import main as eol
from emotion_omni_lite.tts import fresh_espeak, speak


def run(argv) -> dict:
    "`eol <argv>` in this process: exit status, milliseconds, what it wrote to stderr and stdout."
    err, out = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try: eol(argv); code = 0
        except SystemExit as e: code = e.code
    return {'exit': code, 'ms': round((time.perf_counter() - t0) * 1000, 1), 'said': err.getvalue().strip().splitlines()[-1:],
            'stderr': err.getvalue(), 'stdout': out.getvalue()}


def main(preset: str = None, answer: bool = True) -> dict:
    preset = preset or get_settings().preset
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        with fresh_espeak() as engine:               # a fresh library: the same query every run
            q = save_wav(d / 'query.wav', speak("The train left without us.", 'en-us+m1', 'sad', engine=engine, seed=0))
        old = d / 'old.wav'; old.write_bytes(q.read_bytes())
        save_wav(d / 'silent.wav', torch.zeros(32000))
        (d / 'notes.wav').write_text('a note, not a recording')
        before = {p: p.read_bytes() for p in (q, old)}
        chat = lambda audio, out: ['chat', '--preset', preset, '--audio', str(audio), '--out', str(out)]
        cases = {'--out is the recording': chat(q, q), '--out exists': chat(q, old),
                 'a silent recording': chat(d / 'silent.wav', d / 'r1.wav'), 'a text file named .wav': chat(d / 'notes.wav', d / 'r2.wav')}
        res = {name: {k: v for k, v in run(argv).items() if k not in ('stdout', 'stderr')} for name, argv in cases.items()}
        res['files untouched'] = all(p.read_bytes() == b for p, b in before.items())
        res['replies written'] = sorted(p.name for p in d.glob('r*.wav'))
        if answer:                                                    # a proper question: the model loads and answers
            r = run(chat(q, d / 'reply.wav') + ['--json'])
            got = json.loads(r['stdout'].strip().splitlines()[-1]) if r['exit'] == 0 else {}
            res['a proper question'] = {'exit': r['exit'], 'ms': r['ms'], 'load_ms': got.get('timings', {}).get('load_ms'), 'answer_ms': got.get('timings', {}).get('total_ms'),
                                        'reply': got.get('text'), 'written': (d / 'reply.wav').exists()}
            if r['exit']: res['a proper question']['said'] = r['stderr'].strip()   # e.g. the stages to train first, whole
    return res


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
