"""Authentication (AWS SigV4) and authorization (IAM identity policies) for ``--auth``.

    sigv4.py       pure SigV4: canonical request, string to sign, signature, verify()
    policy.py      pure IAM evaluator: evaluate(policies, action, resource, context)
    principals.py  the --auth principals file (IAM users, keys, policies)
    authorizer.py  per-operation IAM checks from a validated request; Authorizer hook for Service
    errors.py      AWS's auth error types and messages
"""
