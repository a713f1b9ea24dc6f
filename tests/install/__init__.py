"""How users install it: the wheel and sdist, the Claude Desktop bundle, the registry entry, the README's commands."""
