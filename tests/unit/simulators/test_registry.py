"""Every simulator in the registry can be started by make run without a clash."""

from __future__ import annotations

from sila_local.services import OFFSETS
from sila_simulators.registry import NAMES, ports_of, simulator, simulators


def test_every_simulator_is_registered_under_its_own_name_with_an_http_port() -> None:
    for name in NAMES:
        spec = simulator(name)
        assert spec.name == name
        assert "port" in spec.ports, f"{name} has no HTTP port for /_sim/"
        assert callable(spec.main)


def test_no_two_processes_of_make_run_share_a_port() -> None:
    taken = list(OFFSETS.values()) + [o for spec in simulators() for o in spec.ports.values()]
    assert len(taken) == len(set(taken)), sorted(taken)


def test_the_sms_centre_points_notify_at_itself_under_any_base_port() -> None:
    spec = simulator("smsc")
    ports = ports_of(spec, 18000)
    assert ports == {"port": 18013}
    assert spec.service_env(ports) == {
        "SILA_NOTIFY_SMS_URL": "http://127.0.0.1:18013/cgi-bin/sendsms"
    }
