"""Inter-annotator agreement: Krippendorff's alpha, Cohen's and Fleiss' kappa, box agreement,
agreement over time and label-drift alerts, Dawid-Skene consensus."""

from __future__ import annotations

from .metrics import (
    AgreementReport, BoxAgreement, ConsensusFit, Ratings, agreement_over_time, agreement_report,
    annotator_agreement, bootstrap_ci, box_agreement, class_confusion, cohen_kappa, consensus,
    detect_label_drift, fleiss_kappa, krippendorff_alpha, krippendorff_alpha_from_counts, match_boxes,
    pairwise_kappa, per_class_agreement, ratings_from_labels,
)

__all__ = [
    "AgreementReport", "BoxAgreement", "ConsensusFit", "Ratings", "agreement_over_time", "agreement_report",
    "annotator_agreement", "bootstrap_ci", "box_agreement", "class_confusion", "cohen_kappa", "consensus",
    "detect_label_drift", "fleiss_kappa", "krippendorff_alpha", "krippendorff_alpha_from_counts",
    "match_boxes", "pairwise_kappa", "per_class_agreement", "ratings_from_labels",
]
