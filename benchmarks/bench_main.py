"""The main job, timed phase by phase: `bash scripts/main.sh` on a fresh clone (install, every stage, the evaluation,
the quality checks), the way a student meets it.

    python3 benchmarks/bench_main.py                   # clones this repository's HEAD into a temporary folder
    python3 benchmarks/bench_main.py --keep            # … and keeps that clone (its path is printed)
    python3 benchmarks/bench_main.py --repo /some/fresh-clone   # a clone whose runs/, data/ and .venv hold no earlier job's work

Runs the main job as a subprocess, stamps every line it prints, and splits the time by the job's own account: the
install (until `eol run` starts), each task's start and end from the summary `eol run` prints when it is done
("produced (seconds since the job began ...)"), and the quality checks (from the `== quality guards` line). It prints the job's
output as it goes, then the table of phases and the total. Run it on an idle machine: it is the figure README states.
It needs no model of its own, only `git` and a Python 3 to start `scripts/setup.sh` (the clone gets its own `.venv`;
with uv's cache warm the install takes seconds, from a cold one under a minute where the network is fast).
"""
import argparse, os, re, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_lines(cmd, cwd, env):
    "Run `cmd`, echo its output and yield (seconds since start, line)."
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                         start_new_session=True)                        # its workers in one group: stopped with it
    try:
        for line in p.stdout:
            sys.stdout.write(line); sys.stdout.flush()
            yield time.perf_counter() - t0, line.rstrip('\n')
    finally:                                                            # this script stopped (Ctrl-C, a time limit): the
        if p.poll() is None:                                            # job too, before its clone is removed
            os.killpg(p.pid, signal.SIGTERM); p.wait()
    if p.wait() != 0: raise SystemExit(f"bench_main: the main job failed (exit {p.returncode}); the table would be meaningless")
    yield time.perf_counter() - t0, None


def speed_probe(repo: Path) -> str:
    "The machine's float32 matmul peak on one thread, measured by the clone's own Python ('' when it cannot run)."
    code = ("import sys, torch; sys.path.insert(0, 'benchmarks'); torch.set_num_threads(1); "
            "from bench_flops import matmul_peak; print(f'{matmul_peak() / 1e9:.1f}')")
    try: r = subprocess.run([str(repo / '.venv' / 'bin' / 'python'), '-c', code], cwd=repo, capture_output=True, text=True)
    except OSError: return ''                                           # no Python there: the table goes without the probe
    return r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ''


def earlier_work(repo: Path) -> list:
    "What the clone's runs/ and data/ hold that is not in the repository, and its .venv (an earlier job's work, which the main job would reuse: the install too)."
    r = subprocess.run(['git', '-C', str(repo), 'ls-files', '--others', '--', 'runs', 'data'], capture_output=True, text=True)
    if r.returncode: raise SystemExit(f"bench_main: --repo {repo} is not a git clone ({r.stderr.strip()}): give a fresh clone of the kit")
    return (['.venv/'] if (repo / '.venv').exists() else []) + r.stdout.splitlines()


def uncommitted(root: Path) -> list:
    "What `git status` lists in the working tree at `root`: changes a clone of HEAD leaves out."
    r = subprocess.run(['git', '-C', str(root), 'status', '--porcelain'], capture_output=True, text=True)
    return [l[3:] for l in r.stdout.splitlines()] if r.returncode == 0 else []


def phases(stamped) -> tuple:
    "([(phase, start, end)] in seconds since the job began, total): the install, each task of `eol run`, the quality checks."
    t_run = t_quality = None; tasks, in_summary, summary = [], False, None
    for t, line in stamped:
        if line is None: end = t; break
        if line.startswith('emotion_omni_lite main job:'): t_run = t
        elif line.startswith('produced ('): in_summary, summary = True, line
        elif in_summary and (m := re.match(r'^  (\S+)\s+(\d+) → +(\d+) s', line)):
            tasks.append((m.group(1), float(m.group(2)), float(m.group(3))))
        elif line.startswith('== quality guards'): t_quality, in_summary = t, False
    if t_run is None: raise SystemExit("bench_main: the job never said 'emotion_omni_lite main job:', so `eol run` did not start; "
                                       "read its output above")
    if summary is not None and not tasks:                               # its lines changed: an empty table would pass as timed
        raise SystemExit(f"bench_main: the job's summary ({summary!r}) has no task line this script reads (\"  NAME  START → "
                         "END s\", as cli.produced_lines writes them): make phases() read the lines it prints now")
    rows = [('install (scripts/setup.sh)', 0.0, t_run)] + [(n, t_run + a, t_run + b) for n, a, b in tasks]
    if t_quality is not None: rows.append(('quality checks (pytest -m slow)', t_quality, end))   # a whole lite run only
    return rows, end


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--repo', type=Path, help="a fresh clone to run in, its runs/, data/ and .venv holding no earlier job's work (default: a new clone of HEAD)")
    ap.add_argument('--keep', action='store_true', help='keep the temporary clone (not with --repo, which is kept anyway)')
    a = ap.parse_args()
    if a.repo is not None: a.repo = a.repo.resolve()                    # the job and the probe run inside it: a relative path would not hold
    if a.repo is not None and a.keep: ap.error("--keep keeps the temporary clone, and with --repo there is none: leave --keep out")
    if a.repo is not None and (held := earlier_work(a.repo)):
        ap.error(f"--repo {a.repo}: its runs/, data/ or .venv hold an earlier job's work ({', '.join(held[:3])}{' …' if len(held) > 3 else ''}), "
                 "which the main job would reuse, and its phases (the install too) would read about 0 s: give a fresh clone "
                 f"(`git clone {ROOT} <new folder>`), or leave --repo out (a new clone of HEAD is made)")
    tmp = None
    if a.repo is None and (changed := uncommitted(ROOT)):              # timed all the same, and said: a clone of HEAD lacks them
        print(f"bench_main: warning: the working tree at {ROOT} has changes not in HEAD ({', '.join(changed[:3])}"
              f"{' …' if len(changed) > 3 else ''}); the clone times HEAD without them: commit them first to time them",
              file=sys.stderr, flush=True)
    if a.repo is None:
        tmp = Path(tempfile.mkdtemp(prefix='eol_main_'))
        subprocess.run(['git', 'clone', '-q', str(ROOT), str(tmp / 'kit')], check=True)
        a.repo = tmp / 'kit'
    env = {k: v for k, v in os.environ.items() if not k.startswith('EOL_')}      # the clone's settings.ini decides
    try:
        rows, total = phases(timed_lines(['bash', 'scripts/main.sh'], a.repo, env))
        peak = speed_probe(a.repo)
    finally:
        if tmp and not a.keep: shutil.rmtree(tmp, ignore_errors=True)
        elif tmp: print(f"\nthe clone is kept in {a.repo}")
    print(f"\nthe main job, phase by phase ({os.cpu_count()} CPU cores; seconds since it began; tasks of `eol run` "
          f"that overlap ran side by side)\n")
    print("| phase | start | end | seconds |\n|---|---|---|---|")
    for name, t0, t1 in rows: print(f"| {name} | {t0:.0f} | {t1:.0f} | {t1 - t0:.0f} |")
    print(f"| **total** | | | **{total:.0f}** ({total / 60:.1f} min) |")
    if peak: print(f"\nthe machine's speed just after: float32 matmul {peak} GFLOP/s on one thread (benchmarks/bench_flops.py's "
                   f"probe: a reference when comparing runs of this table; it moves less than the job does from hour to hour)")


if __name__ == '__main__':
    # a time limit or `kill`: the job and its clone go too (as the kit's run_script does; this runs before the kit is installed)
    signal.signal(signal.SIGTERM, lambda n, f: sys.exit(128 + n))
    main()
