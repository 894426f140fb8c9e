"""A real-browser test of the widgets notebook: JupyterLab on 127.0.0.1, headless Debian chromium driven by playwright.

It copies nbs/17_widgets.ipynb into a temporary folder (so autosave never touches the repo), starts JupyterLab there
with `--expose-app-in-browser`, runs all cells through `window.jupyterapp.commands`, moves the pitch slider with the
keyboard, checks that the emotion bar chart changed, refuses a bad upload, records 2.5 s from Chromium's fake
microphone (a generated wav file) through the panel's record button, checks the panel heard it and that no widget
callback failed in the kernel (the page listens to the kernel's messages: such an error never shows in a cell), and
saves a screenshot (path printed; EOL_SCREENSHOT_DIR picks the folder, default runs/screenshots). Skipped, with the reason, when Chromium ($EOL_CHROMIUM, else /usr/bin/chromium) or playwright is missing.
Run alone: `HF_HUB_OFFLINE=1 .venv/bin/python -m pytest tests/test_browser.py -x -q -s`.
"""
import json, os, re, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

from conftest import CHROMIUM                                   # $EOL_CHROMIUM, else /usr/bin/chromium
from emotion_omni_lite.config import get_config
from emotion_omni_lite.dataset import hearing_seconds

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = Path(os.environ.get('EOL_BROWSER_NOTEBOOK', REPO / 'nbs' / '17_widgets.ipynb'))
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run']
BUDGET_S = float(os.environ.get('EOL_BROWSER_BUDGET_S', 420))  # running the notebook (it may train the smoke stages)
STEP_MS = 60_000                                                 # each interaction after that

sync_api = pytest.importorskip('playwright.sync_api', reason='pip package playwright is not installed (pip install -e ".[dev]")')
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f'{CHROMIUM} is missing: install it with `apt-get install -y chromium` '
                                '(.ci/run does this when it runs as root); playwright is used with this system browser only')

# Read the emotion chart of the notebook's last probe panel (the one wired to the trained kit): the plotly graph div
# inside the box the panel marks `eol-emotion-bars`.
READ_BARS = """() => { const gs = document.querySelectorAll('.eol-probe-panel .eol-emotion-bars .js-plotly-plot');
  const g = gs[gs.length - 1]; return g && g.data && g.data.length ? Array.from(g.data[0].y) : null; }"""
ERRORS = "() => Array.from(document.querySelectorAll('[data-mime-type=\"application/vnd.jupyter.error\"]')).map(e => e.innerText.slice(0, 800))"


# A widget callback's error (an observer, a click, a message from the page) is never a cell's output: the kernel sends
# it on its iopub channel with the comm message as parent, and JupyterLab files it in its log console. The page listens
# from before the cells run (views send messages as they render) and keeps what no cell's run caused (ERRORS has those).
LISTEN = r"""() => { window.eolKernelErrors = [];
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  k.iopubMessage.connect((_, m) => { const t = m.header.msg_type, c = m.content;
    if (m.parent_header && m.parent_header.msg_type === 'execute_request') return;
    if (t === 'error') window.eolKernelErrors.push(c.ename + ': ' + c.evalue + '\n' +
                                                   (c.traceback || []).join('\n').replace(/\x1b\[[0-9;]*m/g, '').slice(-6000));
    else if (t === 'stream' && c.name === 'stderr' && /Traceback|Error:/.test(c.text)) window.eolKernelErrors.push(c.text.slice(0, 800)); }); }"""
KERNEL_ERRORS = "() => window.eolKernelErrors"


# JupyterLab settings for a quiet test: no news pop-up over the page
QUIET = {'@jupyterlab/apputils-extension/notification.jupyterlab-settings': {'fetchNews': 'false', 'checkForUpdates': False}}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def wait_http(url, proc, timeout, log):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f'JupyterLab exited with code {proc.returncode}:\n' + Path(log).read_text()[-2000:])
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except Exception: time.sleep(0.5)
    raise TimeoutError(f'JupyterLab did not answer at {url} within {timeout} s')


@pytest.fixture(scope='module')
def lab(tmp_path_factory, smoke_settings):
    "A JupyterLab server on 127.0.0.1 serving a copy of the widgets notebook; kernels run the smoke preset."
    root = tmp_path_factory.mktemp('lab')
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    for name, value in QUIET.items():
        f = root / '.jupyter' / 'lab' / 'user-settings' / name; f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    port, token = free_port(), 'eol-browser-test'
    env = dict(os.environ, EOL_PRESET='smoke', EOL_DATA_DIR=str(smoke_settings.data_dir), EOL_OUT_DIR=str(smoke_settings.out_dir),
               EOL_DEVICE='cpu', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', OMP_NUM_THREADS='1',
               JUPYTER_CONFIG_DIR=str(root / '.jupyter'), IPYTHONDIR=str(root / '.ipython'),
               JUPYTER_RUNTIME_DIR=str(root / '.runtime'))
    jupyter = Path(sys.executable).with_name('jupyter-lab')
    cmd = [str(jupyter), '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}', '--ServerApp.port_retries=0',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', '--expose-app-in-browser',
           '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
           f'--LabApp.workspaces_dir={root / ".workspaces"}', '--LabApp.extension_manager=readonly']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')  # containers and CI often run as root
    log = open(root / 'jupyterlab.log', 'w')
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f'http://127.0.0.1:{port}/api/status?token={token}', proc, 90, root / 'jupyterlab.log')
        yield dict(url=f'http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}', root=root, log=root / 'jupyterlab.log')
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


def screenshot_dir():
    d = Path(os.environ.get('EOL_SCREENSHOT_DIR', REPO / 'runs' / 'screenshots'))
    d.mkdir(parents=True, exist_ok=True); return d


@pytest.fixture(scope='module')
def spoken_wav(tmp_path_factory):
    "What Chromium's fake microphone plays: a sentence spoken happy, as a 16 kHz wav file."
    from emotion_omni_lite.audio import save_wav
    from emotion_omni_lite.tts import speak
    return save_wav(tmp_path_factory.mktemp('mic') / 'spoken.wav', speak('I just got the results back.', 'en-us+f2', 'happy'))


def test_widgets_notebook_in_jupyterlab(lab, spoken_wav):
    t0 = time.time()
    left = lambda: max(1.0, BUDGET_S - (time.time() - t0)) * 1000  # ms left of the budget
    shot = screenshot_dir() / 'widgets_probe_panel.png'
    with sync_api.sync_playwright() as p:
        mic = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',   # a microphone that plays a file
               f'--use-file-for-fake-audio-capture={spoken_wav}']
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + mic)
        page = None
        try:
            page = browser.new_page(viewport={'width': 1400, 'height': 1000})
            page.goto(lab['url'], timeout=left())
            page.wait_for_function('() => window.jupyterapp && window.jupyterapp.shell && window.jupyterapp.shell.currentWidget'
                                   ' && window.jupyterapp.shell.currentWidget.sessionContext'
                                   ' && window.jupyterapp.shell.currentWidget.sessionContext.session'
                                   ' && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel'
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                                   timeout=left())
            page.set_default_timeout(STEP_MS)
            page.evaluate(LISTEN)                                        # a kernel error not of a cell's run is a widget's
            page.evaluate("() => { window.eolRan = false; window.jupyterapp.commands.execute('notebook:run-all-cells')"
                          ".then(() => { window.eolRan = true; }); }")
            page.wait_for_function('() => window.eolRan === true', timeout=left(), polling=500)  # every cell has run
            errors = page.evaluate(ERRORS)
            assert not errors, f'cells failed in the browser: {errors}'
            n_panels = sum('ProbePanel(' in ''.join(c['source']) for c in json.loads(NOTEBOOK.read_text())['cells']
                           if c['cell_type'] == 'code')
            assert n_panels >= 1, f'no ProbePanel( cell in {NOTEBOOK}: the wait below would pass with no panel'
            page.wait_for_function(f'() => document.querySelectorAll(".eol-probe-panel").length >= {n_panels}', timeout=left())
            # the panel is live once its emotion chart has bars
            page.wait_for_function(f'() => {{ const r = ({READ_BARS})(); return !!(r && r.length); }}', timeout=left(), polling=500)
            before = page.evaluate(READ_BARS)
            panel = page.locator('.eol-probe-panel').last
            handle = panel.locator('.eol-pitch .noUi-handle')
            handle.scroll_into_view_if_needed(timeout=STEP_MS)
            handle.focus()
            for _ in range(6): page.keyboard.press('ArrowLeft')          # pitch down by 3 semitones, in 0.5 st steps
            page.wait_for_function(f'(b) => {{ const r = ({READ_BARS})(); return r && JSON.stringify(r) !== JSON.stringify(b); }}',
                                   arg=before, timeout=STEP_MS, polling=250)
            after = page.evaluate(READ_BARS)
            # a bad upload through the real file input: a message in the panel, no traceback
            with page.expect_file_chooser(timeout=STEP_MS) as chooser:
                panel.locator('.widget-upload').click(timeout=STEP_MS)
            chooser.value.set_files(files=[{'name': 'notes.txt', 'mimeType': 'text/plain', 'buffer': b'this is not audio'}])
            panel.get_by_text('cannot be decoded').wait_for(timeout=STEP_MS)   # the reason, next to the upload button
            assert not page.evaluate(ERRORS)
            assert not page.evaluate(KERNEL_ERRORS), 'a widget callback failed in the kernel:\n' + '\n\n'.join(page.evaluate(KERNEL_ERRORS))
            # the record button: the browser's (fake) microphone → the kernel, through the upload's checks → the chart
            record = panel.locator('.eol-mic-button')
            record.click(timeout=STEP_MS)
            panel.get_by_text('recording…').wait_for(timeout=STEP_MS)
            page.wait_for_timeout(2500)                                   # speak for 2.5 s
            record.click(timeout=STEP_MS)
            panel.get_by_text('using microphone.wav').wait_for(timeout=STEP_MS)
            sent = panel.locator('.eol-mic-status').inner_text()           # e.g. ' sent 2.5 s (80 kB at 16 kHz)': resampled in the page
            m = re.search(r'sent ([0-9.]+) s \(([0-9]+) kB at 16 kHz\)', sent)
            assert m and abs(int(m[2]) - 32 * float(m[1])) <= 2, f'the recorder sent {sent!r}: not 16-bit mono at 16 kHz'
            most = hearing_seconds(get_config('smoke'))                   # the kit panel's clip limit (its max_seconds)
            assert 2.0 <= float(m[1]) <= most + 0.05, f'{sent!r} for the 2.5 s recorded'
            page.wait_for_function(f'(b) => {{ const r = ({READ_BARS})(); return r && JSON.stringify(r) !== JSON.stringify(b); }}',
                                   arg=after, timeout=STEP_MS, polling=250)
            heard = page.evaluate(READ_BARS)
            assert not page.evaluate(ERRORS)
            assert not page.evaluate(KERNEL_ERRORS), 'a widget callback failed in the kernel:\n' + '\n\n'.join(page.evaluate(KERNEL_ERRORS))
            page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
            page.wait_for_timeout(1000)                                   # let plotly finish its transition
            panel.scroll_into_view_if_needed(timeout=STEP_MS)
            panel.screenshot(path=str(shot))
        except Exception:
            try: page and page.screenshot(path=str(shot.with_name('widgets_probe_panel_failed.png')))
            except Exception: pass                                        # keep the original error
            print(Path(lab['log']).read_text()[-3000:])
            raise
        finally:
            browser.close()
    print(f'\nemotion chart before {before}\n             after  {after}\n  microphone  {heard}\nscreenshot: {shot} ({time.time() - t0:.1f} s)')
    assert before != after
    assert shot.exists() and shot.stat().st_size > 5_000
