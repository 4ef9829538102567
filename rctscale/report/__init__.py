"""HTML reports: views of analysis results, self-contained (plotly.js embedded once)."""

from rctscale.report.validation import render_validation_report

__all__ = ["render_validation_report"]
