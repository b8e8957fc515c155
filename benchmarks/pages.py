"""Time every dashboard page (AppTest, first and second render) on a database, e.g. the 1M-prediction one.

python benchmarks/queries.py            # builds /tmp/fer_bench.db once
python benchmarks/pages.py [--db /tmp/fer_bench.db]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="/tmp/fer_bench.db")
    args = ap.parse_args()
    os.environ["DATABASE_URL"] = f"sqlite:///{args.db}"
    sys.path.insert(0, str(ROOT / "dashboard"))
    from streamlit.testing.v1 import AppTest

    for name in ("home", "session", "trends", "compare", "manage", "upload"):
        times = []
        for _ in range(2):  # the second render is what a user sees when coming back to a page
            at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=120).run()
            t = time.perf_counter()
            if name != "home":
                at.switch_page(f"views/{name}.py").run()
            else:
                at.run()
            times.append(time.perf_counter() - t)
            assert not at.exception, at.exception
        print(json.dumps({"page": name, "first_s": round(times[0], 2), "again_s": round(times[1], 2)}), flush=True)


if __name__ == "__main__":
    main()
