"""Networks, as the engine sees them: create/list/inspect/remove/prune, connect/disconnect, and the two
ends of a container's network life: :meth:`NetworkManager.prepare_start` (called by the container start,
before the shim is ordered) and :func:`release` (called by the shim when the container is done, and by
whoever finds a dead shim).

Nothing here imports pyroute2 (only making a bridge does, once a boot): links are made by core.network.attach
with the few rtnetlink requests of core.network.rtnl, and removed by deleting the host end of each veth,
then the namespace.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from core.config import Config, Paths
from core.errors import Conflict, DockyardError, InvalidArgument, NetworkNotFound
from core.models import RUNNING_STATES, ContainerCreate, EndpointIPAMConfig, EndpointSettings, NetworkSummary
from core.network import endpoints, names, nat, netns, ports
from core.network.endpoints import Attachment, Endpoint
from core.network.ipam import Ipam
from core.network.layout import NetPaths
from core.network.store import DEFAULT_ALIASES, PSEUDO, Network, NetworkStore
from core.network.teardown import release, release_stale
from core.record import record
from core.state.ids import NAME
from core.state.locks import remove_unheld


def network_mode(run: ContainerCreate) -> str:
    """ "host", "none", or a network name ("default"/"bridge" for the default network)."""
    return run.host_config.network_mode or "default"


def _fixed_ip(ep: EndpointSettings) -> str:
    return ep.ipam_config.ipv4_address if ep.ipam_config is not None else ""


def check_aliases(aliases: list[str]) -> list[str]:
    """Aliases go into other containers' /etc/hosts: host-name characters only."""
    for alias in aliases:
        if not NAME.match(alias) or len(alias) > 253:
            raise InvalidArgument(
                f"invalid network alias {alias!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
    return aliases


def _pseudo_id(name: str) -> str:
    return hashlib.sha256(f"dockyard pseudo network {name}".encode()).hexdigest()


def _wait_shim_gone(np: NetPaths, cid: str, timeout: float) -> None:
    """A shim that just reported its container's exit may still be tearing its network down."""
    deadline = time.monotonic() + timeout
    while endpoints.shim_alive(np, cid):
        if time.monotonic() > deadline:
            raise Conflict(f"the previous supervisor of container {cid[:12]} is still running")
        time.sleep(0.005)


# ---------------------------------------------------------------------------------------------- start plan


@record
class StartPlan:
    """What :meth:`NetworkManager.prepare_start` made, for the start to use."""

    paths: Paths
    cid: str
    netns: str  # ContainerSpec.netns
    shim: dict[str, Any]  # runtime.json "network": what the shim holds and waits for
    state_network: dict[str, Any]  # ContainerState.network
    state_ports: list[dict[str, Any]]  # ContainerState.ports

    def abort(self) -> None:
        """The shim never took the container over: undo everything."""
        np = NetPaths(self.paths)
        if not endpoints.shim_alive(np, self.cid):
            with contextlib.suppress(DockyardError, OSError):
                release(self.paths, self.cid)


def _endpoint_state(ep: Endpoint) -> dict[str, Any]:
    return {
        "IPAMConfig": {"IPv4Address": ep.fixed_ip} if ep.fixed_ip else None,
        "Links": None,
        "Aliases": list(ep.aliases) or None,
        "NetworkID": ep.network_id,
        "EndpointID": ep.endpoint_id,
        "Gateway": ep.gateway,
        "IPAddress": ep.ip,
        "IPPrefixLen": ep.prefixlen,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": ep.mac,
        "DriverOpts": None,
    }


def state_of(att: Attachment) -> dict[str, Any]:
    """ContainerState.network for an attachment (docker's NetworkSettings, for inspect)."""
    primary = att.endpoints[0] if att.endpoints else None
    return {
        "netns": att.netns,
        "ip": primary.ip if primary else "",
        "gateway": primary.gateway if primary else "",
        "mac": primary.mac if primary else "",
        "ip_prefix_len": primary.prefixlen if primary else 0,
        "networks": {ep.network: _endpoint_state(ep) for ep in att.endpoints},
    }


# ---------------------------------------------------------------------------------------------- manager


class NetworkManager:
    def __init__(self, paths: Paths, config: Config) -> None:
        self.paths = paths
        self.config = config
        self.np = NetPaths(paths)
        self.store = NetworkStore(paths, config)
        self.ipam = Ipam(self.np)

    # ------------------------------------------------------------------ looking

    def resolve(self, name: str) -> Network:
        return self.store.resolve(name)

    def _members(self, network_id: str) -> list[tuple[Attachment, Endpoint]]:
        out = []
        for att in endpoints.all_attachments(self.np):
            ep = att.endpoint(network_id)
            if ep is not None:
                out.append((att, ep))
        return out

    def summaries(self) -> list[NetworkSummary]:
        everyone = endpoints.all_attachments(self.np)
        out = []
        for n in self.store.all():
            members = [a.name for a in everyone if a.endpoint(n.id) is not None]
            out.append(
                NetworkSummary(
                    id=n.id,
                    name=n.name,
                    driver=n.driver,
                    subnet=n.subnet,
                    gateway=n.gateway,
                    internal=n.internal,
                    created=n.created,
                    labels=dict(n.labels),
                    containers=members,
                )
            )
        for name, driver in (("host", "host"), ("none", "null")):
            out.append(NetworkSummary(id=_pseudo_id(name), name=name, driver=driver))
        return out

    def inspect(self, name: str) -> dict[str, Any]:
        from core.dockerjson import network_endpoint_to_docker, network_to_docker

        # the pseudo networks by name, or by the id their listing gives (docker's clients inspect by id)
        name = next((p for p in PSEUDO if name in (p, _pseudo_id(p))), name)
        if name in PSEUDO:
            return network_to_docker(
                name=name,
                network_id=_pseudo_id(name),
                created="",
                driver="host" if name == "host" else "null",
            )
        n = self.store.resolve(name)
        containers = {
            att.cid: network_endpoint_to_docker(att.name, ep.endpoint_id, ep.mac, f"{ep.ip}/{ep.prefixlen}")
            for att, ep in self._members(n.id)
        }
        # a user network shows the options it was created with, and the name of its bridge (docker's own
        # option for it: the host side of a network is found by it); the default one docker's defaults
        options = {"com.docker.network.bridge.name": n.bridge, **n.options}
        if n.default:
            options = {
                "com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.enable_icc": "true",
                "com.docker.network.bridge.enable_ip_masquerade": "true",
                "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                "com.docker.network.bridge.name": n.bridge,
                "com.docker.network.driver.mtu": str(n.mtu),
            }
        return network_to_docker(
            name=n.name,
            network_id=n.id,
            created=n.created,
            driver=n.driver,
            subnet=n.subnet,
            gateway=n.gateway,
            internal=n.internal,
            containers=containers,
            options=options,
            labels=n.labels,
        )

    # ------------------------------------------------------------------ making and removing networks

    def _bridge_request(self, n: Network) -> dict[str, Any]:
        return {
            "id": n.id,
            "name": n.name,
            "bridge": n.bridge,
            "subnet": n.subnet,
            "gateway": n.gateway,
            "internal": n.internal,
            "mtu": n.mtu,
        }

    def create(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Network:
        if driver != "bridge":
            raise InvalidArgument(f"network driver {driver!r} is not supported (only bridge)")
        n = self.store.create(
            name, subnet=subnet, gateway=gateway, internal=internal, labels=labels, options=options
        )
        from core.network import attach

        try:
            attach.ensure_bridges(self.np, [self._bridge_request(n)], self.config.nft_table)
        except BaseException:
            with contextlib.suppress(DockyardError, OSError):
                self._remove_links(n)
            self.store.delete_record(n)
            raise
        return n

    def _remove_links(self, n: Network) -> None:
        from core.network import rtnl
        from core.state.locks import FileLock

        with FileLock(self.np.locks, f"bridge-{n.id}"):  # held while a start makes the bridge
            rtnl.delete_link(n.bridge)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.np.bridge_marker(n.id))
        nat.sync(self.np, self.config.nft_table)
        self.ipam.drop(n.id)

    def remove(self, name: str) -> Network:
        if name in PSEUDO:
            raise Conflict(f"{name} is a pre-defined network and cannot be removed")
        n = self.store.resolve(name)
        release_stale(self.np)
        with self.store.lock():
            members = self._members(n.id)
            if members:
                who = ", ".join(sorted(a.name for a, _ in members))
                raise Conflict(f"error while removing network: network {n.name} has active endpoints ({who})")
            # the default network's bridge goes too; it is made again on its next use
            self._remove_links(n)
            self.store.delete_record(n)
        for kind in ("bridge", "ipam"):  # the network's lock files go with it
            remove_unheld(self.np.locks, f"{kind}-{n.id}")
        return n

    def _referenced(self) -> set[str]:
        """Ids of the networks some container (running or not) is configured to use."""
        from core.containers.store import ContainerStore

        out: set[str] = set()
        for rec in ContainerStore(self.paths).records():
            wanted = [network_mode(rec.run), *(name for name, _ in rec.run.connected())]
            for w in wanted:
                if w and w not in PSEUDO:
                    with contextlib.suppress(NetworkNotFound, InvalidArgument, Conflict):
                        out.add(self.store.resolve(w).id)
        return out

    def prune(self, select: Callable[[Network], bool] | None = None) -> list[str]:
        """Remove the user networks no container uses or is configured to use (and ``select`` chooses: a
        prune's filters); their names."""
        release_stale(self.np)
        alive = lambda owner: endpoints.owner_alive(self.np, owner)  # noqa: E731
        for nid in self.ipam.networks():  # addresses of containers that are gone for good
            self.ipam.reclaim(nid, alive)
        used = self._referenced()
        removed = []
        for n in self.store.records():
            if n.id in used or self._members(n.id) or (select is not None and not select(n)):
                continue
            with contextlib.suppress(Conflict, NetworkNotFound):
                self.remove(n.id)
                removed.append(n.name)
        return removed

    # ------------------------------------------------------------------ containers

    def check_run(self, run: ContainerCreate, exposed: list[str] | None = None) -> None:
        """What docker refuses at create: an unknown network, --ip or aliases without a user network,
        malformed ports, --add-host or --dns."""
        mode = network_mode(run)
        if mode.startswith("container:"):
            raise InvalidArgument("--network container:NAME is not supported")
        for item in run.host_config.extra_hosts:
            names.check_extra_host(item)
        names.resolv_content(list(run.host_config.dns), "")
        first = run.endpoint()
        ip = _fixed_ip(first)
        check_aliases(list(first.aliases))
        if mode in PSEUDO:
            if ip:
                raise InvalidArgument(f"--ip cannot be used with --network {mode}")
            if first.aliases:
                raise InvalidArgument(f"--network-alias cannot be used with --network {mode}")
            if run.connected():
                raise InvalidArgument(f"a container on the {mode} network cannot join other networks")
            return
        n = self.store.resolve(mode)
        self._check_endpoint(n, first)
        for name, ep in run.connected():
            if name in PSEUDO:
                raise InvalidArgument(f"a container cannot be connected to the {name} network")
            check_aliases(list(ep.aliases))
            self._check_endpoint(self.store.resolve(name), ep)
        wanted = ports.requested(run.host_config, exposed or [])
        if wanted and n.internal:
            raise InvalidArgument(f"cannot publish ports of a container on the internal network {n.name}")

    def _check_endpoint(self, n: Network, ep: EndpointSettings) -> None:
        ip = _fixed_ip(ep)
        if n.default and ip:
            raise InvalidArgument("user specified IP address is supported on user defined networks only")
        if n.default and ep.aliases:
            raise InvalidArgument("network-scoped aliases are supported only on user defined networks")
        if ip:
            import ipaddress

            try:
                addr = ipaddress.IPv4Address(ip)
            except ValueError:
                raise InvalidArgument(f"invalid --ip {ip!r}: expected an IPv4 address") from None
            if addr not in ipaddress.IPv4Network(n.subnet):
                raise InvalidArgument(f"--ip {addr} is not in the subnet {n.subnet} of network {n.name}")

    def prepare_start(self, rec: Any) -> StartPlan | None:
        """Everything a start of container ``rec`` (a ContainerRecord, whose lock the caller holds) needs
        from its networks: port checks, address(es), namespace, links, resolv.conf, hosts files (its own
        and its peers'). None for ``--network host|none``; on failure nothing is left behind."""
        run = rec.run
        mode = network_mode(run)
        if mode in PSEUDO:
            return None
        cid = rec.id
        np = self.np
        _wait_shim_gone(np, cid, 10.0)
        release(self.paths, cid)  # what an earlier, crashed start of this same container left
        release_stale(np, skip=cid)
        # the first network (unless it was left: network disconnect) and those joined besides it; with none
        # left the container still gets its own namespace (loopback only), as docker's does, so that a
        # network connect while it runs has somewhere to put the link
        wanted_nets: list[tuple[Network, list[str], str]] = []
        for name, ep in run.joined():
            n = self.store.resolve(name)
            if all(n.id != w[0].id for w in wanted_nets):
                wanted_nets.append((n, list(ep.aliases), _fixed_ip(ep)))
        primary = wanted_nets[0][0] if wanted_nets else None
        wanted_ports = []
        if primary is not None:
            wanted_ports = ports.requested(run.host_config, list(rec.process.get("exposed_ports") or []))
        if primary is not None and wanted_ports:
            if primary.internal:
                raise InvalidArgument(f"cannot publish ports on the internal network {primary.name}")
            if nat.nft_binary() is None:
                raise InvalidArgument("publishing ports needs nftables: install the nft tool (nftables)")
        picked = self._check_ports(wanted_ports, rec.name)
        cdir = self.paths.container(cid)
        att = Attachment(
            cid=cid,
            name=rec.name,
            hostname=str(rec.process.get("hostname") or cid[:12]),
            netns=str(np.netns(cid)),
            extra_hosts=list(run.host_config.extra_hosts),
            hosts_path=str(cdir / "hosts"),
            nft_table=nat.check_table(self.config.nft_table),
        )
        endpoints.save(np, att)  # first: from here on a crash leaves a record naming what to undo
        try:
            alive = lambda owner: endpoints.owner_alive(np, owner)  # noqa: E731
            for i, (n, aliases, fixed) in enumerate(wanted_nets):
                ip = self.ipam.allocate(
                    n.id, n.subnet, n.gateway, cid, want=fixed or None, alive=alive, network_name=n.name
                )
                att.endpoints.append(self._endpoint(cid, n, ip, f"eth{i}", aliases, fixed))
                endpoints.save(np, att)
            if primary is not None:
                att.ports = [{**p, "ip": att.endpoints[0].ip, "bridge": primary.bridge} for p in picked]
            endpoints.save(np, att)
            netns.create(np.netns(cid))
            names.write_in_place(
                cdir / "resolv.conf",
                names.resolv_content(
                    list(run.host_config.dns),
                    names.host_resolv_conf(),
                    list(run.host_config.dns_search),
                    list(run.host_config.dns_options),
                ),
            )
            from core.network import attach

            bridges = [self._bridge_request(n) for n, _, _ in wanted_nets]
            attach.make_links(np, att, bridges, att.nft_table)
            names.refresh(np, {ep.network_id for ep in att.endpoints}, also={cid})
        except BaseException:
            with contextlib.suppress(DockyardError, OSError):
                release(self.paths, cid)
            raise
        return StartPlan(
            paths=self.paths,
            cid=cid,
            netns=att.netns,
            shim={"ports": att.ports},  # with the container's address, for the userland proxy
            state_network=state_of(att),
            state_ports=ports.state_entries(picked),
        )

    def _check_ports(self, wanted: list[dict[str, Any]], name: str = "") -> list[dict[str, Any]]:
        """Trial-bind the ports; a port still held by one of our containers that has just exited (its shim
        is releasing it) is waited for, briefly, rather than reported in use."""
        deadline = time.monotonic() + 3.0

        def in_use(host_ip: str, port: int, proto: str) -> str:
            # docker's words: its port allocator's when a container has the port, its proxy's otherwise
            # (the endpoint it was making goes with the failed start)
            if self._held_by_container(proto, port):
                why = f"Bind for {host_ip}:{port} failed: port is already allocated"
            else:
                family, shown = ("6", f"[{host_ip}]") if ":" in host_ip else ("4", host_ip)
                why = f"Error starting userland proxy: listen {proto}{family} {shown}:{port}: bind: "
                why += "address already in use"
            endpoint = f"{name} ({secrets.token_hex(32)})"
            return f"driver failed programming external connectivity on endpoint {endpoint}: {why}"

        while True:
            try:
                return ports.check_and_pick(wanted, in_use)
            except Conflict:
                if time.monotonic() > deadline or not self._held_by_exited(wanted):
                    raise
                time.sleep(0.01)

    def _held_by_container(self, proto: str, port: int) -> bool:
        return any(
            (p["protocol"], int(p["host_port"])) == (proto, port)
            for att in endpoints.all_attachments(self.np)
            for p in att.ports
        )

    def _held_by_exited(self, wanted: list[dict[str, Any]]) -> bool:
        from core.containers.store import ContainerStore

        keys = {(p["protocol"], int(p["host_port"])) for p in wanted if p["host_port"]}
        cstore = ContainerStore(self.paths)
        for att in endpoints.all_attachments(self.np):
            if any((p["protocol"], int(p["host_port"])) in keys for p in att.ports):
                rec = cstore.load(att.cid)
                if rec is None or rec.state.status not in RUNNING_STATES:
                    return True
        return False

    def _endpoint(
        self, cid: str, n: Network, ip: str, ifname: str, aliases: list[str], fixed: str
    ) -> Endpoint:
        return Endpoint(
            network_id=n.id,
            network=n.name,
            bridge=n.bridge,
            subnet=n.subnet,
            gateway=n.gateway,
            ip=ip,
            mac=endpoints.mac_for(ip),
            veth=endpoints.veth_name(cid, n.id),
            ifname=ifname,
            endpoint_id=secrets.token_hex(32),
            aliases=aliases,
            dns=n.dns,
            internal=n.internal,
            mtu=n.mtu,
            fixed_ip=fixed,
        )

    # ------------------------------------------------------------------ connect / disconnect

    def connect(
        self, network: str, rec: Any, *, aliases: list[str] | None = None, ip: str | None = None
    ) -> None:
        """Attach container ``rec`` to ``network``: at once if it runs, else from its next start."""
        from core.containers.store import ContainerStore

        if network in PSEUDO:
            raise InvalidArgument(f"a container cannot be connected to the {network} network")
        check_aliases(list(aliases or []))
        n = self.store.resolve(network)
        mode = network_mode(rec.run)
        if mode in PSEUDO:  # docker answers 400 too (a container created so keeps its mode for good)
            raise InvalidArgument(
                f"container {rec.name} uses --network {mode} and cannot join other networks"
            )
        if n.default and (ip or aliases):
            raise InvalidArgument("--ip and --alias need a user defined network")
        cstore = ContainerStore(self.paths)
        with cstore.container_lock(rec.id):
            fresh = cstore.load(rec.id) or rec
            configured = set()
            for name, _ in fresh.run.joined():
                with contextlib.suppress(NetworkNotFound):
                    configured.add(self.store.resolve(name).id)
            att = endpoints.load(self.np, rec.id)
            running = fresh.state.status in RUNNING_STATES and att is not None
            if running and att is not None and att.endpoint(n.id) is not None:
                raise Conflict(f"container {fresh.name} is already attached to network {n.name}")
            if n.id in configured:
                if running:
                    raise Conflict(f"container {fresh.name} is already attached to network {n.name}")
                return  # docker's keeps the settings a stopped container already has for it, and succeeds
            if running:
                assert att is not None
                self._connect_running(att, n, list(aliases or []), ip or "")
                fresh.state.network = state_of(att)
                cstore.save_state(fresh.id, fresh.state)
            settings = EndpointSettings(EndpointIPAMConfig(ip) if ip else None, list(aliases or []))
            nc = fresh.run.networking_config
            first_id = ""
            with contextlib.suppress(NetworkNotFound):  # a first network left may since have been removed
                first_id = self.store.resolve(mode).id
            if first_id == n.id:
                # joining its first network again (after network disconnect): it takes that place again
                nc.first_left = False
                nc.endpoints_config[mode] = settings
            else:
                nc.endpoints_config[n.name] = settings
            cstore.save_config(fresh)

    def _connect_running(self, att: Attachment, n: Network, aliases: list[str], ip: str) -> None:
        from core.network import attach

        used = {ep.ifname for ep in att.endpoints}
        ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
        alive = lambda owner: endpoints.owner_alive(self.np, owner)  # noqa: E731
        addr = self.ipam.allocate(
            n.id, n.subnet, n.gateway, att.cid, want=ip or None, alive=alive, network_name=n.name
        )
        ep = self._endpoint(att.cid, n, addr, ifname, aliases, ip)
        att.endpoints.append(ep)
        endpoints.save(self.np, att)
        try:
            indexes = attach.ensure_bridges(self.np, [self._bridge_request(n)], self.config.nft_table)
            # the default route goes with the first network a container (that had none) joins
            gateway = n.gateway if len(att.endpoints) == 1 and not n.internal else None
            attach.add_endpoints(att, [n.id], indexes, gateway)
        except BaseException:
            self._drop_endpoint(att, ep)
            raise
        names.refresh(self.np, {n.id}, also={att.cid})

    def _drop_endpoint(self, att: Attachment, ep: Endpoint) -> None:
        from core.network import rtnl

        with contextlib.suppress(OSError):
            rtnl.delete_link(ep.veth)
        self.ipam.release(ep.network_id, att.cid)
        att.endpoints = [e for e in att.endpoints if e.network_id != ep.network_id]
        dropped_ports = [p for p in att.ports if p.get("ip") == ep.ip]
        att.ports = [p for p in att.ports if p.get("ip") != ep.ip]
        endpoints.save(self.np, att)
        if dropped_ports:
            nat.sync(self.np, att.nft_table)

    def disconnect(self, network: str, rec: Any, *, force: bool = False) -> None:
        from core.containers.store import ContainerStore

        if network in PSEUDO:
            raise InvalidArgument(f"a container cannot be disconnected from the {network} network")
        n = self.store.resolve(network)
        cstore = ContainerStore(self.paths)
        with cstore.container_lock(rec.id):
            fresh = cstore.load(rec.id) or rec
            att = endpoints.load(self.np, rec.id)
            ep = att.endpoint(n.id) if att is not None else None
            mode = network_mode(fresh.run)
            nc = fresh.run.networking_config
            is_primary = mode not in PSEUDO and not nc.first_left and self.store.resolve(mode).id == n.id
            in_extra = []
            for name, _ in fresh.run.connected():
                with contextlib.suppress(NetworkNotFound):
                    if self.store.resolve(name).id == n.id:
                        in_extra.append(name)
            if ep is None and not is_primary and not in_extra:
                if force:
                    return
                raise Conflict(f"container {fresh.name} is not connected to network {n.name}")
            if att is not None and ep is not None:
                self._drop_endpoint(att, ep)
                fresh.state.network = state_of(att)
                fresh.state.ports = [
                    p
                    for p in fresh.state.ports
                    if any(
                        q["host_port"] == p.get("host_port") and q["protocol"] == p.get("protocol")
                        for q in att.ports
                    )
                ]
                cstore.save_state(fresh.id, fresh.state)
                names.refresh(self.np, {n.id}, also={att.cid})
            for name in in_extra:
                del nc.endpoints_config[name]
            if is_primary:
                # HostConfig.network_mode stays, as docker's does: the container joins that network again
                # only once connected to it again; what it joins besides still comes with it at start
                nc.endpoints_config.pop(mode, None)
                nc.first_left = True
            cstore.save_config(fresh)


__all__ = ["DEFAULT_ALIASES", "NetworkManager", "StartPlan", "release", "release_stale", "state_of"]
