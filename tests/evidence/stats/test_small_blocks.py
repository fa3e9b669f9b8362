"""The closed forms for 2 x 2 and 3 x 3 covariance blocks agree with LAPACK's batched routines."""

from __future__ import annotations

import numpy as np
import pytest

from evidence.stats import linalg
from evidence.stats.results import StatsError


def covariance_blocks(k: int, n: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, k, k))
    blocks = a @ a.transpose(0, 2, 1) + 0.05 * np.eye(k)
    blocks[:10] = np.diag(rng.uniform(0.01, 2.0, k))  # diagonal
    blocks[10:20] = 0.3 * np.eye(k) + 0.7 * np.ones((k, k))  # compound symmetry, as CHE's
    return blocks


@pytest.mark.parametrize("k", [2, 3])
def test_inverse_and_logdet_equal_lapack(k: int) -> None:
    blocks = covariance_blocks(k)
    inverse, logdet = linalg.inverse_and_logdet(blocks)
    assert np.allclose(inverse, np.linalg.inv(blocks), rtol=1e-9, atol=1e-12)
    assert np.allclose(logdet, np.linalg.slogdet(blocks)[1], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_a_block_that_is_not_positive_definite_is_refused(k: int) -> None:
    blocks = covariance_blocks(k, n=30)
    blocks[5] = -np.eye(k)
    with pytest.raises(StatsError, match="not positive definite"):
        linalg.inverse_and_logdet(blocks)
    blocks[5] = np.ones((k, k))  # singular
    with pytest.raises(StatsError, match="not positive definite"):
        linalg.inverse_and_logdet(blocks)


@pytest.mark.parametrize("power", [-0.5, 0.5, -1.0])
def test_powers_of_2x2_blocks_equal_the_eigendecomposition(power: float) -> None:
    blocks = covariance_blocks(2)
    blocks[20] = np.ones((2, 2))  # singular: the zero eigenvalue is left out for negative powers
    blocks[21] = 0.5 * np.eye(2)  # equal eigenvalues
    values, vectors = np.linalg.eigh(blocks)
    keep = values > linalg._EIG_TOL * np.abs(values).max(axis=-1, keepdims=True)
    scaled = np.where(keep, np.where(keep, values, 1.0) ** power, 0.0)
    expected = (vectors * scaled[:, None, :]) @ np.swapaxes(vectors, -1, -2)
    well_conditioned = np.linalg.cond(blocks) < 1e6
    got = linalg.sym_power(blocks, power)
    assert np.allclose(got[well_conditioned], expected[well_conditioned], rtol=1e-9, atol=1e-12)
    assert np.allclose(got[20], expected[20], atol=1e-12)
