"""The digits MLP trained with graphc's compiled gradients follows PyTorch's autograd
(float64, same initial weights, same minibatches) to 1e-9 relative over 100 steps, for
SGD and Adam, with the loss written from logits (cross_entropy) and with softmax."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import mlp_digits as mlp  # noqa: E402
import mlp_torch_compare as cmp  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return mlp.load_data(0)


@pytest.mark.parametrize("form", ["cross_entropy", "softmax"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_loss_curves_match_pytorch(data, form, optimizer):
    g = cmp.graphc_losses(optimizer, 100, form=form, data=data)
    t = cmp.torch_losses(optimizer, 100, form=form, data=data)
    assert len(g) == len(t) == 100
    assert g[-1] < 0.5 * g[0]  # it trains
    assert cmp.max_relative_difference(g, t) <= 1e-9


def test_batch_that_does_not_divide_the_data_recompiles_for_the_new_size(data):
    """1438 images in batches of 500: the last batch of each epoch has B = 438."""
    g = cmp.graphc_losses("sgd", 6, batch=500, data=data)
    t = cmp.torch_losses("sgd", 6, batch=500, data=data)
    assert cmp.max_relative_difference(g, t) <= 1e-9
