"""`make package`: the folder (and zip) the Function App receives — the repository less what
.funcignore names, read with gitignore rules as Core Tools and azd read it.

    python -m localplatform.package [--out dist/vmdr]

tests/infra/test_package.py installs only requirements.txt into a fresh virtual environment and
indexes the package's function_app.py from this folder: proof that production code never imports
the local platform.
"""

from __future__ import annotations

import argparse
import os
import shutil
import zipfile
from pathlib import Path

import pathspec

ROOT = Path(__file__).resolve().parents[1]
# A fixed timestamp makes the zip the same bytes for the same files.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def ignore_spec(root: Path = ROOT) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines((root / ".funcignore").read_text().splitlines())


def included_files(root: Path = ROOT) -> list[str]:
    """Paths (relative, '/'-separated, sorted) of every file .funcignore lets through."""
    spec = ignore_spec(root)
    kept: list[str] = []
    for folder, dirs, files in os.walk(root):
        relative = Path(folder).relative_to(root)
        # Do not descend into ignored folders (.venv, node_modules, ...).
        dirs[:] = sorted(d for d in dirs
                         if not spec.match_file((relative / d).as_posix() + "/"))
        for name in sorted(files):
            path = (relative / name).as_posix()
            if not spec.match_file(path):
                kept.append(path)
    return sorted(kept)


def build(out: Path, root: Path = ROOT) -> list[str]:
    """Write the package to `out` (replaced) and `out`.zip; return its files."""
    files = included_files(root)
    if out.exists():
        shutil.rmtree(out)
    for path in files:
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, target)
    with zipfile.ZipFile(out.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / path).read_bytes())
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localplatform.package",
                                     description="build what the Function App receives")
    parser.add_argument("--out", default=str(ROOT / "dist" / "vmdr"),
                        help="package folder (default dist/vmdr; the zip goes beside it)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    files = build(out)
    tops = sorted({f.split("/", 1)[0] for f in files})
    print(f"{out}: {len(files)} files ({', '.join(tops)}); {out.with_suffix('.zip')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
