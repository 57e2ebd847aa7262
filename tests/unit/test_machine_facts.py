"""Machine facts: CPU identity from cpuinfo text, cgroup quotas, fitted threads."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.runtime import machine_facts
from reprobox.runtime.machine_facts import (
    cgroup_cpu_quota,
    cpu_facts,
    cpu_identity,
    fitted_threads,
    numerics_env,
)

INTEL = """\
processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8480+
stepping\t: 8
flags\t\t: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 avx512f \
avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 \
amx_tile amx_int8 avx_vnni
bogomips\t: 4000.00

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
model name\t: Some Other CPU
flags\t\t: fpu sse
"""

AMD = """\
processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 23
model\t\t: 49
model name\t: AMD EPYC 7B12 64-Core Processor
flags\t\t: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 sha_ni
bugs\t\t: sysret_ss_attrs spectre_v1

processor\t: 1
vendor_id\t: AuthenticAMD
"""

AARCH64 = """\
processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid \
asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1

processor\t: 1
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics sve sve2
CPU implementer\t: 0x41
CPU part\t: 0xd0c
"""


def test_intel_identity_reads_first_processor_only():
    facts = cpu_identity(INTEL)
    assert facts["vendor"] == "GenuineIntel"
    assert facts["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert facts["family"] == "6"
    assert facts["flags"] == sorted(
        [
            "sse4_1",
            "sse4_2",
            "fma",
            "f16c",
            "avx",
            "avx2",
            "avx_vnni",
            "avx512f",
            "avx512cd",
            "avx512bw",
            "avx512dq",
            "avx512vl",
            "avx512_vnni",
            "avx512_bf16",
            "avx512_fp16",
            "amx_tile",
            "amx_int8",
            "amx_bf16",
        ]
    )


def test_amd_identity_keeps_only_numerics_flags():
    facts = cpu_identity(AMD)
    assert facts["vendor"] == "AuthenticAMD"
    assert facts["model"] == "AMD EPYC 7B12 64-Core Processor"
    assert facts["family"] == "23"
    assert facts["flags"] == ["avx", "avx2", "f16c", "fma", "sse4_1", "sse4_2"]


def test_aarch64_identity_reads_features_and_implementer():
    facts = cpu_identity(AARCH64)
    assert facts["vendor"] == "0x41"
    assert facts["family"] is None
    # sve/sve2 are on processor 1 only: the first block is what counts.
    assert facts["flags"] == ["asimd"]


def test_aarch64_model_names_the_cpu_part(monkeypatch):
    monkeypatch.setattr(machine_facts.platform, "processor", lambda: "")
    assert "0xd0c" in (cpu_identity(AARCH64)["model"] or "")


def test_identity_of_empty_text_has_no_vendor_or_flags():
    facts = cpu_identity("")
    assert facts["vendor"] is None
    assert facts["flags"] == []


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


@pytest.mark.parametrize(
    ("cpu_max", "quota"),
    [
        ("max 100000", None),
        ("150000 100000", 1.5),
        ("100000 100000", 1.0),
        ("50000 100000", 0.5),
        ("800000 100000", 8.0),
    ],
)
def test_cgroup_v2_cpu_max(tmp_path, cpu_max, quota):
    _write(tmp_path, "cpu.max", cpu_max)
    assert cgroup_cpu_quota(str(tmp_path)) == (quota, "v2")


@pytest.mark.parametrize("layout", ["cpu", "cpu,cpuacct", "cpuacct,cpu"])
@pytest.mark.parametrize(
    ("quota_us", "period_us", "quota"),
    [("-1", "100000", None), ("100000", "100000", 1.0), ("150000", "100000", 1.5)],
)
def test_cgroup_v1_cfs_quota(tmp_path, layout, quota_us, period_us, quota):
    _write(tmp_path, f"{layout}/cpu.cfs_quota_us", quota_us)
    _write(tmp_path, f"{layout}/cpu.cfs_period_us", period_us)
    assert cgroup_cpu_quota(str(tmp_path)) == (quota, "v1")


def test_cgroup_v1_without_period_is_unknown(tmp_path):
    _write(tmp_path, "cpu/cpu.cfs_quota_us", "100000")
    assert cgroup_cpu_quota(str(tmp_path)) == (None, "unknown")


def test_no_cgroup_files_is_unknown(tmp_path):
    assert cgroup_cpu_quota(str(tmp_path)) == (None, "unknown")


@pytest.mark.parametrize(
    ("quota", "visible", "threads"),
    [
        (1.0, 2, 1),
        (1.5, 2, 1),
        (0.5, 2, 1),
        (None, 2, 2),
        (8.0, 2, 2),
        (None, 16, 16),
        (3.0, 16, 3),
        (2.9999999999, 4, 3),
        (0.01, 1, 1),
    ],
)
def test_fitted_threads(quota, visible, threads):
    assert fitted_threads(quota, visible) == threads


@pytest.mark.parametrize(
    ("files", "version"),
    [
        ({"cpu.max": "100000 100000"}, "v2"),
        ({"cpu/cpu.cfs_quota_us": "100000", "cpu/cpu.cfs_period_us": "100000"}, "v1"),
    ],
)
def test_cpu_quota_case_two_visible_quota_one(tmp_path, monkeypatch, files, version):
    """The shared case run/cpu-quota.md: 2 visible CPUs, --cpus 1 -> 1 thread."""
    for rel, text in files.items():
        _write(tmp_path, rel, text)
    monkeypatch.setattr(machine_facts, "visible_cpus", lambda: 2)
    facts = cpu_facts(str(tmp_path))
    assert facts["visible_cpus"] == 2
    assert facts["cpu_quota"] == 1.0
    assert facts["cgroup_version"] == version
    assert facts["fitted_threads"] == 1


def test_visible_cpus_follows_affinity(monkeypatch):
    monkeypatch.setattr(machine_facts.os, "sched_getaffinity", lambda pid: {0, 3, 5})
    assert machine_facts.visible_cpus() == 3


def test_numerics_env_picks_known_and_extra_names_sorted():
    environ = {
        "OMP_NUM_THREADS": "2",
        "HOME": "/root",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "MY_FLAG": "x",
    }
    assert numerics_env(environ, extra_names=("MY_FLAG",)) == {
        "MY_FLAG": "x",
        "OMP_NUM_THREADS": "2",
        "TF_ENABLE_ONEDNN_OPTS": "0",
    }
    assert list(numerics_env(environ)) == ["OMP_NUM_THREADS", "TF_ENABLE_ONEDNN_OPTS"]
