"""The Teams baseline: a minimal app on Microsoft's Teams SDK (`microsoft-teams-apps`) that answers
an Adaptive Card `Action.Execute` click (`adaptiveCard/action` invoke) with a short message, its
inbound-token checks pointed at the fake Teams through the SDK's cloud overrides (OpenID metadata,
issuer, login endpoint). Served by the SDK's own FastAPI + uvicorn on 127.0.0.1:$PORT.

Environment: TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET, TEAMS_TENANT_ID, TEAMS_LOGIN_ENDPOINT,
TEAMS_OPENID_METADATA_URL, TEAMS_SERVICE_URL (from the fake's `env()`), SSL_CERT_FILE, PORT.
"""

from __future__ import annotations

import asyncio
import logging
import os

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from microsoft_teams.api import AdaptiveCardInvokeActivity
from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides
from microsoft_teams.api.models.adaptive_card.adaptive_card_action_response import (
    AdaptiveCardActionMessageResponse,
)
from microsoft_teams.apps import ActivityContext, App, FastAPIAdapter


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    port = int(os.environ["PORT"])
    cloud = with_overrides(
        PUBLIC,
        login_endpoint=os.environ["TEAMS_LOGIN_ENDPOINT"],
        openid_metadata_url=os.environ["TEAMS_OPENID_METADATA_URL"],
    )

    def server(api: FastAPI) -> uvicorn.Server:
        @api.get("/healthz")
        async def healthz() -> PlainTextResponse:
            return PlainTextResponse("ok\n")

        config = uvicorn.Config(
            app=api, host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        return uvicorn.Server(config)

    app = App(
        client_id=os.environ["TEAMS_CLIENT_ID"],
        client_secret=os.environ["TEAMS_CLIENT_SECRET"],
        tenant_id=os.environ["TEAMS_TENANT_ID"],
        service_url=os.environ["TEAMS_SERVICE_URL"],
        cloud=cloud,
        http_server_adapter=FastAPIAdapter(server_factory=server),
    )

    @app.on_card_action_execute
    async def clicked(
        ctx: ActivityContext[AdaptiveCardInvokeActivity],
    ) -> AdaptiveCardActionMessageResponse:
        return AdaptiveCardActionMessageResponse(value="Thanks, recorded.")

    asyncio.run(app.start(port))


if __name__ == "__main__":
    main()
