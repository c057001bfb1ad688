"""Only the status service writes a user's status (and the marking of people an invitation was just
sent to): it is what ends sessions, revokes links, writes the history and the audit event and forgets
the people counts, so a status written anywhere else would skip all of that.

The test reads the product code: an assignment to `.status`, `status=` in a creation or an update of
users, `setattr(…, "status", …)` or a bulk update naming `status` fails it, outside the writers below.
"""

import ast

from experquiz.tests.codebase import product_modules

# (module, function) allowed to write a status, and why.
WRITERS = {
    ("accounts.services", "user_change_status"): "the status service: every move of the lifecycle",
    ("accounts.services", "users_mark_invited"): "marks invited the people an invitation is being sent to, in bulk",
    ("accounts.services", "user_create"): "a new person's first status: created, or active with a password",
    ("accounts.models", "create_superuser"): "platform staff, outside every organisation, with a password",
}
# The calls that create or update rows with the keywords they are given.
WRITING_CALLS = {"User", "model", "create", "get_or_create", "update_or_create", "update", "bulk_create"}


def _name(node) -> str | None:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


def _writes_status(node) -> bool:
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(
            isinstance(target, ast.Attribute) and target.attr == "status"
            for each in targets
            for target in ast.walk(each)
        )
    if isinstance(node, ast.Call):
        called = _name(node.func)
        if called in WRITING_CALLS and any(keyword.arg == "status" for keyword in node.keywords):
            return True
        if called == "setattr" and len(node.args) > 1:
            return isinstance(node.args[1], ast.Constant) and node.args[1].value == "status"
        if called == "bulk_update":
            return any(isinstance(n, ast.Constant) and n.value == "status" for n in ast.walk(node))
    return False


def status_writes():
    """{(module, function): [line, …]} of every place the product code writes a status."""
    found = {}

    def visit(node, module, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if _writes_status(child):
                found.setdefault((module, inner), []).append(child.lineno)
            visit(child, module, inner)

    for module, tree in product_modules():
        visit(tree, module, None)
    return found


def test_only_the_status_service_writes_a_status():
    writes = status_writes()
    others = sorted(
        f"{module}:{function} (line {lines[0]})"
        for (module, function), lines in writes.items()
        if (module, function) not in WRITERS
    )
    assert not others, (
        f"A status is written outside the status service: {others}. Call "
        "accounts.services.user_change_status (or send an invitation), which ends sessions, revokes links and "
        "records the change."
    )
    assert set(WRITERS) <= set(writes), f"Stale writers: {sorted(set(WRITERS) - set(writes))}"


def test_the_reading_finds_each_way_of_writing_a_status():
    """The guard can fail: each form of write is found."""
    samples = [
        "user.status = 'active'",
        "User.objects.filter(pk=1).update(status='active')",
        "User(organization=o, status='invited')",
        "User.objects.create(status='active')",
        "setattr(user, 'status', 'deleted')",
        "User.objects.bulk_update(users, ['status'])",
    ]
    for sample in samples:
        assert any(_writes_status(node) for node in ast.walk(ast.parse(sample))), sample
    assert not any(_writes_status(node) for node in ast.walk(ast.parse("render(request, 't.html', status=404)")))
