"""SPF, DKIM and DMARC verdicts for one received message, within a total time budget.

`authenticate` is the package's entry point: it runs the three checks concurrently through the
shared resolver and never raises. Whatever has not finished when the budget runs out is
"temperror"; anything that breaks unexpectedly is logged and reported as "permerror".
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import TypeVar

from mailauth.dkim_signatures import DkimResult, verify_signatures
from mailauth.dmarc_policy import DiscoveredPolicy, DmarcRecordError, discover_policy, evaluate
from mailauth.header_from import AuthorDomain, author_domain
from mailauth.resolver import Resolver, TempError
from mailauth.spf_evaluation import SpfResult, check_spf, spf_identity

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class AuthVerdicts:
    spf: str  # pass | fail | softfail | neutral | none | temperror | permerror
    spf_domain: str | None
    dkim: str  # pass | fail | none | temperror | permerror (pass if any signature passes)
    dkim_domains: tuple[str, ...]  # d= of passing signatures
    dmarc: str  # pass | fail | none | temperror | permerror
    dmarc_policy: str | None  # none | quarantine | reject (the published p= or sp=)
    header_from_domain: str | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, stored as the message's authentication_results."""
        data = dataclasses.asdict(self)
        data["dkim_domains"] = list(self.dkim_domains)
        return data


class _BareResult:
    """A check's result word alone: cut short, crashed, or (DMARC) no usable policy."""

    def __init__(self, result: str) -> None:
        self.result = result


async def authenticate(
    raw: bytes,
    *,
    client_ip: str | None,
    helo: str | None,
    mail_from: str | None,
    resolver: Resolver,
    budget: float = 3.0,
) -> AuthVerdicts:
    """Authenticate `raw` as received from `client_ip`; never raises, returns within `budget`s.

    Args:
        client_ip: the connecting SMTP client; None for internally delivered mail (SPF "none").
        mail_from: the envelope sender; empty for bounces, in which case HELO is checked.
    """
    try:
        return await _authenticate(raw, client_ip, helo, mail_from, resolver, budget)
    except Exception:  # authentication results must never fail the pipeline
        logger.exception("message authentication failed unexpectedly")
        return AuthVerdicts("permerror", None, "permerror", (), "permerror", None, None)


async def _authenticate(
    raw: bytes,
    client_ip: str | None,
    helo: str | None,
    mail_from: str | None,
    resolver: Resolver,
    budget: float,
) -> AuthVerdicts:
    raw = bytes(raw)
    author = author_domain(raw)
    spf_task = asyncio.ensure_future(_spf(client_ip, mail_from, helo, resolver))
    dkim_task = asyncio.ensure_future(verify_signatures(raw, resolver))
    policy_task = asyncio.ensure_future(_policy(author, resolver))
    tasks = [spf_task, dkim_task, policy_task]
    try:
        await asyncio.wait(tasks, timeout=max(0.0, budget))
    finally:
        # Past the budget, or when our caller is cancelled, no check may outlive this call.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    spf = _outcome(spf_task, "spf")
    dkim = _outcome(dkim_task, "dkim")
    policy = _outcome(policy_task, "dmarc")
    spf_verdict = spf if isinstance(spf, SpfResult) else SpfResult(spf.result, None)
    if isinstance(spf, _BareResult) and client_ip is not None:
        # Keep the identity of a cut-short check so DMARC can tell "aligned but unknown".
        identity = spf_identity(mail_from, helo)
        spf_verdict = SpfResult(spf.result, identity[1] if identity else None)
    dkim_verdict = dkim if isinstance(dkim, DkimResult) else DkimResult(dkim.result, ())
    return AuthVerdicts(
        spf=spf_verdict.result,
        spf_domain=spf_verdict.domain,
        dkim=dkim_verdict.result,
        dkim_domains=dkim_verdict.passing_domains,
        dmarc=_dmarc(author, policy, spf_verdict, dkim_verdict),
        dmarc_policy=policy.policy if isinstance(policy, DiscoveredPolicy) else None,
        header_from_domain=author.domain,
    )


async def _spf(
    client_ip: str | None, mail_from: str | None, helo: str | None, resolver: Resolver
) -> SpfResult:
    if client_ip is None:
        return SpfResult("none", None)  # delivered internally: no SMTP client to check
    return await check_spf(client_ip, mail_from, helo, resolver)


async def _policy(author: AuthorDomain, resolver: Resolver) -> DiscoveredPolicy | _BareResult:
    if author.status == "invalid":
        return _BareResult("permerror")  # several From fields or authors: RFC 7489 §6.6.1
    if author.domain is None:
        return _BareResult("none")
    try:
        return await discover_policy(author.domain, resolver) or _BareResult("none")
    except TempError:
        return _BareResult("temperror")
    except DmarcRecordError:
        return _BareResult("permerror")


def _outcome(task: asyncio.Future[T], check: str) -> T | _BareResult:
    if task.cancelled():
        return _BareResult("temperror")  # out of time budget
    error = task.exception()
    if error is not None:
        logger.error("%s check failed unexpectedly", check, exc_info=error)
        return _BareResult("permerror")
    return task.result()


def _dmarc(
    author: AuthorDomain,
    policy: DiscoveredPolicy | _BareResult,
    spf: SpfResult,
    dkim: DkimResult,
) -> str:
    if isinstance(policy, _BareResult):
        return policy.result
    assert author.domain is not None  # a policy is only discovered for a known From domain
    dkim_results = [(s.domain, s.result) for s in dkim.signatures]
    if dkim.result == "temperror" and not dkim.signatures:
        # DKIM was cut short before its signatures were known: any of them might have been
        # an aligned pass, so DMARC cannot say "fail" on DKIM's account.
        dkim_results = [(author.domain, "temperror")]
    return evaluate(
        policy,
        author.domain,
        spf_result=spf.result,
        spf_domain=spf.domain,
        dkim_results=dkim_results,
    )
