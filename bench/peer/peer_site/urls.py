from django.urls import path

from keys_api import views

urlpatterns = [
    path("healthz", views.HealthView.as_view()),
    path("v1/agent-credentials/self", views.CredentialSelfView.as_view()),
]
