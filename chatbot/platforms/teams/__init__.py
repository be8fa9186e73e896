"""Microsoft Teams: activities in through `POST /api/messages`, Adaptive Cards out through
the Bot Connector, and the app package. The only package that imports the Teams SDK or MSAL."""
