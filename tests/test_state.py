"""The incident state machine: table-driven sequences and properties over random ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.config.policy import Policy
from sitewatch.incidents.state import CheckState, IncidentEvent, step
from sitewatch.probe import Status

OK, WARN, CRIT, ERR = Status.OK, Status.WARNING, Status.CRITICAL, Status.ERROR


def run(
    statuses: list[Status], policy: Policy | None = None, suppressed: set[int] | None = None, dt: float = 60.0
) -> list[tuple[int, str]]:
    """Feed statuses one minute apart; return (index, event kind) pairs."""
    state, out = CheckState(), []
    for i, status in enumerate(statuses):
        state, events = step(
            state, status, f"run {i}", i * dt, policy or Policy(), suppressed=i in (suppressed or set())
        )
        out += [(i, e.kind) for e in events]
    return out


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param([CRIT, CRIT], [], id="two-failures-are-a-blip"),
        pytest.param([CRIT, CRIT, CRIT], [(2, "opened")], id="third-failure-opens"),
        pytest.param([CRIT, OK, CRIT, OK, CRIT], [], id="never-three-in-a-row"),
        pytest.param([CRIT, CRIT, CRIT, CRIT, OK], [(2, "opened")], id="one-ok-does-not-resolve"),
        pytest.param([CRIT, CRIT, CRIT, OK, OK], [(2, "opened"), (4, "resolved")], id="two-oks-resolve"),
        pytest.param([WARN, WARN, WARN, CRIT], [(2, "opened"), (3, "worsened")], id="warning-to-critical"),
        pytest.param([CRIT, CRIT, CRIT, WARN], [(2, "opened"), (3, "improved")], id="critical-to-warning"),
        pytest.param([ERR, ERR, ERR], [(2, "opened")], id="error-counts-as-failing"),
        pytest.param(
            [CRIT, CRIT, CRIT, OK, OK, CRIT, CRIT, CRIT],
            [(2, "opened"), (4, "resolved"), (7, "opened")],
            id="second-outage",
        ),
    ],
)
def test_sequences(statuses: list[Status], expected: list[tuple[int, str]]) -> None:
    """Each sequence yields exactly the expected incident events with the defaults (3 / 2)."""
    assert run(statuses) == expected


def test_error_can_be_ignored() -> None:
    """With error_is_failure: false, could-not-measure never opens an incident."""
    assert run([ERR] * 5, Policy(error_is_failure=False)) == []


def test_fail_for_opens_before_fail_after() -> None:
    """fail_for: 90s opens on the second failure a minute apart, before three in a row."""
    assert run([CRIT, CRIT], Policy(fail_after=10, fail_for=60)) == [(1, "opened")]


def test_maintenance_suppresses_opening_but_not_an_open_incident() -> None:
    """Suppressed runs open nothing; an incident open before maintenance still resolves."""
    assert run([CRIT, CRIT, CRIT, CRIT], suppressed={0, 1, 2, 3}) == []
    assert run([CRIT, CRIT, CRIT, CRIT, OK, OK], suppressed={3, 4, 5}) == [(2, "opened"), (5, "resolved")]
    # After the window the failure streak counts as usual.
    assert run([CRIT, CRIT, CRIT, CRIT], suppressed={0, 1, 2}) == [(3, "opened")]


def test_flapping_opens_one_incident_marked_flapping() -> None:
    """A check flipping every minute opens one flapping incident, not a storm."""
    state, events = CheckState(), []
    policy = Policy(flap_changes=4)
    for i, status in enumerate([CRIT, OK] * 10):
        state, new = step(state, status, "x", i * 60.0, policy)
        events += new
    assert [e.kind for e in events] == ["opened"]
    assert events[0].flapping


def test_resolved_event_carries_the_opening_time() -> None:
    """The recovery event knows when the incident opened, to state the downtime."""
    state = CheckState()
    events: list[IncidentEvent] = []
    for i, status in enumerate([CRIT, CRIT, CRIT, OK, OK]):
        state, new = step(state, status, "x", 1000.0 + i * 60, Policy())
        events += new
    assert events[-1].kind == "resolved"
    assert events[-1].at - (events[-1].opened_at or 0) == 120.0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([OK, WARN, CRIT, ERR]), max_size=60),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sets(st.integers(0, 59)),
)
def test_properties(statuses: list[Status], fail_after: int, recover_after: int, suppressed: set[int]) -> None:
    """Never two opens without a resolve between; every resolve follows an open; changes only while open."""
    kinds = [k for _, k in run(statuses, Policy(fail_after=fail_after, recover_after=recover_after), suppressed)]
    is_open = False
    for kind in kinds:
        if kind == "opened":
            assert not is_open
            is_open = True
        else:
            assert is_open
            if kind == "resolved":
                is_open = False


def test_suppression_is_asked_only_when_an_incident_would_open() -> None:
    """A lazy ``suppressed`` is called only on the run that would open: healthy runs cost no lookup."""
    asked: list[int] = []
    state = CheckState()
    statuses = [OK, OK, CRIT, CRIT, CRIT, CRIT, OK, OK, OK]
    opened_at = []
    for i, status in enumerate(statuses):
        state, events = step(
            state,
            status,
            "s",
            i * 60.0,
            Policy(),
            suppressed=lambda i=i: asked.append(i) or i < 5,  # type: ignore[misc]
        )
        opened_at += [i for e in events if e.kind == "opened"]
    assert opened_at == [5]  # run 4 would have opened (third failure) but was suppressed; run 5 opens
    assert asked == [4, 5]
