"""The one table that scripts/gpu_check.sh prints last: each check's result, then the
benchmark figures next to PyTorch's. Exits 1 if any check did not pass.

    python scripts/gpu_check_summary.py OUT

reads OUT/checks.tsv (name, PASS/FAIL/SKIPPED, seconds, detail: one line per step,
written by gpu_check.sh) and OUT/bench.json (scripts/bench_gpu.py --json), and writes
the table to OUT/summary.md too.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def rows_from_checks(path):
    rows, failed = [], False
    if os.path.exists(path):
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4:
                continue
            name, status, seconds, detail = parts[0], parts[1], parts[2], "\t".join(parts[3:])
            failed |= status != "PASS"
            rows.append((name, f"{status} ({seconds} s)", detail.replace("|", "/")))
    else:
        rows.append(("checks", "FAIL", f"{path} was not written"))
        failed = True
    return rows, failed


def rows_from_bench(path):
    if not os.path.exists(path):
        return [("benchmark", "not run", f"no {os.path.basename(path)}")]
    bench = json.load(open(path))
    rows = []
    for r in bench["rows"]:
        ours = f"{fmt(r['rate'])} {r['unit']} ({fmt(r['seconds'] * 1e3)} ms)"
        if "torch_rate" in r:
            theirs = (f"PyTorch {bench['torch']}: {fmt(r['torch_rate'])} {r['unit']} "
                      f"({fmt(r['torch_seconds'] * 1e3)} ms); tinygrad_cu / PyTorch {r['vs_torch']:.2f}x")
        else:
            theirs = f"PyTorch: {bench.get('torch_skipped') or 'not measured'}"
        rows.append((r["case"], ours, theirs))
    return rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", "/tmp/gpu_check")
    check_rows, failed = rows_from_checks(os.path.join(out, "checks.tsv"))
    rows = check_rows + rows_from_bench(os.path.join(out, "bench.json"))
    lines = ["| check or benchmark | result | detail |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines.append(f"| **GPU check** | **{'FAILED' if failed else 'PASSED'}** | log: gpu_check.log |")
    text = "\n".join(lines)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
