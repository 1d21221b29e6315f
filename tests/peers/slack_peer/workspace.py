"""The workspace the peer plays: its team, its URL, and the app's bot user."""

TEAM = "T0TEAM"
WORKSPACE_URL = "https://test.slack.com/"
BOT_USER = "U0PARLEY"
BOT_ID = "B0PARLEY"
APP_ID = "A0PARLEY"
