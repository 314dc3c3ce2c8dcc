"""URLs of the review pages (mounted under /review/)."""

from django.urls import path

from alllab.review import lab_views, views

app_name = "review"

urlpatterns = [
    path("cases/<int:case_id>/", views.case_review_view, name="case_review"),
    path("cases/<int:case_id>/cells/", views.cell_reclassify_view, name="cell_reclassify"),
    path("cases/<int:case_id>/sign/", views.case_sign_off_view, name="case_sign_off"),
    path("cases/<int:case_id>/amend/", views.case_amend_view, name="case_amend"),
    path("cases/<int:case_id>/audit/", views.case_audit_view, name="case_audit"),
    path("cases/<int:case_id>/report.pdf", views.case_report_pdf_view, name="case_report_pdf"),
    path("agreement/", lab_views.agreement_view, name="agreement"),
    path("audit/", lab_views.lab_audit_view, name="lab_audit"),
    path("export.zip", lab_views.export_view, name="export"),
]
