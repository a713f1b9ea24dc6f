"""Markdown → the plain text of a message's ``text`` field: what Slack shows in notifications, in search results
and wherever blocks cannot render. Readable as it stands: no ``**``, no ``[label](url)``.

Gemini writes standard markdown; markdown-it-py (CommonMark, plus tables and strikethrough) reads it, and the
text of each block comes out on its own lines: headings and paragraphs as text, list items with ``•`` or their
number, links as ``label (url)``, code as it is, table rows as cells between ``|``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def plain_text(markdown: str) -> str:
    """The text a person reads in ``markdown``, without markdown's punctuation."""
    writer = _Writer()
    for token in _PARSER.parse(markdown):
        writer.block(token)
    return writer.text()


def _inline(children: list[Token]) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []  # (href, where its label starts in out)
    for child in children:
        kind = child.type
        if kind in ("text", "html_inline"):
            out.append(child.content)
        elif kind == "code_inline":
            out.append(f"`{child.content}`")
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "image":
            source = str(child.attrGet("src") or "")
            out.append(f"{child.content} ({source})" if child.content else source)
        elif kind == "link_open":
            links.append((str(child.attrGet("href") or ""), len(out)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            label = "".join(out[start:])
            if href and label.strip() not in (href, href.removeprefix("mailto:")):
                out.append(f" ({href})")
    return "".join(out)


@dataclass
class _Writer:
    blocks: list[str] = field(default_factory=list)  # finished blocks, separated by blank lines
    lists: list[list[int]] = field(default_factory=list)  # per open list: [next number], or [] for bullets
    marker: str = ""  # the bullet or number of the list item whose first line comes next
    quote: int = 0
    row: list[str] | None = None
    item_lines: list[str] = field(default_factory=list)  # the lines of the outermost open list or table
    in_table: bool = False

    def _emit(self, *lines: str) -> None:
        """One block's lines: a group of its own, or lines of the open list or table."""
        quoted = [("> " * self.quote) + line for line in lines] if self.quote else list(lines)
        if self.lists or self.in_table:
            self.item_lines.extend(quoted)
        else:
            self.blocks.append("\n".join(quoted))

    def block(self, token: Token) -> None:
        kind = token.type
        if kind == "inline" and self.row is not None:
            self.row.append(_inline(token.children or []).strip())
        elif kind == "inline":
            text = _inline(token.children or [])
            indent = "  " * max(0, len(self.lists) - 1)
            first, *rest = text.split("\n")
            hanging = indent + " " * len(self.marker)
            self._emit(indent + self.marker + first, *(hanging + line for line in rest))
            self.marker = ""
        elif kind in ("fence", "code_block", "html_block"):
            self._emit(token.content.rstrip("\n"))
        elif kind == "bullet_list_open":
            self.lists.append([])
        elif kind == "ordered_list_open":
            self.lists.append([int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists:
                self._close_group()
        elif kind == "table_open":
            self.in_table = True
        elif kind == "table_close":
            self.in_table = False
            self._close_group()
        elif kind == "list_item_open" and self.lists:
            counter = self.lists[-1]
            if counter:
                self.marker = f"{counter[0]}. "
                counter[0] += 1
            else:
                self.marker = "• "
        elif kind == "blockquote_open":
            self.quote += 1
        elif kind == "blockquote_close":
            self.quote -= 1
        elif kind == "tr_open":
            self.row = []
        elif kind == "tr_close" and self.row is not None:
            self._emit(" | ".join(self.row))
            self.row = None

    def _close_group(self) -> None:
        if self.item_lines:
            self.blocks.append("\n".join(self.item_lines))
            self.item_lines = []

    def text(self) -> str:
        self._close_group()
        return "\n\n".join(block for block in self.blocks if block.strip()).strip()
