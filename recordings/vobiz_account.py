"""The Vobiz account in the settings, as a client of the API."""

from django.conf import settings

from vobiz.client import BACKGROUND, Patience, VobizClient


def client_from_settings(patience: Patience = BACKGROUND) -> VobizClient:
    """A client for the account in the settings; VobizError if the credentials are not set."""
    return VobizClient(settings.VOBIZ_AUTH_ID, settings.VOBIZ_AUTH_TOKEN, settings.VOBIZ_API_URL, **patience)
