from django.apps import AppConfig


class KeysApiConfig(AppConfig):
    name = "keys_api"
