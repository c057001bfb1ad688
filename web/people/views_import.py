"""Importing people from a CSV or Excel file: upload, preview, confirm, follow the progress."""

from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from accounts.models import ImportJob
from experquiz.errors import DomainError
from experquiz.web import message_from_service
from flows.importing import MAX_BYTES, MAX_ROWS, REPORT_ROWS, ImportFileError, sample_table
from flows.jobs import import_job_confirm, import_job_create
from flows.tasks import import_job_progress
from rights.mixins import RightRequiredMixin
from rights.names import Right
from rights.selectors import actor_has_right

from .export import csv_response, xlsx_response
from .people_forms import ImportForm

ROWS_SHOWN = REPORT_ROWS  # the stored report lists no more rows of each kind


class ImportMixin(RightRequiredMixin):
    required_right = Right.MANAGE_USERS

    def get_job(self, pk):
        # An import is seen only by whoever uploaded it.
        jobs = ImportJob.objects.for_org(self.request.organization).filter(created_by=self.request.user)
        return get_object_or_404(jobs.defer("data", "plan"), pk=pk)


class ImportUploadView(ImportMixin, View):
    def render_form(self, form):
        return render(
            self.request,
            "accounts/user_import.html",
            {"form": form, "max_mb": MAX_BYTES // 1024 // 1024, "max_rows": MAX_ROWS},
        )

    def get(self, request):
        return self.render_form(ImportForm(can_invite=self.can_invite()))

    def can_invite(self):
        return actor_has_right(self.request.user, Right.INVITE)

    def post(self, request):
        form = ImportForm(request.POST, request.FILES, can_invite=self.can_invite())
        if not form.is_valid():
            return self.render_form(form)
        upload = form.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            form.add_error("file", _("The file is larger than %(max)s MB.") % {"max": MAX_BYTES // 1024 // 1024})
            return self.render_form(form)
        try:
            job = import_job_create(
                organization=request.organization,
                actor=request.user,
                filename=upload.name,
                data=upload.read(),
                invite=form.cleaned_data["invite"],
            )
        except ImportFileError as error:
            form.add_error("file", error.message)
            return self.render_form(form)
        return redirect("accounts:user_import_job", pk=job.pk)


class ImportJobView(ImportMixin, View):
    """The preview while the file is checked, the confirmation form, then the result."""

    def get(self, request, pk):
        job = self.get_job(pk)
        job.progress = import_job_progress(job)
        report = job.report or {}
        rows = report.get("rows", [])
        errors = [row for row in rows if row["action"] == "error"]
        return render(
            request,
            "accounts/user_import_job.html",
            {
                "job": job,
                "report": report,
                "error_rows": errors[:ROWS_SHOWN],
                "create_rows": [row for row in rows if row["action"] == "create"][:ROWS_SHOWN],
                "update_rows": [row for row in rows if row["action"] == "update"][:ROWS_SHOWN],
                "rows_shown": ROWS_SHOWN,
            },
        )


class ImportProgressView(ImportMixin, View):
    """Polled by the job page while a worker checks or applies the file."""

    def get(self, request, pk):
        job = self.get_job(pk)
        job.progress = import_job_progress(job)
        return JsonResponse({"state": job.state, "progress": job.progress, "total": job.total, "percent": job.percent})


class ImportConfirmView(ImportMixin, View):
    def post(self, request, pk):
        job = self.get_job(pk)
        try:
            import_job_confirm(job=job, actor=request.user)
        except DomainError as error:
            message_from_service(request, error)
        return redirect("accounts:user_import_job", pk=job.pk)


class ImportSampleView(ImportMixin, View):
    def get(self, request, fmt):
        header, rows = sample_table()
        if fmt == "xlsx":
            return xlsx_response(header, rows, "users-sample")
        return csv_response(header, rows, "users-sample")
