"""README's "On an Ascend host", followed word for word on a stand-in Ascend host.

The section's bash blocks are taken from README.md and run, as written, in one bash shell in a
fresh copy of the project (the guide's work folder), on a host whose vendor parts are stand-ins:

- ``python3`` (the host's system Python, on the PATH from the start): records its command line,
  treats ``-m pip install`` as a no-op, and otherwise runs the test's interpreter with a stand-in
  ``ais_bench`` package importable (the toolkit installs the real one into the system Python);
- ``npu-smi`` (the driver's, on the PATH from the start) prints a 310P3 table;
- a CANN tree whose ``set_env.sh`` puts a stand-in ``atc`` on the PATH and exports
  ``ASCEND_TOOLKIT_HOME``; the stand-in ``ais_bench`` refuses to run without it, as the real one
  cannot load its libraries before ``set_env.sh`` is sourced.

Two rewrites of the README's text, and only these: the CANN prefix ``/usr/local/Ascend/`` points at
the stand-in tree, and step 2's ``./se_resnet50-ce0d4300.pth`` becomes the demo checkpoint
``./se_resnet50-DEMO-random-weights.pth``, as the README tells offline users (a demo file cannot
pass the SHA-256 check that the real name asks for).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import REPO
from standins import ARGV_VALUE, NPU_SMI_TABLE

CANN_PREFIX = "/usr/local/Ascend/"
WEIGHTS = "./se_resnet50-ce0d4300.pth"
DEMO_WEIGHTS = "./se_resnet50-DEMO-random-weights.pth"
# The guide's command lines (PIPELINE.md's table), as argv.
GUIDE_ATC = shlex.split(
    'atc --model=./se_resnet50_dynamic_bs.onnx --framework=5 --input_format=NCHW --input_shape="image:32,3,224,224" '
    "--output=./se_resnet50_fp16_bs32 --log=error --soc_version=Ascend310P3 "
    "--insert_op_conf=./aipp_SE_ResNet50_pth.config --enable_small_channel=1")
GUIDE_INFER = shlex.split(
    "python3 -m ais_bench --model ./se_resnet50_fp16_bs32.om --batchsize 32 --input ./data/ImageNet_bin "
    "--output ./ --output_dirname result --outfmt TXT")
GUIDE_PERF = shlex.split("python3 -m ais_bench --model=./se_resnet50_fp16_bs32.om --loop=20 --batchsize=32")

# Every stand-in appends one line per call: its name and its arguments, tab-separated.
RECORD = """{ printf '%s' "$(basename "$0")"; printf '\\t%s' "$@"; printf '\\n'; } >> "$STANDIN_LOG"\n"""
HOST_PYTHON = """\
#!/usr/bin/env bash
# The host's system python3: the toolkit's ais_bench is installed into it.
""" + RECORD + """\
if [[ "${1:-}" == "-m" && "${2:-}" == "pip" ]]; then exit 0; fi
export PYTHONPATH="@SITE@${PYTHONPATH:+:$PYTHONPATH}"
exec "@PYTHON@" "$@"
"""
ATC = """\
#!/usr/bin/env bash
""" + RECORD + """\
for arg in "$@"; do case "$arg" in --output=*) echo "stand-in om" > "${arg#--output=}.om";; esac; done
echo "ATC run success, welcome to the next use."
"""
SET_ENV = """\
export ASCEND_TOOLKIT_HOME=@HOME@
export PATH="$ASCEND_TOOLKIT_HOME/bin:$PATH"
"""
# ais_bench's TXT results (<stem up to the first dot>_0.txt, "%f " per value) and its one-line summary.
AIS_BENCH = """\
import json, os, sys
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write("\\t".join(["ais_bench"] + sys.argv[1:]) + "\\n")
if "ASCEND_TOOLKIT_HOME" not in os.environ:
    sys.exit("[ERROR] libascendcl.so: cannot open shared object file (set_env.sh not sourced)")
""" + ARGV_VALUE + """\
if not os.path.isfile(value("--model")):
    sys.exit("[ERROR] model file not found: " + value("--model"))
batch = int(value("--batchsize") or 1)
if value("--input"):
    classes = json.load(open(os.environ["STANDIN_CLASSES"]))
    out_dir = os.path.join(value("--output"), value("--output_dirname"))
    os.makedirs(out_dir, exist_ok=True)
    filesinfo = {}
    names = sorted(n for n in os.listdir(value("--input")) if n.endswith((".bin", ".npy")))  # what it scans for
    for i, name in enumerate(names):
        stem = name.split(".")[0]
        logits = [0.0] * 1000
        logits[classes[stem]] = 10.0
        logits[(classes[stem] + 1) % 1000] = 5.0
        out = os.path.join(out_dir, stem + "_0.txt")
        with open(out, "w") as fh:
            fh.write("".join("%f " % v for v in logits) + "\\n")
        filesinfo[str(i)] = {"infiles": [os.path.join(value("--input"), name)], "outfiles": [out]}
    stats = {"min": 2.5, "max": 2.5, "mean": 2.5, "median": 2.5, "percentile(99%)": 2.5, "count": 1}
    summary = {"filesinfo": filesinfo, "args": sys.argv, "NPU_compute_time": stats, "H2D_latency": stats,
               "D2H_latency": stats, "throughput": 1000 * batch / 2.5, "npu_compute_time_list": [2.5],
               "pid": os.getpid()}
    with open(out_dir.rstrip("/") + "_summary.json", "w") as fh:
        json.dump(summary, fh)
print("[INFO] throughput 1000*batchsize.mean(%d)/NPU_compute_time.mean(2.5): %s" % (batch, 1000 * batch / 2.5))
"""


def ascend_section_blocks() -> List[str]:
    """The ```bash blocks of README.md's "## On an Ascend host" section, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## On an Ascend host\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```bash\n(.*?)^```$", section, flags=re.S | re.M)


def make_project_copy(work: Path) -> None:
    """The project as a user's clone holds it: step scripts, package, configs, requirements."""
    for path in REPO.iterdir():
        if path.is_file() and (path.suffix in (".py", ".config", ".sh", ".txt")):
            shutil.copy2(path, work / path.name)
    for folder in ("senet_infer", "scripts"):
        shutil.copytree(REPO / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__"))


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def calls_by_block(log: Path) -> Dict[int, List[List[str]]]:
    """The stand-ins' calls, grouped by the README block that made them."""
    calls: Dict[int, List[List[str]]] = {}
    block = -1
    for line in log.read_text().splitlines():
        fields = line.split("\t")
        if fields[0] == "block":
            block = int(fields[1])
            calls[block] = []
        else:
            calls[block].append(fields)
    return calls


@pytest.mark.parametrize("name, chip_name", [("310P3", "310P3"), ("Ascend910B3", "910B3")])
def test_readme_chip_name_line(tmp_path: Path, name: str, chip_name: str) -> None:
    """The README's ``chip_name=`` line reads the Name column, with or without an ``Ascend`` prefix."""
    line = next(cmd for cmd in ascend_section_blocks()[1].splitlines() if cmd.startswith("chip_name="))
    executable(tmp_path / "npu-smi", "#!/usr/bin/env bash\n" + NPU_SMI_TABLE.replace("310P3", name))
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-c", f'set -euo pipefail\n{line}\necho "$chip_name"'], env=env,
                          capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (0, chip_name + "\n"), proc.stderr


@pytest.mark.slow
@pytest.mark.torch
def test_readme_ascend_section_runs_word_for_word(tmp_path: Path, demo_checkpoint: Path, image_dir: Path) -> None:
    blocks = ascend_section_blocks()
    assert len(blocks) == 3, blocks  # set-up, the guide's commands, the whole chain
    setup, guide, chain = blocks
    assert setup.count(CANN_PREFIX) == 1 and guide.count(WEIGHTS) == 1
    assert CANN_PREFIX not in guide + chain and WEIGHTS not in setup + chain

    host_bin, cann, site, work = tmp_path / "host-bin", tmp_path / "usr/local/Ascend", tmp_path / "site", tmp_path / "work"
    toolkit = cann / "ascend-toolkit" / "latest"
    executable(host_bin / "python3", HOST_PYTHON.replace("@SITE@", str(site)).replace("@PYTHON@", sys.executable))
    executable(host_bin / "npu-smi", "#!/usr/bin/env bash\n" + RECORD + NPU_SMI_TABLE)
    executable(toolkit / "bin" / "atc", ATC)
    (cann / "ascend-toolkit" / "set_env.sh").write_text(SET_ENV.replace("@HOME@", str(toolkit)))
    (site / "ais_bench").mkdir(parents=True)
    (site / "ais_bench" / "__init__.py").write_text("")
    (site / "ais_bench" / "__main__.py").write_text(AIS_BENCH)

    work.mkdir()
    make_project_copy(work)
    images = sorted(image_dir.iterdir())[:4]
    val_union = work / "dataset" / "ImageNet" / "val_union"
    val_union.mkdir(parents=True)
    for image in images:
        shutil.copyfile(image, val_union / image.name)
    stems = [image.name.split(".")[0] for image in images]
    classes = {stem: 100 + 7 * i for i, stem in enumerate(stems)}
    (tmp_path / "classes.json").write_text(json.dumps(classes))
    # The last image's label is the stand-in's second class: top-1 3 of 4, top-5 4 of 4.
    labels = [classes[s] + (1 if i == len(stems) - 1 else 0) for i, s in enumerate(stems)]
    (work / "dataset" / "ImageNet" / "val_label.txt").write_text(
        "".join(f"{image.name} {label}\n" for image, label in zip(images, labels)))
    shutil.copyfile(demo_checkpoint, work / DEMO_WEIGHTS)

    log = tmp_path / "calls.log"
    script = ["set -euo pipefail"]
    for number, block in enumerate(blocks):
        block = block.replace(CANN_PREFIX, f"{tmp_path}{CANN_PREFIX}").replace(WEIGHTS, DEMO_WEIGHTS)
        script += [f"printf 'block\\t{number}\\n' >> \"$STANDIN_LOG\"", block]
        if number == 1:  # keep step 5's answer: the whole chain writes the file again
            script.append(f"cp accuracy_result.json {shlex.quote(str(tmp_path / 'guide_accuracy.json'))}")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{host_bin}{os.pathsep}/usr/bin{os.pathsep}/bin", STANDIN_LOG=str(log),
               STANDIN_CLASSES=str(tmp_path / "classes.json"),
               # run_infer.sh looks for the guide's weights online first: refuse at once, never download
               https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", no_proxy="", NO_PROXY="")
    assert shutil.which("atc", path=env["PATH"]) is None  # only set_env.sh brings it
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    calls = calls_by_block(log)

    # Set-up: pip was asked for the host requirements and nothing else.
    assert [c for c in calls[0] if c[:3] == ["python3", "-m", "pip"]] == [
        ["python3", "-m", "pip", "install", "-r", "requirements-host.txt"]]

    # The guide's commands: the vendor tools got the guide's exact command lines, once each.
    vendor = [c for c in calls[1] if c[0] in ("atc", "ais_bench")]
    assert vendor == [GUIDE_ATC, ["ais_bench", *GUIDE_INFER[3:]], ["ais_bench", *GUIDE_PERF[3:]]]
    assert [c for c in calls[1] if c[:3] == ["python3", "-m", "ais_bench"]] == [GUIDE_INFER, GUIDE_PERF]
    assert ["npu-smi", "info"] in calls[1]
    # ... and the project's steps 1, 2 and 5 ran with the host's python3 and wrote their files.
    project = [c[:2] for c in calls[1] if c[0] == "python3" and c[1] != "-m"]
    assert project == [["python3", "imagenet_torch_preprocess.py"], ["python3", "SE_ResNet50_pth2onnx.py"],
                       ["python3", "./vision_metric_ImageNet.py"]]
    bins = sorted((work / "data" / "ImageNet_bin").glob("*.bin"))
    assert [b.stem for b in bins] == sorted(stems) and {b.stat().st_size for b in bins} == {256 * 256 * 3}
    import onnx

    model = onnx.load(str(work / "se_resnet50_dynamic_bs.onnx"))
    assert [i.name for i in model.graph.input] == ["image"]
    assert sorted(p.name for p in (work / "result").iterdir()) == sorted(f"{s}_0.txt" for s in stems)

    # The whole chain, with the host's python3 as $PYTHON, finished with the same vendor commands.
    assert "Ascend host" in proc.stdout and "chip from 'npu-smi info': Ascend310P3" in proc.stdout
    vendor = [c for c in calls[2] if c[0] in ("atc", "ais_bench")]
    assert vendor[0] == GUIDE_ATC and vendor[1] == ["ais_bench", *GUIDE_INFER[3:]]
    for accuracy in (tmp_path / "guide_accuracy.json", work / "accuracy_result.json"):
        values = {row["key"]: row["value"] for row in json.loads(accuracy.read_text())["value"]}
        assert values["Number of images"] == "4"
        assert values["Top1 accuracy"] == "75.0%" and values["Top5 accuracy"] == "100.0%", (accuracy, values)
