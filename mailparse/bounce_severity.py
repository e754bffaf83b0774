"""Decides how bad a bounce is: the reason behind a failure, whether it is hard (the address
should be suppressed) and which enhanced status a code-less MTA message implies.

Pure string classification: no I/O and no message parsing.
"""

from __future__ import annotations

import re


def _phrases(*alternatives: str) -> re.Pattern[str]:
    """One pattern matching any of the phrases (matched against lower-cased text)."""
    return re.compile("|".join(alternatives))


# The mailbox or domain is gone: these justify suppressing the address.
_HARD_REASONS = {
    "userunknown": _phrases(
        r"user(?:name)? unknown",
        r"unknown (?:user|recipient|local[- ]part|mailbox|address|local)",
        r"no such (?:user|recipient|mailbox|address|account|person|local user)",
        r"(?:user|recipient|mailbox|address|account|addressee)(?: name)?"
        r" (?:does not|doesn'?t|did not) exist",
        r"(?:does not|doesn'?t) exist",
        r"(?:invalid|non-?existent|bad|unknown) (?:recipient|mailbox|address|user|account)",
        r"invalid [\w ]{0,20}(?:userid|user|address|recipient)",
        r"(?:recipient|user|mailbox|address|account)(?: address)? (?:not found|unknown|invalid)",
        r"not a (?:valid|known) (?:user|recipient|mailbox)",
        r"no mailbox|mailbox (?:not found|unavailable|does not exist|name not allowed|unknown)",
        r"is not a registered|unrouteable address|address rejected|recipient rejected",
        r"no (?:user|account) (?:by that name|with that)|user not (?:found|exist|listed)",
        r"not our customer|no longer (?:valid|in use|exists|available)",
        r"account (?:does not exist|not available)|undeliverable address",
        r"unknown or illegal alias|doesn'?t have an? \S+ account|no valid recipients",
        r"email account that you tried to reach|destin\S* (?:address|mailbox) (?:unknown|invalid)",
        r"utilisateur inconnu|not listed in|not recogni[sz]ed",
    ),
    "hostunknown": _phrases(
        r"host (?:or domain name )?not found|host unknown|unknown host|unknown domain",
        r"domain (?:not found|does not exist|unknown|name not found)|no such domain|nxdomain",
        r"name or service not known|unrouteable (?:mail )?domain|null mx|no mx |domain has no",
        r"(?:name ?server|dns) error|dns lookup fail|bad destination system|no route to host",
        r"domain is not (?:valid|configured)|domain (?:is )?not reachable|invalid domain",
        r"find a mail exchanger",
    ),
    "suspend": _phrases(
        r"(?:account|mailbox|user|address)(?: has been| is)? (?:disabled|deactivated|closed"
        r"|suspended|inactive|terminated|expired|locked|blocked by the owner)",
        r"mailbox (?:disabled|inactive)|not (?:active|activated)",
        r"(?:disabled|suspended|inactive|expired) (?:account|mailbox|user)",
    ),
    "hasmoved": _phrases(
        r"has moved|(?:user|mailbox|address) moved|changed (?:his|her|their) address"
    ),
}
# Failures that say nothing bad about the address itself. They outweigh the hard reasons
# under generic codes because remote MTAs quote the recipient in policy rejections too
# ("<a@b>: recipient rejected due to spam content").
_SOFT_REASONS = {
    "mailboxfull": _phrases(
        r"mailbox (?:is )?full|full mailbox|mail ?box (?:\w+ ){0,3}full|is full",
        r"over ?quota|quota (?:exceeded|full)|disk quota|mailbox size limit",
        r"exceed\w* (?:\w+ ){0,3}(?:quota|storage|mailbox size)",
        r"insufficient (?:disk |system )?(?:space|storage)|not enough (?:disk )?space",
        r"storage (?:space |limit )|out of storage|too much mail|mailfolder is full",
    ),
    "blocked": _phrases(
        r"spam|unsolicited|virus|malware|black ?list|block ?list|blocked|banned",
        r"\brbl\b|dnsbl|spamhaus|spamcop|listed at|reputation|reverse dns|\bptr\b",
        r"dmarc|\bspf\b|dkim|authentication|not authori[sz]ed|tls|policy|denied by",
        r"too many|rate limit|at a rate|throttl|try again later|greylist",
        r"too (?:large|big)|size (?:limit|exceeds)|message size",
        r"relay(?:ing)? (?:denied|not permitted|access denied|prohibited)",
        r"content(?:s)? (?:rejected|filter|policy|violat)",
        r"(?:message|spam|prohibited|forbidden) content",
        r"not accepted|looping|loop detected|hops",
        # Rejections of the *sender* (our return path or HELO), not of the recipient.
        r"sender (?:address )?(?:rejected|denied|blocked|refused)|sender \S+ rejected",
        r"after mail from",
    ),
}
_HARD_STATUS = {"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1", "5.4.4"}
# 5.1.7/5.1.8 are about the *sender* address; 5.7.x is policy; 5.3.4/5.6.x size/content.
_SOFT_STATUS_PREFIXES = ("5.2.2", "5.2.3", "5.3.4", "5.7.", "5.4.6", "5.6.", "5.1.7", "5.1.8")
_INFERRED_STATUS = {
    "userunknown": "5.1.1",
    "hostunknown": "5.1.2",
    "hasmoved": "5.1.6",
    "suspend": "5.2.1",
    "mailboxfull": "5.2.2",
}


def _first_match(patterns: dict[str, re.Pattern[str]], lowered: str) -> str | None:
    return next((name for name, pattern in patterns.items() if pattern.search(lowered)), None)


def reason_of(text: str) -> str | None:
    """The failure reason named in an MTA explanation, if one of the known kinds."""
    lowered = text.lower()
    return _first_match(_SOFT_REASONS, lowered) or _first_match(_HARD_REASONS, lowered)


def infer_status(text: str, reply_code: str | None) -> str | None:
    """The enhanced status an explanation implies when the MTA printed none."""
    reason = reason_of(text)
    status = _INFERRED_STATUS.get(reason or "")
    if status and reply_code and reply_code.startswith("4"):
        return "4" + status[1:]
    return status


def is_hard(action: str, status: str | None, reply_code: str | None, text: str) -> bool:
    """True when a failure is permanent and says the address itself is unusable."""
    if action != "failed":
        return False
    code_class = (status or reply_code or "5")[0]
    if code_class != "5":
        # 4.x.x in a failed report means retries expired: the address may be fine.
        return False
    if status and status.startswith(_SOFT_STATUS_PREFIXES):
        return False
    lowered = text.lower()
    soft = _first_match(_SOFT_REASONS, lowered)
    hard = _first_match(_HARD_REASONS, lowered)
    if status in _HARD_STATUS:
        # An explicit "gone" code backed by matching words beats boilerplate that gateways
        # append ("scanned for spam and viruses by ...").
        return hard is not None or soft is None
    # Generic codes (5.0.0, 5.5.0 ...): policy wording wins, because remote MTAs quote the
    # recipient in spam and policy rejections too.
    return soft is None and hard is not None
