"""Exercise 90a.1: a lab from an archive. Pack the trained runs, unpack them into another folder, and ask the stage
table whether they are current there. Then change one byte of one weight file in the unpacked copy and ask again.
What does the kit do with a run whose files no longer match?

On `lite`, with the main job's runs (the wider vocoder): the archive is 743.0 MB, and after unpacking into an empty
folder all eleven stages are current there (data, the three stage-0 runs, both stage-1 runs, the vocoder, the two
cross-engine emotion encoders, both stage-2 runs): nothing would train. (The archive takes every finished run: with the
studies behind a switch trained as well, their runs and stage 1's feature caches for their encoders go in too.)
One flipped bit in the vocoder's weights makes the vocoder `damaged`: its files no longer match the checksums written
when it finished (`files.json`), so the kit neither loads nor reuses it, and names it. Stage 2 stays `done`: it never
read the vocoder's run, and a run's hash holds its upstream runs' config hashes, not their files.
"""
import tempfile
from pathlib import Path
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.course import pack_run, unpack_run
from emotion_omni_lite.stages import STAGES, job_stages, stage_state


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(job_stages(cfg), cfg, s)                          # the main job's runs: no study behind a switch
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        archive = pack_run(d / 'lab.tar', settings=s)
        there = get_settings(preset=s.preset, seed=s.seed, data_dir=str(d / 'data'), out_dir=str(d / 'runs'))
        unpack_run(archive, there)
        out = {'archive_mb': round(archive.stat().st_size / 1e6, 1),
               'current_after_unpack': sorted(n for n in STAGES if stage_state(n, cfg, there) == 'done')}
        w = there.run_path / 'vocoder' / 'model.safetensors'
        b = bytearray(w.read_bytes()); b[-1] ^= 1; w.write_bytes(bytes(b))      # one bit of one weight
        out['vocoder_after_one_bit'] = stage_state('vocoder', cfg, there)
        out['stage2_after_one_bit'] = stage_state('stage2', cfg, there)
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
