import random

from streams.core.alerts import AlertEpisodes, AlertPolicy


def feed(episodes, flags):
    steps = []
    for i, bad in enumerate(flags):
        alert = episodes.observe(
            source="s",
            asset="p/l/s/m",
            time=1_767_225_600_000 + i * 1000,
            bad=bad,
            value=1.0 if bad else 0.0,
            threshold=0.5,
            message="m",
        )
        if alert is not None:
            steps.append(alert)
    return steps


def test_episode_is_raised_updated_and_cleared_under_one_id():
    episodes = AlertEpisodes(AlertPolicy("anomaly", raise_after=3, clear_after=5, update_every=4))
    steps = feed(episodes, [True] * 9 + [False] * 5)
    assert [s.status for s in steps] == ["raised", "updated", "updated", "cleared"]
    assert len({s.alert_id for s in steps}) == 1


def test_value_hovering_at_the_threshold_does_not_flap():
    rng = random.Random(1)
    episodes = AlertEpisodes(AlertPolicy("anomaly", raise_after=3, clear_after=10))
    steps = feed(episodes, [rng.random() < 0.5 for _ in range(2000)])
    raised = [s for s in steps if s.status == "raised"]
    assert 1 <= len(raised) <= 3


def test_isolated_bad_observations_raise_nothing():
    episodes = AlertEpisodes(AlertPolicy("anomaly", raise_after=3))
    assert feed(episodes, [True, True, False] * 50) == []


def test_a_new_episode_gets_a_new_id():
    episodes = AlertEpisodes(AlertPolicy("anomaly", raise_after=1, clear_after=1))
    steps = feed(episodes, [True, False, True, False])
    assert [s.status for s in steps] == ["raised", "cleared", "raised", "cleared"]
    assert steps[0].alert_id != steps[2].alert_id


def test_the_same_sensor_name_on_two_machines_has_two_episodes():
    episodes = AlertEpisodes(AlertPolicy("anomaly", raise_after=1, clear_after=1))
    first = episodes.observe(
        source="temperature",
        asset="p/l/s/m1",
        time=1_767_225_600_000,
        bad=True,
        value=1.0,
        threshold=0.5,
        message="m",
    )
    second = episodes.observe(
        source="temperature",
        asset="p/l/s/m2",
        time=1_767_225_600_000,
        bad=True,
        value=1.0,
        threshold=0.5,
        message="m",
    )
    assert first is not None
    assert second is not None
    assert first.alert_id != second.alert_id
    assert episodes.active("p/l/s/m1", "temperature")


def test_severity_rules_by_kind_and_the_longest_asset_prefix():
    from streams.core.alerts import SeverityRules

    rules = SeverityRules.parse(
        "anomaly=info; plant1/paint:anomaly=critical; plant1/paint/st3:anomaly=warning;"
        "plant1:machine_down=warning"
    )
    assert rules.severity("anomaly", "plant1/body/st1/m1", "warning") == "info"
    assert rules.severity("anomaly", "plant1/paint/st1/m1", "warning") == "critical"
    assert rules.severity("anomaly", "plant1/paint/st3/m2", "info") == "warning"
    assert rules.severity("anomaly", "plant1/painting/st1/m1", "warning") == "info"  # not a prefix
    assert rules.severity("machine_down", "plant2/l1/s1/m1", "critical") == "critical"
    assert rules.severity("machine_down", "plant1/l1/s1/m1", "critical") == "warning"


def test_a_severity_rule_that_cannot_work_is_refused_with_the_format():
    import pytest
    from pydantic import ValidationError

    from streams.settings import AlertSettings

    with pytest.raises(ValidationError, match=r"\[asset:\]kind=severity"):
        AlertSettings(severity="anomaly=urgent")
