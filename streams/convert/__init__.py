"""`pulse convert`: logs from the tools shops already run, onto Pulse's event contract.

Each source is one module with one job — turn one source record into zero or one Pulse
event, or say why not: `csv_mapping` (any CSV, described by a mapping file; REES46 and
Taobao mappings ship with Pulse), `segment` (Segment's and RudderStack's e-commerce
spec) and `snowplow` (enriched events as the Analytics SDKs' JSON); `formats` names the
line formats for the CLI and for the worker (`PULSE_INPUT_FORMAT`). `result.write` writes the events sorted by event time (Pulse needs a log in time order) and
every record it could not map, with the reason, beside them — nothing is dropped silently.
"""
