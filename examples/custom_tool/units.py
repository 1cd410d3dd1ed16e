"""Unit conversion, a tool for `agentkit run --tools examples/custom_tool/units.py`.

Models are unreliable at unit arithmetic (cups to millilitres, Fahrenheit to Celsius);
this tool does it exactly. It is an ordinary Python file: a typed function decorated with
`@tool`, whose docstring tells the model what it does and what each argument means.
"""

from __future__ import annotations

import difflib

from agentkit import ToolError, tool

# Each unit in its kind's base unit (metre, kilogram, litre, metre per second): US customary
# measures, as American recipes and road signs use them.
_FACTORS: dict[str, dict[str, float]] = {
    "length": {
        "mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0,
        "in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344,
    },
    "mass": {
        "mg": 1e-6, "g": 0.001, "kg": 1.0, "t": 1000.0,
        "oz": 0.028349523125, "lb": 0.45359237,
    },
    "volume": {
        "ml": 0.001, "l": 1.0,
        "tsp": 0.00492892159375, "tbsp": 0.01478676478125, "fl_oz": 0.0295735295625,
        "cup": 0.2365882365, "pt": 0.473176473, "qt": 0.946352946, "gal": 3.785411784,
    },
    "speed": {"m/s": 1.0, "km/h": 1 / 3.6, "mph": 0.44704, "kn": 1852 / 3600},
}  # fmt: skip

_TEMPERATURES = ("C", "F", "K")

_ALIASES = {
    "celsius": "C", "°c": "C", "degc": "C", "c": "C",
    "fahrenheit": "F", "°f": "F", "degf": "F", "f": "F",
    "kelvin": "K", "k": "K",
    "cups": "cup", "teaspoon": "tsp", "tablespoon": "tbsp", "ounce": "oz", "ounces": "oz",
    "pound": "lb", "pounds": "lb", "lbs": "lb", "gram": "g", "grams": "g", "litre": "l", "liter": "l",
    "millilitre": "ml", "milliliter": "ml", "kph": "km/h", "knot": "kn", "knots": "kn",
    "meter": "m", "metre": "m", "mile": "mi", "miles": "mi", "foot": "ft", "feet": "ft", "inch": "in",
}  # fmt: skip

_KIND = {unit: kind for kind, units in _FACTORS.items() for unit in units} | dict.fromkeys(
    _TEMPERATURES, "temperature"
)


def _unit(name: str) -> str:
    """The unit `name` stands for, or a ToolError naming the units there are."""
    spelled = name.strip()
    unit = _ALIASES.get(spelled.lower(), spelled if spelled in _KIND else spelled.lower())
    if unit in _KIND:
        return unit
    close = difflib.get_close_matches(spelled.lower(), [*_KIND, *_ALIASES], n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ToolError(f"unknown unit {name!r}; {hint}known units: {', '.join(_KIND)}")


def _to_kelvin(value: float, unit: str) -> float:
    return {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[unit]


def _from_kelvin(value: float, unit: str) -> float:
    return {"C": value - 273.15, "F": (value - 273.15) * 9 / 5 + 32, "K": value}[unit]


def _number(value: float) -> str:
    """At most four decimals, without trailing zeros: 176.6667, 473.1765, 350."""
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _shown(unit: str) -> str:
    return f"°{unit}" if unit in ("C", "F") else unit


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a quantity between units exactly (US customary measures for cups, ounces, gallons).

    Units: length mm, cm, m, km, in, ft, yd, mi; mass mg, g, kg, t, oz, lb; volume ml, l, tsp,
    tbsp, fl_oz, cup, pt, qt, gal; speed m/s, km/h, mph, kn; temperature C, F, K.

    Args:
        value: The amount to convert, e.g. 350.
        from_unit: The unit it is in, e.g. "F" or "cup".
        to_unit: The unit wanted, of the same kind, e.g. "C" or "ml".
    """
    source, target = _unit(from_unit), _unit(to_unit)
    kind = _KIND[source]
    if _KIND[target] != kind:
        raise ToolError(
            f"cannot convert {kind} ({from_unit}) to {_KIND[target]} ({to_unit}); "
            f"give a {kind} unit as to_unit"
        )
    if kind == "temperature":
        kelvin = _to_kelvin(value, source)
        if kelvin < 0:
            raise ToolError(f"{_number(value)} {_shown(source)} is below absolute zero; check the value")
        converted = _from_kelvin(kelvin, target)
    else:
        converted = value * _FACTORS[kind][source] / _FACTORS[kind][target]
    return f"{_number(value)} {_shown(source)} = {_number(converted)} {_shown(target)}"
