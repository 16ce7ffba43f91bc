"""pyproject.toml's lower bounds are true.

A fresh virtual environment with exactly the oldest versions pyproject.toml allows of numpy,
numba and tqdm, and the pinned torch of requirements.txt, imports ebmlib and passes the library
tests (tests/ without the book's, the style and these infrastructure tests). The packages the tests use
beyond the library's own dependencies (matplotlib, scikit-learn, mlxtend: the `book` extras) are
left to pip to choose among the versions that go with those minimums. Takes a couple of minutes.
"""

import re
import tomllib

from venvs import ROOT, make_venv, pip_install, run, tail

CHECKED = ("numpy", "numba", "tqdm")


def requirement_specs() -> tuple[dict[str, str], dict[str, str]]:
    """(lower bound of each core dependency, spec of each `book` extra) from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for dep in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)(\s*,.*)?", dep.strip())
        assert match, f"pyproject.toml: {dep!r} has no lower bound"
        bounds[match[1].lower()] = match[2]
    extras = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0].lower(): d for d in project["optional-dependencies"]["book"]}
    return bounds, extras


def pinned(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.strip()
    raise AssertionError(f"requirements.txt pins no {name}")


def test_the_library_passes_its_tests_at_the_oldest_allowed_versions(tmp_path):
    bounds, extras = requirement_specs()
    assert set(CHECKED) <= set(bounds), f"pyproject.toml should bound {CHECKED} from below"
    oldest = [f"{name}=={bounds[name]}" for name in CHECKED]
    python = make_venv(tmp_path / "oldest")
    pip_install(python, pinned("torch"), *oldest, pinned("pytest"),
                extras["matplotlib"], extras["scikit-learn"], extras["mlxtend"])

    versions = run([python, "-c", "import importlib.metadata as m, sys; "
                    f"print(' '.join(m.version(n) for n in {CHECKED!r}))"])
    assert versions.returncode == 0, tail(versions)
    installed = dict(zip(CHECKED, versions.stdout.split()))
    for name in CHECKED:  # 1.24 and 1.24.0 are the same version
        assert installed[name].split(".")[: len(bounds[name].split("."))] == bounds[name].split("."), (
            f"{name}: installed {installed[name]}, not the lower bound {bounds[name]}")

    # ebmlib itself is imported from this checkout (python -m puts the working directory first).
    # (the style checks need the linters of requirements.txt, not the library's dependencies)
    result = run([python, "-m", "pytest", "tests", "--ignore=tests/test_book.py", "--ignore=tests/infra",
                  "--ignore=tests/test_style.py", "-p", "no:cacheprovider", "-q"], cwd=ROOT)
    assert result.returncode == 0, (
        f"the library tests fail with {', '.join(oldest)}: raise the bounds in pyproject.toml\n{tail(result)}")
