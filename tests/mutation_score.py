"""Per-file mutation score from mutmut's results in mutants/ (`make mutate` prints it).

Score = killed ÷ (killed + survived + no tests), timeouts counted as killed (the mutant made
the tests hang). Mutants not run yet are listed apart and left out of the score.
"""

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255}  # failed tests, pytest internal error, timeouts
SURVIVED = {0}
NO_TESTS = {5, 33}


def main(root: Path = Path("mutants")) -> int:
    metas = sorted(root.glob("app/**/*.py.meta"))
    if not metas:
        print("No mutation results; run `make mutate` first.")
        return 1
    print(f"{'file':34} {'killed':>7} {'survived':>9} {'no tests':>9} {'not run':>8} {'score':>7}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter(
            "killed" if code in KILLED else "survived" if code in SURVIVED
            else "no tests" if code in NO_TESTS else "not run" if code is None else "other"
            for code in codes.values()
        )
        tested = counts["killed"] + counts["survived"] + counts["no tests"]
        score = f"{100 * counts['killed'] / tested:.0f} %" if tested else "–"
        name = str(meta.relative_to(root)).removesuffix(".meta")
        print(f"{name:34} {counts['killed']:>7} {counts['survived']:>9} {counts['no tests']:>9} "
              f"{counts['not run'] + counts['other']:>8} {score:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
