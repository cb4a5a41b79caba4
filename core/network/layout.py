"""Where network state lives. Network records are under the root (they survive a reboot); everything a
running container's network is made of is under the run dir, because it is as short-lived as the bridge
devices, namespaces and nft rules it describes (all gone after a reboot, together).

```
<root>/networks/<id>.json                a user network (the default "bridge" network is synthesised from the
                                         config and has no record)
<run>/netns/<container id>               the container's network namespace, bind-mounted (in a shared mount)
<run>/network/endpoints/<cid>.json       what a running container is attached to: addresses, veths, ports
<run>/network/ipam/<network id>.json     addresses handed out on one network
<run>/network/bridges/<network id>.json  a bridge made in this boot: what the nft rules are built from
<run>/network/nft.applied                the ruleset last loaded into our table (skip identical reloads)
```
"""

from __future__ import annotations

from pathlib import Path

from core.config import Paths
from core.state.ids import check_hex64


class NetPaths:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.base = paths.run / "network"

    @property
    def locks(self) -> Path:
        return self.paths.locks

    @property
    def netns_dir(self) -> Path:
        return self.paths.netns

    def netns(self, cid: str) -> Path:
        return self.paths.netns / check_hex64(cid)

    @property
    def endpoints(self) -> Path:
        return self.base / "endpoints"

    def endpoint(self, cid: str) -> Path:
        return self.endpoints / f"{check_hex64(cid)}.json"

    @property
    def ipam(self) -> Path:
        return self.base / "ipam"

    @property
    def bridges(self) -> Path:
        return self.base / "bridges"

    def bridge_marker(self, network_id: str) -> Path:
        return self.bridges / f"{check_hex64(network_id)}.json"

    @property
    def nft_applied(self) -> Path:
        return self.base / "nft.applied"

    @property
    def records(self) -> Path:
        return self.paths.networks

    def record(self, network_id: str) -> Path:
        return self.paths.networks / f"{check_hex64(network_id)}.json"
