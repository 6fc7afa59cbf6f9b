"""`iccp-gateway opcua browse URL`: a server's tree, to write `opcua-client` mappings from.

Each node under the Objects folder (down to `--depth` levels) is printed indented, with its
NodeId, browse name (`namespace:Name`, the form a binding's `path` takes) and node class;
a variable also with its data type. Exit codes: 0 done, 2 bad arguments, 3 the server could
not be reached or refused the session.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from asyncua import ua
    from asyncua.client.client import Client

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE = 0, 2, 3


def add_opcua_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `iccp-gateway opcua` (found by the CLI through an entry point)."""
    opcua = commands.add_parser("opcua", help="OPC UA tools (browse a server)")
    sub = opcua.add_subparsers(dest="opcua_command", required=True)
    browse = sub.add_parser(
        "browse",
        help="list a server's nodes (NodeIds, browse names, data types)",
        description="Connect to an OPC UA server and print its Objects tree: NodeId, "
        "browse name (a binding's path step) and, for variables, the data type.",
    )
    browse.add_argument("url", metavar="URL", help="opc.tcp://host:port")
    browse.add_argument("--depth", type=int, default=3, help="levels below Objects (3)")
    browse.add_argument("--username", help="user name (asks the server for a user session)")
    browse.add_argument("--password", default="", help="password of --username")
    browse.add_argument("--timeout", type=float, default=10.0, help="per request (s)")
    browse.set_defaults(func=run_browse)


def run_browse(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The `opcua browse` command: print the tree, return the exit code."""
    if not args.url.startswith("opc.tcp://"):
        print(f"iccp-gateway opcua browse: {args.url!r} is no opc.tcp:// URL", file=err)
        return EXIT_USAGE
    if args.depth < 1:
        print("iccp-gateway opcua browse: --depth must be at least 1", file=err)
        return EXIT_USAGE
    from asyncua.ua.uaerrors import UaError

    try:
        asyncio.run(_browse(args, out))
    except (OSError, TimeoutError, ConnectionError, UaError) as exc:
        print(f"iccp-gateway opcua browse: {args.url}: {exc or type(exc).__name__}", file=err)
        return EXIT_UNREACHABLE
    return EXIT_OK


async def _browse(args: argparse.Namespace, out: TextIO) -> None:
    from asyncua import ua
    from asyncua.client.client import Client
    from asyncua.common.node import Node

    client = Client(args.url, timeout=args.timeout, watchdog_intervall=max(10.0, args.timeout))
    if args.username:
        client.set_user(args.username)
        client.set_password(args.password)
    async with asyncio.timeout(args.timeout):
        await client.connect(auto_reconnect=False)
    try:

        async def walk(node: Node, level: int) -> None:
            for child in await node.get_children():
                name = await child.read_browse_name()
                cls = await child.read_node_class()
                line = f"{'  ' * level}{child.nodeid.to_string()}  {name.to_string()}  {cls.name}"
                if cls is ua.NodeClass.Variable:
                    datatype = await child.read_data_type()
                    line += f"  {await _type_name(client, datatype)}"
                print(line, file=out)
                if level + 1 < args.depth and cls is ua.NodeClass.Object:
                    await walk(child, level + 1)

        await walk(client.nodes.objects, 0)
    finally:
        await client.disconnect()


async def _type_name(client: Client, datatype: ua.NodeId) -> str:
    """A built-in type by its name, any other by its browse name."""
    from asyncua import ua

    ident = datatype.Identifier
    if datatype.NamespaceIndex == 0 and isinstance(ident, int) and 1 <= ident <= 25:
        return ua.VariantType(ident).name
    name = await client.get_node(datatype).read_browse_name()
    return str(name.Name)
