"""Message authentication (SPF, DKIM, DMARC) for received mail, through one cached DNS resolver.

Entry points: `mailauth.verdicts.authenticate` and `mailauth.resolver.Resolver`. Every DNS lookup
in this package goes through that resolver; nothing here reads settings or the environment, and
nothing stores results (callers persist `AuthVerdicts.as_dict()`).
"""
