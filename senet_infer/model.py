"""SE-ResNet50 model, checkpoints: the real weights (download + SHA-256 check) and a seeded demo."""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, ContextManager, cast

import torch
from torch import nn

from . import imagenet
from .errors import PipelineError, first_line
from .fileio import atomic_path

WEIGHTS_URL = "https://data.lip6.fr/cadene/pretrainedmodels/se_resnet50-ce0d4300.pth"
WEIGHTS_NAME = "se_resnet50-ce0d4300.pth"
DEMO_WEIGHTS_NAME = "se_resnet50-DEMO-random-weights.pth"
DEMO_MARKER_KEY = "demo_weights"
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.pth$")


def inference_context() -> ContextManager[object]:
    """``torch.inference_mode()`` where it exists (torch >= 1.9), else ``torch.no_grad()`` (the guide's 1.6)."""
    mode = getattr(torch, "inference_mode", None)
    return mode() if mode is not None else torch.no_grad()


def build_model(num_classes: int = imagenet.NUM_CLASSES) -> nn.Module:
    """``pretrainedmodels.models.senet.se_resnet50`` without weights, in eval mode."""
    from pretrainedmodels.models import senet  # heavy import, only when a model is built

    return senet.se_resnet50(num_classes=num_classes, pretrained=None).eval()


def _state_dict_of(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """Unwrap a bare state_dict, a ``{"state_dict": ...}`` wrapper, and ``module.`` prefixes."""
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise PipelineError(f"{path}: not a state_dict (expected a mapping of names to tensors)")
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _brief(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def loader_options(load: Callable[..., Any]) -> dict[str, Any]:
    """Keyword arguments for ``torch.load``: ``weights_only=True`` where ``load`` has it.

    torch 1.13 added ``weights_only=`` (tensors and plain containers only, no arbitrary
    pickled code); torch 1.6 to 1.12 load any pickle. Detected from the signature, not from a
    version string.
    """
    try:
        parameters = inspect.signature(load).parameters
    except (TypeError, ValueError):  # a builtin without a signature: assume the old interface
        return {}
    return {"weights_only": True} if "weights_only" in parameters else {}


def _load(path: str | Path) -> object:
    return torch.load(str(path), map_location="cpu", **loader_options(torch.load))


def load_checkpoint(path: str | Path, num_classes: int = imagenet.NUM_CLASSES) -> nn.Module:
    """Build the model and load ``path`` into it; any key or shape mismatch is one clear error."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: checkpoint not found")
    try:
        obj = _load(path)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise PipelineError(f"{path}: cannot load checkpoint: {first_line(exc)}") from None
    state = _state_dict_of(obj, path)
    model = build_model(num_classes)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys: {_brief(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} keys: {_brief(unexpected)}")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shape mismatches: {_brief(wrong_shape)}")
    if problems:
        raise PipelineError(f"{path}: checkpoint does not fit se_resnet50: " + "; ".join(problems))
    model.load_state_dict(state)
    return model.eval()


def is_demo_checkpoint(path: str | Path) -> bool:
    """True when ``path`` is a demo checkpoint written by :func:`write_demo_checkpoint`."""
    try:
        obj = _load(path)
    except Exception:
        return False
    return isinstance(obj, Mapping) and bool(obj.get(DEMO_MARKER_KEY, False))


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_hash_prefix(path: str | Path) -> str | None:
    """The hash prefix in a hub-style name (``name-<hex>.pth``), or None."""
    match = _HASH_IN_NAME.search(Path(path).name)
    return match.group(1) if match else None


def verify_weights(path: str | Path) -> None:
    """Check that the file's SHA-256 starts with the prefix in its name (when the name carries one)."""
    if not Path(path).is_file():
        what = "a folder, not a checkpoint" if Path(path).is_dir() else "checkpoint not found"
        raise PipelineError(f"{path}: {what} (get it with: python3 get_weights.py {path}; offline: "
                            f"python3 get_weights.py --demo, or copy the file there by hand)")
    prefix = expected_hash_prefix(path)
    if prefix is None:
        return
    actual = sha256_of(path)
    if not actual.startswith(prefix):
        raise PipelineError(f"{path}: SHA-256 {actual[:16]}… does not start with {prefix} from the file name")


def download_weights(dest: str | Path, url: str = WEIGHTS_URL, timeout_s: float = 60.0) -> Path:
    """Fetch the official weights to ``dest`` and check the SHA-256 prefix; a bad download is not kept.

    A network failure (no route, DNS, refused, timeout, HTTP error, a connection cut mid-way) is one
    line that names the URL and says what to do offline; a local write failure names ``dest``.
    """
    import http.client
    import urllib.request

    dest = Path(dest)
    prefix = expected_hash_prefix(url.rsplit("/", 1)[-1])

    def network_error(exc: BaseException) -> PipelineError:
        reason = getattr(exc, "reason", None) or exc
        return PipelineError(f"{url}: download failed, the network did not deliver it ({reason}); offline, "
                             f"place the file by hand at {dest}, or use seeded demo weights: "
                             f"python3 get_weights.py --demo")

    try:
        response = urllib.request.urlopen(url, timeout=timeout_s)
    except (OSError, ValueError) as exc:  # URLError/HTTPError, timeouts, refused connections; ValueError: bad URL
        raise network_error(exc) from None
    length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
    with response, atomic_path(dest) as tmp:
        digest = hashlib.sha256()
        received = 0
        with open(tmp, "wb") as out:
            while True:
                try:
                    chunk = response.read(1 << 20)
                except (OSError, http.client.HTTPException) as exc:  # cut or timed out mid-way: not a write problem
                    raise network_error(exc) from None
                if not chunk:
                    break
                received += len(chunk)
                digest.update(chunk)
                out.write(chunk)
        if length and length.isdigit() and received != int(length):
            raise network_error(OSError(f"the connection closed after {received} of {length} bytes"))
        actual = digest.hexdigest()
        if prefix and not actual.startswith(prefix):
            raise PipelineError(f"{url}: downloaded file's SHA-256 {actual[:16]}… does not start with {prefix}")
    return dest


def calibration_batch(count: int, seed: int) -> torch.Tensor:
    """Normalised fp32 [count,3,224,224] inputs from seeded photo-like images (standard eval transform)."""
    from .preprocess import EvalTransform, photo_like_inputs

    return torch.from_numpy(photo_like_inputs(count, seed, EvalTransform(output_format="fp32"), (256, 500)))


@torch.no_grad()
def make_demo_model(seed: int = 0, calibration_images: int = 48, logit_std: float = 3.0) -> nn.Module:
    """A seeded random SE-ResNet50 that behaves numerically like a trained one.

    PyTorch's default init gives nearly the same tiny logits for every image. Here: He-normal
    convolutions, BatchNorm affine parameters spread around 1/0 with the last BatchNorm of each
    residual branch damped (as training leaves it; an undamped random 50-layer stack amplifies
    rounding several-fold), running statistics estimated on photo-like images, and a last layer
    centred on the mean feature and scaled so logits spread by a few units, which makes the
    predictions depend on the input.
    """
    torch.manual_seed(seed)
    model = build_model()
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.normal_(module.bias, 0.0, 0.1)
        elif isinstance(module, nn.BatchNorm2d):
            gain = 0.3 if name.endswith(".bn3") else 1.0
            nn.init.uniform_(module.weight, 0.5 * gain, 1.5 * gain)
            nn.init.normal_(module.bias, 0.0, 0.2)
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batches
    head = cast(nn.Linear, model.last_linear)
    nn.init.normal_(head.weight, 0.0, 0.01)
    nn.init.zeros_(head.bias)

    inputs = calibration_batch(calibration_images, seed)
    model.train()
    for batch in inputs.split(16):
        model(batch)
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.1

    # Centre the last layer on the mean feature, else one direction shared by all images picks
    # the same class for each of them; then scale so logits spread by about ``logit_std``.
    features = torch.cat([_pooled_features(model, batch) for batch in inputs.split(16)])
    head.bias.copy_(-head.weight @ features.mean(0))
    logits = head(features)
    scale = logit_std / float(logits.std())
    head.weight.mul_(scale)
    head.bias.mul_(scale)
    return model


def _pooled_features(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The input of ``last_linear`` (pretrainedmodels' SENet: ``features`` then average pooling)."""
    features, pool = cast(nn.Module, model.features), cast(nn.Module, model.avg_pool)
    pooled = pool(features(batch))
    return torch.flatten(pooled, 1)


def write_demo_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """Write a demo checkpoint (same keys and shapes as the real one, plus a demo marker), atomically."""
    path = Path(path)
    state = make_demo_model(seed).state_dict()
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, DEMO_MARKER_KEY: True, "seed": seed}, str(tmp))
    return path
