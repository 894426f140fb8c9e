"The architecture figure: well-formed, complete, pointing at lessons that exist, and the README's copy up to date."
import xml.etree.ElementTree as ET
from pathlib import Path
import pytest
from emotion_omni_lite.architecture import (FROZEN, MODEL, PARTS, STAGE_GROUPS, architecture_figure,
                                            write_architecture_svg)

ROOT = Path(__file__).resolve().parents[1]
SVG_NS = '{http://www.w3.org/2000/svg}'
REGENERATE = ("python -c \"from emotion_omni_lite.architecture import write_architecture_svg; "
              "write_architecture_svg('nbs/images/architecture.svg')\"")


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode('utf-8'))


def texts(root: ET.Element) -> list:
    return [t.text for t in root.iter(f'{SVG_NS}text')]


def test_figure_is_a_self_contained_svg_document():
    svg = architecture_figure()
    root = parse(svg)
    assert root.tag == f'{SVG_NS}svg'
    assert root.get('viewBox') and 850 <= float(root.get('width')) <= 960
    assert 'href' not in svg and '<script' not in svg and '@font-face' not in svg
    sizes = [float(t.get('font-size')) for t in root.iter(f'{SVG_NS}text')]
    assert sizes and min(sizes) >= 11


def test_every_part_stage_and_the_model_are_named():
    svg = architecture_figure()
    root = parse(svg)
    lines = texts(root)
    for p in PARTS:
        assert p.title in lines and p.detail in lines, p.key
        assert f'nbs/{p.notebook}.ipynb · emotion_omni_lite/{p.module}.py' in lines, p.key
    assert [p.key for p in PARTS][:3] == ['audio', 'semantic_encoder', 'emotion_encoder']
    assert f'EmotionOmni — {MODEL[0]} · {MODEL[1]}' in lines
    for name, keys in STAGE_GROUPS.items():
        assert name in svg and set(keys) <= {p.key for p in PARTS}
    for label in ('emotion_vec_pred', 'emotion_vec_user', 'reply text', 'speech out'):
        assert label in lines
    for g in root.iter(f'{SVG_NS}g'):   # frozen parts, and only they, carry a "frozen" note
        if (g.get('id') or '').startswith('part-'):
            noted = any('frozen' in t for t in texts(g))
            assert noted == (g.get('id')[len('part-'):] in FROZEN), g.get('id')


def test_every_lesson_named_exists():
    # every lesson the figure names, nbs/14a_omni.ipynb (MODEL) among them, must be there
    notebooks = sorted({p.notebook for p in PARTS} | {MODEL[0]})
    missing = [nb for nb in notebooks if not (ROOT / 'nbs' / f'{nb}.ipynb').exists()]
    assert not missing, f'the figure names notebooks that do not exist: {missing}'


def test_highlight_marks_exactly_one_box():
    plain = architecture_figure()
    for p in PARTS:
        marked = architecture_figure(p.key)
        assert marked != plain
        root = parse(marked)
        assert texts(root).count('you are here') == 1
        hl = [g.get('id') for g in root.iter(f'{SVG_NS}g') if 'highlight' in (g.get('class') or '').split()]
        assert hl == [f'part-{p.key}']
    assert 'you are here' not in plain


def test_unknown_highlight_names_the_known_parts():
    with pytest.raises(ValueError, match='adapter'):
        architecture_figure('encoder')


def test_figure_is_deterministic_and_writes_itself(tmp_path):
    import os, subprocess, sys
    other = subprocess.run([sys.executable, '-c', 'import sys; from emotion_omni_lite.architecture import architecture_figure; '
                            'sys.stdout.write(architecture_figure())'], env={**os.environ, 'PYTHONHASHSEED': '12345'},
                           capture_output=True, text=True, check=True).stdout
    assert other == architecture_figure()                               # another process, another hash seed: the same bytes
    path = write_architecture_svg(tmp_path / 'a' / 'b' / 'architecture.svg')
    assert path.read_bytes() == architecture_figure().encode('utf-8')


def test_readme_copy_is_current():
    path = ROOT / 'nbs' / 'images' / 'architecture.svg'
    assert path.exists(), f'{path} is missing; write it with: {REGENERATE}'
    assert path.read_bytes() == architecture_figure().encode('utf-8'), f'{path} is stale; regenerate it with: {REGENERATE}'


def test_the_figure_is_written_whole_and_only_to_an_svg_path(tmp_path, monkeypatch):
    "A write that fails midway (a full disk) leaves the copy there as it was and no temporary file; a path not ending in .svg is refused before anything is written."
    import errno
    path = tmp_path / 'architecture.svg'
    path.write_text('the copy before')
    real = Path.write_bytes
    def full_disk(self, data):
        real(self, data[:100]); raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(Path, 'write_bytes', full_disk)
    with pytest.raises(OSError, match='No space left'): write_architecture_svg(path)
    monkeypatch.undo()
    assert path.read_text() == 'the copy before' and [p.name for p in tmp_path.iterdir()] == ['architecture.svg']
    for bad in ('architecture.png', 'architecture', 'architecture.svg.txt'):
        with pytest.raises(ValueError, match=r'give a path ending in \.svg'): write_architecture_svg(tmp_path / bad)
    assert [p.name for p in tmp_path.iterdir()] == ['architecture.svg']
    assert write_architecture_svg(path).read_bytes() == architecture_figure().encode('utf-8')


def test_the_stage_outlines_and_frozen_notes_follow_the_stage_table():
    "Each outline names a row of the stage table and the notebook that row names, around the boxes of that row's config parts (AdaLN's switch is the fusion part's, fusion.adaln); the frozen boxes are the parts a checkpoint can replace, trained or loaded before stages 1 and 2. (The figure's module is taught before the table's, so it cannot import it: this test holds them together.)"
    import re
    from emotion_omni_lite.stages import STAGES
    boxes, part = {p.key for p in PARTS}, {'adaln': 'fusion'}
    rows = [re.fullmatch(r'stage (\d+) \((\w+)\)', label) for label in STAGE_GROUPS]
    assert all(rows) and [f'stage{m[1]}' for m in rows] == ['stage1', 'stage2'], list(STAGE_GROUPS)
    for m, keys in zip(rows, STAGE_GROUPS.values()):
        st = STAGES[f'stage{m[1]}']
        assert m[2] == st.notebook, (m[0], st.notebook)
        assert {part.get(k, k) for k in keys} == {p for p in st.parts if p in boxes}, st.name
    assert set(FROZEN) == {st.pretrained for st in STAGES.values() if st.pretrained}
