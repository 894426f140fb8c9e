"""Exercise 16.1: read the benchmark as a reviewer would. From the run's `report/report.json`, take each system's
reply emotion (tone-dependent sentences) and the emotion heard in its speech. What does each step add — the voice's
tone (b → c), AdaLN (d → c) — and which of those gaps would you trust from one seed, given the spread over seeds in
README's table (about 6 points for stage 1's gap, 17 for the benchmark's, 21 for the speech emotion)?

On the kit's own trained `lite` run (seed 0, `runs/lite`), `python nbs/solutions/read_the_report.py` prints, reply
emotion on tone-dependent sentences / emotion heard in the speech: (a) cascade 29.5 % / 35.4 %, (b) semantic only
72.5 % / 62.5 %, (c) Emotion Omni 85.9 % / 87.5 %, (d) without AdaLN 85.9 % / 87.5 %: hearing the tone adds 13.4 points
to the reply's emotion, AdaLN nothing to the speech's. Its report card has the speech follow the condition it is given
70.8 % of the time with AdaLN, 21.9 % without.

On README's second machine (seed 0): (a) 29.5 % / 34.4 %, (b) 71.1 % / 56.2 %, (c) 89.3 % / 86.5 %, (d) 89.3 % /
81.2 %; on its third (seed 0, the wider vocoder): (a) 28.9 % / 35.4 %, (b) 67.8 % / 56.2 %, (c) 85.9 % / 80.2 %, (d)
85.9 % / 78.1 %; the tone adds 18.1 points on both. Over README's nine runs (three seeds on three machines) this gap is
13–31 points (spread 17.2) and stage 1's on every held-out tone-dependent query 22–28 (spread 5.8): trust that the tone
helps, and stage 1's size of it, not the exact size the benchmark's 149 utterances show on one seed. AdaLN adds nothing
to the speech's emotion on the kit's run, 5.2 points on the second machine and 2.1 on the third, all inside the speech
figure's spread (20.9 points over six runs). (d) has the same replies as (c), so only its speech differs, and the
replies' words carry much of their emotion. The figure that does show AdaLN is how often the speech follows the
condition it is given: 70.8 % against 21.9 % here, 62.5 % against 20.8 % on the second machine, 82 % against 22 % on the
third.
"""
import json
from emotion_omni_lite.config import get_settings
from emotion_omni_lite.evaluate import evaluate_run
from emotion_omni_lite.report import report_folder


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    evaluate_run(settings=s, progress=False)       # at once when the report is current; made again when a run changed since
    r = json.loads((report_folder(s) / 'report.json').read_text())
    get = lambda k: r.get(k)
    systems = {'(a) cascade': '_cascade', '(b) semantic only': '_semantic_only', '(c) Emotion Omni': '', '(d) no AdaLN': '_no_adaln'}
    table = {name: {'reply_emotion_tone': get(f'reply_emotion_acc_tone{k}'), 'speech_emotion': get(f'speech_emotion_acc{k}')}
             for name, k in systems.items()}
    c, b, d = table['(c) Emotion Omni'], table['(b) semantic only'], table['(d) no AdaLN']
    return {'table': table, 'tone_adds_reply_emotion': round(c['reply_emotion_tone'] - b['reply_emotion_tone'], 3),
            'adaln_adds_speech_emotion': round(c['speech_emotion'] - d['speech_emotion'], 3)}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
