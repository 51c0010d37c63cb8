"""Backend dispatch for vitzoo's attention ops: one registry, one selection rule, one warning per reason.

Each public op (``window_attention``, ``decay_attention``...) has implementations registered under a
backend name: ``torch`` (the reference, always available), ``xformers`` and ``triton``.  Each
implementation comes with a ``supports(*args, **kwargs)`` check that returns ``None`` when it can run
those inputs, or the reason it cannot, and optionally an ``automatic(*args, **kwargs)`` check that returns the
reason it should not be picked by default although it can run them (it was measured slower than the next
one).  Selection:

* a forced backend (``VITZOO_ATTENTION=torch|xformers|triton`` or ``with attention_backend("triton"):``,
  the context manager winning) is used when it supports the inputs; otherwise vitzoo warns once with the
  reason and falls back along the default order;
* by default CUDA tensors try ``triton``, then ``xformers``, then ``torch``; other devices use ``torch``
  (Triton's CPU interpreter is exact but slow: force it to test kernels on CPU).  A backend whose
  ``automatic`` check declines the inputs is passed over silently (it is a speed choice, not a failure), as is
  one that has no implementation of the op at all (xformers has no rotary embedding).
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

__all__ = [
    "BACKENDS", "register", "resolve", "attention_backend", "available_backends", "forced_backend",
    "triton_device_refusal",
]

BACKENDS = ("triton", "xformers", "torch")
ENV_VAR = "VITZOO_ATTENTION"

SupportsFn = Callable[..., Optional[str]]


@dataclass(frozen=True)
class _Impl:
    fn: Callable
    supports: SupportsFn
    automatic: SupportsFn


_REGISTRY: dict[str, dict[str, _Impl]] = {}
_FORCED: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("vitzoo_attention_backend", default=None)
_WARNED: set[tuple[str, str, str]] = set()


def _check_name(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return name


def _always(*args, **kwargs) -> Optional[str]:
    return None


def register(
    op: str, backend: str, supports: SupportsFn = _always, automatic: SupportsFn = _always
) -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` as ``op``'s implementation for ``backend`` (see the module docstring)."""
    _check_name(backend)

    def decorator(fn: Callable) -> Callable:
        _REGISTRY.setdefault(op, {})[backend] = _Impl(fn, supports, automatic)
        return fn

    return decorator


def forced_backend() -> Optional[str]:
    """The backend forced by :func:`attention_backend` or ``VITZOO_ATTENTION`` (None: automatic)."""
    forced = _FORCED.get()
    if forced is None and os.environ.get(ENV_VAR):
        forced = _check_name(os.environ[ENV_VAR].strip().lower())
    return forced


@contextlib.contextmanager
def attention_backend(name: Optional[str]) -> Iterator[None]:
    """Force ``name`` (or automatic selection with None) for the ops called inside the block."""
    token = _FORCED.set(None if name is None else _check_name(name))
    try:
        yield
    finally:
        _FORCED.reset(token)


def _default_order(device_type: str) -> tuple[str, ...]:
    return BACKENDS if device_type == "cuda" else ("torch",)


def _warn_once(op: str, backend: str, reason: str) -> None:
    key = (op, backend, reason)
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(f"vitzoo {op}: the {backend} backend cannot run here ({reason}); using the next one", stacklevel=3)


def resolve(op: str, device_type: str, *args, **kwargs) -> tuple[str, Callable]:
    """(backend name, implementation) of ``op`` for these inputs."""
    impls = _REGISTRY.get(op)
    if not impls or "torch" not in impls:
        raise KeyError(f"no torch reference registered for op {op!r}")
    forced = forced_backend()
    order = _default_order(device_type)
    if forced is not None:
        order = (forced,) + tuple(b for b in order if b != forced)
        if "torch" not in order:
            order += ("torch",)
    for backend in order:
        impl = impls.get(backend)
        if impl is None:  # e.g. xformers for the rotary embedding: nothing to warn about, the op has no such path
            continue
        reason = impl.supports(*args, **kwargs)
        if reason is None and backend != forced and impl.automatic(*args, **kwargs) is not None:
            continue
        if reason is None:
            return backend, impl.fn
        _warn_once(op, backend, reason)
    raise RuntimeError(f"vitzoo {op}: no backend supports these inputs (the torch reference refused them: see above)")


def available_backends(op: str, device_type: str, *args, **kwargs) -> dict[str, Optional[str]]:
    """Backend -> None if it can run these inputs, else the reason it cannot (for reports and benchmarks)."""
    impls = _REGISTRY.get(op, {})
    return {
        b: (impls[b].supports(*args, **kwargs) if b in impls else "not implemented for this op") for b in BACKENDS
    }


def triton_device_refusal(kernels_module: str, device_type: str) -> Optional[str]:
    """Why the Triton kernels of ``vitzoo.ops.<kernels_module>`` cannot run on ``device_type``, or None: triton
    must import, and CPU tensors need Triton's interpreter switched on before the kernels were imported."""
    try:
        kernels = importlib.import_module(f"{__package__}.{kernels_module}")
    except ImportError as e:
        return f"triton does not import ({e})"
    if device_type == "cpu" and not kernels.INTERPRETED:
        interpret = os.environ.get("TRITON_INTERPRET")
        when = "after vitzoo imported its kernels" if interpret == "1" else "(it is not)"
        return f"CPU tensors run only under Triton's interpreter: TRITON_INTERPRET=1 must be set {when}"
    if device_type not in ("cpu", "cuda"):
        return f"no Triton kernels for {device_type} tensors"
    return None
