"""What publishing the book rests on: the GitHub Actions workflow (linted by actionlint), the
license and citation files, CI running both commands and the browser checks, and pages that load
nothing from a CDN."""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"  # installed by requirements.txt
    found = str(beside) if beside.exists() else shutil.which("actionlint")
    assert found, "actionlint is not installed (pip install -r requirements.txt)"
    return found


def test_the_workflows_pass_actionlint():
    assert WORKFLOWS, "no workflow in .github/workflows"
    result = subprocess.run([actionlint(), "-no-color", *map(str, WORKFLOWS)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_pages_workflow_builds_with_the_makefile_and_deploys_the_html():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    runs = " ".join(s.get("run", "") for s in steps)
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert "make book" in runs and "make check-site" in runs
    assert {"actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"} <= set(uses)
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"


def test_the_license_file_matches_pyproject():
    text = (ROOT / "LICENSE").read_text()
    assert PYPROJECT["license"]["text"] == "MIT" and text.startswith("MIT License")
    assert re.search(rf"Copyright \(c\) 2026 {re.escape(CONFIG['author'])}\n", text)


def test_the_citation_file_is_valid_cff_and_agrees_with_the_project():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    # The CFF 1.2.0 schema (citation-file-format/citation-file-format, CC-BY-4.0), kept here
    # so that the check needs no network.
    schema = json.loads((Path(__file__).parent / "cff-1.2.0.schema.json").read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(citation)
    assert citation["cff-version"] == "1.2.0"
    assert str(citation["version"]) == PYPROJECT["version"]
    assert citation["license"] == PYPROJECT["license"]["text"]
    assert citation["repository-code"] == CONFIG["repository"]["url"]


def test_ci_runs_both_commands_then_the_browser_checks():
    script = (ROOT / ".ci" / "run").read_text()
    positions = [script.find(f"make {target}") for target in ("book", "test", "check-site")]
    assert -1 not in positions and positions == sorted(positions), (
        ".ci/run should run make book (which executes the chapters), make test, then make check-site")


def test_the_pages_load_mathjax_from_the_build_not_a_cdn():
    config = CONFIG["sphinx"]["config"]
    assert not re.match(r"(https?:)?//", config["mathjax_path"])
    assert "_assets" in config["html_static_path"]
    # Jupyter Book adds every .js file under a root _static/ folder to every page, which would
    # load all of MathJax's components on each one: static files live in _assets/.
    assert not (ROOT / "_static").exists(), "put static files in _assets/, not _static/"


@pytest.mark.parametrize("text", ["_build/screenshots", "repository.url", "Pages"])
def test_the_readme_says_where_screenshots_are_and_how_to_publish_a_fork(text):
    assert text in (ROOT / "README.md").read_text()
