"""Bad input gets a clear error that names the argument, never a silent NaN; and the
randomness protocol holds across the public API."""

import ast
import inspect
import sys
import textwrap

import pytest
import torch

from ebmlib import data, exact, samplers, utils
from ebmlib.models import RBM, BoltzmannMachine, GaussianEnergy, MLPEnergy


@pytest.fixture
def bm():
    return BoltzmannMachine(4)


@pytest.mark.parametrize(
    "x, error, message",
    [
        (torch.zeros(3, 5), ValueError, r"x must have 4 columns"),
        (torch.zeros(4), ValueError, r"x must have shape \[batch, 4\]"),
        (torch.zeros(3, 4, dtype=torch.int64), TypeError, r"x must have a floating dtype"),
        ([[0.0, 1.0, 0.0, 1.0]], TypeError, r"x must be a torch.Tensor"),
        (torch.full((2, 4), float("nan")), ValueError, r"x contains NaN"),
        (torch.full((2, 4), 0.3), ValueError, r"x must be binary"),
    ],
)
def test_gibbs_rejects_bad_chains(bm, x, error, message):
    with pytest.raises(error, match=message):
        samplers.gibbs(bm, x, 1)


def test_metropolis_and_langevin_reject_bad_arguments(bm):
    with pytest.raises(ValueError, match="x contains NaN"):
        samplers.metropolis_hastings(GaussianEnergy(2), torch.tensor([[float("nan"), 0.0]]), 1)
    with pytest.raises(ValueError, match="step_size"):
        samplers.langevin(GaussianEnergy(2), torch.zeros(3, 2), 1, step_size=-0.1)
    with pytest.raises(TypeError, match="continuous model"):
        samplers.langevin(bm, torch.zeros(3, 4), 1)
    with pytest.raises(TypeError, match="binary model"):
        samplers.gibbs(MLPEnergy(4), torch.zeros(3, 4), 1)
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        samplers.gibbs(bm, torch.zeros(3, 4), -1)
    with pytest.raises(TypeError, match="n_steps must be an int"):
        samplers.gibbs(bm, torch.zeros(3, 4), 2.5)
    with pytest.raises(ValueError, match="backend"):
        samplers.gibbs(bm, torch.zeros(3, 4), 1, backend="fortran")


def test_models_reject_bad_sizes():
    with pytest.raises(ValueError, match="n_units must be >= 1"):
        BoltzmannMachine(0)
    with pytest.raises(TypeError, match="n_hidden must be an int"):
        RBM(4, 2.0)
    with pytest.raises(ValueError, match="symmetric positive definite"):
        GaussianEnergy(2, precision=torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="temperature"):
        BoltzmannMachine(3).at_temperature(0.0)


def test_exact_rejects_continuous_and_oversized_models():
    with pytest.raises(TypeError, match="binary model"):
        exact.enumerated_layer(GaussianEnergy(2))
    with pytest.raises(ValueError, match="too large to enumerate"):
        exact.log_likelihood(BoltzmannMachine(40), torch.zeros(1, 40))
    with pytest.raises(ValueError, match="max_bits must be >= 1"):
        exact.log_partition(BoltzmannMachine(3), max_bits=0)


def test_utils_reject_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        utils.seed_everything(-1)
    with pytest.raises(ValueError, match="device"):
        utils.get_device("tpu")
    with pytest.raises(TypeError):
        utils.log_mean_exp(torch.arange(3))
    with pytest.raises(ValueError, match="test_fraction"):
        data.digits(test_fraction=1.5)


def test_generator_must_be_a_generator_on_the_data_device(bm):
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        samplers.gibbs(bm, torch.zeros(3, 4), 1, generator=0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="generator is on cpu but the tensors are on cuda"):
            samplers.gibbs(bm.cuda(), torch.zeros(3, 4, device="cuda"), 1, generator=torch.Generator())
    from ebmlib._validation import check_generator

    with pytest.raises(ValueError, match="generator is on cpu but the tensors are on cuda"):
        check_generator(torch.Generator(), torch.device("cuda"))


RANDOM_CALLS = {
    "rand", "randn", "randint", "randperm", "multinomial", "bernoulli", "normal", "normal_", "uniform_", "random_",
    "bernoulli_", "bernoulli_from_logits", "draw", "sample", "rsample", "rsample_with_log_prob", "run_chain",
    "gibbs_sweep", "sample_base", "step", "advance", "move", "_split", "_run", "_negatives", "_draw", "_nce_logits",
    "_sampled_scores", "logistic_noise", "sweep", "block_gibbs", "_draw_hidden", "_draw_visible", "_advance", "_step",
    "_starts", "_fresh", "_flow_step", "sample_visible", "sample_hidden",
}


def _draws_random_numbers(source: str) -> bool:
    """Whether the code (docstrings and comments ignored) calls a random primitive."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "step" and len(node.args) < 2:  # optimizer.step(closure), not kernel.step(model, state)
                continue
            if name == "draw" and not node.args and not node.keywords:  # canvas.draw(), not draw(dist, n)
                continue
            if name in RANDOM_CALLS:
                return True
    return False


def _public_callables():
    import ebmlib

    seen = set()
    for module_name in ebmlib.__all__:
        module = getattr(ebmlib, module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if callable(member) and (not attr.startswith("_") or attr in ("__init__", "__call__")):
                        yield f"{module_name}.{name}.{attr}", member
            elif callable(obj) and id(obj) not in seen:
                seen.add(id(obj))
                yield f"{module_name}.{name}", obj


def test_every_public_function_that_draws_random_numbers_takes_a_generator():
    """The randomness protocol, checked on the whole public API: any function or method whose
    code draws (torch's random functions, Bernoulli draws, sampling, chains) accepts
    ``generator=``, unless it belongs to an object that was given one (then its ``__init__`` has it)."""
    offenders = []
    for name, fn in _public_callables():
        try:
            source = inspect.getsource(fn)
            params = inspect.signature(fn).parameters
        except (TypeError, OSError, ValueError):
            continue
        if not _draws_random_numbers(source):
            continue
        owner = fn.__qualname__.split(".")[0]
        init = getattr(getattr(sys.modules[fn.__module__], owner, None), "__init__", None)
        owner_has = init is not None and "generator" in inspect.signature(init).parameters
        if "generator" not in params and not owner_has:
            offenders.append(name)
    assert not offenders, f"these draw random numbers but take no generator: {offenders}"


def test_generator_is_keyword_only_in_every_public_callable():
    """One calling convention for randomness: wherever a public function or method takes
    ``generator``, it is keyword-only (``generator=gen``), never the n-th positional argument."""
    offenders = []
    for name, fn in _public_callables():
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue
        if "generator" in params and params["generator"].kind is not inspect.Parameter.KEYWORD_ONLY:
            offenders.append(name)
    assert not offenders, f"generator is positional in: {offenders}"
