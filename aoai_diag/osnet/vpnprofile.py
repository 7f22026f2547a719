"""The point-to-site VPN profile the user imported, read as evidence: gateway, routes, DNS servers, DNS suffixes.

Accepted: the Azure VPN Client profile (`AzureVPN/azurevpnconfig.xml`, root `AzVpnProfile`), the generic settings
of the downloaded package (`Generic/VpnSettings.xml`, root `VpnProfile`), or the package zip (or its unzipped
folder) holding either or both.
Shapes as Microsoft documents them:
https://learn.microsoft.com/azure/vpn-gateway/azure-vpn-client-optional-configurations (`<clientconfig>` with
`<dnsservers><dnsserver>`, `<dnssuffixes><dnssuffix>`, `<includeroutes>` / `<excluderoutes>` of
`<route><destination><mask>`) and https://learn.microsoft.com/azure/vpn-gateway/about-vpn-profile-download (the
package's folders: `AzureVPN/azurevpnconfig.xml`, `Generic/VpnSettings.xml` "information needed to configure a
generic client"). Read from `VpnSettings.xml`: `VpnServer`, `VpnType`, `Routes` (comma-separated prefixes),
`VpnClientAddressPool`, `CustomDnsServers`, `AuthenticationType` or `Auth`; a list may also come as child elements.
The XML is read with defusedxml, a document type declaration refused: a profile never needs one, and entity
expansion is how an XML file becomes a memory bomb.

Only the fields below are copied out: everything else (server secret, certificate hashes and bodies, CA
certificates, RADIUS root certificates, the Entra audience, issuer, tenant and client app id, passwords, keys)
stays out of the evidence, and `omitted` names each such element present so a reader knows what was left out.
An element the Azure VPN Client reads only inside `<clientconfig>` (`<dnsservers>`, `<dnssuffixes>`,
`<includeroutes>`, `<excluderoutes>`) found elsewhere, or an unknown child where a DNS server or suffix belongs
(the macOS client's own exports spell it `<dnsssuffix>`:
https://github.com/MicrosoftDocs/azure-docs/issues/120028), is ignored by the client and so by this reader too;
`warnings` says so.

Evidence shape (`load_profile` gives a `VpnProfileContent`, aoai_diag/evidence/osnet.py):
    files (list of str): what was read (zip member names, or the file name).
    name, gateway, vpn_type, auth_type (str | null).
    client_address_pool (list of CIDR): the addresses the gateway hands to clients (the tunnel interface's).
    advertised_routes (list of CIDR): the prefixes the gateway advertised when the package was generated.
    include_routes, exclude_routes (list of CIDR): the Azure VPN Client's custom routes.
    routes_known (bool): the package's advertised routes were read (VpnSettings.xml), so "no route covers the
        address" is a fact; the Azure VPN Client profile alone lists only custom routes.
    dns_servers (list of IP): `<dnsservers>` of the Azure VPN Client profile and VpnSettings' custom DNS servers.
    dns_suffixes (list of str): `<dnssuffixes>`.
    omitted (list of str): secret elements present and left out.
    warnings (list of str): entries that could not be read (a malformed route) or that the client ignores (an
        element outside the place it is read from).
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from xml.etree import ElementTree

import defusedxml
from defusedxml import ElementTree as SafeElementTree

from aoai_diag.evidence.osnet import VpnProfileContent

MAX_XML_BYTES = 2 * 1024 * 1024
MAX_ZIP_BYTES = 8 * 1024 * 1024
MAX_ZIP_PROFILES = 2
"""Profile files read from one zip at most: the package holds one azurevpnconfig.xml and one VpnSettings.xml."""
# Elements whose text is a secret or ties the profile to a tenant: never copied, only named in `omitted`.
SECRET_TAGS = frozenset(
    {
        "serversecret",
        "hash",
        "thumbprint",
        "cacert",
        "cacerts",
        "cacertificate",
        "clientcert",
        "privatekey",
        "key",
        "certificate",
        "certificates",
        "publiccertdata",
        "radiusserverrootcertificate",
        "radiusserversecret",
        "audience",
        "issuer",
        "tenant",
        "tennant",
        "clientappid",
        "aadaudience",
        "aadissuer",
        "aadtenant",
        "password",
        "clientcertificatepassword",
        "presharedkey",
        "psk",
    }
)
# Any other element named like a credential is left out too: a package format that grows one is covered.
_SECRET_NAME = re.compile(r"secret|password|passphrase|privatekey|token|cert(?!rootcn|issuercn)")
# Where the Azure VPN Client reads each <clientconfig> list (azure-vpn-client-optional-configurations).
_CLIENTCONFIG_ONLY = frozenset({"dnsservers", "dnssuffixes", "includeroutes", "excluderoutes"})
_LIST_ITEMS = {"dnsservers": ("dnsserver",), "dnssuffixes": ("dnssuffix", "dnssufix")}


class VpnProfileError(Exception):
    """The file is not a VPN profile this tool reads; the message is one line."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _parse_xml(text: str, what: str) -> ElementTree.Element:
    try:
        return SafeElementTree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise VpnProfileError(f"{what}: a document type declaration is not allowed in a VPN profile") from None
    except defusedxml.DefusedXmlException as exc:  # entities or external references without a DTD: refused too
        raise VpnProfileError(f"{what}: refused XML construct ({type(exc).__name__})") from None
    except ElementTree.ParseError as exc:
        raise VpnProfileError(f"{what}: not well-formed XML ({exc})") from None


def _children(element: ElementTree.Element | None, tag: str) -> list[ElementTree.Element]:
    if element is None:
        return []
    return [child for child in element if _local(child.tag) == tag]


def _find(element: ElementTree.Element | None, *path: str) -> ElementTree.Element | None:
    for tag in path:
        if element is None:
            return None
        found = _children(element, tag)
        element = found[0] if found else None
    return element


def _text(element: ElementTree.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return value or None


def _secret(tag: str) -> bool:
    return tag in SECRET_TAGS or bool(_SECRET_NAME.search(tag))


def _omitted(root: ElementTree.Element) -> list[str]:
    """Credential elements holding something (text, or children: a certificate list), by name."""
    return sorted({_local(e.tag) for e in root.iter() if _secret(_local(e.tag)) and ((e.text or "").strip() or len(e))})


def _misplaced(profile: ElementTree.Element, config: ElementTree.Element | None) -> list[str]:
    """What the Azure VPN Client ignores because it is not where the client reads it."""
    found: list[str] = []
    parents = {child: parent for parent in profile.iter() for child in parent}
    for element in profile.iter():
        tag = _local(element.tag)
        parent = parents.get(element)
        if tag in _CLIENTCONFIG_ONLY and (parent is None or parent is not config):
            where = _local(parent.tag) if parent is not None else "the root"
            found.append(f"<{tag}> inside <{where}> is ignored: the VPN client reads it only inside <clientconfig>")
        if tag in _LIST_ITEMS:
            for child in element:
                if _local(child.tag) not in _LIST_ITEMS[tag]:
                    found.append(
                        f"<{_local(child.tag)}> inside <{tag}> is ignored: the VPN client reads only "
                        f"<{_LIST_ITEMS[tag][0]}> there"
                    )
    return found


def _prefix(destination: str, mask: str | None, warnings: list[str]) -> str | None:
    text = destination if mask is None else f"{destination}/{mask}"
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        warnings.append(f"route {text!r} is not an address prefix")
        return None


def _routes(section: ElementTree.Element | None, warnings: list[str]) -> list[str]:
    found: list[str] = []
    for route in _children(section, "route"):
        destinations = _children(route, "destination")
        if len(destinations) != 1 or not _text(destinations[0]):
            # The client refuses such a route too ("Destination cannot be empty or have more than one entry").
            warnings.append("a <route> without exactly one <destination> is ignored")
            continue
        prefix = _prefix(str(_text(destinations[0])), _text(_find(route, "mask")), warnings)
        if prefix:
            found.append(prefix)
    return found


def _addresses(values: list[str | None], what: str, warnings: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        for item in re.split(r"[\s,;]+", value or ""):
            if not item:
                continue
            try:
                found.append(str(ipaddress.ip_address(item)))
            except ValueError:
                warnings.append(f"{what} {item!r} is not an IP address")
    return found


def parse_azurevpnconfig(text: str) -> VpnProfileContent:
    """The Azure VPN Client profile (`AzVpnProfile` / `azvpnprofile`)."""
    root = _parse_xml(text, "azurevpnconfig.xml")
    profile = root if _local(root.tag) == "azvpnprofile" and _find(root, "azvpnprofile") is None else None
    profile = profile if profile is not None else _find(root, "azvpnprofile")
    if profile is None:
        raise VpnProfileError(f"not an Azure VPN Client profile (root element <{_local(root.tag)}>)")
    warnings: list[str] = []
    servers = [_text(_find(entry, "fqdn")) for entry in _children(_find(profile, "serverlist"), "serverentry")]
    transport = _text(_find(profile, "protocolconfig", "sslprotocolconfig", "transportprotocol"))
    config = _find(profile, "clientconfig")
    dns_servers = _addresses(
        [_text(e) for e in _children(_find(config, "dnsservers"), "dnsserver")], "dnsserver", warnings
    )
    # The documentation once spelled the element <dnssufix>; a profile written from it still means a suffix.
    suffixes = _find(config, "dnssuffixes")
    dns_suffixes = [
        str(_text(e)).lower() for e in [*_children(suffixes, "dnssuffix"), *_children(suffixes, "dnssufix")] if _text(e)
    ]
    include_routes = _routes(_find(config, "includeroutes"), warnings)
    exclude_routes = _routes(_find(config, "excluderoutes"), warnings)
    warnings.extend(_misplaced(profile, config))
    return VpnProfileContent(
        name=_text(_find(profile, "name")),
        gateway=next((s for s in servers if s), None),
        vpn_type=f"OpenVPN ({transport})" if transport else "OpenVPN",
        auth_type=_text(_find(profile, "clientauth", "type")),
        include_routes=tuple(include_routes),
        exclude_routes=tuple(exclude_routes),
        dns_servers=tuple(dns_servers),
        dns_suffixes=tuple(dns_suffixes),
        omitted=tuple(_omitted(root)),
        warnings=tuple(warnings),
    )


def parse_vpnsettings(text: str) -> VpnProfileContent:
    """The generic client settings of the package (`VpnProfile` with `VpnServer`)."""
    root = _parse_xml(text, "VpnSettings.xml")
    if _local(root.tag) != "vpnprofile" or _find(root, "vpnserver") is None:
        raise VpnProfileError(f"not a VpnSettings.xml (root element <{_local(root.tag)}> without <VpnServer>)")
    warnings: list[str] = []

    def prefixes(tag: str) -> tuple[str, ...]:
        element = _find(root, tag)
        values = [_text(element)] + [_text(c) for c in (element if element is not None else [])]
        found = []
        for value in values:
            for item in re.split(r"[\s,;]+", value or ""):
                if item and (prefix := _prefix(item, None, warnings)):
                    found.append(prefix)
        return tuple(found)

    advertised = prefixes("routes")
    pool = prefixes("vpnclientaddresspool")
    custom = _find(root, "customdnsservers")
    values = [_text(custom)] + [_text(c) for c in (custom if custom is not None else [])]
    dns_servers = _addresses(values, "custom DNS server", warnings)
    return VpnProfileContent(
        gateway=_text(_find(root, "vpnserver")),
        vpn_type=_text(_find(root, "vpntype")),
        auth_type=_text(_find(root, "authenticationtype")) or _auth(_find(root, "auth")),
        client_address_pool=pool,
        advertised_routes=advertised,
        routes_known=True,
        dns_servers=tuple(dns_servers),
        omitted=tuple(_omitted(root)),
        warnings=tuple(warnings),
    )


def _auth(element: ElementTree.Element | None) -> str | None:
    """`<Auth>EapTls</Auth>`, or the type named by one of its children (`<Auth><Type>AAD</Type>...</Auth>`)."""
    if element is None:
        return None
    text = _text(element)
    if text:
        return text
    for tag in ("type", "authtype", "authenticationtype", "method"):
        found = _text(_find(element, tag))
        if found:
            return found
    return None


def merge(parts: Sequence[VpnProfileContent]) -> VpnProfileContent:
    """One profile from the package's files: lists are joined without repeats, the first value of a field wins."""

    def joined(lists: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item for items in lists for item in items))

    def first(values: Iterable[str | None]) -> str | None:
        return next((v for v in values if v is not None), None)

    return VpnProfileContent(
        files=joined(p.files for p in parts),
        name=first(p.name for p in parts),
        gateway=first(p.gateway for p in parts),
        vpn_type=first(p.vpn_type for p in parts),
        auth_type=first(p.auth_type for p in parts),
        client_address_pool=joined(p.client_address_pool for p in parts),
        advertised_routes=joined(p.advertised_routes for p in parts),
        include_routes=joined(p.include_routes for p in parts),
        exclude_routes=joined(p.exclude_routes for p in parts),
        routes_known=any(p.routes_known for p in parts),
        dns_servers=joined(p.dns_servers for p in parts),
        dns_suffixes=joined(p.dns_suffixes for p in parts),
        omitted=joined(p.omitted for p in parts),
        warnings=joined(p.warnings for p in parts),
    )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    if info.file_size > MAX_XML_BYTES:
        raise VpnProfileError(f"{info.filename} in the zip is larger than {MAX_XML_BYTES} bytes")
    # The size the zip declares may understate the member (a zip bomb inflates to gigabytes): decompress no more
    # than the cap, whatever the header says.
    try:
        with archive.open(info) as member:
            data = member.read(MAX_XML_BYTES + 1)
    except (zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:  # damaged, unsupported or encrypted
        raise VpnProfileError(f"{info.filename} in the zip cannot be read ({type(exc).__name__}: {exc})") from None
    if len(data) > MAX_XML_BYTES:
        raise VpnProfileError(f"{info.filename} in the zip inflates past {MAX_XML_BYTES} bytes (its header says less)")
    return data.decode("utf-8-sig", errors="replace")


def _parse_any(text: str, name: str) -> VpnProfileContent:
    root = _parse_xml(text, name)
    tag = _local(root.tag)
    part = parse_vpnsettings(text) if tag == "vpnprofile" else parse_azurevpnconfig(text)
    return replace(part, files=(name,))


def load_profile(path: str) -> VpnProfileContent:
    """Read and parse the file at `path` (XML, the package zip, or the unzipped package's folder).

    Reads are capped (issue 19): an XML file at MAX_XML_BYTES (`/dev/zero` or a FIFO are read up to that and
    refused), a zip at MAX_ZIP_BYTES (a profile package is tens of KB), each member at MAX_XML_BYTES inflated.
    Raises VpnProfileError.
    """
    if os.path.isdir(path):
        return _load_folder(path)
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
        if regular and zipfile.is_zipfile(path):
            if os.path.getsize(path) > MAX_ZIP_BYTES:
                raise VpnProfileError(f"{path} is a zip larger than {MAX_ZIP_BYTES} bytes: not a VPN profile package")
            return _load_zip(path)
        with open(path, "rb") as fh:
            data = fh.read(MAX_XML_BYTES + 1)  # not the size stat gives: a device or a FIFO says 0
        if len(data) > MAX_XML_BYTES:
            raise VpnProfileError(f"{path} is larger than {MAX_XML_BYTES} bytes: not a VPN profile")
        text = data.decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise VpnProfileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _parse_any(text, os.path.basename(path))


def _load_folder(path: str) -> VpnProfileContent:
    parts = []
    for folder, name in (("AzureVPN", "azurevpnconfig.xml"), ("Generic", "VpnSettings.xml")):
        candidate = os.path.join(path, folder, name)
        if os.path.isfile(candidate):
            parts.append(replace(load_profile(candidate), files=(f"{folder}/{name}",)))
    if not parts:
        raise VpnProfileError(
            f"{path}: the folder holds neither AzureVPN/azurevpnconfig.xml nor Generic/VpnSettings.xml"
        )
    return merge(parts)


def _load_zip(path: str) -> VpnProfileContent:
    parts = []
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                base = info.filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
                if base == "azurevpnconfig.xml":
                    part = parse_azurevpnconfig(_read_member(archive, info))
                elif base == "vpnsettings.xml":
                    part = parse_vpnsettings(_read_member(archive, info))
                else:
                    continue
                parts.append(replace(part, files=(info.filename,)))
                if len(parts) >= MAX_ZIP_PROFILES:  # a zip of a hundred profiles is not a profile package
                    break
    except zipfile.BadZipFile as exc:
        raise VpnProfileError(f"{path}: damaged zip ({exc})") from None
    if not parts:
        raise VpnProfileError(f"{path}: the zip holds neither AzureVPN/azurevpnconfig.xml nor Generic/VpnSettings.xml")
    return merge(parts)


# Pure questions the probes and the diagnosis ask of a parsed profile ---------------------------------------------


def covering_route(profile: VpnProfileContent, address: str) -> tuple[str | None, str | None]:
    """(the profile route that carries `address` into the tunnel, the exclude route that keeps it out)."""
    ip = ipaddress.ip_address(address)

    def best(prefixes: Iterable[str]) -> str | None:
        hits = [ipaddress.ip_network(p) for p in prefixes if ip in ipaddress.ip_network(p)]
        return str(max(hits, key=lambda n: n.prefixlen)) if hits else None

    carried = best([*profile.advertised_routes, *profile.include_routes])
    excluded = best(profile.exclude_routes)
    return carried, excluded


def suffix_covers(suffix: str, name: str) -> bool:
    """Whether a DNS suffix (`.openai.azure.com`, `openai.azure.com`, `.` for every name) covers `name`."""
    suffix = suffix.strip().lower().strip(".")
    name = name.strip().lower().rstrip(".")
    return not suffix or name == suffix or name.endswith("." + suffix)


def in_client_pool(profile: VpnProfileContent, address: str | None) -> bool | None:
    """Whether `address` is one the gateway hands to VPN clients (None when the pool or the address is unknown)."""
    pool = profile.client_address_pool
    if not pool or not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    return any(ip in ipaddress.ip_network(p) for p in pool if ipaddress.ip_network(p).version == ip.version)
