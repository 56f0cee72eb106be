"""Run the Twilio phone numbers of Meetzy voice agents from the command line."""

__version__ = "0.1.0"
