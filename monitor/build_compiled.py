"""Compile the hot path with Cython (`monitor/compiled.py` says why and how it stays safe).

python -m monitor.build_compiled build    # what `make venv` runs
python -m monitor.build_compiled status
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from monitor.compiled import (
    _ROOT,
    _SUFFIX,
    DIRECTIVES,
    HOT_PATH,
    _declarations,
    _digest,
    build_dir,
    build_name,
    compiled_path,
    source_of,
    status,
)


def build(names: Sequence[str] = HOT_PATH, jobs: int = 2, quiet: bool = False) -> list[Path]:
    """Compile `names` whose current source has no build yet; returns the builds made.

    Needs Cython and a C compiler; ImportError / a compiler error otherwise (the
    caller decides whether that is fatal: `make venv` goes on in pure Python).
    """
    from Cython.Build import cythonize  # build-time only
    from setuptools import Distribution

    declarations = _declarations(_ROOT)
    todo = [n for n in names if compiled_path(n, declarations) is None]
    out = build_dir()
    if not todo:
        return []
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wardwatch-compile-") as tmp:
        work = Path(tmp)
        copies = {}
        for name in HOT_PATH:  # a copy of each source to build, and every module's C types (a cimport reads them)
            package = work / name.split(".")[0]
            package.mkdir(exist_ok=True)
            (package / "__init__.py").touch()
            copy = work.joinpath(*name.split(".")).with_suffix(".py")
            if source_of(name).with_suffix(".pxd").exists():
                shutil.copy2(source_of(name).with_suffix(".pxd"), copy.with_suffix(".pxd"))
            if name in todo:  # so no .c file lands next to the source
                shutil.copy2(source_of(name), copy)
                copies[name] = copy
        # Named after the bytes compiled, not the source as it is afterwards: a file edited
        # during the build (a git pull) must not get the old code under its new hash.
        copied = _declarations(work)
        compiled_from = {name: _digest(copy, copied) for name, copy in copies.items()}
        cwd = os.getcwd()
        os.chdir(work)
        try:
            modules = cythonize(  # type: ignore[no-untyped-call]
                [str(Path(*n.split(".")).with_suffix(".py")) for n in todo],
                compiler_directives=DIRECTIVES,
                nthreads=jobs,
                quiet=quiet,
            )
            for module in modules:
                module.extra_compile_args = ["-w"]  # Cython's generated C trips -Warray-bounds; errors still show
            dist = Distribution({"ext_modules": modules, "script_name": "compile"})
            dist.script_args = ["build_ext", "--build-lib", "lib", "--build-temp", "tmp", "-j", str(jobs)]
            if quiet:
                dist.script_args.insert(0, "-q")
            dist.parse_command_line()
            dist.run_commands()
        finally:
            os.chdir(cwd)
        made = []
        for name in todo:
            built = work / "lib" / Path(*name.split(".")).with_suffix(_SUFFIX)
            target = out / build_name(name, compiled_from[name])
            # Whole or not at all: a partly written extension crashes the importing process
            # (SIGBUS), so it is written beside its final name and renamed into place.
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            try:
                shutil.copyfile(built, partial)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
            made.append(target)
    _prune(out)
    return made


#: A build of another version of a source is removed once it is this old: another checkout
#: (a blue/green release, a developer's tree) sharing the directory may still use it. Every
#: process that loads the builds touches them (`compiled._mark_used`), so this is a week
#: without a start, not a week since the build.
PRUNE_AFTER_S = 7 * 86400


def _prune(out: Path) -> None:
    """Drop builds that match no current source and were neither written nor used for a week."""
    declarations = _declarations(_ROOT)
    keep = {build_name(n, _digest(source_of(n), declarations)) for n in HOT_PATH}
    cutoff = time.time() - PRUNE_AFTER_S
    for path in out.glob(f"*{_SUFFIX}"):
        if path.name not in keep and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitor.build_compiled",
        description="Compile the per-sample hot path with Cython (used only while it matches the source).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python -m monitor.build_compiled build\n  python -m monitor.build_compiled status\n"
        "  WARDWATCH_PURE_PYTHON=1 wardwatch bench   # the same run without the compiled modules",
    )
    parser.add_argument("command", choices=("build", "status"))
    parser.add_argument("--jobs", type=int, default=2, help="compiler processes (default 2)")
    parser.add_argument(
        "--optional",
        action="store_true",
        help="on a machine without Cython or a C compiler, say so and exit 0 (pure Python is used)",
    )
    args = parser.parse_args(argv)
    if args.command == "status":
        for name, compiled in status().items():
            print(f"{name:20s} {'compiled' if compiled else 'python'}")
        return 0
    started = time.monotonic()
    print(f"compiling the hot path ({len(HOT_PATH)} modules) into {build_dir()} ...", flush=True)
    try:
        made = build(jobs=args.jobs, quiet=True)
    except OSError as exc:  # the build directory, not the compiler
        print(f"could not write the build to {build_dir()} ({exc}); wardwatch runs as pure Python.", file=sys.stderr)
        print("Point WARDWATCH_COMPILED_DIR at a writable directory, or fix this one's permissions.", file=sys.stderr)
        return 0 if args.optional else 1
    except Exception as exc:  # ImportError, CompileError, LinkError: all mean "no build"
        print(f"could not compile ({type(exc).__name__}: {exc}); wardwatch runs as pure Python.", file=sys.stderr)
        print("To compile: install a C compiler (Debian: apt-get install gcc python3-dev) and Cython.", file=sys.stderr)
        return 0 if args.optional else 1
    print(f"{len(made)} compiled, {len(HOT_PATH) - len(made)} already current, in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
