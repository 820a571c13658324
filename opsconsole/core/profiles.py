"""Device profiles: which OIDs give which catalogue metric, and which
controls can be SET. Profiles are data (TOML), apart from the inventory."""

from __future__ import annotations

from dataclasses import dataclass, field

REDUCERS = ("max", "min", "mean", "sum", "list")
CONTROL_TYPES = ("integer", "unsigned", "string")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str  # catalogue metric
    oid: str  # dotted, no leading dot
    walk: bool = False  # a table column: walk it and reduce
    reduce: str = "max"
    scale: float = 1.0
    offset: float = 0.0
    map: dict[int, str] | None = None  # integer code -> state text (e.g. outlet 1 off, 2 on)
    # raw values the device uses to say "not available" (e.g. -1, 2147483647): no reading
    sentinels: frozenset[float] = frozenset()

    def is_sentinel(self, raw: int | float) -> bool:
        return raw in self.sentinels

    def convert(self, raw: int | float) -> float | int | str:
        if self.map is not None:
            return self.map.get(int(raw), str(raw))
        v = raw * self.scale + self.offset
        return v


@dataclass(frozen=True, slots=True)
class ControlSpec:
    name: str
    oid: str
    type: str  # integer | unsigned | string
    value: int | str
    index: str | None = None  # "outlet": append the target's outlet index to the OID

    def oid_for(self, outlet: int | None = None) -> str:
        if self.index == "outlet":
            if outlet is None:
                raise ValueError(f"control {self.name} needs an outlet index")
            return f"{self.oid}.{outlet}"
        return self.oid


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    kind: str
    description: str = ""
    metrics: dict[str, MetricSpec] = field(default_factory=dict)
    controls: dict[str, ControlSpec] = field(default_factory=dict)
    source: str = ""  # the file it came from

    def scalar_specs(self) -> list[MetricSpec]:
        return [m for m in self.metrics.values() if not m.walk]

    def walk_specs(self) -> list[MetricSpec]:
        return [m for m in self.metrics.values() if m.walk]
