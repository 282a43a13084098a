"""Settings of the benchmark peer: Django + DRF + djangorestframework-api-key on SQLite."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent  # bench/peer

SECRET_KEY = os.environ.get("PEER_SECRET_KEY", "bench-peer-not-secret-" + "x" * 40)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "rest_framework",
    "rest_framework_api_key",
    "keys_api",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "peer_site.urls"
WSGI_APPLICATION = "peer_site.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PEER_DATABASE", str(BASE_DIR / "peer.db")),
        # Persistent connections (Django's documented tuning); 0 reopens SQLite per request.
        "CONN_MAX_AGE": int(os.environ.get("PEER_CONN_MAX_AGE", "600")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

# The package reads the key from this request.META entry instead of "Authorization: Api-Key …".
API_KEY_CUSTOM_HEADER = "HTTP_X_WS_API_KEY"

REST_FRAMEWORK = {
    # No users here: no session/basic authentication, no django.contrib.auth.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "ERROR"},
    "loggers": {
        # Django logs every 4xx as a warning; 403s are expected under load.
        "django": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
