"""Helpers for the command-line tests."""

from __future__ import annotations

from click.testing import CliRunner, Result

from extflash.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)
