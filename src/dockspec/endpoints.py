"""The endpoints to try, from an Env and the spec's table. Pure.

Rule: no I/O here; whether a path exists is the transport's business.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

from dockspec._generated.models import EndpointRule, Spec
from dockspec.env import Env
from dockspec.models import Endpoint
from dockspec.spec import builtin_spec

__all__ = ["EVERY_USER", "expand_rule", "table_endpoints", "user_directories"]

EVERY_USER = "every-user"
USER_PLACEHOLDER = "{user_uid}"

_FORMATTER = string.Formatter()


def expand_rule(rule: EndpointRule, env: Env, user_uid: int | None = None) -> Endpoint | None:
    """The rule's endpoint for `env` (an every-user rule: for `user_uid`), or None when a placeholder has no value."""
    values = env.placeholders()
    if user_uid is not None:
        values["user_uid"] = str(user_uid)
    needed = [name for _, name, _, _ in _FORMATTER.parse(rule.template) if name]
    if any(name not in values for name in needed):
        return None
    path = rule.template.format(**{name: values[name] for name in needed})
    if rule.transport == "npipe":
        url = "npipe://" + path.replace("\\", "/")
    else:
        url = f"{rule.transport}://{path}"
    return Endpoint(url=url, transport=rule.transport, address=path, origin=rule.id, engine=rule.engine)


def user_directories(env: Env, spec: Spec | None = None) -> dict[str, int]:
    """The directories whose entries name users for the every-user rules (root only): directory -> its cap."""
    spec = spec or builtin_spec()
    if env.uid != 0:
        return {}
    result: dict[str, int] = {}
    for rule in spec.endpoints:
        if rule.platform == env.platform and rule.scope == EVERY_USER and USER_PLACEHOLDER in rule.template:
            directory = rule.template.partition(USER_PLACEHOLDER)[0]
            result[directory] = max(result.get(directory, 0), rule.max_users or 0)
    return result


def table_endpoints(
    env: Env, spec: Spec | None = None, users: Mapping[str, Sequence[int]] | None = None
) -> list[Endpoint]:
    """The platform table expanded for `env`, in order, each address once.

    `users` maps each of user_directories()'s directories to the uids found
    in it (the caller lists them); the every-user rules are expanded once per
    uid (at most the rule's max_users, the caller's own uid skipped), and
    only when the caller is root.
    """
    spec = spec or builtin_spec()
    seen: set[str] = set()
    result = []
    for rule in spec.endpoints:
        if rule.platform != env.platform:
            continue
        if rule.scope == EVERY_USER:
            if env.uid != 0 or users is None:
                continue
            found = users.get(rule.template.partition(USER_PLACEHOLDER)[0], ())
            expanded = [expand_rule(rule, env, uid) for uid in list(found)[: rule.max_users] if uid != env.uid]
        else:
            expanded = [expand_rule(rule, env)]
        for endpoint in expanded:
            if endpoint is None or endpoint.address in seen:
                continue
            seen.add(endpoint.address)
            result.append(endpoint)
    return result
