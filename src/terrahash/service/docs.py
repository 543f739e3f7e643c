"""``/docs`` without a CDN: Swagger UI when its assets are vendored, else a self-contained page.

FastAPI's default docs page loads Swagger UI from jsdelivr, which an offline data centre
cannot reach. If ``static/vendor/swagger-ui/`` holds ``swagger-ui-bundle.js`` and
``swagger-ui.css`` (copy them from the ``swagger-ui-dist`` npm package), they are used;
otherwise the page below lists every operation, its parameters and its responses from the
OpenAPI document, with a link to ``/openapi.json``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:960px;color:#1d2733}
h1{font-size:22px}h2{font-size:16px;margin-top:28px}
code,pre{background:#f1f3f6;padding:1px 4px;border-radius:3px}
.op{border:1px solid #d5dae1;border-radius:4px;margin:10px 0;padding:8px 12px}
.m{display:inline-block;min-width:52px;font-weight:700;color:#fff;border-radius:3px;
padding:1px 6px;margin-right:6px;text-align:center}
.get{background:#1f6feb}.post{background:#2da44e}table{border-collapse:collapse;margin:6px 0}
td,th{border:1px solid #e1e5ea;padding:2px 8px;text-align:left;vertical-align:top}small{color:#6b7785}"""


def docs_page(openapi: dict[str, Any], static_dir: Path) -> str:
    """HTML for ``/docs`` (Swagger UI if vendored, else a static listing of ``openapi``)."""
    swagger = static_dir / "vendor" / "swagger-ui"
    if (swagger / "swagger-ui-bundle.js").is_file() and (swagger / "swagger-ui.css").is_file():
        from fastapi.openapi.docs import get_swagger_ui_html

        page = get_swagger_ui_html(
            openapi_url="openapi.json", title="TerraHash API",
            swagger_js_url="static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="static/vendor/leaflet/images/marker-icon.png",
        ).body
        return bytes(page).decode()
    esc = html.escape
    info = openapi.get("info", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(info.get('title', 'API'))} docs</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(info.get('title', 'API'))} <small>{esc(str(info.get('version', '')))}</small></h1>",
        f"<p>{esc(info.get('description', ''))}</p>",
        "<p>Machine-readable: <a href='openapi.json'><code>/openapi.json</code></a> (OpenAPI "
        f"{esc(str(openapi.get('openapi', '')))}). The web page is at <a href='./'>/</a>.</p>",
    ]
    for path, ops in openapi.get("paths", {}).items():
        for method, op in ops.items():
            parts.append(_operation(path, method, op))
    parts.append("</body></html>")
    return "\n".join(parts)


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    esc = html.escape
    out = [f"<div class='op'><span class='m {esc(method)}'>{esc(method.upper())}</span>"
           f"<code>{esc(path)}</code> <b>{esc(op.get('summary', ''))}</b>",
           f"<p>{esc(op.get('description', '')).replace(chr(10) + chr(10), '<br>')}</p>"]
    params = op.get("parameters", [])
    if params:
        out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>")
        for p in params:
            schema = p.get("schema", {})
            kind = schema.get("type") or " | ".join(
                str(s.get("type", s.get("$ref", ""))) for s in schema.get("anyOf", [])
            )
            req = " (required)" if p.get("required") else ""
            out.append(f"<tr><td><code>{esc(p['name'])}</code>{req}</td><td>{esc(p['in'])}</td>"
                       f"<td>{esc(kind)}</td><td>{esc(p.get('description', ''))}</td></tr>")
        out.append("</table>")
    body = op.get("requestBody", {}).get("content", {})
    for ctype, spec in body.items():
        schema = esc(json.dumps(spec.get("schema", {}), indent=1))
        out.append(f"<p>Body <code>{esc(ctype)}</code>:</p><pre>{schema}</pre>")
    codes = ", ".join(esc(str(c)) for c in op.get("responses", {}))
    out.append(f"<p><small>responses: {codes}</small></p></div>")
    return "\n".join(out)
