"The course: headers in step with nbs/course.json, packed runs that restore as current, pages whose figures and sounds work offline."
import json, re, shutil, subprocess, sys, tarfile
from pathlib import Path

import pytest

from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.config import ConfigError, get_settings
from emotion_omni_lite.course import (HEADER_START, SETUP_MARK, course_table, notebooks, pack_run, read_pack, repo_root,
                                      static_outputs, sync_headers, unpack_run, PLOTLY_MIME)
from emotion_omni_lite.stages import STAGES, stage_state
from conftest import CHROMIUM                                          # $EOL_CHROMIUM, else /usr/bin/chromium

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


def test_a_widget_becomes_its_static_copy_or_a_note_and_its_state_is_left_out():
    "A widget view is dropped with its text/plain (a repr such as VBox(children=…)); a panel's static copy stays (its CDN script out), a bare widget gets a note."
    from emotion_omni_lite.course import WIDGET_MIME
    view = {'version_major': 2, 'version_minor': 0, 'model_id': 'abc'}
    copy = '<p>reply</p><script src="https://cdn.plot.ly/plotly-3.0.1.min.js"></script><div>bars</div>'
    nb = {'metadata': {'widgets': {'application/vnd.jupyter.widget-state+json': {'state': {'abc': {}}}}, 'kernelspec': {}},
          'cells': [{'cell_type': 'code', 'outputs': [
              {'output_type': 'display_data', 'data': {WIDGET_MIME: view, 'text/plain': 'IntSlider(value=3)'}},
              {'output_type': 'display_data', 'data': {WIDGET_MIME: view, 'text/plain': 'VBox(children=(…))', 'text/html': copy}},
              {'output_type': 'execute_result', 'data': {'text/plain': '42'}}]}]}
    bare, panel, plain = (o['data'] for o in static_outputs(nb)['cells'][0]['outputs'])
    assert bare == {'text/html': '<p><em>(an interactive control: open the notebook to use it)</em></p>'}
    assert panel == {'text/html': '<p>reply</p><div>bars</div>'}                # the copy, drawn by the page's own plotly.js
    assert plain == {'text/plain': '42'} and nb['metadata'] == {'kernelspec': {}}   # other outputs kept; widget state out


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

# what a page shows in a browser cut off the network: figures drawn, media, errors, the scripts it asks the network for,
# and a formula left as its TeX source ($$ … $$: MathJax, the one such script, could not typeset it)
_PAGE_JS = """() => ({
    drawn: document.querySelectorAll('.js-plotly-plot .main-svg').length,
    divs: document.querySelectorAll('.plotly-graph-div').length,
    media: document.querySelectorAll('.jp-OutputArea-output audio, .jp-OutputArea-output img, '
                                      + '.jp-OutputArea-output svg:not(.main-svg)').length,
    errors: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]').length,
    audio: document.querySelectorAll('audio').length,
    remote: [...document.scripts].map(s => s.src).filter(u => /^https?:/.test(u)),
    tex: document.body.innerText.includes('$$')})"""


def _offline_looks(pages: dict) -> dict:
    "Each page (stem: path) opened in Chromium with every request but file: and data: ones refused → what `_PAGE_JS` sees."
    sync_api = pytest.importorskip('playwright.sync_api')
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=['--no-sandbox', '--disable-gpu'])
        page = browser.new_page()
        page.route('**/*', lambda r: r.continue_() if r.request.url.startswith(('file:', 'data:')) else r.abort())   # offline
        seen = {}
        for stem, p in pages.items():
            page.goto(p.as_uri()); page.wait_for_load_state('load')
            seen[stem] = page.evaluate(_PAGE_JS)
        browser.close()
    return seen


def test_a_page_asks_the_network_for_mathjax_alone_and_reads_offline(tmp_path):
    "The formulas' MathJax is the one script a page fetches (require.js, for widget state the pages leave out, is dropped); offline the figures draw, the audio is there and a formula reads as its TeX source."
    import nbformat, plotly
    import plotly.graph_objects as go
    from IPython.display import Audio
    from emotion_omni_lite.course import page_html
    nb = nbformat.read(str(ROOT / 'nbs' / '06_semantic_encoder.ipynb'), as_version=4)      # its formulas, as the lesson has them
    nb.cells.append(nbformat.v4.new_code_cell('figure and sound', outputs=[
        nbformat.v4.new_output('display_data', {PLOTLY_MIME: go.Figure(go.Bar(y=[1, 2])).to_plotly_json()}),
        nbformat.v4.new_output('display_data', {'text/html': Audio([0.0, 0.5, -0.5] * 800, rate=16000)._repr_html_()})]))
    html = page_html(nb, 'The semantic encoder')
    remote = re.findall(r'<script[^>]*\ssrc="(https?://[^"]+)"', html)
    assert len(remote) == 1 and 'mathjax' in remote[0] and 'require' not in html.split('</head>')[0], remote
    (tmp_path / 'page.html').write_text(html)
    shutil.copy(Path(plotly.__file__).parent / 'package_data' / 'plotly.min.js', tmp_path)
    if not CHROMIUM.exists(): pytest.skip(f'{CHROMIUM} is missing: the page was checked but not opened in a browser')
    seen = _offline_looks({'page': tmp_path / 'page.html'})['page']
    assert seen['divs'] == 1 and seen['drawn'] and seen['audio'] == 1 and seen['remote'] == remote and seen['tex'], seen


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
    if not CHROMIUM.exists(): pytest.skip(f'{CHROMIUM} is missing: the pages were written but not opened in a browser '
                                          '(`apt-get install -y chromium`, or EOL_CHROMIUM=/path/to/chromium)')
    seen = _offline_looks(pages)
    assert not [s for s, v in seen.items() if v['errors']], seen
    assert not [s for s, v in seen.items() if v['divs'] and not v['drawn']], seen            # every figure really drawn
    assert not [s for s, v in seen.items() if not (v['drawn'] or v['media'])], seen         # a figure or a sound on every page
    assert not [s for s, v in seen.items() if [u for u in v['remote'] if 'mathjax' not in u]], seen   # MathJax alone from the network
    assert seen['06_semantic_encoder']['tex'], seen['06_semantic_encoder']                 # its formulas read as TeX source offline


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
    "A stage that is not finished is left out, its folder too (and named in pack.json); an archive is not written into the runs it packs (the next one would hold it)."
    from emotion_omni_lite import course
    ensure_stages(list(STAGES), smoke_cfg, smoke_settings)
    real = course.stage_state
    monkeypatch.setattr(course, 'stage_state', lambda n, *a, **k: 'damaged' if n == 'stage2_no_adaln' else real(n, *a, **k))
    meta = read_pack(pack_run(tmp_path / 'part.tar', settings=smoke_settings))
    assert meta['not_packed'] == {'stage2_no_adaln': 'damaged'} and 'stage2_no_adaln' not in meta['stages']
    assert not [n for n in meta['files'] if n.startswith('runs/stage2_no_adaln/')] and any(n.startswith('runs/stage2/') for n in meta['files'])
    monkeypatch.undo()
    inside = Path(smoke_settings.run_path) / 'lab.tar'                  # an archive written into the runs it packs: refused
    with pytest.raises(ConfigError, match='lies inside .*which a pack packs'): pack_run(inside, settings=smoke_settings)
    assert not inside.exists()
    with pytest.raises(ConfigError, match='is a folder: name the archive'): pack_run(tmp_path, settings=smoke_settings)


def test_a_cell_past_its_time_and_a_dead_kernel_end_that_notebook_and_are_named(tmp_path):
    "`eol course` stops a cell at its timeout and notices a kernel that died (either once waited for ever), naming both, in the page too, at the cell where it stopped."
    import nbformat
    from emotion_omni_lite.course import execute_notebook, page_html
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'd'), out_dir=str(tmp_path / 'r'), device='cpu')
    said, pages = {}, {}
    for name, src in (('slow', 'import time; time.sleep(60)'), ('dies', 'import os; os._exit(1)'), ('fine', 'x = 1')):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# A lesson'), nbformat.v4.new_code_cell('print("before")'),
                                             nbformat.v4.new_code_cell(src), nbformat.v4.new_code_cell('print("after")')])
        nbformat.write(nb, str(tmp_path / f'{name}.ipynb'))
        pages[name], _, said[name] = execute_notebook(tmp_path / f'{name}.ipynb', s, timeout=3)
    assert said == {'slow': ['a cell ran past 3 s and was stopped (the rest did not run)'],
                    'dies': ['its kernel died (out of memory?) and the rest did not run'], 'fine': []}
    for name, ename in (('slow', 'CellTimeoutError'), ('dies', 'DeadKernelError')):
        cells = pages[name].cells
        assert [(o.output_type, o.get('ename'), o.get('evalue')) for o in cells[2].outputs] == [('error', ename, said[name][0])]
        assert not cells[3].outputs and 'before' in cells[1].outputs[0].text     # the rest did not run; what ran is kept
        assert f'This cell did not finish: {said[name][0]}.' in page_html(pages[name], 'A lesson')
    assert not [o for c in pages['fine'].cells for o in c.get('outputs', []) if o.output_type == 'error']


def test_running_notebooks_leaves_no_kernel_channels_behind(tmp_path):
    "Each notebook's kernel client is closed with its kernel: given the kit's own kernel manager, nbclient left a heartbeat thread and about 13 sockets a notebook, and a whole course rendered in one process (the smoke course test) once waited for ever on a kernel that had gone idle."
    import os, threading, nbformat
    from emotion_omni_lite.course import execute_notebook
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'd'), out_dir=str(tmp_path / 'r'), device='cpu')
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')]), str(tmp_path / 'n.ipynb'))
    beats = lambda: sum(type(t).__name__ == 'HBChannel' for t in threading.enumerate())   # jupyter_client's heartbeat thread
    fds = lambda: len(os.listdir('/proc/self/fd')) if Path('/proc/self/fd').is_dir() else 0
    execute_notebook(tmp_path / 'n.ipynb', s, timeout=60)               # the first: whatever a first kernel sets up for good
    before = (beats(), fds())
    for _ in range(3): assert execute_notebook(tmp_path / 'n.ipynb', s, timeout=60)[2] == []
    assert beats() == before[0] and fds() <= before[1] + 2, (before, beats(), fds())


def test_the_kernel_client_waits_a_slice_at_a_time_and_gives_up_only_at_the_end(monkeypatch):
    "A cell's wait for its reply is cut into `POLL_SECONDS` slices, each ending in a real look at the socket (a long wait once missed its wake-up, and a smoke course waited out a 30-minute cell timeout on an idle kernel): a message that comes after two empty slices is returned; with none, the wait ends when the whole timeout has passed, not before."
    import asyncio, time
    from queue import Empty
    from jupyter_client.channels import AsyncZMQSocketChannel
    from emotion_omni_lite import course
    monkeypatch.setattr(course, 'POLL_SECONDS', 0.01)
    asked = []
    async def looks(self, timeout=None):                                  # the socket's own wait: the third look finds it
        asked.append(timeout); await asyncio.sleep(timeout or 0)
        if len(asked) < 3 or self.empty: raise Empty
        return {'msg_type': 'execute_reply'}
    monkeypatch.setattr(AsyncZMQSocketChannel, 'get_msg', looks)
    ch = object.__new__(course._patient_client().channel); ch.empty = False
    assert asyncio.run(ch.get_msg(timeout=None)) == {'msg_type': 'execute_reply'} and asked == [0.01] * 3
    asked.clear(); ch.empty = True; t0 = time.monotonic()
    with pytest.raises(Empty): asyncio.run(ch.get_msg(timeout=0.1))
    assert time.monotonic() - t0 >= 0.1 and len(asked) >= 5 and all(0 <= a <= 0.01 for a in asked), asked
    assert course.execute_notebook.__code__.co_names.count('_patient_client') == 1     # the course's kernels use it


def test_a_notebooks_kernel_gets_back_every_setting_whatever_a_settings_file_says(tmp_path, monkeypatch):
    "The kernel's environment carries every setting (offline and the judge too, an empty judge_url included), so that `get_settings()` inside a notebook gives back the settings the course was asked to run under, not those of a settings.ini it finds."
    import os
    from emotion_omni_lite.config import SETTINGS_KEYS
    from emotion_omni_lite.course import _kernel_env
    (tmp_path / 'settings.ini').write_text('[emotion_omni_lite]\noffline = true\njudge_url = http://judge.example/v1\njudge_model = big\n')
    monkeypatch.chdir(tmp_path); monkeypatch.delenv('EOL_SETTINGS', raising=False)
    monkeypatch.setenv('HF_HUB_OFFLINE', os.environ.get('HF_HUB_OFFLINE', '1'))   # restored after: get_settings sets it
    fields = lambda s: {k: Path(v).resolve() if k in ('data_dir', 'out_dir') else v for k in SETTINGS_KEYS for v in [getattr(s, k)]}
    for judge in (dict(judge_url='http://localhost:8000/v1', judge_model='small'), dict(judge_url='', judge_model='')):
        s = get_settings(preset='smoke', data_dir='d', out_dir='r', device='cpu', seed=3, offline=False, **judge)
        env = _kernel_env(s)
        for k in [k for k in os.environ if k.startswith('EOL_')]: monkeypatch.delenv(k)
        for k, v in env.items():
            if k.startswith('EOL_'): monkeypatch.setenv(k, v)
        assert fields(get_settings()) == fields(s), judge                 # as the notebook reads them, in the kernel


def test_slow_cells_are_found_as_nbdev_finds_them():
    "A `slow` directive under another one (or after a blank line or a cell magic) or in the cell's nbdev metadata counts; one below the code, or another word, does not."
    import nbformat
    from emotion_omni_lite.course import _slow
    cells = {'#| slow\nx = 1': True, '#| export\n#| slow\nx = 1': True, '\n%%time\n#|slow\nx = 1': True, '#| slow: true\nx = 1': True,
             'x = 1\n#| slow': False, '#| slowly\nx = 1': False, '#| export\nx = 1': False}
    assert {src: _slow(nbformat.v4.new_code_cell(src)) for src in cells} == cells
    assert _slow(nbformat.v4.new_code_cell('x = 1', metadata={'nbdev': {'slow': 'true'}}))
    nbio = pytest.importorskip('fastcore.nbio')
    if hasattr(nbio.NbCell, 'directives'):                               # nbdev's own reading, where this fastcore has it
        assert {src: 'slow' in nbio.NbCell(0, nbformat.v4.new_code_cell(src)).directives for src in cells} == cells


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
    with pytest.raises(ConfigError, match=rf"{re.escape(str(kept))} is \S+ as it was before an unpack that was stopped: move it back"):
        unpack_run(archive, there, overwrite=True)                          # the next unpack names it, and leaves it be
    assert (kept / 'mine.txt').read_text() == 'my notes'


# ---- runs made by hand (nothing trains): packing, unpacking, the course's own files ----
def _fake_run(root: Path, names=('asr', 'text_llm')):
    "Smoke settings in `root` with a finished dataset record and finished runs `names`, each current for this kit."
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.stages import run_files, stage_hash
    s = get_settings(preset='smoke', data_dir=str(root / 'data'), out_dir=str(root / 'runs'), device='cpu')
    cfg, d = get_config('smoke'), Path(s.data_path)
    d.mkdir(parents=True)
    (d / 'dialogues.arrow').write_bytes(b'x' * 1000)
    (d / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': stage_hash('data', cfg, s.seed)}))
    for n in names:
        f = Path(s.run_path) / n; f.mkdir(parents=True)
        (f / 'model.safetensors').write_bytes(n.encode() * 100)
        (f / 'config.json').write_text(json.dumps({'hash': stage_hash(n, cfg, s.seed)}))
        (f / 'metrics.json').write_text('{}')
        (f / 'files.json').write_text(json.dumps(run_files(f)))
    return s


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob('*'))}


def test_overwrite_refuses_an_archive_inside_what_it_replaces_and_names_what_goes(tmp_path, capsys):
    "--overwrite replaces the whole runs/<preset> and data/<preset>: an archive kept there is refused (it would be deleted while read), and what the archive lacks is named before it goes."
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    (Path(s.run_path) / 'my_notes').mkdir(); (Path(s.run_path) / 'my_notes' / 'n.txt').write_text('mine')   # a study of my own
    inside = Path(shutil.copy(arc, Path(s.run_path) / 'lab.tar'))        # kept there by hand (a pack refuses to write it there)
    before = _tree(tmp_path)
    with pytest.raises(ConfigError, match=r"lab\.tar lies inside .*runs/smoke, which an unpack replaces \(--overwrite deletes "
                                          r".*data/smoke and .*runs/smoke, whole.*those the archive lacks too\): move the archive out of it first"):
        unpack_run(inside, s, overwrite=True)
    assert _tree(tmp_path) == before                                     # the archive and my_notes, untouched
    inside.unlink()
    with pytest.raises(ConfigError, match=r"already hold files: .*or pass --overwrite, which deletes .*whole.*not in the archive, so lost: \S*my_notes$"):
        unpack_run(arc, s)
    assert unpack_run(arc, s, overwrite=True) == ['data', 'asr', 'text_llm']
    assert re.search(r'--overwrite: deleting \S*my_notes, which the archive lacks', capsys.readouterr().out)
    assert not (Path(s.run_path) / 'my_notes').exists()                  # as asked, and said


def test_a_pack_refuses_to_be_written_inside_what_it_packs_and_leaves_archives_found_there_out(tmp_path):
    "An archive inside the data or runs folder would be packed into the next pack (archives within archives) and refused by an unpack: refused, nothing written; a .tar left there is not packed."
    s = _fake_run(tmp_path / 'A'); before = _tree(tmp_path)
    for top, inside in (('data', Path(s.data_path) / 'in.tar'), ('runs', Path(s.run_path) / 'asr' / 'in.tar')):
        for overwrite in (False, True):
            with pytest.raises(ConfigError, match=rf"^{re.escape(str(inside))} lies inside \S+/{top}/smoke, which a pack packs \(the next pack "
                                                  rf"would hold this archive.*\): name a path outside it \(e\.g\. `eol pack \S+/{top}/in\.tar`\); "
                                                  "nothing was written$"):
                pack_run(inside, settings=s, overwrite=overwrite)
    assert _tree(tmp_path) == before                                     # nothing written, not even a temporary file
    arc = pack_run(tmp_path / 'lab.tar', settings=s)
    for stray in (Path(s.data_path) / 'old.tar', Path(s.run_path) / 'old.tar'): shutil.copy(arc, stray)   # archives left there
    again = read_pack(pack_run(tmp_path / 'lab2.tar', settings=s))
    assert again['files'] == read_pack(arc)['files'] and not [n for n in again['files'] if n.endswith('.tar')]
    assert (tmp_path / 'lab2.tar').stat().st_size < 1.5 * arc.stat().st_size


def test_unpack_refuses_while_a_stage_lock_is_held(tmp_path):
    "A training still writing into runs/<preset> (or building data/<preset>) holds its stage lock: an unpack would swap the folder under it."
    from emotion_omni_lite.stages import StageLock
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    there = get_settings(preset='smoke', data_dir=str(tmp_path / 'B' / 'data'), out_dir=str(tmp_path / 'B' / 'runs'), device='cpu')
    unpack_run(arc, there)
    before = _tree(tmp_path / 'B')
    for folder, name in ((Path(there.run_path) / 'asr', 'asr'), (Path(there.data_path), 'smoke')):
        with StageLock(folder):
            with pytest.raises(ConfigError, match=rf"\.{name}\.lock is held: a process is writing \S*{name} now .*let it finish"):
                unpack_run(arc, there, overwrite=True)
        assert {k: v for k, v in _tree(tmp_path / 'B').items() if not k.endswith('.lock')} == before
    assert unpack_run(arc, there, overwrite=True) == ['data', 'asr', 'text_llm']   # the locks free: it goes ahead


def test_a_linked_runs_or_data_folder_stays_a_link(tmp_path):
    "runs/<preset> and data/<preset> linked to a bigger disk: the run lands in the targets and the links stay."
    import os
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    big, B = tmp_path / 'big', tmp_path / 'B'
    (big / 'runs_smoke').mkdir(parents=True); (big / 'data_smoke').mkdir(); (big / 'runs_smoke' / 'old.txt').write_text('old')
    (B / 'runs').mkdir(parents=True); (B / 'data').mkdir()
    os.symlink(big / 'runs_smoke', B / 'runs' / 'smoke'); os.symlink(big / 'data_smoke', B / 'data' / 'smoke')
    t = get_settings(preset='smoke', data_dir=str(B / 'data'), out_dir=str(B / 'runs'), device='cpu')
    assert unpack_run(arc, t, overwrite=True) == ['data', 'asr', 'text_llm']
    assert (B / 'runs' / 'smoke').is_symlink() and (B / 'data' / 'smoke').is_symlink()
    assert (big / 'runs_smoke' / 'asr' / 'model.safetensors').is_file() and (big / 'data_smoke' / 'build.json').is_file()
    assert not (big / 'runs_smoke' / 'old.txt').exists() and sorted(p.name for p in big.iterdir()) == ['data_smoke', 'runs_smoke']


def test_what_a_killed_unpack_left_is_cleared_or_named(tmp_path, capsys):
    "An unpack killed after extracting leaves a hidden working folder: the next unpack clears it; one holding a folder it set aside is named, never deleted."
    import os, socket, subprocess, sys
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    B = tmp_path / 'B'
    code = ("import os, signal, tarfile\nfrom emotion_omni_lite.config import get_settings\nfrom emotion_omni_lite.course import unpack_run\n"
            "real = tarfile.TarFile.extractall\n"
            "def cut(self, *a, **k): real(self, *a, **k); os.kill(os.getpid(), signal.SIGKILL)\n"
            "tarfile.TarFile.extractall = cut\n"
            f"unpack_run({str(arc)!r}, get_settings(preset='smoke', data_dir={str(B / 'data')!r}, out_dir={str(B / 'runs')!r}, device='cpu'))\n")
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == -9, r.stderr
    assert [p.name[:8] for p in (B / 'runs').glob('.unpack*')] == ['.unpack-']     # what it left
    there = get_settings(preset='smoke', data_dir=str(B / 'data'), out_dir=str(B / 'runs'), device='cpu')
    assert unpack_run(arc, there) == ['data', 'asr', 'text_llm'] and not list((B / 'runs').glob('.unpack*'))
    gone = subprocess.Popen(['true']); gone.wait()                          # a process that no longer runs
    aside = B / 'runs' / '.unpack-runs-x'; (aside / 'replaced' / 'asr').mkdir(parents=True)
    (aside / 'replaced' / 'asr' / 'mine.txt').write_text('mine')
    (aside / 'unpack.json').write_text(json.dumps({'pid': gone.pid, 'host': socket.gethostname(), 'dest': str(B / 'runs' / 'gone')}))
    (B / 'runs' / '.unpack-other').mkdir()                               # another machine's, or an older kit's: named only
    before = _tree(B)
    with pytest.raises(ConfigError, match=r"\.unpack-runs-x/replaced is \S*runs/gone as it was before an unpack that was stopped: move it back"):
        unpack_run(arc, there, overwrite=True)
    assert _tree(B) == before                                            # the folder set aside, whole; nothing else changed
    os.rename(aside / 'replaced', B / 'runs' / 'gone')                   # put back as the message says: then it goes ahead
    assert unpack_run(arc, there, overwrite=True) and not aside.exists()
    assert re.search(r"\.unpack-other was left by an unpack that was stopped", capsys.readouterr().out) and (B / 'runs' / '.unpack-other').is_dir()


def test_a_compressed_archive_is_named_with_how_to_decompress_it(tmp_path):
    import bz2, gzip, lzma, zipfile
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s); raw = arc.read_bytes()
    (tmp_path / 'lab.tar.gz').write_bytes(gzip.compress(raw)); (tmp_path / 'lab.tar.bz2').write_bytes(bz2.compress(raw))
    (tmp_path / 'lab.tar.xz').write_bytes(lzma.compress(raw))
    with zipfile.ZipFile(tmp_path / 'lab.zip', 'w') as z: z.write(arc, 'lab.tar')
    for name, said in (('lab.tar.gz', 'gzip-compressed.*`gunzip -k '), ('lab.tar.bz2', 'bzip2-compressed.*`bunzip2 -k '),
                       ('lab.tar.xz', 'xz-compressed.*`unxz -k '), ('lab.zip', 'zip-compressed.*`unzip ')):
        with pytest.raises(ConfigError, match=rf"{re.escape(name)} is {said}.*then unpack the \.tar that gives"): read_pack(tmp_path / name)


def test_a_pack_records_the_kit_and_a_refusal_names_it_and_a_settings_section(tmp_path, monkeypatch):
    "pack.json names the kit's version and commit; an archive whose hashes differ here names the kit that packed it and, when one is in effect, the settings file's section for that preset."
    import emotion_omni_lite
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    kit = read_pack(arc)['kit']
    assert kit['version'] == emotion_omni_lite.__version__
    if (ROOT / '.git').exists(): assert re.fullmatch(r'[0-9a-f]{40}', kit['commit'])
    ini = tmp_path / 'mine.ini'
    ini.write_text(f"[emotion_omni_lite]\npreset = smoke\n[emotion_omni_lite.smoke]\nllm.num_layers = 2\n")
    monkeypatch.setenv('EOL_SETTINGS', str(ini))                         # exercise 00.1 done on this preset
    there = get_settings(preset='smoke', data_dir=str(tmp_path / 'B' / 'data'), out_dir=str(tmp_path / 'B' / 'runs'), device='cpu')
    with pytest.raises(ConfigError, match=rf"text_llm would not count as current here\. It was packed by emotion_omni_lite "
                                          rf"{re.escape(kit['version'])}.*A possible cause: the settings file {re.escape(str(ini))} changes "
                                          r"preset 'smoke' in its \[emotion_omni_lite\.smoke\] section \(llm\.num_layers\)"):
        unpack_run(arc, there)
    old = _repack(arc, tmp_path / 'old.tar', lambda m: {k: v for k, v in m.items() if k != 'kit'})   # packed before the kit was recorded
    with pytest.raises(ConfigError, match='packed by a kit that recorded no version'): unpack_run(old, there)
    assert not (tmp_path / 'B').exists()


def _toy_root(tmp_path: Path, keep=('02_audio', '10_adapter'), handout=False) -> Path:
    "A checkout with notebooks `keep` and their entries of nbs/course.json (and the handout)."
    (tmp_path / 'nbs').mkdir(parents=True); shutil.copy(ROOT / 'pyproject.toml', tmp_path)
    table = json.loads((ROOT / 'nbs' / 'course.json').read_text())
    (tmp_path / 'nbs' / 'course.json').write_text(json.dumps({'notebooks': {k: table['notebooks'][k] for k in keep}}))
    for k in keep: shutil.copy(ROOT / 'nbs' / f'{k}.ipynb', tmp_path / 'nbs')
    if handout: shutil.copy(ROOT / 'nbs' / 'handout.md', tmp_path / 'nbs')
    return tmp_path


def test_headers_keep_text_below_the_block_and_a_broken_handout_stops_every_write(tmp_path):
    from emotion_omni_lite.course import HEADER_END
    root = _toy_root(tmp_path, handout=True)
    sync_headers(root)                                                   # the handout's table: these two notebooks
    p = root / 'nbs' / '10_adapter.ipynb'; nb = json.loads(p.read_text())
    nb['cells'][0]['source'][-1] += '\n\n> **Instructor note:** skip section 3 this term.'
    p.write_text(json.dumps(nb, indent=1))
    t = json.loads((root / 'nbs' / 'course.json').read_text()); t['notebooks']['10_adapter']['learn'].append('A new goal.')
    (root / 'nbs' / 'course.json').write_text(json.dumps(t))
    assert sync_headers(root) == ['10_adapter', 'handout.md']
    first = ''.join(json.loads(p.read_text())['cells'][0]['source'])
    assert 'A new goal.' in first and first.endswith(f'{HEADER_END}\n\n> **Instructor note:** skip section 3 this term.')
    assert sync_headers(root, check=True) == []                          # in step, the note kept
    h = root / 'nbs' / 'handout.md'; h.write_text(h.read_text().replace('<!-- end of lesson table -->', ''))
    t['notebooks']['02_audio']['learn'].append('Another goal.'); (root / 'nbs' / 'course.json').write_text(json.dumps(t))
    before = (root / 'nbs' / '02_audio.ipynb').read_bytes()
    with pytest.raises(ConfigError, match='handout.md has lost its lesson-table markers'): sync_headers(root)
    assert (root / 'nbs' / '02_audio.ipynb').read_bytes() == before     # refused before any notebook was written
    nb = json.loads(p.read_text()); nb['cells'][0]['source'] = [''.join(nb['cells'][0]['source']).replace(HEADER_END, '')]
    p.write_text(json.dumps(nb))
    with pytest.raises(ConfigError, match=r"10_adapter\.ipynb: its first cell has the course header's start but not its end"):
        sync_headers(root, check=True)


@pytest.mark.parametrize('bad, said', [({'minutes': {'lite': '0.5'}}, r"02_audio: 'minutes\.lite' must be a finite number of minutes"),
                                       ({'minutes': {'lite': float('inf')}},             # written and read back as JSON's Infinity
                                        r"02_audio: 'minutes\.lite' must be a finite number of minutes \(0 or more\) or null, not inf"),
                                       ({'first': {'what': 'Training X', 'minutes': float('inf')}}, r"02_audio: 'first' must be"),
                                       ({'learn': ['Reading a file | writing one']}, r"02_audio: 'learn' sentence 'Reading a file \| "
                                        r"writing one' holds a '\|' or a line break, which would break the handout's lesson table: "
                                        r"write it on one line, without '\|'"),
                                       ({'learn': ['Two\nlines']}, r"02_audio: 'learn' sentence 'Two\\nlines' holds a '\|' or a line break"),
                                       ({'first': {'what': 'Training X\rand Y', 'minutes': 1.0}},
                                        r"02_audio: 'first\.what' 'Training X\\rand Y' holds a '\|' or a line break.*without '\|'"),
                                       ({'minutes': 0.5}, r"02_audio: 'minutes' must be an object"),
                                       ({'minutes': {'lite_cpu': 1.0}}, r"02_audio: 'minutes\.lite_cpu' is not a measure: use .*lite"),
                                       ({'first': {'what': 'Training X'}}, r"02_audio: 'first' must be \{\"what\""),
                                       ({'first': 'Training X'}, r"02_audio: 'first' must be"),
                                       ({'minute': {'lite': 1}}, r"02_audio: 'minute' is not a field: use learn, minutes or first")])
def test_every_field_of_the_table_is_checked(tmp_path, bad, said):
    root = _toy_root(tmp_path, keep=('02_audio',))
    t = json.loads((root / 'nbs' / 'course.json').read_text()); t['notebooks']['02_audio'].update(bad)
    (root / 'nbs' / 'course.json').write_text(json.dumps(t))
    with pytest.raises(ConfigError, match=said + r".*Fix these entries"): sync_headers(root, check=True)


def _fake_pages(monkeypatch, page=None):
    "The course's pages from a made-up executed notebook (no kernel), every run's stages counted as trained."
    import nbformat
    from emotion_omni_lite import course
    page = page or nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# A lesson\n> what it does')])
    monkeypatch.setattr(course, 'execute_notebook', lambda p, s, **kw: (nbformat.from_dict(json.loads(json.dumps(page))), 1.0, []))
    monkeypatch.setattr(course, 'stages_needed', lambda *a, **k: [])
    return course


def test_record_checks_the_table_covers_every_notebook_and_lite_means_two_threads_first(tmp_path, monkeypatch):
    "A notebook without an entry, or `lite` minutes timed on anything but the CPU with 2 threads, is refused before a notebook runs."
    import torch
    course = _fake_pages(monkeypatch)
    root = _toy_root(tmp_path / 'r', keep=('02_audio',)); shutil.copy(ROOT / 'nbs' / '02_audio.ipynb', root / 'nbs' / '99_new_lesson.ipynb')
    def never(*a, **k): raise AssertionError('a notebook ran')
    monkeypatch.setattr(course, 'execute_notebook', never)
    table = (root / 'nbs' / 'course.json').read_text()
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    with pytest.raises(ConfigError, match=r"--record writes each notebook's minutes into nbs/course\.json, which has no entry for 99_new_lesson"):
        course.render_course(out=tmp_path / 'out', root=root, settings=s, record=True)
    assert not (tmp_path / 'out').exists() and (root / 'nbs' / 'course.json').read_text() == table
    (root / 'nbs' / '99_new_lesson.ipynb').unlink()
    _fake_pages(monkeypatch)
    lite = get_settings(preset='lite', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with pytest.raises(ConfigError, match=r"the `lite` minutes, which the headers give for a 2-core CPU, and this runs on cpu "
                                              r"with 1 torch thread: .*OMP_NUM_THREADS=2"):
            course.render_course(out=tmp_path / 'out', root=root, settings=lite, record=True)
        assert not (tmp_path / 'out').exists() and (root / 'nbs' / 'course.json').read_text() == table
        torch.set_num_threads(2)
        course.render_course(out=tmp_path / 'out', root=root, settings=lite, record=True)
    finally: torch.set_num_threads(threads)
    assert json.loads((root / 'nbs' / 'course.json').read_text())['notebooks']['02_audio']['minutes']['lite'] == 0.02


def test_record_waits_for_what_a_first_run_makes(tmp_path, monkeypatch):
    "Right after the main job, --record is refused before a notebook runs while 08_emotional_cues would train its four study encoders and 14_stage2 and 16_evaluate would compute the evaluation's speech and report (that time would be recorded as their minutes), naming them and the command; once they are there it records."
    import nbformat
    from emotion_omni_lite import course, stages
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.evaluate import _part_file, part_stamp, report_current, report_stamp
    from emotion_omni_lite.report import report_folder
    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# A lesson\n> what it does')])
    monkeypatch.setattr(course, 'execute_notebook', lambda p, s, **kw: (nbformat.from_dict(json.loads(json.dumps(page))), 1.0, []))
    first = ('08_emotional_cues', '14_stage2', '16_evaluate')
    root = _toy_root(tmp_path / 'r', keep=first)
    table = (root / 'nbs' / 'course.json').read_text()
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    cfg = get_config('smoke')
    studies = ['emotion_encoder_espeak_referenced', 'emotion_encoder_piper_referenced', 'emotion_encoder_espeak_calibrated',
               'emotion_encoder_piper_calibrated']
    trained = set(stages.job_stages(cfg))                                # the main job's runs, and no study
    monkeypatch.setattr(stages, 'stage_state', lambda n, c, s: 'done' if n in trained else 'missing')
    with pytest.raises(ConfigError) as e: course.render_course(out=tmp_path / 'out', root=root, settings=s, record=True)
    said = str(e.value)
    assert (f"preset 'smoke' still needs {', '.join(studies)} and the evaluation's report/speech/omni.json, "
            "report/speech/omni_no_adaln.json, report/report.json (08_emotional_cues, 14_stage2, 16_evaluate make their part of it "
            "on a first run, and that time would be recorded as their minutes)") in said, said
    assert f"--stages {' '.join(studies)} eval`), or run `eol course` once without --record" in said, said
    assert not (tmp_path / 'out').exists() and (root / 'nbs' / 'course.json').read_text() == table
    for p in ('omni', 'omni_no_adaln'):                                 # the speech parts, as `evaluate_part` keeps them
        f = _part_file(s, p); f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({'stamp': part_stamp(p, cfg, s)}))
    for n in ('details.json', 'report.md', 'records.jsonl'): (report_folder(s) / n).write_text('{}')   # a whole report,
    for n in ('report.json', 'speech_figures.json'):                                                  # as evaluate_run keeps it
        (report_folder(s) / n).write_text(json.dumps({'run_stamp': report_stamp(cfg, s)}))
    assert report_current(cfg, s)
    trained |= set(studies[:3])
    with pytest.raises(ConfigError, match=r"still needs emotion_encoder_piper_calibrated \(08_emotional_cues makes its part of it "
                                          r"on a first run, .*--stages emotion_encoder_piper_calibrated`\)"):
        course.render_course(out=tmp_path / 'out', root=root, settings=s, record=True)
    trained.add(studies[3])
    course.render_course(out=tmp_path / 'out', root=root, settings=s, record=True)
    assert {k: v['minutes']['smoke'] for k, v in json.loads((root / 'nbs' / 'course.json').read_text())['notebooks'].items()} \
        == dict.fromkeys(first, 0.02)


def test_old_timings_of_another_preset_or_damaged_are_left_out_and_the_index_is_escaped(tmp_path, monkeypatch):
    import nbformat
    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# The <speech> token\n> where `<speech>` & the audio meet')])
    course = _fake_pages(monkeypatch, page)
    out, good = tmp_path / 'course', {'title': 'T', 'what': 'W', 'seconds': 2.0, 'errors': []}
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    out.mkdir()
    from emotion_omni_lite.train import environment
    here = {'preset': 'smoke', 'device': 'cpu', 'environment': environment()}   # what the seconds were timed under
    (out / 'timings.json').write_text(json.dumps({**here, 'notebooks': {'00_config': {'seconds': 3.0}, '01_train': good}}))
    course.render_course(out=out, only=['02_audio'], root=ROOT, settings=s)
    assert sorted(json.loads((out / 'timings.json').read_text())['notebooks']) == ['01_train', '02_audio']   # the damaged one out
    (out / 'timings.json').write_text(json.dumps({**here, 'preset': 'lite', 'notebooks': {'01_train': good}}))
    course.render_course(out=out, only=['02_audio'], root=ROOT, settings=s)
    assert sorted(json.loads((out / 'timings.json').read_text())['notebooks']) == ['02_audio']              # another preset's: out
    index, html = (out / 'index.html').read_text(), (out / '02_audio.html').read_text()
    assert '<b>The &lt;speech&gt; token</b><br>where `&lt;speech&gt;` &amp; the audio meet' in index and '<speech>' not in index
    assert '<title>The &lt;speech&gt; token</title>' in html


def _at(root: Path):
    return get_settings(preset='smoke', data_dir=str(root / 'data'), out_dir=str(root / 'runs'), device='cpu')


def test_what_appears_while_unpacking_is_kept_and_one_unpack_runs_at_a_time(tmp_path, monkeypatch):
    "A file written into the destination, or a training started there, after the archive is extracted and before the swap: refused, both folders as they were; a second unpack into the same folders is refused while one runs."
    import fcntl
    from emotion_omni_lite.stages import StageLock
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    real, held = tarfile.TarFile.extractall, []
    def meanwhile(root, lock=False):                                    # extraction done, then something writes there
        def extract(self, *a, **k):
            real(self, *a, **k)
            p = Path(_at(root).run_path) / 'stage1'
            if lock: held.append(StageLock(p)); held[-1].__enter__()
            p.mkdir(parents=True); (p / 'training.log').write_text('started meanwhile')
        monkeypatch.setattr(tarfile.TarFile, 'extractall', extract)
    meanwhile(tmp_path / 'B')
    with pytest.raises(ConfigError, match=r"\S*runs/smoke/stage1 appeared in \S*runs/smoke while the archive was unpacked.*nothing was changed"):
        unpack_run(arc, _at(tmp_path / 'B'))
    assert (tmp_path / 'B' / 'runs' / 'smoke' / 'stage1' / 'training.log').read_text() == 'started meanwhile'
    assert sorted(p.name for p in (tmp_path / 'B' / 'runs' / 'smoke').iterdir()) == ['stage1'] and not (tmp_path / 'B' / 'data' / 'smoke').exists()
    _fake_run(tmp_path / 'C', names=('asr',)); meanwhile(tmp_path / 'C', lock=True)
    before = _tree(tmp_path / 'C')
    with pytest.raises(ConfigError, match=r"a training started in \S*C/runs/smoke while the archive was unpacked.*let it finish"):
        unpack_run(arc, _at(tmp_path / 'C'), overwrite=True)                # --overwrite too: its folder is not swapped away
    assert {k: v for k, v in _tree(tmp_path / 'C').items() if not k.endswith('.lock')} == {
        **before, 'runs/smoke/stage1': None, 'runs/smoke/stage1/training.log': b'started meanwhile'}   # its run goes on there
    held[0].__exit__(None, None, None); monkeypatch.undo()
    (tmp_path / 'D' / 'runs').mkdir(parents=True)
    with open(tmp_path / 'D' / 'runs' / '.smoke.unpack.lock', 'a') as other:  # another unpack into D, running now
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError, match=r"\.smoke\.unpack\.lock is held: another unpack into \S*D/runs is running now"):
            unpack_run(arc, _at(tmp_path / 'D'))
    assert not (tmp_path / 'D' / 'data').exists()
    assert unpack_run(arc, _at(tmp_path / 'D')) == ['data', 'asr', 'text_llm'] and not list((tmp_path / 'D').rglob('*.unpack.lock'))


def test_a_rollback_that_cannot_take_the_new_folder_out_keeps_the_old_one(tmp_path, monkeypatch):
    "The check after the swap fails and the new runs cannot be moved out again: the old runs, set aside, are kept and named, and the next unpack leaves them be."
    import errno, os
    from emotion_omni_lite import course
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    t = _fake_run(tmp_path / 'B', names=('asr',)); (Path(t.run_path) / 'my_study').mkdir(); (Path(t.run_path) / 'my_study' / 'n.txt').write_text('mine')
    real, real_state = os.replace, course.stage_state
    def fails(src, dst):
        if Path(dst).name == 'runs' and Path(src) == Path(t.run_path): raise OSError(errno.EIO, 'I/O error', str(src))
        return real(src, dst)
    monkeypatch.setattr(os, 'replace', fails)
    monkeypatch.setattr(course, 'stage_state', lambda n, cfg, s: 'damaged' if n == 'text_llm' else real_state(n, cfg, s))
    with pytest.raises(ConfigError, match=r"could not be put back: they are kept whole in (\S+replaced); move them back to \S*runs/smoke") as e:
        unpack_run(arc, t, overwrite=True)
    monkeypatch.undo()
    kept = Path(re.search(r'kept whole in (\S+replaced);', str(e.value))[1])
    assert (kept / 'my_study' / 'n.txt').read_text() == 'mine'
    with pytest.raises(ConfigError, match=rf"{re.escape(str(kept))} is \S+ as it was before an unpack that was stopped: move it back"):
        unpack_run(arc, t, overwrite=True)                                  # the new runs are there: still not deleted
    assert (kept / 'my_study' / 'n.txt').read_text() == 'mine'


def test_only_the_folders_an_archive_replaces_and_their_visible_files_count(tmp_path):
    "A data-only archive beside runs of one's own, and a runs folder holding only old stage locks: both unpack without --overwrite."
    s = _fake_run(tmp_path / 'A', names=()); arc = pack_run(tmp_path / 'data.tar', settings=s)
    t = _at(tmp_path / 'B'); (Path(t.run_path) / 'stage1').mkdir(parents=True); (Path(t.run_path) / 'stage1' / 'x').write_text('mine')
    assert unpack_run(arc, t) == ['data'] and (Path(t.run_path) / 'stage1' / 'x').read_text() == 'mine'
    s = _fake_run(tmp_path / 'C'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    t = _at(tmp_path / 'D'); Path(t.run_path).mkdir(parents=True); (Path(t.run_path) / '.asr.lock').write_text('')
    assert unpack_run(arc, t) == ['data', 'asr', 'text_llm']


def test_a_kit_with_local_changes_or_no_commit_is_not_called_the_same(tmp_path, monkeypatch):
    from emotion_omni_lite import course
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    ini = tmp_path / 'mine.ini'; ini.write_text("[emotion_omni_lite]\npreset = smoke\n[emotion_omni_lite.smoke]\nllm.num_layers = 2\n")
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    for kit, said in (({'version': '1.0', 'commit': 'a' * 40, 'local_changes': True}, 'its code may differ too'),
                      ({'version': '1.0', 'commit': None}, 'its code may differ too'),
                      ({'version': '1.0', 'commit': 'a' * 40, 'local_changes': False}, 'the same kit, so a setting differs')):
        monkeypatch.setattr(course, '_kit', lambda: kit)
        same = _repack(arc, tmp_path / 'k.tar', lambda m: {**m, 'kit': kit})
        with pytest.raises(ConfigError, match=said) as e: unpack_run(same, _at(tmp_path / 'B'))
        assert ('the same kit' in str(e.value)) == (said.startswith('the same kit'))


def test_a_looping_link_a_header_end_without_its_start_and_json_that_is_no_notebook_are_named(tmp_path):
    import os
    from emotion_omni_lite.course import HEADER_END
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    (tmp_path / 'B' / 'runs').mkdir(parents=True); os.symlink(tmp_path / 'B' / 'runs' / 'smoke', tmp_path / 'B' / 'runs' / 'smoke')
    with pytest.raises(ConfigError, match=r"runs/smoke is a symbolic link that leads back to itself \(a loop\): delete it"):
        unpack_run(arc, _at(tmp_path / 'B'))
    root = _toy_root(tmp_path / 'repo')
    p = root / 'nbs' / '02_audio.ipynb'; nb = json.loads(p.read_text())
    nb['cells'][0]['source'] = [''.join(nb['cells'][0]['source']).replace(HEADER_START, '')]; p.write_text(json.dumps(nb))
    with pytest.raises(ConfigError, match=r"02_audio\.ipynb: its first cell has the course header's end .* but not its start"):
        sync_headers(root, check=True)
    p.write_text('{"nbformat": 4}')
    with pytest.raises(ConfigError, match=r"02_audio\.ipynb is JSON but not a notebook .*restore it"): sync_headers(root, check=True)


def test_a_damaged_notebook_stops_the_course_before_any_notebook_runs(tmp_path, monkeypatch):
    "Not JSON, a cell whose source is neither text nor lines, or JSON nbformat does not validate: named with `eol headers`'s advice before the first notebook runs or a file is written."
    course = _fake_pages(monkeypatch)
    def never(*a, **k): raise AssertionError('a notebook ran')
    monkeypatch.setattr(course, 'execute_notebook', never)
    root = _toy_root(tmp_path / 'r')                                   # 02_audio runs first, 10_adapter is damaged
    p, s = root / 'nbs' / '10_adapter.ipynb', _at(tmp_path)
    good = json.loads(p.read_text())
    no_outputs = {**good, 'cells': [{k: v for k, v in c.items() if k != 'outputs'} for c in good['cells']]}
    bad_source = {**good, 'cells': [good['cells'][0], {**good['cells'][1], 'source': 5}, *good['cells'][2:]]}
    for text, said in (('{"cells": [', r"is not a notebook's JSON \(JSONDecodeError"),
                       (json.dumps(bad_source), rf"the source of cell 1 \(id {good['cells'][1]['id']}\) is neither text nor a list of lines: "
                                                r"make it one of them, or restore it"),
                       (json.dumps(no_outputs), r"is not a valid notebook \(.*'outputs'.*\): restore it")):
        p.write_text(text)
        with pytest.raises(ConfigError, match=r"10_adapter\.ipynb:? " + said + r".*\(git checkout nbs/10_adapter\.ipynb\)"):
            course.render_course(out=tmp_path / 'out', root=root, settings=s)
        assert not (tmp_path / 'out').exists()
    _fake_pages(monkeypatch)                                           # one not asked for is not read
    course.render_course(out=tmp_path / 'out', only=['02_audio'], root=root, settings=s)
    assert (tmp_path / 'out' / '02_audio.html').exists()


def test_the_handout_table_between_one_start_and_one_end_and_a_cell_source_that_is_no_text_are_named(tmp_path):
    "Markers swapped or doubled would write the lesson table twice: refused, naming both, nothing written; a cell's source that is neither text nor lines names the notebook and the cell."
    from emotion_omni_lite.course import TABLE_END, TABLE_START
    root = _toy_root(tmp_path, handout=True)
    h, p = root / 'nbs' / 'handout.md', root / 'nbs' / '10_adapter.ipynb'
    text = h.read_text()
    swapped = text.replace(TABLE_START, '\0').replace(TABLE_END, TABLE_START).replace('\0', TABLE_END)
    for bad, said in ((swapped, 'the end above the start'), (text + f'\n{TABLE_START}\n', '2 of the first and 1 of the second'),
                      (text.replace(TABLE_END, TABLE_END * 2), '1 of the first and 2 of the second')):
        h.write_text(bad); before = _tree(root)
        with pytest.raises(ConfigError, match=rf"handout\.md: its lesson table must sit between one {re.escape(TABLE_START)} and one "
                                              rf"{re.escape(TABLE_END)} below it, and it has {said}: keep one of each"):
            sync_headers(root)
        assert _tree(root) == before                                     # the notebooks' drift not written either
    h.write_text(text); sync_headers(root)
    nb = json.loads(p.read_text())
    for src in (5, ['# a title\n', 7]):
        nb['cells'][0]['source'] = src; p.write_text(json.dumps(nb))
        with pytest.raises(ConfigError, match=rf"10_adapter\.ipynb: the source of cell 0 \(id {nb['cells'][0]['id']}\) is neither text "
                                              r"nor a list of lines: make it one of them, or restore it \(git checkout nbs/10_adapter\.ipynb\)"):
            sync_headers(root, check=True)


def test_the_index_gives_a_lessons_whole_description_and_what_a_notebook_made_while_it_ran(tmp_path, monkeypatch):
    "A description quoted over several '>' lines is given whole; a run trained (its metrics.json written) while a notebook ran is named under its time."
    import nbformat
    from emotion_omni_lite.course import _title
    assert _title({'cells': [{'cell_type': 'markdown', 'source': '# T\n> one half\n> and the other.\n\nText.\n> a later quote'}]}) \
        == ('T', 'one half and the other.')
    assert all(_title(json.loads(p.read_text()))[1].endswith('.') for p in notebooks(ROOT))   # 06, 07, 08, 90a span two lines
    course, s = _fake_pages(monkeypatch), _at(tmp_path)
    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# A lesson\n> what it does,\n> over two lines.')])
    def run(p, settings, **kw):                                         # 02_audio trains the ASR meanwhile, 10_adapter nothing
        if p.stem == '02_audio':
            (Path(settings.run_path) / 'asr').mkdir(parents=True); (Path(settings.run_path) / 'asr' / 'metrics.json').write_text('{}')
        return nbformat.from_dict(json.loads(json.dumps(page))), 70.0, []
    monkeypatch.setattr(course, 'execute_notebook', run)
    out = course.render_course(out=tmp_path / 'course', only=['02_audio', '10_adapter'], root=ROOT, settings=s)
    made = {k: v['made'] for k, v in json.loads((out / 'timings.json').read_text())['notebooks'].items()}
    index = (out / 'index.html').read_text()
    assert made == {'02_audio': ['asr'], '10_adapter': []} and index.count('what it does, over two lines.') == 2
    assert '<td>70 s<br><small>making asr</small></td>' in index and index.count('making') == 1
    assert 'including what is named under it: a run it trained' in index


def test_readme_course_table_agrees_with_the_course_table_and_the_stage_table():
    "README's course table repeats nbs/course.json (the notebooks, their minutes), each notebook's module and the stage table's minutes: it cannot drift."
    from emotion_omni_lite.course import _minutes
    section = (ROOT / 'README.md').read_text().split('\n## The course\n', 1)[1].split('\n## ', 1)[0]
    rows = [[c.strip() for c in l.strip().strip('|').split('|')] for l in section.splitlines() if l.startswith('| `')]
    table = course_table(ROOT)
    assert [r[0].strip('`') for r in rows] == list(table) == [p.stem for p in notebooks(ROOT)] and {len(r) for r in rows} == {5}
    for (stem, _, exports, stage, mins) in ([r[0].strip('`'), *r[1:]] for r in rows):
        src = '\n'.join(''.join(c['source']) for c in json.loads((ROOT / 'nbs' / f'{stem}.ipynb').read_text())['cells'])
        assert exports == '`%s`' % re.search(r'#\| default_exp (\S+)', src)[1], stem
        assert mins == _minutes(table[stem]['minutes'].get('lite')), stem
        own = [n for n, st in STAGES.items() if st.notebook == stem]
        own = [n for n in own if not STAGES[n].switch] or own            # a study's notebook (08): its studies
        want = ([round(sum(STAGES[n].lite_minutes for n in own), 1), *([STAGES[n].lite_minutes for n in own] if len(own) > 1 else [])]
                if own else [table[stem]['first']['minutes']] if table[stem].get('first') else [])
        assert [float(x) for x in re.findall(r'\d+\.\d+', stage)] == want and (stage == '—') == (not want), (stem, stage, want)


def test_a_pack_leaves_out_feature_caches_no_current_run_reads_and_says_how_many(tmp_path, capsys):
    "Each retrain of an encoder or of stage 1 leaves its feature caches behind (130 MB a set on lite): a pack takes the ones the current runs read, with their shards and stage 2's replies in another emotion, and names how many it left."
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.stage1 import _features_name
    from emotion_omni_lite.stage2 import _cache_name
    s = _fake_run(tmp_path / 'A'); cfg, runs = get_config('smoke'), Path(s.run_path)
    one, two = Path(_features_name(cfg, s)).stem, _cache_name(cfg, s)
    now = [f'stage1_features/{one}.pt', f'stage1_features/{one}.00000.pt', f'stage2_features/{two}.pt',
           f'stage2_features/{two}.00000.pt', f'stage2_features/cross_{two}_0badcafe.pt']
    old = [f'stage1_features/v2_{"0" * 12}_{"1" * 12}.pt', f'stage1_features/v2_{"0" * 12}_{"1" * 12}.00000.pt',
           'stage2_features/0123456789ab.pt', 'stage2_features/cross_0123456789ab_0badcafe.pt']
    for n in now + old: (runs / n).parent.mkdir(exist_ok=True); (runs / n).write_bytes(b'c' * 500_000)
    files = read_pack(pack_run(tmp_path / 'lab.tar', settings=s))['files']
    assert {f'runs/{n}' for n in now} <= set(files) and not {f'runs/{n}' for n in old} & set(files)
    said = capsys.readouterr().out
    assert re.search(r"\[pack\] left out 3 older feature caches \(2 MB in stage1_features, stage2_features under \S+runs/smoke\) "
                     r"that no current run reads: .*delete them to free the disk", said), said
    assert all((runs / n).exists() for n in old)                        # left out, not deleted


def test_a_pack_holds_the_stage_locks_and_refuses_while_a_training_writes(tmp_path, monkeypatch):
    "A run copied while it trains would be packed half-written, its checksums of one moment and its bytes of another: a lock held is refused, and the pack holds every stage's lock (one it had to make too) while it writes."
    import fcntl
    from emotion_omni_lite import course
    from emotion_omni_lite.stages import StageLock
    s = _fake_run(tmp_path / 'A'); runs = Path(s.run_path)
    assert not (runs / '.text_llm.lock').exists()                       # never trained here: no lock file yet
    with StageLock(runs / 'asr'):
        with pytest.raises(ConfigError, match=r"\.asr\.lock is held: a process is writing \S*asr now .*and a pack would copy it "
                                              r"half-written: let it finish or stop it, then pack again; nothing was written$"):
            pack_run(tmp_path / 'lab.tar', settings=s)
    assert not (tmp_path / 'lab.tar').exists() and not list(tmp_path.glob('.lab.tar*'))
    held, real = {}, course._sha
    def sha(p):                                                         # while the pack reads: may a training take its lock?
        for n in ('asr', 'text_llm'):
            with open(runs / f'.{n}.lock', 'rb') as f:
                try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); held[n] = False
                except BlockingIOError: held[n] = True
        return real(p)
    monkeypatch.setattr(course, '_sha', sha)
    pack_run(tmp_path / 'lab.tar', settings=s)
    assert held == {'asr': True, 'text_llm': True}
    with open(runs / '.asr.lock', 'rb') as f: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)   # free again once packed


def test_a_damaged_member_says_copy_or_pack_again(tmp_path):
    "A checksum that does not match comes from a copy damaged on the way, or from a pack whose file changed while it was read: both fixes are named."
    s = _fake_run(tmp_path / 'A'); arc = pack_run(tmp_path / 'lab.tar', settings=s)
    bad = tmp_path / 'bad.tar'
    import io
    with tarfile.open(arc) as a, tarfile.open(bad, 'w') as b:
        for m in a.getmembers():
            data = a.extractfile(m).read()
            if m.name.endswith('asr/model.safetensors'): data = b'x' * len(data)   # the same size, other bytes
            b.addfile(m, io.BytesIO(data))
    with pytest.raises(ConfigError, match=r"asr/model\.safetensors is missing or damaged \(its checksum does not match\): copy the "
                                          r"archive again, or pack it again$"):
        unpack_run(bad, _at(tmp_path / 'B'))
    assert not (tmp_path / 'B').exists()


def test_a_preset_and_settings_of_another_preset_are_refused(tmp_path):
    "`pack_run(…, preset, settings)` and `render_course(preset, settings=…)` used the settings and dropped the preset without a word: refused when they differ, nothing written."
    from emotion_omni_lite.course import render_course
    s = _fake_run(tmp_path / 'A'); before = _tree(tmp_path)
    with pytest.raises(ConfigError, match=r"^pack_run was given preset 'lite' and settings of preset 'smoke': pass one of them"):
        pack_run(tmp_path / 'lab.tar', 'lite', settings=s)
    with pytest.raises(ConfigError, match=r"^render_course was given preset 'lite' and settings of preset 'smoke': pass one of them"):
        render_course('lite', out=tmp_path / 'course', root=ROOT, settings=s)
    assert _tree(tmp_path) == before
    assert read_pack(pack_run(tmp_path / 'lab.tar', 'smoke', settings=s))['preset'] == 'smoke'   # the same preset: as before


def test_record_gives_the_kernels_the_threads_it_checked(tmp_path, monkeypatch):
    "A kernel takes torch's threads from OMP_NUM_THREADS, not from the process that starts it: --record hands it the count it checked (torch.set_num_threads(2) in a notebook that calls render_course would time the kernels on every core)."
    import nbformat, torch
    from emotion_omni_lite.course import _kernel_env
    course = _fake_pages(monkeypatch)
    asked = []
    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# A lesson\n> what it does')])
    monkeypatch.setattr(course, 'execute_notebook', lambda p, s, **kw: (asked.append(kw.get('threads')), page, 1.0, [])[1:])
    root = _toy_root(tmp_path / 'r', keep=('02_audio',))
    s = _at(tmp_path)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(3); course.render_course(out=tmp_path / 'out', root=root, settings=s, record=True)
    finally: torch.set_num_threads(threads)
    course.render_course(out=tmp_path / 'out', root=root, settings=s)
    assert asked == [3, None]                                           # recording: pinned; rendering alone: the kernel's own
    monkeypatch.setenv('OMP_NUM_THREADS', '7')
    assert _kernel_env(s)['OMP_NUM_THREADS'] == '7'
    assert {k: _kernel_env(s, 2)[k] for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')} == {'OMP_NUM_THREADS': '2', 'MKL_NUM_THREADS': '2'}
    monkeypatch.undo()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os; print(os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])")]), str(tmp_path / 'n.ipynb'))
    run = ("import json; from pathlib import Path; from emotion_omni_lite.config import get_settings; "   # a process of its own:
           "from emotion_omni_lite.course import execute_notebook; "                                   # no event loop or kernel
           f"nb, _, errors = execute_notebook(Path({str(tmp_path / 'n.ipynb')!r}), get_settings(preset='smoke', "   # of an
           f"data_dir={str(s.data_dir)!r}, out_dir={str(s.out_dir)!r}, device='cpu'), timeout=60, threads=2); "  # earlier test
           "print(json.dumps([errors, nb.cells[0].outputs[0].text.strip()]))")                              # in its way
    r = subprocess.run([sys.executable, '-c', run], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    errors, said = json.loads(r.stdout.strip().splitlines()[-1])
    assert not errors and said == '2 2'                                # what a real kernel is given


def test_old_timings_stay_only_under_the_same_device_and_environment(tmp_path, monkeypatch, capsys):
    "timings.json stamps the environment once for all its rows: a row timed on another machine, device or torch build is left out, named, not shown beside today's seconds under today's stamp (a record from before devices were noted is judged by the rest)."
    from emotion_omni_lite.train import environment
    course = _fake_pages(monkeypatch)
    s, out, good = _at(tmp_path), tmp_path / 'course', {'title': 'T', 'what': 'W', 'seconds': 2.0, 'errors': []}
    here = {'preset': 'smoke', 'device': 'cpu', 'environment': environment()}
    out.mkdir()
    for stamp, kept in ((here, True), ({**here, 'environment': {**here['environment'], 'cpu_model': 'another CPU'}}, False),
                        ({**here, 'device': 'cuda'}, False), ({'preset': 'smoke', 'environment': here['environment']}, True)):
        (out / 'timings.json').write_text(json.dumps({**stamp, 'notebooks': {'01_train': good}}))
        course.render_course(out=out, only=['02_audio'], root=ROOT, settings=s)
        rec = json.loads((out / 'timings.json').read_text())
        assert sorted(rec['notebooks']) == (['01_train', '02_audio'] if kept else ['02_audio']), stamp
        assert {k: rec[k] for k in here} == here
        said = capsys.readouterr().out
        assert kept or 'left out 01_train (timed under another preset, device or environment, or damaged)' in said, said


def _readme_root(tmp_path: Path, keep=('02_audio', '10_adapter')) -> Path:
    "A toy checkout with README's course section holding these notebooks' rows, as the real one holds them."
    root = _toy_root(tmp_path, keep=keep, handout=True)
    section = (ROOT / 'README.md').read_text().split('\n## The course\n', 1)[1].split('\n## ', 1)[0]
    rows = [l for l in section.splitlines() if l.startswith('| `') and l.split('|')[1].strip().strip('`') in keep]
    (root / 'README.md').write_text('# Kit\n\n## The course\n\nText.\n\n| notebook | what | exports | stage | runs present |\n'
                                    '|---|---|---|---|---|\n' + '\n'.join(rows) + '\n\n## Next\n\nMore.\n')
    return root


def test_headers_keep_readmes_course_table_in_step_and_in_the_notebooks_order(tmp_path):
    "`eol headers` fills README's minutes column from nbs/course.json (named among what drifted), refuses a table whose rows are not the notebooks', in order, before anything is written, and writes every table in the notebooks' order whatever the file's."
    root = _readme_root(tmp_path)
    assert 'README.md' not in sync_headers(root) and sync_headers(root, check=True) == []   # its rows as course.json says
    t = json.loads((root / 'nbs' / 'course.json').read_text()); t['notebooks']['10_adapter']['minutes']['lite'] = 2.5
    (root / 'nbs' / 'course.json').write_text(json.dumps(t))
    readme = (root / 'README.md').read_text()
    assert sync_headers(root, check=True) == ['10_adapter', 'handout.md', 'README.md'] and (root / 'README.md').read_text() == readme
    assert sync_headers(root) == ['10_adapter', 'handout.md', 'README.md'] and sync_headers(root, check=True) == []
    new = (root / 'README.md').read_text()
    assert '| `10_adapter` |' in new and new.split('| `10_adapter` |')[1].split('\n')[0].endswith('| 2.5 min |')
    assert new.replace('2.5 min', '3 s') == readme                      # that cell alone changed
    (root / 'README.md').write_text(new.replace(next(l for l in new.splitlines() if l.startswith('| `02_audio`')) + '\n', ''))
    t['notebooks']['10_adapter']['minutes']['lite'] = 1.0; (root / 'nbs' / 'course.json').write_text(json.dumps(t))
    before = _tree(root)
    with pytest.raises(ConfigError, match=r"README\.md: its course table \(under '## The course'\) must have one row per notebook, "
                                          r"in the notebooks' order, and it does not \(no row for 02_audio\): add, remove or move"):
        sync_headers(root)
    assert _tree(root) == before                                         # not a notebook or the handout written either
    root2 = _readme_root(tmp_path / 'b')                                 # course.json in another order than the notebooks
    t = json.loads((root2 / 'nbs' / 'course.json').read_text())
    (root2 / 'nbs' / 'course.json').write_text(json.dumps({'notebooks': dict(reversed(t['notebooks'].items()))}))
    sync_headers(root2)
    hand = (root2 / 'nbs' / 'handout.md').read_text()
    assert hand.index('| `02_audio` |') < hand.index('| `10_adapter` |') and sync_headers(root2, check=True) == []
