"""Training: the loop, full-batch L-BFGS, and many methods compared under equal budgets.

* :func:`fit`: minimise ``loss_fn(model, batch)`` over minibatches, with a :class:`History`
  (metrics timed apart from training), time budgets, and checkpoints that resume bit for bit
  (``loop.py``).
* :func:`minimize`: full-batch L-BFGS for deterministic losses (``lbfgs.py``).
* :func:`compare`: train every method over seeds at a learning rate tuned on a validation
  score, under equal budgets; a :class:`Comparison` of :class:`Run` results
  (``comparison.py``).
"""

from .comparison import Comparison, Run, compare
from .lbfgs import minimize
from .loop import History, fit

__all__ = ["History", "fit", "minimize", "compare", "Comparison", "Run"]
