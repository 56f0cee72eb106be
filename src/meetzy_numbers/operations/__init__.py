"""What the commands do, as plain functions over the gateway and the stores.

Nothing here prints or knows typer or rich: each function returns data and
raises a MeetzyError when it cannot do its job.
"""
