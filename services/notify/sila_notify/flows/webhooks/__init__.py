"""Partners' webhooks: subscriptions, fan-out of events, signed delivery with retries."""
