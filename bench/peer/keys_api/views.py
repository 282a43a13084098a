from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey
from rest_framework_api_key.permissions import HasAPIKey


class HealthView(APIView):
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class CredentialSelfView(APIView):
    permission_classes = [HasAPIKey]

    def get(self, request: Request) -> Response:
        # As the package's guide shows: read the key from the header, then get_from_key().
        key = request.META[settings.API_KEY_CUSTOM_HEADER]
        api_key = APIKey.objects.get_from_key(key)
        return Response(
            {"credential_id": api_key.id, "scopes": ["homes:read"], "environment": "sandbox"}
        )
