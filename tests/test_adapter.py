"Downsampling adapter: rate arithmetic, stacking, concat / interleave, the ablation without the emotion stream."
import pytest
import torch
from emotion_omni_lite.config import get_config
from emotion_omni_lite.adapter import build_adapter, sequence_lengths, stack_frames


def test_interleave_doubles_the_llm_tokens():
    # the concat rates 16 kHz → 100 → 50 → 10 Hz: checked in nbs/10_adapter.ipynb (cell 83a8475b)
    assert sequence_lengths(16000 * 4, get_config('lite', **{'adapter.mode': 'interleave'}))['llm_tokens'] == 80


def test_stack_drops_tail_and_keeps_order():
    x = torch.arange(2 * 13 * 3, dtype=torch.float).reshape(2, 13, 3)
    y, n = stack_frames(x, 5, torch.tensor([13, 4]))
    assert y.shape == (2, 2, 15) and n.tolist() == [2, 0]
    assert torch.equal(y[1, 1], x[1, 5:10].flatten())


@pytest.mark.parametrize('mode,factor', [('concat', 1), ('interleave', 2)])
def test_modes_shapes_and_lengths(mode, factor):
    cfg = get_config('smoke', **{'adapter.mode': mode})
    ad = build_adapter(cfg)
    sem, emo = torch.randn(3, 52, cfg.semantic_encoder.d_model), torch.randn(3, 52, cfg.emotion_encoder.dim)
    x, n = ad(sem, emo, torch.tensor([52, 26, 9]))
    assert x.shape == (3, 10 * factor, cfg.llm.hidden_size)
    assert n.tolist() == [10 * factor, 5 * factor, 1 * factor]
    emo2 = emo.clone(); emo2[0] += 1                     # the emotion stream matters
    assert not torch.allclose(ad(sem, emo2)[0][0], x[0])


def test_ablation_has_no_emotion_stream():
    cfg = get_config('smoke', **{'adapter.emotion_stream': False})
    ad = build_adapter(cfg)
    assert ad.emotion is None and ad.mix is None
    x, n = ad(torch.randn(1, 25, cfg.semantic_encoder.d_model), None, torch.tensor([25]))
    assert x.shape == (1, 5, cfg.llm.hidden_size) and n.tolist() == [5]


def test_full_size_on_meta():
    cfg = get_config('full')
    with torch.device('meta'):
        ad = build_adapter(cfg)
    n = sum(p.numel() for p in ad.parameters())
    # semantic 5·1280→2048→3584, emotion 5·768→2048→3584, mix 2·3584→3584
    exp = (6400 * 2048 + 2048 + 2048 * 3584 + 3584) + (3840 * 2048 + 2048 + 2048 * 3584 + 3584) + (7168 * 3584 + 3584)
    assert n == exp
