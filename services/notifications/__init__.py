"""notifications: fans events out to people as SMS and messages, once each."""
