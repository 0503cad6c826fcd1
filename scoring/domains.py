"""Email and website domains folded to the registrable domain (`mail.acme.co.uk` -> `acme.co.uk`).

The public suffix list is tldextract's bundled snapshot: no network fetch and no cache directory, so
scoring stays free of I/O and gives the same answer on every machine.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

from mappings.wire import remember

__all__ = ["FREE_MAIL_DOMAINS", "email_domain", "is_free_mail", "registrable_domain"]

# Private suffixes (github.io, myshopify.com, ...) count as suffixes, so two shops on one platform
# never share a "company domain".
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_MAX_INPUT = 2048
_KNOWN: dict[str, str | None] = {}  # registrable domain by exact input text
_KNOWN_LIMIT = 200_000
_UNKNOWN = object()

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "rocketmail.com", "hotmail.com",
        "outlook.com", "live.com", "msn.com", "passport.com", "windowslive.com", "aol.com", "aim.com",
        "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "protonmail.ch", "pm.me",
        "tutanota.com", "tutanota.de", "tuta.io", "fastmail.com", "fastmail.fm", "hey.com", "zoho.com",
        "zohomail.com", "yandex.com", "yandex.ru", "ya.ru", "mail.ru", "inbox.ru", "list.ru", "bk.ru",
        "rambler.ru", "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "web.de", "t-online.de",
        "freenet.de", "mail.com", "email.com", "usa.com", "inbox.com", "lycos.com", "excite.com",
        "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "aliyun.com",
        "naver.com", "hanmail.net", "daum.net", "nate.com", "rediffmail.com", "orange.fr", "wanadoo.fr",
        "free.fr", "laposte.net", "sfr.fr", "neuf.fr", "libero.it", "virgilio.it", "tiscali.it",
        "alice.it", "tin.it", "seznam.cz", "centrum.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl",
        "btinternet.com", "sky.com", "virginmedia.com", "ntlworld.com", "talktalk.net", "bigpond.com",
        "optusnet.com.au", "shaw.ca", "rogers.com", "sympatico.ca", "comcast.net", "verizon.net",
        "att.net", "sbcglobal.net", "bellsouth.net", "cox.net", "charter.net", "earthlink.net",
        "juno.com", "netzero.net", "uol.com.br", "bol.com.br", "terra.com.br", "ig.com.br",
        "telenet.be", "skynet.be", "ziggo.nl", "kpnmail.nl", "home.nl", "planet.nl", "bluewin.ch",
        "hushmail.com", "mailfence.com", "posteo.de", "mailbox.org", "runbox.com", "disroot.org",
        "mailinator.com", "guerrillamail.com", "10minutemail.com", "temp-mail.org", "yopmail.com",
        "sharklasers.com", "trashmail.com", "getnada.com", "dispostable.com",
    }
)  # fmt: skip
"""Consumer and disposable mailbox providers: their domain says nothing about the sender's company."""

# Country variants (yahoo.co.uk, hotmail.fr, outlook.com.br...) are free mail whatever the suffix.
_FREE_MAIL_BRANDS = frozenset(
    {"gmail", "googlemail", "yahoo", "ymail", "hotmail", "outlook", "live", "msn", "aol", "gmx", "yandex",
     "protonmail", "icloud", "rediffmail", "libero", "wanadoo", "mailinator", "yopmail"}
)  # fmt: skip


def registrable_domain(value: str | None) -> str | None:
    """The registrable domain of a host, URL or email address, or None when there is none.

    `https://www.Acme.co.uk/about` -> `acme.co.uk`; `jane@mail.acme.com` -> `acme.com`; unicode hosts come
    back in their IDNA (punycode) form so both spellings agree. IP addresses, single-label hosts
    (`localhost`), unknown suffixes and malformed input give None rather than an exception.
    """
    if type(value) is str:
        # Domains repeat heavily (every person of a company, every read of one): the exact text is looked up
        # before the stripping and folding that `_registrable`'s own cache needs.
        known = _KNOWN.get(value, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        return remember(_KNOWN, value, _registrable_text(value), limit=_KNOWN_LIMIT)
    return _registrable_text(value) if isinstance(value, str) else None


def _registrable_text(value: str) -> str | None:
    text = value.strip()
    if not text or len(text) > _MAX_INPUT:
        return None
    return _registrable(text.lower())


@lru_cache(maxsize=200_000)
def _registrable(text: str) -> str | None:
    host = _host(text)
    if host is None:
        return None
    parts = _EXTRACT.extract_str(host)
    return parts.top_domain_under_public_suffix or None


def _host(text: str) -> str | None:
    if "@" in text and "://" not in text:
        text = text.rpartition("@")[2]
    host: str | None = text
    if any(ch in text for ch in "/:?#[]@\\"):
        try:
            host = urlsplit(text if "://" in text else f"//{text}").hostname
        except ValueError:
            return None
    if not host:
        return None
    host = host.rstrip(".")
    if _looks_numeric(host):
        return None
    if not host.isascii():
        try:
            # Python's codec implements IDNA 2003, which is what mail and browsers still fold to.
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return host


def _looks_numeric(host: str) -> bool:
    """An IP address (IPv4, or IPv6 left over from a bracketed URL host)."""
    if ":" not in host and not host.rpartition(".")[2].isdigit():
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return ":" in host
    return True


def email_domain(email: str | None) -> str | None:
    """The registrable domain of an email address (`jane@mail.acme.co.uk` -> `acme.co.uk`), or None."""
    if not isinstance(email, str) or "@" not in email:
        return None
    local, _, domain = email.strip().rpartition("@")
    if not local:
        return None
    # "Jane <jane@acme.com>" reaches us from some mail-logging tools.
    return registrable_domain(domain.rstrip(">").strip())


def is_free_mail(domain: str | None) -> bool:
    """Whether a (registrable) domain belongs to a consumer or disposable mailbox provider."""
    if not domain:
        return False
    domain = domain.lower()
    if domain in FREE_MAIL_DOMAINS:
        return True
    brand = domain.split(".", 1)[0]
    return brand in _FREE_MAIL_BRANDS
