"The course: headers in step with nbs/course.json, packed runs that restore as current, pages that work offline."
import json, shutil, tarfile
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
