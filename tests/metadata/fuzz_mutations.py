"""Seeded mutations of real metadata files for the reader fuzz test.

Each mutator takes the file's bytes and a ``random.Random`` and returns new bytes; it
returns ``None`` where it does not apply (an XML mutation of a JSON file). Mutations are
grouped by what they break: raw bytes, text encoding, values (dates), and the structure of
each family of formats (XML, JSON, YAML, ``KEY = VALUE`` text such as MTL and ODL).
"""

from __future__ import annotations

import codecs
import copy
import json
import random
import re
from collections.abc import Callable
from typing import Any

import yaml
from lxml import etree

Mutator = Callable[[bytes, random.Random], bytes | None]

#: Values of the wrong type or range that a reader might trip over.
WRONG_VALUES: list[Any] = [
    None, "", " ", "NaN", "nan", "inf", "-inf", "1e400", "-9999", "0", "-1", "99999999999999999999",
    "abc", "2020-13-45T25:61:61Z", "9999-12-31", "0000-00-00", "1.2.3", "１２３", "é", "\u202e",
    0, -1, 1e308, float("nan"), True, [], {}, [1, 2], {"a": 1}, "POLYGON((", 10**400, "9" * 5000,
    # instants at the ends of the calendar: a time-zone shift leaves the datetime range
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01 00:00:00", "9999-12-31 23:59:59",
    "0001-01-01", "9999-12-31T23:59:59.999999", "00:00:00", "24:00:00", "2020-02-30",
]


def _text(data: bytes) -> str | None:
    for codec in ("utf-8-sig", "latin-1"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


def family(data: bytes, name: str) -> str:
    """``xml``, ``json``, ``yaml`` or ``text``: which structural mutators apply."""
    head = data.lstrip(codecs.BOM_UTF8).lstrip()[:1]
    if head == b"<":
        return "xml"
    if head in (b"{", b"["):
        return "json"
    if name.lower().endswith((".yaml", ".yml")):
        return "yaml"
    return "text"


# -- bytes --------------------------------------------------------------------------------
def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    junk = rng.choice([
        bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))),
        b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"\xe2\x80", b"\x1b[31m", b"\r", b"\x0c",
        "é€😀".encode(), b"<", b">", b"&", b"]]>", b"{", b"}", b'"', b"=", b"\n=\n", b"END\n",
    ])
    at = rng.randrange(len(data) + 1)
    return data[:at] + junk + data[at:]


def delete_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 64):]


def duplicate_span(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    span = data[at:at + rng.randint(1, 256)]
    return data[:at] + span * rng.randint(2, 5) + data[at:]


def long_run(data: bytes, rng: random.Random) -> bytes:
    """A long run of one token (digits, spaces, separators) at a random point: catastrophic
    regex backtracking shows up as a slow case."""
    token = rng.choice([
        b"9", b" ", b"\t", b"\n", b"\r\n", b" \n", b"0.", b"-", b"a", b"1,", b"=", b"\\", b"EPSG:", b"T12:",
        b"\"", b"e", b"<a>",
    ])
    at = rng.randrange(len(data) + 1)
    return data[:at] + token * rng.choice([5_000, 50_000]) + data[at:]


def raster_magic(data: bytes, rng: random.Random) -> bytes:
    """TIFF / BigTIFF / JPEG 2000 magic bytes in front: the content must be read as a (broken)
    raster from these bytes, never from whatever file the path names on disk."""
    magic = rng.choice(
        [b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"\x00\x00\x00\x0cjP  ", b"\xffO\xffQ"]
    )
    return magic + rng.choice([data, b"\x08\x00\x00\x00" + data, b"\x00" * 64])


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


_DATE = re.compile(rb"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?|\b\d{8}\b")


def calendar_ends(data: bytes, rng: random.Random) -> bytes | None:
    """Every date-like value set to one instant at an end of the calendar (or an impossible day)."""
    instant = rng.choice([
        b"9999-12-31T23:59:59-05:00", b"0001-01-01T00:00:00+05:00", b"9999-12-31T23:59:59",
        b"0001-01-01T00:00:00", b"0001-01-01", b"99991231", b"00010101", b"2020-02-30T10:00:00",
    ])
    mutated, count = _DATE.subn(instant, data)
    return mutated if count else None


# -- encodings ----------------------------------------------------------------------------
def utf16(data: bytes, rng: random.Random) -> bytes | None:
    text = _text(data)
    if text is None:
        return None
    return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32"]))


def latin1_with_accents(data: bytes, rng: random.Random) -> bytes | None:
    text = _text(data)
    if text is None:
        return None
    at = rng.randrange(len(text) + 1)
    text = text[:at] + rng.choice(["é", "ñü", "Ångström", "°C", "\xa0"]) + text[at:]
    return text.encode("latin-1", errors="replace")


def toggle_bom(data: bytes, rng: random.Random) -> bytes:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):]
    return rng.choice([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE]) + data


def redeclare_encoding(data: bytes, rng: random.Random) -> bytes | None:
    codec = rng.choice([
        "utf-16", "windows-1251", "gb2312", "ascii", "no-such-codec", "utf-32", "latin-1", "utf-7", "cp500",
        "rot13", "base64", "zlib", "punycode", "undefined", "unicode_escape", "idna",
    ])
    if re.match(rb"\s*<\?xml", data):
        new, n = re.subn(rb"encoding\s*=\s*[\"'][^\"']*[\"']", f'encoding="{codec}"'.encode(), data, count=1)
        if n:
            return new
        return re.sub(rb"<\?xml", f'<?xml encoding="{codec}"'.encode(), data, count=1)
    return f'<?xml version="1.0" encoding="{codec}"?>\n'.encode() + data


# -- XML structure ------------------------------------------------------------------------
def _xml_tree(data: bytes) -> etree._Element | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=False)
    try:
        return etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None


def _elements(root: etree._Element) -> list[etree._Element]:
    return [el for el in root.iter() if isinstance(el.tag, str) and el is not root]


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def xml_drop(data: bytes, rng: random.Random) -> bytes | None:
    root = _xml_tree(data)
    if root is None or not _elements(root):
        return None
    for el in rng.sample(_elements(root), k=min(rng.randint(1, 6), len(_elements(root)))):
        parent = el.getparent()
        if parent is not None and el.getroottree().getroot() is root:
            parent.remove(el)
    return _serialise(root)


def xml_duplicate(data: bytes, rng: random.Random) -> bytes | None:
    root = _xml_tree(data)
    if root is None or not _elements(root):
        return None
    el = rng.choice(_elements(root))
    parent = el.getparent()
    assert parent is not None
    for _ in range(rng.randint(1, 3)):
        parent.insert(parent.index(el), etree.fromstring(etree.tostring(el)))
    return _serialise(root)


def xml_reorder(data: bytes, rng: random.Random) -> bytes | None:
    root = _xml_tree(data)
    if root is None:
        return None
    parents = [el for el in root.iter() if isinstance(el.tag, str) and len(el) > 1]
    if not parents:
        return None
    for parent in rng.sample(parents, k=min(3, len(parents))):
        children = list(parent)
        rng.shuffle(children)
        parent[:] = children
    return _serialise(root)


def xml_wrong_text(data: bytes, rng: random.Random) -> bytes | None:
    """Empty or wrong-typed text in leaves (the values readers parse)."""
    root = _xml_tree(data)
    if root is None:
        return None
    leaves = [el for el in root.iter() if isinstance(el.tag, str) and len(el) == 0]
    for el in rng.sample(leaves, k=min(rng.randint(1, 12), len(leaves))):
        value = rng.choice(WRONG_VALUES)
        el.text = "" if value is None else str(value)
        if el.attrib and rng.random() < 0.5:
            key = rng.choice(list(el.attrib))
            el.attrib[key] = str(rng.choice(WRONG_VALUES))
    return _serialise(root)


def xml_nest(data: bytes, rng: random.Random) -> bytes | None:
    """Wrap an element (or the root) in extra levels, or give a leaf children."""
    root = _xml_tree(data)
    if root is None:
        return None
    el = rng.choice([root, *_elements(root)])
    if rng.random() < 0.5 and len(el) == 0:
        etree.SubElement(el, el.tag if isinstance(el.tag, str) else "x").text = el.text
        return _serialise(root)
    wrapper = etree.Element("Wrapper")
    parent = el.getparent()
    if parent is None:
        wrapper.append(el)
        return _serialise(wrapper)
    parent.replace(el, wrapper)
    wrapper.append(el)
    return _serialise(root)


def xml_unclose(data: bytes, rng: random.Random) -> bytes | None:
    closing = list(re.finditer(rb"</[^>]+>", data))
    if not closing:
        return None
    m = rng.choice(closing)
    return data[:m.start()] + data[m.end():]


def _with_doctype(data: bytes, doctype: bytes, ref: bytes) -> bytes | None:
    root = _xml_tree(data)
    if root is None:
        return None
    leaves = [el for el in root.iter() if isinstance(el.tag, str) and len(el) == 0]
    body = _serialise(root).split(b"?>", 1)[1]
    if leaves:
        tag = etree.QName(leaves[0]).localname.encode()
        body = re.sub(rb"(<(?:[\w.-]+:)?" + tag + rb"(?:\s[^>]*)?>)", rb"\1" + ref, body, count=1)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + doctype + body


def xml_entities(data: bytes, rng: random.Random) -> bytes | None:
    """Entity declarations (internal, external, billion laughs): defusedxml must refuse them."""
    root = _xml_tree(data)
    if root is None:
        return None
    name = etree.QName(root).localname.encode()
    choice = rng.randrange(4)
    if choice == 0:  # billion laughs
        decls = b'<!ENTITY l0 "lol">' + b"".join(
            b"<!ENTITY l%d \"%s\">" % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10)
        )
        ref = b"&l9;"
    elif choice == 1:  # external file
        decls, ref = b'<!ENTITY x SYSTEM "file:///etc/passwd">', b"&x;"
    elif choice == 2:  # network
        decls, ref = b'<!ENTITY x SYSTEM "http://127.0.0.1:9/x">', b"&x;"
    else:  # a harmless internal entity: still not allowed in metadata
        decls, ref = b'<!ENTITY x "LANDSAT_8">', b"&x;"
    return _with_doctype(data, b"<!DOCTYPE " + name + b" [" + decls + b"]>\n", ref)


def xml_external_dtd(data: bytes, rng: random.Random) -> bytes | None:
    root = _xml_tree(data)
    if root is None:
        return None
    name = etree.QName(root).localname.encode()
    url = rng.choice([b"file:///etc/passwd", b"http://127.0.0.1:9/x.dtd"])
    return _with_doctype(data, b"<!DOCTYPE " + name + b' SYSTEM "' + url + b'">\n', b"")


def xml_deep(data: bytes, rng: random.Random) -> bytes | None:
    """Thousands of nested elements inside the root (parser depth limits)."""
    m = re.search(rb"<(?![?!])[^>]*>", data)
    if m is None:
        return None
    depth = rng.choice([300, 5000, 50000])
    return data[:m.end()] + b"<a>" * depth + b"</a>" * depth + data[m.end():]


# -- JSON / YAML structure ----------------------------------------------------------------
def _containers(value: Any, out: list[Any]) -> list[Any]:
    if isinstance(value, dict | list):
        out.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            _containers(child, out)
    return out


def _mutate_tree(value: Any, rng: random.Random) -> Any:
    """Delete keys, set wrong types, add nesting at random places in a JSON-like tree."""
    holder = [value]
    for _ in range(rng.randint(1, 8)):
        nodes = [n for n in _containers(holder[0], [holder]) if n]
        if not nodes:
            break
        node = rng.choice(nodes)
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        action = rng.randrange(4)
        if action == 0 and node is not holder:
            del node[key]
        elif action == 1:
            node[key] = copy.deepcopy(rng.choice(WRONG_VALUES))  # never share a list or dict
        elif action == 2:
            node[key] = rng.choice([[node[key]], {"value": node[key]}, [[node[key]]]])
        elif isinstance(node[key], dict | list):  # swap an object for an array and back
            node[key] = [] if isinstance(node[key], dict) else {}
    return holder[0]


def json_structure(data: bytes, rng: random.Random) -> bytes | None:
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return None
    return json.dumps(_mutate_tree(value, rng)).encode()


_SLOT = "FUZZSLOT"  # a plain scalar: YAML dumps it unquoted


def _with_slot(value: Any, rng: random.Random) -> Any:
    """``value`` with one random member (at any depth) replaced by the placeholder ``_SLOT``."""
    holder = [value]
    nodes = [n for n in _containers(value, [holder]) if n]
    node = rng.choice(nodes)
    key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
    node[key] = _SLOT
    return holder[0]


def json_deep(data: bytes, rng: random.Random) -> bytes | None:
    """A deeply nested value in place of one member or of the document (recursion limits)."""
    depth = rng.choice([300, 2000, 100000])
    nested = "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return None
    if rng.random() < 0.2:
        return nested.encode()
    return json.dumps(_with_slot(value, rng)).replace(f'"{_SLOT}"', nested, 1).encode()


def json_huge_number(data: bytes, rng: random.Random) -> bytes | None:
    """A number literal of thousands of digits (Python refuses to convert it to int)."""
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return None
    number = rng.choice(["9" * 5000, "-" + "9" * 400, "1e99999", "0." + "0" * 5000 + "1"])
    return json.dumps(_with_slot(value, rng)).replace(f'"{_SLOT}"', number, 1).encode()


def yaml_structure(data: bytes, rng: random.Random) -> bytes | None:
    try:
        value = yaml.safe_load(data)
    except yaml.YAMLError:
        return None
    if not isinstance(value, dict | list):
        return None
    return yaml.safe_dump(_mutate_tree(value, rng), default_flow_style=rng.random() < 0.5).encode()


def alias_bomb(levels: int = 9) -> str:
    """A flow sequence that expands to 10**levels items through anchors (a YAML billion laughs)."""
    items = ["&a0 [x, x, x, x, x, x, x, x, x, x]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "[" + ", ".join(items) + "]"


def yaml_hostile(data: bytes, rng: random.Random) -> bytes | None:
    """An alias bomb, a python tag, deep nesting or a huge number as one member's value, or a
    second document."""
    try:
        value = yaml.safe_load(data)
    except yaml.YAMLError:
        return None
    if not isinstance(value, dict | list) or not value:
        return None
    choice = rng.randrange(5)
    if choice == 4:
        return data + b"\n---\n" + data
    hostile = [
        alias_bomb(), "!!python/object/apply:os.system ['true']", "[" * 2000 + "]" * 2000, "9" * 5000
    ][choice]
    text = yaml.safe_dump(_with_slot(value, rng), default_flow_style=False)
    return text.replace(_SLOT, hostile, 1).encode()


# -- KEY = VALUE text (MTL, ODL, FGDC text, IMD) --------------------------------------------
def _lines(data: bytes) -> list[bytes] | None:
    lines = data.splitlines(keepends=True)
    return lines if len(lines) > 1 else None


def text_lines(data: bytes, rng: random.Random) -> bytes | None:
    """Delete, duplicate, swap and reorder lines (unbalanced GROUP/END_GROUP, lost keys)."""
    lines = _lines(data)
    if lines is None:
        return None
    for _ in range(rng.randint(1, 10)):
        i = rng.randrange(len(lines))
        action = rng.randrange(4)
        if action == 0 and len(lines) > 1:
            del lines[i]
        elif action == 1:
            lines.insert(i, lines[i])
        elif action == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(
                [b"GROUP = X\n", b"END_GROUP = X\n", b"END_GROUP\n", b"OBJECT = Y\n", b"END_OBJECT = Y\n",
                 b"END\n", b"=\n", b"KEY =\n", b'KEY = "unterminated\n', b"(1, 2\n", b"\t\t\n"]
            ))
    return b"".join(lines)


_ASSIGN = re.compile(rb"^(\s*[\w.\-/ ]+?\s*[=:]\s*)(.*?)(\s*)$")


def text_values(data: bytes, rng: random.Random) -> bytes | None:
    """Replace the values of ``KEY = VALUE`` (or ``KEY: VALUE``) lines with wrong ones."""
    lines = _lines(data)
    if lines is None:
        return None
    assigns = [i for i, line in enumerate(lines) if _ASSIGN.match(line)]
    if not assigns:
        return None
    for i in rng.sample(assigns, k=min(rng.randint(1, 15), len(assigns))):
        m = _ASSIGN.match(lines[i])
        assert m is not None
        value = rng.choice(WRONG_VALUES + ['"', "(", ")", "()", "(1,", '"a" "b"', "= = ="])
        text = "" if value is None else json.dumps(value) if not isinstance(value, str) else value
        lines[i] = m.group(1) + text.encode("utf-8", errors="replace") + m.group(3)
    return b"".join(lines)


BYTE_MUTATORS: list[Mutator] = [
    flip_bytes, insert_bytes, delete_bytes, duplicate_span, long_run, raster_magic, truncate,
]
ENCODING_MUTATORS: list[Mutator] = [utf16, latin1_with_accents, toggle_bom, redeclare_encoding]
VALUE_MUTATORS: list[Mutator] = [calendar_ends]
STRUCTURE_MUTATORS: dict[str, list[Mutator]] = {
    "xml": [xml_drop, xml_duplicate, xml_reorder, xml_wrong_text, xml_nest, xml_unclose, xml_entities,
            xml_external_dtd, xml_deep],
    "json": [json_structure, json_structure, json_deep, json_huge_number],
    "yaml": [yaml_structure, yaml_structure, yaml_hostile, text_values],
    "text": [text_lines, text_values],
}


def mutators_for(data: bytes, name: str) -> list[Mutator]:
    """Every mutator that applies to a file, structure-specific ones included."""
    return BYTE_MUTATORS + ENCODING_MUTATORS + VALUE_MUTATORS + STRUCTURE_MUTATORS[family(data, name)]
