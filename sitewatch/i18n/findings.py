"""Check findings for people: the stable English summary, rendered in the reader's language.

Checks write one English summary (logs, ``/api`` and alert rules grep it, so it never changes
with the language). For a person it is translated here by shape: the summary is split into
its ``; ``-joined problems, each matched against the known shapes below, and durations, counts
and dates inside it are re-rendered with CLDR plurals. A shape not listed stays English, whole:
a finding is never dropped or cut. Text quoted from the site (``'...'``) is never translated.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sitewatch.i18n.formats import duration

__all__ = ["finding"]

_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d)\s?)+")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}

#: What the http check's phase words say, for "timed out after 10s <stage>".
_STAGES_RU = {
    "resolving the name": "при разрешении имени",
    "connecting": "при подключении",
    "in the TLS handshake": "при согласовании TLS",
    "waiting for the response headers": "в ожидании ответа",
    "reading the body": "при чтении страницы",
    "loading the trust store": "при загрузке хранилища сертификатов",
    "starting": "в начале проверки",
}
_ERRORS_RU = {
    "Connection refused": "соединение отклонено",
    "Connection reset by peer": "соединение сброшено",
    "No route to host": "нет маршрута до узла",
    "Network is unreachable": "сеть недоступна",
    "Name or service not known": "имя не найдено",
    "Temporary failure in name resolution": "временный сбой разрешения имён",
    "chain trusted": "цепочка доверенная",
}


def _seconds(token: str) -> float:
    return sum(float(n) * _UNIT[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", token))


def _dur(token: str, language: str) -> str:
    """``3m 50s`` (sitewatch's compact form) in the reader's words."""
    return duration(_seconds(token), language)


def _days(count: str, language: str) -> str:
    return duration(int(count) * 86400, language, parts=1)


def _err(reason: str) -> str:
    return _ERRORS_RU.get(reason.strip(), reason)


Rule = tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]

_RU: list[Rule] = [
    (
        re.compile(r"HTTP (\d{3})( [^()]*?)? \(expected (.+)\)"),
        lambda m, lang: f"HTTP {m[1]}{m[2] or ''} (ожидался код {m[3]})",
    ),
    (
        re.compile(r"(HTTP \d{3}[^()]*?) in (" + _DURATION.pattern + r")(?:, (.+))?"),
        lambda m, lang: f"{m[1]} за {_dur(m[2], lang)}" + (f", {m[3]}" if m[3] else ""),
    ),
    (
        # "timed out after 10s waiting for the response headers (127.0.0.1)": the stage, then the peer.
        re.compile(r"timed out after (" + _DURATION.pattern + r") ?(.*?)( \([^()]*\))?"),
        lambda m, lang: (
            f"нет ответа за {_dur(m[1], lang)}" + (f" {_STAGES_RU.get(m[2], m[2])}" if m[2] else "") + (m[3] or "")
        ),
    ),
    (re.compile(r"cannot connect to (\S+): (.+)"), lambda m, lang: f"не удаётся подключиться к {m[1]}: {_err(m[2])}"),
    (re.compile(r"cannot resolve (\S+): (.+)"), lambda m, lang: f"не удаётся найти адрес {m[1]}: {_err(m[2])}"),
    (
        re.compile(r"page does not contain (.+?)( in the first \S+ \S+)? \((.+)\)"),
        lambda m, lang: (
            f"на странице нет {m[1]}"
            + (f" (в первых {m[2].removeprefix(' in the first ')})" if m[2] else "")
            + f" ({m[3]})"
        ),
    ),
    (re.compile(r"page contains (.+) \((.+)\)"), lambda m, lang: f"на странице найдено {m[1]} ({m[2]})"),
    (
        re.compile(r"(?:the )?certificate for (\S+) expires in (\d+) days? \((\S+)\)(.*)"),
        lambda m, lang: (
            f"сертификат для {m[1]} истекает через {_days(m[2], lang)} ({m[3]})"
            + ", ".join(_err(part) if part else "" for part in m[4].split(", "))
        ),
    ),
    (
        re.compile(r"certificate for (\S+) expired (\d+) days? ago \((\S+)\)"),
        lambda m, lang: f"срок действия сертификата для {m[1]} истёк {_days(m[2], lang)} назад ({m[3]})",
    ),
    (
        re.compile(r"certificate for (\S+) is self-signed and not trusted"),
        lambda m, lang: f"сертификат для {m[1]} самоподписанный, ему нет доверия",
    ),
    (
        re.compile(r"chain of (\S+) ends in an untrusted root '(.*)' \((.+)\)"),
        lambda m, lang: f"цепочка {m[1]} заканчивается недоверенным корнем '{m[2]}' ({m[3]})",
    ),
    (
        re.compile(r"certificate does not match (\S+) \(it is for (.+)\)"),
        lambda m, lang: f"сертификат не подходит для {m[1]} (он выдан для {m[2]})",
    ),
    (
        re.compile(r"(.+) has a weak key: (\S+) \((.+)\)"),
        lambda m, lang: f"{m[1]}: слабый ключ {m[2]} ({m[3]})",
    ),
]

_RULES: dict[str, list[Rule]] = {"ru": _RU}


def _one(problem: str, rules: list[Rule], language: str) -> str:
    for pattern, render in rules:
        match = pattern.fullmatch(problem)
        if match:
            return render(match, language)
    return problem


def finding(summary: str, language: str = "en") -> str:
    """``summary`` as a person reading ``language`` should see it (English stays as it is)."""
    rules = _RULES.get(language)
    if not rules or not summary:
        return summary
    return "; ".join(_one(part, rules, language) for part in summary.split("; "))
