"""A loader summarised as data (``extflash info --json``, schema ``extflash.info/1``) and as text.

Addresses and sizes are integers in the JSON; the text form prints them in hex.
"""

from __future__ import annotations

from typing import Any

from extflash.loader.model import Loader
from extflash.loader.stldr import SectorGroup

SCHEMA = "extflash.info/1"


def size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B" if size < 1024 else f"{size:#x} B"


def sector_groups_text(start: int, groups: tuple[SectorGroup, ...]) -> list[str]:
    """``256 × 64 KiB @ 0x90000000..0x90FFFFFF`` per group."""
    lines, address = [], start
    for g in groups:
        end = address + g.count * g.size
        lines.append(f"{g.count} × {size_text(g.size)} @ {address:#010x}..{end - 1:#010x}")
        address = end
    return lines


def _device(loader: Loader) -> dict[str, Any] | None:
    si, fd = loader.storage_info, loader.flash_device
    if si is not None:
        return {
            "descriptor": "StorageInfo", "name": si.name, "name_terminated": si.name_terminated,
            "type": si.device_type, "type_name": si.type_name, "start": si.start,
            "size": si.size, "page_size": si.page_size, "erase_value": si.erase_value,
            "sector_groups": [{"count": g.count, "size": g.size} for g in si.groups],
            "sectors_total": si.sectors_total, "symbol_size": si.symbol_size,
            "section": si.section, "address": si.address, "padding": list(si.padding),
        }
    if fd is not None:
        return {
            "descriptor": "FlashDevice", "name": fd.name, "name_terminated": fd.name_terminated,
            "version": fd.version, "type": fd.device_type, "start": fd.address, "size": fd.size,
            "page_size": fd.page_size, "erase_value": fd.empty_value,
            "program_timeout_ms": fd.program_timeout_ms, "erase_timeout_ms": fd.erase_timeout_ms,
            "sector_runs": [{"size": r.size, "offset": r.offset} for r in fd.runs],
            "section": fd.section, "address": fd.symbol_address,
        }
    return None


def info_dict(loader: Loader) -> dict[str, Any]:
    """Everything ``extflash info`` shows, as JSON-ready data (documented in docs/loaders.md)."""
    fp = loader.footprint
    inference = loader.inferred_family
    return {
        "schema": SCHEMA,
        "path": loader.path,
        "kind": loader.kind,
        "elf": {"machine": loader.elf.machine, "flags": loader.elf.flags,
                "float_abi": loader.elf.float_abi, "entry": loader.elf.entry},
        "device": _device(loader),
        "entry_points": {e.name: e.address for e in loader.entry_points},
        "segments": [{"address": s.address, "file_size": len(s.data), "mem_size": s.memsize,
                      "flags": s.flags, "sections": list(s.sections)} for s in loader.segments],
        "zero_ranges": [{"address": z.address, "size": z.size, "sections": list(z.sections)}
                        for z in loader.zero_ranges],
        "footprint": None if fp is None else {"start": fp.start, "end": fp.end, "size": fp.size},
        "family": {
            "candidates": [{"id": c.family_id, "score": c.score, "evidence": list(c.evidence),
                            "interface": c.interface} for c in inference.candidates],
            "best": inference.best.family_id if inference.best else None,
            "interface": inference.interface,
        },
        "symbols": len(loader.symbols),
    }


def render_info(data: dict[str, Any]) -> list[str]:
    """The human summary of an :func:`info_dict`, as lines."""
    lines = [f"{data['path']}: {data['kind']} loader"]
    dev = data["device"]
    if dev is None:
        lines.append("  device:      (no StorageInfo / FlashDevice)")
    else:
        type_name = dev.get("type_name", str(dev["type"]))
        lines += [
            f"  device:      {dev['name']!r} ({type_name})",
            f"  address:     {dev['start']:#010x}, size {size_text(dev['size'])}, "
            f"page {size_text(dev['page_size'])}, erase value {dev['erase_value']:#04x}",
        ]
        if "sector_groups" in dev:
            groups = tuple(SectorGroup(g["count"], g["size"]) for g in dev["sector_groups"])
            sectors = sector_groups_text(dev["start"], groups) or ["(none)"]
        else:
            sectors = [f"{size_text(r['size'])} sectors from +{r['offset']:#x}"
                       for r in dev["sector_runs"]]
        lines.append(f"  sectors:     {sectors[0]}")
        lines += [f"               {s}" for s in sectors[1:]]
        lines.append(f"  descriptor:  {dev['descriptor']} in '{dev['section']}' at "
                     f"{dev['address']:#010x}")
    entries = data["entry_points"]
    lines.append("  entries:     " + (", ".join(f"{n} {a:#010x}" for n, a in entries.items())
                                      or "(none)"))
    fp = data["footprint"]
    if fp:
        lines.append(f"  RAM image:   {fp['start']:#010x}..{fp['end']:#010x} "
                     f"({size_text(fp['size'])}, .bss included)")
    fam = data["family"]
    if fam["best"]:
        best = fam["candidates"][0]
        ties = [c["id"] for c in fam["candidates"][1:] if c["score"] == best["score"]]
        also = f" (tied with {', '.join(ties)})" if ties else ""
        lines.append(f"  family:      {best['id']} (score {best['score']}){also}")
        lines += [f"               - {e}" for e in best["evidence"]]
        lines.append(f"  interface:   {fam['interface'] or 'unknown'}")
    else:
        lines.append("  family:      unknown (no evidence)")
    return lines
