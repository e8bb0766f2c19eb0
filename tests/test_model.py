"""Step 2: checkpoints (real layout, demo weights, download check) and the ONNX export script."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import get_weights
import SE_ResNet50_pth2onnx
from conftest import run_in_process
from senet_infer.errors import PipelineError
from senet_infer.model import (
    build_model,
    calibration_batch,
    download_weights,
    is_demo_checkpoint,
    load_checkpoint,
    loader_options,
    verify_weights,
)


def test_demo_checkpoint_has_the_real_key_layout(demo_checkpoint: Path) -> None:
    saved = torch.load(str(demo_checkpoint), **loader_options(torch.load))
    assert saved["demo_weights"] is True
    expected = build_model().state_dict()
    assert len(expected) == 384
    assert {k: tuple(v.shape) for k, v in saved["state_dict"].items()} == {k: tuple(v.shape) for k, v in expected.items()}
    assert is_demo_checkpoint(demo_checkpoint)


def test_demo_weights_give_input_dependent_predictions(demo_model) -> None:
    with torch.no_grad():
        logits = demo_model(calibration_batch(24, seed=99))
    top1 = logits.argmax(1)
    # PyTorch's default init predicts one class for every image; the demo must not.
    assert len(set(top1.tolist())) >= 12
    assert 1.0 < float(logits.std()) < 20.0


@pytest.mark.parametrize("layout", ["bare", "wrapped", "module_prefix"])
def test_load_checkpoint_layouts(demo_checkpoint: Path, demo_model, tmp_path: Path, layout: str) -> None:
    state = torch.load(str(demo_checkpoint), **loader_options(torch.load))["state_dict"]
    if layout == "bare":
        obj = state
    elif layout == "wrapped":
        obj = {"state_dict": state, "epoch": 3}
    else:
        obj = {f"module.{k}": v for k, v in state.items()}
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    loaded = load_checkpoint(path)
    x = calibration_batch(2, seed=5)
    with torch.no_grad():
        assert torch.equal(loaded(x), demo_model(x))
    assert not is_demo_checkpoint(path) or layout == "wrapped"


def test_key_and_shape_mismatch_is_one_clear_error(demo_checkpoint: Path, tmp_path: Path) -> None:
    state = dict(torch.load(str(demo_checkpoint), **loader_options(torch.load))["state_dict"])
    del state["layer0.conv1.weight"]
    state["extra.weight"] = torch.zeros(1)
    state["last_linear.weight"] = torch.zeros(10, 2048)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(PipelineError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "missing 1 keys: layer0.conv1.weight" in message
    assert "unexpected 1 keys: extra.weight" in message
    assert "last_linear.weight (10, 2048) != (1000, 2048)" in message


def test_corrupt_or_missing_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(PipelineError, match="broken.pth: cannot load checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(PipelineError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent.pth")


def _hub_file(folder: Path, payload: bytes, good: bool) -> Path:
    digest = hashlib.sha256(payload).hexdigest()[:8]
    if not good:
        digest = f"{(int(digest, 16) + 1) % 16**8:08x}"
    path = folder / f"se_resnet50-{digest}.pth"
    path.write_bytes(payload)
    return path


def test_download_checks_the_hash_in_the_name(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    good = _hub_file(served, b"weights" * 1000, good=True)
    dest = tmp_path / "out" / good.name
    download_weights(dest, url=good.as_uri())
    assert dest.read_bytes() == good.read_bytes()
    verify_weights(dest)

    bad = _hub_file(served, b"tampered" * 1000, good=False)
    dest_bad = tmp_path / "out" / bad.name
    with pytest.raises(PipelineError, match="does not start with"):
        download_weights(dest_bad, url=bad.as_uri())
    assert not dest_bad.exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == [good.name]  # no temp file left
    with pytest.raises(PipelineError, match="does not start with"):
        verify_weights(bad)


def test_download_failure_is_one_line(tmp_path: Path) -> None:
    proc = run_in_process(get_weights.main, tmp_path / "se_resnet50-ce0d4300.pth",
                          "--url", (tmp_path / "nowhere" / "se_resnet50-ce0d4300.pth").as_uri(),
                          prog="get_weights.py", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "download failed" in proc.stderr
    assert not (tmp_path / "se_resnet50-ce0d4300.pth").exists()


class _Server:
    """A loopback HTTP server for one test: 404 for /missing, a body cut short for anything else."""

    def __enter__(self) -> str:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                if self.path.startswith("/missing"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 20))
                self.end_headers()
                self.wfile.write(b"x" * 1000)  # then the connection closes: a download cut mid-way

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("path, reason", [("/missing/se_resnet50-ce0d4300.pth", "Not Found"),
                                          ("/cut/se_resnet50-ce0d4300.pth", "closed after 1000 of 1048576 bytes")])
def test_network_failure_is_named_as_such(tmp_path: Path, path: str, reason: str) -> None:
    dest = tmp_path / "se_resnet50-ce0d4300.pth"
    with _Server() as base:
        proc = run_in_process(get_weights.main, dest, "--url", base + path, prog="get_weights.py", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    line = proc.stderr
    assert base + path in line and "the network did not deliver it" in line and reason in line
    assert "cannot write" not in line and "--demo" in line and "by hand" in line
    assert list(tmp_path.iterdir()) == []  # nothing kept, no temp file


def test_step2_missing_checkpoint_is_one_line_before_any_hashing(tmp_path: Path) -> None:
    absent = tmp_path / "se_resnet50-ce0d4300.pth"
    proc = run_in_process(SE_ResNet50_pth2onnx.main, absent, tmp_path / "out.onnx", prog="SE_ResNet50_pth2onnx.py", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{absent}: checkpoint not found" in proc.stderr and "get_weights.py" in proc.stderr
    assert not (tmp_path / "out.onnx").exists()


def test_demo_name_must_say_demo(tmp_path: Path) -> None:
    proc = run_in_process(get_weights.main, "--demo", tmp_path / "se_resnet50.pth", prog="get_weights.py", check=False)
    assert proc.returncode == 2 and "must say it is a demo" in proc.stderr


def test_pth2onnx_cli_exports_dynamic_opset11_with_its_fidelity_check(demo_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "se_resnet50_dynamic_bs.onnx"
    proc = run_in_process(SE_ResNet50_pth2onnx.main, demo_checkpoint, out, prog="SE_ResNet50_pth2onnx.py")
    assert "DEMO weights" in proc.stdout
    fidelity = [line for line in proc.stdout.splitlines() if line.startswith("fidelity:")]
    assert len(fidelity) == 1 and fidelity[0].endswith("OK")
    error = float(fidelity[0].split("rel err ")[1].split()[0])
    assert error < 1e-5

    model = onnx.load(out)
    onnx.checker.check_model(model)
    assert [op.version for op in model.opset_import if op.domain in ("", "ai.onnx")] == [11]
    (inp,), (outp,) = model.graph.input, model.graph.output
    assert inp.name == "image" and outp.name == "class"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert isinstance(dims[0], str) and dims[1:] == [3, 224, 224]
    assert [d.dim_param or d.dim_value for d in outp.type.tensor_type.shape.dim][1] == 1000

    import onnxruntime as ort
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        (logits,) = session.run(None, {"image": np.zeros((batch, 3, 224, 224), np.float32)})
        assert logits.shape == (batch, 1000)


def test_pth2onnx_bad_checkpoint_exits_2_without_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    out = tmp_path / "m.onnx"
    proc = run_in_process(SE_ResNet50_pth2onnx.main, bad, out, prog="SE_ResNet50_pth2onnx.py", check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "does not fit se_resnet50" in proc.stderr
    assert not out.exists()
