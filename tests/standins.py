"""Text of the vendor tools' stand-ins shared by the Ascend tests."""

# What `npu-smi info` prints on a 310P3 host (a heredoc, to follow a script's first lines).
NPU_SMI_TABLE = """\
cat <<'TABLE'
+-------------------+-----------------+------------------------------------------------------+
| npu-smi 22.0.0                      Version: 22.0.2                                        |
+-------------------+-----------------+------------------------------------------------------+
| NPU     Name      | Health          | Power(W)     Temp(C)           Hugepages-Usage(page) |
| Chip    Device    | Bus-Id          | AICore(%)    Memory-Usage(MB)                        |
+===================+=================+======================================================+
| 0       310P3     | OK              | 15.8         42                0    / 0              |
| 0       0         | 0000:82:00.0    | 0            1074 / 21534                            |
+===================+=================+======================================================+
TABLE
"""

# Python lines for a stand-in ais_bench: ``value("--name")`` reads ``--name v`` or ``--name=v`` from argv.
ARGV_VALUE = """\
args = sys.argv[1:]
def value(name):
    for i, a in enumerate(args):
        if a == name:
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None
"""
