"""The quality figures over seeds: train the whole `lite` pipeline with each seed, gather every asserted figure, and
print mean ± spread, whether each target holds with margin, and the guard the seeds support.

A seed changes the data (held-out sentences, prosody jitter), every initialisation and every batch order, so the
spread over seeds is what a fresh machine can move a figure by (float summation order moves it by less). A target
"holds with margin" when the worst seed clears it by at least the spread (max − min) across seeds. The main job
asserts guards, not targets (`report.QUALITY`); this script checks each guard is one the seeds support and exits 1
when one is stricter.

Seed 0 is the main job's own run, and this script writes there: it runs `eol run --preset lite` in the checkout, on
the folders its settings.ini names (`data/`, `runs/`) wherever this is run from, so what the main job lacks there (a
run missing, or out of date) is trained there, into the main job's runs, and its report is made again when it is not
current. Other seeds train under `runs/seeds/s<N>/` (a finished run is reused, as in the main job). Each seed costs
one main job (its evaluation computes the speech figures); run it where nothing else is training.

    .venv/bin/python benchmarks/bench_seeds.py [--seeds 0 1 2] [--root runs/seeds] [--json <root>/figures.json] [--replace]

Each seed trains as the main job does (`eol run`: two worker processes of one thread each on a 2-core machine; it sets
its own threads).
    .venv/bin/python benchmarks/bench_seeds.py --with other-machine.json   # its seeds count too (its --json file)

`--with` adds the seeds of earlier runs of this script (their `--json` files, e.g. from another machine) to the table, so
the verdicts and supported guards are over every run: what a guard must survive is every machine's spread, not one's.
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path

from emotion_omni_lite.cli import run_script
from emotion_omni_lite.report import QUALITY, guard_from_seeds

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

def folders(seed: int, root: Path) -> dict:
    if seed == 0: return {}
    return {'EOL_DATA_DIR': str(root / f's{seed}' / 'data'), 'EOL_OUT_DIR': str(root / f's{seed}' / 'runs')}


def train(seed: int, root: Path):
    env = {**os.environ, 'EOL_SEED': str(seed), 'EOL_PRESET': 'lite', **folders(seed, root)}
    eol = ROOT / '.venv' / 'bin' / 'eol'
    if not eol.exists(): sys.exit(f"{eol} is missing: install the kit first (bash scripts/setup.sh run)")
    t0 = time.time()
    r = subprocess.run([str(eol), 'run', '--preset', 'lite'], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in r.stdout.splitlines():                                # its output stays out of the table, but a finished
        if 'replacing the finished run' in line: print(f"seed {seed}: {line.strip()}", flush=True)   # run replaced is said
    if r.returncode: sys.exit(f"seed {seed}: the main job failed:\n{r.stderr.strip()[-2000:]}")
    return time.time() - t0


def figures(seed: int, root: Path) -> dict:
    "Every figure of one seed's finished lite run (`evaluate.run_figures`)."
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.evaluate import run_figures
    f = folders(seed, root)
    s = get_settings(preset='lite', seed=seed, device='cpu', data_dir=f.get('EOL_DATA_DIR'), out_dir=f.get('EOL_OUT_DIR'))
    return run_figures(get_config('lite'), s)


def summarise(per_seed: dict) -> list:
    "Per figure: values, mean, spread, the target's verdict, the guard QUALITY asserts and the guard the seeds support."
    rows = []
    for name, q in QUALITY.items():
        lacking = [s for s in sorted(per_seed, key=str) if per_seed[s].get(name) is None]
        if lacking and q is not None:
            sys.exit(f"seed(s) {lacking} have no figure {name!r}, which QUALITY asserts: finish their evaluation (`eol run`), "
                     f"or make their --with file again")
        if lacking:                                                      # a study behind a switch, off in these runs
            print(f"not in every seed's report, left out: {name} (seeds {lacking})")
            continue
        vals = [per_seed[s][name] for s in sorted(per_seed, key=str)]
        mean, spread = statistics.mean(vals), max(vals) - min(vals)
        row = {'figure': name, 'values': vals, 'mean': round(mean, 4), 'spread': round(spread, 4), 'target': None,
               'guard': None, 'supported_guard': None, 'verdict': 'reported'}
        if q is not None:
            op, t, g = q
            worst = min(vals) if op == '>=' else max(vals)
            clears = worst - t if op == '>=' else t - worst
            sup = guard_from_seeds(op, t, vals)
            row.update(target=f'{op} {t}', guard=g, supported_guard=sup,
                       verdict='holds with margin' if clears >= spread - 1e-9 else ('holds, thin margin' if clears >= 0 else 'MISSED'),
                       guard_ok=(g <= sup + 1e-9) if op == '>=' else (g >= sup - 1e-9))
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--seeds', type=int, nargs='*', default=[0, 1, 2], help='seeds to train (or reuse) here; none: --with only')
    ap.add_argument('--root', type=Path, default=ROOT / 'runs' / 'seeds', help="where seeds other than 0 train (default: the checkout's runs/seeds)")
    ap.add_argument('--json', default=None, help='also write the table here (default: <root>/figures.json); an existing file only with --replace')
    ap.add_argument('--replace', action='store_true', help='write the table over an existing --json file')
    ap.add_argument('--with', dest='others', nargs='+', default=[], metavar='JSON',
                    help="earlier runs' --json files (e.g. another machine's): their seeds join the table")
    a = ap.parse_args()
    root = a.root.expanduser().resolve()                                # its seeds' runs and the table in one folder, wherever run from
    out = Path(a.json or root / 'figures.json').resolve()
    a.others = [str(Path(f).resolve()) for f in a.others]
    os.chdir(ROOT)        # seed 0 is the checkout's main job: its settings.ini, data/ and runs/, wherever this is run from
    if len({Path(f).resolve() for f in a.others}) < len(a.others): sys.exit("--with: a file given twice would count its seeds twice")
    if out.resolve() in {Path(f).resolve() for f in a.others}:
        sys.exit(f"--with {out}: this run would write its table over that file; name another with --json")
    if out.exists() and not a.replace:                                   # an earlier table (another machine's seeds?) is kept
        sys.exit(f"--json {out}: the file exists (an earlier run's table): name another with --json, or give --replace to "
                 "write over it")
    others = {}                                                          # read before any seed trains: a bad file costs no training
    for f in a.others:                                                   # another machine's seeds, named by their file
        label = f"{Path(f).parent.name}/{Path(f).stem}" if Path(f).stem == 'figures' else Path(f).stem
        if any(str(k).startswith(label + ':') for k in others):
            sys.exit(f"--with {f}: another file has the name {label!r}, which labels its seeds: copy one under another name")
        try: others.update({f"{label}:{k}": v for k, v in json.loads(Path(f).read_text())['per_seed'].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            sys.exit(f"--with {f}: not a figures file this script wrote ({e})")
    per_seed = {}
    for seed in a.seeds:
        sec = train(seed, root)
        print(f"seed {seed}: trained (or reused) in {sec:.0f} s", flush=True)
        per_seed[seed] = figures(seed, root)
    per_seed.update(others)
    if not per_seed: sys.exit("no seeds: name some with --seeds, or earlier runs' files with --with")
    rows = summarise(per_seed)
    w = max(len(r['figure']) for r in rows)
    heads = [f'seed {s}' for s in sorted(per_seed, key=str)]
    print(f"\n{'figure':{w}s} | " + ' | '.join(f'{h:>7s}' for h in heads)
          + ' |  mean  | spread | target  | target verdict     | guard | supported')
    for r in rows:
        g = '' if r['guard'] is None else f"{r['guard']:5.2f}"
        sup = '' if r['supported_guard'] is None else f"{r['supported_guard']:.2f}" + ('' if r.get('guard_ok', True) else ' (QUALITY asks more)')
        print(f"{r['figure']:{w}s} | " + ' | '.join(f'{v:{max(7, len(h))}.3f}' for v, h in zip(r['values'], heads))
              + f" | {r['mean']:6.3f} | {r['spread']:6.3f} | {r['target'] or '':7s} | {r['verdict']:18s} | {g:5s} | {sup}")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + '.part')                           # whole or not at all
    part.write_text(json.dumps({'seeds': sorted(per_seed, key=str), 'per_seed': per_seed, 'summary': rows}, indent=1))
    part.replace(out)
    print(f"\nwritten to {out}")
    bad = [r['figure'] for r in rows if not r.get('guard_ok', True)]
    if bad: print('guards in report.QUALITY stricter than these seeds support: ' + '; '.join(bad))
    print('targets not met on every seed: ' + ('; '.join(r['figure'] for r in rows if r['verdict'] == 'MISSED') or 'none'))
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
