"""Plain data and the pure functions on it: no I/O, no Twilio, no rich."""
