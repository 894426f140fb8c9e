"""A pretend GPU on a CPU: tensors "on cuda" are CPU tensors the mode remembers, and an operation that mixes them with
CPU tensors fails as it would on a real GPU. It lets a CPU-only test catch a tensor left behind on the CPU in a
computation that runs on the settings' device (an input not moved, a mask made without `device=`)."""
import weakref

import torch
from torch.overrides import TorchFunctionMode

FACTORIES = {torch.zeros, torch.ones, torch.full, torch.empty, torch.arange, torch.tensor, torch.as_tensor, torch.randn,
             torch.rand, torch.randint, torch.linspace, torch.eye, torch.randperm, torch.zeros_like, torch.ones_like,
             torch.full_like, torch.empty_like, torch.rand_like, torch.randn_like}
MOVES = {torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu}
INDEXING = {torch.Tensor.__getitem__}                  # a CUDA tensor may be indexed by CPU indices
ANY_DEVICE = {torch._has_compatible_shallow_copy_type, torch.Tensor.copy_}   # no arithmetic


def _flat(x):
    if isinstance(x, torch.Tensor): yield x
    elif isinstance(x, (list, tuple)):
        for v in x: yield from _flat(v)
    elif isinstance(x, dict):
        for v in x.values(): yield from _flat(v)


class DeviceMixed(RuntimeError):
    "A CPU tensor met a tensor on the (pretend) accelerator."


class FakeAccelerator(TorchFunctionMode):
    "Within it, `cuda` works on a CPU: tensors moved or made there are remembered, and mixing them with CPU tensors fails."
    def __init__(self):
        super().__init__()
        self.on, self.watched = set(), set()             # storage addresses "on the accelerator"

    def _key(self, t): return t.untyped_storage().data_ptr()
    def is_on(self, t) -> bool: return isinstance(t, torch.Tensor) and not t.is_meta and self._key(t) in self.on

    def _tag(self, t):
        if not isinstance(t, torch.Tensor) or t.is_meta: return
        s = t.untyped_storage(); k = s.data_ptr()
        if k == 0: return
        self.on.add(k)
        if k not in self.watched:                        # forget the address when the storage is freed
            self.watched.add(k); weakref.finalize(s, self._forget, k)

    def _forget(self, k): self.on.discard(k); self.watched.discard(k)

    @staticmethod
    def _cuda(dev) -> bool: return dev is not None and torch.device(dev).type == 'cuda'

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        prop = getattr(func, '__self__', None) if getattr(func, '__name__', '') in ('__get__', '__set__') else None
        if prop is torch.Tensor.device and func.__name__ == '__get__':
            return torch.device('cuda', 0) if self.is_on(args[0]) else func(*args)
        if prop is torch.Tensor.is_cuda: return self.is_on(args[0])
        if prop is not None and func.__name__ == '__set__': return func(*args, **kwargs)   # `param.data = …`: no arithmetic
        if func is torch.Tensor.numpy and self.is_on(args[0]):
            raise DeviceMixed("can't convert a cuda tensor to numpy: move it to the CPU first (.cpu())")
        if func in MOVES:
            t = args[0]
            if func is torch.Tensor.cpu: to_cuda = False
            elif func is torch.Tensor.cuda: to_cuda = True
            else:
                rest = [a for a in args[1:] if not isinstance(a, torch.Tensor)]
                other = next((a for a in args[1:] if isinstance(a, torch.Tensor)), kwargs.get('other'))
                if other is not None: dev, dtype = ('cuda' if self.is_on(other) else 'cpu'), other.dtype
                else:
                    dev = kwargs.pop('device', None)
                    dtype = kwargs.pop('dtype', None)
                    for a in rest:
                        if isinstance(a, torch.dtype): dtype = a
                        elif isinstance(a, (str, torch.device)): dev = a
                kwargs.pop('other', None)
                if dev is None: to_cuda = self.is_on(t)
                else: to_cuda = self._cuda(dev)
                out = torch.Tensor.to(t, dtype=dtype, **{k: v for k, v in kwargs.items() if k in ('non_blocking', 'copy')}) \
                    if dtype is not None else t
                if to_cuda != self.is_on(t) and out is t: out = t.clone()
                if to_cuda: self._tag(out)
                return out
            if to_cuda == self.is_on(t): return t
            out = t.clone()
            if to_cuda: self._tag(out)
            return out
        on_dev = self._cuda(kwargs.get('device'))
        if 'device' in kwargs and on_dev: kwargs['device'] = 'cpu'
        tensors = list(_flat(args)) + list(_flat(kwargs))
        ins = [t for t in tensors if self.is_on(t)]
        if ins and func not in INDEXING and func not in FACTORIES and func not in ANY_DEVICE:
            cpu = [t for t in tensors if not self.is_on(t) and t.dim() > 0 and t.numel() > 0]   # 0-d CPU tensors may meet CUDA ones (empty ones have no address to tell by)
            if cpu:
                raise DeviceMixed(f"Expected all tensors to be on the same device, but found cuda:0 and cpu in "
                                  f"{getattr(func, '__qualname__', func)} (CPU shapes {[tuple(t.shape) for t in cpu][:3]})")
        out = func(*args, **kwargs)
        if on_dev or (ins and func not in FACTORIES) or (func in FACTORIES and 'device' not in kwargs and ins):
            for t in _flat(out): self._tag(t)
        return out


_GENERATOR = torch.Generator

def fake_generator(device='cpu'):
    "torch.Generator that accepts the pretend `cuda` (its draws are made on the CPU)."
    return _GENERATOR()
