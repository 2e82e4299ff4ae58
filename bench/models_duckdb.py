"""Runs the models exported by `sendlake run --models-only --export-model-sql DIR` on DuckDB:
the same SQL, in the same order, over the same Parquet files. Prints one JSON object with
the wall time of each model and in total. The comparison it feeds is in docs/benchmarks.md.

    python3 bench/models_duckdb.py DIR [THREADS] [OUT]

With OUT, each model's table is also written to OUT/<table>.parquet (ZSTD), inside its timing:
sendlake writes every model to the lake, so this is the like-for-like comparison; without
OUT, DuckDB only materialises the tables in memory.
"""
import json
import sys
import time

import duckdb


def main() -> None:
    folder = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    out = sys.argv[3] if len(sys.argv) > 3 else None
    inputs = json.load(open(f"{folder}/inputs.json"))
    models = json.load(open(f"{folder}/models.json"))
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    started = time.perf_counter()
    for name, files in inputs.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files!r})")
    timings = []
    for model in models:
        if model.get("view"):
            # SQL the models share (a `*.view.sql`): sendlake does not write it, nor is it timed.
            con.execute(f"CREATE VIEW {model['name']} AS {model['sql']}")
            continue
        t = time.perf_counter()
        con.execute(f"CREATE TABLE {model['name']} AS {model['sql']}")
        rows = con.execute(f"SELECT count(*) FROM {model['name']}").fetchone()[0]
        if out:
            con.execute(f"COPY {model['name']} TO '{out}/{model['name']}.parquet' (FORMAT parquet, COMPRESSION zstd)")
        timings.append({"model": model["name"], "rows": rows, "secs": round(time.perf_counter() - t, 3)})
    total = time.perf_counter() - started
    print(json.dumps({"engine": f"duckdb {duckdb.__version__}", "threads": threads, "persisted": bool(out),
                      "total_secs": round(total, 3), "models": timings}))


if __name__ == "__main__":
    main()
