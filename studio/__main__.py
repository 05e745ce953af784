"""``python -m studio``: write ``langgraph.json`` from the registry (``--check``: compare)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from graphs import build_registry
from studio.exports import langgraph_config


def render() -> str:
    return json.dumps(langgraph_config(build_registry()), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", type=Path, default=Path("langgraph.json"))
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file disagrees with the registry"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.path.exists() or args.path.read_text() != text:
            print(f"{args.path} disagrees with the registry: run `make langgraph.json`")
            return 1
        return 0
    args.path.write_text(text)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
