"""HTML reports: views of analysis results and scores, self-contained (plotly.js embedded once).

The renderers are imported on first use, so that commands which write no report do not pay
for importing plotly.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_respondent_report", "render_respondent_sections", "render_validation_report"]


def __getattr__(name: str) -> Any:
    if name == "render_validation_report":
        from rctscale.report.validation import render_validation_report

        return render_validation_report
    if name in ("render_respondent_report", "render_respondent_sections"):
        from rctscale.report import respondent

        return getattr(respondent, name)
    raise AttributeError(f"module 'rctscale.report' has no attribute '{name}'")
