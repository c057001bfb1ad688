"""The assessment link and the pages a contact takes their attempt on. Not namespaced: messages build
the link with reverse("assessment_link", args=[token]). Kept short, so an SMS with the link stays
within 160 characters."""

from django.urls import path

from . import views_link

urlpatterns = [
    path("a/<str:token>/", views_link.link_page, name="assessment_link"),
    path("a/<str:token>/opened/", views_link.opened, name="assessment_link_opened"),
    path("a/<str:token>/q/<int:number>/", views_link.question, name="assessment_link_question"),
    path("a/<str:token>/review/", views_link.review, name="assessment_link_review"),
    path("a/<str:token>/submit/", views_link.submit_answers, name="assessment_link_submit"),
]
