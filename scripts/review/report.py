"""One-line summaries of a review, for the CLI and the survey summary."""

from __future__ import annotations


def review_line(summary: dict) -> str:
    """``precision 0.62 (95% 0.48-0.75) from 40 verified; recall ... from 60 audited images``."""
    def figure(name: str) -> str:
        value = summary.get(name)
        if value is None:
            return f"{name} n/a"
        return f"{name} {value:.2f} (95% {summary[name + '_lo']:.2f}-{summary[name + '_hi']:.2f})"

    return (f"{figure('precision')} from {summary['n_verified']} verified detections"
            f" ({summary.get('n_unsure', 0)} unsure); {figure('recall')} from {summary['n_audited']} audited images"
            f" holding {summary.get('n_audit_cameras', 0)} cameras")
