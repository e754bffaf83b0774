"""Cryptographic helpers: API key hashing and sealing of secrets at rest. Keys come from Settings."""
