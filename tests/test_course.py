"The course: headers in step with nbs/course.json, packed runs that restore as current, pages that work offline."
import json, re, shutil, tarfile
from pathlib import Path

import pytest

from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.config import ConfigError, get_settings
from emotion_omni_lite.course import (HEADER_START, SETUP_MARK, course_table, notebooks, pack_run, read_pack, repo_root,
                                      static_outputs, sync_headers, unpack_run, PLOTLY_MIME)
from emotion_omni_lite.stages import STAGES, stage_state

ROOT = Path(__file__).resolve().parents[1]


def test_every_notebook_header_in_step():
    "A header edited by hand, or a notebook added without an entry, fails here: `eol headers` brings them back."
    assert sync_headers(ROOT, check=True) == []
    for p in notebooks(ROOT):
        cells = json.loads(p.read_text())['cells']
        assert HEADER_START in ''.join(cells[0]['source']), p.name
        setup = [i for i, c in enumerate(cells) if ''.join(c['source']).startswith(SETUP_MARK)]
        assert len(setup) == 1 and '#| default_exp' in ''.join(cells[setup[0] - 1]['source']), p.name


def test_drift_is_found_and_fixed(tmp_path):
    shutil.copy(ROOT / 'pyproject.toml', tmp_path)
    (tmp_path / 'nbs').mkdir()
    table = json.loads((ROOT / 'nbs' / 'course.json').read_text())
    keep = ('02_audio', '10_adapter')
    (tmp_path / 'nbs' / 'course.json').write_text(json.dumps({'notebooks': {k: table['notebooks'][k] for k in keep}}))
    for k in keep: shutil.copy(ROOT / 'nbs' / f'{k}.ipynb', tmp_path / 'nbs')
    assert sync_headers(tmp_path, check=True) == []
    p = tmp_path / 'nbs' / '10_adapter.ipynb'
    nb = json.loads(p.read_text())
    nb['cells'][0]['source'] = [s.replace('What you will learn', 'What we learn') for s in nb['cells'][0]['source']]
    nb['cells'] = [c for c in nb['cells'] if not ''.join(c['source']).startswith(SETUP_MARK)]
    p.write_text(json.dumps(nb))
    assert sync_headers(tmp_path, check=True) == ['10_adapter'] and json.loads(p.read_text()) == nb    # check changes nothing
    assert sync_headers(tmp_path) == ['10_adapter'] and sync_headers(tmp_path, check=True) == []
    shutil.copy(ROOT / 'nbs' / '12_decoder.ipynb', tmp_path / 'nbs')           # a notebook the table does not know
    with pytest.raises(ConfigError, match='12_decoder'): sync_headers(tmp_path, check=True)
    p2 = tmp_path / 'nbs' / '02_audio.ipynb'                                  # drift in one, broken JSON in a later one:
    (tmp_path / 'nbs' / '12_decoder.ipynb').unlink(); p2.write_text(json.dumps(nb := {**json.loads(p2.read_text()), 'cells':
        [c for c in json.loads(p2.read_text())['cells'] if not ''.join(c['source']).startswith(SETUP_MARK)]}))
    p.write_text(p.read_text()[:-40])
    with pytest.raises(ConfigError, match=r"10_adapter\.ipynb is not a notebook's JSON .*restore it"): sync_headers(tmp_path)
    assert json.loads(p2.read_text()) == nb                                   # refused before any notebook was rewritten


def test_pack_unpack_restores_current_runs(smoke_settings, smoke_cfg, tmp_path):
    ensure_stages(list(STAGES), smoke_cfg, smoke_settings)
    archive = pack_run(tmp_path / 'lab.tar', settings=smoke_settings)
    meta = read_pack(archive)
    assert set(meta['stages']) == set(STAGES) and not any('checkpoint' in n for n in meta['files'])
    with pytest.raises(ConfigError, match='exists'): pack_run(archive, settings=smoke_settings)
    there = get_settings(preset='smoke', data_dir=str(tmp_path / 'drive' / 'data'), out_dir=str(tmp_path / 'drive' / 'runs'), device='cpu')
    assert unpack_run(archive, there) == list(meta['stages'])
    assert all(stage_state(n, smoke_cfg, there) == 'done' for n in STAGES)      # current: nothing would train again
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / 'drive').rglob('*'))
    with pytest.raises(ConfigError, match='already hold files'): unpack_run(archive, there)
    # a damaged archive: one file's bytes changed → refused, nothing written
    bad = tmp_path / 'bad.tar'
    with tarfile.open(archive) as src, tarfile.open(bad, 'w') as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name.endswith('model.safetensors'): data = data[:-8] + b'\0' * 8
            import io; dst.addfile(m, io.BytesIO(data))
    empty = get_settings(preset='smoke', data_dir=str(tmp_path / 'e' / 'data'), out_dir=str(tmp_path / 'e' / 'runs'), device='cpu')
    with pytest.raises(ConfigError, match='damaged'): unpack_run(bad, empty)
    assert not (tmp_path / 'e' / 'data').exists() and not any((tmp_path / 'e' / 'runs').iterdir() if (tmp_path / 'e' / 'runs').exists() else [])
    with pytest.raises(ConfigError, match='not a packed run'): unpack_run(next((tmp_path / 'drive' / 'data').rglob('build.json')), empty)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / 'drive').rglob('*')) == before


def test_an_unpack_cut_short_while_moving_leaves_no_partial_folder(smoke_settings, smoke_cfg, tmp_path, monkeypatch):
    "The data may go to another disk (a copy, file by file): a stop halfway must not leave a data folder that looks done."
    import errno
    ensure_stages(list(STAGES), smoke_cfg, smoke_settings)
    archive = pack_run(tmp_path / 'lab.tar', settings=smoke_settings)
    def full_disk(src, dst):                                            # the build record lands, then the disk is full
        Path(dst).mkdir(parents=True); shutil.copy(Path(src) / 'build.json', Path(dst) / 'build.json')
        raise OSError(errno.ENOSPC, 'No space left on device', str(dst))
    monkeypatch.setattr(shutil, 'move', full_disk)
    there = get_settings(preset='smoke', data_dir=str(tmp_path / 'other' / 'data'), out_dir=str(tmp_path / 'drive' / 'runs'), device='cpu')
    with pytest.raises(OSError, match='No space left'): unpack_run(archive, there)
    assert stage_state('data', smoke_cfg, there) == 'missing' and not Path(there.data_path).exists()
    assert not [p for p in tmp_path.rglob('.unpack*')]                   # nothing hidden left behind either
    monkeypatch.undo()                                                  # --overwrite, and the rename into place fails:
    import os
    assert unpack_run(archive, there) and stage_state('data', smoke_cfg, there) == 'done'   # the run that is there
    real, failed = os.replace, []
    def no_room(src, dst):                                              # the new data's rename fails, once
        if Path(dst) == Path(there.data_path) and Path(src).name == 'data' and not failed:
            failed.append(src); raise OSError(errno.EIO, 'I/O error', str(dst))
        return real(src, dst)
    monkeypatch.setattr(os, 'replace', no_room)
    with pytest.raises(OSError, match='I/O error'): unpack_run(archive, there, overwrite=True)
    monkeypatch.undo()
    assert stage_state('data', smoke_cfg, there) == 'done' and not [p for p in tmp_path.rglob('.unpack*')]   # the old one, back


def test_page_outputs_work_offline():
    import plotly.graph_objects as go
    nb = {'metadata': {'widgets': {'state': {}}}, 'cells': [{'cell_type': 'code', 'outputs': [
        {'output_type': 'display_data', 'data': {PLOTLY_MIME: go.Figure(go.Bar(y=[1])).to_plotly_json()}},
        {'output_type': 'display_data', 'data': {'text/html': '<script src="https://cdn.plot.ly/plotly-3.0.1.min.js"></script><div>x</div>'}}]}]}
    out = static_outputs(nb)['cells'][0]['outputs']
    assert 'Plotly.newPlot' in out[0]['data']['text/html'] and 'cdn.plot.ly' not in out[1]['data']['text/html']


def test_a_notebook_name_it_does_not_know_is_refused_before_anything_is_written(smoke_settings, tmp_path):
    from emotion_omni_lite.config import ConfigError
    from emotion_omni_lite.course import render_course
    with pytest.raises(ConfigError, match='no notebook named 08_cues: .*08_emotional_cues'):
        render_course(out=tmp_path / 'course', only=['08_emotional_cues', '08_cues'], root=ROOT, settings=smoke_settings)
    assert not (tmp_path / 'course').exists()


def test_a_damaged_timings_record_is_written_anew(smoke_settings, tmp_path, monkeypatch):
    "The course's timings.json cut short (a copy interrupted) does not stop the course after every notebook ran: the notebooks run now are recorded."
    from emotion_omni_lite import course
    stems = [p.stem for p in notebooks(ROOT)]
    import nbformat
    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# A lesson\n\nWhat it teaches.')])
    monkeypatch.setattr(course, 'execute_notebook', lambda p, s, **kw: (page, 1.0, []))   # the pages, not the notebooks
    out = tmp_path / 'course'; out.mkdir()
    (out / 'timings.json').write_text('{"preset": "smoke", "notebooks": {"00_co')
    course.render_course(out=out, only=stems[:2], root=ROOT, settings=smoke_settings)
    assert set(json.loads((out / 'timings.json').read_text())['notebooks']) == set(stems[:2]) and (out / 'index.html').exists()

CHROMIUM = Path('/usr/bin/chromium')

def test_smoke_course_renders_and_draws_offline(smoke_settings, tmp_path):
    "Every notebook runs under smoke into a page with a figure or a sound, no error output, drawn with the network cut."
    from emotion_omni_lite.course import render_course
    out = render_course(out=tmp_path / 'course', root=ROOT, settings=smoke_settings)     # raises, naming them, if any failed
    pages = {p.stem: (out / f'{p.stem}.html') for p in notebooks(ROOT)}
    assert all(p.exists() for p in pages.values()) and (out / 'index.html').exists() and (out / 'plotly.min.js').exists()
    timings = json.loads((out / 'timings.json').read_text())['notebooks']
    assert set(timings) == set(pages) and not any(v['errors'] for v in timings.values())
    for stem, p in pages.items():
        html = p.read_text()
        assert p.stat().st_size < 8e6, f'{stem}: {p.stat().st_size / 1e6:.1f} MB'     # no widget state, one shared plotly.js
        assert 'application/vnd.jupyter.widget-state+json' not in html and 'cdn.plot.ly' not in html, stem
    if not CHROMIUM.exists(): pytest.skip(f'{CHROMIUM} is missing: the pages were written but not opened in a browser')
    sync_api = pytest.importorskip('playwright.sync_api')
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=['--no-sandbox', '--disable-gpu'])
        page = browser.new_page()
        page.route('**/*', lambda r: r.continue_() if r.request.url.startswith(('file:', 'data:')) else r.abort())   # offline
        seen = {}
        for stem, p in pages.items():
            page.goto(p.as_uri()); page.wait_for_load_state('load')
            seen[stem] = page.evaluate("""() => ({
                drawn: document.querySelectorAll('.js-plotly-plot .main-svg').length,
                divs: document.querySelectorAll('.plotly-graph-div').length,
                media: document.querySelectorAll('.jp-OutputArea-output audio, .jp-OutputArea-output img, '
                                                  + '.jp-OutputArea-output svg:not(.main-svg)').length,
                errors: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]').length})""")
        browser.close()
    assert not [s for s, v in seen.items() if v['errors']], seen
    assert not [s for s, v in seen.items() if v['divs'] and not v['drawn']], seen            # every figure really drawn
    assert not [s for s, v in seen.items() if not (v['drawn'] or v['media'])], seen         # a figure or a sound on every page


def test_a_broken_table_is_named(tmp_path):
    shutil.copy(ROOT / 'pyproject.toml', tmp_path)
    (tmp_path / 'nbs').mkdir()
    (tmp_path / 'nbs' / 'course.json').write_text(json.dumps({'notebooks': {'02_audio': {'learn': 'one string'}}}))
    with pytest.raises(ConfigError, match="02_audio"): course_table(tmp_path)
    (tmp_path / 'nbs' / 'course.json').write_text('{"notebooks": ')
    with pytest.raises(ConfigError, match='cannot be read'): course_table(tmp_path)


def _repack(src: Path, dst: Path, meta_change=lambda m: m, keep=lambda name: True, extra=()):
    "A copy of packed run `src` with its pack.json changed, some members left out and `extra` (name, bytes) added."
    import io, json
    with tarfile.open(src) as a, tarfile.open(dst, 'w') as b:
        for m in a.getmembers():
            data = a.extractfile(m).read()
            if m.name == 'pack.json': data = json.dumps(meta_change(json.loads(data))).encode(); m.size = len(data)
            elif not keep(m.name): continue
            b.addfile(m, io.BytesIO(data))
        for name, data in extra:
            info = tarfile.TarInfo(name); info.size = len(data); b.addfile(info, io.BytesIO(data))
    return dst


@pytest.fixture
def unpacked(smoke_settings, smoke_cfg, tmp_path):
    "The smoke runs packed into tmp_path/lab.tar and unpacked into tmp_path/drive → (archive, the settings there)."
    ensure_stages(list(STAGES), smoke_cfg, smoke_settings)
    archive = pack_run(tmp_path / 'lab.tar', settings=smoke_settings)
    there = get_settings(preset='smoke', data_dir=str(tmp_path / 'drive' / 'data'), out_dir=str(tmp_path / 'drive' / 'runs'), device='cpu')
    unpack_run(archive, there)
    return archive, there


def test_an_unpack_is_both_folders_or_neither_and_a_hostile_or_partial_pack_is_refused_first(unpacked, tmp_path, monkeypatch):
    "The runs' rename failing after the data's puts both old folders back; names outside data/ and runs/, unknown stages and a stage whose files were dropped are refused, nothing written and no folder made."
    import errno, os
    archive, there = unpacked
    (Path(there.run_path) / 'my_own_study').mkdir(); (Path(there.run_path) / 'my_own_study' / 'notes.txt').write_text('mine')
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / 'drive').rglob('*'))
    real = os.replace
    def runs_fail(src, dst):                                            # the data went in; the runs' rename fails
        if Path(dst) == Path(there.run_path) and Path(src).name == 'runs': raise OSError(errno.EIO, 'I/O error', str(dst))
        return real(src, dst)
    monkeypatch.setattr(os, 'replace', runs_fail)
    with pytest.raises(OSError, match='I/O error'): unpack_run(archive, there, overwrite=True)
    monkeypatch.undo()
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / 'drive').rglob('*')) == before   # the old data and runs, both
    empty = get_settings(preset='smoke', data_dir=str(tmp_path / 'e' / 'data'), out_dir=str(tmp_path / 'e' / 'runs'), device='cpu')
    def with_file(name):
        def change(m): m['files'][name] = {'bytes': 4, 'sha256': '0' * 64}; return m
        return change
    cases = {'an absolute name': (_repack(archive, tmp_path / 'abs.tar', with_file('/tmp/evil'), extra=[('/tmp/evil', b'evil')]),
                                  "names '/tmp/evil', outside the data and runs folders"),
             'a name that climbs out': (_repack(archive, tmp_path / 'up.tar', with_file('runs/../../evil'),
                                                extra=[('runs/../../evil', b'evil')]), "names 'runs/../../evil', outside"),
             'a stage of another kit': (_repack(archive, tmp_path / 'new.tar', lambda m: {**m, 'stages': {**m['stages'], 'stage3': 'x'}}),
                                        'holds stage(s) stage3 this kit does not have'),
             "a stage's files dropped": (_repack(archive, tmp_path / 'drop.tar',
                                                 lambda m: {**m, 'files': {k: v for k, v in m['files'].items() if not k.startswith('runs/stage2/')}},
                                                 keep=lambda n: not n.startswith('runs/stage2/')),
                                         'names stage2 as finished, but they are not in it whole: nothing was changed')}
    for what, (bad, said) in cases.items():
        with pytest.raises(ConfigError, match=re.escape(said)): unpack_run(bad, empty)
        assert not (tmp_path / 'e').exists(), what                       # no folder made, nothing written
        assert not (tmp_path / 'evil').exists() and not Path('/tmp/evil').exists(), what


def test_a_pack_holds_finished_runs_only_and_never_itself(smoke_settings, smoke_cfg, tmp_path, monkeypatch):
    "A stage that is not finished is left out, its folder too (and named in pack.json); an archive written into the runs it packs is not packed into the next one."
    from emotion_omni_lite import course
    ensure_stages(list(STAGES), smoke_cfg, smoke_settings)
    real = course.stage_state
    monkeypatch.setattr(course, 'stage_state', lambda n, *a, **k: 'damaged' if n == 'stage2_no_adaln' else real(n, *a, **k))
    meta = read_pack(pack_run(tmp_path / 'part.tar', settings=smoke_settings))
    assert meta['not_packed'] == {'stage2_no_adaln': 'damaged'} and 'stage2_no_adaln' not in meta['stages']
    assert not [n for n in meta['files'] if n.startswith('runs/stage2_no_adaln/')] and any(n.startswith('runs/stage2/') for n in meta['files'])
    monkeypatch.undo()
    inside = Path(smoke_settings.run_path) / 'lab.tar'                  # an archive written into the runs it packs
    try:
        first = read_pack(pack_run(inside, settings=smoke_settings))
        again = read_pack(pack_run(inside, settings=smoke_settings, overwrite=True))
        assert 'runs/lab.tar' not in again['files'] and again['files'] == first['files']
    finally: inside.unlink(missing_ok=True)
    with pytest.raises(ConfigError, match='is a folder: name the archive'): pack_run(tmp_path, settings=smoke_settings)


def test_a_cell_past_its_time_and_a_dead_kernel_end_that_notebook_and_are_named(tmp_path):
    "`eol course` stops a cell at its timeout and notices a kernel that died (either once waited for ever), naming both."
    import nbformat
    from emotion_omni_lite.course import execute_notebook
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'd'), out_dir=str(tmp_path / 'r'), device='cpu')
    said = {}
    for name, src in (('slow', 'import time; time.sleep(60)'), ('dies', 'import os; os._exit(1)'), ('fine', 'x = 1')):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src), nbformat.v4.new_code_cell('print("after")')])
        nbformat.write(nb, str(tmp_path / f'{name}.ipynb'))
        said[name] = execute_notebook(tmp_path / f'{name}.ipynb', s, timeout=3)[2]
    assert said == {'slow': ['a cell ran past 3 s and was stopped (the rest did not run)'],
                    'dies': ['its kernel died (out of memory?) and the rest did not run'], 'fine': []}


def test_an_unpack_whose_rollback_fails_keeps_the_old_folders_and_says_where(unpacked, monkeypatch):
    "The runs' rename fails, then putting the old data back fails too: the old data are never deleted, and the message says where they are."
    import errno, os
    archive, there = unpacked
    (Path(there.data_path) / 'mine.txt').write_text('my notes')
    real = os.replace
    def fails(src, dst):
        if Path(dst) == Path(there.run_path) and Path(src).name == 'runs': raise OSError(errno.EIO, 'I/O error', str(dst))
        if Path(src).name == 'replaced' and Path(dst) == Path(there.data_path): raise OSError(errno.EIO, 'I/O error', str(dst))
        return real(src, dst)
    monkeypatch.setattr(os, 'replace', fails)
    with pytest.raises(ConfigError, match=r'could not be put back: they are kept whole in (\S+replaced); move them back') as e:
        unpack_run(archive, there, overwrite=True)
    monkeypatch.undo()
    kept = Path(re.search(r'kept whole in (\S+replaced);', str(e.value))[1])
    assert (kept / 'mine.txt').read_text() == 'my notes'                   # the old data, whole, where the message says
