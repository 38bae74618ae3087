"""driftline's Lambda additions to MiniStack that need no MiniStack: the REPORT line and the
log's platform lines, the peak-memory reading, and the checks that fail a function the
local cloud cannot run."""

from __future__ import annotations

import io
import platform
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

# The local cloud's code runs in MiniStack's own environment; these parts need none of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))
from driftline_ministack import lambda_checks  # noqa: E402
from driftline_ministack.lambda_report import (  # noqa: E402
    InvocationReport,
    framed_log,
    peak_memory_mb,
    report_line,
    status_of,
)

sys.path.pop(0)

REQUEST = "8f5c2f3e-4a8e-4b43-9d3c-1d2f3e4a5b6c"
LAYER = "arn:aws:lambda:us-east-1:000000000000:layer:deps:3"
OTHER_CPU = "aarch64" if platform.machine() in ("x86_64", "AMD64") else "x86_64"


def test_a_cold_invocation_reports_its_init_and_bills_it() -> None:
    # Given a cold invocation of 12.341 ms after an init of 250.5 ms
    report = InvocationReport(REQUEST, 12.341, 256, max_memory_mb=61, init_duration_ms=250.5)
    # Then the REPORT line has AWS's fields, in AWS's order, tab-separated
    assert report_line(report) == (
        f"REPORT RequestId: {REQUEST}\tDuration: 12.34 ms\tBilled Duration: 263 ms\t"
        "Memory Size: 256 MB\tMax Memory Used: 61 MB\tInit Duration: 250.50 ms"
    )


def test_a_warm_invocation_has_no_init_and_a_timeout_says_so() -> None:
    warm = InvocationReport(REQUEST, 3.0, 128, max_memory_mb=40)
    assert report_line(warm).endswith(
        "\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB"
    )
    assert "Init Duration" not in report_line(warm)
    # A timeout and a dead process get a Status; a handler's own exception does not
    timed_out = InvocationReport(REQUEST, 1000.4, 128, max_memory_mb=40, status="timeout")
    assert report_line(timed_out).endswith(
        "\tBilled Duration: 1001 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout"
    )
    assert status_of("Sandbox.Timedout") == "timeout"
    assert status_of("Runtime.ExitError") == "error"
    assert status_of("ValueError") is None and status_of(None) is None
    # And a peak that could not be measured is left out rather than made up
    assert "Max Memory Used" not in report_line(InvocationReport(REQUEST, 1.0, 128))


def test_the_log_is_framed_by_start_end_and_report() -> None:
    report = InvocationReport(REQUEST, 1.0, 128, max_memory_mb=30)
    assert framed_log("hello\nworld\n", "$LATEST", report).splitlines() == [
        f"START RequestId: {REQUEST} Version: $LATEST",
        "hello",
        "world",
        f"END RequestId: {REQUEST}",
        report_line(report),
    ]
    # A handler that printed nothing leaves no empty line between START and END
    assert framed_log("", "7", report).splitlines()[:2] == [
        f"START RequestId: {REQUEST} Version: 7",
        f"END RequestId: {REQUEST}",
    ]


def test_peak_memory_is_the_process_high_water_mark(tmp_path: Path) -> None:
    # Given a /proc with a live process, a zombie (memory released) and no third process
    (tmp_path / "41").mkdir()
    (tmp_path / "41" / "status").write_text(
        "Name:\tpython\nVmPeak:\t 9000 kB\nVmHWM:\t  204800 kB\n"
    )
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text("Name:\tpython\nState:\tZ (zombie)\n")
    # Then VmHWM is read in MB, and what cannot be measured is None
    assert peak_memory_mb(41, tmp_path) == 200
    assert peak_memory_mb(42, tmp_path) is None
    assert peak_memory_mb(43, tmp_path) is None


def test_runtimes_that_need_a_container_fail_naming_the_runtime() -> None:
    for runtime in ("java21", "dotnet8", "ruby3.3"):
        found = lambda_checks.unsupported_runtime("fn", runtime, "Zip", "/usr/bin/node")
        assert found is not None
        code, reason = found
        assert code == "InvalidRuntime"
        assert f"runtime '{runtime}' is not supported by the local cloud" in reason
    image = lambda_checks.unsupported_runtime("fn", "", "Image", "/usr/bin/node")
    assert image is not None and "container-image functions need Docker" in image[1]
    # Node.js needs node on the PATH; the host-process runtimes pass
    no_node = lambda_checks.unsupported_runtime("fn", "nodejs20.x", "Zip", None)
    assert no_node is not None and "no `node` executable" in no_node[1]
    for runtime in ("python3.13", "nodejs20.x", "provided.al2023"):
        assert lambda_checks.unsupported_runtime("fn", runtime, "Zip", "/usr/bin/node") is None


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _wheel(prefix: str, name: str, tag: str) -> dict[str, str]:
    return {f"{prefix}{name}.dist-info/WHEEL": f"Wheel-Version: 1.0\nTag: {tag}\n"}


def _config(**extra: Any) -> dict[str, Any]:
    return {"FunctionName": "fn", "Runtime": "python3.13", "PackageType": "Zip", **extra}


def test_a_layer_of_foreign_wheels_is_refused_from_its_archive() -> None:
    # Given a layer holding a wheel for the other CPU and a pure one, and a package with
    # a pure wheel at its root
    layer = _zip(
        {
            "python/fastcsv/__init__.py": "",
            **_wheel("python/", "fastcsv-1.2", f"cp313-cp313-manylinux_2_28_{OTHER_CPU}"),
            **_wheel("python/lib/python3.13/site-packages/", "attrs-26.1", "py3-none-any"),
        }
    )
    code = _zip({"app.py": "", **_wheel("", "idna-3.12", "py3-none-any")})
    config = _config(Layers=[{"Arn": LAYER, "CodeSize": len(layer)}])
    # When the function is checked
    found = lambda_checks.refusal(config, code, lambda ref: layer, "/usr/bin/node")
    # Then it is refused naming the wheel, its layer and platform, and the fix
    assert found is not None
    code_name, reason = found
    assert code_name == "InvalidConfiguration"
    assert f"fastcsv 1.2 in layer {LAYER}" in reason
    assert f"manylinux_2_28_{OTHER_CPU}" in reason
    assert "driftline:target=local" in reason
    assert "attrs" not in reason and "idna" not in reason


def test_pure_and_host_wheels_pass_and_a_broken_archive_is_named() -> None:
    layer = _zip(_wheel("python/", "pydantic-2.14", "py3-none-any"))
    config = _config(Layers=[LAYER])
    assert lambda_checks.refusal(config, _zip({"app.py": ""}), lambda ref: layer, None) is None
    # A layer MiniStack has no content for is not checked
    assert lambda_checks.refusal(config, None, lambda ref: None, None) is None
    broken = lambda_checks.refusal(config, b"not a zip", lambda ref: None, None)
    assert broken is not None and broken[0] == "InvalidZipFileException"


def test_a_failed_function_is_marked_and_found_failed_per_version() -> None:
    latest = _config(State="Pending")
    lambda_checks.mark_failed(latest, "InvalidRuntime", "no JVM here")
    assert latest["State"] == "Failed" and latest["StateReason"] == "no JVM here"
    assert latest["LastUpdateStatus"] == "Failed"
    assert latest["StateReasonCode"] == latest["LastUpdateStatusReasonCode"] == "InvalidRuntime"
    record = {"config": latest, "versions": {"1": {"config": _config(State="Active")}}}
    assert lambda_checks.failed_state(record, None)
    assert lambda_checks.failed_state(record, "$LATEST")
    assert not lambda_checks.failed_state(record, "1")
    assert not lambda_checks.failed_state(record, "live")  # an alias is not looked up


class Provisioner:
    """MiniStack's AWS::Lambda::Function handlers over a table of function records."""

    def __init__(self, functions: dict[str, Any]) -> None:
        self.functions = functions
        self.deleted: list[str] = []

    def create(self, logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        config = _config(FunctionName=props["FunctionName"], Runtime=props["Runtime"])
        self.functions[props["FunctionName"]] = {"config": {**config, "State": "Active"}}
        return props["FunctionName"], {"Arn": f"arn:{props['FunctionName']}"}

    def update(self, physical_id: str, old: dict[str, Any], new: dict[str, Any], **_: Any) -> Any:
        self.functions[physical_id]["config"]["Runtime"] = new["Runtime"]
        return physical_id, {}

    def delete(self, physical_id: str, props: dict[str, Any]) -> None:
        self.deleted.append(physical_id)
        self.functions.pop(physical_id)


def test_a_stack_function_the_local_cloud_cannot_run_fails_its_resource() -> None:
    # Given MiniStack's provisioner for functions, checked
    provisioner = Provisioner({})
    service = SimpleNamespace(_functions=provisioner.functions, _resolve_layer_zip=lambda r: None)
    handlers = lambda_checks.checked_function_resources(
        service,
        {"create": provisioner.create, "update": provisioner.update, "delete": provisioner.delete},
    )
    # When a Python function is created, and a Java one
    props = {"FunctionName": "ok", "Runtime": "python3.13"}
    assert handlers["create"]("Ok", props, "stack") == ("ok", {"Arn": "arn:ok"})
    with pytest.raises(ValueError, match="AWS::Lambda::Function Jvm: .*runtime 'java21'"):
        handlers["create"]("Jvm", {"FunctionName": "jvm", "Runtime": "java21"}, "stack")
    # Then the Java one is gone again, and the Python one stays Active
    assert provisioner.deleted == ["jvm"] and "jvm" not in provisioner.functions
    assert provisioner.functions["ok"]["config"]["State"] == "Active"
    # And an update to a runtime it cannot run fails, leaving the function Failed
    with pytest.raises(ValueError, match="runtime 'ruby3.3'"):
        handlers["update"]("ok", props, {**props, "Runtime": "ruby3.3"}, logical_id="Ok")
    assert provisioner.functions["ok"]["config"]["State"] == "Failed"
