"""ch21-security: an OWASP LLM Top 10 scanner, injection and jailbreak detection, a guardrail
proxy, bias audits, and privacy (DP-SGD held to opacus, federated averaging)."""
