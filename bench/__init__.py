"""pmrecon's benchmark against real servers: see bench/run.py and docs/benchmark.md."""
