"""Teams settings: a cloud by name, https overrides, the three credentials together, and each
cloud's Bot Connector URL; a bad value stops start-up with a message naming the variable."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot.config import ConfigError, load_settings

CREDENTIALS = {
    "teams_client_id": "client",
    "teams_client_secret": "secret",
    "teams_tenant_id": "tenant",
}


def settings(**values: Any) -> Any:
    return load_settings(**{"database_url": "sqlite://", **values})


def test_teams_is_off_without_credentials_and_on_with_all_three() -> None:
    assert not settings().teams_configured
    on = settings(**CREDENTIALS)
    assert on.teams_configured
    assert on.teams_cloud == "Public"
    assert on.teams_default_service_url == "https://smba.trafficmanager.net/teams/"
    cloud = on.teams_cloud_environment()
    assert cloud.login_endpoint == "https://login.microsoftonline.com"
    assert cloud.token_issuer == "https://api.botframework.com"


@pytest.mark.parametrize(
    ("name", "login", "issuer", "service_url"),
    [
        (
            "usgov",
            "https://login.microsoftonline.us",
            "https://api.botframework.us",
            "https://smba.infra.gov.teams.microsoft.us/teams/",
        ),
        (
            "USGovDoD",
            "https://login.microsoftonline.us",
            "https://api.botframework.us",
            "https://smba.infra.dod.teams.microsoft.us/teams/",
        ),
    ],
)
def test_sovereign_clouds_pick_their_endpoints(
    name: str, login: str, issuer: str, service_url: str
) -> None:
    chosen = settings(**CREDENTIALS, teams_cloud=name)
    cloud = chosen.teams_cloud_environment()
    assert (cloud.login_endpoint, cloud.token_issuer) == (login, issuer)
    assert chosen.teams_default_service_url == service_url


def test_overrides_replace_the_clouds_endpoints() -> None:
    chosen = settings(
        **CREDENTIALS,
        teams_login_endpoint="https://127.0.0.1:8443/login/",
        teams_openid_metadata_url="https://127.0.0.1:8443/openid/.well-known/openidconfiguration",
        teams_service_url="https://127.0.0.1:8443/teams/",
    )
    cloud = chosen.teams_cloud_environment()
    assert cloud.login_endpoint == "https://127.0.0.1:8443/login"
    assert cloud.openid_metadata_url.endswith("/openid/.well-known/openidconfiguration")
    assert cloud.bot_scope == "https://api.botframework.com/.default"  # the cloud's still
    assert chosen.teams_default_service_url == "https://127.0.0.1:8443/teams/"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"teams_cloud": "Mars"}, "TEAMS_CLOUD"),
        ({"teams_login_endpoint": "http://login.example"}, "TEAMS_LOGIN_ENDPOINT"),
        ({"teams_openid_metadata_url": "ftp://x/meta"}, "TEAMS_OPENID_METADATA_URL"),
        ({"teams_service_url": "not a url"}, "TEAMS_SERVICE_URL"),
        ({"teams_client_id": "client"}, "TEAMS_CLIENT_SECRET, TEAMS_TENANT_ID"),
        ({**CREDENTIALS, "teams_cloud": "China"}, "TEAMS_SERVICE_URL"),
    ],
)
def test_bad_values_name_the_variable(values: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings(**values)


def test_china_with_a_service_url_is_accepted() -> None:
    chosen = settings(
        **CREDENTIALS, teams_cloud="china", teams_service_url="https://bf.example.cn/"
    )
    assert chosen.teams_cloud == "China"
    assert chosen.teams_cloud_environment().token_issuer == "https://api.botframework.azure.cn"
