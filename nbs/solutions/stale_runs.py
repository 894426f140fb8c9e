"""Exercise 01a.1: what does one changed setting cost? Change stage 2's learning rate (`stages.stage2.lr`), then the
emotion encoder's steps (`stages.emotion.steps`), and ask the stage table which runs are still current and which
`eol run` would train again. Why does the second change reach so much further than the first?

On `lite` with every run finished: halving stage 2's learning rate leaves two runs out of date, stage 2 and its
ablation (5.3 minutes of `lite` training). Ten more steps for the emotion encoder leave seven: the encoder itself, its
two cross-engine runs (they train a third of its steps), both stage-1 runs and both stage-2 runs (15.8 minutes),
because a run's hash holds the hashes of the runs it read, and everything after the encoder learned from its
features. Nothing is retrained by asking: `stage_state` and `stages_needed` only read, and `eol run` would train
exactly the listed runs. The studies behind a switch (`stage1_espeak_only`, the `*_referenced` and `*_calibrated` rows) are left out, as
`eol run` leaves them out; switched on, they would be out of date too.
"""
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.stages import job_stages, lite_minutes, stage_state, stages_needed


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    main_job = job_stages(cfg)                                      # what `eol run` trains: no study behind a switch
    ensure_stages(main_job, cfg, s)
    base = cfg.stages.emotion.steps
    out = {}
    for name, change in (('stage2 lr', {'stages.stage2.lr': cfg.stages.stage2.lr / 2}),
                         ('emotion steps', {'stages.emotion.steps': base + 10})):
        c = get_config(s.preset, **change)
        out[name] = {'not current': [n for n in main_job if stage_state(n, c, s) != 'done'],
                     'to train': stages_needed(main_job, c, s)}
        out[name]['lite_minutes'] = lite_minutes(out[name]['to train'])
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
