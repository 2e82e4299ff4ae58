"""Runs the models exported by `sendlake run --models-only --export-model-sql DIR` on DuckDB:
the same SQL, in the same order, over the same Parquet files. Prints one JSON object with
the wall time of each model and in total. The comparison it feeds is in docs/benchmarks.md.

    python3 benches/models_duckdb.py DIR [THREADS]
"""
import json
import sys
import time

import duckdb


def main() -> None:
    folder = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    inputs = json.load(open(f"{folder}/inputs.json"))
    models = json.load(open(f"{folder}/models.json"))
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    started = time.perf_counter()
    for name, files in inputs.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files!r})")
    timings = []
    for model in models:
        t = time.perf_counter()
        con.execute(f"CREATE TABLE {model['name']} AS {model['sql']}")
        rows = con.execute(f"SELECT count(*) FROM {model['name']}").fetchone()[0]
        timings.append({"model": model["name"], "rows": rows, "secs": round(time.perf_counter() - t, 3)})
    total = time.perf_counter() - started
    print(json.dumps({"engine": f"duckdb {duckdb.__version__}", "threads": threads,
                      "total_secs": round(total, 3), "models": timings}))


if __name__ == "__main__":
    main()
