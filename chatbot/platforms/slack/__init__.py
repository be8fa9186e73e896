"""Slack: Bolt in front, Block Kit out. The only package that imports slack_bolt or slack_sdk."""
