"""An invoice read from a document into a pydantic model: `Agent(output_type=Invoice)`.

python examples/extraction/extract.py              # a Qwen3 on http://127.0.0.1:8000/v1
python examples/extraction/extract.py --offline    # no server: the model's turns from script.json
python examples/extraction/extract.py --schema     # Invoice's JSON schema (invoice.schema.json)

The model reads invoice.md with the built-in file tools, may think, and answers with JSON that
agentkit validates into an `Invoice`; against vLLM the answer is constrained to the schema.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field

from agentkit import Agent, ScriptedBackend
from agentkit.backends.scripted import load_script

HERE = Path(__file__).parent
TASK = "Extract the invoice in invoice.md."


class LineItem(BaseModel):
    """One line of the invoice."""

    description: str
    quantity: int = Field(gt=0)
    unit_price: float = Field(description="Price of one unit, without tax")
    amount: float = Field(description="quantity times unit_price, as the invoice states it")


class Invoice(BaseModel):
    """The fields of an invoice that a bookkeeper enters."""

    number: str = Field(description="The invoice number, as printed")
    issued: date
    due: date
    seller: str = Field(description="The business that sent the invoice")
    buyer: str = Field(description="The business the invoice is addressed to")
    currency: str = Field(pattern="^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
    items: list[LineItem]
    subtotal: float
    tax_rate: float = Field(description="Tax rate in percent, e.g. 23 for 23%")
    tax: float
    total: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true", help="a scripted model instead of a server")
    parser.add_argument("--schema", action="store_true", help="print Invoice's JSON schema and stop")
    parser.add_argument("--base-url", default=None, help="the Qwen3 server (default: agentkit's)")
    args = parser.parse_args()
    if args.schema:
        print(json.dumps(Invoice.model_json_schema(), indent=2, ensure_ascii=False))
        return

    backend = ScriptedBackend(load_script(HERE / "script.json")) if args.offline else "completions"
    agent = Agent(
        base_url=args.base_url,
        backend=backend,
        builtins=["files"],
        workspace=HERE,
        output_type=Invoice,
    )
    result = agent.run_sync(TASK)
    if result.stop_reason != "answer":
        raise SystemExit(f"no invoice: the run stopped ({result.stop_reason}: {result.error})")
    invoice: Invoice = result.output
    print(
        f"{invoice.number} from {invoice.seller}: {len(invoice.items)} items, "
        f"{invoice.total:.2f} {invoice.currency} due in {(invoice.due - invoice.issued).days} days"
    )
    print(invoice.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
