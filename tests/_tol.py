"""Tolerances for float results that are equal in exact arithmetic but computed in a different order.

Float32 round-off depends on the reduction order, and so on the batch composition, padding, chunking, process
count, thread count and on the CPU's BLAS/SIMD kernels. Its size is set by the magnitudes that went into a result,
not by the result's own elements: an element near zero computed from O(1) terms carries O(1e-7) absolute error.
So these helpers check `max |actual - expected| <= rel * scale`, with `scale` the max-abs of the reference (or a
scale the caller names, e.g. 1/τ for a loss computed from logits cos/τ). An absolute tolerance such as 1e-6 is
only a few float32 ulps of values around 10, and element-wise rtol says nothing about elements near zero.

Results that are meant to be bit-identical (same computation in the same order: resume, a saved best
checkpoint, encode run twice) are compared exactly with torch.equal / np.testing.assert_array_equal instead."""
import numpy as np


def _np(x):
    if hasattr(x, "detach"): x = x.detach().cpu().double().numpy()   # torch tensor
    return np.asarray(x, dtype=np.float64)


def max_abs(x) -> float:
    "max |x| (0 for an empty array)."
    a = _np(x)
    return float(np.abs(a).max()) if a.size else 0.0


def _worst(d):
    "(max of d, index of the max), NaN counting as the worst."
    if not d.size: return 0.0, ()
    if np.isnan(d).any(): return float("nan"), tuple(int(i) for i in np.argwhere(np.isnan(d))[0])
    i = np.unravel_index(int(np.argmax(d)), d.shape)
    return float(d[i]), tuple(int(j) for j in i)


def assert_close_rel(actual, expected, rel=1e-5, *, scale=None, floor=0.0, what="values"):
    """Assert max|actual - expected| <= rel * max(floor, scale), `scale` defaulting to max|expected|.
    Returns the max difference. The failure message gives the difference, where it is, and the scale."""
    a, e = _np(actual), _np(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    s = max(float(floor), max_abs(e) if scale is None else float(scale))
    diff, at = _worst(np.abs(a - e))
    tol = rel * s
    assert diff <= tol, (f"{what}: max |diff| {diff:.4g} at {at} (got {float(a[at]):.8g}, expected {float(e[at]):.8g})"
                         f" > tolerance {tol:.4g} = {rel:g} * scale {s:.4g}")
    return diff


def assert_all_close_rel(actual: dict, expected: dict, rel=1e-5, *, scale=None, what="tensors"):
    """`assert_close_rel` for dicts of arrays (e.g. gradients or weights by parameter name) with ONE scale for all:
    `scale` defaults to the largest max-abs over all of `expected`. One shared scale, because a tensor whose exact
    value is ~0 (e.g. the gradient of an attention key bias, which softmax makes zero) is round-off only and has no
    scale of its own. Returns the max difference; the failure message lists the worst tensors."""
    assert actual.keys() == expected.keys(), f"{what}: keys differ: {sorted(set(actual) ^ set(expected))}"
    s = max((max_abs(v) for v in expected.values()), default=0.0) if scale is None else float(scale)
    tol = rel * s
    rows = []
    for k in expected:
        a, e = _np(actual[k]), _np(expected[k])
        assert a.shape == e.shape, f"{what}[{k}]: shape {a.shape} != expected {e.shape}"
        d, at = _worst(np.abs(a - e))
        rows.append((d, k, at, max_abs(e)))
    bad = [r for r in rows if not r[0] <= tol]
    if bad:
        bad.sort(key=lambda r: -np.inf if np.isnan(r[0]) else -r[0])
        lines = "\n".join(f"  {k}: max |diff| {d:.4g} at {at} (its own max |value| {m:.4g})" for d, k, at, m in bad[:8])
        raise AssertionError(f"{what}: {len(bad)} of {len(rows)} differ by more than tolerance {tol:.4g} = {rel:g} * "
                             f"scale {s:.4g}\n{lines}")
    return max((r[0] for r in rows), default=0.0)
