"""medflow phi: scan files and notebooks for PHI before they are logged or committed."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from medflow.guard.artifacts import IMAGE_SUFFIXES, TEXT_SUFFIXES, decode_for_scan, scan_artifact
from medflow.guard.config import GuardConfig, GuardConfigError


@click.group()
def phi() -> None:
    """The PHI guard: scan files for the 18 HIPAA Safe Harbor identifiers."""


@phi.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Site guard configuration (YAML): extra patterns, allowlist, scan limit.")
def scan(paths: tuple[Path, ...], config_path: Path | None) -> None:
    """Scan files, directories and Jupyter notebooks (cells and outputs) for PHI.

    Prints one line per finding, FILE:LINE:KIND (notebooks: FILE[cell N]:LINE:KIND), and
    never the value found. Exits 1 when anything was found, 0 when nothing was.
    """
    try:
        config = GuardConfig.from_yaml(config_path) if config_path else GuardConfig()
    except GuardConfigError as e:
        raise click.UsageError(str(e)) from None
    total = files_with_findings = 0
    for path in _files(paths):
        try:
            data = path.read_bytes()
        except OSError as e:
            click.echo(f"{path}: cannot read ({e.strerror})", err=True)
            continue
        findings = scan_artifact(path.name, data, config)
        if not findings:
            continue
        files_with_findings += 1
        total += len(findings)
        if path.suffix.lower() == ".ipynb":
            for f in findings:
                cell, _, line = f.location.partition(" line ")
                click.echo(f"{path}[{cell.strip()}]:{line}:{f.kind}")
        else:
            text = decode_for_scan(data, config.max_artifact_scan_bytes)
            for f in findings:
                click.echo(f"{path}:{text.count(chr(10), 0, f.start) + 1}:{f.kind}")
    if total:
        click.echo(f"{total} possible PHI finding(s) in {files_with_findings} file(s)", err=True)
        sys.exit(1)
    click.echo("no PHI found", err=True)


def _files(paths: tuple[Path, ...]):
    """Files as given; directories walked for text-like files (images and binaries skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts) \
                        and child.suffix.lower() in TEXT_SUFFIXES and child.suffix.lower() not in IMAGE_SUFFIXES:
                    yield child
        else:
            yield path
