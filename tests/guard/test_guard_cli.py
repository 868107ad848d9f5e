"""`medflow phi scan` over files, directories and notebooks."""
from __future__ import annotations

import json

from click.testing import CliRunner

from medflow.cli.phi import phi


def run(*args):
    return CliRunner().invoke(phi, ["scan", *map(str, args)])


def test_clean_files_exit_0(tmp_path):
    (tmp_path / "metrics.json").write_text('{"auc": 0.81, "n_test": 13606}')
    (tmp_path / "train.log").write_text("2024-01-03 07:17:57 INFO epoch=0 loss=0.6\n")
    result = run(tmp_path)
    assert result.exit_code == 0, result.output


def test_findings_exit_1_with_file_line_kind_and_no_value(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("model card notes\nexcluded pt KNIGHT, SARAH, MRN 26126932\n")
    result = run(path)
    assert result.exit_code == 1
    assert f"{path}:2:name" in result.output and f"{path}:2:mrn" in result.output
    assert "KNIGHT" not in result.output and "26126932" not in result.output


def test_notebook_findings_name_the_cell(tmp_path):
    notebook = {"cells": [{"cell_type": "code", "source": ["x = 1\n", "patient = 'SOTO^ROBERTO'\n"],
                           "outputs": []}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "explore.ipynb"
    path.write_text(json.dumps(notebook))
    result = run(path)
    assert result.exit_code == 1
    assert f"{path}[cell 1]:2:name" in result.output
    assert "SOTO" not in result.output


def test_site_config_patterns_and_allowlist(tmp_path):
    config = tmp_path / "guard.yaml"
    config.write_text("extra_patterns:\n  - kind: mrn\n    regex: 'STM\\d{7}'\nallowlist: ['Kimberly Foster']\n")
    data = tmp_path / "cases.txt"
    data.write_text("case STM1234567 reviewed by the board\nthanks to Kimberly Foster\n")
    plain = run(data)
    assert plain.exit_code == 1 and f"{data}:2:name" in plain.output and ":1:" not in plain.output
    result = run("--config", config, data)
    assert result.exit_code == 1 and f"{data}:1:mrn" in result.output and ":2:" not in result.output


def test_invalid_config_is_a_usage_error(tmp_path):
    config = tmp_path / "guard.yaml"
    config.write_text("mode: delete\n")
    data = tmp_path / "a.txt"
    data.write_text("ok\n")
    result = run("--config", config, data)
    assert result.exit_code == 2 and "mode must be one of" in result.output
