"""Walk an OPC UA server's address space and write a starting tag map.

    linepulse opcua browse opc.tcp://10.20.0.21:4840/ --depth 4 --match "Press|Robot" -o plant.yaml

Every numeric variable under Objects (the server's own diagnostics left out) becomes a tag whose
sensor name is its browse path; the asset is a placeholder to edit, the unit comes from the
node's EngineeringUnits when it has them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from asyncua import Client, Node, ua

from schemas.exceptions import LinePulseError

NUMERIC_TYPES = frozenset(
    {
        ua.VariantType.Boolean,
        ua.VariantType.SByte,
        ua.VariantType.Byte,
        ua.VariantType.Int16,
        ua.VariantType.UInt16,
        ua.VariantType.Int32,
        ua.VariantType.UInt32,
        ua.VariantType.Int64,
        ua.VariantType.UInt64,
        ua.VariantType.Float,
        ua.VariantType.Double,
    }
)
SERVER_OBJECT = ua.NodeId(ua.Int32(ua.ObjectIds.Server))


class OpcUaBrowseError(LinePulseError):
    """The server to browse cannot be reached."""


@dataclass(frozen=True)
class FoundVariable:
    """A numeric variable found while browsing: node id, browse path and unit."""

    node_id: str
    path: list[str]
    unit: str


async def _unit(node: Node) -> str:
    try:
        units = await node.get_child("0:EngineeringUnits")
        info = await units.read_value()
    except (ua.UaError, ValueError):
        return ""
    text = getattr(getattr(info, "DisplayName", None), "Text", None)
    return str(text or "")


async def _is_numeric(node: Node) -> bool:
    try:
        value = await node.read_data_value()
    except ua.UaError:
        return False
    return value.Value is not None and value.Value.VariantType in NUMERIC_TYPES


async def find_variables(
    client: Client, depth: int, pattern: re.Pattern[str] | None
) -> list[FoundVariable]:
    """The numeric variables under Objects down to `depth`, whose dotted path matches `pattern`."""
    found: list[FoundVariable] = []

    async def walk(node: Node, path: list[str], level: int) -> None:
        """Collect the matching variables below `node`, descending into objects."""
        if level > depth:
            return
        for child in await node.get_children():
            if child.nodeid == SERVER_OBJECT:
                continue
            name = (await child.read_browse_name()).Name
            child_path = [*path, name]
            node_class = await child.read_node_class()
            if node_class == ua.NodeClass.Variable:
                matches = pattern is None or pattern.search(".".join(child_path))
                if matches and await _is_numeric(child):
                    found.append(
                        FoundVariable(child.nodeid.to_string(), child_path, await _unit(child))
                    )
            elif node_class == ua.NodeClass.Object:
                await walk(child, child_path, level + 1)

    await walk(client.nodes.objects, [], 1)
    return found


def tag_map(url: str, variables: list[FoundVariable], asset: str) -> dict[str, Any]:
    """The plant.yaml for the variables found (one endpoint)."""
    tags = [
        {
            "node_id": v.node_id,
            "sensor": ".".join(v.path),
            "asset": asset,
            **({"unit": v.unit} if v.unit else {}),
        }
        for v in variables
    ]
    return {"opcua": [{"url": url, "tags": tags}]}


async def browse(url: str, depth: int, match: str | None, asset: str) -> dict[str, Any]:
    """The starting tag map of the server at `url` (see the module docstring)."""
    pattern = re.compile(match) if match else None
    client = Client(url, timeout=10)
    try:
        await client.connect()
    except (OSError, TimeoutError, ua.UaError) as exc:
        reason = str(exc) or type(exc).__name__
        msg = f"cannot connect to the OPC UA server at {url}: {reason}"
        raise OpcUaBrowseError(msg) from None
    try:
        variables = await find_variables(client, depth, pattern)
    finally:
        await client.disconnect()
    return tag_map(url, variables, asset)
