"""The endpoints to try, from an Env and the spec's table. Pure.

Rule: no I/O here; whether a path exists is the transport's business.
"""

from __future__ import annotations

import string

from dockspec._generated.models import EndpointRule, Spec
from dockspec.env import Env
from dockspec.models import Endpoint
from dockspec.spec import builtin_spec

__all__ = ["expand_rule", "table_endpoints"]

_FORMATTER = string.Formatter()


def expand_rule(rule: EndpointRule, env: Env) -> Endpoint | None:
    """The rule's endpoint for `env`, or None when a placeholder has no value."""
    values = env.placeholders()
    needed = [name for _, name, _, _ in _FORMATTER.parse(rule.template) if name]
    if any(name not in values for name in needed):
        return None
    path = rule.template.format(**{name: values[name] for name in needed})
    if rule.transport == "npipe":
        url = "npipe://" + path.replace("\\", "/")
    else:
        url = f"{rule.transport}://{path}"
    return Endpoint(url=url, transport=rule.transport, address=path, origin=rule.id, engine=rule.engine)


def table_endpoints(env: Env, spec: Spec | None = None) -> list[Endpoint]:
    """The platform table expanded for `env`, in order, each address once."""
    spec = spec or builtin_spec()
    seen: set[str] = set()
    result = []
    for rule in spec.endpoints:
        if rule.platform != env.platform:
            continue
        endpoint = expand_rule(rule, env)
        if endpoint is None or endpoint.address in seen:
            continue
        seen.add(endpoint.address)
        result.append(endpoint)
    return result
