"""Microsoft Teams: the Bot Connector adapter, its Adaptive Cards and its app package."""
