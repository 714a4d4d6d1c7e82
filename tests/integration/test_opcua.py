"""The OPC UA connector against a real asyncua server on loopback."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from asyncua import Server, ua

from connectors.opcua.client import OpcUaConnector
from connectors.opcua.tags import OpcUaEndpoint, OpcUaTag
from streams.commands.brokers import free_port

pytestmark = pytest.mark.integration
ASSET = "plant1/line1/st1/press7"
logging.getLogger("asyncua").setLevel(logging.ERROR)


async def start_server(port: int) -> tuple[Server, dict[str, object]]:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/linepulse/")
    namespace = await server.register_namespace("urn:linepulse:test")
    press = await server.nodes.objects.add_object(ua.NodeId("Press7", namespace), "Press7")
    force = await press.add_variable(ua.NodeId("Press7.Force", namespace), "Force", 10.0)
    temp = await press.add_variable(ua.NodeId("Press7.Temp", namespace), "Temp", 40.0)
    await server.start()
    return server, {"force": force, "temp": temp, "ns": namespace}


def endpoint(port: int, ns: object) -> OpcUaEndpoint:
    return OpcUaEndpoint(
        url=f"opc.tcp://127.0.0.1:{port}/linepulse/",
        publishing_ms=50,
        watchdog_s=0.5,
        tags=[
            OpcUaTag(
                node_id=f"ns={ns};s=Press7.Force",
                sensor="press7.force",
                asset=ASSET,
                unit="kN",
                sampling_ms=10,
            ),
            OpcUaTag(
                node_id=f"ns={ns};s=Press7.Temp",
                sensor="press7.temp",
                asset=ASSET,
                unit="degC",
                sampling_ms=10,
            ),
        ],
    )


async def wait_for(readings: list, predicate, timeout_s: float = 15) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if any(predicate(r) for r in readings):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no reading matched; got {[(r.sensor, r.value) for r in readings]}")


async def test_values_arrive_with_source_time_and_quality_and_survive_a_server_restart():
    port = free_port()
    server, nodes = await start_server(port)
    readings: list = []
    stop = asyncio.Event()
    connector = OpcUaConnector(endpoint(port, nodes["ns"]))
    task = asyncio.create_task(connector.run(readings.append, stop))
    try:
        await wait_for(readings, lambda r: r.sensor == "press7.force" and r.value == 10.0)
        stamp = ua.DataValue(
            ua.Variant(55.5, ua.VariantType.Double),
            SourceTimestamp=datetime(2026, 11, 26, 6, 0, 0, tzinfo=UTC),
        )
        await nodes["force"].write_value(stamp)
        await wait_for(readings, lambda r: r.value == 55.5)
        sourced = next(r for r in readings if r.value == 55.5)
        assert sourced.time == 1_795_672_800_000  # the device's own timestamp, not arrival
        assert (sourced.quality, sourced.unit) == ("good", "kN")
        await nodes["temp"].write_value(
            ua.DataValue(
                ua.Variant(41.0, ua.VariantType.Double),
                StatusCode=ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue),
            )
        )
        await wait_for(readings, lambda r: r.sensor == "press7.temp" and r.value == 41.0)
        assert next(r for r in readings if r.value == 41.0).quality == "uncertain"

        await server.stop()
        await asyncio.sleep(2)
        server, nodes = await start_server(port)  # a new server: the session must be rebuilt
        await nodes["force"].write_value(77.0)
        await wait_for(readings, lambda r: r.value == 77.0, timeout_s=30)
        assert connector.sessions >= 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await server.stop()


class Operators:
    """The server's user manager: one operator with a password."""

    def get_user(self, iserver, username=None, password=None, certificate=None):
        from asyncua.crypto.permission_rules import User, UserRole

        if username == "linepulse" and password == "s3cret":
            return User(role=UserRole.User, name=username)
        return None


async def _certificate(directory, name: str, uri: str, server: bool):
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key, cert = directory / f"{name}.pem", directory / f"{name}.der"
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    await setup_self_signed_certificate(key, cert, uri, "127.0.0.1", [usage], {"commonName": name})
    return cert, key


async def start_secure_server(port: int, directory) -> tuple[Server, dict[str, object]]:
    cert, key = await _certificate(directory, "server", "urn:linepulse:test:server", server=True)
    server = Server(user_manager=Operators())
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/linepulse/")
    server.set_server_name("secure test server")
    await server.set_application_uri("urn:linepulse:test:server")
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await server.load_certificate(str(cert))
    await server.load_private_key(str(key))
    namespace = await server.register_namespace("urn:linepulse:test")
    press = await server.nodes.objects.add_object(ua.NodeId("Press7", namespace), "Press7")
    force = await press.add_variable(ua.NodeId("Press7.Force", namespace), "Force", 10.0)
    await press.add_variable(ua.NodeId("Press7.Temp", namespace), "Temp", 40.0)
    await server.start()
    return server, {"force": force, "ns": namespace}


async def _run_for(connector: OpcUaConnector, seconds: float) -> list:
    readings: list = []
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(readings.append, stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 10)
    return readings


async def test_sign_and_encrypt_with_a_user_and_never_an_insecure_fallback(tmp_path, monkeypatch):
    from connectors.opcua.tags import OpcUaSecurity

    port = free_port()
    server, nodes = await start_secure_server(port, tmp_path)
    cert, key = await _certificate(tmp_path, "client", "urn:linepulse:connector", server=False)
    monkeypatch.setenv("OPCUA_PASSWORD", "s3cret")
    secure = endpoint(port, nodes["ns"]).model_copy(
        update={
            "security": OpcUaSecurity(
                policy="Basic256Sha256", mode="SignAndEncrypt", certificate=cert, private_key=key
            ),
            "username": "linepulse",
            "password_env": "OPCUA_PASSWORD",
        }
    )
    try:
        readings: list = []
        stop = asyncio.Event()
        connector = OpcUaConnector(secure)
        task = asyncio.create_task(connector.run(readings.append, stop))
        await wait_for(readings, lambda r: r.sensor == "press7.force" and r.value == 10.0)
        await nodes["force"].write_value(12.5)
        await wait_for(readings, lambda r: r.value == 12.5)
        assert connector.up
        stop.set()
        await asyncio.wait_for(task, 10)

        insecure = OpcUaConnector(endpoint(port, nodes["ns"]))  # asks for None: refused
        assert await _run_for(insecure, 3) == []
        assert not insecure.up

        monkeypatch.setenv("OPCUA_PASSWORD", "guess")
        wrong_password = OpcUaConnector(secure)
        assert await _run_for(wrong_password, 3) == []
        assert not wrong_password.up
    finally:
        await server.stop()


async def test_a_server_without_the_asked_security_is_not_used_and_says_why(tmp_path, caplog):
    from connectors.opcua.tags import OpcUaSecurity

    port = free_port()
    server, nodes = await start_server(port)  # no certificate: it offers only None
    cert, key = await _certificate(tmp_path, "client", "urn:linepulse:connector", server=False)
    secure = endpoint(port, nodes["ns"]).model_copy(
        update={
            "security": OpcUaSecurity(
                policy="Basic256Sha256", mode="SignAndEncrypt", certificate=cert, private_key=key
            )
        }
    )
    try:
        with caplog.at_level(logging.WARNING, logger="connectors.opcua.client"):
            connector = OpcUaConnector(secure)
            assert await _run_for(connector, 3) == []
        assert "never falls back" in caplog.text
        assert not connector.up
    finally:
        await server.stop()


def test_security_settings_that_cannot_work_are_refused_when_the_tag_map_loads():
    from pydantic import ValidationError

    from connectors.opcua.tags import OpcUaSecurity

    with pytest.raises(ValidationError, match="needs `certificate` and `private_key`"):
        OpcUaSecurity(policy="Basic256Sha256", mode="SignAndEncrypt")
    with pytest.raises(ValidationError, match="go together"):
        OpcUaSecurity(policy="Basic256Sha256", mode="None")
    with pytest.raises(ValidationError, match="password_file"):
        OpcUaEndpoint.model_validate({**endpoint(4840, 2).model_dump(), "username": "op"})


async def test_deadband_holds_back_small_changes_and_polled_tags_are_read_on_a_timer():
    port = free_port()
    server, nodes = await start_server(port)
    base = endpoint(port, nodes["ns"])
    force, temp = base.tags
    configured = base.model_copy(
        update={
            "tags": [
                force.model_copy(update={"deadband": 1.0}),
                temp.model_copy(update={"read": "poll", "poll_ms": 100, "deadband": 0.5}),
            ]
        }
    )
    readings: list = []
    stop = asyncio.Event()
    connector = OpcUaConnector(configured)
    task = asyncio.create_task(connector.run(readings.append, stop))
    try:
        await wait_for(readings, lambda r: r.sensor == "press7.force" and r.value == 10.0)
        await wait_for(readings, lambda r: r.sensor == "press7.temp" and r.value == 40.0)
        for value in (10.4, 10.8, 12.0):  # only the last moves more than 1 from 10.0
            await nodes["force"].write_value(value)
            await asyncio.sleep(0.2)
        await nodes["temp"].write_value(40.2)  # inside the polled tag's deadband
        await asyncio.sleep(0.3)
        await nodes["temp"].write_value(41.0)
        await wait_for(readings, lambda r: r.value == 12.0)
        await wait_for(readings, lambda r: r.value == 41.0)
        forces = [r.value for r in readings if r.sensor == "press7.force"]
        temps = [r.value for r in readings if r.sensor == "press7.temp"]
        assert forces == [10.0, 12.0]
        assert temps == [40.0, 41.0]
        assert connector.polled_tags == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await server.stop()


async def test_an_unknown_node_is_named_and_the_other_tags_flow(caplog):
    port = free_port()
    server, nodes = await start_server(port)
    base = endpoint(port, nodes["ns"])
    missing = base.tags[0].model_copy(update={"node_id": f"ns={nodes['ns']};s=Nope", "sensor": "x"})
    configured = base.model_copy(update={"tags": [missing, base.tags[1]]})
    readings: list = []
    stop = asyncio.Event()
    task = asyncio.create_task(OpcUaConnector(configured).run(readings.append, stop))
    try:
        with caplog.at_level(logging.ERROR, logger="connectors.opcua.client"):
            await wait_for(readings, lambda r: r.sensor == "press7.temp")
        assert f"ns={nodes['ns']};s=Nope" in caplog.text
        assert "BadNodeIdUnknown" in caplog.text
        assert {r.sensor for r in readings} == {"press7.temp"}
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await server.stop()


async def test_browse_writes_a_tag_map_the_connector_loads(tmp_path):
    import sys

    from connectors.run import load_config

    port = free_port()
    server, nodes = await start_server(port)
    units = await nodes["force"].add_property(
        0,
        "EngineeringUnits",
        ua.EUInformation(DisplayName=ua.LocalizedText("kN"), Description=ua.LocalizedText("kN")),
    )
    assert units is not None
    out = tmp_path / "plant.yaml"
    try:
        browse = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.commands.cli",
            "opcua",
            "browse",
            f"opc.tcp://127.0.0.1:{port}/linepulse/",
            "--match",
            "Press7",
            "--asset",
            "plant1/body/st3/press7",
            "-o",
            str(out),
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await browse.communicate()
        assert browse.returncode == 0, stderr.decode()
        only_force = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.commands.cli",
            "opcua",
            "browse",
            f"opc.tcp://127.0.0.1:{port}/linepulse/",
            "--match",
            "Force$",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        printed, _ = await only_force.communicate()
    finally:
        await server.stop()
    config = load_config(out)
    tags = {t.sensor: t for t in config.opcua[0].tags}
    assert sorted(tags) == ["Press7.Force", "Press7.Temp"]
    assert tags["Press7.Force"].node_id == f"ns={nodes['ns']};s=Press7.Force"
    assert tags["Press7.Force"].unit == "kN"
    assert tags["Press7.Temp"].asset == "plant1/body/st3/press7"
    assert b"Press7.Temp" not in printed
    assert b"Press7.Force" in printed


async def test_tags_addressed_by_browse_path_are_resolved_on_each_session(caplog):
    port = free_port()
    server, nodes = await start_server(port)
    base = endpoint(port, nodes["ns"])
    force_name = (await nodes["force"].read_browse_name()).to_string()  # as the server names it
    parent = await nodes["force"].get_parent()
    press_name = (await parent.read_browse_name()).to_string()
    by_path = base.tags[0].model_copy(
        update={"node_id": None, "browse_path": f"{press_name}/{force_name}"}
    )
    missing = base.tags[1].model_copy(
        update={"node_id": None, "browse_path": f"{press_name}/{nodes['ns']}:Nope"}
    )
    configured = base.model_copy(update={"tags": [by_path, missing]})
    readings: list = []
    stop = asyncio.Event()
    task = asyncio.create_task(OpcUaConnector(configured).run(readings.append, stop))
    try:
        with caplog.at_level(logging.ERROR, logger="connectors.opcua.client"):
            await wait_for(readings, lambda r: r.sensor == "press7.force" and r.value == 10.0)
            await nodes["force"].write_value(33.0)
            await wait_for(readings, lambda r: r.value == 33.0)
        assert f"{nodes['ns']}:Nope" in caplog.text
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await server.stop()
    with pytest.raises(ValueError, match="either `node_id` or `browse_path`"):
        OpcUaTag(sensor="x", asset="p/l/s/m")
