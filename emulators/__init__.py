"""Stand-ins for the platforms (mail servers, Bot API, Graph API) that speak the real protocols.

Used by the tests, the benchmarks and ``switchboard demo``; never by production code paths.
"""
