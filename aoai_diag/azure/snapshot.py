"""The run-wide view of Resource Manager, computed once (`ctx.once`) and shared by every target.

One Resource Graph query finds accounts, private endpoints, private DNS zones and their links, VNets and
firewalls across all visible subscriptions; where Graph is not permitted, per-subscription list calls run
concurrently instead. Reads that depend on a target (record sets, one PE's NIC and zone groups) are cached
per resource id. Every read that fails is kept as a Denied naming its scope: a missing read is never
mistaken for an absent resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from aoai_diag.azure import convert
from aoai_diag.azure.arm_clients import (
    COMPUTE_API,
    NETWORK_API,
    PRIVATE_DNS_API,
    SUBSCRIPTIONS_API,
    ArmFailure,
    ArmSession,
    bounded_http,
)
from aoai_diag.azure.credential import build_credential
from aoai_diag.azure.resources import Firewall, Nsg
from aoai_diag.context import ProbeContext
from aoai_diag.evidence.azure import Account, ArmAccess, Denied, Nic, PrivateEndpoint, Subnet, Vnet, VnetLink, Zone

T = TypeVar("T")

# `type =~` is case-insensitive; `==` is not (https://learn.microsoft.com/azure/governance/resource-graph/concepts/query-language).
GRAPH_TYPES = (
    "microsoft.cognitiveservices/accounts",
    "microsoft.network/privateendpoints",
    "microsoft.network/privatednszones",
    "microsoft.network/privatednszones/virtualnetworklinks",
    "microsoft.network/virtualnetworks",
    "microsoft.network/azurefirewalls",
    # NSG rules come in the same round trip: the client's and the PE subnet's NSGs need no GET of their own.
    "microsoft.network/networksecuritygroups",
)
GRAPH_QUERY = (
    "resources | where "
    + " or ".join(f"type =~ '{t}'" for t in GRAPH_TYPES)
    + " | project id, name, type, kind, location, subscriptionId, resourceGroup, properties"
)
GRAPH_API = "2021-03-01"
"""The api-version azure-mgmt-resourcegraph 8 uses for the same query."""
GRAPH_PAGE = 1000
"""Rows asked per Resource Graph page (the service's maximum)."""
GRAPH_PAGES = 50
"""Pages read at most (50,000 resources of the seven types); past it the inventory is incomplete, never complete."""
LIST_LIMIT = 5000
"""Items read at most from one per-subscription list (the SDK follows its nextLinks through the bounded transport)."""
MAX_SUBSCRIPTIONS = 1000
"""Subscriptions searched at most (Resource Graph takes at most 1,000 per query)."""


@dataclass(frozen=True)
class Inventory:
    source: str
    """`resource_graph` or `list_calls`."""
    subscriptions: tuple[str, ...]
    denied: tuple[Denied, ...]
    accounts: tuple[Account, ...]
    pe_rows: tuple[dict[str, Any], ...]
    zones: tuple[Zone, ...]
    links: tuple[VnetLink, ...]
    vnets: tuple[Vnet, ...]
    firewalls: tuple[Firewall, ...]
    graph_error: Denied | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    rows_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    """REST JSON by lower-case id of the VNets, their subnets and the NSGs the inventory returned: a read of one of
    them is answered from here, with no request of its own."""

    @property
    def complete(self) -> bool:
        """Every subscription answered every list (Graph only returns what may be read: also complete)."""
        return not self.denied


def session(ctx: ProbeContext, on_azure: bool) -> ArmSession:
    def build() -> ArmSession:
        # The session serves every target of the run: it lives until the run's bound, each read and operation is
        # cut at the asking target's own deadline. Token requests go through the same bounded HTTP (deadline, caps).
        deadline = ctx.run_bound or ctx.deadline
        base_url = (ctx.settings.arm_endpoint or ctx.settings.cloud_obj.arm_endpoint).rstrip("/")
        http = bounded_http(ctx.settings, deadline, ctx.clock, base_url)
        credential = build_credential(ctx.settings, on_azure, ctx.op_timeout(), transport=http.token_transport)
        sess = ArmSession(ctx.settings, credential, deadline, ctx.clock, http=http)
        sess.on_azure = on_azure
        return sess

    return ctx.once("arm.session", build)  # type: ignore[no-any-return]


def access(ctx: ProbeContext, on_azure: bool) -> ArmAccess:
    """Token, then the subscriptions to search (`--subscription` or every one the credential lists): the arm_access
    evidence, read once per run (raises ArmFailure when the token or the list is refused)."""

    def compute() -> ArmAccess:
        sess = session(ctx, on_azure)
        sess.call("token for " + sess.scope, lambda: sess.credential.get_token(sess.scope))
        read = ArmAccess(
            credential=sess.credential.source,
            arm_endpoint=sess.base_url,
            from_option=bool(ctx.settings.subscriptions),
        )
        if ctx.settings.subscriptions:
            return replace(read, subscriptions=tuple(ctx.settings.subscriptions))
        rows, truncated = sess.list_pages("/subscriptions", SUBSCRIPTIONS_API)
        subs = tuple(
            str(r["subscriptionId"]) for r in rows if r.get("subscriptionId") and r.get("state", "Enabled") == "Enabled"
        )
        # A list cut short still names subscriptions to search; the cut is kept, so nothing is concluded absent.
        return replace(read, subscriptions=subs[:MAX_SUBSCRIPTIONS], denied=() if truncated is None else (truncated,))

    return ctx.once("arm.access", compute)  # type: ignore[no-any-return]


def _graph_rows(sess: ArmSession, subscriptions: tuple[str, ...]) -> tuple[list[dict[str, Any]], Denied | None]:
    """Every row of the inventory query, and why the rows are incomplete when they are (a `Truncated` Denied:
    more than GRAPH_PAGES pages, or a skip token that repeats). A page holding more rows than asked, or a row that
    is not a resource, is the service misbehaving: ArmFailure MalformedResponse (the list calls are tried then)."""
    rows: list[dict[str, Any]] = []
    skip: str | None = None
    seen: set[str] = set()
    for _ in range(GRAPH_PAGES):
        options: dict[str, Any] = {"resultFormat": "objectArray", "$top": GRAPH_PAGE}
        if skip:
            options["$skipToken"] = skip
        request = {"subscriptions": list(subscriptions), "query": GRAPH_QUERY, "options": options}
        response = sess.call("Resource Graph", partial(graph_query, sess, request))
        data = response.get("data") or []
        if not isinstance(data, list) or len(data) > GRAPH_PAGE:
            count = len(data) if isinstance(data, list) else type(data).__name__
            raise ArmFailure(
                Denied(
                    scope="Resource Graph",
                    status=None,
                    code="MalformedResponse",
                    message=f"a page of {count} rows; {GRAPH_PAGE} were asked",
                )
            )
        rows.extend(_checked_row(r, "Resource Graph") for r in data)
        skip = response.get("$skipToken")
        if not skip:
            return rows, None
        if not isinstance(skip, str) or skip in seen:
            return rows, Denied(
                scope="Resource Graph",
                status=None,
                code="Truncated",
                message=f"a skip token repeats: stopped at {len(rows)} rows",
            )
        seen.add(skip)
    return rows, Denied(
        scope="Resource Graph",
        status=None,
        code="Truncated",
        message=f"more than {GRAPH_PAGES} pages: stopped at {len(rows)} rows",
    )


def _checked_row(row: Any, scope: str) -> dict[str, Any]:
    from aoai_diag.peer import PeerValueError

    try:
        return convert.checked_row(row, "row")
    except PeerValueError as exc:
        raise ArmFailure(Denied(scope=scope, status=None, code="MalformedResponse", message=str(exc)[:200])) from None


def graph_query(sess: ArmSession, request: dict[str, Any]) -> dict[str, Any]:
    """One page of the query, a plain POST: the answer is parsed once, by our checked parser, and its row count
    checked before any row is converted (the SDK's model deserializer walked all 100,000 rows of a hostile page
    first, issue 19), without loading azure-mgmt-resourcegraph.
    https://learn.microsoft.com/rest/api/azureresourcegraph/resourcegraph/resources/resources"""
    return sess.post_json("/providers/Microsoft.ResourceGraph/resources", GRAPH_API, request)


def _list_rows(sess: ArmSession, subscriptions: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[Denied]]:
    """Per-subscription list calls, all concurrent; zone links need the zones first."""
    from aoai_diag.azure.arm_clients import pages

    calls: dict[str, Callable[[], list[dict[str, Any]]]] = {}
    cut: list[Denied] = []  # lists longer than LIST_LIMIT, named so the inventory is not taken as complete
    for sub in subscriptions:
        scope = f"/subscriptions/{sub}"

        def listing(
            kind: str, fn: Callable[[str], Any], sub: str = sub, scope: str = scope
        ) -> Callable[[], list[dict[str, Any]]]:
            def run() -> list[dict[str, Any]]:
                rows = sess.call(
                    scope, lambda: [_checked_row(convert.sdk_json(m), scope) for m in pages(fn(sub), LIST_LIMIT + 1)]
                )
                if len(rows) > LIST_LIMIT:  # the rest was not read: what is missing is unknown, not absent
                    cut.append(
                        Denied(
                            scope=scope,
                            status=None,
                            code="Truncated",
                            message=f"more than {LIST_LIMIT} {kind}: the rest not read",
                        )
                    )
                    rows = rows[:LIST_LIMIT]
                for row in rows:
                    row["type"] = kind
                return rows

            return run

        calls[f"{sub}|accounts"] = listing(GRAPH_TYPES[0], lambda s: sess.cognitive(s).accounts.list())
        calls[f"{sub}|pes"] = listing(
            GRAPH_TYPES[1], lambda s: sess.network(s).private_endpoints.list_by_subscription()
        )
        calls[f"{sub}|zones"] = listing(GRAPH_TYPES[2], lambda s: sess.privatedns(s).private_zones.list())
        calls[f"{sub}|vnets"] = listing(GRAPH_TYPES[4], lambda s: sess.network(s).virtual_networks.list_all())
        calls[f"{sub}|firewalls"] = listing(GRAPH_TYPES[5], lambda s: sess.network(s).azure_firewalls.list_all())
    results = sess.parallel(calls)
    rows: list[dict[str, Any]] = []
    denied: dict[str | None, Denied] = {}
    for value in [*results.values(), *cut]:
        if isinstance(value, Denied):
            denied.setdefault(value.scope, value)
        else:
            rows.extend(value)
    link_calls: dict[str, Callable[[], list[dict[str, Any]]]] = {}
    for row in rows:
        if row["type"] == GRAPH_TYPES[2]:
            zone = convert.zone(row)
            if _relevant_zone(zone.name):

                def links(zone: Zone = zone) -> list[dict[str, Any]]:
                    client = sess.privatedns(zone.subscription_id)
                    found = sess.call(
                        zone.id,
                        lambda: [
                            convert.sdk_json(m)
                            for m in pages(
                                client.virtual_network_links.list(
                                    resource_group_name=zone.resource_group, private_zone_name=zone.name
                                )
                            )
                        ],
                    )
                    for item in found:
                        item["type"] = GRAPH_TYPES[3]
                    return found

                link_calls[zone.id] = links
    for value in sess.parallel(link_calls).values():
        if isinstance(value, Denied):
            denied.setdefault(value.scope, value)
        else:
            rows.extend(value)
    return rows, list(denied.values())


def _relevant_zone(name: str) -> bool:
    from aoai_diag.clouds import CLOUDS

    name = name.lower()
    for cloud in CLOUDS.values():
        for suffix in cloud.suffixes:
            if name == suffix or name == f"privatelink.{suffix}" or suffix.endswith("." + name):
                return True
    return False


def inventory(ctx: ProbeContext, on_azure: bool) -> Inventory:
    def compute() -> Inventory:
        acc = access(ctx, on_azure)
        sess = session(ctx, on_azure)
        graph_error: Denied | None = None
        denied: list[Denied] = list(acc.denied)
        source = "resource_graph"
        try:
            rows, cut = _graph_rows(sess, acc.subscriptions) if acc.subscriptions else ([], None)
            if cut is not None:
                denied.append(cut)
        except ArmFailure as exc:
            # Resource Graph may be forbidden or unavailable: ask each subscription instead.
            graph_error = exc.denied
            source = "list_calls"
            rows, more = _list_rows(sess, acc.subscriptions)
            denied += more
        return from_rows(source, acc.subscriptions, tuple(denied), rows, graph_error)

    return ctx.once("arm.inventory", compute)  # type: ignore[no-any-return]


def is_reference(item: Any) -> bool:
    """An id-only entry (`{"id": ".../subnets/snet-pe"}`): a pointer at a resource, not its body. Resource Graph rows
    of NSGs list their subnets and NICs this way (read-only references in the NSG's own body,
    https://learn.microsoft.com/rest/api/virtualnetwork/network-security-groups/get), PEs their NICs."""
    return isinstance(item, Mapping) and "properties" not in item


def index_bodies(by_type: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """REST bodies by lower-case id, each taken only from its own type's row: VNets and NSGs from their rows,
    subnets from their VNet's row (where Azure embeds them whole). A reference elsewhere (an NSG's `subnets`) never
    stands in for, or replaces, a body (issue 17, class 1)."""
    out: dict[str, dict[str, Any]] = {}
    for row in (*by_type.get(GRAPH_TYPES[4], ()), *by_type.get(GRAPH_TYPES[6], ())):
        if row.get("id") and not is_reference(row):
            out[str(row["id"]).lower()] = row
    for row in by_type.get(GRAPH_TYPES[4], ()):
        for sub in (row.get("properties") or {}).get("subnets") or ():
            if isinstance(sub, Mapping) and sub.get("id") and not is_reference(sub):
                out[str(sub["id"]).lower()] = dict(sub)
    return out


def from_rows(
    source: str,
    subscriptions: tuple[str, ...],
    denied: tuple[Denied, ...],
    rows: list[dict[str, Any]],
    graph_error: Denied | None = None,
) -> Inventory:
    """The inventory of Resource Graph rows (or list-call bodies tagged with their type): pure, no I/O. Rows are
    grouped by their own `type`; an id-only row (a reference) is no resource."""
    by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in GRAPH_TYPES}
    for row in rows:
        if isinstance(row, Mapping) and row.get("id") and not is_reference(row):
            by_type.setdefault(str(row.get("type", "")).lower(), []).append(row)
    unread = list(denied)  # plus the rows the converters cannot read (issue 19)
    return Inventory(
        source=source,
        subscriptions=subscriptions,
        accounts=_converted(convert.account, by_type[GRAPH_TYPES[0]], unread),
        pe_rows=tuple(by_type[GRAPH_TYPES[1]]),
        zones=tuple(z for z in _converted(convert.zone, by_type[GRAPH_TYPES[2]], unread) if _relevant_zone(z.name)),
        links=_converted(convert.vnet_link, by_type[GRAPH_TYPES[3]], unread),
        vnets=_converted(convert.vnet, by_type[GRAPH_TYPES[4]], unread),
        firewalls=_converted(convert.firewall, by_type[GRAPH_TYPES[5]], unread),
        graph_error=graph_error,
        rows_by_id=index_bodies(by_type),
        denied=tuple(unread),
    )


def _converted(parse: Callable[[dict[str, Any]], T], rows: list[dict[str, Any]], denied: list[Denied]) -> tuple[T, ...]:
    """`parse` of each row; a row the parser cannot read (a list where an object belongs, deep in `properties`) is
    left out and named in `denied`, so the inventory is incomplete rather than the run broken (issue 19)."""
    out: list[T] = []
    for row in rows:
        try:
            out.append(parse(row))
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            scope = str(row.get("id") or "a row")[:300]
            denied.append(
                Denied(
                    scope=scope,
                    status=None,
                    code="MalformedResponse",
                    message=f"unreadable resource: {type(exc).__name__}: {exc}"[:200],
                )
            )
    return tuple(out)


def find_accounts(inv: Inventory, label: str) -> list[Account]:
    """Accounts whose custom subdomain is `label`; failing that, whose resource name is."""
    label = label.lower()
    by_sub = [a for a in inv.accounts if (a.custom_subdomain or "").lower() == label]
    return by_sub or [a for a in inv.accounts if a.name.lower() == label]


def private_endpoint(ctx: ProbeContext, sess: ArmSession, pe_id: str, row: dict[str, Any] | None) -> PrivateEndpoint:
    """One PE with its NIC addresses and DNS zone groups (read once per run); raises ArmFailure."""

    def compute() -> PrivateEndpoint:
        data = row if row is not None else sess.get_json(pe_id, NETWORK_API)
        nic_ids = [n.get("id") for n in (data.get("properties") or {}).get("networkInterfaces") or () if n.get("id")]
        calls: dict[str, Callable[[], Any]] = {
            "groups": lambda: [
                convert.zone_group(g) for g in sess.list_json(pe_id + "/privateDnsZoneGroups", NETWORK_API)
            ]
        }
        for nid in nic_ids:
            calls[nid] = partial(nic, ctx, sess, nid)
        results = sess.parallel(calls)
        groups = results.pop("groups")
        # H8 (issue 8, class 1): a denied NIC read is kept as such, and the NIC's ASGs go to the NSG evaluation.
        nics = [v for v in results.values() if isinstance(v, Nic)]
        return convert.private_endpoint(
            data,
            tuple(ip for n in nics for ip in n.private_ips),
            None if isinstance(groups, Denied) else tuple(groups),
            nic_denied=tuple(v for v in results.values() if isinstance(v, Denied)),
            asg_ids=tuple(a for n in nics for a in n.asg_ids or ()),
        )

    return ctx.once("arm.pe:" + pe_id.lower(), compute)  # type: ignore[no-any-return]


def a_record(ctx: ProbeContext, sess: ArmSession, zone: Zone, label: str) -> tuple[str, ...] | None:
    """Addresses of A `label` in `zone`, None when the record does not exist; raises ArmFailure."""

    def compute() -> tuple[str, ...] | None:
        scope = f"{zone.id}/A/{label}"
        try:
            record = sess.get_json(scope, PRIVATE_DNS_API)
        except ArmFailure as exc:
            if exc.denied.status == 404:
                return None
            raise ArmFailure(
                Denied(scope=scope, status=exc.denied.status, code=exc.denied.code, message=exc.denied.message)
            ) from None
        return convert.a_record_ips(record)

    return ctx.once(f"arm.a:{zone.id.lower()}:{label}", compute)  # type: ignore[no-any-return]


def _get(ctx: ProbeContext, sess: ArmSession, kind: str, rid: str, indexed: bool = False) -> Any:
    """One network resource by id, read once per run: from the inventory when it holds it (`indexed` kinds: VNets,
    subnets, NSGs), else with a plain GET.

    A plain GET through the session's pipeline needs no management SDK: azure-mgmt-network alone costs about half a
    second to import, more than the whole healthy run it would serve.
    """

    def fetch() -> Any:
        if indexed:
            try:
                row = inventory(ctx, bool(getattr(sess, "on_azure", False))).rows_by_id.get(rid.lower())
            except ArmFailure:
                row = None
            if row is not None:
                return row
        return sess.get_json(rid, NETWORK_API)

    return ctx.once(f"arm.{kind}:{rid.lower()}", fetch)


def nic(ctx: ProbeContext, sess: ArmSession, nic_id: str) -> Nic:
    return convert.nic(_get(ctx, sess, "nic", nic_id))


def subnet(ctx: ProbeContext, sess: ArmSession, subnet_id: str) -> Subnet:
    return convert.subnet(_get(ctx, sess, "subnet", subnet_id, indexed=True))


def vnet(ctx: ProbeContext, sess: ArmSession, vnet_id: str) -> Vnet:
    return convert.vnet(_get(ctx, sess, "vnet", vnet_id, indexed=True))


def nsg(ctx: ProbeContext, sess: ArmSession, nsg_id: str) -> Nsg:
    return convert.nsg(_get(ctx, sess, "nsg", nsg_id, indexed=True))


def vm_nic_ids(ctx: ProbeContext, sess: ArmSession, vm_id: str) -> list[str]:
    """NIC ids of a VM (plain ARM GET: no compute SDK is installed)."""
    data = ctx.once(f"arm.vm:{vm_id.lower()}", lambda: sess.get_json(vm_id, COMPUTE_API))
    nics = ((data.get("properties") or {}).get("networkProfile") or {}).get("networkInterfaces") or ()
    # An answer missing fields (or holding odd entries) yields fewer NICs, never a KeyError.
    usable = [n for n in nics if isinstance(n, Mapping) and n.get("id")]
    primary = [str(n["id"]) for n in usable if (n.get("properties") or {}).get("primary")]
    return primary + [str(n["id"]) for n in usable if n["id"] not in primary]


def _values(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(v) for v in data.get("value") or () if isinstance(v, Mapping)]


def effective_routes(ctx: ProbeContext, sess: ArmSession, nic_id: str) -> list[dict[str, Any]]:
    """The NIC's effective routes (a long-running POST), polled no later than this target's deadline."""
    path = nic_id + "/effectiveRouteTable"
    return ctx.once(  # type: ignore[no-any-return]
        "arm.routes:" + nic_id.lower(), lambda: _values(sess.lro(path, path, NETWORK_API, ctx.deadline))
    )


def effective_nsgs(ctx: ProbeContext, sess: ArmSession, nic_id: str) -> list[dict[str, Any]]:
    """The NIC's effective NSGs (a long-running POST), polled no later than this target's deadline."""
    path = nic_id + "/effectiveNetworkSecurityGroups"
    return ctx.once(  # type: ignore[no-any-return]
        "arm.effnsg:" + nic_id.lower(), lambda: _values(sess.lro(path, path, NETWORK_API, ctx.deadline))
    )


def prefetch_client(ctx: ProbeContext, sess: ArmSession, vm_id: str) -> None:
    """Start reading this VM's network (NIC, subnet, VNet) in the background.

    The reads land in the run cache; the probes that need them later find them there, so the chain
    VM -> NIC -> subnet -> VNet overlaps with the inventory instead of following it. Failures are cached
    too and reported by the probe that reads them.
    """

    def chain() -> None:
        nic_ids = vm_nic_ids(ctx, sess, vm_id)
        if not nic_ids:
            return
        client_nic = nic(ctx, sess, nic_ids[0])
        if client_nic.subnet_id:
            sess.submit(vnet, ctx, sess, convert.parent_id(client_nic.subnet_id))
            found = subnet(ctx, sess, client_nic.subnet_id)
            # The static NSG rules of the path are read up front: they often explain a failed connect without
            # the effective-NSG operation.
            for nsg_id in {i for i in (client_nic.nsg_id, found.nsg_id) if i}:
                sess.submit(nsg, ctx, sess, nsg_id)

    def quiet() -> None:
        try:
            chain()
        except Exception:  # cached by ctx.once; the probe reading it reports the failure
            return

    ctx.once("arm.prefetch:" + vm_id.lower(), lambda: sess.submit(quiet))


def prefetch_subnet(ctx: ProbeContext, sess: ArmSession, subnet_id: str) -> None:
    """Read a PE subnet and its NSG in the background (arm_nsg needs both)."""

    def run() -> None:
        try:
            found = subnet(ctx, sess, subnet_id)
            if found.nsg_id:
                nsg(ctx, sess, found.nsg_id)
        except Exception:
            return

    ctx.once("arm.prefetch:" + subnet_id.lower(), lambda: sess.submit(run))
