"The house's layout: modules import only earlier notebooks' modules, at the top; one training template; loaders never train."
import ast, json, re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / 'emotion_omni_lite'


def package_imports(src: str) -> tuple:
    "The package modules `src` imports: (those at the top, those inside functions), however they are spelt."
    top, inner = set(), []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and (node.level == 1 or (node.module or '').startswith('emotion_omni_lite')):
            mod = node.module.split('.')[-1] if node.module and node.module != 'emotion_omni_lite' else None
            names = [mod] if mod else [a.name for a in node.names]
        elif isinstance(node, ast.Import):     # `import emotion_omni_lite.train (as t)` is the module train; a bare
            # `import emotion_omni_lite` reads only the package's own __file__/__version__, no notebook's module
            names = [a.name.split('.')[1] for a in node.names if a.name.startswith('emotion_omni_lite.')]
        else: continue
        (top.update if node.col_offset == 0 else inner.extend)(names)
    return top, inner


def modules() -> dict:
    "module name → (its notebook, the package modules it imports, package imports made inside functions)."
    out = {}
    for p in sorted(PKG.glob('*.py')):
        if p.name.startswith('_'): continue
        src = p.read_text()
        nb = re.search(r'File to edit: \.\./nbs/(\S+)\.ipynb', src).group(1)
        top, inner = package_imports(src)
        out[p.stem] = (nb, top - {p.stem}, inner)
    return out


def test_modules_import_only_earlier_notebooks_at_the_top():
    mods = modules()
    for name, (nb, deps, inner) in mods.items():
        later = sorted(d for d in deps if mods[d][0] > nb)
        assert not later, f"{name} ({nb}) imports {later}, taught later in the course"
        assert not inner, f"{name} imports {inner} inside a function: sibling imports belong at the top"
    caught = package_imports('import emotion_omni_lite.train\nfrom . import audio\nfrom emotion_omni_lite.tts import x\n'
                             'def f():\n    import emotion_omni_lite.stages as s\n    from .omni import y\n    import emotion_omni_lite')
    assert caught == ({'train', 'audio', 'tts'}, ['stages', 'omni']), caught


def test_no_import_cycle_and_few_layers():
    mods = modules()
    depth = {}
    def layer(m, path=()):
        assert m not in path, f"import cycle: {' → '.join(path + (m,))}"
        if m not in depth: depth[m] = 1 + max((layer(d, path + (m,)) for d in mods[m][1]), default=0)
        return depth[m]
    for m in mods: layer(m)
    print({m: depth[m] for m in sorted(mods, key=depth.get)})
    assert max(depth.values()) <= 11                      # config … stages … parts … omni … evaluate … course … cli


def train_fit_calls(source: str) -> list:
    "Calls in `source` that reach `train.fit`, however it was imported (`fit`, an alias of it, `train.fit`, the full path)."
    tree, names, mods = ast.parse(source), set(), {'emotion_omni_lite.train'}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module in ('train', 'emotion_omni_lite.train'):      # from .train import fit as f
            names |= {a.asname or a.name for a in n.names if a.name == 'fit'}
        elif isinstance(n, ast.ImportFrom) and n.module in (None, 'emotion_omni_lite'):          # from . import train as t
            mods |= {a.asname or a.name for a in n.names if a.name == 'train'}
        elif isinstance(n, ast.Import):                                                          # import emotion_omni_lite.train as t
            mods |= {a.asname for a in n.names if a.name == 'emotion_omni_lite.train' and a.asname}
    targets = names | {f'{m}.fit' for m in mods}
    return [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) in targets]


def test_the_training_template_exists_once():
    "Only `run_stage` calls `fit`: no stage writes its own folder/hash/seed/fit/save chores."
    callers = [p.stem for p in sorted(PKG.glob('*.py')) if not p.name.startswith('_') and p.stem != 'train'
               and train_fit_calls(p.read_text())]
    assert callers == ['stages'], callers
    for caught in ('from .train import fit as go\ngo(m, d)', 'from . import train\ntrain.fit(m, d)',
                   'import emotion_omni_lite.train as t\nt.fit(m, d)', 'import emotion_omni_lite.train\nemotion_omni_lite.train.fit(m, d)'):
        assert train_fit_calls(caught), caught
    assert not train_fit_calls('from sklearn.linear_model import LogisticRegression\nLogisticRegression().fit(x, y)')


def test_loaders_never_train(tmp_path, monkeypatch):
    "Every loader on an empty folder raises the kit's named error with the command, and nothing trains."
    from emotion_omni_lite import stages, train
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.stages import StageMissing
    from emotion_omni_lite.dataset import load_dialogues
    from emotion_omni_lite.semantic_encoder import load_semantic_encoder
    from emotion_omni_lite.emotion_encoder import load_emotion_encoder
    from emotion_omni_lite.text_llm import load_text_llm
    from emotion_omni_lite.stage1 import load_stage1
    from emotion_omni_lite.vocoder import build_vocoder
    from emotion_omni_lite.stage2 import load_stage2_model
    from emotion_omni_lite.omni import load_omni
    def no_training(*a, **k): raise AssertionError('a loader started training')
    monkeypatch.setattr(stages, 'fit', no_training); monkeypatch.setattr(train, 'fit', no_training)
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    cfg = get_config('smoke')
    wants = {load_dialogues: 'data', load_semantic_encoder: 'asr', load_emotion_encoder: 'emotion_encoder',
             load_text_llm: 'text_llm', load_stage1: 'stage1', build_vocoder: 'vocoder', load_stage2_model: 'stage2',
             load_omni: 'stage1'}
    for loader, stage in wants.items():
        with pytest.raises(StageMissing) as e: loader(cfg, s)
        assert f"stage '{stage}'" in str(e.value) and 'eol run --preset smoke --stages data' in str(e.value), str(e.value)
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'data').exists()   # nothing was written


def run_readers() -> set:
    "The package's run readers: `require_stage`, `build_vocoder` and every `load_*` that takes the config whose run it reads."
    return {n.name for p in PKG.glob('*.py') for n in ast.parse(p.read_text()).body
            if isinstance(n, ast.FunctionDef) and re.fullmatch(r'load_\w+|build_vocoder|require_stage', n.name)
            and 'cfg' in [a.arg for a in n.args.args]}

# notebooks that call a run reader without an ensure_stages cell near their top, each with why that is right
READS_NO_EARLIER_RUN = {
    '01a_stages': 'it asks for runs only in an empty temporary folder, to show the error that names the command',
    '05_dataset': 'it builds the data set it reads (build_dataset): the first run, with none before it',
    '16_evaluate': 'its first twenty cells define the evaluation and check it on empty temporary folders and made-up '
                   'figures; the first lesson cell that reads a run (the data) calls ensure_stages itself, and so does '
                   'the one that scores the run',
}


def test_every_notebook_that_reads_runs_says_so_near_its_top():
    "A notebook that trains or loads runs names them in an `ensure_stages` cell within its first cells (or says why not, above)."
    nbs = Path(__file__).resolve().parents[1] / 'nbs'
    reads = re.compile(r'(?<!\w)(?<!def )(%s)\(' % '|'.join(sorted(run_readers())))   # a call, not the definition
    readers = {}
    for f in sorted(nbs.glob('*.ipynb')):
        code = [(i, ''.join(c['source'])) for i, c in enumerate(json.loads(f.read_text())['cells']) if c['cell_type'] == 'code']
        if any(reads.search(src) for _, src in code): readers[f.stem] = code   # a call in an exported function counts
    assert set(READS_NO_EARLIER_RUN) <= set(readers) and len(readers) > 10, sorted(readers)   # too: the lesson calls it
    for name, code in readers.items():
        ensure = [i for i, src in code if 'ensure_stages(' in src]
        if name not in READS_NO_EARLIER_RUN:
            assert ensure and ensure[0] <= 10, f"{name}: no ensure_stages cell near its top"
            continue
        assert not (ensure and ensure[0] <= 10), f"{name} now has an ensure_stages cell near its top: drop its exemption"
        lesson = [i for i, src in code if reads.search(src) and not src.startswith('#| export')]
        assert not (ensure and lesson and lesson[0] < ensure[0]), f"{name}: cell {lesson[0]} reads a run before any ensure_stages cell"
