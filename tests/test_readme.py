"""The README stays in step with the code: every setting documented, the two commands present."""

from __future__ import annotations

from pathlib import Path

from settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_documents_every_setting() -> None:
    missing = [n for n in Settings.model_fields if f"`POSTFLOW_{n.upper()}`" not in README]
    assert missing == []


def test_readme_names_both_setup_commands() -> None:
    assert "./postflow up" in README and "./postflow test" in README


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "./postflow test" in ci


def test_readme_lists_the_whole_event_catalogue() -> None:
    from contracts.events import CATALOGUE

    missing = [t for t in CATALOGUE if f"| `{t}` |" not in README]
    assert missing == []


def test_readme_lists_every_scope() -> None:
    from contracts.scopes import SCOPES

    missing = [s for s in SCOPES if f"`{s}`" not in README]
    assert missing == []
