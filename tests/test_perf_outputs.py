"""The perf step's table and chart: every precision measured, with its drift and its speed relative to fp32."""

from __future__ import annotations

import json
from pathlib import Path

from senet_infer.driver.perf_outputs import Drift, PerfRecord, write_perf_outputs


def test_perf_table_holds_every_precision_with_its_drift(tmp_path: Path) -> None:
    records = [PerfRecord(b, t, 1000 * b / t, "openvino", p) for p, b, t in
               (("fp32", 1, 20.0), ("fp32", 32, 25.0), ("bf16", 1, 60.0), ("bf16", 32, 100.0), ("int8", 32, 90.0))]
    drift = {"fp32": Drift("fp32", 8, 1.0, 1.0, 1.0, 3e-6), "bf16": Drift("bf16", 8, 1.0, 0.75, 0.9996, 2.8e-2),
             "int8": Drift("int8", 8, 0.875, 0.5, 0.998, 6.1e-2)}
    json_path, md_path, png_path = write_perf_outputs(tmp_path, "Xeon", records, {"loop": 2, "date": "d"}, drift)
    rows = [line for line in md_path.read_text().splitlines() if line.startswith("| Xeon")]
    assert len(rows) == 5
    assert rows[3].split(" | ")[2:7] == ["bf16", "32", "100.0", "320.00", "4.00x"]
    assert rows[4].split(" | ")[6:] == ["3.60x", "87.5 %", "50.0 %", "0.998000", "6.10e-02 |"]
    assert "drift vs PyTorch fp32 on 8 images" in md_path.read_text()
    perf = json.loads(json_path.read_text())
    assert [r["precision"] for r in perf["results"]] == ["fp32", "fp32", "bf16", "bf16", "int8"]
    assert perf["drift"]["int8"]["top1_agreement"] == 0.875
    assert png_path.read_bytes()[:4] == b"\x89PNG"
