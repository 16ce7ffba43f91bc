"""What a chapter needs to show its results: set-up, glue, visible checks, tables, numbers.

Every chapter of the book starts with::

    ch = ebmlib.book.setup(SEED, DEVICE)

which picks the device, seeds the global random states (for code outside ebmlib), applies
the book's figure style and returns a :class:`Chapter`:

* ``ch.rng("name")``: each experiment's own reproducible random stream;
* ``ch.check("AIS lands within {tol} nats of the exact log Z: it is off by {err:.3f}",
  err < tol, tol=tol, err=err)``: a claim checked where the reader can see it (a line
  "✓ ..." under the cell, collected on the book's claims page), its values glued for the text;
  a false claim raises :class:`ClaimFailed` and stops the build;
* ``ch.glue(name=value)``: numbers, :func:`table` s and figures handed to the text (myst-nb's
  glue), so that no number in the prose is typed by hand;
* :func:`table`: rows as a formatted table (units, "—", integers, ``mean ± std``);
* :func:`number` and :func:`power`: numbers typeset for the text (``8.9 × 10⁻¹⁶``, ``2⁷⁸⁴``),
  as text or as maths.

See the page guide of the book's repository for how a chapter uses them.
"""

from .chapter import Chapter, setup
from .checks import Claim, ClaimFailed
from .numbers import Typeset, as_shown, number, power, tidy
from .tables import Table, mean_std, table

__all__ = [
    "Chapter",
    "setup",
    "Claim",
    "ClaimFailed",
    "Typeset",
    "number",
    "power",
    "tidy",
    "as_shown",
    "Table",
    "table",
    "mean_std",
]
