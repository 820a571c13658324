"""The miners' own JSON API (CGMiner-style, TCP 4028): client, firmware
families, detection, polling and sleep/wake controls."""
