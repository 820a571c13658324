"""The metric catalogue: every metric name the product knows, its unit and
the device kinds that report it. Units live in the names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    unit: str  # display unit ("" for unitless / state)
    kinds: tuple[str, ...]
    label: str
    numeric: bool = True  # kept in ring buffers
    per_outlet: bool = False  # a list, one value per outlet


_M = MetricInfo
CATALOGUE: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        _M("hashrate_ths", "TH/s", ("miner",), "Hashrate"),
        _M("hashrate_nominal_ths", "TH/s", ("miner",), "Nominal hashrate"),
        _M("power_w", "W", ("miner", "pdu", "gpu"), "Power"),
        _M("temp_c", "°C", ("miner", "gpu"), "Temperature"),
        _M("temp_inlet_c", "°C", ("miner",), "Inlet temperature"),
        _M("fan_rpm", "rpm", ("miner",), "Fan"),
        _M("uptime_s", "s", ("miner", "pdu", "host"), "Uptime"),
        _M("state", "", ("miner",), "State", numeric=False),
        # miners over their own API (collectors/minerapi): identity and per-board lists
        _M("firmware", "", ("miner",), "Firmware", numeric=False),
        _M("model", "", ("miner",), "Model", numeric=False),
        _M("board_hashrate_ths", "TH/s", ("miner",), "Board hashrate", numeric=False),
        _M("board_temp_c", "°C", ("miner",), "Board temperature", numeric=False),
        _M("board_chips", "", ("miner",), "Board chips", numeric=False),
        _M("outlet_power_w", "W", ("pdu",), "Outlet power", numeric=False, per_outlet=True),
        _M("outlet_state", "", ("pdu",), "Outlet state", numeric=False, per_outlet=True),
        _M("util_pct", "%", ("gpu",), "Utilisation"),
        _M("mem_util_pct", "%", ("gpu",), "Memory utilisation"),
        _M("mem_used_mib", "MiB", ("gpu",), "Memory used"),
        _M("mem_total_mib", "MiB", ("gpu",), "Memory total"),
        _M("mem_temp_c", "°C", ("gpu",), "Memory temperature"),
        _M("power_limit_w", "W", ("gpu",), "Power limit"),
        _M("sm_clock_mhz", "MHz", ("gpu",), "SM clock"),
        _M("mem_clock_mhz", "MHz", ("gpu",), "Memory clock"),
        _M("fan_pct", "%", ("gpu",), "Fan"),
        _M("ecc_uncorrected", "", ("gpu",), "ECC uncorrected"),
        _M("xid_last", "", ("gpu",), "Last XID"),
        _M("throttle_reasons", "", ("gpu",), "Throttle reasons", numeric=False),
        # dcgm-exporter extras (GPUs behind a gpu-host)
        _M("remapped_rows_uncorrectable", "", ("gpu",), "Remapped rows (uncorrectable)"),
        _M("remapped_rows_correctable", "", ("gpu",), "Remapped rows (correctable)"),
        _M("row_remap_failure", "", ("gpu",), "Row remap failure"),
        _M("gpus", "", ("gpu-host",), "GPUs reported"),
        # inference servers (vLLM, TGI, Triton)
        _M("requests_running", "", ("inference",), "Requests running"),
        _M("requests_waiting", "", ("inference",), "Requests waiting"),
        _M("tokens_per_s", "tok/s", ("inference",), "Tokens/s"),
        _M("ttft_p95_s", "s", ("inference",), "TTFT p95"),
        # net-snmp-host profile (a Linux machine running snmpd)
        _M("load_1m", "", ("host",), "Load 1 min"),
        _M("mem_total_kib", "KiB", ("host",), "Memory total"),
        _M("mem_avail_kib", "KiB", ("host",), "Memory available"),
    ]
}
