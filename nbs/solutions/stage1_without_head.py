"""Exercise 11.1: train stage 1 without the emotion head's loss (`stages.stage1.emotion_weight = 0`) and compare it
with the recipe's stage 1.

What changes: the LLM still learns the replies (their style comes from the speech, through the adapter and LoRA), so
style match barely moves; the emotion head is never trained, so the reply emotion it predicts (and with it the
vector that conditions stage 2's speech) falls to chance or below. The reply's text and the reply's voice are learnt
by different parts. On `lite` (seed 0, README's second machine): reply emotion on tone-dependent sentences 92.8 % →
16.2 %, style match 92.8 % → 93.0 %. (An untrained head's guesses are whatever its random start gives, here 16 %: far
below the trained head.)

The variant trains into a separate runs folder; the finished dataset and stage-0 runs are linked there, not copied and
not retrained, and the course's own stage-1 run is left alone (the folder is printed; delete it when done).
"""
import json, tempfile
from pathlib import Path
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.stages import run_stage
from emotion_omni_lite.stage1 import stage1_job

KEYS = ('tone_reply_emotion_acc', 'tone_style_match')


def main(preset: str = None, settings=None, scratch=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['stage1'], cfg, s)                                   # the recipe's stage 1 (and what it reads)
    base = json.loads((Path(s.run_path) / 'stage1' / 'metrics.json').read_text())
    scratch = Path(scratch or tempfile.mkdtemp(prefix='eol_ex11_'))
    v = get_settings(preset=s.preset, data_dir=str(s.data_dir), out_dir=str(scratch), seed=s.seed, device=s.device)
    Path(v.run_path).mkdir(parents=True, exist_ok=True)
    for n in ('asr', 'emotion_encoder', 'text_llm', 'stage1_features'):  # reuse, do not retrain
        if not (Path(v.run_path) / n).exists(): (Path(v.run_path) / n).symlink_to(Path(s.run_path).resolve() / n)
    no_head = get_config(s.preset, **{'stages.stage1.emotion_weight': 0.0})
    var = json.loads((run_stage('stage1', no_head, stage1_job, v) / 'metrics.json').read_text())
    return {'recipe': {k: base[k] for k in KEYS}, 'no_emotion_loss': {k: var[k] for k in KEYS}, 'folder': str(scratch)}


if __name__ == '__main__':
    print(json.dumps(main(), indent=1))
