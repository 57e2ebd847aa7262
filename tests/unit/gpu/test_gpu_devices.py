"""--gpus values become the DeviceRequest docker run --gpus sends."""

import pytest

from reprobox.errors import InputError
from reprobox.gpu.devices import describe_gpus, parse_gpus_option


def _fields(requests):
    return [dict(r) for r in requests]


def test_all():
    requests = parse_gpus_option("all")
    assert _fields(requests) == [
        {
            "Driver": "",
            "Count": -1,
            "DeviceIDs": [],
            "Capabilities": [["gpu"]],
            "Options": {},
        }
    ]
    assert describe_gpus(requests) == "all"


def test_count():
    requests = parse_gpus_option("2")
    assert requests[0]["Count"] == 2 and requests[0]["DeviceIDs"] == []
    assert requests[0]["Capabilities"] == [["gpu"]]
    assert describe_gpus(requests) == "2"


@pytest.mark.parametrize(
    "value",
    ["device=0,2", '"device=0,2"', "'device=0,2'", ' "device=0, 2" ', "device=0, 2"],
)
def test_device_indexes(value):
    requests = parse_gpus_option(value)
    assert requests[0]["DeviceIDs"] == ["0", "2"] and requests[0]["Count"] == 0
    assert describe_gpus(requests) == "device=0,2"


def test_device_uuid():
    uuid = "GPU-5a4e1c2b-9f3d-4e7a-8b1c-0d2e3f4a5b6c"
    assert parse_gpus_option(f"device={uuid}")[0]["DeviceIDs"] == [uuid]


@pytest.mark.parametrize("value", [None, "none", "0", "00"])
def test_no_gpu(value):
    assert parse_gpus_option(value) is None
    assert describe_gpus(None) is None


@pytest.mark.parametrize(
    "value,words",
    [
        # brk r40 (BC 5): --gpus '' ran, recorded as a GPU option that compare
        # then called a setup difference; empty values of other flags are refused.
        ("", "gives no GPU selection"),
        ("  ", "gives no GPU selection"),
        ("some", "not a GPU selection"),
        ("-1", "not a GPU selection"),
        ("device=", "names no GPU"),
        ("device=0,x", "'x'"),
        ("device=1,1", "twice"),
        # 0 and 00 are one index (review, stop 17): it passed the check.
        ("device=0,00", "twice"),
        ("device=GPU-0123abcd,GPU-0123abcd", "twice"),
        ("count=2", "not a GPU selection"),
        # Digits of other scripts: "\u0661" was a count of 1, "\u00b2" a
        # traceback from int(), "device=\u0661" sent to the engine as an index.
        ("\u0661", "not a GPU selection"),
        ("\uff12", "not a GPU selection"),
        ("\u00b2", "not a GPU selection"),
        ("1_0", "not a GPU selection"),
        ("device=\u0661", "'\u0661' is not a GPU index"),
        # brk r42 (BE 10, BF 6): any quote on either end was stripped, so a
        # lone one passed ('"all', "'0\"").
        ('"all', "not a GPU selection"),
        ("'0\"", "not a GPU selection"),
        ('device="0","1"', "is not a GPU index or UUID"),
    ],
)
def test_invalid_values_name_the_fix(value, words):
    with pytest.raises(InputError) as err:
        parse_gpus_option(value)
    assert words in str(err.value)
    assert "--gpus all" in str(err.value) and "device=0,2" in str(err.value)
