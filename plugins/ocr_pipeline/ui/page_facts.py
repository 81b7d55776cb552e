"""What the Documents view says about a page, worked out here from the page as the result's JSON has it
(``ocr_task.result.PageResult``): a field a result does not have says nothing, never ``undefined``."""

from __future__ import annotations


def page_facts(page: dict) -> list[str]:
    """Short facts in the order a reader wants them: how it was read, by what, turned how, what was checked."""
    facts = [str(page.get("source") or "read")]
    engine = page.get("engine") or {}
    if engine.get("name"):
        facts.append(" ".join(str(v) for v in ("engine", engine["name"], engine.get("version")) if v))
    facts.append(f"language {page.get('lang') or '–'}")
    facts.append(f"rotation {page.get('rotation') or 0}°")
    if page.get("skew"):
        facts.append(f"skew {page['skew']:.2f}°")
    scale = page.get("scale") or 1
    if scale != 1:
        facts.append(f"{'enlarged' if scale > 1 else 'reduced'} ×{scale:g}")
    if page.get("blank"):
        facts.append("blank page")
    if page.get("flattened"):
        facts.append("photo: boxes are on the flattened page")
    facts.extend(_orientation(page.get("orientation_check")))
    layer = page.get("text_layer_check") or {}
    if "used" in layer:
        facts.append(f"text layer {'used' if layer['used'] else 'not used'}: {layer.get('reason') or '–'}")
    timings = page.get("timings") or {}
    if timings:
        facts.append(", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()))
    return facts


def _orientation(check: dict | None) -> list[str]:
    if not check:
        return []
    tried = check.get("tried") or {}
    if tried:
        readings = ", ".join(f"{rotation}°: {confidence:.2f}" for rotation, confidence in tried.items())
        kept = check.get("kept_rotation")
        return [f"orientation checked ({readings})" + (f", kept {kept}°" if kept is not None else "")]
    if check.get("read_as_is") is not None:
        return [f"orientation checked: read as it came, confidence {check['read_as_is']:.2f}"]
    return ["orientation checked"]
