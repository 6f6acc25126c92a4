"""Copy plotly.min.js for Quarto's pre-render step: ``python -m volbook.render assets [DIR]``.

``_quarto.yml`` runs this file as a script (``lib/volbook/render/__main__.py assets``), so that
Quarto starts it with QUARTO_PYTHON, the Python ``volbook render`` runs in.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script: make the volbook next to this file importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from volbook.render import copy_plotly_js  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Copy plotly.min.js into DIR (default ``assets``); return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "assets" or len(args) > 2:
        print("usage: python -m volbook.render assets [DIR]", file=sys.stderr)
        return 2
    print(f"copied {copy_plotly_js(Path(args[1] if len(args) == 2 else 'assets'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
