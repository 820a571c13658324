"""Bounded HTTP GETs of Prometheus text pages (dcgm-exporter, inference servers).

One aiohttp session per poller, created on the collector loop: its connector
keeps connections alive between scrapes, so a host scraped every interval
costs one request, not a TCP handshake each time. Every read is bounded in
time and size; a failure becomes a ScrapeError carrying the reading status
(`unreachable`: no answer; `error`: answered, but wrong) and a one-line
reason that never holds the URL (it may carry a token).
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from opsconsole.core.readings import Status

MAX_BYTES = 8 * 1024 * 1024  # an 8-GPU dcgm page is ~100 kB; a server sending more is broken
DEFAULT_TIMEOUT_S = 5.0
_CHUNK = 65536


class ScrapeError(Exception):
    def __init__(self, status: Status, message: str):
        super().__init__(message)
        self.status = status


def _split_auth(url: str) -> tuple[str, aiohttp.BasicAuth | None]:
    """user:password@ in the URL becomes Basic auth, the URL loses it."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return clean, aiohttp.BasicAuth(unquote(parts.username), unquote(parts.password or ""))


class Scraper:
    def __init__(self, *, max_bytes: int = MAX_BYTES, limit: int = 256):
        self.max_bytes = max_bytes
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0  # for tests and the benchmark: keep-alive means connects < requests

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=60,
                                             ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, trust_env=False,
                headers={"Accept": "text/plain;version=0.0.4"})
        return self._session

    @property
    def connector(self) -> aiohttp.BaseConnector | None:
        return None if self._session is None else self._session.connector

    async def get_text(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
        """The page as text, or ScrapeError."""
        clean, auth = _split_auth(url)
        session = self._get_session()
        self.requests += 1
        try:
            async with asyncio.timeout(timeout_s):
                async with session.get(clean, auth=auth, allow_redirects=False) as resp:
                    if resp.status != 200:
                        raise ScrapeError(Status.ERROR, f"HTTP {resp.status} from the exporter")
                    body = await self._read(resp)
        except TimeoutError:
            raise ScrapeError(Status.UNREACHABLE, f"no answer within {timeout_s:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            os_err = exc.os_error
            why = os_err.strerror if os_err and os_err.strerror else "cannot connect"
            raise ScrapeError(Status.UNREACHABLE, why.lower()) from None
        except aiohttp.ServerDisconnectedError:
            raise ScrapeError(Status.UNREACHABLE, "the server closed the connection") from None
        except aiohttp.ClientPayloadError:
            raise ScrapeError(Status.ERROR, "the response was cut short") from None
        except aiohttp.ClientResponseError as exc:
            raise ScrapeError(Status.ERROR, f"bad HTTP response ({exc.status})") from None
        except aiohttp.ClientError as exc:
            raise ScrapeError(Status.ERROR, f"HTTP failure ({type(exc).__name__})") from None
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise ScrapeError(Status.ERROR, "the page is not UTF-8 text") from None

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        if resp.content_length is not None and resp.content_length > self.max_bytes:
            raise ScrapeError(Status.ERROR, f"page of {resp.content_length} bytes is over the "
                                            f"{self.max_bytes} byte limit")
        chunks: list[bytes] = []
        size = 0
        while chunk := await resp.content.read(_CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise ScrapeError(Status.ERROR, f"page is over the {self.max_bytes} byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def parse_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(sample name, labels, value) of every sample, with the official
    Prometheus text parser; a page it rejects is a ScrapeError."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        return [(s.name, s.labels, float(s.value))
                for fam in text_string_to_metric_families(text) for s in fam.samples]
    except Exception as exc:  # the parser raises ValueError, IndexError, ... on garbage
        raise ScrapeError(Status.ERROR,
                          f"not Prometheus text ({type(exc).__name__} from the parser)") from None


def parse_samples_shared_labels(lines: list[str]) -> list[tuple[str, dict[str, str], float]]:
    """`parse_samples` for pages whose label sets repeat on every metric (a
    dcgm-exporter page: the same seven labels of a GPU on each of its ~15
    fields). Each distinct label block is parsed once, by the same parser, and
    the lines reach it with a one-label stand-in: the parser costs ~45 us a
    line with seven labels here, a third of that with one. Comment lines are
    left out (sample names then stay as written: no `_total` renaming)."""
    blocks: dict[str, str] = {}
    compact: list[str] = []
    for ln in lines:
        if not ln or ln.startswith("#"):
            continue
        name, brace, rest = ln.partition("{")
        block, close, value = rest.rpartition("}")
        if not brace or not close:
            compact.append(ln)  # no labels, or malformed: the parser judges it as it is
            continue
        key = blocks.setdefault(block, str(len(blocks)))
        compact.append(f'{name}{{k="{key}"}}{value}')
    labels_of = {key: parse_samples(f"x{{{block}}} 0\n")[0][1] for block, key in blocks.items()}
    out = []
    for name, lab, sample in parse_samples("\n".join(compact) + "\n"):
        k = lab.get("k")
        out.append((name, labels_of[k] if k is not None and len(lab) == 1 else lab, sample))
    return out
