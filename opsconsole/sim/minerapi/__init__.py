"""Miners that speak the CGMiner-style JSON API on TCP 4028, on loopback."""
