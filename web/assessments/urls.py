from django.urls import path

from . import views, views_assignment, views_invite, views_results, views_take

app_name = "assessments"

urlpatterns = [
    # Managing questionnaires (manage_questionnaires).
    path("questionnaires/", views.questionnaire_list, name="list"),
    path("questionnaires/new/", views.questionnaire_create, name="create"),
    path("questionnaires/import/", views.questionnaire_import, name="import"),
    path("questionnaires/<int:questionnaire_id>/", views.questionnaire_detail, name="detail"),
    path("questionnaires/<int:questionnaire_id>/edit/", views.questionnaire_update, name="update"),
    path("questionnaires/<int:questionnaire_id>/delete/", views.questionnaire_delete, name="delete"),
    path("questionnaires/<int:questionnaire_id>/publish/", views.questionnaire_publish, name="publish"),
    path("questionnaires/<int:questionnaire_id>/unpublish/", views.questionnaire_unpublish, name="unpublish"),
    path("questionnaires/<int:questionnaire_id>/export/", views.questionnaire_export, name="export"),
    path("questionnaires/<int:questionnaire_id>/questions/new/", views.question_create, name="question_create"),
    path(
        "questionnaires/<int:questionnaire_id>/questions/<int:question_id>/edit/",
        views.question_update,
        name="question_update",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/questions/<int:question_id>/delete/",
        views.question_delete,
        name="question_delete",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/questions/<int:question_id>/move/",
        views.question_move,
        name="question_move",
    ),
    # Inviting people to one (invite, over the questionnaires that right reaches).
    path("questionnaires/<int:questionnaire_id>/invite/", views_invite.invite, name="invite"),
    path("questionnaires/<int:questionnaire_id>/invite/review/", views_invite.invite_review, name="invite_review"),
    path("questionnaires/<int:questionnaire_id>/invite/confirm/", views_invite.invite_confirm, name="invite_confirm"),
    path(
        "questionnaires/<int:questionnaire_id>/invitations/<int:assignment_id>/",
        views_assignment.assignment_detail,
        name="assignment",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/invitations/<int:assignment_id>/add/",
        views_invite.assignment_add,
        name="assignment_add",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/invitations/<int:assignment_id>/add/review/",
        views_invite.assignment_add_review,
        name="assignment_add_review",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/invitations/<int:assignment_id>/add/confirm/",
        views_invite.assignment_add_confirm,
        name="assignment_add_confirm",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/invitations/<int:assignment_id>/people/<int:assignee_id>/remove/",
        views_assignment.assignee_remove,
        name="assignee_remove",
    ),
    # Results (view_results, within the actor's scope).
    path("results/", views_results.results_list, name="results"),
    path(
        "results/questionnaires/<int:questionnaire_id>/",
        views_results.results_questionnaire,
        name="results_questionnaire",
    ),
    path(
        "results/questionnaires/<int:questionnaire_id>/export/<str:fmt>/",
        views_results.results_export,
        name="results_export",
    ),
    path("results/users/<int:user_id>/", views_results.results_user, name="results_user"),
    path("results/contacts/<int:contact_id>/", views_results.results_contact, name="results_contact"),
    # Taking one, from one's own space (any signed-in user, their own attempts only).
    path("me/questionnaires/<int:questionnaire_id>/start/", views_take.take_start, name="take_start"),
    path("me/assignments/<int:assignee_id>/start/", views_take.assigned_start, name="assigned_start"),
    path("me/attempts/<int:attempt_id>/", views_take.take, name="take"),
    path("me/attempts/<int:attempt_id>/questions/<int:number>/", views_take.take_question, name="take_question"),
    path("me/attempts/<int:attempt_id>/review/", views_take.take_review, name="take_review"),
    path("me/attempts/<int:attempt_id>/submit/", views_take.take_submit, name="take_submit"),
]
