"""Exercise 91.1: the main job's critical path. List the tasks `eol run` plans for a fresh `lite` run and what each
waits for, then add up the longest chain of waits with the stage table's measured minutes. Which single task would
shorten the whole job most if it were twice as fast?

For a fresh `lite` run the longest chain of waits is data → asr → stage1 → stage2: 11.9 minutes counted with the
stage table's minutes (1.5 + 4.2 + 3.2 + 3.0; the caches and the evaluation parts have no minutes in the table and add
about four minutes in the job). The longest task on it is the ASR (4.2 min, one thread beside the emotion encoder:
1,800 steps on the queries, their augmented copies and the 3,000 sentences it reads). Twice as fast, it would save
only 0.8 minutes: the chain through the emotion encoder (3.4 min, beside it) would then be the longest. Stage 1
(3.2 min) would save most: both chains pass through it and stage 2 waits for stage 1 alone, so halving it saves its
half, 1.6 minutes. The two cross-engine runs, the text LLM and the vocoder fill the other worker's gaps and lie on
no chain.
"""
import tempfile
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import plan_tasks
from emotion_omni_lite.stages import STAGES


def main(preset: str = 'lite') -> dict:
    with tempfile.TemporaryDirectory() as d:                 # an empty folder: every stage still to run
        s = get_settings(preset=preset, data_dir=f'{d}/data', out_dir=f'{d}/runs')
        tasks = plan_tasks(get_config(preset), s)
    cost = {t.name: STAGES[t.target].lite_minutes if t.kind == 'stage' else 0.0 for t in tasks}

    def schedule(cost):
        "When each task ends, if each starts as soon as what it waits for has ended, and which of those it waited for last."
        finish, via = {}, {}
        for t in tasks:                                      # tasks come in an order that can run
            before = max(t.deps, key=lambda d: finish[d], default=None)
            finish[t.name] = cost[t.name] + (finish[before] if before else 0.0); via[t.name] = before
        return finish, via

    finish, via = schedule(cost)
    end = max(finish, key=finish.get)
    saves = {n: round(finish[end] - max(schedule({**cost, n: c / 2})[0].values()), 1) for n, c in cost.items() if c}
    chain = [end]
    while via[chain[-1]]: chain.append(via[chain[-1]])
    chain = [c for c in reversed(chain) if cost[c]]
    return {'tasks': {t.name: list(t.deps) for t in tasks}, 'critical_path': chain,
            'critical_minutes': round(finish[end], 1), 'longest_on_it': max(chain, key=cost.get),
            'twice_as_fast_saves': dict(sorted(saves.items(), key=lambda kv: -kv[1])),   # minutes off the whole job
            'best_to_speed_up': max(saves, key=saves.get)}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
