"""Building SIP messages: responses, dialogs and in-dialog requests, caller and called number.

Our own small dialog instead of ``aiosipua.Dialog`` fixes two defects seen with it on this
machine: its provisional and 200 responses do not copy Record-Route (a proxy's ACK and BYE
then bypass the proxy), and over TCP its Contact lacks ``;transport=tcp`` while its Via says
UDP. Here every response to a dialog-creating request copies Record-Route, and Via and
Contact carry the transport the dialog runs on.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from aiosipua.headers import parse_address, parse_uri
from aiosipua.message import SipRequest, SipResponse

from connectors.pbx.sip_wire import Peer

NUMBER_RE = re.compile(r"[^0-9A-Za-z+*#._-]")
REASONS = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    422: "Session Interval Too Small",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    500: "Server Internal Error",
    503: "Service Unavailable",
    600: "Busy Everywhere",
}
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, NOTIFY"


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def via(host: str, port: int, transport: str) -> str:
    return f"SIP/2.0/{transport.upper()} {host}:{port};branch={new_branch()};rport"


def contact(host: str, port: int, transport: str, user: str = "bot") -> str:
    suffix = ";transport=tcp" if transport == "tcp" else ""
    return f"<sip:{user}@{host}:{port}{suffix}>"


def response(
    request: SipRequest,
    code: int,
    reason: str = "",
    *,
    to_tag: str | None = None,
    headers: dict[str, str] | None = None,
    user_agent: str = "",
) -> SipResponse:
    """A response copying Via, From, To (with ``to_tag``), Call-ID, CSeq and, for a
    dialog-creating INVITE answered 1xx/2xx, Record-Route (RFC 3261 §12.1.1)."""
    resp = SipResponse(status_code=code, reason_phrase=reason or REASONS.get(code, "Unknown"))
    for value in request.headers.get("via"):
        resp.headers.append("Via", value)
    resp.headers.set_single("From", request.headers.get_first("from") or "")
    to = request.headers.get_first("to") or ""
    if to_tag and code != 100 and ";tag=" not in to.replace(" ", "").lower():
        to = f"{to};tag={to_tag}"
    resp.headers.set_single("To", to)
    resp.headers.set_single("Call-ID", request.call_id or "")
    resp.headers.set_single("CSeq", request.headers.get_first("cseq") or "")
    if request.method in ("INVITE", "SUBSCRIBE") and 100 < code < 300:
        for value in request.headers.get("record-route"):
            resp.headers.append("Record-Route", value)
    if user_agent:
        resp.headers.set_single("Server", user_agent)
    for name, value in (headers or {}).items():
        resp.headers.set_single(name, value)
    return resp


def uri_peer(uri_text: str, default: Peer | None = None) -> Peer:
    """The next hop named by a SIP URI (host, port, ``;transport=``)."""
    uri = parse_uri(uri_text.strip().strip("<>").split(">", 1)[0])
    transport = str(uri.params.get("transport") or (default.transport if default else "udp"))
    return Peer(uri.host, uri.port or 5060, transport.lower())


@dataclass(slots=True)
class Dialog:
    """Our side of one INVITE dialog (as UAS): identities, CSeqs, route set, next hop."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_party: str  # the To value, without tag (our From in requests we send)
    remote_party: str  # the From value (our To in requests we send)
    remote_target: str  # the peer's Contact URI
    route_set: list[str] = field(default_factory=list)
    peer: Peer = field(default_factory=lambda: Peer("127.0.0.1", 5060))  # where requests go
    local_cseq: int = 0
    remote_cseq: int = 0

    @classmethod
    def from_invite(cls, invite: SipRequest, source: Peer) -> Dialog:
        from_header = invite.headers.get_first("from") or ""
        remote_tag = (parse_address(from_header).tag or "") if from_header else ""
        to = re.sub(r";\s*tag=[^;>]*", "", invite.headers.get_first("to") or "", flags=re.I)
        raw = invite.headers.get_first("contact") or ""
        target = raw[raw.find("<") + 1 : raw.find(">")] if "<" in raw else raw.split(";")[0]
        routes = list(invite.headers.get("record-route"))  # UAS: in order (RFC 3261 §12.1.1)
        peer = uri_peer(routes[0], source) if routes else source
        cseq = invite.cseq
        return cls(
            call_id=invite.call_id or "",
            local_tag=new_tag(),
            remote_tag=remote_tag,
            local_party=to,
            remote_party=from_header,
            remote_target=target.strip() or invite.uri,
            route_set=routes,
            peer=peer,
            remote_cseq=cseq.seq if cseq else 0,
        )

    def request(self, method: str, host: str, port: int, *, cseq: int | None = None) -> SipRequest:
        """An in-dialog request to the remote target through the route set."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        req = SipRequest(method=method, uri=self.remote_target)
        req.headers.append("Via", via(host, port, self.peer.transport))
        req.headers.set_single("Max-Forwards", "70")
        req.headers.set_single("From", f"{self.local_party};tag={self.local_tag}")
        req.headers.set_single("To", self.remote_party)
        req.headers.set_single("Call-ID", self.call_id)
        req.headers.set_single("CSeq", f"{cseq} {method}")
        for route in self.route_set:
            req.headers.append("Route", route)
        return req

    def matches(self, request: SipRequest) -> bool:
        to_tag = _tag(request.headers.get_first("to") or "")
        from_tag = _tag(request.headers.get_first("from") or "")
        return to_tag == self.local_tag and from_tag == self.remote_tag


def _tag(header: str) -> str:
    match = re.search(r";\s*tag=([^;>\s]+)", header, re.I)
    return match.group(1) if match else ""


def user_of(header: str | None) -> str:
    """The number in a From / To / P-Asserted-Identity / Diversion value or a URI."""
    if not header:
        return ""
    first = header.split(",", 1)[0].strip()
    tel = re.search(r"<?tel:([^;>]+)", first, re.I)
    if tel:  # tel:+74951234567;phone-context=…
        return NUMBER_RE.sub("", tel.group(1))[:64]
    try:
        address = parse_address(first)
    except Exception:
        return ""
    user = address.uri.user or ""
    return NUMBER_RE.sub("", user.split(";", 1)[0])[:64]


def call_parties(invite: SipRequest, own_users: set[str]) -> tuple[str, str, dict[str, str]]:
    """(caller, called, extra) of an INVITE.

    Caller: P-Asserted-Identity, else Remote-Party-ID, else From. Called: the first
    Diversion (the number the caller dialled before the PBX forwarded the call), else the
    Request-URI user unless it is one of ours (our Contact user or a registered extension),
    else the To user.
    """
    caller = (
        user_of(invite.headers.get_first("p-asserted-identity"))
        or user_of(invite.headers.get_first("remote-party-id"))
        or user_of(invite.headers.get_first("from"))
    )
    ruri_user = user_of(f"<{invite.uri}>")
    to_user = user_of(invite.headers.get_first("to"))
    diversion = user_of(invite.headers.get_first("diversion"))
    called = diversion or (ruri_user if ruri_user and ruri_user not in own_users else to_user)
    extra = {"request_uri_user": ruri_user, "to_user": to_user}
    if diversion:
        extra["diversion"] = diversion
    return caller, called, extra
