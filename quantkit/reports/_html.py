"""Executed notebook -> one self-contained HTML file that needs no network.

nbconvert's ``lab`` template loads require.js, MathJax and mermaid from CDNs, and
``@jupyter-widgets/html-manager`` from unpkg.com when the notebook holds widget
state. The template here extends ``lab`` and empties those blocks: the page
keeps nbconvert's inlined CSS and the outputs (tables as HTML, charts as PNG data
URIs, with the chart's ``alt`` text from the output metadata) and references no
external URL. Code cells' inputs and prompts are left out.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import nbformat

from quantkit._files import atomic_write_text

__all__ = ["OFFLINE_TEMPLATE", "notebook_to_html"]

#: The jinja template (extends nbconvert's ``lab/index.html.j2``).
OFFLINE_TEMPLATE = r"""
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}" alt="{{ (output | get_metadata('alt', 'image/png')) or 'chart' | escape_html }}">
</div>
{%- endblock data_png -%}
{%- block extra_css -%}
<style type="text/css">
.jp-RenderedHTMLCommon table.qk-table { border-collapse: collapse; margin: 0.2em 0 1em 0; font-size: 12px; table-layout: auto; }
.jp-RenderedHTMLCommon table.qk-table th, .jp-RenderedHTMLCommon table.qk-table td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }
.jp-RenderedHTMLCommon table.qk-table thead th { background: #f3f3f3; }
.jp-RenderedHTMLCommon table.qk-table tbody th { text-align: left; font-weight: normal; background: #fafafa; }
.jp-RenderedHTMLCommon .qk-caption { font-style: italic; margin: 0.6em 0 0.2em 0; }
.jp-RenderedHTMLCommon .qk-note { font-size: 13px; }
.jp-OutputArea-output img { max-width: 100%; }
</style>
{%- endblock extra_css -%}
"""

_local = threading.local()


def _exporter() -> Any:
    """One HTMLExporter per thread (building one loads the templates: reuse it)."""
    exp = getattr(_local, "exporter", None)
    if exp is None:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter

        exp = HTMLExporter(
            template_name="lab",
            extra_loaders=[DictLoader({"quantkit_offline.html.j2": OFFLINE_TEMPLATE})],
            template_file="quantkit_offline.html.j2",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
        )
        _local.exporter = exp
    return exp


def notebook_to_html(notebook: str | Path | nbformat.NotebookNode, html_path: str | Path, *, title: str | None = None) -> Path:
    """Write ``notebook`` as a self-contained HTML page without code (see the module docstring).

    Args:
        notebook: an executed notebook (path or node).
        html_path: the HTML file to write.
        title: the page title (default: the notebook's).

    Returns:
        ``html_path`` as a Path.
    """
    nb = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.read(str(notebook), as_version=4)
    if title:
        nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)  # no widget state: nothing to fetch a widget manager for
    body, _ = _exporter().from_notebook_node(nb)
    return atomic_write_text(html_path, body)
