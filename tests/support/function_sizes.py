"""The longest functions of a package, in lines from ``def`` to the last line (read with ``ast``).

Run ``python tests/support/function_sizes.py autograder [N]`` to print the N longest (8 by
default): the list a review of the package's readability starts from.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def function_sizes(package: str, root: Path = ROOT) -> list[tuple[int, str]]:
    """``[(lines, "path:function"), ...]`` for every function and method, longest first."""
    folder = root / package
    sizes = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(root).as_posix()}:{node.name}"
                sizes.append((node.end_lineno - node.lineno + 1, where))
    return sorted(sizes, key=lambda s: (-s[0], s[1]))


if __name__ == "__main__":
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    for lines, where in function_sizes(sys.argv[1])[:count]:
        print(f"{lines:5d}  {where}")
