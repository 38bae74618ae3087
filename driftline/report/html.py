"""HTML pieces every section uses: escaped text, badges, tables, times, sections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from driftline.formatting import package_name, timestamp, tone


def esc(value: object) -> str:
    """Escaped text for element content and quoted attribute values."""
    return escape("" if value is None else str(value), quote=True)


def at_time(value: object) -> str:
    """A time for a table cell, kept on one line."""
    return f'<span class="when">{esc(timestamp(value, zone=True))}</span>'


def badge(text: object, kind: str) -> str:
    """``kind``: good, bad, warn or info (the style sheet colours them)."""
    return f'<span class="badge {kind}">{esc(text)}</span>'


def state_badge(text: object) -> str:
    return badge(text if text is not None else "-", tone(text))


def html_table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table whose cells are already HTML (escaped by the caller)."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table><caption>{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def file_cell(key: object) -> str:
    """An object key as its file name, the whole key on hover."""
    if not key:
        return "-"
    text = str(key)
    return f'<code title="{esc(text)}">{esc(text.rsplit("/", 1)[-1])}</code>'


def package_cell(arn: object) -> str:
    """``.../group-name/3`` as ``group-name v3`` with the full ARN on hover."""
    if not arn:
        return "-"
    return f'<span title="{esc(arn)}">{esc(package_name(arn))}</span>'


def drift_badge(value: object, outcome: object = None) -> str:
    """A run's drift verdict; ``insufficient_rows``: the batch was too small for one."""
    if outcome == "insufficient_rows":
        return badge("too few rows", "warn")
    if value is None:
        return "-"
    return badge("drifted", "bad") if value else badge("no drift", "good")


def section(anchor: str, heading: str, body: str) -> str:
    return (
        f'<section id="{anchor}" aria-labelledby="{anchor}-h">'
        f'<h2 id="{anchor}-h">{esc(heading)}</h2>{body}</section>'
    )
