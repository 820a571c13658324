"""The progress tree coalesces: a 500-device step's events, applied as one
batch, cost one update for the devices and one for the step row."""

from __future__ import annotations

from opsconsole.core.duty import Plan, PlannedStep, ProgressEvent, StepResult
from opsconsole.core.duty.planner import SKIPPED
from opsconsole.ui.duty.progress_model import SwitchProgressModel
from opsconsole.ui.theme import DARK

DEVICES = tuple(f"m-{i:03d}" for i in range(500))


def plan() -> Plan:
    steps = [PlannedStep(0, "snmp-set", {"control": "sleep"}, DEVICES, 30.0),
             PlannedStep(1, "command", {"argv": ["true"]}, (), 10.0),
             PlannedStep(2, "wait-metric", {"metric": "hashrate_ths", "op": "<", "value": 1},
                         DEVICES, 60.0)]
    return Plan("row-a", "mining", "idle", steps=steps, device_count=500)


def ev(kind: str, pos: int | None = None, **kw) -> ProgressEvent:
    return ProgressEvent(kind, "row-a", 7, pos, 3, **kw)


def test_500_device_events_in_one_batch_are_two_updates(qtbot):
    model = SwitchProgressModel(DARK)
    model.set_plan(plan())
    changes: list = []
    model.dataChanged.connect(lambda a, b, _r: changes.append((a, b)))
    batch = [ev("plan-start"), ev("step-start", 0)]
    batch += [ev("device", 0, device=d, ok=i != 3, message="boom" if i == 3 else "set")
              for i, d in enumerate(DEVICES)]
    model.apply(batch)
    assert len(changes) == 2 and model.updates == 2
    assert model.switch_id == 7 and model.step_status(0) == "running"
    model.apply([ev("step-end", 0, ok=False, message="499 of 500 ok")])
    assert model.step_status(0) == "partial"
    assert model.failed_devices() == [("m-003", "boom")]
    assert model.index(0, 2).data() == "499 of 500 ok"
    assert model.rowCount(model.index(1, 0)) == 0  # a group action has no devices


def test_the_result_marks_steps_not_run_and_skips(qtbot):
    model = SwitchProgressModel(DARK)
    model.set_plan(plan())
    skipped = [*(d for d in DEVICES[:1])]
    model.apply_result([
        StepResult(0, 0, "snmp-set", "partial", "499 of 500 ok"),
        StepResult(1, 1, "command", "failed", "exit 1"),
        StepResult(2, 2, "wait-metric", "not_run", "not run: step 2 (command) failed")])
    assert [model.step_status(i) for i in range(3)] == ["partial", "failed", "not run"]
    assert model.device_status(2, "m-499") == "not run"
    model.apply([ev("device", 0, device=skipped[0], ok=False, message=SKIPPED)])
    assert model.device_status(0, "m-000") == "skipped"
    assert model.index(1, 1).data().endswith("failed")
