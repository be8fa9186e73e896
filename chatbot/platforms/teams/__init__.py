"""Microsoft Teams: activities in through `POST /api/messages`, Adaptive Cards out through
the Bot Connector. The only package that imports the Teams SDK or MSAL."""
