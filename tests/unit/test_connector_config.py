import pytest

from connectors.run import ConnectorConfigError, load_config


def test_a_plant_config_holds_opcua_and_modbus_connectors(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text(
        "opcua:\n"
        "  - url: opc.tcp://10.0.0.5:4840/\n"
        "    tags: [{node_id: 'ns=2;s=A', sensor: a, asset: p/l/s/m}]\n"
        "modbus:\n"
        "  - host: 10.0.0.6\n"
        "    tags: [{sensor: b, asset: p/l/s/m, address: 10, data_type: float32}]\n"
    )
    config = load_config(path)
    assert config.opcua[0].tags[0].node_id == "ns=2;s=A"
    assert config.modbus[0].tags[0].count == 2


def test_config_mistakes_name_the_field(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text("modbus:\n  - host: plc\n    tags: [{sensor: b, asset: p, address: -1}]\n")
    with pytest.raises(ConnectorConfigError, match=r"modbus\.0\.tags\.0\.address"):
        load_config(path)
    path.write_text("{}\n")
    with pytest.raises(ConnectorConfigError, match="configures no connector"):
        load_config(path)
