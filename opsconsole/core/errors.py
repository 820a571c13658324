"""Errors the core raises with messages fit for an operator."""

from __future__ import annotations


class ConfigError(Exception):
    """A site file or profile is invalid. `errors` holds one line per problem,
    each naming the file, the key path and the problem."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


SHOWN_PROBLEMS = 50  # more than this: the first ones, then one summary line


def summarize(lines: list[str], limit: int = SHOWN_PROBLEMS) -> list[str]:
    """At most `limit` problem lines, then one line saying how many more (and,
    when most of them are alike, which problem repeats): thousands of identical
    errors must not bury the first ones."""
    if len(lines) <= limit:
        return list(lines)
    rest = lines[limit:]
    file = lines[0].split(": ", 1)[0]
    counts: dict[str, int] = {}
    for line in rest:
        problem = line.rsplit(": ", 1)[-1]
        counts[problem] = counts.get(problem, 0) + 1
    top, n = max(counts.items(), key=lambda kv: kv[1])
    like = f', {n:,} of them "{top}"' if n > 1 else ""
    return [*lines[:limit],
            f"{file}: ... and {len(rest):,} more problems{like} ({len(lines):,} in all)"]
