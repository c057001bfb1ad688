"""The pages outside any namespace: the home page (`home`)."""

from django.urls import path

from .people.views import home

urlpatterns = [
    path("", home, name="home"),
]
